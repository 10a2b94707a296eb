"""Section 2b, learning (GPU): the same DCGAN trained on real pictures with and without the
fast paths, to show that the loss curves agree in shape."""

from __future__ import annotations

import io
import math
import statistics
import time

import torch

from playground.data.loading import load_dataset
from playground.training.trainer import Trainer

from .common import sync_device
from .overhead import dcgan64_config, plain_step

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
            sync_device(device)
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
