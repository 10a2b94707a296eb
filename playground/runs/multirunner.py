"""A multi-run (multigroups.GroupedRun: batched MultiRun groups and lone Trainers) in a daemon
thread, controlled like runner.Run."""

from __future__ import annotations

import time

from playground.data.source import DataSource
from playground.runs.controls import ThreadControls
from playground.runs.snapshots import MAX_FRAMES, Frame, MultiSnapshot, Snapshot
from playground.settings.config import GANConfig
from playground.settings.live import member_changes
from playground.training.multigroups import GroupedRun, check_grouped
from playground.training.multirun import MultiRun
from playground.training.stepcore import Divergence


class MultiRunner(ThreadControls):
    """A multi-run in a daemon thread, controlled like runner.Run: start, pause, resume, step
    (while paused), stop, set_hyper (per member or all, live); `snapshot()` returns plain
    data. Members that can be batched train as MultiRun groups, the others as lone Trainers
    beside them (multigroups.GroupedRun)."""

    _kind = "multi-run"
    _thread_name = "gan-multirun"

    def __init__(
        self, configs: list[GANConfig], data: DataSource | None = None, mesh: bool = False
    ):
        self.configs = check_grouped(list(configs))
        self._data = data
        self._mesh = mesh  # frames carry each member's G manifold (a lesson draws it)
        self.multi: GroupedRun | MultiRun | None = None
        super().__init__()
        self._pending_lr: dict[int, dict[str, float]] = {}
        self._frames: list[tuple[Frame, ...]] = []  # one tuple of N member frames per picture

    # ------------------------------------------------------------------ controls
    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change the learning rates (lr_g, lr_d) of one member, or of every member when
        `member` is None. Validated now (ConfigError), applied before the next step."""
        members, changes = member_changes(len(self.configs), member, changes)
        for i in members:
            self.configs[i].replace(**changes)  # raises ConfigError for a bad value
        with self._cond:
            for i in members:
                self._pending_lr.setdefault(i, {}).update(changes)

    # ------------------------------------------------------------------ observing
    def snapshot(self) -> MultiSnapshot:
        multi = self.multi
        with self._cond:
            frames, status, error = list(self._frames), self._status, self._error
            histories = multi.history_copies() if multi else []
            errors = list(multi.errors) if multi else [None] * len(self.configs)
            step = self.shown_step(multi)
        elapsed = time.perf_counter() - self._started_at if self._started_at else 0.0
        rate = multi.steps_per_sec if multi else 0.0
        total = self.configs[0].steps
        members = tuple(
            Snapshot(
                status="diverged" if errors[i] else status,
                step=step,
                total_steps=total,
                steps_per_sec=rate,
                history=histories[i] if multi else {},
                frames=tuple(group[i] for group in frames),
                error=errors[i],
                config=multi.configs[i] if multi else self.configs[i],
                kind="points",
                extent=multi.extent() if multi else None,
                device=str(multi.device) if multi else "",
                elapsed=elapsed,
                member=i,
            )
            for i in range(len(self.configs))
        )
        return MultiSnapshot(status, step, total, rate, members, error, elapsed)

    # ------------------------------------------------------------------ the thread
    def _main(self) -> None:
        try:
            if self.multi is None:
                self.multi = GroupedRun(self.configs, self._data)
            for _, engine in self.multi.groups:  # Stop is heard before each group's next update
                engine.interrupt = self._stop_requested
            self._paced_frame()
            self._loop()
        except Divergence as exc:
            self._set_status("diverged", str(exc))
        except Exception as exc:  # shown to the person, not raised into a dead thread
            self._set_status("error", str(exc).strip() or type(exc).__name__)
        finally:
            self._mark_ended()

    def _let_go(self) -> None:
        self.multi = None
        self._frames.clear()

    def _engine(self) -> GroupedRun | MultiRun:
        return self.multi

    def _train_step(self, action: tuple[bool, bool, bool], manual: bool = False) -> list | None:
        self._apply_pending_lr()
        if manual:  # (a plain call otherwise: what wraps train_step need not know log_now)
            return self.multi.train_step(*action[:2], log_now=True)
        return self.multi.train_step(*action[:2])  # (d, g); a multi-run has no half steps

    def _apply_pending_lr(self) -> None:
        with self._cond:
            pending, self._pending_lr = self._pending_lr, {}
        for member, changes in pending.items():
            self.multi.set_hyper(member, **changes)
            self.configs[member] = self.multi.configs[member]

    def _record_frame(self) -> None:
        multi = self.multi
        with self._step_lock:
            samples, decisions = multi.fixed_samples(), multi.decision_maps()
            meshes = multi.manifolds() if self._mesh else [None] * multi.n
        group = tuple(
            Frame(multi.step, samples[i], decisions[i], meshes[i]) for i in range(multi.n)
        )
        with self._cond:
            if self._frames and self._frames[-1][0].step == multi.step:
                self._frames[-1] = group
                return
            if len(self._frames) == MAX_FRAMES:  # keep every other: frames span the whole run
                self._frames = self._frames[::2]
            self._frames.append(group)
