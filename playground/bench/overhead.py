"""Section 1, overhead: a plain training loop written as simply as possible, against the
engine's `Trainer.train_step` loop and a `runner.Run` polled as the Train page polls it."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable

import torch
import torch.nn.functional as F

from playground.data.loading import load_dataset
from playground.data.source import DataSource
from playground.models.architectures import build_models
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer

from .common import (
    NEVER,
    Block,
    Budget,
    RunBlock,
    interleaved,
    loop_block,
    paired_ratio,
    rates,
    spread,
)


# ---------------------------------------------------------------------- the plain loop
def plain_step(
    cfg: GANConfig,
    data: DataSource,
    device: torch.device,
    reuse_fake: bool = False,
    losses: list[torch.Tensor] | None = None,
) -> Callable[[], None]:
    """One step of the simplest faithful training loop for a non-saturating GAN, as one would
    write it in a notebook: same models (models.build_models), loss, batch and device as the
    engine, default torch.optim.Adam, no logging, no pictures.

    reuse_fake=False draws fresh noise for the G update, as the engine does; reuse_fake=True is
    the classic PyTorch DCGAN example's step: one G forward, used detached for D and then for G.
    `losses`, if given, gets each step's (D loss, G loss) as a tensor on the device.
    """
    plain = dict(loss="nonsaturating", d_steps=1, g_steps=1, pack=1, conditional=False)
    if (
        any(getattr(cfg, k) != v for k, v in plain.items())
        or cfg.label_smoothing
        or (cfg.instance_noise)
    ):
        raise ValueError("the plain loop is a plain non-saturating GAN: change the config")
    torch.manual_seed(cfg.seed)
    G, D = build_models(cfg, data.shape)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    ema = copy.deepcopy(G).requires_grad_(False) if cfg.ema > 0 else None
    batch, latent = cfg.batch_size, cfg.latent_dim
    if data.kind == "images":
        pictures = data.images.float().div(127.5).sub(1.0)  # (N, C, H, W) in [-1, 1]

        def real_batch() -> torch.Tensor:
            return pictures[torch.randint(len(pictures), (batch,), device=device)]
    elif data.centres is not None:
        centres, sigma = data.centres.to(device), data.sigma

        def real_batch() -> torch.Tensor:
            which = torch.randint(len(centres), (batch,), device=device)
            return centres[which] + sigma * torch.randn(batch, 2, device=device)
    else:
        gen = torch.Generator(device).manual_seed(cfg.seed)

        def real_batch() -> torch.Tensor:
            return data.sample(batch, gen)[0]

    def step() -> None:
        real = real_batch()
        z = torch.randn(batch, latent, device=device)
        if reuse_fake:
            fake = G(z)
        else:
            with torch.no_grad():
                fake = G(z)
        # D maximises log σ(D(x)) + log(1 − σ(D(G(z)))), i.e. minimises the softplus form.
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if not reuse_fake:
            fake = G(torch.randn(batch, latent, device=device))
        # G maximises log σ(D(G(z))).
        loss_g = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if losses is not None:
            losses.append(torch.stack([loss_d.detach(), loss_g.detach()]))
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema.parameters(), G.parameters(), strict=True):
                    e.lerp_(p, 1.0 - cfg.ema)

    return step


# ---------------------------------------------------------------------- 1. overhead
def overhead(
    name: str, cfg: GANConfig, device: torch.device, budget: Budget, data: DataSource | None = None
) -> dict:
    """plain loop vs Trainer loop vs Run-in-a-thread with a polling consumer, same config."""
    cfg = cfg.replace(device=device.type, steps=NEVER)
    data = data if data is not None else load_dataset(cfg, device)
    trainers = [Trainer(cfg, data=data) for _ in range(2)]
    gpu = device.type == "cuda"
    if gpu:  # the engine without its fast paths: what they add on top of the engine itself
        trainers.append(Trainer(cfg.replace(fast_paths=False), data=data))
    for trainer in trainers:
        # Past the first 10 logs, where a Run draws a picture at every log so that the first
        # live update comes quickly: measure the steady state of a run (that start-up is
        # measured on its own by first_update).
        trainer.step = 10 * cfg.log_every
    variants: dict[str, Block] = {
        "plain": loop_block(plain_step(cfg, data, device), device),
        "trainer": loop_block(trainers[0].train_step, device),
    }
    if gpu:
        variants["eager"] = loop_block(trainers[2].train_step, device)
    run = RunBlock(trainers[1])
    variants["run"] = run
    try:
        samples = interleaved(variants, budget.rounds, budget.block_s)
    finally:
        run.close()
    wall = {k: rates(v) for k, v in samples.items()}
    cpu = {k: rates(v, "cpu") for k, v in samples.items()}
    med = {k: statistics.median(v) for k, v in wall.items()}
    eager = {}
    if gpu:
        eager = {
            "eager_steps_per_s": round(med["eager"], 2),
            "ratio_trainer_vs_eager": round(paired_ratio(wall["trainer"], wall["eager"]), 4),
        }
    return {
        "config": name,
        "device": device.type,
        "batch_size": cfg.batch_size,
        **eager,
        "ratio_run_vs_trainer": round(paired_ratio(wall["run"], wall["trainer"]), 4),
        "plain_steps_per_s": round(med["plain"], 2),
        "trainer_steps_per_s": round(med["trainer"], 2),
        "run_steps_per_s": round(med["run"], 2),
        "ratio_trainer_vs_plain": round(paired_ratio(wall["trainer"], wall["plain"]), 4),
        "ratio_run_vs_plain": round(paired_ratio(wall["run"], wall["plain"]), 4),
        "ratio_run_vs_plain_range": spread(wall["run"], wall["plain"]),
        "cpu_ratio_trainer_vs_plain": round(paired_ratio(cpu["trainer"], cpu["plain"]), 4),
        "cpu_ratio_run_vs_plain": round(paired_ratio(cpu["run"], cpu["plain"]), 4),
        "cpu_ratio_run_vs_trainer": round(paired_ratio(cpu["run"], cpu["trainer"]), 4),
        "rounds": budget.rounds,
        "block_s": budget.block_s,
        "snapshot_polls": run.polls,
    }


def dcgan64_config(
    device: torch.device, batch: int = 128, size: int = 64, width: int = 64, latent: int = 100
) -> GANConfig:
    """The classic DCGAN example's settings: 64 px colour, ngf = ndf = 64, nz = 100, Adam
    2e-4 with beta1 0.5, batch 128."""
    return GANConfig(
        dataset="cifar10",
        arch="dcgan",
        image_size=size,
        width=width,
        latent_dim=latent,
        loss="nonsaturating",
        lr_g=2e-4,
        lr_d=2e-4,
        beta1=0.5,
        batch_size=batch,
        log_every=10,
        sample_every=NEVER // 10,
        steps=NEVER,
        device=device.type,
    )


def random_images(count: int, shape: tuple[int, int, int], device: torch.device) -> DataSource:
    """Random pixels in place of CIFAR/LSUN: throughput does not depend on the pictures, and
    nothing needs downloading."""
    pixels = torch.randint(
        0, 256, (count, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    return DataSource(
        name="random",
        kind="images",
        shape=shape,
        num_classes=0,
        centres=None,
        sigma=None,
        device=device,
        images=pixels.to(device),
    )
