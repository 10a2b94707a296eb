"""The shared stepping pool (runs.pool): runs started apart train as one stacked step in one
thread, and each member follows its lone run's trajectory."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from helpers import wait_for

from playground.runs.interface import SingleRun
from playground.runs.pool import Pool, poolable
from playground.training.history import SERIES
from playground.training.trainer import Trainer

WAIT = 120.0  # generous: the machine may be loaded; the tests wait for conditions, not clocks


def lone(cfg, plan):
    """A lone Trainer of `cfg` taken through `plan`: ("steps", n) plain steps, ("manual",)
    one manual step while paused, ("set", changes) a live change between two steps."""
    trainer = Trainer(cfg)
    for item in plan:
        if item[0] == "steps":
            for _ in range(item[1]):
                trainer.train_step()
        elif item[0] == "manual":
            trainer.train_step(True, True, log_now=True)
        else:
            trainer.apply(item[1])
    return trainer


def assert_same_run(ours: Trainer, theirs: Trainer) -> None:
    assert ours.step == theirs.step
    pairs = [(ours.G, theirs.G), (ours.D, theirs.D)]
    if theirs.G_ema is not None:
        pairs.append((ours.G_ema, theirs.G_ema))
    for a, b in pairs:
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p.detach(), q.detach(), atol=1e-5, rtol=1e-4)
    mine, lone_history = ours.history.copy(), theirs.history.copy()
    assert mine["step"] == lone_history["step"]
    for key in SERIES:
        np.testing.assert_allclose(mine[key], lone_history[key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)


def step_of(run) -> int:
    return run.snapshot().step


@pytest.mark.parametrize(
    "shared", [{}, dict(ema=0.9, d_steps=2, beta1=0.0)], ids=["plain", "ema-dsteps"]
)
def test_members_joining_leaving_and_pausing_follow_their_lone_runs(tiny_cfg, shared):
    steps = 40
    base = dict(steps=steps, log_every=3, sample_every=7, **shared)
    cfg_a = tiny_cfg(seed=1, loss="nonsaturating", **base)
    cfg_b = tiny_cfg(seed=2, loss="hinge", lr_g=2e-3, **base)
    cfg_c = tiny_cfg(seed=3, loss="lsgan", lr_d=5e-4, **base)
    pool = Pool()
    a, c = pool.member(cfg_a), pool.member(cfg_c, pictures=False)
    a.start()
    c.start()
    wait_for(lambda: step_of(a) >= 10, "a to pass step 10", WAIT)
    b = pool.member(cfg_b)  # joins late
    b.start()
    wait_for(lambda: step_of(b) >= 5, "b to pass step 5", WAIT)
    b.pause()
    wait_for(lambda: b.status == "paused", "b to pause", WAIT)
    paused_at = step_of(b)
    assert b.step()  # one manual step while paused, taken alone
    wait_for(lambda: b.snapshot().manual_steps == 1, "b's manual step", WAIT)
    b.set_hyper(lr_g=5e-4)  # a live change while paused
    b.resume()
    wait_for(lambda: step_of(c) >= 15, "c to pass step 15", WAIT)
    c.stop(wait=WAIT)  # leaves early
    for run in (a, b, c):
        assert run.join(WAIT)
    assert (a.status, b.status, c.status) == ("finished", "finished", "stopped")
    stopped_at = c.trainer.step
    assert 15 <= stopped_at < steps
    assert_same_run(a.trainer, lone(cfg_a, [("steps", steps)]))
    rest = steps - paused_at - 1
    plan_b = [("steps", paused_at), ("manual",), ("set", {"lr_g": 5e-4}), ("steps", rest)]
    assert_same_run(b.trainer, lone(cfg_b, plan_b))
    assert_same_run(c.trainer, lone(cfg_c, [("steps", stopped_at)]))
    assert pool.rounds > 0


def test_a_pooled_member_is_a_single_run_and_all_share_one_thread(tiny_cfg):
    pool = Pool(name="gan-pool-test")
    runs = [pool.member(tiny_cfg(seed=i, steps=10_000, log_every=5)) for i in range(4)]
    for run in runs:
        assert isinstance(run, SingleRun)
        run.start()
    wait_for(lambda: all(step_of(r) >= 20 for r in runs), "every member to step", WAIT)
    names = [t.name for t in threading.enumerate() if t.is_alive()]
    assert names.count("gan-pool-test") == 1
    snap = runs[0].snapshot()
    assert snap.status == "running" and snap.history["step"] and snap.frames
    assert runs[0].generator_state() is not None and runs[0].frame_now() is not None
    for run in runs:
        run.stop(wait=WAIT)
    assert all(run.join(WAIT) and run.status == "stopped" for run in runs)
    assert not any(t.name == "gan-pool-test" and t.is_alive() for t in threading.enumerate())


def test_runs_the_pool_cannot_stack_are_refused(tiny_cfg, tiny_image_cfg):
    assert poolable(tiny_cfg())
    for cfg in (tiny_cfg(spectral_norm=True), tiny_cfg(instance_noise=0.1), tiny_image_cfg()):
        assert not poolable(cfg)
        with pytest.raises(ValueError):
            Pool().member(cfg)


def test_thirty_members_of_one_stack_each_follow_their_lone_run(tiny_cfg):
    steps, n = 12, 30
    configs = [tiny_cfg(seed=i, steps=steps, log_every=4, sample_every=5) for i in range(n)]
    pool = Pool()
    runs = [pool.member(cfg, pictures=False) for cfg in configs]
    for run in runs:
        run.start(paused=True)
    wait_for(lambda: all(run.status == "paused" for run in runs), "every member built", WAIT)
    with runs[0].between_steps():  # the pool's lock: the next round finds every member resumed
        for run in runs:
            run.resume()
    assert all(run.join(WAIT) for run in runs)
    assert all(run.status == "finished" for run in runs)
    assert pool.largest_stack == n, "all thirty trained in one stack"
    for run, cfg in zip(runs, configs, strict=True):
        assert_same_run(run.trainer, lone(cfg, [("steps", steps)]))


def test_a_member_alone_in_its_group_steps_by_its_own_trainer(tiny_cfg):
    """A group of one is no stack: its Trainer steps it, so it is its lone run bit for bit."""
    cfg = tiny_cfg(seed=5, steps=15, log_every=4)
    stepped = []

    class Counting(Trainer):
        def train_step(self, *args, **kwargs):
            stepped.append(self.step)
            return super().train_step(*args, **kwargs)

    run = Pool().member(trainer=Counting(cfg))
    run.start()
    assert run.join(WAIT) and run.status == "finished"
    assert stepped == list(range(15))
    theirs = lone(cfg, [("steps", 15)])
    for a, b in ((run.trainer.G, theirs.G), (run.trainer.D, theirs.D)):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)
    assert run.trainer.history.copy() == theirs.history.copy()


def test_a_failed_member_says_what_a_lone_run_says_and_its_thread_is_gone(tiny_cfg):
    class OutOfMemory(Trainer):
        def train_step(self, *args, **kwargs):
            if self.step >= 2:
                raise RuntimeError("CUDA out of memory. Tried to allocate 8.00 GiB")
            return super().train_step(*args, **kwargs)

    pool = Pool(name="gan-pool-oom")
    run = pool.member(trainer=OutOfMemory(tiny_cfg(steps=100)))
    run.start()
    assert run.join(WAIT)
    snap = run.snapshot()
    assert snap.status == "error" and snap.step == 2
    assert "ran out of memory" in snap.error and "smaller batch size" in snap.error
    # join() returned after the pool's thread itself ended (its last member gone), as a lone
    # run's join returns after its thread: nothing is left training.
    assert not any(t.name == "gan-pool-oom" and t.is_alive() for t in threading.enumerate())


def test_a_member_is_built_by_its_make_trainer_in_the_pools_thread(tiny_cfg):
    """As a lone run builds its Trainer with `make_trainer` in its thread (status "starting"
    meanwhile), so does a pooled member, in the pool's."""
    gate, built = threading.Event(), []

    def slow_trainer(cfg):
        gate.wait(WAIT)
        built.append(threading.current_thread().name)
        return Trainer(cfg)

    run = Pool(name="gan-pool-build").member(tiny_cfg(steps=5), make_trainer=slow_trainer)
    run.start()
    assert run.snapshot().status == "starting" and not run.has_models
    gate.set()
    assert run.join(WAIT) and run.status == "finished" and run.snapshot().step == 5
    assert built == ["gan-pool-build"]


def test_a_caller_waiting_for_a_members_models_gets_them_before_the_next_round(tiny_cfg):
    """A page's read (save, picture, Pause's between_steps) waits for the round under way
    only: the pool's thread lets it take the lock before stepping again. (A plain lock let
    the thread take it back round after round: a 1 s bench block took 4 s, a page waited.)"""
    pool = Pool(name="gan-pool-test")
    runs = [pool.member(tiny_cfg(seed=i, steps=10**6, log_every=5), pictures=False)
            for i in range(3)]
    for run in runs:
        run.start()
    try:
        wait_for(lambda: all(step_of(r) >= 10 for r in runs), "every member to step", WAIT)
        rounds_waited = []
        for _ in range(20):
            before = pool.rounds
            with runs[1].between_steps():
                rounds_waited.append(pool.rounds - before)
            wait_for(lambda b=pool.rounds: pool.rounds > b, "the pool to step again", WAIT)
        # at most the round under way when it asked, and now and then one more on a busy
        # machine; the plain lock let dozens to hundreds of rounds go first
        assert sorted(rounds_waited)[len(rounds_waited) // 2] <= 1, rounds_waited
        assert max(rounds_waited) <= 5, rounds_waited
    finally:
        pool.close(wait=WAIT)
