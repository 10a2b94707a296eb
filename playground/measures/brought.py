"""Diagnosing samples brought from a GAN trained elsewhere (`data.brought`) against a reference:
any dataset the playground knows, or a folder of the person's own real images.

The samples go through the very `Evaluator` a checkpoint's diagnosis uses, so images written
out of a playground run read the same as the run itself. Before that they are made to look
like the reference: scaled to its side (short side, centre crop) and converted to its channels
(grey repeated into RGB, or RGB to BT.601 luma), and a note says so. On top of the evaluator's
measures come the near-duplicate clusters among the samples (which samples are one image) and
a verdict in words with the figure behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from playground.data import registry as datasets
from playground.data.brought import Brought, BroughtError, load_samples
from playground.data.loading import DataSpec, load_dataset
from playground.data.source import DataSource
from playground.measures import metrics
from playground.measures.evaluation import Evaluator, Report, measured_source

DEFAULT_SIDE = 32  # the reference's side when the samples' side is not one a dataset trains at
SHOWN_CLUSTERS = 5  # clusters given in a report
SHOWN_INDICES = 50  # indices given per cluster
COLLAPSED_CLUSTER = 0.25  # a verdict of collapse when this share of samples is one image
PARTLY_CLUSTER = 0.05


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
        out["verdict"], out["verdict_reason"] = self.verdict, self.reason
        out["notes"] = list(self.notes)
        return out


# ---------------------------------------------------------------------- the entry points
def diagnose_path(
    samples: str | Path, real: str, seed: int = 0, device: str | torch.device = "cpu"
) -> Diagnosis:
    """Diagnose the samples in the file or folder `samples` against `real`: a dataset name of
    the registry, or a folder of real images."""
    entry = datasets.DATASETS.get(real)
    if entry is None and not Path(real).expanduser().is_dir():
        known = ", ".join(n for n in datasets.DATASETS if not _user_data(n))
        raise BroughtError(f"--real: {real!r} is neither a folder of images nor a dataset "
                           f"({known})")
    # Folder images are read at their own side (the reference is loaded to match it when the
    # dataset trains at that side), grey for a grey reference.
    grey = entry is not None and entry.kind == "images" and entry.channels == 1
    return diagnose_samples(load_samples(samples, grey=grey), real, seed, device)


def diagnose_samples(
    brought: Brought, real: str, seed: int = 0, device: str | torch.device = "cpu"
) -> Diagnosis:
    """Diagnose brought samples against `real` (a dataset name, or a folder of real images)."""
    device = torch.device(device)
    if brought.kind == "points":
        return _points(brought, real, seed, device)
    data, name, notes = _image_reference(brought, real, device)
    fake, converted = conform(brought.images, data.shape)
    evaluator = Evaluator(name, data, seed=seed)
    if evaluator.labelled:
        evaluator.wait_for_classifier()
    report = evaluator.measure(fake)
    measured = measured_source(data)
    flat = _measured_pixels(fake, measured.shape[-1])
    threshold = _threshold(measured, len(fake), seed)
    clusters = metrics.duplicate_clusters(flat, threshold)
    verdict, reason = image_verdict(report.measures, clusters)
    return Diagnosis(report, name, verdict, reason, clusters,
                     notes=[*brought.notes, *converted, *notes])


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
    order = torch.randperm(len(measured), generator=torch.Generator().manual_seed(seed))
    real = measured.images.cpu().index_select(0, order[: min(n, len(measured))])
    flat = real.float().div_(127.5).sub_(1.0).reshape(len(real), -1)
    return metrics.duplicate_threshold(flat) if len(flat) >= 2 else 0.0


def _user_data(name: str) -> bool:
    entry = datasets.DATASETS[name]
    return entry.user_folder or entry.user_points


# ---------------------------------------------------------------------- points
def _points(brought: Brought, real: str, seed: int, device: torch.device) -> Diagnosis:
    entry = datasets.DATASETS.get(real)
    if entry is None or not entry.is_points or entry.user_points:
        toys = ", ".join(n for n in datasets.names_where(kind="points") if not _user_data(n))
        raise BroughtError(f"--real: 2D points are diagnosed against a 2D set ({toys})")
    data = datasets.points_source(real, device)
    evaluator = Evaluator(real, data, seed=seed)
    if not evaluator.supported:
        mixtures = ", ".join(datasets.names_where(mixture=True))
        raise BroughtError(f"--real: measures of 2D points need a mixture ({mixtures})")
    report = evaluator.measure(torch.as_tensor(brought.points, dtype=torch.float32))
    verdict, reason = point_verdict(report.measures)
    return Diagnosis(report, real, verdict, reason, notes=list(brought.notes))


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
