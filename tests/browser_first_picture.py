"""Seconds from clicking "Start lesson 1" to its live picture (with G's manifold) showing, in a
real browser: a script that measures and prints, not a test (tests never assert wall-clock).

The first click after the server starts is the cold figure; later clicks (each after a reload,
a fresh browser session on the same server) are the warm ones. Each click comes as soon as the
page is fully drawn (its picture of the lesson's data shown), as a person clicks a page they
see (`--eager` clicks as soon as the button is there instead, while the browser may still be
fetching and compiling its charting code). Run from the repository root:

    python tests/browser_first_picture.py [--warm 3] [--eager] [--pause] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers, as the tests import it

from helpers import CHROMIUM, CHROMIUM_ARGS, app_server  # noqa: E402

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
PICTURE = "[data-testid='stPlotlyChart'] .legendtext"
PREVIEW = "[data-testid='stPlotlyChart'] .main-svg"  # the lesson's data, drawn before Start
BUDGET_MS = 300_000


def click_to_picture(page, url: str, eager: bool = False) -> float:
    """Open the Lessons page, click lesson 1's start button, and time until the picture's
    manifold layer is drawn."""
    page.goto(url + "/lessons")
    page.wait_for_selector(IDLE, timeout=BUDGET_MS)
    button = page.get_by_role("button", name="Start lesson 1")
    button.wait_for(timeout=BUDGET_MS)
    if not eager:
        page.wait_for_selector(PREVIEW, timeout=BUDGET_MS)
    started = time.perf_counter()
    button.click()
    page.locator(PICTURE).filter(has_text="G's manifold").first.wait_for(timeout=BUDGET_MS)
    return time.perf_counter() - started


def _shown_step(page) -> int:
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    return int(re.search(r"step ([\d,]+)", text).group(1).replace(",", ""))


def click_to_paused(page, url: str) -> dict:
    """Start lesson 1, let it train until the page shows step 500 or more, click Pause and time
    until the page offers Resume; the steps from the last step shown before the click to the
    step it paused at."""
    page.goto(url + "/lessons")
    page.wait_for_selector(IDLE, timeout=BUDGET_MS)
    page.wait_for_selector(PREVIEW, timeout=BUDGET_MS)
    page.get_by_role("button", name="Start lesson 1").click()
    page.locator(PICTURE).filter(has_text="G's manifold").first.wait_for(timeout=BUDGET_MS)
    page.wait_for_function(
        "() => { const m = (document.querySelector(\"[data-testid='stProgress']\") || {})"
        ".innerText?.match(/step ([\\d,]+)/); return m && +m[1].replace(/,/g, '') >= 500; }",
        timeout=BUDGET_MS,
    )
    before = _shown_step(page)
    started = time.perf_counter()
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Resume").wait_for(timeout=BUDGET_MS)
    seconds = time.perf_counter() - started
    page.wait_for_function(
        "() => (document.querySelector(\"[data-testid='stProgress']\") || {})"
        ".innerText?.startsWith('paused')",
        timeout=BUDGET_MS,
    )
    return {"pause_s": round(seconds, 3), "steps_after_shown": _shown_step(page) - before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3, help="warm clicks to time (default 3)")
    parser.add_argument("--eager", action="store_true", help="click before the page is drawn")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--pause", action="store_true", help="also time a click on Pause")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryFile() as log,
        app_server({}, log) as server,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        cold = click_to_picture(page, server.url, args.eager)
        warm = [click_to_picture(page, server.url, args.eager) for _ in range(args.warm)]
        pause = click_to_paused(page, server.url) if args.pause else None
        browser.close()
    result = {
        "cold_s": round(cold, 3),
        "warm_s": [round(w, 3) for w in warm],
        "warm_median_s": round(statistics.median(warm), 3) if warm else None,
    }
    if pause is not None:
        result["pause"] = pause
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
