"""The classifier-feature FID and KID (torchmetrics, playground.measures.fid) against their
definitions computed here from the very same features: FID as the Fréchet distance of two
Gaussians with scipy's matrix square root (Heusel et al. 2017), KID as the unbiased MMD² with
the cubic polynomial kernel (Bińkowski et al. 2018) over the whole sets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from playground.measures.classifier import SHIPPED_DIR, load_classifier
from playground.measures.fid import ClassifierFeatures, DistributionMeasures
from playground.storage.checkpoints import load_checkpoint

N = 400


@pytest.fixture(scope="module")
def case():
    example = load_checkpoint("checkpoints/examples/digits-dcgan")
    real = example.data.images.float() / 127.5 - 1
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(3))
    clf = load_classifier(SHIPPED_DIR / "digits-32-1.json")
    return clf, real[order[:N]], example.sample(N, seed=5)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def kid(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    m = len(a)
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    return float((kaa.sum() - np.trace(kaa)) / (m * (m - 1))
                 + (kbb.sum() - np.trace(kbb)) / (m * (m - 1)) - 2 * kab.mean())


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # ReLU features: some always 0
def test_fid_and_kid_match_their_definitions_on_the_same_features(case):
    clf, real, fake = case
    features = ClassifierFeatures(clf.net)
    with torch.inference_mode():
        a, b = (features(x).double().numpy() for x in (real, fake))
    measured = DistributionMeasures(clf.net, real).measure(fake)
    assert measured["fid"] == pytest.approx(frechet(a, b), rel=1e-3)
    assert measured["kid"] == pytest.approx(kid(a, b), rel=1e-3, abs=1e-6)
    # The check can fail: the same images against themselves differ from the pair.
    assert frechet(a, a) == pytest.approx(0, abs=1e-6) and frechet(a, b) > 1
