"""`gan-playground bench`: how fast the playground trains, and what its live view costs.

Everything is measured in one process, one run, so ratios compare like with like on a shared,
noisy machine: compared variants run in interleaved blocks (A B C, then C B A, …) and each
ratio is the median of the per-round ratios. Sections:

- overhead: steps/s of a plain training loop written here as simply as possible, of the engine's
  `Trainer.train_step` loop, and of a `runner.Run` in its thread while this thread polls
  `snapshot()` once a second, as the Train page does;
- images: DCGAN 64x64 images/s, the classic PyTorch example's eager fp32 step against the engine;
- learning (GPU): the same DCGAN trained on real pictures with and without the fast paths, to
  show that the loss curves agree in shape;
- multirun: six 2D runs batched in one `MultiRun` against six separate Trainers;
- ui: Start-to-first-update latency, one latent-explorer slider move, building the Train page's
  figures from a snapshot;
- memory: process RSS over a long run (history and frames must stay bounded).

Speed is never asserted by a test: this command measures, BENCHMARKS.md records.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import images, paths
from .architectures import build_models
from .config import LOSSES, ConfigError, GANConfig, preset
from .data import DataSource, load_dataset
from .multirun import MultiRun
from .runner import FINAL, MAX_FRAMES, Run
from .trainer import SERIES, BoundedHistory, Trainer, device_label, resolve_device

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIGITS = paths.shipped_checkpoints() / "examples" / "digits-dcgan"
SECTIONS = ("ui", "overhead", "images", "learning", "multirun", "memory")
EXTRA_SECTIONS = ("ray",)  # only when named (--only ray): it starts a Ray, or joins $RAY_ADDRESS
POLL_SECONDS = 1.0  # the Train page redraws its live view about once a second
NEVER = 10_000_000  # a step count no benchmark reaches: runs go on until stopped


@dataclass(frozen=True)
class Budget:
    block_s: float  # seconds per measured block
    rounds: int  # interleaved rounds per comparison
    image_rounds: int  # DCGAN 64 px rounds (a CPU step takes seconds)
    memory_steps: int  # steps of the long run
    slider_moves: int
    figure_repeats: int
    image_warmup: bool = True  # a warm-up step before timing DCGAN 64 px steps on a CPU
    deadline_s: float | None = None  # sections not started by then are skipped (--quick)
    memory_seconds: float | None = None  # the long run is stopped after this long (--quick)
    learning_steps: int = 1500  # DCGAN 64 px steps per variant in the learning comparison

    def scaled(self, block_s: float) -> Budget:
        """The same plan with `block_s` seconds a block; the long run shrinks or grows alike."""
        factor = block_s / self.block_s
        return dataclasses.replace(
            self, block_s=block_s, memory_steps=max(100, int(self.memory_steps * factor))
        )


# --quick is for CI: it must finish on a busy machine, so it has a deadline and a capped long
# run; its figures are rough.
QUICK = Budget(
    block_s=0.4,
    rounds=3,
    image_rounds=1,
    memory_steps=3000,
    slider_moves=10,
    figure_repeats=3,
    image_warmup=False,
    deadline_s=75.0,
    memory_seconds=10.0,
    learning_steps=100,
)
FULL = Budget(
    block_s=1.0, rounds=9, image_rounds=3, memory_steps=50_000, slider_moves=50, figure_repeats=10
)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- timing helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Block = Callable[[float], tuple[int, float]]  # run for about s seconds -> (steps, seconds)


def loop_block(step: Callable[[], object], device: torch.device) -> Block:
    """A block that calls `step` until `seconds` have passed (at least once)."""

    def block(seconds: float) -> tuple[int, float]:
        done, start = 0, time.perf_counter()
        while True:
            step()
            done += 1
            if time.perf_counter() - start >= seconds:
                break
        _sync(device)
        return done, time.perf_counter() - start

    return block


class RunBlock:
    """A `Run` in its background thread, resumed for a block while this thread polls its
    snapshot every POLL_SECONDS (as the page does), then paused again."""

    def __init__(self, trainer: Trainer, poll_s: float = POLL_SECONDS):
        self.run, self.poll_s, self.polls = Run(trainer=trainer), poll_s, 0
        # Note when each step ends, so a block ends exactly on a step boundary however late
        # this thread notices the pause.
        self.step_ended = 0.0
        step = trainer.train_step
        # On a GPU a step's host time is not its time: an event after each step marks when
        # the device finished it (one event record a step, a few microseconds).
        self.gpu = trainer.device.type == "cuda"
        self.last_event = torch.cuda.Event(enable_timing=True) if self.gpu else None

        def timed_step(*args, **kwargs):
            record = step(*args, **kwargs)
            self.step_ended = time.perf_counter()
            if self.gpu:
                self.last_event.record()  # re-recorded: it marks the latest step
            return record

        trainer.train_step = timed_step
        self.run.start(paused=True)
        self._wait_for("paused")

    def _wait_for(self, status: str, timeout: float = 600.0) -> None:
        deadline = time.perf_counter() + timeout
        while self.run.status != status:
            if self.run.status in FINAL:
                raise RuntimeError(f"benchmark run ended: {self.run.snapshot().error}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"benchmark run never became {status}")
            time.sleep(0.005)

    def __call__(self, seconds: float) -> tuple[int, float]:
        trainer = self.run.trainer
        if self.gpu:
            torch.cuda.synchronize(trainer.device)
            began = torch.cuda.Event(enable_timing=True)
            began.record()
        first, start = trainer.step, time.perf_counter()
        self.run.resume()
        next_poll = start
        while (now := time.perf_counter()) - start < seconds:
            if now >= next_poll:
                self.run.snapshot()
                self.polls += 1
                next_poll += self.poll_s
            time.sleep(max(0.0, min(next_poll, start + seconds) - time.perf_counter()))
        # End on a step boundary, after at least one step, as loop_block does: pausing lets
        # the step under way finish, so no step's time is counted without the step.
        while trainer.step == first:
            if self.run.status in FINAL:
                raise RuntimeError(f"benchmark run ended: {self.run.snapshot().error}")
            time.sleep(0.002)
        self.run.pause()
        self._wait_for("paused")
        seconds = self.step_ended - start
        if self.gpu:  # the block ends when the device has done its last step
            self.last_event.synchronize()
            seconds = max(seconds, began.elapsed_time(self.last_event) / 1e3)
        return trainer.step - first, seconds

    def close(self) -> None:
        self.run.stop(wait=30.0)


@dataclass(frozen=True)
class Sample:
    """One measured block: steps done, wall-clock seconds, and this process's CPU seconds (all
    its threads). Other processes on a shared machine slow the wall clock, not the CPU time, so
    CPU-time rates cross-check wall-clock ones when the machine is busy."""

    steps: int
    wall: float
    cpu: float


def interleaved(
    variants: dict[str, Block], rounds: int, block_s: float, warmup: bool = True
) -> dict[str, list[Sample]]:
    """Each variant's blocks, one per round. One short warm-up round first; then the order
    alternates (A B C, C B A, …) so a shared machine's slow drifts hit every variant alike."""
    names = list(variants)
    for name in names if warmup else ():
        variants[name](block_s / 2)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            cpu = time.process_time()
            done, seconds = variants[name](block_s)
            samples[name].append(Sample(done, seconds, time.process_time() - cpu))
    return samples


def rates(samples: list[Sample], clock: str = "wall") -> list[float]:
    """Steps per second of each block, by the wall clock or by CPU time."""
    return [s.steps / max(getattr(s, clock), 1e-9) for s in samples]


def paired_ratio(top: list[float], bottom: list[float]) -> float:
    """Median over rounds of top/bottom (pairs from the same round share the machine's mood)."""
    return statistics.median(t / b for t, b in zip(top, bottom, strict=True))


def spread(top: list[float], bottom: list[float]) -> list[float]:
    ratios = [t / b for t, b in zip(top, bottom, strict=True)]
    return [round(min(ratios), 3), round(max(ratios), 3)]


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


# ---------------------------------------------------------------------- 2b. learning outcome
LEARNING_BIN = 10  # steps averaged into one point of a learning curve


def learning(device: torch.device, steps: int, seeds: int = 3, **model) -> dict:
    """The DCGAN 64 px (classic settings) trained on the bundled digits (real pictures,
    upscaled to 64 px): the engine in eager fp32 (fast_paths off) and with the fast paths,
    `seeds` seeds each, and the classic example's eager fp32 step once, for reference. Returns
    the loss curves (means over LEARNING_BIN steps), whether the fast runs agree with the eager
    ones (see curve_agreement) and the seconds taken. `model` overrides dcgan64_config's sizes
    (batch, size, width, latent), for a quick check."""
    steps = max(LEARNING_BIN * 8, steps - steps % LEARNING_BIN)
    cfg = dcgan64_config(device, **model).replace(
        dataset="digits", log_every=LEARNING_BIN, eval_every=0, seed=0
    )
    data = load_dataset(cfg, device)
    runs: dict[str, list[dict[str, list[float]]]] = {"engine_eager": [], "engine": []}
    seconds: dict[str, float] = {"engine_eager": 0.0, "engine": 0.0}

    recorded: list[torch.Tensor] = []
    step = plain_step(cfg, data, device, reuse_fake=True, losses=recorded)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = torch.stack(recorded).float().cpu()  # (steps, 2): the only sync
    seconds["plain"] = time.perf_counter() - start
    binned = per_step.view(-1, LEARNING_BIN, 2).mean(1)
    plain = {"d_loss": binned[:, 0].tolist(), "g_loss": binned[:, 1].tolist()}
    for seed in range(max(2, seeds)):
        for label, fast in (("engine_eager", False), ("engine", True)):
            trainer = Trainer(cfg.replace(fast_paths=fast, seed=seed), data=data)
            start = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            _sync(device)
            seconds[label] += time.perf_counter() - start
            history = trainer.history.copy()
            runs[label].append({"d_loss": history["d_loss"], "g_loss": history["g_loss"]})
    return {
        "config": f"dcgan {cfg.image_size}px width {cfg.width} nz {cfg.latent_dim}, digits "
        f"upscaled to {cfg.image_size} px",
        "device": device.type,
        "steps": steps,
        "seeds": max(2, seeds),
        "bin_steps": LEARNING_BIN,
        "agreement": curve_agreement(runs["engine"], runs["engine_eager"]),
        "curves": {
            "plain": plain,
            "engine_eager": runs["engine_eager"][0],
            "engine": runs["engine"][0],
        },
        "runs": runs,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def quarters(values: list[float]) -> list[tuple[float, float]]:
    """(mean, standard deviation) of each quarter of a curve."""
    n = len(values)
    parts = [values[i * n // 4 : (i + 1) * n // 4] for i in range(4)]
    return [(statistics.fmean(p), statistics.pstdev(p)) for p in parts]


def curve_distance(a: dict[str, list[float]], b: dict[str, list[float]]) -> float:
    """How far apart two runs' loss curves are, in shape. A GAN's losses oscillate (D and G take
    turns), so two runs soon oscillate out of phase and a point-by-point comparison says little;
    what matters is each stretch's level and spread. Per quarter of the run and per loss: the
    difference of the means in units of the curves' mean standard deviation, and the log-ratio
    of the standard deviations; the distance is the largest of these."""
    worst = 0.0
    for key in ("d_loss", "g_loss"):
        for (m_a, s_a), (m_b, s_b) in zip(quarters(a[key]), quarters(b[key]), strict=True):
            scale = (s_a + s_b) / 2
            if scale < 1e-9:  # flat curves: only their levels can differ
                worst = max(worst, 0.0 if m_a == m_b else math.inf)
                continue
            spread = abs(math.log(max(s_a, 1e-9) / max(s_b, 1e-9)))
            worst = max(worst, abs(m_a - m_b) / scale, spread)
    return worst


def curve_agreement(fast: list[dict], eager: list[dict]) -> dict:
    """Do the fast runs learn like the eager fp32 ones? The yardstick is the seed: the fast
    paths agree when the typical (median) distance from a fast run to an eager run is no larger
    than the largest distance between two eager runs with different seeds, i.e. when changing
    the arithmetic moves the curves no further than changing the seed does."""
    across = [curve_distance(f, e) for f in fast for e in eager]
    between = [
        curve_distance(eager[i], eager[j])
        for i in range(len(eager))
        for j in range(i + 1, len(eager))
    ]
    typical, yardstick = statistics.median(across), max(between)
    return {
        "fast_vs_eager_median": round(typical, 3),
        "eager_vs_eager_max": round(yardstick, 3),
        "agree": typical <= yardstick,
    }


CURVE_COLOURS = {"plain": (120, 120, 120), "engine_eager": (31, 119, 180), "engine": (255, 127, 14)}


def learning_png(result: dict) -> bytes:
    """The learning curves as one PNG: D loss on the left, G loss on the right."""
    from PIL import Image, ImageDraw

    panel_w, panel_h, margin = 520, 300, 40
    image = Image.new("RGB", (2 * panel_w, panel_h + 30), "white")
    draw = ImageDraw.Draw(image)
    for p, key in enumerate(("d_loss", "g_loss")):
        x0, y0 = p * panel_w + margin, 20
        w, h = panel_w - 2 * margin, panel_h - 2 * margin
        values = [v for c in result["curves"].values() for v in c[key]]
        lo, hi = min(values), max(values)
        hi = hi if hi > lo else lo + 1
        draw.rectangle([x0, y0, x0 + w, y0 + h], outline=(0, 0, 0))
        draw.text((x0, 2), f"{key} (mean over {result['bin_steps']} steps)", fill=(0, 0, 0))
        draw.text((x0 - 36, y0), f"{hi:.2f}", fill=(0, 0, 0))
        draw.text((x0 - 36, y0 + h - 10), f"{lo:.2f}", fill=(0, 0, 0))
        draw.text((x0 + w - 60, y0 + h + 4), f"step {result['steps']}", fill=(0, 0, 0))
        for name, curve in result["curves"].items():
            ys = curve[key]
            points = [
                (x0 + w * i / max(1, len(ys) - 1), y0 + h * (1 - (v - lo) / (hi - lo)))
                for i, v in enumerate(ys)
            ]
            draw.line(points, fill=CURVE_COLOURS.get(name, (0, 0, 0)), width=1)
    legend = "grey: classic example, eager fp32   blue: engine, eager fp32   orange: engine, fast"
    draw.text((margin, panel_h + 10), legend, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


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


# ---------------------------------------------------------------------- 4. UI costs
def first_update(name: str, timeout: float = 300.0) -> dict:
    """Seconds from Run.start() until a snapshot holds a logged loss point and a frame; the
    run builds its models and loads its data in that time, as after the page's Start."""
    cfg = preset(name).replace(device="cpu")
    start = time.perf_counter()
    run = Run(cfg)
    run.start()
    try:
        while True:
            snap = run.snapshot()
            if snap.history.get("step") and snap.frames:
                break
            if not snap.active or time.perf_counter() - start > timeout:
                raise RuntimeError(f"{name}: no first update ({snap.status}: {snap.error})")
            time.sleep(0.005)
        seconds = time.perf_counter() - start
    finally:
        run.stop(wait=30.0)
    # The page redraws every POLL_SECONDS from Start, so it shows the update at the next tick.
    shown = math.ceil(seconds / POLL_SECONDS) * POLL_SECONDS
    return {
        "config": name,
        "seconds": round(seconds, 3),
        "shown_by_page_s": shown,
        "step": snap.step,
    }


def digits_model() -> tuple[object, str]:
    """The digits generator the explorer would show: the shipped example if there is one, else
    a digits-dcgan model trained a few steps here (a slider move costs the same either way)."""
    from .latent import LatentModel, load_latent_model

    if (EXAMPLE_DIGITS / "checkpoint.json").is_file():
        return load_latent_model(EXAMPLE_DIGITS), f"checkpoint examples/{EXAMPLE_DIGITS.name}"
    trainer = Trainer(preset("digits-dcgan").replace(device="cpu"))
    for _ in range(20):
        trainer.train_step()
    return LatentModel.from_trainer(trainer, "cpu"), "digits-dcgan trained 20 steps in the bench"


def live_measure_cost(repeats: int) -> dict:
    """What the Train page's live measures cost on a CPU: one evaluation of the shipped digits
    model (LIVE_SAMPLES samples: classes, precision/recall, FID/KID/IS, diversity), the FID,
    KID and IS part alone, and the share of training time at the preset's eval_every."""
    from .checkpoints import load_checkpoint
    from .evaluation import EVAL_SEED, LIVE_SAMPLES, Evaluator
    from .fid import DistributionMeasures

    trainer = load_checkpoint(EXAMPLE_DIGITS, device="cpu")
    n = LIVE_SAMPLES["images"]
    ev = Evaluator(trainer.cfg.dataset, trainer.data, seed=trainer.cfg.seed)
    samples = trainer.sample(n, seed=EVAL_SEED)
    ev.measure(samples)  # the real side, computed once per run
    real = trainer.data.images[:n].float() / 127.5 - 1
    distribution = DistributionMeasures(ev.classifier.net, real)
    all_s, fid_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ev.measure(samples)
        all_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        distribution.measure(samples)
        fid_s.append(time.perf_counter() - start)
    steps = []
    for _ in range(3):
        start = time.perf_counter()
        trainer.train_step()
        steps.append(time.perf_counter() - start)
    every = preset("digits-dcgan").eval_every
    step_s = statistics.median(steps)
    all_median = statistics.median(all_s)
    return {
        "samples": n,
        "all_ms": 1000 * all_median,
        "fid_ms": 1000 * statistics.median(fid_s),
        "step_ms": 1000 * step_s,
        "eval_every": every,
        "slowdown_pct": 100 * all_median / (every * step_s) if every else 0.0,
    }


def slider_move(moves: int) -> dict:
    """One latent-explorer slider move: G on one z, then the picture upscaled to about 256 px
    and PNG-encoded (what st.image sends); milliseconds, median over `moves`."""
    from .latent import z_from_seed

    model, source = digits_model()
    direction = torch.nn.functional.normalize(
        torch.randn(model.latent_dim, generator=torch.Generator().manual_seed(3)), dim=0
    )
    base = z_from_seed(0, model.latent_dim)
    generate_ms, total_ms = [], []
    for i in range(moves + 2):  # two warm-up moves
        start = time.perf_counter()
        sample = model.generate((base + (i % 7 - 3) * direction).unsqueeze(0))
        middle = time.perf_counter()
        picture = images.to_uint8(sample)[0]
        images.png_bytes(images.upscale(picture, 256))
        end = time.perf_counter()
        if i >= 2:
            generate_ms.append((middle - start) * 1e3)
            total_ms.append((end - start) * 1e3)
    return {
        "model": source,
        "moves": moves,
        "generate_ms": round(statistics.median(generate_ms), 3),
        "total_ms": round(statistics.median(total_ms), 3),
    }


def train_page_figures(
    history: dict,
    samples: np.ndarray,
    real: np.ndarray,
    extent,
    decision: np.ndarray,
    smoothing: float = 0.6,
    max_points: int | None = 300,
) -> list:
    """The Train page's four figures for a 2D run, built by the builders the page uses
    (playground.figures). At most `max_points` points per curve; None sends every logged one."""
    from .figures import line_figure, points_figure

    charts = [
        ({"d_loss": "D loss", "g_loss": "G loss"}, "Losses", False),
        ({"d_real": "D(real)", "d_fake": "D(fake)"}, "D's output (probability real)", False),
        ({"g_grad_norm": "‖∇G‖", "d_grad_norm": "‖∇D‖"}, "Gradient norms", True),
    ]
    figures = [
        line_figure(history, series, title, smoothing, log_y=log_y, most=max_points)
        for series, title, log_y in charts
    ]
    return figures + [points_figure(samples, real, extent, decision)]


def figure_costs(repeats: int) -> dict:
    """Building the Train page's figures from a snapshot with a full history (the worst case),
    and then serialising them as st.plotly_chart does; plus an image run's grid picture."""
    import plotly.io

    trainer = Trainer(preset("ring8-stable").replace(device="cpu"))
    history = BoundedHistory()
    rng = np.random.default_rng(0)
    for step in range(1, history.capacity):
        history.append({"step": float(step), **{k: float(rng.random()) + 0.1 for k in SERIES}})
    real = trainer.data.sample(1000, torch.Generator().manual_seed(7))[0].numpy()
    samples, decision = trainer.fixed_samples(), trainer.decision_map()
    data = history.copy()
    build, serialise = [], []
    for i in range(repeats + 1):
        start = time.perf_counter()
        figures = train_page_figures(data, samples, real, trainer.extent(), decision)
        middle = time.perf_counter()
        for fig in figures:
            plotly.io.to_json(fig, validate=False)
        end = time.perf_counter()
        if i:
            build.append((middle - start) * 1e3)
            serialise.append((end - middle) * 1e3)
    grid = (np.random.default_rng(1).random((64, 32, 32, 1)) * 255).astype(np.uint8)
    grid_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        images.png_bytes(images.make_grid(grid))
        grid_ms.append((time.perf_counter() - start) * 1e3)
    return {
        "history_points": len(history),
        "figures": len(figures),
        "build_ms": round(statistics.median(build), 2),
        "build_and_serialise_ms": round(statistics.median(build) + statistics.median(serialise), 2),
        "image_grid_png_ms": round(statistics.median(grid_ms), 2),
    }


# ---------------------------------------------------------------------- the Ray backend
def ray_overhead(budget: Budget) -> dict:
    """The Ray path's cost on a 2D run: one ring8-stable run in a Ray actor (playground.cluster),
    its steps/s over blocks in which the proxy polls a snapshot once a second (as the Train page
    does) against blocks in which nobody asks, alternating so a busy machine's drift cancels.
    Uses the Ray at $RAY_ADDRESS, else starts a local one (and stops it afterwards)."""
    import ray

    from . import backends
    from .cluster import RemoteRun

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
        "rss_start_mb": _round(start_mb),
        "rss_warm_mb": _round(warm[0]),
        "rss_end_mb": _round(end_mb),
        "rss_max_mb": _round(max(mb for _, mb in readings)),
        "growth_after_warmup_mb": _round((end_mb or 0.0) - warm[0]),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------------- the machine
def machine(device: torch.device) -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    info = {
        "cpu": model or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device_label(device),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


# ---------------------------------------------------------------------- targets
def targets(results: dict, device: torch.device) -> list[dict]:
    """The speed targets against what this run measured. A speed target counts as met only
    when both clocks agree (wall clock and CPU time), so a busy machine cannot flatter it."""
    out = []

    def add(target: str, measured: str, status: str, why: str = "") -> None:
        out.append({"target": target, "measured": measured, "status": status, "why": why})

    gpu = device.type == "cuda"
    for row in results.get("overhead", []):
        where = row["device"].upper()
        ratio, cpu = row["ratio_run_vs_plain"], row.get("cpu_ratio_run_vs_plain", math.inf)
        if row["device"] == "cuda":
            # On a GPU the host's CPU time is not the step's time: the wall clock decides, and
            # the Run is also held to the engine it drives (plain is far slower there).
            live = row["ratio_run_vs_trainer"]
            add(
                f"overhead ratio >= 0.97 ({row['config']}, {where})",
                f"Run/plain {ratio:.3f}, Run/Trainer {live:.3f}",
                "met" if min(ratio, live) >= 0.97 else "not met",
            )
            continue
        add(
            f"overhead ratio >= 0.97 ({row['config']}, {where})",
            f"{ratio:.3f} (CPU time {cpu:.3f})",
            "met" if min(ratio, cpu) >= 0.97 else "not met",
        )
    if not gpu:
        no_gpu = "no GPU on this machine"
        add("overhead ratio >= 0.97 on a GPU (DCGAN 64 px)", "-", "not measurable here", no_gpu)
        add(
            "GPU DCGAN 64 px images/s >= 2x the plain eager fp32 loop",
            "-",
            "not measurable here",
            no_gpu,
        )
        add("GPU ring8 MLP steps/s >= 3x the eager loop", "-", "not measurable here", no_gpu)
    for row in results.get("overhead", []):
        if row["config"].startswith("ring8") and row["device"] == "cpu":
            ratio, cpu = row["ratio_trainer_vs_plain"], row.get("cpu_ratio_trainer_vs_plain", 9)
            add(
                "CPU ring8 MLP: engine no slower than the plain loop",
                f"{ratio:.3f}x (CPU time {cpu:.3f}x)",
                "met" if min(ratio, cpu) >= 1.0 else "not met",
            )
    for row in results.get("overhead", []):
        if row["config"].startswith("ring8") and row["device"] == "cuda":
            ratio = row["ratio_trainer_vs_plain"]
            add(
                "GPU ring8 MLP steps/s >= 3x the eager loop",
                f"{ratio:.2f}x the plain loop ({row['ratio_trainer_vs_eager']:.2f}x the engine "
                "in eager mode)",
                "met" if ratio >= 3 else "not met",
            )
    for row in results.get("images", []):
        if row["device"] == "cuda":
            ratio = row["ratio_engine_vs_plain"]
            add(
                "GPU DCGAN 64 px images/s >= 2x the plain eager fp32 loop",
                f"{ratio:.2f}x",
                "met" if ratio >= 2 else "not met",
            )
    learned = results.get("learning")
    if learned:
        a = learned["agreement"]
        add(
            "GPU fast paths: same learning outcome as eager fp32 (loss curves agree in shape)",
            f"curve distance fast-eager {a['fast_vs_eager_median']:.2f} (median) against "
            f"eager-eager {a['eager_vs_eager_max']:.2f} (largest, other seed); "
            f"{learned['seeds']} seeds x {learned['steps']} steps",
            "met" if a["agree"] else "not met",
        )
    for row in results.get("multirun", []):
        ratio, cpu = row["time_ratio_batched_vs_one"], row.get("cpu_time_ratio_batched_vs_one", 0)
        where = row.get("device", "cpu")
        if where == "cuda":  # the wall clock decides on a GPU (see the overhead rows)
            cpu = ratio
        add(
            f"N={row['members']} batched <= 2x one run's wall time ({row['config']}, "
            f"{where.upper()})",
            f"{ratio:.2f}x (CPU time {cpu:.2f}x)" if where == "cpu" else f"{ratio:.2f}x",
            "met" if max(ratio, cpu) <= 2 else "not met",
        )
    for row in results.get("ui", {}).get("first_update", []):
        add(
            f"first live update <= 2 s after Start ({row['config']}, CPU, {row['when']})",
            f"{row['seconds']:.2f} s (page shows it by {row['shown_by_page_s']:.0f} s)",
            "met" if row["shown_by_page_s"] <= 2 else "not met",
        )
    slider = results.get("ui", {}).get("slider")
    if slider:
        add(
            "slider move <= 100 ms server-side (digits, CPU)",
            f"{slider['total_ms']:.1f} ms",
            "met" if slider["total_ms"] <= 100 else "not met",
        )
    ray_row = results.get("ray")
    if ray_row:
        ratio, cpu = ray_row["ratio_polled_vs_quiet"], ray_row["cpu_ratio_polled_vs_quiet"]
        add(
            "Ray: polling snapshots once a second costs <= 3% of steps/s (ring8, CPU)",
            f"{ratio:.3f} (CPU time {cpu:.3f}; a snapshot {ray_row['snapshot_ms']:.1f} ms)",
            "met" if min(ratio, cpu) >= 0.97 else "not met",
        )
    mem = results.get("memory")
    if mem:
        growth = mem["growth_after_warmup_mb"]
        title = f"memory flat within 100 MB over a long run ({mem['steps']:,} steps)"
        if growth is None:
            add(title, "-", "not measurable here", "no /proc/self/statm")
        else:
            add(title, f"{growth:+.1f} MB", "met" if growth <= 100 else "not met")
    return out


# ---------------------------------------------------------------------- the command
def parse_sections(text: str | None) -> tuple[str, ...]:
    if not text:
        return SECTIONS
    wanted = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in wanted if s not in SECTIONS + EXTRA_SECTIONS]
    if unknown or not wanted:
        names = ", ".join(SECTIONS + EXTRA_SECTIONS)
        raise ConfigError("only", f"sections are {names}; got {text!r}")
    return wanted


def run_bench(
    device_name: str = "auto",
    quick: bool = False,
    threads: int | None = None,
    block_s: float | None = None,
    sections: tuple[str, ...] = SECTIONS,
) -> dict:
    """Measure the chosen sections; returns plain data (what --json writes)."""
    device = resolve_device(device_name)
    if threads is None and quick:
        threads = 1  # CI machines are often shared: one thread finishes soonest there
    if threads is not None:
        if not 1 <= threads <= 1024:
            raise ConfigError("threads", f"must be from 1 to 1024; got {threads}")
        torch.set_num_threads(threads)
    budget = QUICK if quick else FULL
    if block_s is not None:
        if not 0 < block_s <= 600:
            raise ConfigError(
                "budget", f"must be more than 0 and at most 600 seconds; got {block_s}"
            )
        budget = budget.scaled(block_s)
    began = time.perf_counter()
    results: dict = {
        "mode": "quick" if quick else "full",
        "budget": dataclasses.asdict(budget),
        "sections": list(sections),
        "machine": machine(device),
        "rss_at_start_mb": _round(rss_mb()),
    }
    cpu = torch.device("cpu")
    deadline = began + budget.deadline_s if budget.deadline_s else math.inf
    skipped: list[str] = []

    def due(what: str) -> bool:
        """Log and say yes, or, past --quick's deadline, note the skip and say no."""
        if time.perf_counter() < deadline:
            log(what)
            return True
        skipped.append(what)
        log(f"{what}: skipped (past --quick's {budget.deadline_s:.0f} s)")
        return False

    if "ui" in sections:  # first: a cold start is what a fresh app process sees
        ui: dict = {"first_update": []}
        for name in ("ring8-stable", "digits-dcgan"):
            for when in ("cold", "warm"):
                if due(f"ui: first update, {name} ({when})"):
                    ui["first_update"].append({**first_update(name), "when": when})
        if due("ui: slider move"):
            ui["slider"] = slider_move(budget.slider_moves)
        if due("ui: figures"):
            ui["figures"] = figure_costs(budget.figure_repeats)
        if due("ui: live measures (digits)"):
            ui["live_measures"] = live_measure_cost(budget.figure_repeats)
        results["ui"] = ui
    # The CPU rows, unless a GPU was named (--device cuda: its rows only).
    cpu_rows = device_name != "cuda"
    if "overhead" in sections:
        plan = (
            [
                ("ring8-stable", preset("ring8-stable"), cpu),
                ("digits-dcgan", preset("digits-dcgan"), cpu),
            ]
            if cpu_rows
            else []
        )
        if device.type == "cuda":
            plan += [
                ("ring8-stable", preset("ring8-stable"), device),
                ("dcgan64 (random 3x64x64)", None, device),
            ]
        results["overhead"] = []
        for name, cfg, where in plan:
            if not due(f"overhead: {name} on {where.type}"):
                continue
            if cfg is None:  # the classic example's DCGAN on random 64 px colour pictures
                data = random_images(512, (3, 64, 64), where)
                row = overhead(name, dcgan64_config(where), where, budget, data)
            else:
                row = overhead(name, cfg, where, budget)
            results["overhead"].append(row)
    if "images" in sections and due(f"images: DCGAN 64 px batch 128 on {device.type}"):
        results["images"] = [image_throughput(device, budget)]
    # The fast paths are GPU-only: on a CPU both ways are the same computation.
    if "learning" in sections and device.type == "cuda":
        if due(f"learning: DCGAN 64 px, {budget.learning_steps} steps x 3 on {device.type}"):
            results["learning"] = learning(device, budget.learning_steps)
    if "multirun" in sections:
        plan = [(name, configs, cpu) for name, configs in multirun_sets(quick)] if cpu_rows else []
        if device.type == "cuda":
            plan += [(name, configs, device) for name, configs in multirun_sets(True)]
        results["multirun"] = [
            multirun_cost(name, configs, budget, where)
            for name, configs, where in plan
            if due(f"multirun: {name} on {where.type}")
        ]
    if "memory" in sections and due(f"memory: a {budget.memory_steps:,}-step run"):
        results["memory"] = memory(budget)
    if "ray" in sections and due("ray: ring8-stable in a Ray actor, polled vs not"):
        results["ray"] = ray_overhead(budget)
    results["skipped"] = skipped
    if hasattr(os, "getloadavg"):
        results["load_average_end"] = round(os.getloadavg()[0], 2)
    results["targets"] = targets(results, device)
    results["seconds"] = round(time.perf_counter() - began, 1)
    return results


# ---------------------------------------------------------------------- the table
def format_table(results: dict) -> str:
    m = results["machine"]
    load = m.get("load_average")
    lines = [
        f"GAN Playground benchmark ({results['mode']}, {results['seconds']} s)",
        f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, "
        f"{m['torch_threads']} thread(s), {m['device']}"
        + (
            f"; load average {load[0]} at start, {results.get('load_average_end')} at end"
            if load
            else ""
        ),
    ]

    def table(title: str, columns: list[tuple[str, Callable[[dict], object]]], rows) -> None:
        cells = [[name for name, _ in columns]]
        cells += [[_cell(get(row)) for _, get in columns] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        lines.extend(["", title])
        for r in cells:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))

    def key(name: str) -> Callable[[dict], object]:
        return lambda row: row.get(name, "-")

    if "overhead" in results:
        table(
            "1. Overhead (steps/s; Run = background thread + snapshot() polled every 1 s; "
            "eager = the engine without its GPU fast paths; ratios: median of paired rounds)",
            [
                ("config", key("config")),
                ("device", key("device")),
                ("plain", key("plain_steps_per_s")),
                ("trainer", key("trainer_steps_per_s")),
                ("Run", key("run_steps_per_s")),
                ("eager", key("eager_steps_per_s")),
                ("trainer/plain", key("ratio_trainer_vs_plain")),
                ("trainer/eager", key("ratio_trainer_vs_eager")),
                ("Run/plain", key("ratio_run_vs_plain")),
                ("Run/trainer", key("ratio_run_vs_trainer")),
                ("Run/plain range", lambda r: "-".join(map(str, r["ratio_run_vs_plain_range"]))),
                ("by CPU time: trainer/plain", key("cpu_ratio_trainer_vs_plain")),
                ("Run/plain", key("cpu_ratio_run_vs_plain")),
            ],
            results["overhead"],
        )
    if "images" in results:
        table(
            "2. Image throughput (images/s; plain = the classic DCGAN example's step, eager fp32)",
            [
                ("config", key("config")),
                ("device", key("device")),
                ("batch", key("batch_size")),
                ("plain", key("plain_images_per_s")),
                ("engine", key("engine_images_per_s")),
                ("engine eager fp32", key("engine_eager_images_per_s")),
                ("engine/plain", key("ratio_engine_vs_plain")),
                ("engine eager/plain", key("ratio_engine_eager_vs_plain")),
                ("by CPU time", key("cpu_ratio_engine_vs_plain")),
            ],
            results["images"],
        )
    if "learning" in results:
        learned = results["learning"]
        a = learned["agreement"]
        rows = [
            ("distance, fast run to eager run (median)", f"{a['fast_vs_eager_median']:.3f}", ""),
            ("distance, eager run to eager run (largest)", f"{a['eager_vs_eager_max']:.3f}", ""),
        ]
        for name, curve in learned["curves"].items():
            d_q, g_q = quarters(curve["d_loss"]), quarters(curve["g_loss"])
            for i in range(4):
                rows.append(
                    (
                        f"seed 0, quarter {i + 1} mean ± sd: {name}",
                        f"D {d_q[i][0]:.3f} ± {d_q[i][1]:.3f}",
                        f"G {g_q[i][0]:.3f} ± {g_q[i][1]:.3f}",
                    )
                )
        rows += [(f"seconds: {name}", f"{v:.1f}", "") for name, v in learned["seconds"].items()]
        table(
            f"2b. Learning outcome ({learned['config']}, {learned['steps']} steps, "
            f"{learned['seeds']} seeds per engine way; curves of {learned['bin_steps']}-step "
            "means; distance: see bench.curve_distance)",
            [(n, lambda r, i=i: r[i]) for i, n in enumerate(("what", "figure", ""))],
            rows,
        )
    if "multirun" in results:
        table(
            "3. Many runs at once (one run = a sixth of six separate Trainers)",
            [
                ("members", key("config")),
                ("device", key("device")),
                ("CUDA graph", key("cuda_graphs")),
                ("one run steps/s", key("one_run_steps_per_s")),
                ("batched steps/s", key("batched_steps_per_s")),
                ("batched time / one", key("time_ratio_batched_vs_one")),
                ("by CPU time", key("cpu_time_ratio_batched_vs_one")),
                ("speed-up vs separate", key("speedup_vs_separate")),
            ],
            results["multirun"],
        )
    if "ui" in results:
        ui = results["ui"]
        rows = [
            (
                f"first update {r['config']} ({r['when']})",
                f"{r['seconds']:.3f} s",
                f"page shows it by {r['shown_by_page_s']:.0f} s",
            )
            for r in ui["first_update"]
        ]
        if "slider" in ui:
            m = ui["slider"]
            note = f"generate {m['generate_ms']:.2f} ms; {m['model']}"
            rows.append(("slider move: generate + PNG", f"{m['total_ms']:.2f} ms", note))
        if "figures" in ui:
            f = ui["figures"]
            rows += [
                (
                    "train page figures: build",
                    f"{f['build_ms']:.1f} ms",
                    f"{f['figures']} figures, {f['history_points']} history points",
                ),
                (
                    "  build + serialise",
                    f"{f['build_and_serialise_ms']:.1f} ms",
                    "what st.plotly_chart sends",
                ),
                ("image grid 64x32px + PNG", f"{f['image_grid_png_ms']:.2f} ms", ""),
            ]
        if "live_measures" in ui:
            m = ui["live_measures"]
            rows += [
                (
                    f"live measures, {m['samples']} digits samples",
                    f"{m['all_ms']:.0f} ms",
                    f"every eval_every={m['eval_every']} steps: {m['slowdown_pct']:.1f}% of "
                    f"training time ({m['step_ms']:.0f} ms a step)",
                ),
                ("  of which FID + KID + IS", f"{m['fid_ms']:.0f} ms", "torchmetrics, classifier"),
            ]
        table(
            "4. UI costs (CPU)",
            [(n, lambda r, i=i: r[i]) for i, n in enumerate(("what", "time", "note"))],
            rows,
        )
    if "memory" in results:
        table(
            "5. Memory over a long Run (ring8, log every step, sample every 20 steps; MB RSS)",
            [
                ("steps", key("steps")),
                ("history points", key("history_points")),
                ("cap", key("history_capacity")),
                ("frames", key("frames")),
                ("cap", key("max_frames")),
                ("RSS start", key("rss_start_mb")),
                ("warm", key("rss_warm_mb")),
                ("end", key("rss_end_mb")),
                ("max", key("rss_max_mb")),
                ("growth after warm-up", key("growth_after_warmup_mb")),
            ],
            [results["memory"]],
        )
    if "ray" in results:
        table(
            "Ray backend: a ring8-stable run in an actor, polled once a second or not",
            [(n, key(n)) for n in ("quiet_steps_per_s", "polled_steps_per_s",
                                   "ratio_polled_vs_quiet", "ratio_range",
                                   "cpu_ratio_polled_vs_quiet", "cpu_ratio_range", "snapshot_ms",
                                   "blocks", "block_s")],
            [results["ray"]],
        )
    if results.get("skipped"):
        lines.extend(["", "Skipped (past --quick's deadline): " + "; ".join(results["skipped"])])
    table(
        "Targets (speed targets must hold by both clocks)",
        [
            ("target", key("target")),
            ("measured", key("measured")),
            ("status", lambda t: t["status"] + (f" ({t['why']})" if t["why"] else "")),
        ],
        results["targets"],
    )
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def main(args) -> int:
    """The `bench` subcommand (args from cli's parser)."""
    results = run_bench(
        device_name=args.device,
        quick=args.quick,
        threads=args.threads,
        block_s=args.budget,
        sections=parse_sections(args.only),
    )
    print(format_table(results))
    if getattr(args, "plot", None) and "learning" in results:
        Path(args.plot).write_bytes(learning_png(results["learning"]))
        print(f"wrote {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
