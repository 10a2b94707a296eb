"""Section 2, images: DCGAN 64x64 images/s, the classic PyTorch example's eager fp32 step
against the engine."""

from __future__ import annotations

import statistics

import torch

from playground.training.trainer import Trainer

from .common import Budget, interleaved, loop_block, paired_ratio, rates
from .overhead import dcgan64_config, plain_step, random_images


# ---------------------------------------------------------------------- 2. image throughput
def image_throughput(
    device: torch.device,
    budget: Budget,
    batch: int = 128,
    size: int = 64,
    width: int = 64,
    latent: int = 100,
) -> dict:
    """DCGAN images/s: the classic example's eager fp32 step against the engine's Trainer."""
    cfg = dcgan64_config(device, batch, size, width, latent)
    data = random_images(max(4 * batch, 256), (3, size, size), device)
    variants = {
        "plain": loop_block(plain_step(cfg, data, device, reuse_fake=True), device),
        "engine": loop_block(Trainer(cfg, data=data).train_step, device),
    }
    gpu = device.type == "cuda"
    if gpu:  # the engine in eager fp32: what the fast paths add
        eager = Trainer(cfg.replace(fast_paths=False), data=data)
        variants["engine_eager"] = loop_block(eager.train_step, device)
    # A CPU step takes seconds: blocks of one step each, and --quick times cold steps.
    on_cpu = device.type == "cpu"
    block_s = 0.0 if on_cpu else budget.block_s
    warmup = budget.image_warmup or not on_cpu
    samples = interleaved(variants, budget.image_rounds, block_s, warmup)
    wall = {k: rates(v) for k, v in samples.items()}
    cpu = {k: rates(v, "cpu") for k, v in samples.items()}
    med = {k: statistics.median(v) * batch for k, v in wall.items()}
    eager_figures = {}
    if gpu:
        eager_figures = {
            "engine_eager_images_per_s": round(med["engine_eager"], 2),
            "ratio_engine_eager_vs_plain": round(
                paired_ratio(wall["engine_eager"], wall["plain"]), 4
            ),
        }
    return {
        "config": f"dcgan {size}px width {width} nz {latent}",
        "device": device.type,
        "batch_size": batch,
        "plain_images_per_s": round(med["plain"], 2),
        "engine_images_per_s": round(med["engine"], 2),
        **eager_figures,
        "ratio_engine_vs_plain": round(paired_ratio(wall["engine"], wall["plain"]), 4),
        "cpu_ratio_engine_vs_plain": round(paired_ratio(cpu["engine"], cpu["plain"]), 4),
        "rounds": budget.image_rounds,
        "warmup": warmup,
    }
