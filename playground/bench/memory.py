"""Section 5, memory: process RSS over a long run (history and frames must stay bounded)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from playground.runs.runner import Run
from playground.runs.snapshots import MAX_FRAMES
from playground.settings.presets import preset

from .common import POLL_SECONDS, Budget


# ---------------------------------------------------------------------- 5. memory
def rss_mb() -> float | None:
    """Resident memory of this process in MB (Linux /proc), else None."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory(budget: Budget) -> dict:
    """RSS over a long Run that logs every step and samples often, so its history coarsens many
    times and its frames are thinned many times: both must stay bounded."""
    steps = budget.memory_steps
    cfg = preset("ring8-stable").replace(
        device="cpu", hidden=32, batch_size=64, log_every=1, sample_every=20, steps=steps
    )
    start_mb = rss_mb()
    run = Run(cfg)
    run.start()
    readings: list[tuple[int, float]] = []
    began = next_poll = time.perf_counter()
    while run.alive:
        if budget.memory_seconds and time.perf_counter() - began > budget.memory_seconds:
            run.stop(wait=None)  # --quick: a shorter run still shows the bounds hold
        if time.perf_counter() >= next_poll:  # a page's once-a-second poll
            run.snapshot()
            next_poll += POLL_SECONDS
        trainer = run.trainer
        if trainer is not None:
            readings.append((trainer.step, rss_mb() or 0.0))
        time.sleep(0.05)
    run.join()
    snap = run.snapshot()
    if snap.status not in ("finished", "stopped"):
        raise RuntimeError(f"memory run ended {snap.status}: {snap.error}")
    end_mb, planned, steps = rss_mb(), steps, snap.step
    if end_mb is None or not readings:
        return {
            "steps": steps,
            "history_points": len(snap.history["step"]),
            "frames": len(snap.frames),
            "rss_end_mb": None,
            "growth_after_warmup_mb": None,
        }
    warm = [mb for step, mb in readings if step >= steps // 10] or [end_mb]
    frame_bytes = sum(
        f.samples.nbytes + (f.decision.nbytes if f.decision is not None else 0) for f in snap.frames
    )
    return {
        "steps": steps,
        "planned_steps": planned,
        "logs": steps // cfg.log_every,
        "history_points": len(snap.history["step"]),
        "history_capacity": 1000,
        "frames": len(snap.frames),
        "max_frames": MAX_FRAMES,
        "frame_kb": round(frame_bytes / 1024, 1),
        "rss_start_mb": round_mb(start_mb),
        "rss_warm_mb": round_mb(warm[0]),
        "rss_end_mb": round_mb(end_mb),
        "rss_max_mb": round_mb(max(mb for _, mb in readings)),
        "growth_after_warmup_mb": round_mb((end_mb or 0.0) - warm[0]),
    }


def round_mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
