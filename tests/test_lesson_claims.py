"""The lessons' claims, checked without training: each measure on inputs whose answer is known,
and each claim's decision on constructed outcomes on both sides of its thresholds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from playground.data.registry import mixture_spec
from playground.lessons import catalogue, claims
from playground.models.infogan import Codes

_CENTRES, SIGMA = mixture_spec("ring8")
RING = np.asarray(_CENTRES, dtype=np.float64)
RADIUS = 2.0  # the ring of 8's


# ---------------------------------------------------------------------- critic_slope
class _Points:
    """A data source of 2D points all at `at`."""

    def __init__(self, at=(0.0, 0.0)):
        self.at = torch.tensor(at, dtype=torch.float32)

    def sample(self, n, generator):
        return self.at.expand(n, 2).clone(), None


def _critic_trainer(d, real_at=(0.0, 0.0), fake=None, pack=1):
    if fake is None:
        fake = np.random.default_rng(0).normal(size=(512, 2)).astype(np.float32)
    return SimpleNamespace(
        device=torch.device("cpu"),
        data=_Points(real_at),
        fixed_samples=lambda: fake,
        D=d,
        cfg=SimpleNamespace(pack=pack),
    )


def _linear(weights) -> nn.Linear:
    layer = nn.Linear(len(weights), 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weights]))
        layer.bias.fill_(0.7)
    return layer


@pytest.mark.parametrize("slope", [0.0, 0.3, 2.5])
def test_critic_slope_of_a_linear_critic_is_its_slope(slope):
    d = _linear([slope * 0.6, slope * 0.8])  # ‖w‖ = slope
    assert claims.critic_slope(_critic_trainer(d)) == pytest.approx(slope, abs=1e-6)


def test_critic_slope_of_a_constant_critic_is_zero():
    def constant(x):
        return x.sum(1, keepdim=True) * 0.0 + 3.0

    assert claims.critic_slope(_critic_trainer(constant)) == 0.0


def test_critic_slope_is_measured_between_real_and_fake_points():
    """D(x) = ‖x‖²/2 has slope ‖x‖: with real points at (4, 0) and fake ones at (0, 0), the
    points between them are (4ε, 0) with ε uniform, so the median slope is about 2."""

    def bowl(x):
        return (x**2).sum(1, keepdim=True) / 2

    fake = np.zeros((512, 2), dtype=np.float32)
    slope = claims.critic_slope(_critic_trainer(bowl, real_at=(4.0, 0.0), fake=fake))
    assert slope == pytest.approx(2.0, abs=0.25)


def test_critic_slope_sees_a_packed_critic_through_its_repeated_input():
    d = _linear([0.3, 0.0, 0.0, 0.4])  # a pack of 2: the point twice, so ∇ = (0.3, 0.4)
    assert claims.critic_slope(_critic_trainer(d, pack=2)) == pytest.approx(0.5, abs=1e-6)


# ---------------------------------------------------------------------- memorisation_gap
class _MeanScore(nn.Module):
    """D's score: an image's mean pixel in [-1, 1]; in training mode (batch statistics) it
    would see no difference at all, so only an eval-mode score shows the gap."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)) * (0.0 if self.training else 1.0)


def _images(n, value):
    return torch.full((n, 1, 4, 4), value, dtype=torch.uint8)


@pytest.fixture
def held_out_at(monkeypatch):
    def set_value(value, n=300):
        monkeypatch.setattr(claims, "held_out", lambda cfg: _images(n, value))

    return set_value


def test_memorisation_gap_is_the_score_difference_in_eval_mode(held_out_at):
    held_out_at(0)  # held-out images score -1
    d = _MeanScore().train()
    trainer = SimpleNamespace(
        D=d,
        device=torch.device("cpu"),
        cfg=SimpleNamespace(pack=1),
        data=SimpleNamespace(images=_images(200, 255)),  # training images score +1
    )
    assert claims.memorisation_gap(trainer) == pytest.approx(2.0)
    assert d.training, "D is put back in training mode"


def test_memorisation_gap_reads_the_first_n_images_and_sees_no_gap_when_there_is_none(
    held_out_at,
):
    held_out_at(255)
    images = torch.cat([_images(10, 255), _images(90, 0)])  # only the first 10 are looked at
    trainer = SimpleNamespace(
        D=_MeanScore(),
        device=torch.device("cpu"),
        cfg=SimpleNamespace(pack=2),  # the score is the same for a pack of an image twice
        data=SimpleNamespace(images=images),
    )
    assert claims.memorisation_gap(trainer, n=10) == pytest.approx(0.0, abs=1e-6)
    assert claims.memorisation_gap(trainer, n=100) == pytest.approx(-1.8, abs=1e-5)


# ---------------------------------------------------------------------- infogan_purity
CODES = Codes(10, 2)
LATENT = 20


def _purity_trainer(monkeypatch, class_of, stray=None):
    """A generator that draws category k as an 8x8 image of value class_of(k)/10 (and, for
    every other sample when `stray` is set, class `stray`), read by a classifier that names
    the value: category_purity's answer is known."""

    def generate(z):
        category = z[:, LATENT - CODES.size : LATENT - CODES.continuous].argmax(1)
        classes = torch.tensor([class_of(int(k)) for k in category], dtype=torch.float32)
        if stray is not None:
            classes[1::2] = stray
        return (classes / 10).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)

    class Classifier:
        def predict(self, images):
            names = (images.mean(dim=(1, 2, 3)) * 10).round().long()
            return torch.nn.functional.one_hot(names, 10).float(), None

    class Evaluator:
        def __init__(self, dataset, data):
            self.data = SimpleNamespace(shape=(1, 8, 8))

        def wait_for_classifier(self):
            return Classifier()

    monkeypatch.setattr(claims, "Evaluator", Evaluator)
    cfg = SimpleNamespace(dataset="digits", latent_dim=LATENT)
    return SimpleNamespace(generate=generate, codes=CODES, cfg=cfg, data=None)


def test_infogan_purity_of_codes_that_each_pick_one_digit(monkeypatch):
    trainer = _purity_trainer(monkeypatch, lambda k: k // 2)  # 10 values onto 5 digits
    assert claims.infogan_purity(trainer, n=40) == (1.0, 5)


def test_infogan_purity_of_codes_half_of_whose_samples_are_another_digit(monkeypatch):
    trainer = _purity_trainer(monkeypatch, lambda k: k % 3, stray=9)
    purity, digits = claims.infogan_purity(trainer, n=40)
    assert purity == pytest.approx(0.5)
    assert digits == 3  # ties go to the smaller class: 0, 1, 2


def test_infogan_purity_of_a_code_the_generator_ignores(monkeypatch):
    trainer = _purity_trainer(monkeypatch, lambda k: 4, stray=7)
    assert claims.infogan_purity(trainer, n=40) == (pytest.approx(0.5), 1)


# ---------------------------------------------------------------------- clump_measures
def _ring_points(angle: float, n: int = 64, jitter: float = 0.0) -> np.ndarray:
    centre = RADIUS * np.array([np.cos(angle), np.sin(angle)])
    offsets = np.random.default_rng(1).normal(scale=jitter, size=(n, 2)) if jitter else 0.0
    return centre + np.zeros((n, 2)) + offsets


def test_clump_measures_of_a_dead_generator():
    frames = [np.full((64, 2), 0.3)] * 10  # one point, never moving
    found = claims.clump_measures(frames, RING, SIGMA)
    assert found == pytest.approx({"spread": 0.0, "jump": 0.0, "on_modes": 0.0}, abs=1e-12)


def test_clump_measures_of_samples_spread_over_every_mode():
    frames = [np.repeat(RING, 8, axis=0)] * 5
    found = claims.clump_measures(frames, RING, SIGMA)
    assert found["spread"] == pytest.approx(1.0)
    assert found["jump"] == pytest.approx(0.0)
    assert found["on_modes"] == 1.0


def test_clump_measures_of_a_clump_jumping_across_the_ring():
    """A tight clump between two modes, alternately on opposite sides of the ring: its centre
    moves a diameter (2 R) between looks, less the pull of the 6 of 64 samples that sit on a
    mode throughout."""
    between = np.pi / 8  # halfway between the modes at angles 0 and π/4
    frames = [_ring_points(between + np.pi * (i % 2), jitter=0.1) for i in range(6)]
    for frame in frames:
        frame[:6] = RING[0]  # 6 of 64 samples on a mode
    found = claims.clump_measures(frames, RING, SIGMA)
    assert found["jump"] == pytest.approx(2.0 * 58 / 64, rel=0.02)
    assert 0.05 < found["spread"] < claims.CLUMP_SPREAD
    assert found["on_modes"] == pytest.approx(6 / 64)


def test_clump_measures_spread_is_the_rms_distance_from_the_centre_over_the_radius():
    frame = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) * 0.5  # RMS 0.5
    assert claims.clump_measures([frame], RING, SIGMA)["spread"] == pytest.approx(0.25)


# ---------------------------------------------------------------------- the claims' decisions
def _outcome(held=8, hq=1.0, movement=0.01, clump=None, covered=None):
    coverage = dict(modes_held=held, modes_covered=covered or held, high_quality_fraction=hq)
    return claims._Outcome(coverage, movement, clump or {})


def _by_config(monkeypatch, outcomes: dict) -> None:
    """claims._outcome answers for each config in `outcomes` (config JSON -> outcome)."""
    monkeypatch.setattr(claims, "_outcome", lambda cfg: outcomes[cfg.to_json()])


def _variant(key: str, index: int = 0, seed: int = 0):
    return catalogue.BY_KEY[key].configs(seed)[index]


@pytest.mark.parametrize("held, holds", [(8, True), (7, False), (0, False)])
def test_claim_game_needs_all_eight_modes(monkeypatch, held, holds):
    _by_config(monkeypatch, {_variant("game").to_json(): _outcome(held)})
    assert claims._claim_game(0).holds is holds


HOPPING = {"spread": 0.3, "jump": 1.8, "on_modes": 0.01}  # as seen on the tuning seeds


def _collapse(monkeypatch, clump, fixed_held=8):
    _by_config(
        monkeypatch,
        {
            _variant("collapse", 0).to_json(): _outcome(0, clump=clump),
            _variant("collapse", 1).to_json(): _outcome(fixed_held),
        },
    )
    return claims._claim_collapse(0)


def test_claim_collapse_holds_for_a_jumping_clump_between_modes_and_a_fixed_run(monkeypatch):
    result = _collapse(monkeypatch, HOPPING)
    assert result.holds, result.detail
    assert "fixed 8/8" in result.detail


def test_claim_collapse_fails_for_a_dead_generator(monkeypatch):
    dead = claims.clump_measures([np.full((64, 2), 0.3)] * 10, RING, SIGMA)
    assert not _collapse(monkeypatch, dead).holds


@pytest.mark.parametrize(
    "change, holds",
    [
        (dict(spread=0.49), True),
        (dict(spread=0.5), False),  # spread over much of the ring: not one clump
        (dict(spread=1.0), False),
        (dict(jump=0.5), True),
        (dict(jump=0.49), False),  # a clump that stays put
        (dict(on_modes=0.09), True),
        (dict(on_modes=0.1), False),  # collapsed onto modes, not between them
    ],
)
def test_claim_collapse_thresholds(monkeypatch, change, holds):
    assert _collapse(monkeypatch, {**HOPPING, **change}).holds is holds


def test_claim_collapse_fails_when_the_fix_misses_a_mode(monkeypatch):
    assert not _collapse(monkeypatch, HOPPING, fixed_held=7).holds


def _history_trainer(norms_by_loss: dict, seen: list):
    def train(cfg, on_step=None):
        seen.append(cfg)
        norms = norms_by_loss[cfg.loss]
        return SimpleNamespace(history=SimpleNamespace(copy=lambda: {"g_grad_norm": norms}))

    return train


@pytest.mark.parametrize("non_saturating, holds", [([9.0, 10.0, 11.0], True), ([9.9], False)])
def test_claim_vanishing_needs_a_fivefold_gradient_ratio(monkeypatch, non_saturating, holds):
    seen: list = []
    norms = {"minimax": [1.0, 2.0, 100.0], "nonsaturating": non_saturating}  # median 2 vs 10
    monkeypatch.setattr(claims, "_train", _history_trainer(norms, seen))
    assert claims._claim_vanishing(0).holds is holds
    assert [c.steps for c in seen] == [500, 500], "the claim reads the first 500 steps"


@pytest.mark.parametrize("wild, holds", [(0.301, True), (0.299, False)])
def test_claim_nonconvergence_2d_part_needs_three_times_the_stable_runs_movement(
    monkeypatch, wild, holds
):
    _by_config(
        monkeypatch,
        {
            _variant("nonconvergence").to_json(): _outcome(movement=wild),
            _variant("game").to_json(): _outcome(movement=0.1),
        },
    )
    result = claims._claim_nonconvergence(0)
    assert result.holds is holds and result.seed == 0
    assert "Dirac" not in result.detail, "the seedless part is reported once, not per seed"


def test_the_dirac_half_holds_once_without_a_seed():
    result = claims._dirac_nonconvergence()
    assert result.holds and result.seed is None
    assert claims.SEEDLESS["nonconvergence"] is claims._dirac_nonconvergence


@pytest.mark.parametrize(
    "plain, r1",
    [
        ([1.4, 1.0, 0.5], [1.4, 0.1, 1e-4]),  # the unregularised path converges too
        ([1.4, 1.7, 2.0], [1.4, 0.1, 2e-3]),  # R1 ends too far out
    ],
)
def test_the_dirac_half_fails_on_the_wrong_side(monkeypatch, plain, r1):
    paths = iter([np.array(plain), np.array(r1)])
    monkeypatch.setattr(claims, "trajectory", lambda setup: None)
    monkeypatch.setattr(claims, "distances", lambda path: next(paths))
    assert not claims._dirac_nonconvergence().holds


LIPSCHITZ_OK = {"wgan": 0.1, "wgan-gp": 1.0, "hinge": 0.9}


@pytest.mark.parametrize(
    "change, holds",
    [
        ({}, True),
        ({"wgan": 0.25}, False),  # a quarter of the GP critic's: not under it
        ({"wgan-gp": 0.45, "wgan": 0.1}, False),
        ({"wgan-gp": 1.6}, False),
        ({"wgan-gp": 0.5, "wgan": 0.12}, True),
        ({"hinge": 1.0}, True),
        ({"hinge": 1.01}, False),
    ],
)
def test_claim_lipschitz_thresholds(monkeypatch, change, holds):
    slopes = {**LIPSCHITZ_OK, **change}
    seen: list = []
    monkeypatch.setattr(claims, "_train", lambda cfg: seen.append(cfg.steps) or cfg)
    monkeypatch.setattr(claims, "critic_slope", lambda cfg: slopes[cfg.loss])
    assert claims._claim_lipschitz(0).holds is holds
    assert seen == [catalogue.LIPSCHITZ_AT] * 3


@pytest.mark.parametrize("before, after, holds", [(1, 6, True), (3, 3, False), (5, 4, False)])
def test_claim_switch_needs_more_modes_after_the_switch(monkeypatch, before, after, holds):
    applied: list = []
    switch = catalogue.BY_KEY["switch"].switch

    def train(cfg, on_step):
        trainer = SimpleNamespace(step=switch.at_step, phase="before", apply=applied.append)
        on_step(trainer)
        trainer.phase = "after"
        return trainer

    monkeypatch.setattr(claims, "_train", train)
    covered = {"before": before, "after": after}
    monkeypatch.setattr(claims, "_coverage", lambda t: {"modes_covered": covered[t.phase]})
    assert claims._claim_switch(0).holds is holds
    assert applied == [dict(switch.changes)]


@pytest.mark.parametrize(
    "held, hq, purity, holds",
    [
        (8, 0.99, 0.5, True),
        (8, 0.995, 0.9, False),  # under 1% off every mode
        (7, 0.9, 0.9, False),
        (8, 0.9, 0.49, False),
    ],
)
def test_claim_latent_thresholds(monkeypatch, held, hq, purity, holds):
    _by_config(monkeypatch, {_variant("latent", 0).to_json(): _outcome(held, hq)})
    monkeypatch.setattr(claims, "_train", lambda cfg: cfg)
    monkeypatch.setattr(claims, "infogan_purity", lambda cfg: (purity, 7))
    assert claims._claim_latent(0).holds is holds


@pytest.mark.parametrize(
    "gaps, fids, holds",
    [
        ((0.3, 0.15), (80.0, 60.0), True),
        ((0.3, 0.16), (80.0, 60.0), False),  # under twice as large
        ((0.01, -0.5), (80.0, 60.0), True),  # a negative gap with DiffAugment counts as 0
        ((0.0, -0.5), (80.0, 60.0), False),  # no gap without it
        ((0.3, 0.1), (60.0, 60.0), False),  # DiffAugment's FID not lower
    ],
)
def test_claim_memorise_thresholds(monkeypatch, gaps, fids, holds):
    by_augment = {"": 0, catalogue.DIFFAUGMENT: 1}
    seen: list = []

    def train(cfg):
        seen.append(cfg.steps)
        return SimpleNamespace(cfg=cfg, sample=lambda n: by_augment[cfg.diffaugment])

    class Evaluator:
        def __init__(self, dataset, data):
            pass

        def measure(self, which):
            return SimpleNamespace(measures={"fid": fids[which]})

    monkeypatch.setattr(claims, "_train", train)
    monkeypatch.setattr(claims, "memorisation_gap", lambda t: gaps[by_augment[t.cfg.diffaugment]])
    monkeypatch.setattr(claims, "load_dataset", lambda cfg: None)
    monkeypatch.setattr(claims, "Evaluator", Evaluator)
    assert claims._claim_memorise(0).holds is holds
    assert seen == [catalogue.MEMORISE_AT] * 2


# ---------------------------------------------------------------------- measuring and the table
def test_measure_claims_measures_a_seedless_part_once_and_counts_a_seed_only_with_it(
    monkeypatch,
):
    calls: list = []
    monkeypatch.setitem(
        claims.SEEDLESS,
        "game",
        lambda: calls.append("once") or claims.ClaimResult(None, False, "never"),
    )
    monkeypatch.setitem(
        claims.CLAIMS, "game", lambda seed: claims.ClaimResult(seed, seed != 1, f"s{seed}")
    )
    results = claims.measure_claims((0, 1, 2), ("game",), log=lambda line: None)
    assert calls == ["once"]
    assert [r.seed for r in results["game"]] == [None, 0, 1, 2]
    table = claims.claims_table(results)
    assert "| 0 of 3; its seedless part fails |" in table
    assert "once (no seed): never FAILS" in table and "fails on seed 1: s1" in table


def test_claims_table_counts_seeds_when_the_seedless_part_holds():
    result = claims.ClaimResult
    table = claims.claims_table(
        {
            "nonconvergence": [result(None, True, "Dirac ok")]
            + [result(s, s < 4, "m") for s in range(5)]
        }
    )
    assert "| 4 of 5; its seedless part holds |" in table
    assert "once (no seed): Dirac ok — seeds 0–4: m; m; m … — fails on seed 4: m" in table
