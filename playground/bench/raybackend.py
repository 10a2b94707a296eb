"""The Ray section (--only ray): a run in a Ray actor, polled once a second or not."""

from __future__ import annotations

import os
import statistics
import time

from playground.runs import backends
from playground.runs.ray.cluster import RemoteRun
from playground.settings.presets import preset

from .common import NEVER, POLL_SECONDS, Budget, paired_ratio, spread


# ---------------------------------------------------------------------- the Ray backend
def ray_overhead(budget: Budget) -> dict:
    """The Ray path's cost on a 2D run: one ring8-stable run in a Ray actor
    (playground.runs.ray.cluster),
    its steps/s over blocks in which the proxy polls a snapshot once a second (as the Train page
    does) against blocks in which nobody asks, alternating so a busy machine's drift cancels.
    Uses the Ray at $RAY_ADDRESS, else starts a local one (and stops it afterwards)."""
    import ray

    started_here = not ray.is_initialized() and not os.environ.get("RAY_ADDRESS")
    backends.connect()
    cfg = preset("ring8-stable").replace(device="cpu", steps=NEVER)
    run = RemoteRun(cfg, resources={"num_cpus": 1.0})
    block = max(5.0, 5 * budget.block_s)  # several polls per block
    wall: dict[str, list[float]] = {"quiet": [], "polled": []}
    cpu: dict[str, list[float]] = {"quiet": [], "polled": []}  # steps per worker CPU-second
    latencies: list[float] = []
    try:
        run.start()
        deadline = time.monotonic() + 300
        while run.snapshot().step <= 10 * cfg.log_every:  # past the first logs' extra pictures
            if time.monotonic() > deadline or not run.snapshot().active:
                raise RuntimeError(f"the Ray run did not start: {run.snapshot().error}")
            time.sleep(0.2)
        for r in range(budget.rounds):
            for kind in ("quiet", "polled") if r % 2 == 0 else ("polled", "quiet"):
                cpu0, step0 = run.worker_cpu_seconds(), run.snapshot().step
                began = time.perf_counter()
                while time.perf_counter() - began < block:
                    time.sleep(POLL_SECONDS)
                    if kind == "polled":
                        asked = time.perf_counter()
                        run.snapshot()
                        latencies.append(time.perf_counter() - asked)
                steps = run.snapshot().step - step0
                wall[kind].append(steps / (time.perf_counter() - began))
                cpu[kind].append(steps / max(run.worker_cpu_seconds() - cpu0, 1e-9))
    finally:
        run.discard()
        if started_here:
            ray.shutdown()
    return {
        "config": "ring8-stable",
        "quiet_steps_per_s": round(statistics.median(wall["quiet"]), 1),
        "polled_steps_per_s": round(statistics.median(wall["polled"]), 1),
        "ratio_polled_vs_quiet": round(paired_ratio(wall["polled"], wall["quiet"]), 4),
        "ratio_range": spread(wall["polled"], wall["quiet"]),
        # The worker's own CPU time: what polling costs it, whatever else the machine runs.
        "cpu_ratio_polled_vs_quiet": round(paired_ratio(cpu["polled"], cpu["quiet"]), 4),
        "cpu_ratio_range": spread(cpu["polled"], cpu["quiet"]),
        "snapshot_ms": round(1000 * statistics.median(latencies), 2),
        "blocks": len(wall["quiet"]) + len(wall["polled"]),
        "block_s": block,
    }
