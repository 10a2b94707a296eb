"""A lesson from the keyboard alone, in a real browser: Tab reaches each control in turn, the
focused control shows a visible focus ring, and Enter or Space starts, pauses, steps (slow
motion's next phase) and stops lesson 1. No mouse event is sent."""

from __future__ import annotations

import pytest
from helpers import BROWSER_BUDGET_S, require_chromium, wait_until

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAX_TABS = 120  # every focusable element of the page, sidebar first

pytestmark = pytest.mark.browser

require_chromium()

FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
        || (style.boxShadow && style.boxShadow !== 'none');
    return {text: (el.innerText || el.getAttribute('aria-label') || '').trim(),
            tag: el.tagName, disabled: el.disabled === true, ring: ring};
}"""


def tab_to(page, label: str) -> dict:
    """Press Tab until the focus is on the enabled button whose text starts with `label`;
    return what the focused element looked like. Fails when Tab never gets there."""
    seen = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused and focused["tag"] == "BUTTON" and not focused["disabled"] and (
            focused["text"].split("\n")[-1].startswith(label)
            or focused["text"].startswith(label)
        ):
            return focused
        seen.append(focused and focused["text"][:30])
    raise AssertionError(f"Tab never reached {label!r}; it went through {seen}")


def press(page, label: str, key: str = "Enter") -> None:
    page.wait_for_selector(IDLE)
    focused = tab_to(page, label)
    assert focused["ring"], f"the focused {label!r} button shows no focus ring"
    page.keyboard.press(key)


def enabled(page, name: str):
    return page.get_by_role("button", name=name, exact=False, disabled=False)


def test_a_lesson_is_started_paused_stepped_and_stopped_from_the_keyboard(server, page):
    page.set_default_timeout(BROWSER_BUDGET_S * 1000)
    page.goto(server + "/lessons?lesson=1")
    page.wait_for_selector(IDLE)
    press(page, "Start lesson 1")
    wait_until(lambda: enabled(page, "Pause").count() == 1, "the run to start")
    press(page, "Pause", key="Space")
    enabled(page, "Resume").first.wait_for()
    phase = enabled(page, "Next phase")
    phase.first.wait_for()
    first_label = phase.first.inner_text()
    press(page, "Next phase")
    # One phase ran: the button now names the other phase, and its pictures are drawn.
    wait_until(lambda: enabled(page, "Next phase").count() == 1
               and enabled(page, "Next phase").first.inner_text() != first_label,
               "slow motion's next phase")
    press(page, "Stop")
    wait_until(lambda: page.get_by_role("button", name="Stop", exact=True,
                                        disabled=False).count() == 0, "the run to stop")
    assert page.locator("[data-testid='stException']").count() == 0
