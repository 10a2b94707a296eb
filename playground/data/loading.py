"""Where the real samples come from: `load_dataset(cfg)` turns a config into a `DataSource`.

Every dataset becomes a `DataSource` whose `sample(n, generator)` returns a batch already on
the training device, drawn without a host/GPU synchronisation, so the training loop never waits.
What each dataset is (points or images, classes, mode centres, how it is had) is its entry in
the registry, `datasets.py`; the loaders live by job:

- `toys.py`: the 2D toys, generated fresh on the device in every call, and the mixtures'
  mode centres and sigma (so metrics can count exactly which modes a generator covers);
- `imagesets.py`: the image sets (scikit-learn's bundled digits, MNIST-like sets through
  `torchvision.datasets`, CIFAR-10's binary version read without unpickling), decoded and
  resized once, then held whole on the device as uint8;
- `folders.py`: a user's own images (the lazy folder walk) and the app's data-root rule.

This module is the facade most callers import; the names below are re-exported from those.
A dataset that cannot be had raises `DatasetUnavailable` with a one-line message for the UI.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from playground.data import imagesets
from playground.data.folders import MAX_FOLDER_IMAGES, folder_source
from playground.data.registry import DATASETS, Dataset, points_source
from playground.data.source import DataSource, data_cache_dir, image_source
from playground.data.userpoints import file_source


class DataSettings(Protocol):
    """What loading a dataset reads from a run's settings (`settings.GANConfig` has all of it;
    it is passed in, never imported, so data sits below settings)."""

    dataset: str
    data_folder: str  # dataset "folder" only
    points_file: str  # dataset "own-points" only
    image_size: int
    grayscale: bool
    train_images: int  # 0 = all


@dataclass(frozen=True)
class DataSpec:
    """A dataset's DataSettings without a run's: for what loads data on its own, such as the
    classifier's command (the names and the allowed sizes are the registry's)."""

    dataset: str
    image_size: int = 32
    grayscale: bool = False
    data_folder: str = ""
    points_file: str = ""
    train_images: int = 0


HOLD_OUT_SEED = 0  # the draw of cfg.train_images training images: the same for every run


def load_dataset(
    cfg: DataSettings,
    device: torch.device | str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    max_images: int = MAX_FOLDER_IMAGES,
) -> DataSource:
    """The DataSource for `cfg.dataset` at `cfg.image_size`, held on `device` (only its first
    `cfg.train_images` images of a fixed draw when that is set: see `held_out`).

    Raises DatasetUnavailable (one-line message) when files are missing and cannot be fetched,
    are malformed, or a folder holds no readable image. `max_images` caps a folder dataset.
    """
    source = _load_all(cfg, device, cache_dir, download, max_images=max_images)
    if not cfg.train_images:
        return source
    train, _ = _split(source, cfg.train_images)
    return dataclasses.replace(
        source,
        images=source.images.index_select(0, train),
        labels=None if source.labels is None else source.labels.index_select(0, train),
        notes=[*source.notes, f"training on {len(train):,} of them; the rest are held out"],
    )


def held_out(cfg: DataSettings, device: torch.device | str = "cpu") -> torch.Tensor:
    """The images a run with `cfg.train_images` set never trains on: uint8 (N, C, H, W)."""
    source = _load_all(cfg, device, None, False)
    _, rest = _split(source, cfg.train_images)
    return source.images.index_select(0, rest)


def _split(source: DataSource, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, held-out indices) of a fixed random draw of n images."""
    total = len(source)
    if not 0 < n < total:
        raise ValueError(f"train_images: must be from 1 to {total - 1} for this dataset; got {n}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(HOLD_OUT_SEED))
    order = order.to(source.images.device)
    return order[:n], order[n:]


def _load_all(
    cfg: DataSettings,
    device: torch.device | str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    max_images: int = MAX_FOLDER_IMAGES,
) -> DataSource:
    """Every image (or the points) of `cfg.dataset` at `cfg.image_size`, held on `device`."""
    device = torch.device(device)
    entry = DATASETS.get(cfg.dataset)
    if entry is None:
        raise ValueError(f"unknown dataset {cfg.dataset!r}")
    if entry.user_points:
        return file_source(entry.name, cfg.points_file, device)
    if entry.is_points:
        return points_source(entry.name, device)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else data_cache_dir()
    size = cfg.image_size
    if entry.user_folder:
        folder = Path(cfg.data_folder).expanduser()
        return folder_source(entry.name, folder, size, cfg.grayscale, device, max_images)
    if entry.loader == "bundled":
        pixels, labels = imagesets.load_digits()
        side = entry.native_size
        resized = f"upscaled from {side}x{side} to {size}x{size}"
        resized = resized if size != side else f"at their own {side}x{side}"
        notes = [f"{len(pixels):,} scikit-learn digits, {resized}"]
        return image_source(
            entry.name, pixels, labels, size, device, num_classes=entry.num_classes, notes=notes
        )
    if entry.loader == "torchvision":
        pixels, labels = imagesets.load_torchvision_dataset(entry, cache, download)
        return image_source(
            entry.name, pixels, labels, size, device, num_classes=entry.num_classes,
            pad_small=True,
        )
    if entry.loader == "cifar-binary":
        pixels, labels = imagesets.load_cifar10(entry, cache, download)
        return image_source(
            entry.name, pixels, labels, size, device, num_classes=entry.num_classes,
            grayscale=cfg.grayscale,
        )
    raise ValueError(f"dataset {entry.name!r} has no loader {entry.loader!r}")


def dataset_status(cache_dir: Path | None = None) -> dict[str, str]:
    """For each dataset, whether it works offline now: shown on the app's home page."""
    cache = Path(cache_dir) if cache_dir is not None else data_cache_dir()
    return {name: _status(entry, cache) for name, entry in DATASETS.items()}


def _status(entry: Dataset, cache: Path) -> str:
    if not entry.downloaded:
        own = entry.user_folder or entry.user_points
        return entry.obtained if own else f"offline ({entry.obtained})"
    return (
        "downloaded"
        if imagesets.is_downloaded(entry, cache)
        else ("downloads on first use (needs network)")
    )
