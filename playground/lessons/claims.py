"""The lessons' claims, measured: each lesson's "what you should see" checked over seeds that were
not used to tune its set-up (`python -m playground.lessons.catalogue --seeds 10`, or
`python -m playground.lessons.claims`). CPU, one training at a time."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from playground.data.loading import held_out, load_dataset
from playground.data.registry import mixture_spec
from playground.lessons.catalogue import BY_KEY, LIPSCHITZ_AT, MEMORISE_AT
from playground.lessons.dirac import DiracSetup, distances, trajectory
from playground.measures.evaluation import DIAGNOSE_SAMPLES, Evaluator, enlarge
from playground.measures.metrics import coverage_2d
from playground.models.infogan import category_purity
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer


@dataclass(frozen=True)
class ClaimResult:
    seed: int
    holds: bool
    detail: str


def _train(cfg: GANConfig, on_step: Callable | None = None):
    """Train `cfg` on the CPU to the end; `on_step(trainer)` after every step."""
    trainer = Trainer(cfg.replace(device="cpu", eval_every=0))
    while trainer.step < trainer.cfg.steps:
        trainer.train_step()
        if on_step is not None:
            on_step(trainer)
    return trainer


def _coverage(trainer, n: int = 2500) -> dict:
    centres, sigma = mixture_spec(trainer.cfg.dataset)
    return coverage_2d(trainer.sample(n, seed=12345).numpy(), centres, sigma)


@dataclass(frozen=True)
class _Outcome:
    """What the claims read from one finished training."""

    coverage: dict
    movement: float  # mean move of a fixed-noise sample per 100 steps, 2nd half, / view width


_OUTCOMES: dict[str, _Outcome] = {}  # trainings several claims share (same config and seed)


def _outcome(cfg: GANConfig) -> _Outcome:
    """Train `cfg` once (later calls with the same settings reuse the result) and measure it:
    coverage at the end, and how far the fixed-noise samples move between frames 100 steps
    apart over the second half of the run."""
    key = cfg.to_json()
    if key not in _OUTCOMES:
        moves, last = [], []

        def watch(trainer) -> None:
            if trainer.step % 100 == 0 and trainer.step >= trainer.cfg.steps // 2:
                now = trainer.fixed_samples()
                if last:
                    moves.append(float(np.linalg.norm(now - last[0], axis=1).mean()))
                last[:] = [now]

        trainer = _train(cfg, watch)
        x0, x1, _, _ = trainer.extent()
        _OUTCOMES[key] = _Outcome(_coverage(trainer), float(np.mean(moves)) / (x1 - x0))
    return _OUTCOMES[key]


def _claim_game(seed: int) -> ClaimResult:
    held = _outcome(BY_KEY["game"].variants[0].config(seed)).coverage["modes_held"]
    return ClaimResult(seed, held == 8, f"{held}/8 held")


def _claim_collapse(seed: int) -> ClaimResult:
    collapse, fixed = (
        _outcome(cfg).coverage["modes_held"] for cfg in BY_KEY["collapse"].configs(seed)
    )
    return ClaimResult(
        seed, collapse <= 4 and fixed == 8, f"collapse {collapse}/8, fixed {fixed}/8"
    )


def _claim_vanishing(seed: int) -> ClaimResult:
    norms = []
    for cfg in BY_KEY["vanishing"].configs(seed):
        trainer = _train(cfg.replace(steps=500, log_every=5))
        norms.append(float(np.median(trainer.history.copy()["g_grad_norm"])))
    ratio = norms[1] / max(norms[0], 1e-12)
    return ClaimResult(
        seed, ratio >= 5, f"‖∇G‖ minimax {norms[0]:.3g}, non-sat. {norms[1]:.3g} ({ratio:.0f}x)"
    )


def _claim_nonconvergence(seed: int) -> ClaimResult:
    setup = BY_KEY["nonconvergence"].dirac
    plain = distances(trajectory(setup))
    r1 = distances(trajectory(DiracSetup(**{**vars(setup), "regulariser": "r1"})))
    wild = _outcome(BY_KEY["nonconvergence"].variants[0].config(seed)).movement
    calm = _outcome(BY_KEY["game"].variants[0].config(seed)).movement  # the stable run
    holds = plain[-1] > plain[0] and r1[-1] < 1e-3 and wild >= 3 * calm
    return ClaimResult(
        seed,
        holds,
        f"Dirac {plain[0]:.2f}→{plain[-1]:.2f}, R1 →{r1[-1]:.1e}; moves {wild:.3f} vs {calm:.3f}",
    )


def critic_slope(trainer, n: int = 512) -> float:
    """D's median gradient norm ‖∇ₓD(x̂)‖ at points x̂ between real and fake samples (where
    WGAN-GP's penalty looks): about 1 for a critic that uses its Lipschitz budget."""
    import torch

    gen = torch.Generator(trainer.device).manual_seed(5)
    real, _ = trainer.data.sample(n, gen)
    fake = torch.as_tensor(trainer.fixed_samples()[:n], device=trainer.device)
    n = min(len(real), len(fake))
    eps = torch.rand(n, 1, generator=gen, device=trainer.device)
    mixed = (eps * real[:n] + (1 - eps) * fake[:n]).requires_grad_(True)
    with torch.enable_grad():
        scores = trainer.D(mixed.repeat(1, trainer.cfg.pack))
        (grad,) = torch.autograd.grad(scores.sum(), mixed)
    return float(grad.norm(dim=1).median())


def _claim_lipschitz(seed: int) -> ClaimResult:
    slopes = []
    for cfg in BY_KEY["lipschitz"].configs(seed):
        slopes.append(critic_slope(_train(cfg.replace(steps=LIPSCHITZ_AT))))
    clip, gp, sn = slopes
    holds = clip < 0.25 * gp and 0.5 <= gp <= 1.5 and sn <= 1.0 + 1e-3
    return ClaimResult(seed, holds, f"slope: clip {clip:.3f}, GP {gp:.2f}, SN {sn:.2f}")


def _claim_switch(seed: int) -> ClaimResult:
    lesson6 = BY_KEY["switch"]
    switch = lesson6.switch
    at_switch: list[int] = []

    def watch(trainer) -> None:
        if trainer.step == switch.at_step:  # as Run.set_hyper applies it, between steps
            at_switch.append(_coverage(trainer)["modes_covered"])
            trainer.apply(dict(switch.changes))

    after = _coverage(_train(lesson6.variants[0].config(seed), watch))["modes_covered"]
    return ClaimResult(
        seed, after > at_switch[0], f"{at_switch[0]}/8 covered at the switch → {after}/8"
    )


def _claim_latent(seed: int) -> ClaimResult:
    ring, info = BY_KEY["latent"].configs(seed)
    cov = _outcome(ring).coverage
    off = 1.0 - cov["high_quality_fraction"]
    purity, digits = infogan_purity(_train(info))
    holds = cov["modes_held"] == 8 and off >= 0.01 and purity >= 0.5
    return ClaimResult(
        seed,
        holds,
        f"{cov['modes_held']}/8 held, {100 * off:.1f}% off-mode; InfoGAN purity {purity:.2f} "
        f"({digits} digits)",
    )


def infogan_purity(trainer, n: int = 200) -> tuple[float, int]:
    """The mean purity of an InfoGAN's categorical code (for each value, the share of its n
    samples that the dataset's classifier names as their most common class) and how many
    distinct classes the values pick out."""
    evaluator = Evaluator(trainer.cfg.dataset, trainer.data)
    classifier = evaluator.wait_for_classifier()
    side = evaluator.data.shape[-1]

    def classify(images):
        return classifier.predict(enlarge(images, side))[0].argmax(1)

    found = category_purity(
        trainer.generate, trainer.codes, trainer.cfg.latent_dim, classify, n=n, seed=0
    )
    return float(np.mean([share for _, share in found])), len({cls for cls, _ in found})


def memorisation_gap(trainer, n: int = 512) -> float:
    """D's mean raw score on (up to n of) its training images minus on as many held-out ones
    (config train_images): above 0 when D recognises the images it was trained on."""
    import torch

    def mean_score(images: torch.Tensor) -> float:
        x = images[:n].to(trainer.device).float().div_(127.5).sub_(1.0)
        return float(trainer.D(x.repeat(1, trainer.cfg.pack, 1, 1)).mean())

    was_training = trainer.D.training
    trainer.D.eval()  # batch norm's running statistics: a score per image, not per batch
    try:
        with torch.no_grad():
            return mean_score(trainer.data.images) - mean_score(held_out(trainer.cfg))
    finally:
        trainer.D.train(was_training)


def _claim_memorise(seed: int) -> ClaimResult:
    gaps, fids = [], []
    for cfg in BY_KEY["memorise"].configs(seed):
        trainer = _train(cfg.replace(steps=MEMORISE_AT))
        gaps.append(memorisation_gap(trainer))
        every_digit = load_dataset(cfg.replace(train_images=0))  # FID against all 1,797
        report = Evaluator(cfg.dataset, every_digit).measure(trainer.sample(DIAGNOSE_SAMPLES))
        fids.append(report.measures["fid"])
    (gap, gap_da), (fid, fid_da) = gaps, fids
    holds = gap >= 2 * max(gap_da, 0.0) and gap > 0 and fid_da < fid
    detail = f"gap {gap:.2f} vs {gap_da:.2f} with DiffAugment; FID {fid:.1f} vs {fid_da:.1f}"
    return ClaimResult(seed, holds, detail)


CLAIMS: dict[str, Callable[[int], ClaimResult]] = {
    "game": _claim_game,
    "collapse": _claim_collapse,
    "vanishing": _claim_vanishing,
    "nonconvergence": _claim_nonconvergence,
    "lipschitz": _claim_lipschitz,
    "switch": _claim_switch,
    "latent": _claim_latent,
    "memorise": _claim_memorise,
}


def measure_claims(
    seeds: tuple[int, ...], keys: tuple[str, ...] | None = None, log: Callable = print
) -> dict[str, list[ClaimResult]]:
    """Each lesson's claim on each seed (CPU, one training at a time), seed by seed, so an
    interrupted measurement still covers every lesson on its first seeds."""
    keys = keys or tuple(CLAIMS)
    results: dict[str, list[ClaimResult]] = {key: [] for key in keys}
    for seed in seeds:
        for key in keys:
            started = time.perf_counter()
            result = CLAIMS[key](seed)
            results[key].append(result)
            log(
                f"{key} seed {seed}: {'holds' if result.holds else 'FAILS'} ({result.detail}; "
                f"{time.perf_counter() - started:.0f} s)"
            )
        _OUTCOMES.clear()  # trainings are shared within a seed only
    return results


def claims_table(results: dict[str, list[ClaimResult]]) -> str:
    """A Markdown table: lesson, claim, seeds on which it holds."""
    rows = ["| lesson | claim | holds on |", "|---|---|---|"]
    for key, found in results.items():
        entry = BY_KEY[key]
        held = sum(r.holds for r in found)
        rows.append(f"| {entry.number}. {entry.title} | {entry.claim} | {held} of {len(found)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground.lessons",
        description="Measure the lessons' claims over fresh seeds.",
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 … N−1 (default 10)")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--only", nargs="*", choices=tuple(CLAIMS), help="these lessons only")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    seeds = tuple(range(args.first, args.first + args.seeds))
    results = measure_claims(seeds, tuple(args.only or ()) or None)
    print(claims_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
