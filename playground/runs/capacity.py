"""A server-wide cap on concurrent training runs.

Thirty students pressing Start on one classroom server would otherwise start thirty training
threads that share a few cores (or one GPU's memory) and all crawl. `SLOTS.try_start(run)` starts
a run only while fewer than the cap are active. A run holds its slot exactly as long as its
thread is alive: finished, stopped, diverged and failed runs free theirs by ending, so nothing
has to remember to give a slot back. Paused runs keep their slot (they hold their models and
memory). The cap is `$GAN_PLAYGROUND_MAX_RUNS`, else 2 on a CPU-only machine and 4 with a GPU.

Pooled runs (runs.pool: same-shaped 2D runs stepped together as one stacked step in one thread)
count by what they cost, not one slot each. The rule:

- a lone run (a thread of its own, an every-loss run, a run that cannot be pooled) takes 1 slot;
- pooled members of one kind (pool.group_key: the same architecture, sizes and batch) share
  slots: n of them take ceil(n / per_slot) slots, where per_slot = POOL_SLOT_FLOPS divided by
  one member's step work (training.cost: G's and D's updates of one step), at least 1 and at
  most MAX_MEMBERS (the stack's largest size). A stacked step of many small members costs
  little more than one member's step (a small 2D run spends its step in per-operation overhead,
  which the stack pays once), so thirty ring8 students (0.44 GFLOP a step each) fit in one slot
  where a third lone run is refused; members as big as a lone heavy run take a slot each.

So on a server capped at 2, two lone runs fill it, while one lone run and up to 32 pooled ring8
members fit together. `status().active` is the slots in use and `.runs` the runs alive.
GAN_PLAYGROUND_POOL=0 (runs.backends) turns pooling off: every run is then lone and takes 1.

Each run also has a memory budget, `$GAN_PLAYGROUND_RUN_MEMORY` (e.g. "4G"; by default the
machine's memory shared between the slots and one more share for the server itself): a run whose
estimated peak (training.cost) is over it is refused before it starts, the message naming what
drives the cost and the largest batch size that would fit.
"""

from __future__ import annotations

import logging
import math
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
from playground.training.multirun import MAX_MEMBERS

ENV = "GAN_PLAYGROUND_MAX_RUNS"
BUDGET_ENV = "GAN_PLAYGROUND_RUN_MEMORY"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
DEFAULT_CPU = 2  # two runs already share a laptop's cores; more only slows every one
DEFAULT_GPU = 4  # small GAN runs leave a GPU mostly idle; four fit in memory comfortably
MAX_LIMIT = 1000
# The step work that pooled members of one kind may share a slot with: 32 ring8-stable members
# (0.44 GFLOP a step each, hidden 128, batch 512) fit; members of hidden 512 (about 7 GFLOP) go
# two to a slot. About a tenth of a second of a laptop's two cores per round.
POOL_SLOT_FLOPS = 16e9

log = logging.getLogger(__name__)


class Startable(Protocol):
    """A run the slots can start. A pooled member (runs.pool.PooledRun) also has `pool_slot`:
    (its stack's kind, its settings), which it is counted by."""

    @property
    def alive(self) -> bool: ...

    def start(self, paused: bool = False) -> None: ...


@dataclass(frozen=True)
class SlotStatus:
    active: int  # slots in use now (see the module's docstring for what a run costs)
    limit: int
    runs: int = 0  # runs alive now (pooled members share slots, so this may exceed `active`)

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

    def _alive(self) -> list:
        return [run for run in list(self._runs) if run.alive]

    def status(self) -> SlotStatus:
        with self._lock:
            alive = self._alive()
            return SlotStatus(slots_used(alive), self.limit, len(alive))

    def try_start(self, run: Startable, paused: bool = False) -> bool:
        """Start `run` if what it costs (1 slot; a pooled member: its share, see the module's
        docstring) still fits and return True; otherwise leave it unstarted and return False."""
        with self._lock:
            if slots_used([*self._alive(), run]) > self.limit:
                return False
            run.start(paused=paused)
            self._runs.add(run)
            return True


def slots_used(runs: list) -> int:
    """The slots `runs` take together: 1 for each lone run, and for each kind of pooled member
    ceil(members / members_per_slot)."""
    lone, kinds = 0, {}
    for run in runs:
        pooled = getattr(run, "pool_slot", None)
        if pooled is None:
            lone += 1
            continue
        key, cfg = pooled
        count, _ = kinds.get(key, (0, cfg))
        kinds[key] = (count + 1, cfg)
    return lone + sum(math.ceil(n / members_per_slot(cfg)) for n, cfg in kinds.values())


def members_per_slot(cfg: GANConfig) -> int:
    """How many pooled members of `cfg`'s kind share one slot: POOL_SLOT_FLOPS over one
    member's step work, from 1 to MAX_MEMBERS (1 when the work cannot be estimated)."""
    try:
        work = cost_of(cfg).step_flops
    except Exception:  # an estimate that cannot be made must not make a run free
        log.debug("no cost estimate for %s", cfg, exc_info=True)
        return 1
    return max(1, min(MAX_MEMBERS, int(POOL_SLOT_FLOPS // max(work, 1))))


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
