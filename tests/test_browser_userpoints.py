"""Real browser: drawing your own points on the Train page with the mouse (clicks spray points,
the lasso fills an area, clicks work again after it, Undo takes the last back) and training on
them. AppTest cannot click a Plotly chart, and plotly's own modes decide whether a click
selects: only a browser shows it. Every wait is for a condition."""

from __future__ import annotations

import math
import re

import pytest
from helpers import IDLE, require_chromium, step_count, wait_until

pytestmark = pytest.mark.browser

require_chromium()


def _idle(page) -> None:
    page.wait_for_selector(IDLE)


def _drawn(page) -> int:
    """The count under the canvas, or -1 while it is being redrawn."""
    try:
        text = page.locator("text=/points drawn/").first.inner_text(timeout=5_000)
    except Exception:  # replaced mid-read by a redraw: read again next time
        return -1
    found = re.search(r"([\d,]+) points drawn", text)
    return int(found.group(1).replace(",", "")) if found else -1


def _plot_box(page) -> dict:
    return page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first.bounding_box()


def _click(page, fx: float, fy: float) -> None:
    box = _plot_box(page)
    x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.mouse.move(x - 6, y - 6)
    page.mouse.move(x, y, steps=3)  # plotly picks the clicked point from the hover
    page.mouse.down()
    page.mouse.up()


def test_drawing_points_with_the_mouse_and_training_on_them(server, page):
    try:
        _draw_and_train(server, page)
    except Exception:
        page.screenshot(path=str(page.shots / "userpoints-failed.png"))
        raise


def _draw_and_train(server, page) -> None:
    page.goto(server + "/train?steps=300&eval_every=100&batch_size=64")
    _idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stSelectbox']").nth(1).click()
    page.get_by_role("option", name="your own points").click()
    _idle(page)
    page.get_by_text("0 points drawn").first.wait_for()

    per_click = 10  # the brush's default
    for k in range(3):
        _click(page, 0.3 + 0.2 * k, 0.3)
        wait_until(lambda k=k: _drawn(page) == per_click * (k + 1), f"click {k + 1}'s points")
        _idle(page)

    lasso = "[data-testid='stPlotlyChart'] .modebar-btn[data-title='Lasso Select']"
    page.locator(lasso).first.click()
    box = _plot_box(page)
    cx, cy, r = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.7, 40
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for t in range(1, 25):
        a = 2 * math.pi * t / 24
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a), steps=2)
    page.mouse.up()
    filled = wait_until(lambda: _drawn(page) > 3 * per_click + 20 and _drawn(page),
                        "the lasso's points")
    _idle(page)
    page.get_by_text("What trains:", exact=False).first.wait_for()

    _click(page, 0.8, 0.15)  # after an area, the canvas is back to clicks
    wait_until(lambda: _drawn(page) == filled + per_click, "a click after the lasso")
    _idle(page)
    for left, what in ((filled, "the click"), (3 * per_click, "the lasso")):
        page.get_by_role("button", name="Undo").click()
        wait_until(lambda left=left: _drawn(page) == left, f"Undo to take {what} back")
        _idle(page)

    page.get_by_role("button", name="Start").click()
    wait_until(lambda: step_count(page) >= 100, "the run's first measured steps")
    page.get_by_text("JS (grid)").first.wait_for()
    page.get_by_text("How well it matches your points").first.wait_for()
