"""Mode-coverage measures on constructed samples whose answers are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.data.registry import mixture_spec
from playground.measures.metrics import coverage_2d

CENTRES, SIGMA = mixture_spec("ring8")


def on_centres(counts: list[int]) -> torch.Tensor:
    """counts[k] samples placed exactly on ring centre k."""
    return torch.cat([CENTRES[k].repeat(n, 1) for k, n in enumerate(counts)])


def test_samples_on_every_centre_cover_and_hold_all_modes():
    result = coverage_2d(on_centres([5] * 8), CENTRES, SIGMA)
    assert result == {
        "modes_total": 8,
        "modes_covered": 8,
        "modes_held": 8,
        "high_quality_fraction": 1.0,
        "reverse_kl": 0.0,
        "mode_counts": [5] * 8,
    }


def test_samples_on_one_centre_read_as_collapsed():
    result = coverage_2d(on_centres([0, 0, 0, 40, 0, 0, 0, 0]), CENTRES, SIGMA)
    assert (result["modes_covered"], result["modes_held"]) == (1, 1)
    assert result["high_quality_fraction"] == 1.0
    assert result["mode_counts"] == [0, 0, 0, 40, 0, 0, 0, 0]


def test_a_generator_that_outputs_one_mode_is_collapsed():
    # Gaussian noise of the mode's own sigma around one centre: what a collapsed G produces.
    gen = torch.Generator().manual_seed(0)
    samples = CENTRES[2] + SIGMA * torch.randn(2000, 2, generator=gen)
    result = coverage_2d(samples, CENTRES, SIGMA)
    assert (result["modes_covered"], result["modes_held"]) == (1, 1)
    # P(|noise| > 3σ) for a 2D Gaussian is exp(-4.5) ≈ 1.1%.
    assert result["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)


@pytest.mark.parametrize("far", [[0.0, 0.0], [100.0, -50.0], [2.0 + 4 * SIGMA, 0.0]])
def test_samples_far_from_every_centre_are_not_high_quality(far):
    samples = torch.tensor([far] * 30)
    result = coverage_2d(samples, CENTRES, SIGMA)
    assert result["high_quality_fraction"] == 0.0
    assert (result["modes_covered"], result["modes_held"]) == (0, 0)
    assert result["mode_counts"] == [0] * 8


def test_a_starved_mode_is_covered_but_not_held():
    # 710 high-quality samples: the fair share is 88.75, 20% of it 17.75; 10 falls short.
    result = coverage_2d(on_centres([100] * 7 + [10]), CENTRES, SIGMA)
    assert (result["modes_covered"], result["modes_held"]) == (8, 7)


def test_held_threshold_is_twenty_percent_of_the_fair_share():
    # 718 samples: the fair share is 89.75, 20% of it 17.95. 18 is enough, 17 is not.
    assert coverage_2d(on_centres([100] * 7 + [18]), CENTRES, SIGMA)["modes_held"] == 8
    assert coverage_2d(on_centres([100] * 7 + [17]), CENTRES, SIGMA)["modes_held"] == 7


def test_high_quality_radius_is_three_sigma():
    outward = CENTRES[0] / CENTRES[0].norm()  # away from every other centre
    inside = CENTRES[0] + 2.9 * SIGMA * outward
    outside = CENTRES[0] + 3.1 * SIGMA * outward
    result = coverage_2d(torch.stack([inside, outside]), CENTRES, SIGMA)
    assert result["high_quality_fraction"] == 0.5
    assert result["mode_counts"] == [1, 0, 0, 0, 0, 0, 0, 0]
    assert coverage_2d(outside[None], CENTRES, SIGMA)["modes_covered"] == 0
    assert coverage_2d(inside[None], CENTRES, SIGMA)["modes_covered"] == 1


def test_low_quality_samples_count_against_quality_but_not_modes():
    samples = torch.cat([on_centres([10] * 8), torch.zeros(20, 2)])  # 80 good, 20 at the origin
    result = coverage_2d(samples, CENTRES, SIGMA)
    assert result["high_quality_fraction"] == pytest.approx(0.8)
    assert result["modes_held"] == 8
    assert sum(result["mode_counts"]) == 80


def test_numpy_and_torch_inputs_agree():
    gen = torch.Generator().manual_seed(1)
    samples = CENTRES[torch.randint(0, 5, (300,), generator=gen)] + 0.02 * torch.randn(
        300, 2, generator=gen
    )
    from_torch = coverage_2d(samples, CENTRES, SIGMA)
    from_numpy = coverage_2d(samples.numpy(), CENTRES.numpy(), SIGMA)
    assert from_torch == from_numpy
    assert from_torch["modes_covered"] == 5


def test_grid25_single_mode():
    centres, sigma = mixture_spec("grid25")
    samples = np.repeat(centres[12:13].numpy(), 50, axis=0)
    result = coverage_2d(samples, centres, sigma)
    assert (result["modes_total"], result["modes_covered"], result["modes_held"]) == (25, 1, 1)


def test_no_samples_gives_zeros_not_an_error():
    result = coverage_2d(np.zeros((0, 2)), CENTRES, SIGMA)
    assert (result["modes_covered"], result["modes_held"]) == (0, 0)
    assert result["high_quality_fraction"] == 0.0
