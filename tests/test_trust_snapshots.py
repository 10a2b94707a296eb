"""Snapshots copy a consistent history while the training thread logs and halves it, and a
manual step (Step, D only, G only while paused) logs its own losses at once.

The interleaving is forced, not hoped for: one series is replaced by a list whose iteration
(the snapshot copying it) first lets another thread log until the history halves, and waits
for it. A snapshot copying series by series then holds series of different lengths."""

from __future__ import annotations

import math
import threading

import pytest
from helpers import TIMEOUT, wait_for

from playground.runs.multirunner import MultiRunner
from playground.runs.runner import Run
from playground.training.history import SERIES, BoundedHistory
from playground.training.multirun import MultiRun
from playground.training.trainer import Trainer


class _LogsWhileCopied(list):
    """A series whose first iteration runs `interleave` (in another thread) to its end."""

    def __init__(self, values, interleave):
        super().__init__(values)
        self._interleave, self._fired = interleave, False

    def __iter__(self):
        if not self._fired:
            self._fired = True
            other = threading.Thread(target=self._interleave)
            other.start()
            other.join(TIMEOUT)
            assert not other.is_alive(), "the logging thread did not finish"
        return super().__iter__()


def _near_halving(history: BoundedHistory, capacity: int = 8) -> None:
    """A history one stored point short of halving."""
    history.capacity = capacity
    for step in range(1, capacity):
        history.append({"step": float(step), **{k: float(step) for k in SERIES}})
    assert len(history) == capacity - 1 and history.stride == 1


def _step_until_halved(engine, histories):
    def go():
        while histories[0].stride == 1:
            engine.train_step()

    return go


def _assert_aligned(history: dict[str, list[float]]) -> None:
    lengths = {k: len(v) for k, v in history.items()}
    assert len(set(lengths.values())) == 1, f"series of different lengths: {lengths}"


def test_bounded_history_copy_is_consistent_while_logged_and_halved():
    history = BoundedHistory()
    _near_halving(history)

    def log_twice():
        for step in (8.0, 9.0):
            history.append({"step": step, **{k: step for k in SERIES}})

    history.data["d_loss"] = _LogsWhileCopied(history.data["d_loss"], log_twice)
    copy = history.copy()
    _assert_aligned(copy)
    assert history.stride == 2, "the history did halve during the copy"


def test_run_snapshot_is_consistent_while_the_trainer_logs(tiny_cfg):
    trainer = Trainer(tiny_cfg(steps=100, log_every=1))
    _near_halving(trainer.history)
    trainer.step = 7
    run = Run(trainer=trainer)
    series = trainer.history.data
    series["g_loss"] = _LogsWhileCopied(
        series["g_loss"], _step_until_halved(trainer, [trainer.history])
    )
    snap = run.snapshot()
    _assert_aligned(snap.history)
    assert trainer.history.stride == 2


def test_multirun_snapshot_is_consistent_across_members(tiny_cfg):
    configs = [tiny_cfg(seed=0, steps=100, log_every=1), tiny_cfg(seed=1, steps=100, log_every=1)]
    runner = MultiRunner(configs)
    runner.multi = multi = MultiRun(configs)
    for history in multi.histories:
        _near_halving(history)
    multi.step = 7
    multi._published = tuple(h.data for h in multi.histories)
    first = multi.histories[0].data
    first["d_real"] = _LogsWhileCopied(first["d_real"], _step_until_halved(multi, multi.histories))
    snap = runner.snapshot()
    for member in snap.members:
        _assert_aligned(member.history)
    assert len({len(m.history["step"]) for m in snap.members}) == 1, "members differ"
    assert multi.histories[0].stride == 2


# ---------------------------------------------------------------------- manual steps
def _records(snap) -> int:
    return len(snap.history["step"])


@pytest.mark.parametrize("action", [dict(d=True, g=True), dict(d=True, g=False),
                                    dict(d=False, g=True)])
def test_a_manual_step_logs_its_own_losses_at_once(runs, tiny_cfg, action):
    run = runs(tiny_cfg(steps=1000, log_every=25))
    run.start()
    wait_for(lambda: run.snapshot().step >= 30, "some automatic steps")
    run.pause()
    wait_for(lambda: run.status == "paused", "the run to pause")
    before = run.snapshot()
    assert run.step(**action)
    # The step counter moves just before the step's record is stored: wait for both (without
    # the record, i.e. a manual step logged only at the next log_every, this times out).
    def logged(snap) -> bool:
        return snap.step == before.step + 1 and snap.history["step"][-1] == float(snap.step)

    wait_for(lambda: logged(run.snapshot()), "the manual step and its own record")
    after = run.snapshot()
    assert after.step == before.step + 1, "exactly one step"
    last = {k: v[-1] for k, v in after.history.items()}
    previous = {k: v[-2] for k, v in after.history.items()}
    d_keys, g_keys = ("d_loss", "d_real", "d_fake"), ("g_loss",)
    if action["d"]:
        assert all(math.isfinite(last[k]) for k in d_keys)
    else:  # D was not updated: its series keep their last values
        assert all(last[k] == previous[k] for k in d_keys)
    if action["g"]:
        assert math.isfinite(last["g_loss"])
    else:
        assert all(last[k] == previous[k] for k in g_keys)
    assert _records(after) > _records(before)


def test_manual_steps_each_add_a_record_after_the_history_coarsens(runs, tiny_cfg):
    trainer = Trainer(tiny_cfg(steps=1000, log_every=1))
    trainer.history.capacity = 8
    while trainer.history.stride == 1:
        trainer.train_step()
    run = runs(tiny_cfg(), trainer=trainer)
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    for n in range(3):
        step = run.snapshot().step
        run.step(d=True, g=False)
        wait_for(lambda s=step: run.snapshot().step == s + 1, "a manual step")
        assert run.snapshot().history["step"][-1] == float(step + 1), f"manual step {n}"


def test_a_snapshot_never_shows_a_step_whose_record_is_not_in(runs, tiny_cfg):
    """The trainer counts a step before it writes the step's record: a snapshot taken between
    the two shows the last finished step, not the new step without its record."""
    trainer = Trainer(tiny_cfg(steps=1000, log_every=1))
    run = runs(tiny_cfg(), trainer=trainer)
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    writing, release = threading.Event(), threading.Event()
    append = trainer.history.append

    def held(record, flush=False):
        writing.set()
        assert release.wait(TIMEOUT), "the test never let the record be written"
        append(record, flush)

    trainer.history.append = held
    run.step()
    try:
        assert writing.wait(TIMEOUT), "the manual step wrote no record"
        assert trainer.step == 1, "the trainer has counted the step"
        snap = run.snapshot()
        assert snap.step == 0 and snap.history["step"] == []
    finally:
        release.set()
    wait_for(lambda: run.snapshot().step == 1, "the step to finish")
    assert run.snapshot().history["step"] == [1.0]


def test_multirunner_manual_step_logs_every_member(tiny_cfg):
    configs = [tiny_cfg(seed=0, steps=1000, log_every=25), tiny_cfg(seed=1, steps=1000,
                                                                      log_every=25)]
    runner = MultiRunner(configs)
    runner.start(paused=True)
    try:
        wait_for(lambda: runner.status == "paused", "the runner to pause")
        assert runner.step(d=True, g=False)
        wait_for(lambda: runner.snapshot().step == 1, "the manual step")
        for member in runner.snapshot().members:
            assert member.history["step"] == [1.0]
            assert math.isfinite(member.history["d_loss"][0])
            assert math.isnan(member.history["g_loss"][0]), "G has no loss logged yet"
    finally:
        runner.stop(wait=TIMEOUT)
