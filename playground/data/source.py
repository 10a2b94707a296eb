"""What every dataset loader returns: a `DataSource` to sample batches from on the training
device, and `DatasetUnavailable`, the one-line reason a dataset cannot be had."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from playground.data import toys
from playground.data.registry import DATASETS, names_where


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded; the message is one line a person can act on."""


def data_cache_dir() -> Path:
    """Where downloads live: $GAN_PLAYGROUND_DATA, else ~/.cache/gan-playground/datasets."""
    override = os.environ.get("GAN_PLAYGROUND_DATA", "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "gan-playground" / "datasets"


def offline_hint() -> str:
    """What to use instead of a dataset that cannot be had: the ones that need no network."""
    bundled = [
        f"'{d.name}'" for d in DATASETS.values() if d.kind == "images" and d.loader == "bundled"
    ]
    return (
        f"use the offline dataset {' or '.join(bundled)} or a 2D toy "
        f"({', '.join(d.name for d in DATASETS.values() if d.loader == 'generated')})"
    )


def one_line(value: object) -> str:
    """An exception or text squeezed onto one line, for messages shown in the app."""
    return " ".join(str(value).split()) or type(value).__name__


@dataclass(eq=False)  # eq=False: comparing tensors field by field is meaningless
class DataSource:
    """A dataset ready to sample from on `device`.

    `images` (uint8, (N, C, H, W)) and `labels` (int64, (N,)) hold image datasets on the device;
    both are None for 2D points. `skipped` counts files a folder dataset could not read, and
    `notes` are human sentences about what loading did (for the UI).
    """

    name: str
    kind: str  # "points" or "images"
    shape: tuple[int, ...]  # (2,) for points, (C, H, W) for images
    num_classes: int  # 0 when unlabelled
    centres: torch.Tensor | None  # (M, 2) float32 CPU mode centres of a mixture toy, else None
    sigma: float | None  # std of each mixture component, else None
    device: torch.device
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    images: torch.Tensor | None = field(default=None, repr=False)
    labels: torch.Tensor | None = field(default=None, repr=False)
    # A fixed set of 2D points (float32 (N, 2) on the device): the user's own (userpoints.py).
    points: torch.Tensor | None = field(default=None, repr=False)
    _device_centres: torch.Tensor | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        if self.centres is not None:
            # Copied once here, so sampling a mixture never moves data from the host.
            self._device_centres = self.centres.to(self.device)

    def sample(
        self, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n real samples on self.device: float32 (n, *shape), images scaled to [-1, 1], and
        int64 labels (n,) for labelled data, else None. `generator` lives on self.device.
        Nothing here synchronises the host with a GPU."""
        if self.kind == "points":
            if self.points is not None:  # a fixed set: batches drawn from it with replacement
                index = torch.randint(
                    0, self.points.shape[0], (n,), generator=generator, device=self.device
                )
                return self.points.index_select(0, index), None
            if self._device_centres is not None and self.sigma is not None:
                return toys.mixture_points(self._device_centres, self.sigma, n, generator), None
            return toy_points(self.name, n, generator, self.device), None
        assert self.images is not None
        index = torch.randint(
            0, self.images.shape[0], (n,), generator=generator, device=self.device
        )
        # Dividing by 127.5 (exact in binary) maps 0 and 255 exactly onto -1 and +1.
        batch = self.images.index_select(0, index).float().div_(127.5).sub_(1.0)
        labels = None if self.labels is None else self.labels.index_select(0, index)
        return batch, labels

    def __len__(self) -> int:
        """Stored examples: images, or a fixed set of points. 2D toys store none (each batch is
        fresh), so they give 0."""
        if self.points is not None:
            return int(self.points.shape[0])
        return 0 if self.images is None else int(self.images.shape[0])

    def __bool__(self) -> bool:
        # A 2D toy has length 0 but is a perfectly good source: `source or load(...)` must keep it.
        return True


def toy_points(
    name: str, n: int, generator: torch.Generator, device: torch.device | str
) -> torch.Tensor:
    """n fresh float32 points (n, 2) of 2D toy `name`, drawn on `device` with `generator`."""
    device = torch.device(device)
    entry = DATASETS.get(name)
    if entry is None or not entry.is_points:
        choices = ", ".join(names_where(kind="points"))
        raise ValueError(f"unknown 2D dataset {name!r}; choose from {choices}")
    if entry.sampler is None and not entry.is_mixture:
        raise ValueError(f"'{name}' is not generated in code: its points come from points_file")
    if entry.is_mixture and entry.sigma is not None:
        centres = torch.tensor(entry.centres, dtype=torch.float32, device=device)
        return toys.mixture_points(centres, entry.sigma, n, generator)
    assert entry.sampler is not None
    return entry.sampler(n, generator, device)


def points_source(name: str, device: torch.device) -> DataSource:
    """The DataSource of 2D toy `name` (nothing is stored: each batch is drawn fresh)."""
    entry = DATASETS[name]
    centres = torch.tensor(entry.centres, dtype=torch.float32) if entry.is_mixture else None
    return DataSource(
        name=name,
        kind="points",
        shape=(2,),
        num_classes=0,
        centres=centres,
        sigma=entry.sigma,
        device=device,
    )
