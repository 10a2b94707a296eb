"""One real-browser test: the app under `streamlit run`, driven by Playwright in Debian's chromium.

Opens the app, starts ring8-stable from the Train page, sees the step counter rise and the charts
appear without reloading, then moves a slider in the Latent explorer.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS, app_server, require_chromium

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"

pytestmark = pytest.mark.browser

require_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"GAN_PLAYGROUND_DATA": str(tmp_path_factory.mktemp("data"))}
    with open(tmp_path_factory.mktemp("log") / "server.log", "w+b") as log:
        with app_server(env, log) as proc:
            yield proc.url


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    playwright = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("GAN_PLAYGROUND_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.shots = shots
        yield pg
        browser.close()


def _idle(page, timeout=60_000):
    page.wait_for_selector(IDLE, timeout=timeout)


def _step_count(page) -> int:
    text = page.locator("[data-testid='stProgress']").first.inner_text(timeout=5_000)
    match = re.search(r"step ([\d,]+)", text)
    return int(match.group(1).replace(",", "")) if match else -1


def test_train_live_then_explore(server, page):
    page.goto(server + "/train?dataset=ring8")
    _idle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="ring8-stable").click()
    _idle(page)
    page.get_by_role("button", name="Start").click()

    # The live view redraws by itself: the step counter rises with no reload.
    page.wait_for_selector("[data-testid='stProgress']", timeout=60_000)
    first = _step_count(page)
    deadline = time.monotonic() + 60
    later = first
    while time.monotonic() < deadline and later <= first:
        time.sleep(1.0)
        later = _step_count(page)
    assert later > first >= 0, f"step counter did not rise ({first} -> {later})"
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=60_000)
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 4  # 3 curves + points
    # The loss chart gets data (a logged D loss) without a reload.
    d_loss = page.locator("[data-testid='stMetric']").filter(has_text="D loss")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "–" in d_loss.inner_text():
        time.sleep(0.5)
    assert re.search(r"\d", d_loss.inner_text()), "no D loss logged"
    assert page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace").count() > 0
    page.screenshot(path=str(page.shots / "train.png"), full_page=True)

    # The explorer: a shipped checkpoint renders; moving a slider redraws the output.
    page.goto(server + "/explore")
    _idle(page)
    # Streamlit's slider thumb is a visually hidden <input type="range">.
    slider = page.locator("[data-testid='stSlider'] input[type='range']").first
    try:
        slider.wait_for(state="attached", timeout=60_000)
    except Exception:
        page.screenshot(path=str(page.shots / "explore-failed.png"), full_page=True)
        raise
    output = page.locator("[data-testid='stImage'] img, [data-testid='stPlotlyChart']").first
    output.wait_for(timeout=60_000)
    time.sleep(1.0)
    picture_before = output.screenshot()
    value_before = slider.get_attribute("value")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    _idle(page)
    time.sleep(1.0)
    assert slider.get_attribute("value") != value_before
    assert output.screenshot() != picture_before, "the output did not change"
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(page.shots / "explore.png"), full_page=True)
