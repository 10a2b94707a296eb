"""The Lessons page in a real browser: the app under `streamlit run`, driven by Playwright in
Debian's chromium. Starts lesson 1 with one click and sees its live 2D picture with G's
manifold and the gradient arrows drawn, updating by itself; then a teacher link."""

from __future__ import annotations

import pytest
from helpers import BROWSER_BUDGET_S, require_chromium, step_count, wait_until

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
WAIT_MS = BROWSER_BUDGET_S * 1000  # generous: CI is a loaded 2-core machine

pytestmark = pytest.mark.browser

require_chromium()


def test_lesson_one_shows_the_live_picture_with_manifold_and_arrows(server, page):
    page.goto(server + "/lessons")
    page.wait_for_selector(IDLE, timeout=WAIT_MS)
    page.get_by_role("button", name="Start lesson 1").click()

    legend = page.locator("[data-testid='stPlotlyChart'] .legendtext")
    for layer in ("G's manifold", "gradient arrows", "generated", "real"):
        legend.filter(has_text=layer).first.wait_for(timeout=WAIT_MS)
    # The mesh and the arrows are drawn as lines in the picture, not only named in its legend.
    # the live view: the chart whose legend names G's manifold (not whichever chart is first)
    picture = page.locator("[data-testid='stPlotlyChart']").filter(
        has=page.locator(".legendtext", has_text="G's manifold")).first
    # (waited for: on a loaded machine the chart can be between two redraws when first read)
    lines = picture.locator(".scatterlayer .trace path.js-line")
    wait_until(lambda: lines.count() >= 2, "the mesh and the arrows drawn as lines")
    # Start scrolled the live run into view: below the lesson's text, the picture began under
    # the window's bottom edge.
    height = page.viewport_size["height"]

    def whole_picture_in_view() -> bool:
        box = picture.bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height

    wait_until(whole_picture_in_view, "the live picture scrolled into view")

    # Live: the step counter rises with no reload.
    first = step_count(page)
    wait_until(lambda: step_count(page) > first, "the step counter to rise")
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(page.shots / "lessons-1.png"), full_page=True)


def test_a_teacher_link_hides_the_picker_and_locks_settings(server, page):
    page.goto(server + "/lessons?lesson=4&hide=settings&lock=1")
    page.wait_for_selector(IDLE, timeout=WAIT_MS)
    page.get_by_text("Lesson 4: Non-convergence").wait_for(timeout=WAIT_MS)
    assert page.get_by_role("radiogroup").count() == 0  # no lesson picker
    assert page.get_by_text("Settings of this lesson").count() == 0
    # The Dirac-GAN draws at once, with its controls locked.
    page.get_by_text("The Dirac-GAN").first.wait_for(timeout=WAIT_MS)
    loss = page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").first
    assert loss.locator("input").first.is_disabled()
    assert page.locator("[data-testid='stException']").count() == 0
