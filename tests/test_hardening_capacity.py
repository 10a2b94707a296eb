"""Hardening, many users (in process): the server-wide cap on concurrent training runs. The
setting and its defaults, a cap that holds under a crowd pressing Start at the same instant,
slots freed by runs ending however they end, and the Train page telling a refused user so and
then telling them when a slot is free. The same against a real server with ten browser
sessions is in tests/test_hardening_browser.py."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.runs import capacity
from playground.runs.capacity import RunSlots
from playground.runs.runner import Run

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0


# ---------------------------------------------------------------------- the setting
@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), (" 7 ", 7), ("1", 1), ("1000", 1000), ("0", None), ("-2", None), ("abc", None),
     ("2.5", None), ("1e3", None), ("", None), ("1001", None), ("99999999999999999999", None)],
)
@pytest.mark.parametrize("gpu", [False, True])
def test_the_cap_comes_from_the_environment_or_a_device_default(monkeypatch, text, expected, gpu):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    monkeypatch.setenv(capacity.ENV, text)
    default = capacity.DEFAULT_GPU if gpu else capacity.DEFAULT_CPU
    assert capacity.configured_limit() == (expected if expected is not None else default)
    assert RunSlots().limit == capacity.configured_limit()


# ---------------------------------------------------------------------- the counter
class FakeRun:
    """Startable: alive from start() until finish(); start() is slow, to widen any race."""

    def __init__(self) -> None:
        self.alive = False
        self.starts = 0

    def start(self, paused: bool = False) -> None:
        time.sleep(0.01)
        self.starts += 1
        self.alive = True

    def finish(self) -> None:
        self.alive = False


def test_a_crowd_pressing_start_at_once_never_exceeds_the_cap():
    slots = RunSlots(limit=3)
    runs = [FakeRun() for _ in range(16)]
    barrier = threading.Barrier(len(runs))
    results: dict[int, bool] = {}

    def press(i: int) -> None:
        barrier.wait()
        results[i] = slots.try_start(runs[i])

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [i for i, ok in results.items() if ok]
    assert len(started) == 3 == slots.status().active
    assert all(runs[i].starts == (1 if i in started else 0) for i in range(len(runs)))
    assert slots.status().full and slots.status().free == 0
    runs[started[0]].finish()  # a run ending frees its slot: no release call needed
    assert slots.status().active == 2 and not slots.status().full
    waiting = next(i for i in range(len(runs)) if i not in started)
    assert slots.try_start(runs[waiting])
    assert not slots.try_start(FakeRun())


def test_slots_do_not_keep_runs_alive():
    import gc
    import weakref

    slots = RunSlots(limit=2)
    run = FakeRun()
    assert slots.try_start(run)
    ref = weakref.ref(run)
    run.finish()
    del run
    gc.collect()
    assert ref() is None and slots.status().active == 0


@pytest.mark.parametrize("ending", ["finish", "stop", "error", "diverge", "paused-stop"])
def test_a_real_run_frees_its_slot_however_it_ends(tiny_cfg, ending):
    import math

    from playground.training.trainer import Trainer

    def make(cfg):
        trainer = Trainer(cfg)
        if ending == "error":
            trainer.train_step = lambda *a: (_ for _ in ()).throw(RuntimeError("boom"))
        elif ending == "diverge":
            trainer.g_loss_fn = lambda f: f.mean() * math.nan
        return trainer

    steps = 5 if ending == "finish" else 1_000_000
    slots = RunSlots(limit=1)
    run = Run(tiny_cfg(steps=steps), make_trainer=make)
    assert slots.try_start(run, paused=ending == "paused-stop")
    assert not slots.try_start(Run(tiny_cfg())), "the cap is 1"
    if ending == "paused-stop":
        deadline = time.monotonic() + TIMEOUT
        while run.status != "paused" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slots.status().active == 1, "a paused run keeps its slot"
    if ending in ("stop", "paused-stop"):
        run.stop(wait=None)
    assert run.join(TIMEOUT)
    assert slots.status().active == 0
    other = Run(tiny_cfg(steps=2))
    assert slots.try_start(other) and other.join(TIMEOUT)


# ---------------------------------------------------------------------- the Train page
def button(at: AppTest, label: str):
    return next(b for b in at.button if re.sub(r"^\W+", "", b.label) == label)


@pytest.fixture
def crowded(monkeypatch, tiny_cfg):
    """A server capped at one run, already used by another session's run."""
    from pages.ui import common as ui

    slots = RunSlots(limit=1)
    monkeypatch.setattr(capacity, "SLOTS", slots)
    other = Run(tiny_cfg(steps=10_000_000))
    assert slots.try_start(other)
    mine = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: mine)
    yield slots, other, mine
    other.stop()
    mine.stop()


def test_a_user_over_the_cap_is_told_and_then_told_when_a_slot_frees(crowded):
    slots, other, mine = crowded
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    assert "1 of 1 in use" in " ".join(c.value for c in at.caption)
    button(at, "Start").click().run()
    assert not at.exception
    assert mine.run is None, "no run was started past the cap"
    warning = " ".join(w.value for w in at.warning)
    assert "All 1 training slots" in warning and "1 runs active" in warning
    assert "frees its slot when it finishes, is stopped" in warning
    assert not button(at, "Start").disabled, "the user may try again at any time"
    at.run()  # still full: still waiting
    assert at.warning and slots.status().active == 1
    other.stop()  # the other session's run ends
    assert other.join(TIMEOUT)
    at.run()  # in a browser the warning's fragment polls by itself; AppTest needs a rerun
    assert not at.exception and not at.warning
    assert "A training slot is free" in " ".join(s.value for s in at.success)
    button(at, "Start").click().run()
    assert mine.run is not None and mine.run.alive
    assert slots.status().active == 1
    assert not at.success and not at.warning


def test_resuming_a_saved_run_respects_the_cap(crowded, tmp_path, monkeypatch, tiny_cfg):
    """The Runs page's "Resume training" goes through the same cap as Start."""
    from pages.ui import common as ui
    from playground.storage.checkpoints import save_checkpoint
    from playground.training.trainer import Trainer

    slots, other, mine = crowded
    trainer = Trainer(tiny_cfg(steps=20))
    trainer.train_step()
    folder = save_checkpoint(trainer, tmp_path / "checkpoints" / "runs" / "mine")
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "checkpoints" / "runs")
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60).run()
    at.button(key=f"runs.resume.{folder}").click().run()
    assert not at.exception
    assert mine.run is None and slots.status().active == 1
    assert any("All 1 training slots" in e.value for e in at.error)
