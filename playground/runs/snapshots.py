"""What a run says about itself: immutable snapshots of plain data (no tensors, no models),
safe to hand to a page, to pickle across Ray, and to keep."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.settings.config import GANConfig
from playground.views.view2d import Arrows, Manifold

# Statuses a run goes through. "finished", "stopped", "diverged" and "error" are final.
FINAL = ("finished", "stopped", "diverged", "error")
MAX_FRAMES = 48  # sample grids kept for scrubbing back and for the timelapse


@dataclass(frozen=True)
class Frame:
    """The generator's output on the fixed noise batch at one step."""

    step: int
    samples: np.ndarray  # points (N, 2) float32 or images (N, H, W, C) uint8
    decision: np.ndarray | None = None  # D's score over the 2D window (2D data only)
    manifold: Manifold | None = None  # G's image of a latent grid (2D data only; view2d)
    arrows: Arrows | None = None  # −∂L_G/∂x at the first fixed-noise samples (2D data only)


@dataclass(frozen=True)
class QueuePlace:
    """Where a run waiting for room on a Ray cluster stands."""

    waited: float  # seconds since it asked
    position: int | None  # 1 = next, among this server's waiting runs; None once it left the queue
    length: int  # how many runs this server has waiting


def remaining_seconds(snap) -> float | None:
    """Seconds left at the current speed, for a running (multi-)snapshot; None otherwise."""
    if snap.steps_per_sec <= 0 or snap.status != "running":
        return None
    return (snap.total_steps - snap.step) / snap.steps_per_sec


@dataclass(frozen=True)
class Snapshot:
    status: str  # starting, running, paused, finished, stopped, diverged, error
    step: int
    total_steps: int
    steps_per_sec: float
    history: dict[str, list[float]]
    frames: tuple[Frame, ...] = ()
    error: str | None = None
    config: GANConfig | None = None
    kind: str = ""  # "points" or "images"
    extent: tuple[float, float, float, float] | None = None
    device: str = ""
    elapsed: float = 0.0
    notes: tuple[str, ...] = ()  # sentences about what loading the data did, for the page
    fast_paths: str = ""  # the GPU fast paths in use, in words; "" for plain fp32
    measures_note: str | None = None  # why some live measures are missing for now
    member: int | None = None  # the member's index in a batched run
    queue: QueuePlace | None = None  # set while the run waits for room on a Ray cluster
    measures: tuple[dict, ...] = ()  # live mode-collapse measures, {"step", …} each
    manual_steps: int = 0  # manual steps and phases done while paused (a phase leaves `step`)

    @property
    def latest(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    @property
    def active(self) -> bool:
        return self.status not in FINAL

    @property
    def eta_seconds(self) -> float | None:
        return remaining_seconds(self)


@dataclass(frozen=True)
class MultiSnapshot:
    """The whole multi-run as plain data; `members[i]` is member i as a runner.Snapshot."""

    status: str
    step: int
    total_steps: int
    steps_per_sec: float
    members: tuple[Snapshot, ...]
    error: str | None = None
    elapsed: float = 0.0

    @property
    def active(self) -> bool:
        return self.status not in FINAL

    @property
    def eta_seconds(self) -> float | None:
        return remaining_seconds(self)
