"""Helpers several test files share (fixtures are in conftest.py): waiting on run threads,
checkpoints made with the command line, and a real `streamlit run app.py` server for the
browser tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0  # generous: a stuck thread fails the test instead of hanging it


def shown(markdown: str) -> str:
    """The words a message's markdown shows: backslash escapes and the invisible word joiners
    that ui.plain adds taken out (what a person reads, not the source)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


# ---------------------------------------------------------------------- run threads
def wait_for(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


def run_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gan-run" and t.is_alive()]


# ---------------------------------------------------------------------- checkpoints
def cli_train(out: Path, *args: str) -> Path:
    """Train with the command line, quietly, into `out`; the command must succeed."""
    from playground.cli import main as cli

    assert cli(["train", *args, "--out", str(out), "--quiet"]) == 0
    return out


def small_checkpoints(root: Path) -> dict[str, Path]:
    """A ring8-stable and a narrow digits-dcgan checkpoint, a few steps each."""
    return {
        "ring": cli_train(
            root / "ring", "--preset", "ring8-stable", "--steps", "30", "--set", "batch_size=32"
        ),
        "digits": cli_train(
            root / "digits", "--preset", "digits-dcgan", "--steps", "5",
            "--set", "width=8", "--set", "batch_size=16",
        ),
    }


def install_checkpoints(
    made: dict[str, Path], root: Path, layout: dict[str, str], monkeypatch
) -> dict[str, Path]:
    """Copy each made checkpoint to root/layout[name] and point the pages at root (shipped
    examples under examples/, the user's runs under runs/)."""
    from pages.ui import common as ui

    paths = {name: root / where for name, where in layout.items()}
    for name, target in paths.items():
        shutil.copytree(made[name], target)
    monkeypatch.setattr(ui, "CHECKPOINTS", root)
    monkeypatch.setattr(ui, "USER_RUNS", root / "runs")
    return paths


# ---------------------------------------------------------------------- the browser tests
# Budgets for the browser tests: generous, because CI is a loaded 2-core box where one Streamlit
# rerun can take seconds and a page's first load tens of seconds. A test waits for a condition
# and goes on the moment it holds, so a large budget costs nothing on a fast machine.
BROWSER_BUDGET_S = 180.0
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"  # Streamlit's own e2e wait


def wait_until(condition, what: str, timeout: float = BROWSER_BUDGET_S, every: float = 0.25):
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def in_ci() -> bool:
    """Whether this is the project's CI (`.ci/run` sets CI=1): there nothing may be missing."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> None:
    """Skip the calling test module without chromium; in CI its absence is an error."""
    if CHROMIUM is None:
        if in_ci():
            raise RuntimeError("CI must install chromium for the browser tests")
        pytest.skip("chromium is not installed (apt-get install -y chromium)",
                    allow_module_level=True)


def sync_playwright_api():
    """playwright.sync_api for a browser test: skipped without playwright, except in CI, where
    a missing playwright is an error (the test extra installs it)."""
    require_chromium()
    if in_ci():
        import playwright.sync_api

        return playwright.sync_api
    return pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(env: dict[str, str], log: BinaryIO) -> Iterator[subprocess.Popen]:
    """`streamlit run app.py` on a free local port, its output in `log`; yields the process
    with its address as `.url` once the server answers, and stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, env=dict(os.environ, **env), stdout=log, stderr=subprocess.STDOUT)
    proc.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(proc.url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        log.seek(0)
        pytest.fail("streamlit did not start: " + log.read().decode()[-2000:])
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def step_count(page) -> int:
    """The step on the page's progress line, or -1 while there is none (it may be redrawing)."""
    try:
        text = page.locator("[data-testid='stProgress']").first.inner_text(timeout=5_000)
    except Exception:  # replaced mid-read by a redraw: read again next time
        return -1
    match = re.search(r"step ([\d,]+)", text)
    return int(match.group(1).replace(",", "")) if match else -1


@contextlib.contextmanager
def lesson_slots(monkeypatch, sizes: dict) -> Iterator[tuple]:
    """Fresh run slots for the Lessons page (the cached session resources are per real
    session), with every lesson's settings changed by `sizes` (tiny models, few or many
    steps); the slots' runs are stopped afterwards."""
    from pages.ui import common as ui
    from pages.ui import lessons as lessons_ui
    from playground.lessons import catalogue

    slot, multi = ui.RunSlot(), ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    monkeypatch.setattr(lessons_ui, "multi_slot", lambda: multi)
    original = catalogue.Variant.config
    monkeypatch.setattr(
        catalogue.Variant, "config", lambda self, seed=None: original(self, seed).replace(**sizes)
    )
    try:
        yield slot, multi
    finally:
        slot.stop()
        multi.replace(None)
