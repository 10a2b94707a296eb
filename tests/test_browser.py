"""One real-browser test: the app under `streamlit run`, driven by Playwright in Debian's chromium.

Opens the app, starts ring8-stable from the Train page, sees the step counter rise and the charts
appear without reloading, then moves a slider in the Latent explorer; and checks that a session's
settings survive a visit to another page, the browser's Back button and a reload.

Every wait is for a condition (Streamlit's script state, an element, a number), with budgets
that hold on a loaded 2-core machine; none is a fixed sleep.
"""

from __future__ import annotations

import re

import pytest
from helpers import IDLE, require_chromium, step_count, wait_until

pytestmark = pytest.mark.browser

require_chromium()


def _idle(page) -> None:
    page.wait_for_selector(IDLE)


def _picture(element) -> bytes | None:
    """A screenshot of the element, or None when a redraw replaced it mid-shot (try again)."""
    try:
        return element.screenshot(timeout=10_000)
    except Exception:
        return None


def _pick_preset(page, name: str) -> None:
    """Pick a preset and wait until its page run has drawn its description and ended: the
    script state can still read idle just after the click, and a setting typed during the
    preset's run could be overwritten by it."""
    from playground.settings.presets import PRESETS

    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=name).click()
    words = PRESETS[name].description[:40]
    sidebar.get_by_text(words).first.wait_for()
    _idle(page)


def _url(page) -> str:
    # Streamlit changes pages with history.pushState, which page.url does not follow here.
    return page.evaluate("location.href")


def _number(page, label: str):
    return page.get_by_label(label, exact=True)


def _set_number(page, label: str, value: str) -> None:
    box = _number(page, label)
    box.fill(value)
    box.press("Enter")
    wait_until(lambda: box.input_value() == value, f"{label} to read {value}")
    _idle(page)


def test_train_live_then_explore(server, page):
    page.goto(server + "/train?dataset=ring8")
    _idle(page)
    _pick_preset(page, "ring8-stable")
    page.get_by_role("button", name="Start").click()

    # The live view redraws by itself: the step counter rises with no reload.
    first = wait_until(lambda: (n := step_count(page)) > 0 and n, "the run's first steps")
    wait_until(lambda: step_count(page) > first, f"the step counter to rise past {first}")
    # The loss chart gets data (a logged D loss) without a reload.
    d_loss = page.locator("[data-testid='stMetric']").filter(has_text="D loss").first
    wait_until(lambda: re.search(r"\d", d_loss.inner_text()), "a logged D loss")
    wait_until(lambda: page.locator("[data-testid='stPlotlyChart']").count() >= 4,
               "3 curve charts + the points")
    wait_until(lambda: page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace").count(),
               "a drawn curve")
    page.screenshot(path=str(page.shots / "train.png"), full_page=True)

    # The explorer: a shipped checkpoint renders; moving a slider redraws the output.
    page.goto(server + "/explore")
    _idle(page)
    # Streamlit's slider thumb is a visually hidden <input type="range">.
    slider = page.locator("[data-testid='stSlider'] input[type='range']").first
    try:
        slider.wait_for(state="attached")
    except Exception:
        page.screenshot(path=str(page.shots / "explore-failed.png"), full_page=True)
        raise
    output = page.locator("[data-testid='stImage'] img, [data-testid='stPlotlyChart']").first
    output.wait_for()
    _idle(page)
    picture_before = output.screenshot()
    value_before = slider.get_attribute("value")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    wait_until(lambda: slider.get_attribute("value") != value_before, "the slider to move")
    _idle(page)
    wait_until(lambda: _picture(output) not in (None, picture_before), "the output to change")
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(page.shots / "explore.png"), full_page=True)


def test_settings_survive_another_page_back_and_reload(server, page):
    """Train → ring8-stable → change three settings → Start → Diagnostics → back to Train (by
    the menu, then by the browser's Back button, then by a reload): the sidebar keeps the
    settings, the URL carries them, and nothing is pushed into the running run."""
    page.goto(server + "/train?dataset=ring8&steps=1000000")
    _idle(page)
    _pick_preset(page, "ring8-stable")
    chosen = {"Generator learning rate": "0.0002", "Discriminator learning rate": "0.0003",
              "D steps per G step": "3", "Training steps": "20000"}
    for label, value in chosen.items():
        _set_number(page, label, value)
    page.get_by_role("button", name="Start").click()
    wait_until(lambda: step_count(page) > 0, "the run to train")

    def settings_kept(how: str) -> None:
        wait_until(lambda: "/train" in _url(page), f"the Train page ({how})")
        _number(page, "Generator learning rate").wait_for()
        for label, value in chosen.items():
            wait_until(lambda label=label, value=value: _number(page, label).input_value()
                       == value, f"{label} = {value} after {how}")
        wait_until(lambda: "lr_g=0.0002" in (url := _url(page)) and "d_steps=3" in url,
                   f"the URL to carry the settings after {how}")
        assert page.get_by_text("Changed live").count() == 0, how

    sidebar = page.locator("[data-testid='stSidebarNav']")
    sidebar.get_by_role("link", name="Diagnostics").click()
    wait_until(lambda: "/diagnostics" in _url(page), "the Diagnostics page")
    _idle(page)
    sidebar.get_by_role("link", name="Train").click()
    settings_kept("the menu")
    sidebar.get_by_role("link", name="Diagnostics").click()
    wait_until(lambda: "/diagnostics" in _url(page), "the Diagnostics page")
    _idle(page)
    page.evaluate("history.back()")  # the browser's Back button
    settings_kept("the Back button")
    page.reload()
    settings_kept("a reload")
    page.screenshot(path=str(page.shots / "train-settings-kept.png"), full_page=True)
