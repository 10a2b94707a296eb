"""The mode-collapse measures of a generator, wired to its dataset: live during training (every
`eval_every` steps, on few samples) and on demand for a checkpoint (`diagnose`).

An `Evaluator` holds what the measures compare against, computed once per sample count: for 2D
mixtures the mode centres; for images a fixed subset of real images (their spread, their
nearest-neighbour distances, their classifier features) and the classifier itself. Measuring a
generator is then one batch of samples and a few distance matrices. The measures themselves are
the pure functions of `playground.measures.metrics`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch

from playground.data import registry as datasets
from playground.data.source import DataSource
from playground.measures import metrics
from playground.measures.classifier import ClassifierError, classifier_in_background, get_classifier
from playground.measures.fid import (
    INCEPTION_HINT,
    DistributionMeasures,
    InceptionMeasures,
    inception_weights,
)
from playground.views import images

log = logging.getLogger(__name__)

LIVE_SAMPLES = {"points": 1000, "images": 256}  # few samples live, so training barely slows
DIAGNOSE_SAMPLES = 2500  # the papers' count, for `diagnose` and the Diagnostics page
MAX_TRAIN_REFERENCE = 10_000  # training images searched for each sample's nearest neighbour
MEASURE_CAPACITY = 200  # live measure records kept per run (thinned evenly beyond that)
EVAL_SEED = 2017  # the live noise: the same z at every evaluation, so the timeline compares
# Images smaller than MIN_MEASURED_SIDE (digits trained at their own 8 or 16 px) are measured
# enlarged to MEASURED_SIDE, the real and the generated alike, bilinear as the data loader
# enlarges them: their measures then use the same classifier and the same real images as a
# 32 px run of the same data, so the numbers compare across training sizes.
MIN_MEASURED_SIDE = 28
MEASURED_SIDE = 32


@dataclass(frozen=True)
class Report:
    """One evaluation: the measures (plain JSON-able values) and what a page draws with them."""

    measures: dict
    samples: np.ndarray  # points (N, 2) float32, or images (N, H, W, C) uint8
    reference: list[float] | None = None  # true share of each mode or class
    predicted: np.ndarray | None = None  # (N,) class of each image (labelled data)
    confidence: np.ndarray | None = None  # (N,) the classifier's probability for that class

    @property
    def counts(self) -> list[int] | None:
        return self.measures.get("mode_counts") or self.measures.get("class_histogram")


@dataclass
class _ImageReference:
    real: torch.Tensor  # (n, D) float32 real images, flattened
    spread: float  # their mean pairwise distance
    duplicate_threshold: float
    real_to_train: float  # mean leave-one-out distance of a real image to the training set
    features: torch.Tensor | None  # (n, 64) classifier features of the real images
    images: torch.Tensor | None = None  # (n, C, H, W) the real images in [-1, 1]
    distribution: object | None = None  # fid.DistributionMeasures over them, built at first use
    inception: object | None = None  # fid.InceptionMeasures over them, when asked for
    fid_floor: float | None = None  # FID of as many other real images: the noise floor


class Evaluator:
    """Measures for generators of one dataset. `supported` is False for 2D toys without mode
    centres (the registry's points datasets that are not mixtures): nothing is measured there."""

    def __init__(
        self,
        dataset: str,
        data: DataSource,
        seed: int = 0,
        classifier=None,
        background: bool = False,
    ):
        self.dataset, self.data, self.seed = dataset, measured_source(data), seed
        self.kind = data.kind
        self._classifier = classifier
        # background: a classifier that is not stored trains in another thread (a live run
        # keeps stepping; class measures appear once it is ready) instead of in the caller's.
        self.background = background
        self.classifier_error: str | None = None
        self._refs: dict[int, _ImageReference] = {}
        self._train: torch.Tensor | None = None
        self._order: torch.Tensor | None = None
        self._lock = threading.Lock()

    @property
    def supported(self) -> bool:
        return self.kind == "images" or self.data.centres is not None or self._own_points

    @property
    def labelled(self) -> bool:
        return self.kind == "images" and self.data.labels is not None and self.data.num_classes > 0

    @property
    def classifier(self):
        """The dataset's classifier; None while it trains in the background (or failed to)."""
        if self._classifier is None and self.labelled and self.classifier_error is None:
            if not self.background:
                self._classifier = get_classifier(self.dataset, self.data)
            else:
                try:
                    self._classifier = classifier_in_background(self.dataset, self.data)
                except ClassifierError as exc:
                    self.classifier_error = str(exc)
        return self._classifier

    @property
    def classifier_pending(self) -> bool:
        """True while the class measures wait for a classifier training in the background."""
        return self.labelled and self.classifier is None and self.classifier_error is None

    def wait_for_classifier(self):
        """The classifier, waiting for a background training to end (the command line)."""
        if self.labelled and self._classifier is None and self.background:
            self._classifier = classifier_in_background(self.dataset, self.data, wait=True)
        return self.classifier

    # ------------------------------------------------------------------ measuring
    def measure(self, samples: torch.Tensor, inception: bool = False) -> Report:
        """Measures of generated `samples`: (N, 2) points or (N, C, H, W) images in [-1, 1].
        `inception` adds the standard Inception FID/KID when their weights are on disk (slow on
        a CPU: a 299 px Inception-v3 pass per image)."""
        if not self.supported:
            raise ValueError(
                f"no mode-collapse measures for '{self.dataset}': they need a Gaussian mixture "
                f"({', '.join(datasets.names_where(mixture=True))}) or images"
            )
        with self._lock:
            if self.kind == "points":
                return self._measure_points(samples)
            return self._measure_images(samples, inception)

    @property
    def _own_points(self) -> bool:
        return self.kind == "points" and getattr(self.data, "points", None) is not None

    def _measure_points(self, samples: torch.Tensor) -> Report:
        points = samples.detach().float().cpu()
        if self.data.centres is None:  # the user's own points: measures that need no modes
            result = metrics.point_measures_against(self.data.points.cpu(), points, self.seed)
            result["samples"] = int(points.shape[0])
            return Report(_finite(result), points.numpy())
        m = self.data.centres.shape[0]
        result = metrics.coverage_2d(points, self.data.centres, self.data.sigma)
        result["samples"] = int(points.shape[0])
        return Report(_finite(result), points.numpy(), reference=[1.0 / m] * m)

    def _measure_images(self, samples: torch.Tensor, inception: bool = False) -> Report:
        device = self.data.device
        fake = enlarge(samples.detach().to(device, torch.float32), self.data.shape[-1])
        n = fake.shape[0]
        ref = self._reference(n)
        flat = fake.reshape(n, -1)
        n_ref = ref.real.shape[0]
        result: dict = {"samples": n}
        predicted = confidence = reference = None
        clf = self.classifier if self.labelled else None
        if clf is not None:
            probs, feats = clf.predict(fake)
            result |= metrics.class_measures(probs, clf.label_distribution)
            if n >= 2 and ref.features is not None and ref.features.shape[0] >= 2:
                result |= metrics.precision_recall_density_coverage(ref.features, feats)
                result |= self._distribution(ref, clf).measure(fake)
                if ref.fid_floor is not None:
                    result["fid_floor"] = ref.fid_floor
            confidence, predicted = (t.numpy() for t in probs.max(dim=1))
            reference = clf.label_distribution.tolist()
        if inception and n >= 2 and n_ref >= 2:
            result |= self._inception(ref).measure(fake)
        if n >= 2 and n_ref >= 2 and ref.spread > 0:
            result["diversity_ratio"] = metrics.mean_pairwise_distance(flat) / ref.spread
            result["duplicate_rate"] = metrics.duplicate_rate(flat[:n_ref], ref.duplicate_threshold)
        nearest = metrics.nearest_train_distances(flat, self._train_set())
        result["nearest_train_distance"] = float(nearest.mean())
        if ref.real_to_train > 0:
            result["nearest_train_ratio"] = result["nearest_train_distance"] / ref.real_to_train
        return Report(
            _finite(result),
            images.to_uint8(fake),
            reference,
            predicted=predicted,
            confidence=confidence,
        )

    # ------------------------------------------------------------------ the real side, once
    def _distribution(self, ref: _ImageReference, clf):
        """FID/KID/IS (torchmetrics, classifier features) against this reference's real images."""
        if ref.distribution is None:
            ref.distribution = DistributionMeasures(clf.net, ref.images)
            n = ref.images.shape[0]
            others = self._permutation()[n : 2 * n]
            if len(others) >= 2:  # what real data scores: the FID a perfect generator would get
                ref.fid_floor = ref.distribution.measure(self._as_float(others))["fid"]
        return ref.distribution

    def _inception(self, ref: _ImageReference):
        """Inception FID/KID against this reference's real images; ValueError without weights."""
        if ref.inception is None:
            weights = inception_weights()
            if weights is None:
                raise ValueError(INCEPTION_HINT)
            ref.inception = InceptionMeasures(weights, ref.images)
        return ref.inception

    def _permutation(self) -> torch.Tensor:
        """A fixed random order of the training images; references are taken from its head."""
        if self._order is None:
            gen = torch.Generator(self.data.device).manual_seed(self.seed)
            self._order = torch.randperm(len(self.data), generator=gen, device=self.data.device)
        return self._order

    def _as_float(self, index: torch.Tensor) -> torch.Tensor:
        x = self.data.images.index_select(0, index).float().div_(127.5).sub_(1.0)
        return x

    def _train_set(self) -> torch.Tensor:
        if self._train is None:
            head = self._permutation()[:MAX_TRAIN_REFERENCE]
            self._train = self._as_float(head).reshape(len(head), -1)
        return self._train

    def _reference(self, n: int) -> _ImageReference:
        """The real images compared with n generated ones: as many as there are (up to n), so
        distance statistics that depend on the set size compare like with like."""
        if n in self._refs:
            ref = self._refs[n]
            if ref.features is None and self.labelled and self.classifier is not None:
                # The classifier became ready (trained in the background) since this was made.
                _, ref.features = self.classifier.predict(ref.images)
            return ref
        index = self._permutation()[: min(n, len(self.data))]
        real_images = self._as_float(index)
        real = real_images.reshape(len(index), -1)
        spread = metrics.mean_pairwise_distance(real)
        threshold = metrics.duplicate_threshold(real) if len(index) >= 2 else 0.0
        train = self._train_set()
        # The reference is the head of the same order as the training subset, so real image i
        # is training image i: leave it out when finding its nearest training neighbour.
        loo = metrics.nearest_train_distances(
            real, train, exclude=torch.arange(len(index), device=real.device)
        )
        finite = loo[torch.isfinite(loo)]
        features = None
        if self.labelled and self.classifier is not None:
            _, features = self.classifier.predict(real_images)
        ref = _ImageReference(
            real,
            spread,
            threshold,
            float(finite.mean()) if len(finite) else 0.0,
            features,
            images=real_images,
        )
        self._refs[n] = ref
        return ref


def enlarge(images: torch.Tensor, side: int) -> torch.Tensor:
    """(N, C, h, w) float images resized to side x side (bilinear, as the data loader enlarges
    small images; unchanged when they already have that side)."""
    if images.shape[-1] == side:
        return images
    from torchvision.transforms.v2.functional import resize

    return resize(images, [side, side], antialias=side < images.shape[-1])


def measured_source(data: DataSource) -> DataSource:
    """The data the measures compare with: `data` itself, or its images enlarged to
    MEASURED_SIDE when they are smaller than MIN_MEASURED_SIDE."""
    if data.kind != "images" or data.images is None or data.shape[-1] >= MIN_MEASURED_SIDE:
        return data
    parts = [
        enlarge(chunk.float(), MEASURED_SIDE).round_().clamp_(0, 255).to(torch.uint8)
        for chunk in data.images.split(4096)
    ]
    shape = (data.shape[0], MEASURED_SIDE, MEASURED_SIDE)
    return dataclasses.replace(data, images=torch.cat(parts), shape=shape)


def _finite(measures: dict) -> dict:
    """Drop measures that came out NaN or infinite (samples of a diverging generator): they
    mean nothing, and JSON has no place for them."""
    return {
        k: v for k, v in measures.items() if not (isinstance(v, float) and not math.isfinite(v))
    }


# ---------------------------------------------------------------------- a run's series
class MeasureSeries:
    """The live measure records of a run: {"step", "samples", measures…}, at most `capacity`
    of them. Beyond that every other record is dropped (the latest kept), so the series spans
    the whole run at a coarsening resolution. `error` stops further evaluation when set."""

    def __init__(self, capacity: int = MEASURE_CAPACITY):
        self.capacity = max(4, capacity)
        self.records: list[dict] = []
        self.error: str | None = None
        self.seconds = 0.0  # time spent measuring, for the slowdown it costs
        self.note: str | None = None  # e.g. class measures waiting for their classifier

    def append(self, record: dict) -> None:
        records = list(self.records)  # readers in other threads see an old or a new list
        if records and records[-1]["step"] == record["step"]:
            records[-1] = record
        else:
            records.append(record)
        if len(records) > self.capacity:
            records = records[::-1][::2][::-1]
        self.records = records

    def copy(self) -> list[dict]:
        return [dict(r) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def state(self) -> dict:
        return {"records": self.copy(), "error": self.error}

    def load(self, state: dict) -> None:
        """Records from a checkpoint: each a dict with an integer step ≥ 0 whose values are
        finite numbers or lists of counts; anything else is refused (ValueError)."""
        records = state.get("records", [])
        if not isinstance(records, list) or not all(_valid_record(r) for r in records):
            raise ValueError("measure records are malformed")
        self.records = [dict(r) for r in records][-self.capacity :]
        error = state.get("error")
        self.error = error[:500] if isinstance(error, str) else None


def _valid_record(record: object) -> bool:
    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def counts(v: object) -> bool:
        return (
            isinstance(v, list)
            and len(v) <= 1000
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in v)
        )

    if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
        return False
    step = record.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return False
    return all(number(v) or counts(v) for v in record.values())


def series_record(step: int, report: Report) -> dict:
    return {"step": int(step), **report.measures}


# ---------------------------------------------------------------------- entry points
def evaluator_for(trainer) -> Evaluator:
    """The trainer's evaluator, built at its first use."""
    ev = getattr(trainer, "evaluator", None)
    if ev is None:
        ev = Evaluator(trainer.cfg.dataset, trainer.data, seed=trainer.cfg.seed, background=True)
        trainer.evaluator = ev
    return ev


def measure_live(trainer) -> dict | None:
    """Measure `trainer`'s generator on LIVE_SAMPLES fixed-noise samples and append the record
    to `trainer.measures`. Returns the record, or None when the dataset has no measures or an
    earlier evaluation failed (its message is in `trainer.measures.error`)."""
    import time

    series: MeasureSeries = trainer.measures
    if series.error is not None:
        return None
    started = time.perf_counter()
    try:
        ev = evaluator_for(trainer)
        if not ev.supported:
            return None
        samples = trainer.sample(LIVE_SAMPLES[ev.kind], seed=EVAL_SEED)
        record = series_record(trainer.step, ev.measure(samples))
        series.note = _classifier_note(ev)
    except Exception as exc:  # a measure must never end a training run
        log.exception("live evaluation failed")
        series.error = f"the mode-collapse measures stopped: {exc}"
        return None
    finally:
        series.seconds += time.perf_counter() - started
    series.append(record)
    return record


def _classifier_note(ev: Evaluator) -> str | None:
    """What the page says while class measures are missing: training, or why they stopped."""
    if ev.classifier_error is not None:
        return f"class measures are off: {ev.classifier_error}"
    if ev.classifier_pending:
        return (
            f"training the {ev.dataset} classifier in the background for the class measures "
            "(classes, FID, KID, IS, precision/recall); they appear at the next evaluation "
            "after it is ready. Train it ahead with: python -m playground.classifier "
            f"--dataset {ev.dataset} --image-size {ev.data.shape[-1]}"
        )
    return None


def diagnose(
    trainer, n: int = DIAGNOSE_SAMPLES, seed: int = 0, inception: bool = False
) -> Report:
    """The measures of a trainer's generator (EMA copy when there is one) on n fresh samples,
    waiting for the dataset's classifier if it is still training. `inception` adds the
    Inception FID/KID (their weights must be on disk)."""
    ev = evaluator_for(trainer)
    ev.wait_for_classifier()
    return ev.measure(trainer.sample(n, seed=seed), inception=inception)
