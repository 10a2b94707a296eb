"""Hardening, runs: NaN/inf stops a run with a reason and keeps the last good state (a save after
divergence is that state, and loads); a GPU out-of-memory error stops the run with advice and
the page keeps working; and every awkward order of clicks (stop while paused, double Start,
Step while running, Reset during a run, all controls at once from several threads) is safe."""

from __future__ import annotations

import math
import random
import re
import threading
import time
from pathlib import Path

import pytest
import torch
from helpers import TIMEOUT, run_threads, wait_for
from streamlit.testing.v1 import AppTest

from playground.runs import capacity
from playground.runs.snapshots import FINAL
from playground.storage.checkpoints import load_checkpoint
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def poison_after(step: int, where: str = "g"):
    """A Trainer factory whose loss turns NaN once `step` steps are done."""

    def make(cfg):
        trainer = Trainer(cfg)
        if where == "g":
            real = trainer.g_loss_fn
            trainer.g_loss_fn = lambda f: real(f) * (math.nan if trainer.step >= step else 1.0)
        else:
            real_d = trainer.d_loss_fn
            trainer.d_loss_fn = lambda r, f, s: real_d(r, f, s) + (
                math.inf if trainer.step >= step else 0.0
            )
        return trainer

    return make


def same_state(a: Trainer, b: Trainer) -> None:
    for name in ("G", "D"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), (name, key)
    for oa, ob in ((a.opt_g, b.opt_g), (a.opt_d, b.opt_d)):
        for state_a, state_b in zip(oa.state.values(), ob.state.values(), strict=True):
            assert state_a.keys() == state_b.keys()
            for key in state_a:
                assert torch.equal(state_a[key], state_b[key]), key


def finite(trainer: Trainer) -> bool:
    return all(torch.isfinite(t).all() for t in trainer.G.state_dict().values()) and all(
        torch.isfinite(t).all() for t in trainer.D.state_dict().values()
    )


# ---------------------------------------------------------------------- divergence
@pytest.mark.parametrize("where", ["g", "d"])
def test_divergence_rolls_back_to_the_last_finite_log(tiny_cfg, where):
    cfg = tiny_cfg(steps=50, log_every=5, ema=0.9)
    trainer = poison_after(7, where)(cfg)
    with pytest.raises(Divergence) as info:
        for _ in range(50):
            trainer.train_step()
    assert "diverged at step 10" in str(info.value)
    assert "back as they were at step 5" in str(info.value)
    assert trainer.step == 5 and finite(trainer)
    assert trainer.history.copy()["step"] == [5.0], "the NaN record is never stored"
    # Exactly the state a clean run had at step 5: weights, EMA, buffers and Adam's moments.
    reference = Trainer(cfg)
    for _ in range(5):
        reference.train_step()
    same_state(trainer, reference)
    for key, value in reference.G_ema.state_dict().items():
        assert torch.equal(trainer.G_ema.state_dict()[key], value), key


def test_divergence_before_the_first_log_rolls_back_to_the_start(tiny_cfg):
    cfg = tiny_cfg(steps=50, log_every=5)
    trainer = poison_after(0)(cfg)
    start = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    with pytest.raises(Divergence):
        for _ in range(10):
            trainer.train_step()
    assert trainer.step == 0 and finite(trainer)
    assert all(torch.equal(start[k], v) for k, v in trainer.G.state_dict().items())
    assert not trainer.opt_g.state, "Adam had no state at the start, so none now"
    trainer.g_loss_fn = Trainer(cfg).g_loss_fn  # the cause removed: training goes on from there
    for _ in range(5):
        trainer.train_step()
    assert trainer.step == 5 and finite(trainer)


def test_a_diverged_run_keeps_and_saves_its_last_good_state(runs, tiny_cfg, tmp_path):
    cfg = tiny_cfg(steps=100, log_every=5, sample_every=5)
    run = runs(cfg, make_trainer=poison_after(12))
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "diverged" and snap.status in FINAL
    assert "diverged at step 15" in snap.error and "lower learning rates" in snap.error
    assert snap.step == 10 and finite(run.trainer)
    run.save(tmp_path / "after")
    loaded = load_checkpoint(tmp_path / "after")  # NaN weights would be refused here
    assert loaded.step == 10
    reference = Trainer(cfg)
    for _ in range(10):
        reference.train_step()
    same_state(loaded, reference)


def test_keeping_the_good_state_copies_in_place(tiny_cfg):
    """The copy reuses its tensors from one log to the next (no new allocation per log)."""
    trainer = Trainer(tiny_cfg(log_every=1, steps=10))
    trainer.train_step()
    trainer.train_step()
    kept = [t.data_ptr() for t in trainer._good.tensors]
    for _ in range(3):
        trainer.train_step()
    assert [t.data_ptr() for t in trainer._good.tensors] == kept
    assert trainer._good.step == 5


# ---------------------------------------------------------------------- out of memory
OOM_ERRORS = [
    lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    lambda: RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79 GiB total)"),
    lambda: RuntimeError("CUDA error: out of memory"),
    lambda: RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"),
]


@pytest.mark.parametrize("error", OOM_ERRORS, ids=["OutOfMemoryError", "runtime", "cuda", "mps"])
def test_out_of_memory_mid_run_stops_with_advice(runs, tiny_cfg, error):
    def make(cfg):
        trainer = Trainer(cfg)
        real = trainer.train_step

        def step(*args):
            if trainer.step == 3:
                raise error()
            return real(*args)

        trainer.train_step = step
        return trainer

    run = runs(tiny_cfg(steps=100), make_trainer=make)
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "error" and snap.step == 3
    assert "ran out of memory" in snap.error and "smaller batch size" in snap.error
    assert "Traceback" not in snap.error and "\n" not in snap.error


# ---------------------------------------------------------------------- the Train page
def button(at: AppTest, label: str):
    return next(b for b in at.button if re.sub(r"^\W+", "", b.label) == label)


@pytest.fixture
def page(monkeypatch):
    """The Train page with its own run slot and a server cap high enough for one session."""
    from pages.ui import common as ui

    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    monkeypatch.setattr(capacity, "SLOTS", capacity.RunSlots(limit=1))
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.run()
    at.sidebar.number_input(key="cfg.hidden").set_value(16).run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(32).run()
    at.sidebar.number_input(key="cfg.steps").set_value(1_000_000).run()
    yield at, slot
    slot.stop()
    assert run_threads() == []


def test_out_of_memory_on_the_page_then_the_app_keeps_working(page, monkeypatch):
    at, slot = page
    real = Trainer.train_step

    def oom(self, *args, **kwargs):
        if self.step >= 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", oom)
    button(at, "Start").click().run()
    assert slot.run.join(TIMEOUT)
    at.run()
    assert not at.exception
    text = " ".join(e.value for e in at.error)
    assert "ran out of memory" in text and "smaller batch size" in text
    assert capacity.SLOTS.status().active == 0, "the failed run gave its slot back"
    # The app keeps working: the next Start trains.
    monkeypatch.setattr(Trainer, "train_step", real)
    at.sidebar.number_input(key="cfg.steps").set_value(20).run()
    button(at, "Start").click().run()
    assert slot.run.join(TIMEOUT) and slot.run.status == "finished"
    at.run()
    assert not at.exception


def test_stop_while_paused_on_the_page(page):
    at, slot = page
    button(at, "Start").click().run()
    run = slot.run
    wait_for(lambda: run.status == "running", "the run to start")
    button(at, "Pause").click().run()
    wait_for(lambda: run.status == "paused", "the pause")
    at.run()
    button(at, "Stop").click().run()
    assert run.join(TIMEOUT) and run.status == "stopped"
    at.run()
    assert not at.exception and button(at, "Stop").disabled


def test_double_start_leaves_one_run(page):
    at, slot = page
    button(at, "Start").click().run()
    first = slot.run
    button(at, "Start").click().run()  # with a cap of 1: the first frees its slot for the second
    second = slot.run
    assert second is not first and first.join(TIMEOUT) and first.status == "stopped"
    wait_for(lambda: second.status == "running", "the second run")
    assert len(run_threads()) == 1
    assert not at.exception and not at.warning


def test_step_while_running_does_nothing(page):
    at, slot = page
    button(at, "Start").click().run()
    run = slot.run
    wait_for(lambda: run.status == "running", "the run to start")
    at.run()
    assert button(at, "Step").disabled and button(at, "D only").disabled
    assert run.step() is False, "the run refuses a manual step while running"
    from pages.ui import train as train_ui

    train_ui._step(run, True, True)  # a stale click's callback (the browser had it enabled)
    assert run.status == "running" and not run._manual


def test_reset_during_a_run_and_while_starting(page):
    at, slot = page
    button(at, "Start").click().run()
    run = slot.run
    button(at, "Reset").click().run()  # immediately: the run may still be building its models
    assert slot.run is None and run.join(TIMEOUT) and run.status == "stopped"
    assert not at.exception
    button(at, "Start").click().run()
    run = slot.run
    wait_for(lambda: run.status == "running", "the run to start")
    button(at, "Reset").click().run()
    assert slot.run is None and run.join(TIMEOUT)
    at.run()
    assert not at.exception
    assert button(at, "Step").disabled and button(at, "Save").disabled
    from pages.ui import train as train_ui

    # A click sent by a page drawn before the Reset reaches callbacks bound to no run.
    train_ui._step(None, True, True)
    train_ui._save(None)


# ---------------------------------------------------------------------- every control at once
def test_controls_from_many_threads_at_once(runs, tiny_cfg, tmp_path):
    run = runs(tiny_cfg(steps=1_000_000, log_every=3, sample_every=7))
    run.start(paused=True)
    errors: list[BaseException] = []
    stop_at = time.monotonic() + 1.5

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        actions = [
            run.pause,
            run.resume,
            lambda: run.step(d=rng.random() < 0.5, g=True),
            run.snapshot,
            lambda: run.set_hyper(lr_g=rng.choice([1e-4, 1e-3]), d_steps=rng.choice([1, 2])),
            lambda: run.trainer is not None and run.save(tmp_path / f"s{seed}"),
        ]
        try:
            while time.monotonic() < stop_at:
                rng.choice(actions)()
        except BaseException as exc:  # noqa: BLE001 - any exception fails the test
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    run.stop(wait=None)
    run.stop(wait=None)  # twice: harmless
    assert run.join(TIMEOUT) and run.status == "stopped"
    assert run.step() is False
    run.pause()
    run.resume()
    assert run.status == "stopped", "controls after the end change nothing"
    for folder in tmp_path.iterdir():
        load_checkpoint(folder)  # every save made in the storm is a whole checkpoint
