"""A small CNN that names the class of an image, for the mode-collapse measures of labelled
image datasets (digits, MNIST, Fashion-MNIST, CIFAR-10).

One classifier per (dataset, image size, channels), trained once on the real data (seconds for
digits on a CPU) and kept as two files in `checkpoints/classifiers/`:
`<dataset>-<size>-<channels>.safetensors` (the weights) and `.json` (what it was trained on,
its held-out accuracy and the real label distribution). Loading never unpickles anything: the
JSON is checked and the tensors must match a freshly built network exactly. The digits one at
32 px is shipped; make it again with

    python -m playground.measures.classifier --dataset digits --image-size 32

Its penultimate layer (64 features) is the feature space of precision/recall and
density/coverage.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from playground import paths
from playground.errors import JSON_ERRORS, json_problem
from playground.paths import atomic_write

log = logging.getLogger(__name__)

FORMAT = "gan-playground-classifier"
VERSION = 1
SHIPPED_DIR = paths.shipped_checkpoints() / "classifiers"  # read-only (see playground.paths)
MAX_META_BYTES = 1 << 20
WIDTH = 16  # channels of the first convolution; the next two have 2x and 4x as many
FEATURE_DIM = 64
INPUT_SIDE = 16  # the network sees images averaged down to this side
EPOCHS = 40  # passes over a small dataset (digits: about 500 updates)...
MAX_STEPS = 1500  # ...but never more updates than this (MNIST: about 3.5 passes)
BATCH = 128
SHIFT_PX = 2  # training augmentation: random translations of up to this many pixels


class ClassifierError(ValueError):
    """A classifier file cannot be used; the message says why."""


class ClassifierNet(nn.Module):
    """(N, C, H, W) images in [-1, 1] -> class logits (N, K); `features` is the layer before."""

    def __init__(self, channels: int, num_classes: int = 10, width: int = WIDTH):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            # Every image size is first averaged down to 16 x 16: a quarter of the work at 32 px,
            # and detail enough to tell ten classes apart.
            nn.AdaptiveAvgPool2d(INPUT_SIDE),
            nn.Conv2d(channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8 x 8
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 4 x 4
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),  # (4w, 2, 2)
            nn.Flatten(),
            nn.Linear(16 * w, FEATURE_DIM), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _init(net: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default initialisation, drawn from `gen` instead of the global RNG, so training
    a classifier never disturbs (nor races with) a training run seeding the global one."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=gen)
            bound = 1 / math.sqrt(module.weight[0].numel())
            nn.init.uniform_(module.bias, -bound, bound, generator=gen)


@dataclass(eq=False)
class Classifier:
    net: ClassifierNet  # eval mode, requires_grad off
    meta: dict

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def label_distribution(self) -> np.ndarray:
        return np.asarray(self.meta["label_distribution"], dtype=np.float64)

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @torch.inference_mode()
    def predict(self, images: torch.Tensor, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities (N, K), penultimate features (N, 64)), float32 on the CPU."""
        probs, feats = [], []
        for start in range(0, images.shape[0], batch):
            x = images[start : start + batch].to(self.device, torch.float32)
            h = self.net.features(x)
            probs.append(torch.softmax(self.net.head(h), dim=1).cpu())
            feats.append(h.cpu())
        if not probs:
            return torch.zeros(0, self.num_classes), torch.zeros(0, FEATURE_DIM)
        return torch.cat(probs), torch.cat(feats)


# ---------------------------------------------------------------------- where they live
def classifier_key(dataset: str, image_size: int, channels: int) -> str:
    return f"{dataset}-{image_size}-{channels}"


def classifier_dir() -> Path:
    """Where new classifiers are written: $GAN_PLAYGROUND_CLASSIFIERS, else the checkout's
    checkpoints/classifiers, else the user's cache; never an installed package's folder."""
    return paths.classifiers_dir()


def find_classifier(key: str) -> Path | None:
    """The JSON file of classifier `key`: the writable folder first, then the shipped one."""
    for folder in dict.fromkeys((classifier_dir(), SHIPPED_DIR)):
        path = folder / f"{key}.json"
        if path.is_file():
            return path
    return None


# ---------------------------------------------------------------------- saving and loading
def save_classifier(clf: Classifier, folder: str | Path | None = None) -> Path:
    """Write `<key>.safetensors` then `<key>.json` atomically; returns the JSON path."""
    target = Path(folder) if folder is not None else classifier_dir()
    target.mkdir(parents=True, exist_ok=True)
    key = clf.meta["key"]
    weights = target / f"{key}.safetensors"
    state = {k: v.detach().contiguous().cpu() for k, v in clf.net.state_dict().items()}

    def write_weights(tmp: Path) -> None:
        save_file(state, str(tmp), metadata={"format": FORMAT})
        os.chmod(tmp, 0o644)  # readable like any other file of the project

    atomic_write(weights, write_weights)
    meta_path = target / f"{key}.json"
    return atomic_write(meta_path, json.dumps(clf.meta, indent=1, sort_keys=True).encode())


def _check_meta(meta: object, path: Path) -> dict:
    def bad(what: str) -> ClassifierError:
        return ClassifierError(f"{path.name}: {what}")

    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bad("not a GAN Playground classifier")
    if meta.get("version") != VERSION:
        raise bad(f"format version {meta.get('version')!r}, this program reads {VERSION}")
    for name in ("channels", "num_classes", "width", "image_size"):
        value = meta.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1024:
            raise bad(f"field {name!r} is missing or malformed")
    dist = meta.get("label_distribution")
    if (
        not isinstance(dist, list)
        or len(dist) != meta["num_classes"]
        or not all(isinstance(p, (int, float)) and p >= 0 for p in dist)
        or not sum(dist) > 0
    ):
        raise bad("field 'label_distribution' is missing or malformed")
    if not isinstance(meta.get("key"), str):
        raise bad("field 'key' is missing")
    return meta


def load_classifier(json_path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """A classifier from its JSON file and the safetensors file beside it; nothing unpickled."""
    path = Path(json_path)
    try:
        if path.stat().st_size > MAX_META_BYTES:
            raise ClassifierError(f"{path.name} is too large to be a classifier description")
        meta = _check_meta(json.loads(path.read_bytes()), path)
        tensors = load_file(str(path.with_suffix(".safetensors")), device="cpu")
    except ClassifierError:
        raise
    except (OSError, SafetensorError, *JSON_ERRORS) as exc:
        problem = json_problem(exc) if isinstance(exc, JSON_ERRORS) else exc
        raise ClassifierError(f"cannot read classifier {path}: {problem}") from None
    with torch.device("meta"):
        net = ClassifierNet(meta["channels"], meta["num_classes"], meta["width"])
    expected = net.state_dict()
    if set(expected) != set(tensors):
        raise ClassifierError(f"{path.name}: its tensors do not match the network")
    for name, ref in expected.items():
        t = tensors[name]
        if t.shape != ref.shape or t.dtype != torch.float32 or not torch.isfinite(t).all():
            raise ClassifierError(f"{path.name}: tensor {name} is malformed")
    net.load_state_dict(tensors, assign=True)
    return Classifier(net.to(device).eval().requires_grad_(False), meta)


# ---------------------------------------------------------------------- training
def _shift(x: torch.Tensor, gen: torch.Generator, px: int) -> torch.Tensor:
    """Translate each image by up to `px` pixels (bilinear, edges padded with -1 = background)."""
    n, _, h, _ = x.shape
    offsets = (torch.rand(n, 2, generator=gen, device=x.device) * 2 - 1) * (2 * px / h)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = offsets
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def train_classifier(
    data, dataset: str, steps: int | None = None, seed: int = 0, batch: int = BATCH
) -> Classifier:
    """Train a classifier on a labelled image DataSource (uint8 images and labels held on its
    device), holding out 10% of the examples to measure its accuracy."""
    if data.images is None or data.labels is None:
        raise ClassifierError(f"dataset {dataset!r} has no labels to train a classifier on")
    started = time.perf_counter()
    device = data.images.device
    images, labels = data.images, data.labels
    n, k = images.shape[0], int(data.num_classes)
    gen = torch.Generator(device=device).manual_seed(seed)
    order = torch.randperm(n, generator=gen, device=device)
    n_test = max(1, n // 10)
    test, train = order[:n_test], order[n_test:]
    steps = steps or min(MAX_STEPS, max(100, math.ceil(EPOCHS * len(train) / batch)))
    with torch.device("meta"):  # no default initialisation: it would draw from the global RNG
        net = ClassifierNet(images.shape[1], k)
    net = net.to_empty(device="cpu")
    _init(net, torch.Generator().manual_seed(seed))
    net = net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    net.train()
    for _ in range(steps):
        index = train[torch.randint(len(train), (batch,), generator=gen, device=device)]
        x = images[index].float().div_(127.5).sub_(1.0)
        loss = F.cross_entropy(net(_shift(x, gen, SHIFT_PX)), labels[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    net.eval().requires_grad_(False)
    with torch.inference_mode():
        correct = 0
        for start in range(0, n_test, 1024):
            idx = test[start : start + 1024]
            x = images[idx].float().div_(127.5).sub_(1.0)
            correct += int((net(x).argmax(1) == labels[idx]).sum())
    counts = torch.bincount(labels.cpu(), minlength=k).double()
    size, channels = int(images.shape[-1]), int(images.shape[1])
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "key": classifier_key(dataset, size, channels),
        "dataset": dataset,
        "image_size": size,
        "channels": channels,
        "num_classes": k,
        "width": WIDTH,
        "feature_dim": FEATURE_DIM,
        "label_distribution": (counts / counts.sum()).tolist(),
        "train_examples": len(train),
        "test_examples": n_test,
        "test_accuracy": correct / n_test,
        "steps": steps,
        "batch": batch,
        "seed": seed,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    return Classifier(net, meta)


def get_classifier(dataset: str, data, device: str | torch.device | None = None) -> Classifier:
    """The classifier for a labelled DataSource: loaded when one is stored, else trained on
    `data` now and stored (in memory only when the folder cannot be written)."""
    size, channels = int(data.shape[-1]), int(data.shape[0])
    key = classifier_key(dataset, size, channels)
    device = torch.device(device) if device is not None else data.device
    path = find_classifier(key)
    if path is not None:
        try:
            return load_classifier(path, device)
        except ClassifierError as exc:
            log.warning("retraining classifier %s: %s", key, exc)
    clf = train_classifier(data, dataset)
    try:
        save_classifier(clf)
    except OSError as exc:
        log.warning("classifier %s kept in memory only: %s", key, exc)
    clf.net.to(device)
    return clf


# ---------------------------------------------------------------------- in the background
@dataclass(eq=False)
class _Training:
    """A classifier being trained in a background thread; `result` or `error` once it ends."""

    done: threading.Event
    result: Classifier | None = None
    error: str | None = None


_training: dict[str, _Training] = {}  # by classifier key, one per process
_training_lock = threading.Lock()


def stored_classifier(
    dataset: str, data, device: str | torch.device | None = None
) -> Classifier | None:
    """The stored classifier for a labelled DataSource, or None when none is stored (or the
    stored one is unusable, logged)."""
    key = classifier_key(dataset, int(data.shape[-1]), int(data.shape[0]))
    path = find_classifier(key)
    if path is None:
        return None
    try:
        return load_classifier(path, device if device is not None else data.device)
    except ClassifierError as exc:
        log.warning("classifier %s will be retrained: %s", key, exc)
        return None


def classifier_in_background(
    dataset: str, data, device: str | torch.device | None = None, wait: bool = False
) -> Classifier | None:
    """The classifier for a labelled DataSource without ever training it in the caller's thread.

    A stored one is loaded; otherwise a daemon thread trains and stores it (one per key in the
    process, however many runs ask) and this returns None until it is ready, so a training run
    that wants class measures keeps stepping meanwhile. `wait` blocks until it is ready (the
    command line). A failed training raises ClassifierError with its message."""
    device = torch.device(device) if device is not None else data.device
    key = classifier_key(dataset, int(data.shape[-1]), int(data.shape[0]))
    with _training_lock:
        job = _training.get(key)
        if job is None:
            clf = stored_classifier(dataset, data, device)
            if clf is not None:
                return clf
            job = _training[key] = _Training(threading.Event())
            worker = threading.Thread(
                target=_train_in_background,
                # The folder is fixed now: settings changed while it trains do not move it.
                args=(job, key, dataset, data, classifier_dir()),
                name="gan-classifier",
                daemon=True,
            )
            worker.start()
    if wait:
        job.done.wait()
    if not job.done.is_set():
        return None
    if job.error is not None:
        raise ClassifierError(job.error)
    assert job.result is not None
    return job.result if job.result.device == device else _moved(job.result, device)


def _moved(clf: Classifier, device: torch.device) -> Classifier:
    import copy

    return Classifier(copy.deepcopy(clf.net).to(device), dict(clf.meta))


def _train_in_background(job: _Training, key: str, dataset: str, data, folder: Path) -> None:
    try:
        log.info("training classifier %s in the background", key)
        clf = train_classifier(data, dataset)
        try:
            save_classifier(clf, folder)
            stored = True
        except OSError as exc:
            log.warning("classifier %s kept in memory only: %s", key, exc)
            stored = False
        job.result = clf
    except Exception as exc:  # reported to whoever asks next, never lost in a thread
        log.exception("training classifier %s failed", key)
        job.error = f"training the {dataset} classifier failed: {exc}"
        stored = False
    finally:
        job.done.set()
    if stored:  # on disk now: later callers load it, and a changed folder is respected
        with _training_lock:
            if _training.get(key) is job:
                del _training[key]


def training_in_background(dataset: str, data) -> bool:
    """Whether the classifier for this DataSource is being trained right now."""
    key = classifier_key(dataset, int(data.shape[-1]), int(data.shape[0]))
    with _training_lock:
        job = _training.get(key)
    return job is not None and not job.done.is_set()
