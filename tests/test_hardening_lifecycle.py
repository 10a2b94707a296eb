"""Hardening, lifecycle (in process): the session's release hook stops its run without blocking
the server and frees the run's models; 50 start/stop cycles, ended every way a run can end,
leave the thread count, the training slots and the memory where they started.

The same hook under a real `streamlit run` server, fired by closing a browser context, is
checked in tests/test_hardening_browser.py."""

from __future__ import annotations

import ctypes
import gc
import threading
import time
import weakref

import pytest
from helpers import TIMEOUT, run_threads, wait_for

from pages.ui import common as ui
from playground.runs import capacity
from playground.runs.runner import Run
from playground.training.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def rss_mb() -> float:
    """Resident memory after a garbage collection and after asking glibc to hand its free
    heap pages back (otherwise RSS shows allocator fragmentation, not live memory)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: RSS is noisier but still bounded
        pass
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class SlowTrainer(Trainer):
    """Each step sleeps, like a big model on a slow machine."""

    def train_step(self, *args, **kwargs):
        time.sleep(0.5)
        return super().train_step(*args, **kwargs)


def test_release_hook_does_not_block_and_frees_the_models(tiny_cfg):
    slots = capacity.RunSlots(limit=1)
    slot = ui.RunSlot()
    run = Run(tiny_cfg(steps=1000), make_trainer=SlowTrainer)
    assert slots.try_start(run)
    slot.replace(run)
    wait_for(lambda: run.status == "running", "the run")
    trainer = weakref.ref(run.trainer)
    started = time.monotonic()
    slot.release()  # what Streamlit calls, on its event loop, when the session goes away
    assert time.monotonic() - started < 0.1, "the hook returned at once"
    assert run.join(TIMEOUT) and run.status == "stopped"
    assert slots.status().active == 0, "the training slot is free"
    assert run.trainer is None, "the run let go of its models even though the slot holds it"
    gc.collect()
    assert trainer() is None, "nothing else kept the models alive"
    assert run.snapshot().status == "stopped"  # and the Run object still answers


def test_release_of_an_unstarted_or_ended_run_is_harmless(tiny_cfg):
    slot = ui.RunSlot()
    slot.release()  # no run
    slot.replace(Run(tiny_cfg()))
    slot.release()  # never started
    assert slot.run.trainer is None and not slot.run.alive
    run = Run(trainer=Trainer(tiny_cfg(steps=3)))
    run.start()
    assert run.join(TIMEOUT)
    slot.replace(run)
    slot.release()  # already finished
    assert run.trainer is None and run.status == "finished"


def test_the_run_slot_resource_releases_through_its_hook():
    """ui.run_slot is a session-scoped cached resource whose release hook is RunSlot.release
    (checked on the decorator's own record of it, so the browser test's result is explained)."""
    released = []

    class Probe(ui.RunSlot):
        def release(self):
            released.append(self)

    probe = Probe()
    hook = ui.run_slot._info.on_release  # Streamlit's record of the decorator's on_release
    hook(probe)
    assert released == [probe]


# ---------------------------------------------------------------------- 50 cycles
ENDINGS = ("stop", "reset", "release", "restart", "finish")


def test_fifty_start_stop_cycles_return_to_baseline(tiny_cfg):
    # Big enough that a leaked trainer shows in memory (~15 MB each with Adam and the kept
    # last good state), small enough that a step takes a millisecond or two.
    cfg = tiny_cfg(hidden=512, layers=3, batch_size=32, steps=1_000_000, log_every=2,
                   sample_every=3)
    short = cfg.replace(steps=4)
    slots = capacity.RunSlots(limit=2)
    slot = ui.RunSlot()

    def cycle(i: int) -> tuple[weakref.ref, weakref.ref]:
        ending = ENDINGS[i % len(ENDINGS)]
        run = Run(short if ending == "finish" else cfg)
        slot.stop()
        assert slots.try_start(run), f"cycle {i}: a slot is free"
        slot.replace(run)
        wait_for(lambda: run.trainer is not None and run.trainer.step >= 2 or not run.alive,
                 f"cycle {i} to train")
        trainer = weakref.ref(run.trainer) if run.trainer is not None else (lambda: None)
        if ending == "stop":
            run.stop()
        elif ending == "reset":
            slot.replace(None)
        elif ending == "release":
            slot.release()
        elif ending == "restart":
            pass  # the next cycle's Start replaces it
        assert ending == "restart" or run.join(TIMEOUT), f"cycle {i} ({ending}) ended"
        return weakref.ref(run), trainer

    baseline_threads = threading.active_count()
    for i in range(5):  # warm-up: first-use allocations (thread pools, allocator arenas)
        cycle(i)
    slot.replace(None)
    gc.collect()
    baseline_rss = rss_mb()
    refs = [cycle(i) for i in range(50)]
    slot.replace(None)
    wait_for(lambda: not run_threads(), "every run thread to end")
    gc.collect()
    assert threading.active_count() == baseline_threads
    assert slots.status().active == 0
    alive = [i for i, (run, model) in enumerate(refs) if run() is not None or model() is not None]
    assert alive == [], f"runs or trainers of cycles {alive} are still in memory"
    grown = rss_mb() - baseline_rss
    assert grown < 60, f"resident memory grew by {grown:.0f} MB over 50 cycles"
