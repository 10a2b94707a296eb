"""Section 3, multirun: 2D runs (six seeds; every loss) batched in one `MultiRun` against as
many separate Trainers."""

from __future__ import annotations

import statistics

import torch

from playground.data.loading import load_dataset
from playground.settings.config import GANConfig
from playground.settings.fields import LOSSES
from playground.settings.presets import preset
from playground.training.multirun import MultiRun
from playground.training.trainer import Trainer

from .common import NEVER, Budget, interleaved, loop_block, rates


# ---------------------------------------------------------------------- 3. many runs at once
def multirun_cost(
    name: str, configs: list[GANConfig], budget: Budget, device: torch.device | None = None
) -> dict:
    """Six separate Trainers stepped one after another against one batched MultiRun (both
    with the device's fast paths, if it has some)."""
    device = device or torch.device("cpu")
    configs = [c.replace(device=device.type, steps=NEVER) for c in configs]
    data = load_dataset(configs[0], device)
    trainers = [Trainer(c, data=data) for c in configs]
    multi = MultiRun(configs, data=data)

    def separate() -> None:
        for trainer in trainers:
            trainer.train_step()

    samples = interleaved(
        {
            "separate": loop_block(separate, device),
            "batched": loop_block(multi.train_step, device),
        },
        budget.rounds,
        budget.block_s,
    )
    wall = {k: rates(v) for k, v in samples.items()}
    on_cpu = {k: rates(v, "cpu") for k, v in samples.items()}
    n = len(configs)
    # A "step" of `separate` is one step of each of the n runs, so one run alone would do
    # n times as many steps a second; the batched step's wall time over one run's is then
    # n·separate/batched, and the speed-up over running them separately batched/separate.
    pairs = list(zip(wall["separate"], wall["batched"], strict=True))
    cpu_pairs = zip(on_cpu["separate"], on_cpu["batched"], strict=True)
    return {
        "config": name,
        "device": device.type,
        "cuda_graphs": multi.graph is not None,
        "members": n,
        "batch_size": configs[0].batch_size,
        "hidden": configs[0].hidden,
        "one_run_steps_per_s": round(statistics.median(wall["separate"]) * n, 2),
        "batched_steps_per_s": round(statistics.median(wall["batched"]), 2),
        "time_ratio_batched_vs_one": round(statistics.median(n * s / b for s, b in pairs), 3),
        "speedup_vs_separate": round(statistics.median(b / s for s, b in pairs), 3),
        "cpu_time_ratio_batched_vs_one": round(
            statistics.median(n * s / b for s, b in cpu_pairs), 3
        ),
        "rounds": budget.rounds,
    }


def multirun_sets(quick: bool) -> list[tuple[str, list[GANConfig]]]:
    stable = preset("ring8-stable")
    sets = [
        ("ring8-stable, 6 seeds", [stable.replace(seed=s) for s in range(6)]),
        (f"ring8-stable, {len(LOSSES)} losses", [stable.replace(loss=loss) for loss in LOSSES]),
    ]
    if not quick:
        # Smaller models are launch-bound rather than compute-bound: where batching pays most.
        for hidden, batch in ((128, 256), (64, 128), (32, 64)):
            cfg = GANConfig(dataset="ring8", hidden=hidden, batch_size=batch)
            name = f"ring8 hidden {hidden}, batch {batch}, 6 seeds"
            sets.append((name, [cfg.replace(seed=s) for s in range(6)]))
    return sets
