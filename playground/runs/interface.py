"""The run interface: what every page and the command line may do with a run, whichever backend
holds it (a thread here, `runner.Run` / `multirunner.MultiRunner`, or an actor on the Ray
cluster, `ray.cluster.RemoteRun` / `RemoteMultiRun`). `backends.make_run` and `make_multi_run`
make them; a caller never needs to know which one it holds.

Everything a run says comes back as a snapshot: plain, immutable data (`runner.Snapshot` for
one run, `multirunner.MultiSnapshot` for a batched one, its members Snapshots)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from playground.runs.snapshots import MultiSnapshot, Snapshot


@runtime_checkable
class RunControls(Protocol):
    """Start, pause, resume, step, stop and change a run live; ask it for a snapshot."""

    uid: str  # stable for the run's life; caches key on it (a proxy's id() says nothing)

    def start(self, paused: bool = False) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step(self, d: bool = True, g: bool = True, ends_step: bool = True) -> bool:
        """One step while paused (D only, G only or both); False when the run cannot step."""
        ...

    def stop(self, wait: float | None = 5.0) -> None: ...

    def join(self, timeout: float | None = None) -> bool:
        """True once the run has ended (within `timeout` seconds)."""
        ...

    def discard(self) -> None:
        """The owner is gone: end the run without waiting and free what it holds."""
        ...

    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change live settings before the next step (validated now: ConfigError). A single
        run is member 0; a batched run changes one member, or all when `member` is None."""
        ...

    @property
    def status(self) -> str: ...

    @property
    def alive(self) -> bool: ...


@runtime_checkable
class SingleRun(RunControls, Protocol):
    """One run: its controls, its snapshot, and what it can hand out between two steps."""

    def snapshot(self) -> Snapshot: ...

    def save(self, path: str | os.PathLike, **kwargs) -> Path: ...

    @property
    def has_models(self) -> bool: ...

    def generator_state(self):
        """The generator as plain CPU data (a training.generator_state.GeneratorState), or None
        before it exists."""
        ...

    def real_sample(self, n: int, seed: int = 0):
        """n real examples as plain arrays (points, or uint8 pictures)."""
        ...

    def measure(self, n: int, seed: int = 0):
        """The mode-collapse measures of n fresh samples (measures.evaluation.Report)."""
        ...

    def view_layers(self, plane: str = "random"): ...

    def frame_now(self): ...


@runtime_checkable
class BatchedRun(RunControls, Protocol):
    """Many runs stepped together (every-loss, a lesson's side by side)."""

    def snapshot(self) -> MultiSnapshot: ...
