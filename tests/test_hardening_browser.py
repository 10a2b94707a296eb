"""Hardening against one real `streamlit run app.py` server on 127.0.0.1, driven by Playwright
in Debian's chromium (one browser, one context per person):

- lifecycle: closing a browser context (the tab goes away) fires the session's release hook on
  the server, so its training thread stops, its training slot frees and its memory is returned,
  within a bounded time;
- many users: ten sessions at once against a cap of three concurrent runs. Every session gets
  its page, never more than three runs train at once, the refused are told so and told when a
  slot frees, and every session's run eventually trains and ends properly (none is lost).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from helpers import (
    BROWSER_BUDGET_S,
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    app_server,
    require_chromium,
    sync_playwright_api,
    wait_until,
)

CAP = 3
STARTED = ("starting", "running")
SESSIONS = 10
LOST_CLICK_S = 30.0  # idle this long after a click with nothing changed: the click was lost
TINY = "hidden=16&layers=2&batch_size=32&steps=10000000&log_every=50&sample_every=100000"

pytestmark = pytest.mark.browser

require_chromium()
PlaywrightError = sync_playwright_api().Error


def cpu_share(pid: int, seconds: float = 2.0) -> float:
    """The process's CPU use over `seconds`, in cores (1.0 = one core busy all the time)."""

    def ticks() -> int:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    before = ticks()
    time.sleep(seconds)
    return (ticks() - before) / os.sysconf("SC_CLK_TCK") / seconds


def proc_status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"GAN_PLAYGROUND_DATA": str(tmp_path_factory.mktemp("data")),
           "GAN_PLAYGROUND_MAX_RUNS": str(CAP),
           # lone runs: this module is about the slots' cap, which pooled 2D runs share
           "GAN_PLAYGROUND_POOL": "0",
           "GAN_PLAYGROUND_RUNS_DIR": str(tmp_path_factory.mktemp("runs"))}
    with open(tmp_path_factory.mktemp("log") / "server.log", "w+b") as log:
        with app_server(env, log) as proc:
            proc.runs_dir = Path(env["GAN_PLAYGROUND_RUNS_DIR"])
            yield proc
        log.seek(0)
        text = log.read().decode(errors="replace")
    # The app raised nothing. (On a badly overloaded machine the web server itself logs a
    # browser's dropped websocket as a traceback; that is the server's, not the app's.)
    app_errors = [t for t in text.split("Traceback")[1:] if "WebSocketDisconnected" not in t]
    assert not app_errors, text[-4000:]


@pytest.fixture(scope="module")
def browser():
    playwright = sync_playwright_api()
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--renderer-process-limit=4"])
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _close_contexts(browser):
    """Every browser context a test opened is closed after it, passed or failed: a failed test
    would otherwise leave its sessions' runs training and slow every later test on the server."""
    yield
    for context in list(browser.contexts):
        context.close()


def open_train(browser, server, query: str = TINY):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(BROWSER_BUDGET_S * 1000)
    page.goto(f"{server.url}/train?{query}")
    page.wait_for_selector(IDLE)
    page.get_by_text("Training slots on this server").first.wait_for()
    return context, page


def slots_in_use(page) -> int:
    text = page.get_by_text("Training slots on this server").first.inner_text()
    return int(re.search(r"(\d+) of \d+ in use", text).group(1))


def button(page, label: str):
    return page.get_by_role("button", name=re.compile(rf"(^|\W){label}$"))


def click(page, label: str, until: tuple[str, ...]) -> str:
    """Click a button and wait until the page shows one of the statuses `until` (a busy server
    may take a moment to start the rerun). Not "until idle": a page with a live run reruns its
    live view every second, so it is seldom idle for long. Before the click, the button must be
    enabled: on a busy server the rerun that enables it (Pause once a run starts) can lag."""
    target = button(page, label)
    wait_until(lambda: target.is_enabled(), f"{label} to be enabled")
    target.click()
    seen: list[str] = []
    quiet_since = [time.monotonic()]

    def acted() -> str | bool:
        seen.append(status_of(page))
        if seen[-1] in until:
            return seen[-1]
        # On a very loaded machine a click can be lost (seen with load average 18 on 2 cores):
        # the page then sits idle with nothing changed. Click again once it has been idle that
        # long; a click still being handled keeps the page's script running, so it is not
        # repeated.
        if page.locator(IDLE).count() == 0:
            quiet_since[0] = time.monotonic()
        elif time.monotonic() - quiet_since[0] > LOST_CLICK_S:
            # Only an enabled button is clicked again: a disabled one means the click did act
            # (the page redrew around it), so its status is what to wait for.
            again = target.count() > 0 and target.first.is_enabled()
            print(f"{label}: idle {LOST_CLICK_S:.0f} s showing {seen[-1]!r}; "
                  + ("clicked again" if again else "the button is disabled: not clicked again")
                  + f"; the page: {main_text(page)[:300]!r}")
            if again:
                target.first.click()
            quiet_since[0] = time.monotonic()
        return False

    try:
        return wait_until(acted, f"{label} to act")
    except AssertionError as exc:  # say what the page showed instead
        raise AssertionError(f"{exc}; the page's status stayed {seen[-1]!r}: "
                             f"{main_text(page)[:600]}") from None


def main_text(page) -> str:
    """The page's main column as text, formulas left out (KaTeX spells each one out a symbol
    a line, which buries what the page says)."""
    return page.evaluate("""() => {
        const main = document.querySelector('[data-testid=stMain]');
        if (!main) return '';
        const copy = main.cloneNode(true);
        copy.querySelectorAll('.katex').forEach(k => k.remove());
        return copy.innerText.replace(/\\s+/g, ' ');
    }""")


def progress(page) -> tuple[str, int] | None:
    """(status, step) from the run's progress line, or None while there is none (read once:
    the page may be redrawing, so a missing line is retried by the caller, never waited on)."""
    try:
        line = page.locator("[data-testid='stProgress']").first.inner_text(timeout=2_000)
    except PlaywrightError:
        return None
    match = re.match(r"\s*(\w+) · step ([\d,]+)", line)
    return (match.group(1), int(match.group(2).replace(",", ""))) if match else None


def status_of(page) -> str:
    """'refused', 'free' (refused, now told a slot is free), or the run's status from the
    progress line (starting, running, paused, stopped, finished, ...), or 'none'."""
    if page.get_by_text("training slots on this server are in use").count():
        return "refused"
    if page.get_by_text("A training slot is free").count():
        return "free"
    now = progress(page)
    return now[0] if now else "none"


def reached(page, status: str) -> int | None:
    """The run's step once its status is `status` and it has trained (step > 0), else None."""
    now = progress(page)
    return now[1] if now and now[0] == status and now[1] > 0 else None


def alert_text(page, containing: str) -> str:
    return page.locator("[data-testid='stAlert']").filter(has_text=containing).first.inner_text()


def no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0


# ---------------------------------------------------------------------- lifecycle
def test_closing_the_tab_stops_the_run_and_frees_its_memory(server, browser):
    # A model big enough (about 25M parameters, ~1 GB with Adam and the kept last good state)
    # that its memory stands out in the server's RSS.
    big = "hidden=2048&layers=4&batch_size=16&steps=10000000&log_every=5&sample_every=100000"
    # Warm-up in a tab of its own: the server's first run allocates torch's one-time state.
    warm_context, warm = open_train(browser, server, big)
    click(warm, "Start", until=STARTED)
    wait_until(lambda: reached(warm, "running"), "a warm-up")
    warm_context.close()
    watcher_context, watcher = open_train(browser, server)

    def slots_free() -> bool:
        watcher.reload()
        watcher.wait_for_selector(IDLE)
        return slots_in_use(watcher) == 0

    wait_until(slots_free, "the warm-up to end", every=0.5)
    rss_before = proc_status(server.pid, "VmRSS") / 1024

    owner_context, owner = open_train(browser, server, big)
    click(owner, "Start", until=STARTED)
    wait_until(lambda: reached(owner, "running"), "the run to train")
    rss_running = proc_status(server.pid, "VmRSS") / 1024
    cpu_running = cpu_share(server.pid)
    assert not slots_free() and slots_in_use(watcher) == 1
    added = rss_running - rss_before
    assert added > 300, (rss_before, rss_running)

    closed_at = time.monotonic()
    owner_context.close()  # the browser session goes away mid-run
    wait_until(slots_free, "the closed session's run to end", every=0.5)
    seconds = time.monotonic() - closed_at
    cpu_after = cpu_share(server.pid)  # nobody is clicking: only a leftover run would burn CPU
    assert cpu_after < 0.3 * cpu_running, (cpu_running, cpu_after)
    # Its memory is returned: the server is back within 30% of what the run added.
    rss_after = wait_until(
        lambda: (rss := proc_status(server.pid, "VmRSS") / 1024) < rss_before + 0.3 * added
        and rss,
        "the run's memory to be returned")
    print(f"released {seconds:.1f} s after the tab closed; server RSS {rss_before:.0f} MB "
          f"-> {rss_running:.0f} MB while training -> {rss_after:.0f} MB after; server CPU "
          f"{cpu_running:.2f} cores while training -> {cpu_after:.2f} after")
    no_exception(watcher)
    watcher_context.close()


# ---------------------------------------------------------------------- many users
def train_then_pause(page, i: int) -> None:
    """A started run trains (its step rises above 0), then its owner pauses it: a paused run
    keeps its slot without using the CPU, so the next ten clicks are not slowed by training."""
    wait_until(lambda: reached(page, "running"), f"run {i} to train")
    click(page, "Pause", until=("paused",))


def test_ten_sessions_share_three_slots_and_no_run_is_lost(server, browser):
    t0 = time.monotonic()
    contexts = [browser.new_context(viewport={"width": 1000, "height": 800})
                for _ in range(SESSIONS)]
    pages = [context.new_page() for context in contexts]
    for page in pages:  # ten sessions open at once
        page.set_default_timeout(BROWSER_BUDGET_S * 1000)
        page.goto(f"{server.url}/train?{TINY}", wait_until="commit")
    for page in pages:  # every session gets its page
        page.wait_for_selector(IDLE)
        page.get_by_text("Training slots on this server").first.wait_for()
        assert page.get_by_role("heading", name="Train a GAN").count() == 1
        no_exception(page)
    print(f"[{time.monotonic() - t0:.0f} s] {SESSIONS} pages open")

    holding: list[int] = []  # sessions whose run holds a slot now
    for i, page in enumerate(pages):  # everyone presses Start
        if click(page, "Start", until=STARTED + ("refused",)) in STARTED:
            train_then_pause(page, i)
            holding.append(i)
    states = [status_of(page) for page in pages]
    assert holding == list(range(CAP)), str(states)
    assert states.count("refused") == SESSIONS - CAP, str(states)
    warning = alert_text(pages[-1], "slots on this server are in use")
    assert "All 3 training slots" in warning and "3 runs active" in warning, warning
    print(f"[{time.monotonic() - t0:.0f} s] {CAP} runs, {SESSIONS - CAP} refused")

    ran: dict[int, int] = {}  # session -> the step its run reached
    told_everyone = False
    while len(ran) < SESSIONS:
        for i in holding:  # the owners stop their (paused) runs, which frees their slots
            click(pages[i], "Stop", until=("stopped",))
            ran[i] = wait_until(lambda p=pages[i]: reached(p, "stopped"), f"{i}'s last step")
        waiting = [i for i in range(SESSIONS) if i not in ran]
        # The refused are told by the page itself (no reload) that a slot is free: everyone
        # the first time, then the ones about to press Start.
        told = waiting if not told_everyone else waiting[: CAP + 1]
        for i in told:
            wait_until(lambda p=pages[i]: status_of(p) == "free", f"session {i} to be told")
        told_everyone = True
        holding = []
        for i in waiting[: CAP + 1]:  # one more than the free slots: that one is refused
            if click(pages[i], "Start", until=STARTED + ("refused",)) in STARTED:
                train_then_pause(pages[i], i)
                holding.append(i)
        assert holding == waiting[:CAP], [status_of(p) for p in pages]
        print(f"[{time.monotonic() - t0:.0f} s] {len(ran)} ran, {len(holding)} running")

    assert sorted(ran) == list(range(SESSIONS)) and all(s > 0 for s in ran.values()), ran
    for page in pages:
        no_exception(page)
    pages[0].reload()
    pages[0].wait_for_selector(IDLE)
    assert slots_in_use(pages[0]) == 0, "every slot is free again"
    for context in contexts:
        context.close()


# ---------------------------------------------------------------------- a soak
VISITORS = 3


def test_soak_visitors_start_save_reload_and_stop_at_once(server, browser):
    """Several visitors at once: each starts a run, pauses, saves,
    reloads (a new session: the unsaved live run ends with it) and the last ones stop. After:
    no slot held, no training thread left in the server, and every saved run loads."""
    from playground.storage.checkpoints import load_checkpoint

    _, probe = open_train(browser, server)
    wait_until(lambda: slots_in_use(probe) == 0, "a quiet server")
    threads_before = proc_status(server.pid, "Threads")
    saved_before = set(server.runs_dir.glob("*/checkpoint.json"))
    visitors = [open_train(browser, server) for _ in range(VISITORS)]
    for _, page in visitors:  # all start
        click(page, "Start", until=STARTED)
    for i, (_, page) in enumerate(visitors):  # all train
        wait_until(lambda p=page: reached(p, "running"), f"visitor {i}'s run to train")
        no_exception(page)
    for _, page in visitors:  # all pause and save
        click(page, "Pause", until=("paused",))
        button(page, "Save").click()
        page.get_by_text("Saved to").first.wait_for()
        no_exception(page)
    for i, (_, page) in enumerate(visitors):  # some reload, the others stop
        if i % 2 == 0:
            page.reload()
            page.wait_for_selector(IDLE)
            no_exception(page)
        else:
            click(page, "Stop", until=("stopped",))
    probe.reload()
    probe.wait_for_selector(IDLE)
    wait_until(lambda: (probe.reload(), probe.wait_for_selector(IDLE),
                        slots_in_use(probe) == 0)[-1], "every slot to be free", every=1.0)
    wait_until(lambda: proc_status(server.pid, "Threads") <= threads_before,
               "the runs' threads to end", every=0.5)
    saved = set(server.runs_dir.glob("*/checkpoint.json")) - saved_before
    assert len(saved) == VISITORS, sorted(saved)
    for meta in saved:
        trainer = load_checkpoint(meta.parent, device="cpu", with_optimizers=True)
        assert trainer.step > 0
    print(f"soak: {VISITORS} visitors, {len(saved)} runs saved and loaded, server threads "
          f"{threads_before} before -> {proc_status(server.pid, 'Threads')} after, 0 slots held")
    for context, _ in visitors:
        context.close()
