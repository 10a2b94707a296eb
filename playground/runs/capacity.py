"""A server-wide cap on concurrent training runs.

Thirty students pressing Start on one classroom server would otherwise start thirty training
threads that share a few cores (or one GPU's memory) and all crawl. `SLOTS.try_start(run)` starts
a run only while fewer than the cap are active. A run holds its slot exactly as long as its
thread is alive: finished, stopped, diverged and failed runs free theirs by ending, so nothing
has to remember to give a slot back. Paused runs keep their slot (they hold their models and
memory). The cap is `$GAN_PLAYGROUND_MAX_RUNS`, else 2 on a CPU-only machine and 4 with a GPU.

Each run also has a memory budget, `$GAN_PLAYGROUND_RUN_MEMORY` (e.g. "4G"; by default the
machine's memory shared between the slots and one more share for the server itself): a run whose
estimated peak (training.cost) is over it is refused before it starts, the message naming what
drives the cost and the largest batch size that would fit.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from dataclasses import dataclass
from typing import Protocol

from playground.errors import ConfigError
from playground.settings.config import GANConfig
from playground.training.cost import Cost, gib
from playground.training.cost import estimate as cost_of

ENV = "GAN_PLAYGROUND_MAX_RUNS"
BUDGET_ENV = "GAN_PLAYGROUND_RUN_MEMORY"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
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


# ---------------------------------------------------------------------- memory per run
def run_budget() -> int:
    """The per-run memory budget in bytes: $GAN_PLAYGROUND_RUN_MEMORY, else the machine's memory
    shared between the run slots and the server."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    if text:
        return parse_size(text)
    return machine_memory() // (configured_limit() + 1)


def parse_size(text: str) -> int:
    """Bytes from "4G", "512M", "1.5GiB" or a plain number of bytes; ConfigError otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(BUDGET_ENV, f"{text!r} is not a size (e.g. 4G, 512M)")
    number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * 1024 ** "bkmgt".index(unit or "b"))
    if value < 2**20:
        raise ConfigError(BUDGET_ENV, f"{text!r} is below the smallest budget, 1M")
    return value


def machine_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def check_budget(cfg: GANConfig, budget: int | None = None) -> Cost:
    """The run's cost, or ConfigError naming what drives it and what would fit."""
    budget = run_budget() if budget is None else budget
    cost = cost_of(cfg)
    if cost.peak_bytes <= budget:
        return cost
    activations = cost.peak_bytes - cost.fixed_bytes
    fits = cost.largest_batch(budget)
    size = "hidden" if cfg.is_points else "width"
    if activations >= cost.fixed_bytes and fits >= 1:
        raise ConfigError(
            "batch_size",
            f"batch size {cfg.batch_size:,} needs about {gib(cost.peak_bytes)} of memory; the "
            f"per-run budget of this server is {gib(budget)} ({BUDGET_ENV}). At these settings "
            f"a batch size up to {fits:,} fits (or lower {size} or image_size).",
        )
    raise ConfigError(
        size,
        f"these models have {cost.parameters:,} parameters and need about "
        f"{gib(cost.peak_bytes)} of memory at batch size {cfg.batch_size:,}; the per-run budget "
        f"of this server is {gib(budget)} ({BUDGET_ENV}): lower {size}, layers or latent_dim.",
    )


def check_rise(before: GANConfig, after: GANConfig) -> None:
    """A live change that makes a run cost more must fit the budget too: a switch to a loss with
    a gradient penalty (whose second backward doubles the activations), say. ConfigError as
    check_budget; a change that costs no more always passes."""
    if cost_of(after).peak_bytes > cost_of(before).peak_bytes:
        check_budget(after)
