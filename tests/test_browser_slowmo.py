"""Real browser: the Train page's 2D layers switched on by hand, and slow motion on a paused run
(D's phase, then G's), as a person clicks them. Every wait is for a condition."""

from __future__ import annotations

import pytest
from helpers import IDLE, require_chromium, step_count, wait_until

pytestmark = pytest.mark.browser

require_chromium()


def _idle(page) -> None:
    page.wait_for_selector(IDLE)


def _chart_titled(page, title: str):
    return page.locator("[data-testid='stPlotlyChart']").filter(
        has=page.locator(".gtitle", has_text=title))


def test_layers_and_slow_motion_on_the_train_page(server, page):
    try:
        _layers_and_slow_motion(server, page)
    except Exception:
        page.screenshot(path=str(page.shots / "slowmo-failed.png"))
        raise


def _layers_and_slow_motion(server, page) -> None:
    page.goto(server + "/train")
    _idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="ring8-collapse").click()
    _idle(page)
    page.get_by_role("button", name="Start").click()
    wait_until(lambda: step_count(page) > 20, "the run's first steps")
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Resume").wait_for()
    _idle(page)

    for label in ("G's manifold", "Gradient arrows"):
        page.get_by_text(label, exact=True).first.click()
        _idle(page)
    picture = _chart_titled(page, "Real (blue) vs generated").first
    for name in ("G's manifold", "gradient arrows", "generated", "real"):
        picture.locator(".legendtext", has_text=name).first.wait_for()
    page.get_by_text("fixed random plane", exact=False).first.wait_for()

    page.get_by_role("button", name="Next phase: D's update").click()
    _idle(page)
    for title in ("D's map before", "D's map after", "What changed"):
        _chart_titled(page, title).first.wait_for()
    page.get_by_text("Phase 1: D's update").first.wait_for()
    page.locator("[data-testid='stMarkdownContainer'] .katex").first.wait_for()
    page.screenshot(path=str(page.shots / "slowmo-d.png"))

    page.get_by_role("button", name="Next phase: G's update").click()
    _idle(page)
    _chart_titled(page, "Before: each fake's arrow").first.wait_for()
    after = _chart_titled(page, "After: where each moved").first
    after.locator(".legendtext", has_text="movement").first.wait_for()
    page.get_by_text("Phase 2: G's update").first.wait_for()
    page.get_by_role("button", name="Next phase: D's update").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(page.shots / "slowmo-g.png"))
