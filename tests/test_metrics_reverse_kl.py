"""Reverse KL of the generated mode histogram, on histograms whose value is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.data.registry import mixture_spec
from playground.measures.metrics import KL_EPSILON, coverage_2d, reverse_kl

CENTRES, SIGMA = mixture_spec("ring8")


def on_centres(counts: list[int]) -> torch.Tensor:
    """counts[k] samples placed exactly on ring centre k."""
    return torch.cat([CENTRES[k].repeat(n, 1) for k, n in enumerate(counts)])


def test_an_even_spread_over_the_modes_has_zero_reverse_kl():
    assert coverage_2d(on_centres([7] * 8), CENTRES, SIGMA)["reverse_kl"] == 0.0


def test_everything_on_one_mode_is_log_of_the_mode_count():
    result = coverage_2d(on_centres([0, 0, 0, 0, 0, 60, 0, 0]), CENTRES, SIGMA)
    assert result["reverse_kl"] == pytest.approx(math.log(8), abs=1e-5)


def test_two_modes_shared_evenly_is_log_four():
    # q = (1/2, 1/2, 0, …) against p = 1/8 each: Σ q log(q / p) = log(0.5 · 8) = log 4.
    result = coverage_2d(on_centres([30, 0, 0, 30, 0, 0, 0, 0]), CENTRES, SIGMA)
    assert result["reverse_kl"] == pytest.approx(math.log(4), abs=1e-5)


def test_only_high_quality_samples_enter_the_histogram():
    # 40 samples on mode 0 plus 500 at the origin (far from every mode): still one mode.
    samples = torch.cat([on_centres([40] + [0] * 7), torch.zeros(500, 2)])
    result = coverage_2d(samples, CENTRES, SIGMA)
    assert result["reverse_kl"] == pytest.approx(math.log(8), abs=1e-5)


def test_no_high_quality_sample_reads_as_a_total_collapse_not_as_perfect():
    result = coverage_2d(torch.zeros(100, 2), CENTRES, SIGMA)
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_grid25_single_mode_is_log_25():
    centres, sigma = mixture_spec("grid25")
    samples = np.repeat(centres[7:8].numpy(), 100, axis=0)
    assert coverage_2d(samples, centres, sigma)["reverse_kl"] == pytest.approx(
        math.log(25), abs=1e-5
    )


def test_reverse_kl_matches_the_formula_on_an_uneven_histogram():
    # q = (3/4, 1/4) against p = (1/2, 1/2).
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert reverse_kl([3, 1], [0.5, 0.5]) == pytest.approx(expected, abs=1e-6)


def test_reverse_kl_is_not_symmetric_and_uses_the_generated_side_as_q():
    # KL(q ‖ p) with q = (1, 0): log(1 / p_0). With p = (0.2, 0.8) that is log 5.
    assert reverse_kl([10, 0], [0.2, 0.8]) == pytest.approx(math.log(5), abs=1e-5)
    assert reverse_kl([0, 10], [0.2, 0.8]) == pytest.approx(math.log(1.25), abs=1e-5)


def test_epsilon_keeps_an_empty_bin_finite_and_negligible():
    value = reverse_kl([1000, 0], [0.5, 0.5])
    assert math.isfinite(value)
    assert value == pytest.approx(math.log(2), abs=1e-5)
    # Exactly the smoothed formula: q_k = (c_k + ε) / (N + K ε).
    q = np.array([1000 + KL_EPSILON, KL_EPSILON]) / (1000 + 2 * KL_EPSILON)
    assert value == pytest.approx(float(np.sum(q * np.log(q / 0.5))), rel=1e-9)


def test_reference_need_not_be_normalised():
    assert reverse_kl([5, 5], [3, 3]) == 0.0


def test_spread_matching_a_skewed_reference_is_zero():
    assert reverse_kl([50, 25, 25], [0.5, 0.25, 0.25]) == pytest.approx(0.0, abs=1e-9)


def test_held_counts_the_fair_share_of_all_samples_not_only_the_good_ones():
    # 2,500 samples: one on each of six modes, the rest far off. The fair share is 2500/8, so a
    # held mode needs 62.5 high-quality samples: a handful of lucky samples holds nothing.
    samples = torch.cat([on_centres([1, 1, 1, 1, 1, 1, 0, 0]), torch.zeros(2494, 2)])
    result = coverage_2d(samples, CENTRES, SIGMA)
    assert (result["modes_covered"], result["modes_held"]) == (6, 0)
    # 63 on a mode is held (≥ 62.5), 62 is not.
    samples = torch.cat([on_centres([63, 62, 0, 0, 0, 0, 0, 0]), torch.zeros(2375, 2)])
    assert coverage_2d(samples, CENTRES, SIGMA)["modes_held"] == 1
