"""Real browser: the Train page's 2D layers switched on by hand, and slow motion on a paused run
(D's phase, then G's), as a person clicks them. Every wait is for a condition.

On a loaded machine a click can land while a rerun is replacing the element, and then Streamlit
never hears of it; "idle" just after a click can also be the moment before the rerun starts.
So each click waits for its own effect, and is repeated only when the page has stayed idle for a
while without it (a click that was heard always starts a rerun)."""

from __future__ import annotations

import time

import pytest
from helpers import IDLE, require_chromium, step_count, wait_until

from playground.settings.presets import PRESETS

pytestmark = pytest.mark.browser

require_chromium()


LOST_AFTER_S = 15.0  # idle this long after a click without its effect: the click was lost


def _idle(page) -> None:
    page.wait_for_selector(IDLE)


def _click_until(page, target, done, what: str, idempotent: bool = False) -> None:
    """Click `target` (a locator) until `done()` holds; a click is repeated only after the
    page has been idle for LOST_AFTER_S without `done()`, so a heard click is never doubled.
    An `idempotent` click (Pause) is repeated every LOST_AFTER_S, idle or not: while a run
    trains, the live view redraws every second, so the page is never idle for long."""
    target.click()
    idle_since = None

    def settled() -> bool:
        nonlocal idle_since
        if done():
            return True
        if page.locator(IDLE).count() == 0 and not idempotent:  # a rerun: the click was heard
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > LOST_AFTER_S:
            try:
                target.click(timeout=10_000)
            except Exception:  # replaced meanwhile: look again
                pass
            idle_since = None
        return False

    wait_until(settled, what)


def _shown(locator) -> bool:
    return locator.count() > 0 and locator.first.is_visible()


def _chart_titled(page, title: str):
    return page.locator("[data-testid='stPlotlyChart']").filter(
        has=page.locator(".gtitle", has_text=title))


def test_layers_and_slow_motion_on_the_train_page(server, page):
    try:
        _layers_and_slow_motion(server, page)
    except Exception:
        page.screenshot(path=str(page.shots / "slowmo-failed.png"), full_page=True)
        (page.shots / "slowmo-failed.txt").write_text(page.inner_text("body"))  # what was shown
        raise


def _layers_and_slow_motion(server, page) -> None:
    page.goto(server + "/train")
    _idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="ring8-collapse").click()
    # The preset's description shows once a rerun has applied the preset (its on_change sets
    # every setting). Clicking Start before that can start a run with the old settings under
    # the new preset's name (seen on a loaded machine: a 2D-latent run, not this 256-D one).
    sidebar.get_by_text(PRESETS["ring8-collapse"].description[:40]).wait_for()
    _idle(page)
    page.get_by_role("button", name="Start").click()
    wait_until(lambda: step_count(page) > 20, "the run's first steps")
    resume = page.get_by_role("button", name="Resume")
    _click_until(page, page.get_by_role("button", name="Pause"), lambda: _shown(resume),
                 "the run to pause (the Resume button)", idempotent=True)
    _idle(page)

    picture = _chart_titled(page, "Real (blue) vs generated").first
    for label, legend in (("G's manifold", "G's manifold"), ("Gradient arrows", "gradient arrows")):
        toggle = page.locator("[data-testid='stCheckbox']").filter(has_text=label).first
        toggle = toggle.get_by_text(label, exact=True)
        drawn = picture.locator(".legendtext", has_text=legend)
        _click_until(page, toggle, lambda d=drawn: _shown(d), f"the {legend} layer drawn")
        _idle(page)
    for name in ("G's manifold", "gradient arrows", "generated", "real"):
        picture.locator(".legendtext", has_text=name).first.wait_for()
    page.get_by_text("fixed random plane", exact=False).first.wait_for()

    phase1 = page.get_by_text("Phase 1: D's update")
    _click_until(page, page.get_by_role("button", name="Next phase: D's update"),
                 lambda: _shown(phase1), "D's phase shown")
    _idle(page)
    for title in ("D's map before", "D's map after", "What changed"):
        _chart_titled(page, title).first.wait_for()
    page.get_by_text("Phase 1: D's update").first.wait_for()
    page.locator("[data-testid='stMarkdownContainer'] .katex").first.wait_for()
    page.screenshot(path=str(page.shots / "slowmo-d.png"))

    phase2 = page.get_by_text("Phase 2: G's update")
    _click_until(page, page.get_by_role("button", name="Next phase: G's update"),
                 lambda: _shown(phase2), "G's phase shown")
    _idle(page)
    _chart_titled(page, "Before: each fake's arrow").first.wait_for()
    after = _chart_titled(page, "After: where each moved").first
    after.locator(".legendtext", has_text="movement").first.wait_for()
    page.get_by_text("Phase 2: G's update").first.wait_for()
    page.get_by_role("button", name="Next phase: D's update").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(page.shots / "slowmo-g.png"))
