"""Accessibility, measured with axe-core in a real browser: no serious or critical violation on
any page at rest, nor on the Lessons and Train pages while a run trains (moderate and minor
findings are printed, not failed)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from helpers import BROWSER_BUDGET_S, IDLE, require_chromium, step_count, wait_until

pytestmark = pytest.mark.browser

require_chromium()
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

PAGES = ("", "lessons", "train", "explore", "diagnostics", "runs", "classroom")
PAGES = (*PAGES, *(f"{p}?lang=zh" for p in PAGES))  # every page in both languages
FAILING = ("serious", "critical")


def violations(page) -> list[dict]:
    return axe_sync.Axe().run(page).response["violations"]


def _check(page, where: str) -> None:
    found = violations(page)
    counts = Counter(v["impact"] for v in found)
    print(f"{where}: {dict(counts) or 'no violations'}")
    bad = [(v["impact"], v["id"], v["help"], [n["target"] for n in v["nodes"][:3]])
           for v in found if v["impact"] in FAILING]
    assert not bad, f"{where}: {bad}"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_at_rest_has_no_serious_violation(server, page, path):
    page.goto(f"{server}/{path}")
    page.wait_for_selector(IDLE)
    _check(page, path or "home")


def _stop(page) -> None:
    """Stop the page's run unless it has ended already (a disabled button is never clicked).
    While the page redraws, the old button and its replacement can both be on the page, so
    the wait is for no enabled Stop at all, never for one element."""
    enabled = page.get_by_role("button", name="Stop", exact=True, disabled=False)
    if enabled.count():
        enabled.first.click()
        wait_until(lambda: enabled.count() == 0, "the run to stop")


def test_a_lesson_and_the_train_page_in_a_run_have_no_serious_violation(server, page):
    page.goto(server + "/lessons")
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Start lesson 1").click()
    page.locator("[data-testid='stPlotlyChart'] .legendtext").filter(
        has_text="G's manifold").first.wait_for()
    first = step_count(page)
    # Trained on, or (on a loaded machine) already finished by the time the step was read.
    wait_until(lambda: step_count(page) > first or "finished" in _progress(page),
               "the run to train")
    _check(page, "lessons, in a run")
    _stop(page)  # frees its training slot for the Train page's run
    # The Train page in a run of its own (a new address is a new browser session).
    page.goto(server + "/train")
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Start", exact=True).click()
    wait_until(lambda: step_count(page) > 0, "the Train page's run to train")
    _check(page, "train, in a run")
    _stop(page)


def _progress(page) -> str:
    try:
        return page.locator("[data-testid='stProgress']").first.inner_text(timeout=5_000)
    except Exception:  # replaced mid-read by a redraw
        return ""


def test_a_lesson_in_chinese_in_a_run_has_no_serious_violation(server, page):
    page.goto(server + "/lessons?lang=zh&lesson=1")
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="开始第 1 课").click()
    page.locator("[data-testid='stPlotlyChart'] .legendtext").first.wait_for()
    wait_until(lambda: _progress(page) != "", "the run's progress line")
    first = _progress(page)
    # Trained on, or (on a loaded machine) already finished by the time the line was read.
    wait_until(lambda: _progress(page) not in ("", first) or "已完成" in first,
               f"the run to train (its progress line read {first!r})")
    _check(page, "lessons?lang=zh, in a run")
    stop = page.get_by_role("button", name="停止", exact=True, disabled=False)
    if stop.count():
        stop.first.click()
        wait_until(lambda: stop.count() == 0, "the run to stop")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_class_console_with_students_has_no_serious_violation(server, page, lang):
    """The teacher's console with two students' runs on it: the cards' pictures, status words
    and buttons, in both languages."""
    teacher = page.context.browser.new_context()  # a browser of its own: no class made yet
    page = teacher.new_page()
    page.set_default_timeout(BROWSER_BUDGET_S * 1000)
    page.goto(f"{server}/lessons?lang={lang}")
    page.wait_for_selector(IDLE)
    make = page.get_by_role(
        "button", name=re.compile(r"Make a (new )?class" if lang == "en" else "(建立|新建一个)班级")
    ).first
    if not make.is_visible():  # the panel opens by itself for a browser that teaches a class
        page.get_by_text("Teach a class" if lang == "en" else "给一个班上课").click()
    # force: while other runs train, the page's slot notice redraws every second or two, and a
    # redraw can catch the button between two frames ("not stable")
    link = page.locator("code").filter(has_text="/lessons?class=").first
    before = link.inner_text() if link.count() else None  # this browser's earlier class
    make.click(force=True)
    wait_until(lambda: link.count() and link.inner_text() != before, "the new class's link")
    code = link.inner_text().split("=")[-1].strip()
    contexts = []
    try:
        for _ in range(2):
            contexts.append(page.context.browser.new_context())
            student = contexts[-1].new_page()
            student.set_default_timeout(BROWSER_BUDGET_S * 1000)
            student.goto(f"{server}/lessons?class={code}&lang={lang}")
            student.wait_for_selector(IDLE)
            start = "Start lesson 1" if lang == "en" else "开始第 1 课"
            student.get_by_role("button").filter(has_text=start).first.click(force=True)
            student.wait_for_selector(IDLE)
        page.goto(f"{server}/classroom?lang={lang}")
        page.wait_for_selector(IDLE)
        # both students' cards (a picture each once their runs have drawn one)
        page.get_by_text("student 2" if lang == "en" else "学生 2").first.wait_for()
        _check(page, f"classroom?lang={lang}, two students")
    finally:
        for context in [*contexts, teacher]:
            context.close()
