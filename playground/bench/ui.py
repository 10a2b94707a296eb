"""Section 4, ui: Start-to-first-update latency, one latent-explorer slider move, the Train page's
figures from a snapshot (and the bytes one redraw sends), the live measures' cost (FID, KID, IS)."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import torch

from playground.latent import LatentModel, load_latent_model, z_from_seed
from playground.measures.evaluation import EVAL_SEED, LIVE_SAMPLES, Evaluator
from playground.measures.fid import DistributionMeasures
from playground.runs.runner import Run
from playground.settings.presets import preset
from playground.storage.checkpoints import load_checkpoint
from playground.training.history import SERIES, BoundedHistory
from playground.training.trainer import Trainer
from playground.views import images
from playground.views.figures import line_figure, points_figure

from .common import EXAMPLE_DIGITS, POLL_SECONDS


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
    (playground.views.figures). At most `max_points` points per curve; None sends every logged
    one."""
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
    # What one redraw of the three live curve charts sends, thinned as the page does and not.
    curve_bytes = {
        most: sum(
            len(plotly.io.to_json(fig, validate=False))
            for fig in train_page_figures(
                data, samples, real, trainer.extent(), decision, max_points=most
            )[:3]
        )
        for most in (300, None)
    }
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
        "curve_redraw_bytes": curve_bytes[300],
        "curve_redraw_bytes_unthinned": curve_bytes[None],
    }
