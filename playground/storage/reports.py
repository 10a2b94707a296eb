"""What a saved run measures: its mode-collapse report, with the real points and the window a
2D view draws them in (the Diagnostics page and the command line's `diagnose` read it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.measures.evaluation import Report, diagnose
from playground.storage.checkpoints import load_checkpoint


@dataclass(frozen=True)
class SavedReport:
    report: Report
    real: np.ndarray | None  # n real points (n, 2) of a 2D run, drawn with the same seed; else None
    extent: tuple[float, float, float, float] | None  # the 2D window; None for images


def measure_saved(
    folder: str | Path, n: int, seed: int = 0, device: str = "cpu", inception: bool = False
) -> SavedReport:
    """The measures of a checkpoint's generator on n fresh samples (see evaluation.diagnose);
    `device="auto"` uses a GPU when there is one. Raises CheckpointError for a bad folder."""
    trainer = load_checkpoint(folder, device=device, with_optimizers=False)
    report = diagnose(trainer, n, seed=seed, inception=inception)
    if trainer.data.kind != "points":
        return SavedReport(report, None, None)
    return SavedReport(report, trainer.real_sample(n, seed), trainer.extent())
