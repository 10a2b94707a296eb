"""A shared stepping pool: many 2D runs started separately (a class of thirty, each student in
their own browser session) trained as one stacked step in one background thread.

A lone 2D run on a CPU spends most of its step in Python and in per-operation overhead, not in
arithmetic; thirty lone runs would be thirty threads paying it thirty times over and fighting
for two cores. The pool puts members that share an architecture and sizes (every setting but
training.multirun.PER_MEMBER: loss, learning rates, betas, seed, …) into one stacked
training.multirun.MultiRun per group, and steps every group once per round in one thread.

Each member (`PooledRun`) is a runner.Run to whoever holds it: the same controls, snapshots,
saves, views and measures (interface.SingleRun), so a page cannot tell it from a lone run. Its
own Trainer holds its models, optimisers, random stream and history, and is the truth whenever
the member is not in a stack (before it joins, while paused, after it leaves). While it trains
in a stack, its slices of the stack are the truth; they are copied back into its Trainer
whenever someone takes its step lock (a save, a picture, a look at the models), so what is read
is always the state at one step boundary.

A member joins or leaves its group's stack only at a step boundary: starting, pausing,
stopping, finishing and a live change of its settings each rebuild its group's stack from the
members' Trainers (once per round, however many changed), and the others go on. Single steps
while paused, and the rare end of a half step of slow motion, are taken by the member's own
Trainer, exactly as a lone run takes them. A member follows the trajectory of a lone run of its
config and seed up to float rounding (tests/test_pool.py compares them).

A group of one member (the first student, or the last one left) is stepped by that member's
own Trainer, exactly as a lone run steps: a stack of one would only add the stacked step's
overhead, and the member's trajectory is then its lone run's bit for bit.

Runs the pool cannot take (`poolable` is False: another optimiser, spectral norm, images,
instance noise, whose strength follows each run's own step) run alone as before.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable

import torch
from torch import nn

from playground.data.loading import load_dataset
from playground.data.source import DataSource
from playground.runs.controls import FRAME_SECONDS, FRAME_SHARE
from playground.runs.runner import Run, describe_failure
from playground.settings.config import GANConfig
from playground.settings.live import GP_LOSSES
from playground.training.devices import resolve_device
from playground.training.history import PLAYER_SERIES, SERIES, carry_forward
from playground.training.multigroups import batchable
from playground.training.multirun import MAX_MEMBERS, PER_MEMBER, MultiRun
from playground.training.stacked import mlp_linears
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer

log = logging.getLogger(__name__)

HANDOFF_WAIT_S = 0.05  # the longest the pool's thread waits for a caller to take its lock
IDLE_WAIT_S = 1.0  # how long the pool's thread sleeps with nothing to step before looking again
# Live pictures: a lone run keeps its drawing within controls.FRAME_SHARE of its thread; a pool
# draws for all its members in one thread, so their pictures together get at most this share.
POOL_FRAME_SHARE = 0.2


def poolable(cfg: GANConfig) -> bool:
    """Whether a run of `cfg` can train in a pool: a 2D run a batched MultiRun can stack
    (multigroups.batchable: Adam, no spectral norm, no gradient clipping, no InfoGAN codes,
    batched regularisers), without instance noise (annealed with each member's own step)."""
    return cfg.is_points and cfg.instance_noise == 0 and batchable(cfg)


def group_key(cfg: GANConfig) -> tuple:
    """What the members of one stack share: every setting but multirun.PER_MEMBER."""
    return tuple(
        getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in PER_MEMBER
    )


# ---------------------------------------------------------------------- one stack
def _stacked_layout(t: torch.Tensor) -> torch.Tensor:
    """A torch Linear's tensor, (out, in) or (out,), in the stacked layout (in, out) or (1, out)."""
    return t.t() if t.dim() == 2 else t.unsqueeze(0)


def _linear_layout(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The inverse of _stacked_layout for the Linear tensor `p`: (in, out) -> (out, in),
    (1, out) -> (out,)."""
    return t.t() if p.dim() == 2 else t[0]


class _Stack(MultiRun):
    """A MultiRun whose members are the current states of pooled members' Trainers, which may
    stand at different steps: built from them, `store(j, trainer)` copies member j back. Only
    its updates are used (`step_all`); the step counts, logs and pictures are each member's,
    kept in its Trainer by the pool. Each member has its own Adam step count (bias
    corrections), as its lone optimiser has."""

    def __init__(self, trainers: list[Trainer], data: DataSource):
        # stacked from the members' own modules (their weights as they stand), not rebuilt
        super().__init__([t.cfg for t in trainers], data, [(t.G, t.D) for t in trainers])
        self.graph = None  # eager: a CUDA graph would be recaptured at every change of members
        self.d_counts = [0] * self.n  # updates summed since each member's last log
        self.g_counts = [0] * self.n
        for opt in (self.opt_g, self.opt_d):
            opt.t = torch.zeros(self.n, 1, 1, dtype=opt.t.dtype, device=opt.t.device)
        with torch.no_grad():
            for j, trainer in enumerate(trainers):
                self._load(j, trainer)

    def _modules(self, trainer: Trainer):
        """(stacked layers, the member's module, its activation) for G, D and G's EMA."""
        yield self.g_layers, trainer.G, nn.ReLU
        yield self.d_layers, trainer.D, nn.LeakyReLU
        if self.g_ema is not None:
            yield self.g_ema, trainer.G_ema, nn.ReLU

    def _optimisers(self, trainer: Trainer):
        yield self.opt_g, trainer.opt_g, trainer.G
        yield self.opt_d, trainer.opt_d, trainer.D

    def _load(self, j: int, trainer: Trainer) -> None:
        for layers, module, act in self._modules(trainer):
            for (w, b), lin in zip(layers, mlp_linears(module, act), strict=True):
                w[j].copy_(lin.weight.t())
                b[j, 0].copy_(lin.bias)
        for stacked, opt, module in self._optimisers(trainer):
            steps = 0.0
            for k, p in enumerate(module.parameters()):
                state = opt.state.get(p, {})
                if "exp_avg" in state:
                    stacked.exp_avg[k][j].copy_(_stacked_layout(state["exp_avg"]))
                    stacked.exp_avg_sq[k][j].copy_(_stacked_layout(state["exp_avg_sq"]))
                    steps = float(state["step"])
            stacked.t[j] = steps
        self.gens[j].set_state(trainer.gen.get_state())
        self._d_acc[j].copy_(trainer._d_acc)
        self._g_acc[j].copy_(trainer._g_acc[0])
        self._grad_norms[j].copy_(trainer._grad_norms)
        self.d_counts[j], self.g_counts[j] = trainer._d_count, trainer._g_count

    @torch.no_grad()
    def store(self, j: int, trainer: Trainer) -> None:
        """Member j's state now (weights, EMA, optimiser state, random stream, sums) into its
        Trainer, which then goes on exactly where the member stands."""
        for layers, module, act in self._modules(trainer):
            for (w, b), lin in zip(layers, mlp_linears(module, act), strict=True):
                lin.weight.copy_(w[j].t())
                lin.bias.copy_(b[j, 0])
        for stacked, opt, module in self._optimisers(trainer):
            steps = float(stacked.t[j])
            if steps == 0:
                continue
            for k, p in enumerate(module.parameters()):
                state = opt.state[p]
                if "exp_avg" not in state:  # (torch's Adam makes these at its first step)
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["exp_avg"].copy_(_linear_layout(stacked.exp_avg[k][j], p))
                state["exp_avg_sq"].copy_(_linear_layout(stacked.exp_avg_sq[k][j], p))
                state["step"].fill_(steps)
        trainer.gen.set_state(self.gens[j].get_state())
        trainer._d_acc.copy_(self._d_acc[j])
        trainer._g_acc[0].copy_(self._g_acc[j])
        trainer._grad_norms.copy_(self._grad_norms[j])
        trainer._d_count, trainer._g_count = self.d_counts[j], self.g_counts[j]

    def step_all(self, logging: bool) -> None:
        """One full step (d_steps D updates, then g_steps G updates) of every member; the
        gradient norms are taken when some member logs."""
        self._step_updates(True, True, logging)
        for j in range(self.n):
            self.d_counts[j] += self.cfg.d_steps
            self.g_counts[j] += self.cfg.g_steps

    def take_sums(self, rows: list[int]) -> list[tuple[list, list, list, dict]]:
        """For each member in `rows`: its mean statistics since its last log, its latest
        gradient norms and which players updated (one host copy for all); their sums restart."""
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        d_stats = self._d_acc.index_select(0, index).tolist()
        g_stats = self._g_acc.index_select(0, index).tolist()
        norms = self._grad_norms.index_select(0, index).tolist()
        out = []
        for k, j in enumerate(rows):
            dc, gc = self.d_counts[j], self.g_counts[j]
            means = [v / max(dc, 1) for v in d_stats[k]], g_stats[k] / max(gc, 1)
            out.append((*means, norms[k], {"d": dc > 0, "g": gc > 0}))
            self.d_counts[j] = self.g_counts[j] = 0
        self._d_acc.index_fill_(0, index, 0.0)
        self._g_acc.index_fill_(0, index, 0.0)
        return out


# ---------------------------------------------------------------------- a member
class _MemberLock:
    """A member's step lock: the pool's lock, and taking it brings the member's Trainer up to
    date with its stack, so every runner.Run method that reads the models between two steps
    (save, pictures, views, measures) reads this member's models as they are now."""

    def __init__(self, pool: Pool, member: PooledRun):
        self._pool, self._member = pool, weakref.ref(member)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._pool._acquire(blocking, timeout):
            return False
        member = self._member()
        if member is not None:
            self._pool._bring_up_to_date(member)  # (a bare copy: cannot fail but for memory)
        return True

    def release(self) -> None:
        self._pool._lock.release()

    def __enter__(self) -> _MemberLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class PooledRun(Run):
    """One run trained in a Pool: a runner.Run to its holder (the same controls, snapshots,
    saves and views: interface.SingleRun), stepped by the pool's thread instead of its own."""

    def __init__(
        self,
        pool: Pool,
        config: GANConfig | None = None,
        trainer: Trainer | None = None,
        make_trainer: Callable[[GANConfig], Trainer] | None = None,
        *,
        pictures: bool = True,
    ):
        if make_trainer is None:  # runner.Run's own default
            super().__init__(config, trainer, pictures=pictures)
        else:
            super().__init__(config, trainer, make_trainer, pictures=pictures)
        self.pool = pool
        self._step_lock = _MemberLock(pool, self)
        self._launched = False
        self._ended_event = threading.Event()
        # The pool's thread when this member's end was its last act (it then exits): joined by
        # join() and stop(), so "ended" also means no training thread is left, as for a lone run.
        self._exiting: threading.Thread | None = None

    @property
    def pool_slot(self) -> tuple[tuple, GANConfig]:
        """(its stack's kind, its settings now): what capacity.RunSlots counts it by."""
        trainer = self.trainer
        cfg = trainer.cfg if trainer is not None else self.config
        return group_key(cfg), cfg

    # ------------------------------------------------------------------ controls
    def start(self, paused: bool = False) -> None:
        with self._cond:
            if self._launched:
                raise RuntimeError(f"this {self._kind} was already started")
            self._launched = True
            self._paused = paused
            self._status = "starting"
            self._started_at = time.perf_counter()
        self.pool._admit(self)

    def stop(self, wait: float | None = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self.pool._wake()
        if wait and threading.current_thread() is not self.pool._thread:
            self._wait_ended(wait)

    def pause(self) -> None:
        super().pause()
        self.pool._wake()

    def resume(self) -> None:
        super().resume()
        self.pool._wake()

    def step(self, d: bool = True, g: bool = True, ends_step: bool = True) -> bool:
        queued = super().step(d, g, ends_step)
        self.pool._wake()
        return queued

    def set_hyper(self, member: int | None = None, **changes) -> None:
        super().set_hyper(member, **changes)
        self.pool._wake()

    def discard(self) -> None:
        with self._cond:
            self._discarded = True
            self._stop = True
            self._cond.notify_all()
            ended = not self._launched or self._ended
        if ended:
            self._drop()
        else:
            self.pool._wake()

    def join(self, timeout: float | None = None) -> bool:
        if not self._launched:
            return True
        return self._wait_ended(timeout)

    def _wait_ended(self, timeout: float | None) -> bool:
        began = time.monotonic()
        if not self._ended_event.wait(timeout):
            return False
        thread = self._exiting
        if thread is not None and thread is not threading.current_thread():
            thread.join(None if timeout is None else max(0.0, timeout - (time.monotonic() - began)))
        return True

    @property
    def alive(self) -> bool:
        return self._launched and not self._ended_event.is_set()

    # ------------------------------------------------------------------ for the pool's thread
    def _apply_pending_hyper(self) -> None:
        """Live changes, applied to the member's Trainer (brought up to date first; the caller
        holds the step lock) and its stack rebuilt with them before the next step."""
        if self._pending:
            self.pool._bring_up_to_date(self)
            super()._apply_pending_hyper()
            self.pool._changed(self)

    def _paced_frame(self) -> None:
        """As a lone run's, but the pool's members share POOL_FRAME_SHARE of its thread."""
        began = time.monotonic()
        self._record_frame()
        took = time.monotonic() - began
        share = min(FRAME_SHARE, POOL_FRAME_SHARE / max(self.pool.size, 1))
        self._next_frame_at = time.monotonic() + max(FRAME_SECONDS, took / share)

    def _poll(self) -> tuple[bool, bool, bool] | str:
        """What this member does this round, without waiting: "stop", "idle" (paused, nothing
        queued), "run" (a step with the others) or a manual step (d, g, ends_step)."""
        with self._cond:
            if self._stop:
                return "stop"
            if not self._paused:
                self._status = "running"
                return "run"
            self._status = "paused"
            return self._manual.popleft() if self._manual else "idle"

    def _stepped(self, manual: bool = False) -> None:
        with self._cond:
            self._step_done = self.trainer.step
            if manual:
                self._manual_done += 1

    def _end(self, status: str, error: str | None = None) -> None:
        self._set_status(status, error)
        if self.trainer is not None:
            self._stepped()
        self._mark_ended()
        self._ended_event.set()


# ---------------------------------------------------------------------- the pool
@dataclasses.dataclass(eq=False)
class _Group:
    """Members stepped as one stack; `rows` maps each to its row of `stack` (as last built)."""

    key: tuple
    members: list[PooledRun]
    stack: _Stack | None = None
    rows: dict = dataclasses.field(default_factory=dict)


class Pool:
    """The shared stepping pool: `member(config)` makes a PooledRun (unstarted: start it, or
    let capacity.SLOTS.try_start do it); one daemon thread steps every running member, each
    group of same-shaped members as one stacked step per round."""

    def __init__(self, name: str = "gan-pool"):
        self._name = name
        self._lock = threading.Lock()  # held while stepping: every member's step lock
        self._cond = threading.Condition()  # guards _incoming and wakes the thread
        # Callers other than the pool's thread waiting for _lock: the thread lets them take it
        # between two rounds (a plain Lock would let the thread take it back at once, round
        # after round, and a page's read or Pause waited seconds for it).
        self._waiting = 0
        self._incoming: list[PooledRun] = []
        # The rest is the pool thread's (or under _lock):
        self._members: list[PooledRun] = []  # admitted, their Trainer built
        self._groups: dict[tuple, list[_Group]] = {}  # by group_key; more than one when full
        self._place: dict[PooledRun, _Group] = {}  # the group each stacked member is in
        self._stale: set[PooledRun] = set()  # stacked members whose Trainer is behind the stack
        self._rebuild: set[_Group] = set()
        self._data: dict[tuple, DataSource] = {}
        self._thread: threading.Thread | None = None
        self._woken = False
        self.rounds = 0  # rounds that stepped some group (for the bench and tests)
        self.largest_stack = 0  # the most members one stack has held (for the bench and tests)
        _POOLS.add(self)

    # ------------------------------------------------------------------ making members
    def member(
        self,
        config: GANConfig | None = None,
        trainer: Trainer | None = None,
        *,
        make_trainer: Callable[[GANConfig], Trainer] | None = None,
        pictures: bool = True,
    ) -> PooledRun:
        """A new, unstarted member for `config` (or continuing `trainer`); poolable configs
        only (ValueError otherwise: ask `poolable` first). `make_trainer` builds its Trainer
        in the pool's thread, as runner.Run's builds a lone run's in its own (by default on
        the pool's shared data)."""
        cfg = trainer.cfg if trainer is not None else config
        if cfg is None or not poolable(cfg):
            raise ValueError("this run cannot train in a pool; run it alone")
        return PooledRun(self, config, trainer, make_trainer, pictures=pictures)

    @property
    def size(self) -> int:
        """Members started and not yet ended."""
        with self._cond:
            return len(self._incoming) + len(self._members)

    def close(self, wait: float = 30.0) -> None:
        """Stop every member and wait (up to `wait` seconds in all) for them to end."""
        with self._cond:
            members = self._incoming + self._members
        for m in members:
            m.stop(wait=None)
        deadline = time.monotonic() + wait
        for m in members:
            m.join(max(0.0, deadline - time.monotonic()))

    def _admit(self, member: PooledRun) -> None:
        with self._cond:
            self._incoming.append(member)
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
                self._thread.start()
            self._woken = True
            self._cond.notify_all()

    def _acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the pool's lock from outside its thread, ahead of the thread's next round."""
        if threading.current_thread() is self._thread:
            return self._lock.acquire(blocking, timeout)
        with self._cond:
            self._waiting += 1
        try:
            return self._lock.acquire(blocking, timeout)
        finally:
            with self._cond:
                self._waiting -= 1
                self._cond.notify_all()

    def _let_waiters_in(self) -> None:
        """Between two rounds (the lock released): wait while some caller still waits for the
        lock, so that it takes it before the next round does (at most HANDOFF_WAIT_S)."""
        with self._cond:
            if self._waiting:
                self._cond.wait_for(lambda: not self._waiting, HANDOFF_WAIT_S)

    def _wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def _changed(self, member: PooledRun) -> None:
        """A member's settings changed (the caller holds the lock): rebuild its stack."""
        group = self._place.get(member)
        if group is not None:
            self._rebuild.add(group)

    def _bring_up_to_date(self, member: PooledRun) -> None:
        """Copy a stacked member's state into its Trainer (the caller holds the lock)."""
        if member in self._stale:
            group = self._place[member]
            group.stack.store(group.rows[member], member.trainer)
            self._stale.discard(member)

    # ------------------------------------------------------------------ the thread
    def _main(self) -> None:
        while True:
            with self._cond:
                fresh, self._incoming = self._incoming, []
                self._members += fresh  # (only this thread changes _members)
                self._woken = False
            ending: list[tuple[PooledRun, str, str | None]] = []
            for member in fresh:
                self._build(member, ending)
            with self._lock:
                due, ended = self._round()
            self._let_waiters_in()
            ending += ended
            for member in due:  # pictures outside the lock: each takes it (and brings it up)
                member._paced_frame()
            with self._cond:  # the last member gone: this thread ends (a new one starts later)
                last = not self._members and not self._incoming
                if last:
                    self._thread = None
            for member, status, error in ending:
                if status == "finished":
                    member._record_frame()  # the last picture, as a lone run draws it
                if last:
                    member._exiting = threading.current_thread()
                member._end(status, error)
            if last:
                return
            with self._cond:
                if not self._place and not due and not self._incoming and not self._woken:
                    self._cond.wait(IDLE_WAIT_S)

    def _build(self, member: PooledRun, ending: list) -> None:
        """A new member's Trainer (on the pool's shared data of its kind) and first picture."""
        try:
            if member.trainer is None:
                make = member._make_trainer
                member.trainer = (
                    Trainer(member.config, self._data_for(member.config))
                    if make is Trainer  # the usual case: the pool's data, loaded once
                    else make(member.config)
                )
            member.trainer.keep_good_state()  # what a divergence falls back on, as a lone run's
        except Exception as exc:
            log.exception("a pooled run failed to start")
            self._members.remove(member)
            ending.append((member, "error", describe_failure(exc)))
            return
        member._stepped()
        member._paced_frame()

    def _data_for(self, cfg: GANConfig) -> DataSource:
        key = (cfg.dataset, cfg.points_file, cfg.device)
        if key not in self._data:
            self._data[key] = load_dataset(cfg, resolve_device(cfg.device))
        return self._data[key]

    def _round(self) -> tuple[list[PooledRun], list[tuple[PooledRun, str, str | None]]]:
        """One round (the caller holds the lock): every member's controls are read, single
        steps are taken alone, the stacks are rebuilt where members came, went or changed, and
        every stack takes one step. Returns the members whose picture is due and those that
        end, with their status and error."""
        due: list[PooledRun] = []
        ending: list[tuple[PooledRun, str, str | None]] = []
        running: list[PooledRun] = []
        for member in list(self._members):
            action, trainer = member._poll(), member.trainer
            if action == "stop" or trainer.step >= trainer.cfg.steps:
                self._leave(member)
                self._members.remove(member)
                ending.append((member, "stopped" if action == "stop" else "finished", None))
                continue
            if action == "run" and not trainer._half_step:
                running.append(member)
                continue
            self._leave(member)
            if action == "idle":
                continue
            manual = action != "run"  # else a half step (slow motion's D phase) to end alone
            try:
                member._train_step((True, True, True) if action == "run" else action, manual)
            except Divergence as exc:
                self._members.remove(member)
                ending.append((member, "diverged", str(exc)))
                continue
            except Exception as exc:  # shown to the person, as a lone run shows it
                log.exception("a pooled run failed")
                self._members.remove(member)
                ending.append((member, "error", describe_failure(exc)))
                continue
            member._stepped(manual)
            due.append(member)
        for member in running:
            member._apply_pending_hyper()
        self._regroup(running, ending)
        for groups in list(self._groups.values()):
            for group in groups:
                due += self._step_group(group, ending)
        if self._place:
            self.rounds += 1
        return due, ending

    def _leave(self, member: PooledRun) -> None:
        """Take a member out of its stack, its Trainer brought up to date; the group is
        rebuilt without it before its next step."""
        group = self._place.pop(member, None)
        if group is None:
            return
        if member in self._stale:
            group.stack.store(group.rows[member], member.trainer)
            self._stale.discard(member)
        group.members.remove(member)
        self._rebuild.add(group)

    def _join(self, member: PooledRun) -> None:
        key = group_key(member.trainer.cfg)
        groups = self._groups.setdefault(key, [])
        group = next((g for g in groups if len(g.members) < MAX_MEMBERS), None)
        if group is None:  # every stack of this kind is full: another beside them
            group = _Group(key, [])
            groups.append(group)
        group.members.append(member)
        self._place[member] = group
        self._rebuild.add(group)

    def _regroup(self, running: list[PooledRun], ending: list) -> None:
        """Every running member in a stack of its kind; the stacks whose members (or their
        settings) changed are rebuilt from the members' Trainers, brought up to date first."""
        for member in running:
            group = self._place.get(member)
            if group is not None and group.key != group_key(member.trainer.cfg):
                self._leave(member)  # a live change made it another kind
                group = None
            if group is None:
                self._join(member)
        rebuild, self._rebuild = self._rebuild, set()
        for group in rebuild:
            for member in group.members:
                self._bring_up_to_date(member)
            if not group.members:
                self._groups[group.key].remove(group)
                if not self._groups[group.key]:
                    del self._groups[group.key]
                continue
            group.rows = {m: j for j, m in enumerate(group.members)}
            if len(group.members) == 1:  # its own Trainer steps it (_step_alone)
                group.stack = None
                continue
            try:
                trainers = [m.trainer for m in group.members]
                group.stack = _Stack(trainers, self._data_for(trainers[0].cfg))
                self.largest_stack = max(self.largest_stack, len(trainers))
            except Exception as exc:  # shown to the person, as a lone run shows a failure
                log.exception("a pool's stack could not be built")
                for member in group.members:
                    self._place.pop(member, None)
                    self._members.remove(member)
                    ending.append((member, "error", describe_failure(exc)))
                group.members = []
                self._groups[group.key].remove(group)

    def _step_group(self, group: _Group, ending: list) -> list[PooledRun]:
        """One stacked step of a group's members; their logs, measures and due pictures."""
        if group.stack is None:
            return self._step_alone(group.members[0], ending)
        stack, members = group.stack, list(group.members)
        log_every = stack.cfg.log_every
        logging = [j for j, m in enumerate(members) if (m.trainer.step + 1) % log_every == 0]
        stack.step_all(bool(logging))
        for member in members:
            member.trainer.step += 1
        self._stale.update(members)
        fresh_log: set[PooledRun] = set()
        if logging:
            for j, sums in zip(logging, stack.take_sums(logging), strict=True):
                member = members[j]
                bad = self._log(member, sums)
                if bad is not None:
                    ending.append((member, "diverged", self._diverged(member, *bad)))
                    continue
                fresh_log.add(member)
        due = []
        now = time.monotonic()
        for member in members:
            if member not in self._place:  # diverged just now
                continue
            trainer = member.trainer
            cfg = trainer.cfg
            if cfg.eval_every and trainer.step % cfg.eval_every == 0:
                self._bring_up_to_date(member)
                trainer.evaluate()
            member._stepped()
            early = member in fresh_log and trainer.step <= 10 * log_every
            if member._pictures and (
                early or now >= member._next_frame_at or trainer.step % cfg.sample_every == 0
            ):
                due.append(member)
        return due

    def _step_alone(self, member: PooledRun, ending: list) -> list[PooledRun]:
        """One step of a member alone in its group, by its own Trainer as a lone run steps it
        (its log, measures and fall-back state are the Trainer's own); [member] when its
        picture is due."""
        trainer = member.trainer
        try:
            logged = member._train_step((True, True, True)) is not None
        except Divergence as exc:  # the Trainer put its models back at its last finite log
            self._leave(member)
            self._members.remove(member)
            ending.append((member, "diverged", str(exc)))
            return []
        except Exception as exc:  # shown to the person, as a lone run shows it
            log.exception("a pooled run failed")
            self._leave(member)
            self._members.remove(member)
            ending.append((member, "error", describe_failure(exc)))
            return []
        member._stepped()
        cfg = trainer.cfg
        early = logged and trainer.step <= 10 * cfg.log_every
        due = time.monotonic() >= member._next_frame_at or trainer.step % cfg.sample_every == 0
        return [member] if member._pictures and (early or due) else []

    def _log(self, member: PooledRun, sums) -> tuple[list[str], float] | None:
        """A member's log record, made as Trainer.flush_log makes it, into its history and its
        state kept to fall back on; when a value is NaN or inf, nothing is stored and the bad
        series and the first bad value are returned."""
        d_stats, g_stats, norms, ran = sums
        trainer = member.trainer
        values = [d_stats[0], g_stats, d_stats[1], d_stats[2], *norms]
        record = {"step": float(trainer.step), **dict(zip(SERIES, values, strict=True))}
        carried = carry_forward(record, ran, trainer.history.last(), PLAYER_SERIES)
        bad = [k for k, v in record.items() if not math.isfinite(v) and k not in carried]
        if bad:
            return bad, record[bad[0]]
        trainer.history.append(record)
        self._bring_up_to_date(member)
        trainer.keep_good_state()
        now = time.perf_counter()
        if trainer.step > trainer._log_step0:
            trainer.steps_per_sec = (trainer.step - trainer._log_step0) / max(
                now - trainer._log_started, 1e-9
            )
        trainer._log_started, trainer._log_step0 = now, trainer.step
        return None

    def _diverged(self, member: PooledRun, bad: list[str], value: float) -> str:
        """A member turned NaN/inf: it leaves the pool with its models put back at its last
        finite log, and the message a lone run gives (Trainer.flush_log)."""
        diverged_at = member.trainer.step
        self._leave(member)
        self._members.remove(member)
        trainer = member.trainer
        good_step = trainer.restore_good_state()
        return (
            f"training diverged at step {diverged_at}: {', '.join(bad)} became "
            f"{value}. Try lower learning rates (now lr_g={trainer.cfg.lr_g:g}, "
            f"lr_d={trainer.cfg.lr_d:g}), a gradient penalty (loss {GP_LOSSES}) or spectral "
            "norm. "
            f"The models are back as they were at step {good_step}, the last finite log."
        )


_POOLS: weakref.WeakSet = weakref.WeakSet()
_default: Pool | None = None
_default_lock = threading.Lock()


def default_pool() -> Pool:
    """The process's shared pool (made on first use): a classroom server's students join it."""
    global _default
    with _default_lock:
        if _default is None:
            # Its thread has the name every training thread has (controls.ThreadControls),
            # so whatever looks for the server's training threads finds it too.
            _default = Pool(name="gan-run")
        return _default


@atexit.register
def _close_pools() -> None:
    """At exit, stop every pooled run first (see controls.stop_every_run for why)."""
    for pool in list(_POOLS):
        pool.close(wait=10.0)
