"""Diagnosing samples brought from a GAN trained elsewhere (`data.brought`) against a reference:
any dataset the playground knows, or a folder of the person's own real images.

The samples go through the very `Evaluator` a checkpoint's diagnosis uses, so images written
out of a playground run read the same as the run itself. Before that they are made to look
like the reference: scaled to its side (short side, centre crop) and converted to its channels
(grey repeated into RGB, or RGB to BT.601 luma), and a note says so. On top of the evaluator's
measures come the near-duplicate clusters among the samples (which samples are one image), the
samples nearest to a real image (candidates for memorisation, each with that image and the
distance, beside the distance a real image has to the other real ones) and a verdict in words
with the figure behind it. The Diagnosis keeps the pictures a report draws (the pairs, each
cluster's images) next to its JSON-able measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from playground.data import registry as datasets
from playground.data.brought import Brought, BroughtError, load_samples
from playground.data.loading import DataSpec, load_dataset
from playground.data.source import DataSource
from playground.measures import metrics
from playground.measures.evaluation import (
    MAX_TRAIN_REFERENCE,
    Evaluator,
    Report,
    measured_source,
)
from playground.measures.fid import describe
from playground.views import images as pictures
from playground.views.view2d import plot_window

DEFAULT_SIDE = 32  # the reference's side when the samples' side is not one a dataset trains at
SHOWN_CLUSTERS = 5  # clusters given in a report
SHOWN_INDICES = 50  # indices given per cluster
COLLAPSED_CLUSTER = 0.25  # a verdict of collapse when this share of samples is one image
PARTLY_CLUSTER = 0.05
SHOWN_PAIRS = 8  # samples shown beside their nearest real image: the closest ones
CLUSTER_PICTURES = 16  # images shown of each cluster
HELD_OUT = 1000  # real images measured against the other real ones: the yardstick
REAL_POINTS = 1000  # real 2D points drawn under the samples
NEAREST_CHUNK = 1024  # samples compared with the reference at once (a chunk × 10,000 matrix)

# progress(fraction done in [0, 1], what is being done in words), for a page's progress bar.
Progress = Callable[[float, str], None]


def _silent(fraction: float, words: str) -> None:
    return None


@dataclass
class Neighbours:
    """The samples nearest to a real image, each with that image: copies of training images
    (memorisation) show up here first. Distances are Euclidean, in the measured pixel space
    (images in [-1, 1], enlarged to 32 px when smaller, as the clusters compare them)."""

    sample_index: np.ndarray  # (k,) int64 the samples, closest first
    real_index: np.ndarray  # (k,) int64 their nearest image, an index into the reference data
    distance: np.ndarray  # (k,) float64
    samples: np.ndarray  # (k, H, W, C) uint8 the samples as measured (at the reference's side)
    real: np.ndarray  # (k, H, W, C) uint8 their nearest real images
    median: float  # median distance of all samples to their nearest real image
    real_median: float  # the same for real images held out from the others: the yardstick
    searched: int  # real images searched
    copy_distance: float = 0.0  # the near-duplicate distance the clusters use
    copies: int = 0  # samples within it of a real image: near-copies of the data

    def measures(self) -> dict:
        return {
            "nearest_pairs": [
                {"sample": int(i), "real": int(j), "distance": float(d)}
                for i, j, d in zip(self.sample_index, self.real_index, self.distance, strict=True)
            ],
            "nearest_median": self.median,
            "nearest_median_real": self.real_median,
            "nearest_searched": self.searched,
            "real_copies": self.copies,
        }


@dataclass
class Diagnosis:
    """What diagnosing brought samples found: the evaluator's report, the clusters and the
    verdict, with the notes on what reading and converting the samples did."""

    report: Report
    reference: str  # the dataset's name, or "folder"
    verdict: str  # "healthy", "partly collapsed", "collapsed" or "off the data"
    reason: str  # the sentence with the figure behind the verdict
    clusters: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    neighbours: Neighbours | None = None  # images only
    # (m, H, W, C) uint8: the first CLUSTER_PICTURES members of each of the SHOWN_CLUSTERS
    cluster_images: list[np.ndarray] = field(default_factory=list)
    real_points: np.ndarray | None = None  # (REAL_POINTS, 2) of the reference, for 2D points
    extent: tuple[float, float, float, float] | None = None  # the 2D window over both

    @property
    def kind(self) -> str:
        """"points" or "images"."""
        return "points" if self.report.samples.ndim == 2 else "images"

    @property
    def measures(self) -> dict:
        """The report's measures with the clusters and the verdict: JSON-able values."""
        n = int(self.report.measures.get("samples", 0)) or 1
        out = dict(self.report.measures)
        out["biggest_cluster_share"] = len(self.clusters[0]) / n if self.clusters else 0.0
        out["duplicate_clusters"] = [
            {"size": len(c), "share": len(c) / n, "indices": c[:SHOWN_INDICES].tolist()}
            for c in self.clusters[:SHOWN_CLUSTERS]
        ]
        if self.neighbours is not None:
            out |= self.neighbours.measures()
        out["verdict"], out["verdict_reason"] = self.verdict, self.reason
        out["reference"] = self.reference
        out["notes"] = list(self.notes)
        return out


# ---------------------------------------------------------------------- the entry points
def diagnose_path(
    samples: str | Path,
    real: str,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> Diagnosis:
    """Diagnose the samples in the file or folder `samples` against `real`: a dataset name of
    the registry, or a folder of real images. `progress(fraction, words)` is told each stage."""
    entry = datasets.DATASETS.get(real)
    if entry is None and not Path(real).expanduser().is_dir():
        known = ", ".join(n for n in datasets.DATASETS if not _user_data(n))
        raise BroughtError(f"--real: {real!r} is neither a folder of images nor a dataset "
                           f"({known})")
    # Folder images are read at their own side (the reference is loaded to match it when the
    # dataset trains at that side), grey for a grey reference.
    grey = entry is not None and entry.kind == "images" and entry.channels == 1
    (progress or _silent)(0.0, "reading the samples")
    return diagnose_samples(load_samples(samples, grey=grey), real, seed, device, progress)


def diagnose_samples(
    brought: Brought,
    real: str,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> Diagnosis:
    """Diagnose brought samples against `real` (a dataset name, or a folder of real images).
    `progress(fraction, words)` is told as each stage starts, and (1.0, "done") at the end:
    the evaluator's measures are one stage (it says nothing while it works)."""
    device = torch.device(device)
    tell = progress or _silent
    if brought.kind == "points":
        found = _points(brought, real, seed, device, tell)
        tell(1.0, "done")
        return found
    tell(0.02, "loading the real images")
    data, name, notes = _image_reference(brought, real, device)
    fake, converted = conform(brought.images, data.shape)
    evaluator = Evaluator(name, data, seed=seed)
    if evaluator.labelled:
        tell(0.1, f"getting the {name} classifier (trained once, then stored)")
        evaluator.wait_for_classifier()
    tell(0.25, f"measuring {len(fake):,} samples: classes, precision/recall, FID")
    report = evaluator.measure(fake)
    measured = measured_source(data)
    flat = _measured_pixels(fake, measured.shape[-1])
    tell(0.7, "finding near-copies among the samples")
    threshold = _threshold(measured, len(fake), seed)
    clusters = metrics.duplicate_clusters(flat, threshold)
    tell(0.8, "finding each sample's nearest real image")
    neighbours = nearest_real(flat, fake, measured, data, seed, copy_distance=threshold)
    verdict, reason = image_verdict(report.measures, clusters)
    shown = [pictures.to_uint8(fake[torch.as_tensor(c[:CLUSTER_PICTURES])])
             for c in clusters[:SHOWN_CLUSTERS]]
    tell(1.0, "done")
    return Diagnosis(report, name, verdict, reason, clusters,
                     notes=[*brought.notes, *converted, *notes], neighbours=neighbours,
                     cluster_images=shown)


def conform(images: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, list[str]]:
    """Images (N, C, h, w) in [-1, 1] made (N, *shape): short side scaled to the side, centre
    cropped, channels converted. Returns them and a note on each change."""
    from torchvision.transforms.v2 import functional as tvf

    channels, side = int(shape[0]), int(shape[-1])
    notes = []
    out = images
    if out.shape[-2:] != (side, side):
        h, w = out.shape[-2:]
        out = tvf.center_crop(tvf.resize(out, side, antialias=True), [side, side])
        notes.append(f"resized from {h}×{w} to {side}×{side}, the reference's size")
    if out.shape[1] != channels:
        if channels == 1:
            out = tvf.rgb_to_grayscale(out)
            notes.append("converted from colour to grey, as the reference is")
        else:
            out = out.repeat(1, 3, 1, 1)
            notes.append("grey repeated into R, G and B, as the reference is colour")
    return out.clamp(-1, 1).contiguous(), notes


# ---------------------------------------------------------------------- the real side
FOLDER = next(d.name for d in datasets.DATASETS.values() if d.user_folder)  # the user's images
def _image_reference(
    brought: Brought, real: str, device: torch.device
) -> tuple[DataSource, str, list[str]]:
    side = int(brought.images.shape[-1])
    grey = brought.images.shape[1] == 1
    entry = datasets.DATASETS.get(real)
    if entry is None or entry.user_folder:
        folder = Path(real).expanduser()
        size = side if side in datasets.IMAGE_SIZES else DEFAULT_SIDE
        spec = DataSpec(FOLDER, image_size=size, grayscale=grey, data_folder=str(folder))
        data = load_dataset(spec, device)
        return data, FOLDER, [f"reference: {len(data):,} real images of {folder}"]
    if entry.kind != "images" or _user_data(real):
        raise BroughtError(f"--real: {real} is a 2D set; these samples are images")
    size = side if side in entry.image_sizes else DEFAULT_SIDE
    data = load_dataset(DataSpec(real, image_size=size, grayscale=grey and entry.channels == 3),
                        device)
    return data, real, [f"reference: {len(data):,} {entry.title} images at {size}×{size}"]


def _measured_pixels(fake: torch.Tensor, side: int) -> torch.Tensor:
    """The samples as the evaluator compares pixels: enlarged as small references are."""
    if fake.shape[-1] == side:
        return fake.reshape(len(fake), -1)
    from torchvision.transforms.v2.functional import resize

    return resize(fake, [side, side], antialias=False).reshape(len(fake), -1)


def _threshold(measured: DataSource, n: int, seed: int) -> float:
    """The near-duplicate distance: the 1st percentile of nearest-neighbour distances among as
    many real images as there are samples (at most all of them)."""
    order = _reference_order(measured, seed)
    real = measured.images.cpu().index_select(0, order[: min(n, len(measured))])
    flat = real.float().div_(127.5).sub_(1.0).reshape(len(real), -1)
    return metrics.duplicate_threshold(flat) if len(flat) >= 2 else 0.0


def _reference_order(measured: DataSource, seed: int) -> torch.Tensor:
    return torch.randperm(len(measured), generator=torch.Generator().manual_seed(seed))


def nearest_real(
    flat: torch.Tensor,
    fake: torch.Tensor,
    measured: DataSource,
    data: DataSource,
    seed: int = 0,
    shown: int = SHOWN_PAIRS,
    copy_distance: float = 0.0,
) -> Neighbours:
    """Each sample's nearest real image among up to MAX_TRAIN_REFERENCE of them (a fixed random
    choice when there are more), and the `shown` samples closest to theirs. `flat` (N, D) are
    the samples in the measured pixel space of `measured` (the reference as measured), `fake`
    the same samples at the side of `data` (the reference as loaded), for the pictures. The
    yardstick is the same distance for up to HELD_OUT real images, each measured against the
    other real ones (itself left out). Samples within `copy_distance` of a real image are
    counted as near-copies of the data."""
    order = _reference_order(measured, seed)[:MAX_TRAIN_REFERENCE]
    real = measured.images.cpu().index_select(0, order).float().div_(127.5).sub_(1.0)
    real = real.reshape(len(real), -1)
    flat = flat.cpu().float()
    distance, index = _nearest(flat, real)
    # The reference's order is random, so its head is a fair draw of real images to hold out.
    held = min(HELD_OUT, len(real)) if len(real) >= 2 else 0
    held_distance, _ = _nearest(real[:held], real, exclude_self=True)
    # The matrix-product distances are rounded (by up to a few tenths near 0 in float32), so
    # the closest candidates are measured again exactly and ordered by that.
    candidates = torch.argsort(distance, stable=True)[: 4 * shown]
    exact = (flat[candidates].double() - real[index[candidates]].double()).norm(dim=1)
    ranked = torch.argsort(exact, stable=True)[:shown]
    closest, exact = candidates[ranked], exact[ranked]
    real_index = order[index[closest]]
    real_pictures = data.images.cpu().index_select(0, real_index).permute(0, 2, 3, 1).numpy()
    return Neighbours(
        sample_index=closest.numpy().astype(np.int64),
        real_index=real_index.numpy().astype(np.int64),
        distance=exact.numpy(),
        samples=pictures.to_uint8(fake[closest]),
        real=np.ascontiguousarray(real_pictures),
        median=float(distance.median()) if len(distance) else 0.0,
        real_median=float(held_distance.median()) if len(held_distance) else 0.0,
        searched=len(real),
        copy_distance=copy_distance,
        copies=int((distance <= copy_distance * (1 + 1e-6)).sum()) if copy_distance > 0 else 0,
    )


def _nearest(
    a: torch.Tensor, b: torch.Tensor, exclude_self: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of the nearest row of b for each row of a, NEAREST_CHUNK rows of a at
    a time; with `exclude_self`, row i of a is row i of b and is not its own neighbour."""
    distances, indices = [], []
    for start in range(0, len(a), NEAREST_CHUNK):
        d = metrics.pairwise_distances(a[start : start + NEAREST_CHUNK], b)
        if exclude_self:
            rows = torch.arange(len(d))
            d[rows, rows + start] = float("inf")
        best = d.min(dim=1)
        distances.append(best.values)
        indices.append(best.indices)
    if not distances:
        return torch.zeros(0), torch.zeros(0, dtype=torch.int64)
    return torch.cat(distances), torch.cat(indices)


def _user_data(name: str) -> bool:
    entry = datasets.DATASETS[name]
    return entry.user_folder or entry.user_points


# ---------------------------------------------------------------------- points
def _points(
    brought: Brought, real: str, seed: int, device: torch.device, tell: Progress
) -> Diagnosis:
    entry = datasets.DATASETS.get(real)
    if entry is None or not entry.is_points or entry.user_points:
        toys = ", ".join(n for n in datasets.names_where(kind="points") if not _user_data(n))
        raise BroughtError(f"--real: 2D points are diagnosed against a 2D set ({toys})")
    data = datasets.points_source(real, device)
    evaluator = Evaluator(real, data, seed=seed)
    if not evaluator.supported:
        mixtures = ", ".join(datasets.names_where(mixture=True))
        raise BroughtError(f"--real: measures of 2D points need a mixture ({mixtures})")
    tell(0.1, f"measuring {len(brought):,} points against the modes of {real}")
    report = evaluator.measure(torch.as_tensor(brought.points, dtype=torch.float32))
    verdict, reason = point_verdict(report.measures)
    shown, _ = data.sample(REAL_POINTS, torch.Generator(data.device).manual_seed(seed))
    return Diagnosis(report, real, verdict, reason, notes=list(brought.notes),
                     real_points=shown.cpu().numpy(),
                     extent=_window(plot_window(data), brought.points))


def _window(
    window: tuple[float, float, float, float], points: np.ndarray
) -> tuple[float, float, float, float]:
    """The real data's window widened, square, to hold the samples too (their 1st to 99th
    percentile: one point flung far away does not shrink the picture to a dot)."""
    finite = points[np.isfinite(points).all(axis=1)]
    if not len(finite):
        return window
    lo, hi = np.percentile(finite, 1, axis=0), np.percentile(finite, 99, axis=0)
    x0, x1 = min(window[0], lo[0]), max(window[1], hi[0])
    y0, y1 = min(window[2], lo[1]), max(window[3], hi[1])
    half = max(x1 - x0, y1 - y0) / 2
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    return (float(mx - half), float(mx + half), float(my - half), float(my + half))


# ---------------------------------------------------------------------- the measures, in words
MEASURE_LABELS = (  # (key, label) in the order shown; absent keys are skipped
    ("modes_held", "modes held"),
    ("modes_covered", "modes covered"),
    ("high_quality_fraction", "high quality"),
    ("classes_covered", "classes covered"),
    ("classes_held", "classes held"),
    ("confident_fraction", "recognisable"),
    ("reverse_kl", "reverse KL"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("density", "density"),
    ("coverage", "coverage"),
    ("kl_grid", "KL (grid)"),
    ("js_grid", "JS (grid)"),
    ("fid", "FID"),
    ("fid_floor", "FID of real images"),
    ("kid", "KID"),
    ("inception_score", "IS"),
    ("diversity_ratio", "diversity ratio"),
    ("duplicate_rate", "near-duplicates"),
    ("biggest_cluster_share", "biggest group of near-copies"),
    ("nearest_median", "median distance to the nearest real image"),
    ("nearest_median_real", "the same, real images among themselves"),
    ("real_copies", "near-copies of real images"),
    ("nearest_train_ratio", "nearest training image ratio"),
)
PERCENT = ("high_quality_fraction", "confident_fraction", "duplicate_rate",
           "biggest_cluster_share")
EXPLANATIONS = {
    **metrics.EXPLANATIONS,
    "biggest_cluster_share": "Share of the samples in the largest group of near-copies of one "
    "another (closer than all but 1% of real images are to their nearest real neighbour): "
    "about 0 for real data; a collapsed generator puts a large share in one group.",
    "nearest_median": "Median distance from a sample to its nearest real image, in pixels "
    "scaled to [-1, 1]: compare it with the next line.",
    "nearest_median_real": "Median distance from a real image to its nearest other real image: "
    "samples much closer to the data than this are copying it.",
    "real_copies": "Samples as close to some real image as the near-copies among the samples "
    "are to one another: copies of the data (memorised).",
}


def measure_rows(m: dict) -> list[tuple[str, str, str]]:
    """(label, value, explanation) of each measure in a diagnosis's `measures`, in order."""
    names = describe(m.get("reference", "")) if m.get("classes_total") else {}
    rows = []
    for key, label in MEASURE_LABELS:
        if key not in m:
            continue
        value = m[key]
        if key.startswith(("modes_", "classes_")):
            total = m.get("modes_total" if key.startswith("modes_") else "classes_total")
            text = f"{value} of {total}"
        elif key in PERCENT:
            text = f"{value:.1%}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = f"{value:.3f}"
        rows.append((names.get(key, label), text, EXPLANATIONS.get(key, "")))
    return rows


# ---------------------------------------------------------------------- verdicts
def image_verdict(m: dict, clusters: list[np.ndarray]) -> tuple[str, str]:
    """(verdict, the sentence with its figure) for image measures and duplicate clusters."""
    n = max(1, int(m.get("samples", 1)))
    share = len(clusters[0]) / n if clusters else 0.0
    one_image = (f"{share:.0%} of your samples ({len(clusters[0]):,} of {n:,}) are one image"
                 if clusters else "")
    total = m.get("classes_total")
    if share >= COLLAPSED_CLUSTER:
        return "collapsed", f"{one_image}: the generator repeats itself."
    if total and m.get("confident_fraction", 1.0) < 0.3:
        return "off the data", (f"only {m['confident_fraction']:.0%} of the samples are "
                                "recognisable as any class: they do not look like the data.")
    if total and m.get("classes_held", total) <= total // 2:
        return "collapsed", (f"only {m['classes_held']} of {total} classes are held: the "
                             "samples fall in a few classes.")
    if not total and m.get("diversity_ratio", 1.0) < 0.5:
        return "collapsed", (f"the samples vary {m['diversity_ratio']:.2f} times as much as the "
                             "real images: the generator repeats itself.")
    if share >= PARTLY_CLUSTER:
        return "partly collapsed", f"{one_image}."
    if total and m.get("classes_held", total) < total:
        return "partly collapsed", (f"{m['classes_held']} of {total} classes are held; the "
                                    "others get few samples.")
    if "coverage" in m and m["coverage"] < 0.5:
        return "partly collapsed", (f"the samples reach {m['coverage']:.0%} of the real images' "
                                    "neighbourhoods (coverage).")
    held = f"{m['classes_held']} of {total} classes held, " if total else ""
    reach = f"coverage {m['coverage']:.0%}, " if "coverage" in m else ""
    return "healthy", (f"{held}{reach}the biggest group of near-copies is {share:.1%} of the "
                       "samples.")


def point_verdict(m: dict) -> tuple[str, str]:
    """(verdict, sentence) for the measures of 2D points on a mixture."""
    held, total = m.get("modes_held", 0), m.get("modes_total", 0)
    quality = m.get("high_quality_fraction", 0.0)
    if quality < 0.5:
        return "off the data", f"only {quality:.0%} of the points lie near any mode."
    if held <= total // 2:
        return "collapsed", f"only {held} of {total} modes are held."
    if held < total:
        return "partly collapsed", f"{held} of {total} modes are held."
    return "healthy", (f"all {total} modes are held; {quality:.0%} of the points lie near a "
                       f"mode (reverse KL {m.get('reverse_kl', 0.0):.3f}).")
