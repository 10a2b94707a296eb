"""Precision, recall, density and coverage against the authors' reference implementation
(the `prdc` package of Naeem et al. 2020, a test-only dependency).

The project keeps its own implementation (torch, exact distances, no scikit-learn at run time)
but must give the reference's numbers: a point is inside a k-NN ball only when strictly closer
than its radius.
"""

from __future__ import annotations

import numpy as np
import pytest

from playground.measures.metrics import precision_recall_density_coverage

prdc = pytest.importorskip("prdc")

KEYS = ("precision", "recall", "density", "coverage")


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    result = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    return {key: float(result[key]) for key in KEYS}


def ours(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    return precision_recall_density_coverage(real, fake, k=k)


def sets(case: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    real = rng.standard_normal((300, 16)).astype(np.float32)
    if case == "random":
        return real, rng.standard_normal((250, 16)).astype(np.float32)
    if case == "shifted":
        return real, (rng.standard_normal((300, 16)) + 0.75).astype(np.float32)
    if case == "identical":
        return real, real.copy()
    if case == "duplicated":
        # A generator repeating a few real points (each 20 times, exactly): balls of radius 0
        # around the copies, real points at distance 0 from fakes.
        fake = np.repeat(real[:10], 20, axis=0)
        return real, fake
    if case == "duplicated-both":
        twice = np.concatenate([real[:150], real[:150]])  # every real point present twice
        return twice, np.concatenate([real[:100], rng.standard_normal((100, 16))]).astype(
            np.float32
        )
    raise AssertionError(case)


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize(
    "case", ["random", "shifted", "identical", "duplicated", "duplicated-both"]
)
def test_matches_the_reference(case: str, k: int) -> None:
    real, fake = sets(case, np.random.default_rng(7))
    expected = reference(real, fake, k)
    got = ours(real, fake, k)
    for key in KEYS:
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key


def test_identical_sets_have_density_one() -> None:
    real, fake = sets("identical", np.random.default_rng(0))
    got = ours(real, fake, 5)
    # Each fake is its real twin: inside its twin's ball and the balls of the k - 1 reals that
    # have it among their nearer neighbours, but not the k-th (exactly on the radius).
    assert got == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}


def test_shifted_sets_score_lower_than_identical() -> None:
    rng = np.random.default_rng(1)
    real, shifted = sets("shifted", rng)
    far = ours(real, shifted, 5)
    assert far["precision"] < 1.0 and far["coverage"] < 1.0 and far["density"] < 1.0
