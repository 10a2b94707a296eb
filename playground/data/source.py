"""What every dataset loader returns: a `DataSource` to sample batches from on the training
device (and `image_source`, which makes one of host images), and `DatasetUnavailable`, the
one-line reason a dataset cannot be had."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from playground.data import toys

_CHUNK = 4096  # images converted per step, so float copies of a whole dataset never coexist


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded; the message is one line a person can act on."""


def data_cache_dir() -> Path:
    """Where downloads live: $GAN_PLAYGROUND_DATA, else ~/.cache/gan-playground/datasets."""
    override = os.environ.get("GAN_PLAYGROUND_DATA", "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "gan-playground" / "datasets"


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
    # A 2D toy generated in code (spiral, moons, …): its sampler, (n, generator, device) -> points.
    draw: Callable[[int, torch.Generator, torch.device], torch.Tensor] | None = field(
        default=None, repr=False
    )
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
            if self.draw is None:
                raise ValueError(f"2D source {self.name!r} has no points, centres or sampler")
            return self.draw(n, generator, self.device), None
        assert self.images is not None
        index = torch.randint(
            0, self.images.shape[0], (n,), generator=generator, device=self.device
        )
        # Dividing by 127.5 (exact in binary) maps 0 and 255 exactly onto -1 and +1.
        batch = self.images.index_select(0, index).float().div_(127.5).sub_(1.0)
        labels = None if self.labels is None else self.labels.index_select(0, index)
        return batch, labels

    def numpy_sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n real samples drawn with `seed`, as a float32 array on the host: points (n, 2),
        images (n, C, H, W) in [-1, 1]. The same draw for the same seed, on any device."""
        real, _ = self.sample(n, torch.Generator(self.device).manual_seed(seed))
        return real.float().cpu().numpy()

    def __len__(self) -> int:
        """Stored examples: images, or a fixed set of points. 2D toys store none (each batch is
        fresh), so they give 0."""
        if self.points is not None:
            return int(self.points.shape[0])
        return 0 if self.images is None else int(self.images.shape[0])

    def __bool__(self) -> bool:
        # A 2D toy has length 0 but is a perfectly good source: `source or load(...)` must keep it.
        return True


def image_source(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    size: int,
    device: torch.device,
    *,
    pad_small: bool = False,
    grayscale: bool = False,
    num_classes: int = 0,
    notes: list[str] | None = None,
    skipped: int = 0,
) -> DataSource:
    """Move uint8 (N, C, h, w) host images to `device`, then convert and resize them there once
    (a GPU does it in a blink; on CPU it is the same code). `num_classes` counts the labels'
    classes (the dataset's registry entry says how many)."""
    # np.require copies only when needed: IDX arrays are read-only views of the file's bytes.
    on_device = torch.from_numpy(np.require(images, np.uint8, ["C", "W"])).to(device)
    if grayscale and on_device.shape[1] == 3:
        from torchvision.transforms.v2.functional import rgb_to_grayscale  # BT.601 luma

        on_device = _chunked(on_device, rgb_to_grayscale)
    on_device = _fit_size(on_device, size, pad_small)
    label_tensor = None
    if labels is not None:
        label_tensor = torch.from_numpy(labels.astype(np.int64)).to(device)
    return DataSource(
        name=name,
        kind="images",
        shape=tuple(on_device.shape[1:]),
        num_classes=num_classes if labels is not None else 0,
        centres=None,
        sigma=None,
        device=device,
        skipped=skipped,
        notes=list(notes or []),
        images=on_device,
        labels=label_tensor,
    )


def _chunked(images: torch.Tensor, convert: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply a float conversion to uint8 images a chunk at a time and return uint8 again."""
    parts = []
    for start in range(0, images.shape[0], _CHUNK):
        converted = convert(images[start : start + _CHUNK].float())
        parts.append(converted.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(parts)


def _fit_size(images: torch.Tensor, size: int, pad_small: bool) -> torch.Tensor:
    """Square images to size x size: pad MNIST-like 28 -> 32 with the background, else bilinear."""
    side = images.shape[-1]
    if side == size:
        return images
    margin = size - side
    if pad_small and 0 < margin <= 4 and margin % 2 == 0:
        # 28 -> 32: DCGAN-style networks want 32, and a 2-pixel border of background keeps the
        # strokes pixel-exact (this is how LeNet fed MNIST). The background of MNIST-like data is 0.
        half = margin // 2
        return F.pad(images, (half, half, half, half), value=0)
    shrinking = size < side

    def resize(chunk: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms.v2.functional import resize as tv_resize

        return tv_resize(chunk, [size, size], antialias=shrinking)  # bilinear

    return _chunked(images, resize)


# ---------------------------------------------------------------------------- digits
