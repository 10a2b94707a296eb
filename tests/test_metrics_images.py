"""Image measures on constructed inputs whose answers are known by construction: class coverage,
precision/recall/density/coverage, diversity, near-duplicates, distance to the training set;
then the whole evaluation of a generator forced to output one digit."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from playground.data.loading import load_dataset
from playground.measures import evaluation
from playground.measures.metrics import (
    class_measures,
    diversity_ratio,
    duplicate_rate,
    duplicate_threshold,
    mean_pairwise_distance,
    nearest_train_distances,
    precision_recall_density_coverage,
)
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer

UNIFORM10 = [0.1] * 10


def one_hot(classes: list[int], k: int = 10, p: float = 1.0) -> torch.Tensor:
    """Probabilities putting p on each listed class and the rest spread over the others."""
    probs = torch.full((len(classes), k), (1 - p) / (k - 1), dtype=torch.float64)
    probs[torch.arange(len(classes)), torch.tensor(classes)] = p
    return probs


def line(xs: list[float]) -> torch.Tensor:
    """Points (x, 0) in the plane: distances are plain differences of x."""
    return torch.tensor([[x, 0.0] for x in xs], dtype=torch.float64)


# ---------------------------------------------------------------------- class coverage
def test_every_sample_one_class_is_one_class_covered():
    result = class_measures(one_hot([3] * 50), UNIFORM10)
    assert json.loads(json.dumps(result)) == result  # plain JSON values, no numpy scalars
    assert result["classes_total"] == 10
    assert (result["classes_covered"], result["classes_held"]) == (1, 1)
    assert result["class_histogram"] == [0, 0, 0, 50, 0, 0, 0, 0, 0, 0]
    assert result["confident_fraction"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(10), abs=1e-5)


def test_an_even_spread_covers_and_holds_every_class():
    result = class_measures(one_hot(list(range(10)) * 6), UNIFORM10)
    assert (result["classes_covered"], result["classes_held"]) == (10, 10)
    assert result["class_histogram"] == [6] * 10
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-9)


def test_unsure_samples_count_for_nothing():
    result = class_measures(torch.full((40, 10), 0.1), UNIFORM10)
    assert (result["classes_covered"], result["classes_held"]) == (0, 0)
    assert result["confident_fraction"] == 0.0
    assert result["class_histogram"] == [0] * 10
    assert result["reverse_kl"] == pytest.approx(math.log(10))  # nothing recognisable: worst


def test_confidence_threshold_is_ninety_percent():
    assert class_measures(one_hot([2], p=0.9), UNIFORM10)["classes_covered"] == 1
    assert class_measures(one_hot([2], p=0.89), UNIFORM10)["classes_covered"] == 0
    mixed = class_measures(one_hot([1, 2, 3, 4], p=0.95)[[0, 1]].clone(), UNIFORM10)
    assert mixed["class_histogram"][:3] == [0, 1, 1]


def test_held_is_twenty_percent_of_the_fair_share_under_the_real_distribution():
    # 919 recognisable: class 9's fair share is 91.9, 20% of it 18.38; 19 is enough, 18 is not.
    held = class_measures(one_hot([c for c in range(9) for _ in range(100)] + [9] * 19), UNIFORM10)
    assert (held["classes_covered"], held["classes_held"]) == (10, 10)
    short = class_measures(one_hot([c for c in range(9) for _ in range(100)] + [9] * 18), UNIFORM10)
    assert (short["classes_covered"], short["classes_held"]) == (10, 9)


def test_reverse_kl_is_against_the_real_label_distribution():
    real = [0.5, 0.25, 0.25]
    matching = class_measures(one_hot([0, 0, 1, 2], k=3), real)
    assert matching["reverse_kl"] == pytest.approx(0.0, abs=1e-9)
    only_rare = class_measures(one_hot([2] * 8, k=3), real)
    assert only_rare["reverse_kl"] == pytest.approx(math.log(4), abs=1e-5)


def test_class_count_mismatch_is_refused():
    with pytest.raises(ValueError):
        class_measures(one_hot([0, 1]), [0.5, 0.5])


# ---------------------------------------------------------------------- k-NN manifolds
def test_identical_sets_have_full_precision_recall_and_coverage():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(200, 8, generator=gen, dtype=torch.float64)
    result = precision_recall_density_coverage(real, real.clone())
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    assert result["density"] == 1.0  # each fake: its twin's ball and k - 1 neighbours' balls


def test_far_away_samples_score_zero_precision_density_coverage():
    real = line([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    fake = line([1000, 1001, 1002, 1003])
    result = precision_recall_density_coverage(real, fake, k=1)
    assert result == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_manifold_measures_on_a_lattice():
    # Real points 0..9 on a line, k = 1: every real ball has radius 1.
    # Fake 4.5 lies in the balls of 4 and 5; fake 100 in none.
    real = line(list(range(10)))
    fake = line([4.5, 100.0])
    result = precision_recall_density_coverage(real, fake, k=1)
    assert result["precision"] == 0.5  # one of the two fakes is inside the real manifold
    assert result["density"] == pytest.approx((2 + 0) / (1 * 2))  # 2 balls over k·M
    assert result["coverage"] == pytest.approx(2 / 10)  # real 4 and 5 have a fake nearby
    # Each fake's ball reaches the other fake (radius 95.5), so it swallows every real point:
    # one outlier fools recall, which is why Naeem et al. proposed coverage.
    assert result["recall"] == 1.0


def test_collapse_onto_one_real_point_keeps_precision_but_loses_recall():
    real = line([float(x) for x in range(10)])
    fake = line([3.0] * 5 + [3.0001] * 5)  # a generator stuck on real point 3
    result = precision_recall_density_coverage(real, fake, k=1)
    assert result["precision"] == 1.0
    # Each fake's ball has radius 0 (its twin): strictly closer than 0 holds nothing, as in the
    # reference implementation, so no real point is recalled.
    assert result["recall"] == 0.0
    # Balls of 3 and 4 (radius 1) hold fakes; 2's ball ends exactly at 3.0, which is outside.
    assert result["coverage"] == pytest.approx(0.2)


def test_default_k_is_three():
    real = line(list(range(10)))
    fake = line([4.5, 100.0])
    # k = 3: an inner real point's neighbours are 1, 1, 2, 2 away, so its ball has radius 2.
    # 4.5 lies within 2 of reals 3, 4, 5 and 6 (not 2 or 7, 2.5 away): density 4 / (3·2).
    result = precision_recall_density_coverage(real, fake)
    assert result["density"] == pytest.approx(4 / 6)
    assert result["coverage"] == pytest.approx(4 / 10)
    assert result["precision"] == 0.5


# ---------------------------------------------------------------------- diversity, duplicates
def test_mean_pairwise_distance_of_three_points():
    # Pairs of 0, 3, 4: distances 3, 4, 1.
    assert mean_pairwise_distance(line([0, 3, 4])) == pytest.approx(8 / 3)


def test_diversity_ratio_of_copies_data_and_a_stretched_data():
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(50, 3, 4, 4, generator=gen, dtype=torch.float64)
    assert diversity_ratio(real[:1].repeat(50, 1, 1, 1), real) == 0.0
    assert diversity_ratio(real, real) == pytest.approx(1.0)
    assert diversity_ratio(2 * real, real) == pytest.approx(2.0)


def test_duplicate_threshold_is_a_quantile_of_real_nearest_neighbour_distances():
    real = line([float(x) for x in range(10)])  # every nearest neighbour is 1 away
    assert duplicate_threshold(real) == pytest.approx(1.0)
    spaced = line([0, 1, 3, 6, 10, 15, 21, 28, 36, 45])  # NN distances 1,1,2,3,4,5,6,7,8,9
    assert duplicate_threshold(spaced, quantile=0.0) == pytest.approx(1.0)
    assert duplicate_threshold(spaced, quantile=1.0) == pytest.approx(9.0)


def test_duplicate_rate_counts_samples_with_a_near_copy():
    assert duplicate_rate(line([0, 0.5, 1.0, 1.5]), threshold=1.0) == 1.0
    assert duplicate_rate(line([0, 2, 4, 6]), threshold=1.0) == 0.0
    assert duplicate_rate(line([0, 0.1, 5, 10]), threshold=1.0) == 0.5  # only 0 and 0.1


def test_nearest_train_distance_and_leave_one_out():
    train = line([0, 10, 20])
    assert nearest_train_distances(line([1, 18]), train).tolist() == pytest.approx([1, 2])
    # A training image measured against the training set without itself.
    loo = nearest_train_distances(train, train, exclude=torch.arange(3))
    assert loo.tolist() == pytest.approx([10, 10, 10])


# ---------------------------------------------------------------------- a whole evaluation
@pytest.fixture(scope="module")
def digits32():
    return load_dataset(GANConfig(dataset="digits", arch="dcgan", image_size=32), "cpu")


class OneImage(nn.Module):
    """A "generator" forced to output one image whatever its noise."""

    def __init__(self, image: torch.Tensor):
        super().__init__()
        self.register_buffer("image", image)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.image.expand(z.shape[0], *self.image.shape)


def test_a_generator_forced_to_output_one_digit_reads_as_one_class_covered(digits32):
    cfg = GANConfig(
        dataset="digits",
        arch="dcgan",
        image_size=32,
        width=8,
        latent_dim=8,
        batch_size=16,
        device="cpu",
    )
    trainer = Trainer(cfg, data=digits32)
    sevens = (digits32.labels == 7).nonzero().flatten()
    seven = digits32.images[sevens[0]].float() / 127.5 - 1.0  # (1, 32, 32) in [-1, 1]
    trainer.G = OneImage(seven)
    report = evaluation.diagnose(trainer, n=300)
    m = report.measures
    assert (m["classes_covered"], m["classes_held"]) == (1, 1)
    assert m["class_histogram"][7] == 300
    assert m["reverse_kl"] == pytest.approx(math.log(10), abs=0.05)
    assert m["duplicate_rate"] == 1.0  # every sample has an exact copy
    assert m["diversity_ratio"] == pytest.approx(0.0, abs=1e-2)
    assert m["nearest_train_distance"] == pytest.approx(0.0, abs=0.05)  # a training image
    assert m["nearest_train_ratio"] < 0.01  # copying, by construction
    assert m["recall"] < 0.05 and m["coverage"] < 0.05
    assert (report.predicted == 7).all()
    assert report.samples.shape == (300, 32, 32, 1)


def test_real_images_as_samples_read_as_healthy(digits32):
    ev = evaluation.Evaluator("digits", digits32, seed=3)
    index = torch.randperm(len(digits32), generator=torch.Generator().manual_seed(9))[:500]
    real = digits32.images[index].float() / 127.5 - 1.0
    m = ev.measure(real).measures
    assert m["classes_covered"] == 10 and m["classes_held"] == 10
    assert m["reverse_kl"] < 0.05
    assert m["confident_fraction"] > 0.9
    assert m["precision"] > 0.8 and m["recall"] > 0.8 and m["coverage"] > 0.8
    assert 0.9 < m["diversity_ratio"] < 1.1
    assert m["duplicate_rate"] < 0.1


def test_points_evaluation_of_a_one_mode_generator():
    cfg = GANConfig(dataset="ring8", hidden=16, layers=2, batch_size=32, device="cpu")
    trainer = Trainer(cfg)
    trainer.G = OneImage(trainer.data.centres[5])
    trainer.G_ema = None
    m = evaluation.diagnose(trainer, n=400).measures
    assert (m["modes_covered"], m["modes_held"], m["high_quality_fraction"]) == (1, 1, 1.0)
    assert m["mode_counts"][5] == 400
    assert m["reverse_kl"] == pytest.approx(math.log(8), abs=1e-4)


def test_toys_without_modes_have_no_measures():
    cfg = GANConfig(dataset="spiral", hidden=16, layers=2, batch_size=32, device="cpu")
    trainer = Trainer(cfg)
    assert not evaluation.evaluator_for(trainer).supported
    assert trainer.evaluate() is None
    with pytest.raises(ValueError, match="spiral"):
        evaluation.diagnose(trainer, n=20)


def test_held_classes_need_a_fifth_of_their_fair_share_of_all_samples():
    # 100 samples, 10 balanced classes: a class is held with at least 2 confident samples of
    # its own. 9 unsure samples and one confident "4" hold nothing.
    probs = torch.cat([one_hot([4]), torch.full((99, 10), 0.1, dtype=torch.float64)])
    result = class_measures(probs, UNIFORM10)
    assert (result["classes_covered"], result["classes_held"]) == (1, 0)
    probs = torch.cat([one_hot([4, 4]), torch.full((98, 10), 0.1, dtype=torch.float64)])
    assert class_measures(probs, UNIFORM10)["classes_held"] == 1


def test_a_diverged_generator_gives_json_safe_measures(digits32):
    ev = evaluation.Evaluator("digits", digits32)
    m = ev.measure(torch.full((20, 1, 32, 32), float("nan"))).measures
    assert json.loads(json.dumps(m, allow_nan=False)) == m  # nothing NaN left in
    assert m["classes_covered"] == 0 and m["confident_fraction"] == 0.0
    series = evaluation.MeasureSeries()
    series.load({"records": [{"step": 1, **m}]})  # and a checkpoint could load it back
