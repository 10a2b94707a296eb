"""CycleGAN's lesson, measured: without the cycle-consistency term (λ = 0) the two translators
each match the other domain's points but nothing ties them together, so a round trip
a → G(a) → F(G(a)) lands on some other part of A; with λ = 10 (the paper's weight) the round
trip comes home. Domains: training.cyclegan's A (the ring of 8 Gaussians) and B (the same ring
stretched and turned).

Read per seed, on held-out points drawn apart from training: the round-trip share (the share of
A's points whose round trip lands within TOLERANCE of where it started; the same for B through
G(F(b))), and, so a map that leaves every point where it is would not pass, how well G(A) matches
B (precision and coverage of the project's 2D point measures; B's modes covered and held).

The set-up (STEPS, TOLERANCE, the networks' sizes) was tuned on seeds TUNING_SEEDS only; the
figures are measured on seeds 0–9: `python -m playground.lessons.cyclegan --seeds 10 --first 0`
(CPU, one torch thread) writes them to cyclegan.json beside this file. The claim: λ = 10's
round-trip share on A is above λ = 0's on at least 9 of the 10 seeds.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from playground.measures.metrics import coverage_2d
from playground.measures.translation import round_trip_share, translation_match
from playground.training.cyclegan import CycleGAN, CycleGANSetup, domain_a, domain_b, domain_b_modes
from playground.views.cyclegan import round_trip_figure

RESULTS = Path(__file__).with_name("cyclegan.json")
TUNING_SEEDS = (100, 101, 102)  # STEPS and TOLERANCE were chosen on these; never measured on
STEPS = 2000
TOLERANCE = 0.25  # data units: A's modes are 1.53 apart on a ring of radius 2, σ = 0.02
HELD_OUT = 1000  # held-out points per domain
HELD_OUT_SEED = 12345  # their draw, apart from every training seed's
ARMS = (("λ = 0 (no cycle loss)", 0.0), ("λ = 10", 10.0))
SEEDS_NEEDED = 9  # of 10: the claim's bar


@dataclass
class ArmResult:
    """One arm on one seed, read on the held-out points."""

    label: str
    seed: int
    cycle_weight: float
    round_trip_a: float  # share of A's points with ‖F(G(a)) − a‖ ≤ TOLERANCE
    round_trip_b: float  # share of B's points with ‖G(F(b)) − b‖ ≤ TOLERANCE
    precision: float  # G(A) against B: share of translated points on B's manifold
    coverage: float  # share of B's k-NN neighbourhoods some translated point reaches
    median_nearest: float  # median distance from G(a) to its nearest B point
    modes_covered: int  # of B's 8 modes, those some G(a) lands within 3σ of
    modes_held: int
    seconds: float


def held_out_points() -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed held-out sets of A and B (HELD_OUT points each, (N, 2))."""
    gen = torch.Generator().manual_seed(HELD_OUT_SEED)
    return domain_a(HELD_OUT, gen), domain_b(HELD_OUT, gen)


def train(seed: int, cycle_weight: float, steps: int = STEPS) -> CycleGAN:
    """One arm's run, trained to its end on the CPU."""
    return CycleGAN(CycleGANSetup(seed=seed, steps=steps, cycle_weight=cycle_weight)).train()


def read_arm(model: CycleGAN, label: str, seed: int, seconds: float = 0.0) -> ArmResult:
    a, b = held_out_points()
    match = translation_match(model.translate_a, a, b)
    centres, sigma = domain_b_modes()
    modes = coverage_2d(model.translate_a(a).numpy(), centres.numpy(), sigma)
    return ArmResult(
        label=label,
        seed=seed,
        cycle_weight=model.setup.cycle_weight,
        round_trip_a=round_trip_share(model.translate_a, model.translate_b, a, TOLERANCE),
        round_trip_b=round_trip_share(model.translate_b, model.translate_a, b, TOLERANCE),
        precision=match["precision"],
        coverage=match["coverage"],
        median_nearest=match["median_nearest"],
        modes_covered=modes["modes_covered"],
        modes_held=modes["modes_held"],
        seconds=seconds,
    )


def measure_seed(seed: int, steps: int = STEPS, log: Callable | None = None) -> list[ArmResult]:
    """The two arms (λ = 0, then λ = 10) on one seed."""
    arms = []
    for label, weight in ARMS:
        started = time.perf_counter()
        model = train(seed, weight, steps)
        arm = read_arm(model, label, seed, time.perf_counter() - started)
        arms.append(arm)
        if log is not None:
            log(
                f"  {label}, seed {seed}: round trip A {arm.round_trip_a:.3f}, "
                f"B {arm.round_trip_b:.3f}; G(A) precision {arm.precision:.2f}, coverage "
                f"{arm.coverage:.2f}, B's modes covered {arm.modes_covered}/8 "
                f"({arm.seconds:.0f} s)"
            )
    return arms


def claim_holds(arms: Sequence[ArmResult]) -> tuple[bool, str]:
    """The per-seed part of the claim: λ = 10's round-trip share on A is above λ = 0's."""
    without, with_cycle = arms
    detail = (
        f"round trip A {without.round_trip_a:.3f} → {with_cycle.round_trip_a:.3f}, "
        f"B {without.round_trip_b:.3f} → {with_cycle.round_trip_b:.3f}; G(A) coverage "
        f"{without.coverage:.2f} → {with_cycle.coverage:.2f}"
    )
    return with_cycle.round_trip_a > without.round_trip_a, detail


def summary(per_seed: Sequence[Sequence[ArmResult]]) -> dict:
    """Medians per arm and on how many seeds λ = 10 beats λ = 0."""
    if not per_seed:
        return {}
    labels = [arm.label for arm in per_seed[0]]
    keys = ("round_trip_a", "round_trip_b", "precision", "coverage", "median_nearest",
            "modes_covered", "modes_held")
    table = {k: np.array([[getattr(arm, k) for arm in arms] for arms in per_seed]) for k in keys}
    higher = int((table["round_trip_a"][:, 1] > table["round_trip_a"][:, 0]).sum())
    return {
        "seeds": [arms[0].seed for arms in per_seed],
        "tuning_seeds": list(TUNING_SEEDS),
        "tolerance": TOLERANCE,
        "labels": labels,
        **{
            f"median_{k}": dict(zip(labels, np.median(v, 0).tolist(), strict=True))
            for k, v in table.items()
        },
        "cycle_round_trip_a_higher": higher,
        "cycle_round_trip_b_higher": int(
            (table["round_trip_b"][:, 1] > table["round_trip_b"][:, 0]).sum()
        ),
        "claim_holds": higher >= SEEDS_NEEDED * len(per_seed) / 10,
    }


def load_results(path: Path = RESULTS) -> list[list[ArmResult]]:
    """The stored arms, seed by seed ([] when nothing is stored)."""
    if not path.exists():
        return []
    stored = json.loads(path.read_text(encoding="utf-8"))
    return [[ArmResult(**arm) for arm in arms] for arms in stored["per_seed"]]


def write_results(
    per_seed: Sequence[Sequence[ArmResult]], steps: int, path: Path = RESULTS
) -> None:
    document = {
        "command": "python -m playground.lessons.cyclegan --seeds "
        f"{len(per_seed)} --first {per_seed[0][0].seed}"
        + (f" --steps {steps}" if steps != STEPS else ""),
        "summary": summary(per_seed) | {"steps": steps},
        "per_seed": [[asdict(arm) for arm in arms] for arms in per_seed],
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def picture(model: CycleGAN, n: int = 400, translate: Callable[[str], str] = str):
    """The round-trip figure of a trained run on the first `n` held-out points."""
    a, b = held_out_points()
    a, b = a[:n], b[:n]
    translated = model.translate_a(a)
    returned = model.translate_b(translated)
    title = translate("λ = {weight:g}: A, G(A) over B, and each round trip").format(
        weight=model.setup.cycle_weight
    )
    return round_trip_figure(
        a.numpy(), translated.numpy(), b.numpy(), returned.numpy(), title, translate=translate
    )


def claim(seed: int) -> tuple[bool, str]:
    """(holds, detail) on one seed, measured as cyclegan.json's were."""
    return claim_holds(measure_seed(seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground.lessons.cyclegan",
        description="Measure CycleGAN's round trip with and without the cycle loss over seeds.",
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    per_seed = []
    for seed in range(args.first, args.first + args.seeds):
        if seed in TUNING_SEEDS:
            print(f"seed {seed} was used for tuning: measure on other seeds")
            return 2
        arms = measure_seed(seed, args.steps, print)
        per_seed.append(arms)
        holds, detail = claim_holds(arms)
        print(f"seed {seed}: {'holds' if holds else 'FAILS'} ({detail})", flush=True)
        write_results(per_seed, args.steps, args.out)  # after each seed: kept if interrupted
    print(json.dumps(summary(per_seed) | {"steps": args.steps}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
