"""CycleGAN on 2D points: the round-trip and translation measures on constructed maps, the
step (finite losses, shapes, determinism, a bounded history), the lesson's bookkeeping, and one
short training where the cycle loss makes the round trip come home."""

from __future__ import annotations

import math

import pytest
import torch

from playground.data.registry import toy_points
from playground.lessons import cyclegan as lesson
from playground.measures.translation import (
    round_trip_distances,
    round_trip_share,
    translation_match,
)
from playground.training.cyclegan import (
    B_MATRIX,
    SERIES,
    CycleGAN,
    CycleGANSetup,
    domain_a,
    domain_b,
    domain_b_modes,
)
from playground.views.cyclegan import round_trip_figure, trip_segments


def _points(n: int = 800, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return domain_a(n, gen), domain_b(n, gen)


def _to_b(x: torch.Tensor) -> torch.Tensor:
    return x @ torch.tensor(B_MATRIX, dtype=x.dtype).T


def _to_a(x: torch.Tensor) -> torch.Tensor:
    return x @ torch.linalg.inv(torch.tensor(B_MATRIX, dtype=x.dtype)).T


def test_an_identity_round_trip_comes_home():
    a, _ = _points()
    assert round_trip_share(lambda x: x, lambda x: x, a, tol=1e-6) == 1.0
    assert round_trip_distances(lambda x: x, lambda x: x, a).abs().max() == 0
    # The linear map to B and its inverse undo each other too.
    assert round_trip_share(_to_b, _to_a, a, tol=1e-4) == 1.0


def test_a_random_permutation_scrambles_the_round_trip():
    a, _ = _points()
    perm = torch.randperm(len(a), generator=torch.Generator().manual_seed(0))
    share = round_trip_share(lambda x: x[perm], lambda x: x, a, tol=lesson.TOLERANCE)
    # A random other point of the ring of 8 is in the same mode about 1 time in 8.
    assert share < 0.25


def test_a_shift_by_more_than_the_tolerance_never_comes_home():
    a, _ = _points(100)
    assert round_trip_share(lambda x: x + 1.0, lambda x: x, a, tol=0.5) == 0.0
    with pytest.raises(ValueError):
        round_trip_share(lambda x: x, lambda x: x, a[:0], tol=0.5)


def test_translation_match_does_not_reward_leaving_points_where_they_are():
    a, b = _points()
    right = translation_match(_to_b, a, b)
    stay = translation_match(lambda x: x, a, b)
    assert right["precision"] > 0.8 and right["median_nearest"] < 0.05
    assert stay["precision"] < 0.3 and stay["median_nearest"] > 0.2


def test_b_is_a_through_its_matrix_and_its_modes_are_where_its_points_are():
    a = domain_a(16, torch.Generator().manual_seed(3))
    b = domain_b(16, torch.Generator().manual_seed(3))
    assert torch.allclose(_to_b(a), b, atol=1e-6)
    centres, sigma = domain_b_modes()
    assert centres.shape == (8, 2) and sigma > 0
    nearest = torch.cdist(b.double(), centres).min(dim=1).values
    assert nearest.max() < 5 * sigma
    assert not torch.allclose(a, b)


def test_a_step_has_finite_losses_and_keeps_shapes():
    model = CycleGAN(CycleGANSetup(seed=0, steps=20, log_every=5, identity_weight=5.0))
    before = [p.clone() for p in model.G.parameters()]
    model.train()
    assert model.step == 20
    history = model.history.copy()
    assert history["step"] == [5.0, 10.0, 15.0, 20.0]
    for key in SERIES:
        assert all(math.isfinite(v) for v in history[key]), key
    assert any(not torch.equal(p, q) for p, q in zip(before, model.G.parameters(), strict=True))
    a, b = _points(7)
    assert model.translate_a(a).shape == (7, 2) and model.translate_b(b).shape == (7, 2)


def test_the_history_stays_bounded():
    model = CycleGAN(CycleGANSetup(seed=0, steps=60, log_every=1, history_capacity=8))
    model.train()
    assert 0 < len(model.history) <= 8
    assert 48.0 <= model.history.copy()["step"][-1] <= 60.0  # the last logs may wait, averaged


def test_a_seed_gives_the_same_run():
    runs = [CycleGAN(CycleGANSetup(seed=4, steps=15, log_every=5)).train() for _ in range(2)]
    assert runs[0].history.copy() == runs[1].history.copy()
    for p, q in zip(runs[0].G.parameters(), runs[1].G.parameters(), strict=True):
        assert torch.equal(p, q)
    other = CycleGAN(CycleGANSetup(seed=5, steps=15, log_every=5)).train()
    assert other.history.copy() != runs[0].history.copy()


def test_the_cycle_loss_brings_the_round_trip_home():
    # A tuning seed (never a measuring one), a short run: with λ = 10 the round trip already
    # comes home for most points; without the cycle loss only by chance (about 1 mode in 8).
    a, _ = lesson.held_out_points()
    shares = {}
    for weight in (0.0, 10.0):
        model = lesson.train(lesson.TUNING_SEEDS[0], weight, steps=300)
        shares[weight] = round_trip_share(
            model.translate_a, model.translate_b, a, lesson.TOLERANCE
        )
    assert shares[10.0] > shares[0.0] + 0.3, shares


def _arm(weight: float, seed: int, share: float) -> lesson.ArmResult:
    return lesson.ArmResult("x", seed, weight, share, share, 0.8, 0.5, 0.01, 8, 8, 1.0)


def test_the_lesson_counts_the_seeds_where_the_cycle_loss_wins(tmp_path):
    per_seed = [[_arm(0.0, s, 0.2), _arm(10.0, s, 0.9 if s else 0.1)] for s in range(10)]
    assert lesson.claim_holds(per_seed[1])[0] and not lesson.claim_holds(per_seed[0])[0]
    summary = lesson.summary(per_seed)
    assert summary["cycle_round_trip_a_higher"] == 9 and summary["claim_holds"]
    assert summary["median_round_trip_a"]["x"] == pytest.approx(0.9)  # both arms labelled x
    path = tmp_path / "cyclegan.json"
    lesson.write_results(per_seed, lesson.STEPS, path)
    assert lesson.load_results(path) == per_seed


def test_the_lesson_refuses_to_measure_on_its_tuning_seeds(tmp_path):
    first = lesson.TUNING_SEEDS[0]
    out = tmp_path / "x.json"
    assert lesson.main(["--seeds", "1", "--first", str(first), "--out", str(out)]) == 2
    assert not out.exists()


def test_the_round_trip_picture():
    a, b = _points(5)
    xs, ys = trip_segments(a.numpy(), a.numpy() + 1)
    assert xs.shape == (15,) and math.isnan(xs[2]) and xs[1] == pytest.approx(xs[0] + 1)
    fig = round_trip_figure(a.numpy(), _to_b(a).numpy(), b.numpy(), a.numpy(), title="t")
    assert len(fig.data) == 5 and fig.layout.title.text == "t"
    assert all(len(trace.x) in (5, 15) for trace in fig.data)


def test_the_lesson_draws_a_trained_run():
    model = lesson.train(0, 10.0, steps=3)
    fig = lesson.picture(model, n=20)
    assert "λ = 10" in fig.layout.title.text
    assert [len(trace.x) for trace in fig.data] == [60, 20, 20, 20, 20]


def test_domain_a_is_drawn_as_the_ring8_dataset_draws_its_points():
    mine = domain_a(200, torch.Generator().manual_seed(3))
    theirs = toy_points("ring8", 200, torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(mine, theirs)
