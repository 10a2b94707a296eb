"""Mode-collapse measures: pure functions of arrays, each checked in the tests on inputs whose
answer is known by construction.

2D Gaussian mixtures (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018). A generated
sample is *high quality* when it lies within 3σ of its nearest mode centre. A mode is *covered*
when it is the nearest centre of at least one high-quality sample, and *held* when at least 20%
of its fair share of the samples are high-quality samples of it. The fair share is N/M of the N
samples drawn (for 2,500 samples on the 25-mode grid: 100, so a held mode has at least 20 of
them). "Covered" is lenient and hides a generator that hops between modes; "held" shows it, and
it cannot be met by a handful of lucky samples from a generator that is mostly off the modes.

Labelled images: a classifier trained on the real data (`playground.measures.classifier`) names the
class
of each generated sample; the class histogram then plays the role of the mode histogram, and
precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020) compare the
real and generated samples in the classifier's feature space.

Any images, in pixel space (values in [-1, 1], flattened), against as many real images as there
are generated ones: the *diversity ratio* is the mean pairwise distance among generated images
over the same among real ones; a generated image is a *near-duplicate* when another generated
image lies within the 1st percentile of the nearest-neighbour distances among the real images
(so real data itself reads about 1%); the *nearest-training-neighbour distance* is the mean
distance from a generated image to its closest training image, also given as a ratio to the same
for real images measured against the rest of the training set (near 0 means copying).

The histograms behind coverage and reverse KL count only high-quality samples (2D) or images the
classifier recognises with at least 90% confidence; the rest count for no mode or class.

Reverse KL, used for both histograms, is KL(q ‖ p) = Σ_k q_k log(q_k / p_k), where p is the true
distribution over modes (classes) and q the generated one, estimated from counts c_k as
q_k = (c_k + ε) / (Σ_j c_j + K·ε) with ε = 1e-6 (`KL_EPSILON`), so an empty bin contributes
≈ 0 instead of an undefined 0·log 0. It is 0 when the generator spreads its samples exactly as
the data does, and log(1/p_k) (log 8 ≈ 2.08 for the ring, log 10 ≈ 2.30 for 10 balanced
classes) when every sample lands in the single mode k. With no counted sample at all it is
defined as max_k log(1/p_k), the value of the worst total collapse, so a generator that makes
nothing recognisable never reads as perfect.

Any 2D points with no known modes (a person's own, drawn or uploaded): precision and recall on
the points themselves (the k-NN manifolds above, on x and y), and GAN Lab's grid divergences:
the plane's window is cut into GRID_BINS x GRID_BINS cells plus one cell for everything outside,
each set becomes its histogram of shares p (real) and q (generated), and, as GAN Lab does,
GRID_SMOOTHING is added to every share before KL(p ‖ q) = Σ (p+ε) log((p+ε)/(q+ε)) and
JS = ½ Σ (p+ε) log((p+ε)/(m+ε)) + ½ Σ (q+ε) log((q+ε)/(m+ε)) with m = (p+q)/2. In nats (GAN Lab
shows bits): identical histograms give exactly 0, disjoint ones JS ≈ log 2 ≈ 0.693 and a KL
bounded by the smoothing (about log(1/ε) ≈ 9.2) instead of infinity.
"""

from __future__ import annotations

import math

import numpy as np
import torch

KL_EPSILON = 1e-6  # pseudo-count added to every bin of a generated histogram
MIN_CONFIDENCE = 0.9  # a generated image is "recognisable" when the classifier is this sure
HELD_SHARE = 0.2  # a mode is held with at least this fraction of its fair share of samples
K_NEIGHBOURS = 3  # k of the k-NN manifolds of precision/recall and density/coverage
DUPLICATE_QUANTILE = 0.01  # near-duplicate threshold: this quantile of real NN distances
GRID_BINS = 20  # cells a side of the grid divergences' histograms
GRID_WINDOW = 2.5  # their grid covers [-2.5, 2.5]²: normalised points fill [-2, 2]
GRID_SMOOTHING = 1e-4  # added to every cell's share before the logs, as in GAN Lab

# One or two sentences per measure, for the page and the command line.
EXPLANATIONS = {
    "modes_covered": "Modes (mixture components) that received at least one high-quality "
    "sample. Lenient: a mode visited once counts.",
    "modes_held": "Modes that received at least 20% of their fair share of the samples "
    "(1/8 of them on the ring) as high-quality samples. Strict: a generator hopping from mode to "
    "mode holds only the few it sits on now.",
    "high_quality_fraction": "Share of samples within 3 standard deviations of some mode centre, "
    "i.e. samples that look like real data.",
    "reverse_kl": "How far the generated histogram over modes (or classes) is from the true one, "
    "as KL(generated ‖ true): 0 is a perfect spread; log(number of modes) means everything "
    "lands in one mode.",
    "classes_covered": "Classes that at least one generated image is confidently (≥ 90%) "
    "recognised as by a classifier trained on the real data.",
    "classes_held": "Classes that at least 20% of their fair share of the generated images (the "
    "class's share of the real data) are confidently recognised as: the strict count, like modes "
    "held.",
    "confident_fraction": "Share of generated images the classifier recognises with at least 90% "
    "confidence: a rough measure of quality.",
    "class_histogram": "How many recognisable generated images fall in each class.",
    "precision": "Share of generated images (or points) that fall inside the real data's "
    "manifold (the union of balls around each real one reaching its 3rd nearest real neighbour): "
    "are the samples realistic?",
    "recall": "Share of real images (or points) that fall inside the generated ones' manifold: "
    "does the generator produce the variety of the data? Mode collapse drives recall down.",
    "kl_grid": f"KL(real ‖ generated) between the two histograms on a {GRID_BINS}×{GRID_BINS} "
    "grid over the plane (GAN Lab's measure, in nats, each cell's share smoothed by 1e-4): 0 is "
    "a perfect match; large when real cells get no generated points (missed parts of the data).",
    "js_grid": f"Jensen-Shannon divergence between the same {GRID_BINS}×{GRID_BINS} histograms: "
    "symmetric and bounded, from 0 (the same spread) to log 2 ≈ 0.69 (no cell shared). Sampling "
    "noise alone gives some: two samples of 1,000 points from one Gaussian read about 0.09 "
    "(KL about 0.5).",
    "density": "How many real-image neighbourhoods contain each generated image, relative to "
    "what real data would give (about 1): above 1 means samples crowd where the data is dense.",
    "coverage": "Share of real images whose neighbourhood contains at least one generated image: "
    "a robust recall, 1 when every part of the data is reached.",
    "diversity_ratio": "Mean distance between two generated images divided by the same for two "
    "real images: near 1 is as varied as the data, near 0 means the generator repeats itself.",
    "duplicate_rate": "Share of generated images that have a near-copy among the other generated "
    "images (closer than all but 1% of real images are to their nearest real neighbour); real "
    "data scores about 0.01.",
    "nearest_train_distance": "Mean distance from a generated image to its nearest training "
    "image, in pixels scaled to [-1, 1].",
    "nearest_train_ratio": "That distance divided by the same for real images (each against the "
    "rest of the training set): near 1 is healthy, far below 1 means the generator is copying "
    "its training images.",
    "fid": "Fréchet distance between Gaussians fitted to real and generated features of the "
    "dataset's own classifier (torchmetrics): lower is better; two real halves of the same size "
    "read near the noise floor (about 6 at 800 digits a side). Compares runs on one dataset only: "
    "not comparable with the Inception FIDs of papers.",
    "fid_floor": "The same FID for as many other real images as generated ones: what a perfect "
    "generator would score with this many samples (FID is biased upwards for small samples).",
    "kid": "Kernel (polynomial MMD²) distance on the same classifier features: lower is better, "
    "unbiased for small sample counts; in the features' own units, not the Inception KID's.",
    "inception_score": "exp of the mean KL between the classifier's class probabilities for an "
    "image and their average: up to the number of classes (10) for confident samples spread "
    "over every class, near 1 when all samples look like one class.",
    "fid_inception": "The standard FID on Inception-v3 pool features (2048), as in papers "
    "(torchmetrics): lower is better.",
    "kid_inception": "The standard KID on Inception-v3 pool features: lower is better; near 0 "
    "for real data.",
}


# ---------------------------------------------------------------------- helpers
def _as_tensor(x: torch.Tensor | np.ndarray, flatten: bool = False) -> torch.Tensor:
    """A floating tensor (float64 unless already float32/float64), (N, D) when `flatten`."""
    t = torch.as_tensor(x)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float64)
    return t.reshape(t.shape[0], -1) if flatten else t


def pairwise_distances(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Euclidean distances (N, M) between the rows of a (N, D) and b (M, D), chunked over a."""
    b = b.to(a.dtype)
    b_sq = (b * b).sum(1)
    parts = []
    for start in range(0, a.shape[0], chunk):
        x = a[start : start + chunk]
        # ‖x − y‖² = ‖x‖² + ‖y‖² − 2 x·y: one matrix product instead of N·M differences.
        sq = (x * x).sum(1, keepdim=True) + b_sq[None] - 2.0 * x @ b.T
        parts.append(sq.clamp_min_(0).sqrt_())
    if not parts:
        return a.new_zeros((0, b.shape[0]))
    return torch.cat(parts)


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest *other* row (N,)."""
    d = pairwise_distances(x, x)
    d.fill_diagonal_(math.inf)
    k = min(k, x.shape[0] - 1)
    return d.kthvalue(k, dim=1).values


def _exact_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Not the matrix-product shortcut: its rounding makes twins a hair apart and breaks the
    # strict "closer than the radius" test on ties. Exact differences cost ~0.1 s at 2500².
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _exact_knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (N,), from exact distances."""
    d = _exact_distances(x, x)
    d.fill_diagonal_(math.inf)
    return d.kthvalue(min(k, x.shape[0] - 1), dim=1).values


def _within(d: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    # d ≤ radius, with a relative tolerance for the rounding of the matrix-product distances.
    return d <= radius * (1 + 1e-9) + 1e-12


def reverse_kl(counts, reference) -> float:
    """KL(q ‖ p) of a histogram of `counts` against the distribution `reference` (see the module
    docstring for the exact definition, ε and the empty case)."""
    c = np.asarray(counts, dtype=np.float64)
    p = np.asarray(reference, dtype=np.float64)
    p = p / p.sum()
    if c.sum() <= 0:
        return float(np.log(1.0 / p.min()))
    q = (c + KL_EPSILON) / (c.sum() + KL_EPSILON * len(c))
    # Rounded to 12 places: a perfect spread reads exactly 0, not rounding noise.
    return round(max(0.0, float(np.sum(q * np.log(q / p)))), 12)


# ---------------------------------------------------------------------- 2D mixtures
def coverage_2d(
    samples: torch.Tensor | np.ndarray,
    centres: torch.Tensor | np.ndarray,
    sigma: float,
    hq_radius: float = 3.0,
    held_share: float = HELD_SHARE,
) -> dict:
    """Coverage measures of `samples` (N, 2) against mixture `centres` (M, 2) of std `sigma`.

    `reverse_kl` compares the histogram of high-quality samples over their nearest modes with the
    true, uniform one (1/M each); `mode_counts` is that histogram."""
    x = torch.as_tensor(np.asarray(samples, dtype=np.float64))
    c = torch.as_tensor(np.asarray(centres, dtype=np.float64))
    m = c.shape[0]
    dist = torch.cdist(x, c)  # (N, M)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= hq_radius * sigma
    counts = torch.bincount(nearest[hq], minlength=m)  # high-quality samples per mode
    n_hq = int(hq.sum())
    fair_share = len(x) / m  # samples each mode would get from a perfect generator
    held = int(((counts >= held_share * fair_share) & (counts > 0)).sum())
    return {
        "modes_total": m,
        "modes_covered": int((counts > 0).sum()),
        "modes_held": held,
        "high_quality_fraction": n_hq / max(len(x), 1),
        "reverse_kl": reverse_kl(counts.tolist(), np.full(m, 1.0 / m)),
        "mode_counts": counts.tolist(),
    }


# ---------------------------------------------------------------------- labelled images
def class_measures(
    probs: torch.Tensor | np.ndarray,
    real_distribution,
    min_confidence: float = MIN_CONFIDENCE,
    held_share: float = HELD_SHARE,
) -> dict:
    """Class coverage of generated images from the classifier's probabilities `probs` (N, K).

    A sample is *recognisable* when its top probability is at least `min_confidence`; its class is
    the argmax. `class_histogram` counts recognisable samples per class; a class is *covered* with
    at least one of them and *held* with at least `held_share` of its fair share N · p_k of the
    N samples, p being the real label distribution (as for modes held). `reverse_kl` is
    KL(histogram ‖ p)."""
    p = _as_tensor(probs)
    real = np.asarray(real_distribution, dtype=np.float64)
    real = real / real.sum()
    k = p.shape[1] if p.ndim == 2 else len(real)
    if len(real) != k:
        raise ValueError(f"{k} classes in probs but {len(real)} in the real distribution")
    if p.shape[0]:
        confidence, predicted = p.max(dim=1)
        confident = confidence >= min_confidence
        counts = torch.bincount(predicted[confident], minlength=k).tolist()
    else:
        counts = [0] * k
    n_rec = sum(counts)
    n = p.shape[0]
    held = [
        bool(c > 0 and c >= held_share * n * share) for c, share in zip(counts, real, strict=True)
    ]
    return {
        "classes_total": k,
        "classes_covered": sum(c > 0 for c in counts),
        "classes_held": int(sum(held)),
        "class_histogram": counts,
        "confident_fraction": n_rec / max(p.shape[0], 1),
        "reverse_kl": reverse_kl(counts, real),
    }


def precision_recall_density_coverage(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = K_NEIGHBOURS
) -> dict:
    """k-NN manifold measures of real (N, D) and fake (M, D) features.

    B(x, r_k(x)) is the ball around x reaching its k-th nearest neighbour in its own set.
    precision = share of fakes inside some real ball; recall = share of reals inside some fake
    ball (Kynkäänniemi et al. 2019). density = (1 / kM) Σ_fakes (number of real balls holding the
    fake); coverage = share of real balls holding at least one fake (Naeem et al. 2020, who use
    k = 5; here k is shared by all four). "Inside" means strictly closer than the radius, as in
    the authors' reference code (the `prdc` package): identical sets give density exactly 1, and
    a ball of radius 0 (k duplicates) holds nothing. Distances are exact differences in float64,
    so a point and its twin are exactly 0 apart and ties fall as they do in the reference."""
    r = _as_tensor(real, flatten=True).double()
    f = _as_tensor(fake, flatten=True).double()
    if r.shape[0] < 2 or f.shape[0] < 2:
        raise ValueError("precision/recall need at least 2 real and 2 generated samples")
    real_radii, fake_radii = _exact_knn_radii(r, k), _exact_knn_radii(f, k)
    d = _exact_distances(r, f)  # (N, M)
    in_real_ball = d < real_radii[:, None]  # [i, j]: fake j inside real i's ball
    in_fake_ball = d < fake_radii[None, :]  # [i, j]: real i inside fake j's ball
    k_used = min(k, r.shape[0] - 1)
    return {
        "precision": float(in_real_ball.any(dim=0).double().mean()),
        "recall": float(in_fake_ball.any(dim=1).double().mean()),
        "density": float(in_real_ball.sum(dim=0).double().mean() / k_used),
        "coverage": float(in_real_ball.any(dim=1).double().mean()),
    }


# ---------------------------------------------------------------------- any images
def mean_pairwise_distance(x: torch.Tensor | np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of distinct rows of x (N, ...)."""
    t = _as_tensor(x, flatten=True)
    n = t.shape[0]
    if n < 2:
        return 0.0
    return float(pairwise_distances(t, t).sum() / (n * (n - 1)))


def diversity_ratio(fake: torch.Tensor | np.ndarray, real: torch.Tensor | np.ndarray) -> float:
    """Mean pairwise distance among the generated samples over the same among real ones."""
    real_spread = mean_pairwise_distance(real)
    return mean_pairwise_distance(fake) / real_spread if real_spread > 0 else 0.0


def nearest_neighbour_distances(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Distance from each row of x to its nearest other row (N,)."""
    return knn_radii(_as_tensor(x, flatten=True), 1)


def duplicate_threshold(real: torch.Tensor | np.ndarray, quantile: float = DUPLICATE_QUANTILE):
    """The distance below which two images count as near-duplicates: the `quantile` of the
    nearest-neighbour distances among `real` images. Pass as many real images as generated ones
    are tested, because nearest neighbours get closer as a set grows."""
    return float(torch.quantile(nearest_neighbour_distances(real).double(), quantile))


def duplicate_rate(fake: torch.Tensor | np.ndarray, threshold: float) -> float:
    """Share of generated samples whose nearest other generated sample is within `threshold`."""
    if len(fake) < 2:
        return 0.0
    near = _within(nearest_neighbour_distances(fake), torch.tensor(threshold))
    return float(near.double().mean())


def nearest_train_distances(
    samples: torch.Tensor | np.ndarray,
    train: torch.Tensor | np.ndarray,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Distance from each sample to its nearest training example (N,). `exclude[i]`, when given,
    is the index in `train` of sample i itself (a real image measured leave-one-out)."""
    s = _as_tensor(samples, flatten=True)
    t = _as_tensor(train, flatten=True).to(s.dtype)
    d = pairwise_distances(s, t)
    if exclude is not None:
        d[torch.arange(s.shape[0]), exclude] = math.inf
    return d.min(dim=1).values


# ---------------------------------------------------------------------- 2D points, no modes
def grid_histogram(
    points: torch.Tensor | np.ndarray, bins: int = GRID_BINS, window: float = GRID_WINDOW
) -> np.ndarray:
    """Shares of `points` (N, 2) in the bins x bins cells of [-window, window]², then one last
    cell for every point outside it (a generator flinging points away is not dropped)."""
    x = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    cells = np.floor((x + window) / (2 * window) * bins).astype(np.int64)
    inside = ((cells >= 0) & (cells < bins)).all(axis=1)
    index = np.where(inside, cells[:, 0] * bins + cells[:, 1], bins * bins)
    counts = np.bincount(index, minlength=bins * bins + 1).astype(np.float64)
    return counts / max(len(x), 1)


def grid_divergences(
    real: torch.Tensor | np.ndarray,
    fake: torch.Tensor | np.ndarray,
    bins: int = GRID_BINS,
    window: float = GRID_WINDOW,
    smoothing: float = GRID_SMOOTHING,
) -> dict:
    """GAN Lab's KL(real ‖ generated) and JS divergence between the grid histograms of two
    point sets (see the module docstring), in nats."""
    p = grid_histogram(real, bins, window) + smoothing
    q = grid_histogram(fake, bins, window) + smoothing
    m = (p - smoothing + q - smoothing) / 2 + smoothing
    kl = float(np.sum(p * np.log(p / q)))
    js = float(0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m)))
    # Rounded to 12 places and kept ≥ 0: identical sets read exactly 0, not rounding noise.
    return {"kl_grid": round(max(0.0, kl), 12), "js_grid": round(max(0.0, js), 12)}


def point_measures(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, k: int = K_NEIGHBOURS
) -> dict:
    """Measures of generated 2D points against real ones that need no known modes: precision,
    recall, density and coverage on the points (k-NN manifolds), and the grid KL and JS."""
    return precision_recall_density_coverage(real, fake, k=k) | grid_divergences(real, fake)


def point_measures_against(
    real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, seed: int = 0
) -> dict:
    """point_measures of `fake` against a stored set of `real` points of any size: precision
    and recall on as many of each (k-NN radii shrink as a set grows, so unequal sets would
    bias them; the real ones a fixed random choice by `seed`), the grid divergences on all of
    both (a histogram's shares do not depend on the count)."""
    r = _as_tensor(real).double().reshape(-1, 2)
    f = _as_tensor(fake).double().reshape(-1, 2)
    n = min(len(r), len(f))
    if n < 2:
        raise ValueError("point measures need at least 2 real and 2 generated points")
    pick = torch.randperm(len(r), generator=torch.Generator().manual_seed(seed))[:n]
    return precision_recall_density_coverage(r[pick], f[:n]) | grid_divergences(r, f)


def duplicate_clusters(
    x: torch.Tensor | np.ndarray, threshold: float, chunk: int = 2048
) -> list[np.ndarray]:
    """Groups of near-duplicate samples, largest first: the connected groups of the graph
    joining two rows of x (N, ...) closer than `threshold` (the near-duplicate distance of
    `duplicate_threshold`). Rows with no near-copy form no group. Each group is its sorted
    indices (int64). A set that is 40% one image gives a first group of 0.4·N indices."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    t = _as_tensor(x, flatten=True)
    n = t.shape[0]
    if n < 2:
        return []
    rows, cols = [], []
    limit = torch.tensor(threshold, dtype=t.dtype)
    for start in range(0, n, chunk):
        d = pairwise_distances(t[start : start + chunk], t)
        i, j = torch.nonzero(_within(d, limit), as_tuple=True)
        i = i + start
        keep = i != j
        rows.append(i[keep].numpy())
        cols.append(j[keep].numpy())
    r, c = np.concatenate(rows), np.concatenate(cols)
    if len(r) == 0:
        return []
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label)
    groups = [np.flatnonzero(label == g) for g in np.argsort(-sizes, kind="stable") if sizes[g] > 1]
    return groups
