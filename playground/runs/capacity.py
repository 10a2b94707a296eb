"""A server-wide cap on concurrent training runs.

Thirty students pressing Start on one classroom server would otherwise start thirty training
threads that share a few cores (or one GPU's memory) and all crawl. `SLOTS.try_start(run)` starts
a run only while fewer than the cap are active. A run holds its slot exactly as long as its
thread is alive: finished, stopped, diverged and failed runs free theirs by ending, so nothing
has to remember to give a slot back. Paused runs keep their slot (they hold their models and
memory). The cap is `$GAN_PLAYGROUND_MAX_RUNS`, else 2 on a CPU-only machine and 4 with a GPU.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Protocol

ENV = "GAN_PLAYGROUND_MAX_RUNS"
DEFAULT_CPU = 2  # two runs already share a laptop's cores; more only slows every one
DEFAULT_GPU = 4  # small GAN runs leave a GPU mostly idle; four fit in memory comfortably
MAX_LIMIT = 1000

log = logging.getLogger(__name__)


class Startable(Protocol):
    @property
    def alive(self) -> bool: ...

    def start(self, paused: bool = False) -> None: ...


@dataclass(frozen=True)
class SlotStatus:
    active: int  # runs whose thread is alive now
    limit: int

    @property
    def free(self) -> int:
        return max(0, self.limit - self.active)

    @property
    def full(self) -> bool:
        return self.active >= self.limit


def default_limit() -> int:
    import torch

    return DEFAULT_GPU if torch.cuda.is_available() else DEFAULT_CPU


def configured_limit() -> int:
    """The cap: $GAN_PLAYGROUND_MAX_RUNS when it is a whole number from 1 to 1000, else the
    default for this machine (a bad value is logged, not fatal: the app must still start)."""
    text = os.environ.get(ENV, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if 1 <= value <= MAX_LIMIT:
            return value
        log.warning("%s=%r is not a whole number from 1 to %d; using the default", ENV, text,
                    MAX_LIMIT)
    return default_limit()


class RunSlots:
    """Thread-safe: the check and the start happen under one lock, so two sessions pressing
    Start at the same moment cannot both take the last slot."""

    def __init__(self, limit: int | None = None):
        self._fixed_limit = limit
        self._lock = threading.Lock()
        # Weak: a slot never keeps a run's models alive; a live run is kept alive by its thread.
        self._runs: weakref.WeakSet = weakref.WeakSet()

    @property
    def limit(self) -> int:
        return self._fixed_limit if self._fixed_limit is not None else configured_limit()

    def _active(self) -> int:
        return sum(1 for run in list(self._runs) if run.alive)

    def status(self) -> SlotStatus:
        with self._lock:
            return SlotStatus(self._active(), self.limit)

    def try_start(self, run: Startable, paused: bool = False) -> bool:
        """Start `run` if a slot is free and return True; otherwise leave it unstarted and
        return False."""
        with self._lock:
            if self._active() >= self.limit:
                return False
            run.start(paused=paused)
            self._runs.add(run)
            return True


SLOTS = RunSlots()
