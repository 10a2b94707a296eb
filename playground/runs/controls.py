"""The thread controls every local run shares: start, pause, resume, single steps while
paused, stop and discard, all safe from any thread, for a training loop in a daemon thread.

When the process exits, every run still training is stopped and its thread joined first: a
daemon thread left inside a PyTorch kernel at interpreter shutdown aborts the process
("terminate called without an active exception", exit code 134).
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import threading
import time
import uuid
import weakref
from collections import deque

from playground.runs.snapshots import FINAL
from playground.training.stepcore import StepInterrupted

EXIT_WAIT_S = 30.0  # at exit, how long in all to wait for the runs still training to stop
# Live pictures follow the run in time, not only every `sample_every` steps: one at least every
# FRAME_SECONDS (the pages redraw once a second, so each redraw finds a fresh one), but never
# so often that drawing takes more than FRAME_SHARE of the training thread's time.
FRAME_SECONDS = 0.5
FRAME_SHARE = 0.02

_started: weakref.WeakSet = weakref.WeakSet()  # runs whose thread was started (weak: never kept)


@atexit.register
def stop_every_run(wait: float = EXIT_WAIT_S) -> None:
    """Stop every run whose thread is alive and wait (up to `wait` seconds in all) for the
    threads to end: each stops at its next update (training.stepcore), so this is quick."""
    runs = [run for run in list(_started) if run.alive]
    for run in runs:
        run.stop(wait=None)
    deadline = time.monotonic() + wait
    for run in runs:
        run.join(max(0.0, deadline - time.monotonic()))


class ThreadControls:
    """Start, pause, resume, single steps while paused, and stop for a training loop in a daemon
    thread, all safe from any thread. A subclass writes `_main` (the thread's body), which
    calls `_next_action()` before each step and `_set_status()` as it ends."""

    _kind = "run"
    _thread_name = "gan-run"
    _phases = False  # whether `step(ends_step=False)` (a step's first phase) is supported

    def __init__(self) -> None:
        # A run's own identity, never reused (unlike id(), which Python recycles after a run is
        # freed): caches and owner records are keyed on it.
        self.uid = uuid.uuid4().hex
        self._cond = threading.Condition()
        self._step_lock = threading.Lock()  # held while stepping; saving and copying take it too
        self._thread: threading.Thread | None = None
        self._status = "created"
        self._error: str | None = None
        self._stop = False
        self._paused = False
        self._manual: deque[tuple[bool, bool, bool]] = deque()  # queued (d, g, ends_step)
        self._manual_done = 0  # manual steps (and phases) done: what a waiting caller watches
        # The engine's step as of its last finished step, set with the lock held: a snapshot
        # shows this, never a step whose record is still being written (None: not stepping yet).
        self._step_done: int | None = None
        self._started_at = 0.0
        self._discarded = False  # nobody will look at this run again: free it when it ends
        self._ended = False  # the thread has finished its work (set in _mark_ended)
        self._next_frame_at = 0.0  # when the next live picture is due by the clock (monotonic)

    def _main(self) -> None:
        raise NotImplementedError

    def _engine(self):
        raise NotImplementedError

    def _train_step(self, action: tuple[bool, bool, bool], manual: bool = False):
        """One step (d, g, ends_step); `manual` (a single step while paused) logs its own
        losses at once."""
        raise NotImplementedError

    def _record_frame(self) -> None:
        raise NotImplementedError

    def _let_go(self) -> None:
        """Drop the models, data and pictures (the caller holds the step lock and _cond)."""
        raise NotImplementedError

    def discard(self) -> None:
        """End the run for good without waiting (its browser session is gone): the thread stops
        at its next step and then lets go of the models, data and pictures, so their memory (GPU
        memory too) is freed even while something still holds this run object."""
        with self._cond:
            self._discarded = True
            self._stop = True
            self._cond.notify_all()
            ended = self._thread is None or self._ended  # else the thread drops it as it ends
        if ended:
            self._drop()

    def _mark_ended(self) -> None:
        """The thread's last act: from now on the run holds nothing it needs (see discard)."""
        with self._cond:  # with discard(): exactly one of the two sees the other's flag
            self._ended = True
            discarded = self._discarded
        if discarded:
            self._drop()

    def _drop(self) -> None:
        with self._step_lock, self._cond:
            self._let_go()
        return_memory_to_os()

    def start(self, paused: bool = False) -> None:
        with self._cond:
            if self._thread is not None:
                raise RuntimeError(f"this {self._kind} was already started")
            self._paused = paused
            self._status = "starting"
            self._started_at = time.perf_counter()
            self._thread = threading.Thread(target=self._main, name=self._thread_name, daemon=True)
            self._thread.start()
        _started.add(self)

    def pause(self) -> None:
        with self._cond:
            if self._status in ("running", "starting"):
                self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._manual.clear()
            self._cond.notify_all()

    def step(self, d: bool = True, g: bool = True, ends_step: bool = True) -> bool:
        """Queue one manual step while paused; returns False (and does nothing) otherwise.
        `ends_step=False` runs only a step's first phase (slow motion's D phase): the step
        counter moves when the next manual step (its G phase) ends that step."""
        if not ends_step and not self._phases:
            raise ValueError(f"a {self._kind} cannot run half a step (ends_step=False)")
        with self._cond:
            if not self._paused or self._status in FINAL:
                return False
            self._manual.append((d, g, ends_step))
            self._cond.notify_all()
            return True

    def stop(self, wait: float | None = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def _stop_requested(self) -> bool:
        """Whether Stop was asked (read by the training thread between two updates)."""
        return self._stop

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def status(self) -> str:
        return self._status

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _set_status(self, status: str, error: str | None = None) -> None:
        with self._cond:
            self._status = status
            if error is not None:
                self._error = error
            self._cond.notify_all()

    def _loop(self) -> None:
        """Step until the run is done or stopped, drawing a picture after every manual step,
        every `sample_every` steps, at least every FRAME_SECONDS by the clock (within
        FRAME_SHARE of the thread's time), and (early in a run, so the first live update is
        quick) at every log. Subclasses provide `_engine()` (what has .step and .cfg),
        `_train_step()` and `_record_frame()`."""
        engine = self._engine()
        with self._cond:
            self._step_done = engine.step
        try:
            self._steps(engine)
        finally:  # ended (or failed: a divergence puts the models back) between two steps
            with self._cond:
                self._step_done = engine.step

    def _steps(self, engine) -> None:
        while True:
            if engine.step >= engine.cfg.steps:
                self._record_frame()
                self._set_status("finished")
                return
            action = self._next_action()
            if action is None:
                self._set_status("stopped")
                return
            manual = self._status == "paused"
            with self._step_lock:
                try:
                    logged = self._train_step(action, manual=manual) is not None
                except StepInterrupted:  # Stop (or a closed tab) in the middle of a long step
                    self._set_status("stopped")
                    return
            with self._cond:
                self._step_done = engine.step
                if manual:
                    self._manual_done += 1
            early = logged and engine.step <= 10 * engine.cfg.log_every
            due = time.monotonic() >= self._next_frame_at
            if manual or early or due or engine.step % engine.cfg.sample_every == 0:
                self._paced_frame()

    def _paced_frame(self) -> None:
        """Record a frame and set when the next one is due by the clock: FRAME_SECONDS from
        now, or later when this frame was slow to draw (so pictures stay within FRAME_SHARE)."""
        began = time.monotonic()
        self._record_frame()
        took = time.monotonic() - began
        self._next_frame_at = time.monotonic() + max(FRAME_SECONDS, took / FRAME_SHARE)

    def shown_step(self, engine) -> int:
        """The step a snapshot shows (the caller holds `_cond`): the last finished one."""
        if self._step_done is not None:
            return self._step_done
        return engine.step if engine is not None else 0

    def _next_action(self) -> tuple[bool, bool, bool] | None:
        """Block while paused; return (do_d, do_g, ends_step) for the next step, or None."""
        with self._cond:
            while True:
                if self._stop:
                    return None
                if not self._paused:
                    self._status = "running"
                    return (True, True, True)
                self._status = "paused"
                if self._manual:
                    return self._manual.popleft()
                self._cond.wait()


def return_memory_to_os() -> None:
    """Collect what the dropped models left and hand the freed heap back to the system.

    glibc keeps freed memory for reuse (and, after large frees, serves later large blocks from
    the heap instead of fresh mappings), so without a trim a server's resident memory stays at
    its high-water mark after a run ends. Elsewhere than glibc this only collects."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass

