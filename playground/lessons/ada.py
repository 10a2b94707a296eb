"""Lesson 9's measurements: no augmentation, fixed DiffAugment and ADA on 100 digits, each
trained to the end and read the same way: the FID on the project's classifier features against
all 1,797 digits, and, every CHECK_EVERY steps, how well D tells the 100 training digits from
G's (its real/fake accuracy gap) with ADA's p and r_t beside it.

`python -m playground.lessons.ada --seeds 10 --first 0` measures the three arms on seeds 0–9 (CPU,
one torch thread, one training at a time) and writes every figure to ada.json beside this file;
`claims.CLAIMS["ada"]` is `claim` below, one seed at a time, for `python -m playground.lessons`.
`figure` draws the stored curves (gap over time per arm; p beside r_t) as a plotly figure.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from playground.data.loading import held_out, load_dataset
from playground.lessons.catalogue import BY_KEY
from playground.measures.evaluation import DIAGNOSE_SAMPLES, Evaluator
from playground.objectives import ada
from playground.objectives.diffaugment import diff_augment, parse_policy
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer

KEY = "ada"  # the lesson's key in the catalogue
RESULTS = Path(__file__).with_name("ada.json")  # the measured arms, every seed, every curve
CHECK_EVERY = 100  # steps between two looks at D's accuracy
LOOK_SAMPLES = 100  # G's digits D is shown at a look (as many as there are training digits)


@dataclass
class ArmResult:
    """One arm on one seed: its FID at the end and its curves (one point per look). "Called
    real": the share of a set of images that D scores above 0, once through the arm's own
    augmentation (as D sees images in training, at ADA's p of the moment) and once plain."""

    label: str
    seed: int
    fid: float
    steps: list[int] = field(default_factory=list)
    real_called_real: list[float] = field(default_factory=list)  # the training digits, as D plays
    fake_called_real: list[float] = field(default_factory=list)  # G's digits, as D plays
    plain_real_called_real: list[float] = field(default_factory=list)  # not augmented
    plain_fake_called_real: list[float] = field(default_factory=list)
    held_out_called_real: list[float] = field(default_factory=list)  # digits D never sees, plain
    ada_p: list[float] = field(default_factory=list)  # ADA only: p at the look
    ada_rt: list[float] = field(default_factory=list)  # ADA only: r_t since the last log
    seconds: float = 0.0

    @property
    def gap(self) -> list[float]:
        """D's real/fake accuracy gap at each look, as it plays: the share of the training
        digits it calls real minus the share of G's digits it calls real, both through the
        arm's augmentation (0: it cannot tell them apart; 1: it separates them perfectly)."""
        return [r - f for r, f in zip(self.real_called_real, self.fake_called_real, strict=True)]

    @property
    def late_gap(self) -> float:
        """The mean gap over the second half of the run."""
        half = [g for s, g in zip(self.steps, self.gap, strict=True) if s > self.steps[-1] / 2]
        return float(np.mean(half)) if half else float("nan")

    @property
    def late_held_out(self) -> float:
        """The mean share of the never-seen digits D calls real, over the second half (low
        while it calls the training digits real: it has learnt those by heart)."""
        half = [
            h for s, h in zip(self.steps, self.held_out_called_real, strict=True)
            if s > self.steps[-1] / 2
        ]
        return float(np.mean(half)) if half else float("nan")


def called_real(trainer: Trainer, images: torch.Tensor, augment: Callable | None = None) -> float:
    """The share of `images` (uint8 or [-1, 1] floats, (N, C, H, W)) that D scores as real
    (raw score > 0), seen as D sees a batch in training (one batch of one kind: batch norm's
    statistics are the batch's), through `augment` when given. D's buffers (batch norm's
    running statistics, spectral norm's vectors) are put back, so the look leaves the run as
    it was; `augment` draws from its own generator, not the run's."""
    x = images.to(trainer.device).float()
    if images.dtype == torch.uint8:
        x = x.div_(127.5).sub_(1.0)
    saved = [b.clone() for b in trainer.D.buffers()]
    try:
        with torch.no_grad():
            if augment is not None:
                x = augment(x)
            scores = trainer.D(x.repeat(1, trainer.cfg.pack, 1, 1))
        return float((scores > 0).float().mean())
    finally:
        with torch.no_grad():
            for buffer, value in zip(trainer.D.buffers(), saved, strict=True):
                buffer.copy_(value)


def arm_augmentation(cfg: GANConfig, p: float, gen: torch.Generator) -> Callable | None:
    """What the arm does to every image D sees: DiffAugment's policy, ADA at probability p,
    or nothing (None)."""
    if cfg.ada_target > 0:
        return lambda x: ada.augment(x, p, gen)
    if cfg.diffaugment:
        return lambda x: diff_augment(x, parse_policy(cfg.diffaugment), gen)
    return None


def measure_arm(cfg: GANConfig, label: str, log: Callable | None = None) -> ArmResult:
    """Train `cfg` on the CPU to its end, looking at D every CHECK_EVERY steps; then its FID."""
    started = time.perf_counter()
    trainer = Trainer(cfg.replace(device="cpu", eval_every=0))
    train_digits = trainer.data.images
    unseen = held_out(trainer.cfg)[: len(train_digits)]
    gen = torch.Generator().manual_seed(cfg.seed)  # the looks' own draws
    result = ArmResult(label, cfg.seed, float("nan"))
    while trainer.step < trainer.cfg.steps:
        trainer.train_step()
        if trainer.step % CHECK_EVERY == 0:
            last = trainer.history.copy()
            p = float(last["ada_p"][-1]) if last.get("ada_p") else 0.0
            augment = arm_augmentation(trainer.cfg, p, gen)
            fakes = trainer.sample(LOOK_SAMPLES, seed=trainer.step)
            result.steps.append(trainer.step)
            result.real_called_real.append(called_real(trainer, train_digits, augment))
            result.fake_called_real.append(called_real(trainer, fakes, augment))
            result.plain_real_called_real.append(called_real(trainer, train_digits))
            result.plain_fake_called_real.append(called_real(trainer, fakes))
            result.held_out_called_real.append(called_real(trainer, unseen))
            if last.get("ada_p"):
                result.ada_p.append(p)
                result.ada_rt.append(float(last["ada_rt"][-1]))
    every_digit = load_dataset(cfg.replace(train_images=0))  # FID against all 1,797
    report = Evaluator(cfg.dataset, every_digit).measure(trainer.sample(DIAGNOSE_SAMPLES))
    result.fid = float(report.measures["fid"])
    result.seconds = time.perf_counter() - started
    if log is not None:
        log(
            f"  {label}, seed {cfg.seed}: FID {result.fid:.1f}, late gap {result.late_gap:.2f}, "
            f"held-out called real {result.late_held_out:.2f}"
            + (f", p {result.ada_p[-1]:.2f}" if result.ada_p else "")
            + f" ({result.seconds:.0f} s)",
        )
    return result


def measure_seed(seed: int, log: Callable | None = None) -> list[ArmResult]:
    """The lesson's three arms (in its order) on one seed."""
    entry = BY_KEY[KEY]
    return [measure_arm(v.config(seed), v.label, log) for v in entry.variants]


def claim_holds(arms: Sequence[ArmResult]) -> tuple[bool, str]:
    """The per-seed part of the claim: ADA's FID is below no augmentation's. The detail names
    all three FIDs, the late gaps and ADA's final p."""
    plain, diffaug, ada = arms
    holds = ada.fid < plain.fid
    detail = (
        f"FID none {plain.fid:.1f}, DiffAugment {diffaug.fid:.1f}, ADA {ada.fid:.1f}; "
        f"gap {plain.late_gap:.2f}/{diffaug.late_gap:.2f}/{ada.late_gap:.2f}; "
        f"ADA p {ada.ada_p[-1] if ada.ada_p else float('nan'):.2f}"
    )
    return holds, detail


def summary(per_seed: Sequence[Sequence[ArmResult]]) -> dict:
    """What holds over the seeds: median FID and late gap per arm, and on how many seeds each
    comparison goes ADA's way."""
    if not per_seed:
        return {}
    labels = [a.label for a in per_seed[0]]
    fids = np.array([[a.fid for a in arms] for arms in per_seed])  # (seeds, 3)
    gaps = np.array([[a.late_gap for a in arms] for arms in per_seed])
    p_end = [arms[2].ada_p[-1] for arms in per_seed if arms[2].ada_p]
    return {
        "seeds": [arms[0].seed for arms in per_seed],
        "labels": labels,
        "median_fid": dict(zip(labels, np.median(fids, 0).tolist(), strict=True)),
        "median_late_gap": dict(zip(labels, np.median(gaps, 0).tolist(), strict=True)),
        "ada_below_none": int((fids[:, 2] < fids[:, 0]).sum()),
        "ada_below_diffaugment": int((fids[:, 2] < fids[:, 1]).sum()),
        "diffaugment_below_none": int((fids[:, 1] < fids[:, 0]).sum()),
        "ada_gap_below_none": int((gaps[:, 2] < gaps[:, 0]).sum()),
        "median_final_p": float(np.median(p_end)) if p_end else float("nan"),
    }


def load_results(path: Path = RESULTS) -> list[list[ArmResult]]:
    """The stored arms, seed by seed ([] when nothing is stored)."""
    if not path.exists():
        return []
    stored = json.loads(path.read_text(encoding="utf-8"))
    return [[ArmResult(**arm) for arm in arms] for arms in stored["per_seed"]]


def write_results(per_seed: Sequence[Sequence[ArmResult]], path: Path = RESULTS) -> None:
    document = {
        "command": "python -m playground.lessons.ada --seeds "
        f"{len(per_seed)} --first {per_seed[0][0].seed}",
        "summary": summary(per_seed),
        "per_seed": [[asdict(a) for a in arms] for arms in per_seed],
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def figure(per_seed: Sequence[Sequence[ArmResult]], translate: Callable[[str], str] = str):
    """Two panels from stored results: D's real/fake accuracy gap over time per arm (median
    over the seeds), and ADA's p beside r_t (median over the seeds) with the target."""
    t = translate
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(t("D's real/fake accuracy gap"), t("ADA: p beside r_t")),
    )
    if per_seed:
        steps = per_seed[0][0].steps
        for i, arm in enumerate(per_seed[0]):
            gaps = np.median([arms[i].gap for arms in per_seed], 0)
            fig.add_trace(go.Scatter(x=steps, y=gaps, name=t(arm.label), mode="lines"), 1, 1)
        ada = [arms[-1] for arms in per_seed if arms[-1].ada_p]
        if ada:
            fig.add_trace(
                go.Scatter(x=steps, y=np.median([a.ada_p for a in ada], 0), name="p"), 1, 2
            )
            fig.add_trace(
                go.Scatter(x=steps, y=np.median([a.ada_rt for a in ada], 0), name="r_t"), 1, 2
            )
            target = BY_KEY[KEY].variants[-1].config().ada_target
            fig.add_hline(y=target, line_dash="dot", row=1, col=2)
    fig.update_xaxes(title_text=t("step"))
    fig.update_layout(height=360, margin=dict(t=40, b=40, l=40, r=10))
    return fig


def claim(seed: int):
    """claims.CLAIMS["ada"]: (holds, detail) on one seed."""
    return claim_holds(measure_seed(seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground.lessons.ada",
        description="Measure lesson 9's arms (no augmentation, DiffAugment, ADA) over seeds.",
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0, help="shorter runs (0: the lesson's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    per_seed = []
    for seed in range(args.first, args.first + args.seeds):
        arms = measure_seed(seed, print) if not args.steps else [
            measure_arm(v.config(seed).replace(steps=args.steps), v.label, print)
            for v in BY_KEY[KEY].variants
        ]
        per_seed.append(arms)
        holds, detail = claim_holds(arms)
        print(f"seed {seed}: {'holds' if holds else 'FAILS'} ({detail})", flush=True)
        write_results(per_seed, args.out)  # after every seed: an interrupted run keeps them
    print(json.dumps(summary(per_seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

