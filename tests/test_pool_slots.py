"""Pooled runs in the server (runs.backends, runs.capacity): make_run makes a 2D run a member
of the shared pool, and the slots count pooled members by their share, so a class of thirty
fits where a third lone run is refused."""

from __future__ import annotations

from helpers import wait_for

from playground.runs import backends, capacity
from playground.runs.capacity import POOL_SLOT_FLOPS, RunSlots, members_per_slot, slots_used
from playground.runs.pool import Pool, PooledRun
from playground.runs.runner import Run
from playground.training.cost import estimate
from playground.training.multirun import MAX_MEMBERS

WAIT = 120.0  # generous: the machine may be loaded; the tests wait for conditions, not clocks
LONG = 10_000_000


def test_make_run_pools_2d_runs_unless_told_not_to(tiny_cfg, tiny_image_cfg, monkeypatch):
    monkeypatch.delenv(backends.POOL_ENV, raising=False)
    assert isinstance(backends.make_run(tiny_cfg(), backend="local"), PooledRun)
    pictures = backends.make_run(tiny_image_cfg(), backend="local")
    assert isinstance(pictures, Run) and not isinstance(pictures, PooledRun)
    alone = backends.make_run(tiny_cfg(spectral_norm=True), backend="local")
    assert not isinstance(alone, PooledRun)
    monkeypatch.setenv(backends.POOL_ENV, "0")
    off = backends.make_run(tiny_cfg(), backend="local")
    assert isinstance(off, Run) and not isinstance(off, PooledRun)


def test_the_slot_rule(tiny_cfg):
    small, big = tiny_cfg(), tiny_cfg(hidden=512, batch_size=4096)
    assert members_per_slot(small) == MAX_MEMBERS
    per_big = members_per_slot(big)
    assert per_big == max(1, int(POOL_SLOT_FLOPS // estimate(big).step_flops)) < MAX_MEMBERS
    pool = Pool()
    lone = [Run(small) for _ in range(2)]
    members = [pool.member(small.replace(seed=i)) for i in range(MAX_MEMBERS + 1)]
    heavy = [pool.member(big.replace(seed=i)) for i in range(per_big + 1)]
    assert slots_used(lone) == 2
    assert slots_used(members[:MAX_MEMBERS]) == 1  # one kind: they share a slot
    assert slots_used(members) == 2
    assert slots_used(heavy) == 2 and slots_used(heavy[:per_big]) == 1
    assert slots_used(lone + members[:3] + heavy[:1]) == 4  # each kind its own slots


def test_a_full_server_takes_thirty_pooled_students_and_one_leaving_stops_nobody(tiny_cfg):
    slots = RunSlots(limit=2)
    first, second, third = (Run(tiny_cfg(seed=s, steps=LONG)) for s in range(3))
    assert slots.try_start(first) and slots.try_start(second)
    assert not slots.try_start(third), "a third lone run is refused"
    first.stop(wait=WAIT)
    assert first.join(WAIT)
    pool = Pool(name="gan-pool-class")
    students = [pool.member(tiny_cfg(seed=10 + i, steps=LONG)) for i in range(30)]
    try:
        assert all(slots.try_start(s) for s in students), "thirty pooled students fit"
        assert not slots.try_start(third), "and a third lone run is still refused"
        status = slots.status()
        assert (status.active, status.limit, status.runs) == (2, 2, 31)
        wait_for(lambda: all(s.snapshot().step >= 3 for s in students), "every student", WAIT)
        leaving = students[7]
        leaving.stop(wait=WAIT)
        assert leaving.join(WAIT) and leaving.status == "stopped"
        left_at = leaving.snapshot().step
        before = [s.snapshot().step for s in students]
        wait_for(
            lambda: all(s.snapshot().step > b for s, b in zip(students, before, strict=True)
                        if s is not leaving),
            "the others to go on stepping",
            WAIT,
        )
        assert all(s.status == "running" for s in students if s is not leaving)
        assert leaving.snapshot().step == left_at
        assert slots.status().runs == 30
    finally:
        for s in students:
            s.stop(wait=None)
        second.stop(wait=WAIT)
        assert all(s.join(WAIT) for s in students) and second.join(WAIT)
    assert slots.status().active == 0


def test_try_start_through_the_backend_counts_a_pooled_run(tiny_cfg, monkeypatch):
    monkeypatch.delenv(backends.POOL_ENV, raising=False)
    monkeypatch.setattr(capacity, "SLOTS", RunSlots(limit=1))
    runs = [backends.make_run(tiny_cfg(seed=s, steps=LONG), backend="local") for s in range(3)]
    try:
        assert all(backends.try_start(run) for run in runs)
        assert capacity.SLOTS.status().active == 1
        assert not backends.try_start(Run(tiny_cfg(steps=LONG))), "no slot for a lone run"
    finally:
        for run in runs:
            run.stop(wait=None)
        assert all(run.join(WAIT) for run in runs)
