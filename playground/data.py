"""Where the real samples come from: 2D toy distributions and image datasets.

Every dataset becomes a `DataSource` whose `sample(n, generator)` returns a batch already on
the training device, drawn without a host/GPU synchronisation, so the training loop never waits:

- 2D toys (ring8, grid25, spiral, moons, circles) are generated fresh on the device in every
  call. The two Gaussian mixtures carry their mode centres and sigma, so metrics can count
  exactly which modes a generator covers.
- Image datasets are decoded and resized once and then held whole on the device as uint8
  (N, C, H, W); a batch is a random index draw converted to float in [-1, 1].
  `digits` (scikit-learn's bundled 8x8 digits) needs no network. MNIST and Fashion-MNIST come
  through `torchvision.datasets` (its downloader, MD5 checks and folder layout) under
  `data_cache_dir()`, downloaded on first use; CIFAR-10 is its binary version, downloaded and
  checked with torchvision's helpers and read here (nothing is ever unpickled). `folder` reads
  a user's own images.

A dataset that cannot be had raises `DatasetUnavailable` with a one-line message for the UI.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .config import POINT_DATASETS, GANConfig

__all__ = [
    "DataSource",
    "DatasetUnavailable",
    "data_cache_dir",
    "load_dataset",
    "mixture_spec",
    "toy_points",
]

log = logging.getLogger(__name__)

OFFLINE_HINT = "use the offline dataset 'digits' or a 2D toy (" + ", ".join(POINT_DATASETS) + ")"
MAX_FOLDER_IMAGES = 20_000
MAX_FOLDER_ENTRIES = 200_000  # files and folders one folder walk looks at, at most
MAX_IMAGE_PIXELS = 50_000_000  # larger files are skipped: decoding one would take seconds and GBs
FOLDER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_CHUNK = 4096  # images converted per step, so float copies of a whole dataset never coexist


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded; the message is one line a person can act on."""


def data_cache_dir() -> Path:
    """Where downloads live: $GAN_PLAYGROUND_DATA, else ~/.cache/gan-playground/datasets."""
    override = os.environ.get("GAN_PLAYGROUND_DATA", "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "gan-playground" / "datasets"


# ---------------------------------------------------------------------------- the source
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
            if self._device_centres is not None and self.sigma is not None:
                return _mixture_points(self._device_centres, self.sigma, n, generator), None
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
        """Stored examples for images. 2D toys store none (each batch is fresh), so they give 0."""
        return 0 if self.images is None else int(self.images.shape[0])

    def __bool__(self) -> bool:
        # A 2D toy has length 0 but is a perfectly good source: `source or load(...)` must keep it.
        return True


def load_dataset(
    cfg: GANConfig,
    device: torch.device | str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    max_images: int = MAX_FOLDER_IMAGES,
) -> DataSource:
    """The DataSource for `cfg.dataset` at `cfg.image_size`, held on `device`.

    Raises DatasetUnavailable (one-line message) when files are missing and cannot be fetched,
    are malformed, or a folder holds no readable image. `max_images` caps a folder dataset.
    """
    device = torch.device(device)
    name = cfg.dataset
    if name in POINT_DATASETS:
        return _points_source(name, device)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else data_cache_dir()
    size = cfg.image_size
    if name == "digits":
        images, labels = _load_digits()
        notes = [f"{len(images):,} scikit-learn digits, upscaled from 8x8 to {size}x{size}"]
        return _image_source(name, images, labels, size, device, notes=notes)
    if name in _TORCHVISION_DATASETS:
        images, labels = _load_torchvision_dataset(name, cache, download)
        return _image_source(name, images, labels, size, device, pad_small=True)
    if name == "cifar10":
        images, labels = _load_cifar10(cache, download)
        return _image_source(name, images, labels, size, device, grayscale=cfg.grayscale)
    if name == "folder":
        return _folder_source(
            Path(cfg.data_folder).expanduser(), size, cfg.grayscale, device, max_images
        )
    raise ValueError(f"unknown dataset {name!r}")


# ---------------------------------------------------------------------------- 2D toys
RING8_RADIUS = 2.0
RING8_SIGMA = 0.02
GRID25_SIGMA = 0.05
SPIRAL_TURNS = 2.0
SPIRAL_NOISE = 0.03
MOONS_NOISE = 0.05
CIRCLES_NOISE = 0.03


def mixture_spec(name: str) -> tuple[torch.Tensor, float] | None:
    """(centres (M, 2) float32 CPU, sigma) for the Gaussian mixtures ring8 and grid25, else None.

    A new tensor each call, so a caller that edits it cannot change anyone else's centres.
    """
    if name == "ring8":
        angles = [2 * math.pi * k / 8 for k in range(8)]
        centres = [[RING8_RADIUS * math.cos(a), RING8_RADIUS * math.sin(a)] for a in angles]
        return torch.tensor(centres, dtype=torch.float32), RING8_SIGMA
    if name == "grid25":
        coords = (-4.0, -2.0, 0.0, 2.0, 4.0)
        centres = [[x, y] for x in coords for y in coords]
        return torch.tensor(centres, dtype=torch.float32), GRID25_SIGMA
    return None


def toy_points(
    name: str, n: int, generator: torch.Generator, device: torch.device | str
) -> torch.Tensor:
    """n fresh float32 points (n, 2) of 2D toy `name`, drawn on `device` with `generator`."""
    device = torch.device(device)
    spec = mixture_spec(name)
    if spec is not None:
        centres, sigma = spec
        return _mixture_points(centres.to(device), sigma, n, generator)
    makers = {"spiral": _spiral, "moons": _moons, "circles": _circles}
    if name not in makers:
        raise ValueError(f"unknown 2D dataset {name!r}; choose from {', '.join(POINT_DATASETS)}")
    return makers[name](n, generator, device)


def _points_source(name: str, device: torch.device) -> DataSource:
    spec = mixture_spec(name)
    centres, sigma = spec if spec is not None else (None, None)
    return DataSource(
        name=name,
        kind="points",
        shape=(2,),
        num_classes=0,
        centres=centres,
        sigma=sigma,
        device=device,
    )


def _mixture_points(
    centres: torch.Tensor, sigma: float, n: int, generator: torch.Generator
) -> torch.Tensor:
    # Equal weights: pick a component uniformly, then add isotropic Gaussian noise.
    device = centres.device
    which = torch.randint(0, centres.shape[0], (n,), generator=generator, device=device)
    noise = torch.randn(n, 2, generator=generator, device=device)
    return centres.index_select(0, which) + sigma * noise


def _noise(points: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    return points + std * torch.randn(points.shape, generator=generator, device=points.device)


def _spiral(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Archimedean spiral r ∝ t out to radius 2. Its arc length grows like t², so t ∝ sqrt(u)
    # spreads points evenly along the curve instead of crowding the centre.
    u = torch.rand(n, generator=generator, device=device).sqrt()
    t = SPIRAL_TURNS * 2 * math.pi * u
    r = 2.0 * u
    return _noise(torch.stack((r * torch.cos(t), r * torch.sin(t)), dim=1), SPIRAL_NOISE, generator)


def _moons(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # scikit-learn's make_moons layout: upper arc (cos θ, sin θ) and lower arc
    # (1 - cos θ, 0.5 - sin θ) for θ in [0, π], spanning x in [-1, 2], y in [-0.5, 1];
    # recentred and scaled by 4/3 so x spans [-2, 2].
    theta = math.pi * torch.rand(n, generator=generator, device=device)
    lower = torch.randint(0, 2, (n,), generator=generator, device=device).bool()
    cos, sin = torch.cos(theta), torch.sin(theta)
    x = torch.where(lower, 1.0 - cos, cos) - 0.5
    y = torch.where(lower, 0.5 - sin, sin) - 0.25
    return _noise(torch.stack((x, y), dim=1) * (4.0 / 3.0), MOONS_NOISE, generator)


def _circles(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Two concentric circles of radius 2 and 1, half the points on each.
    theta = 2 * math.pi * torch.rand(n, generator=generator, device=device)
    inner = torch.randint(0, 2, (n,), generator=generator, device=device)
    radius = 2.0 - inner.float()
    points = torch.stack((radius * torch.cos(theta), radius * torch.sin(theta)), dim=1)
    return _noise(points, CIRCLES_NOISE, generator)


# ---------------------------------------------------------------------------- image tensors
def _image_source(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    size: int,
    device: torch.device,
    *,
    pad_small: bool = False,
    grayscale: bool = False,
    notes: list[str] | None = None,
    skipped: int = 0,
) -> DataSource:
    """Move uint8 (N, C, h, w) host images to `device`, then convert and resize them there once
    (a GPU does it in a blink; on CPU it is the same code)."""
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
        num_classes=10 if labels is not None else 0,
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
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    # Imported here: scikit-learn is slow to import and only this dataset needs it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are 0..16; stretch to 0..255 like every other image dataset.
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images[:, None], bunch.target.astype(np.int64)


# ---------------------------------------------------------------------------- MNIST-like
# torchvision's readers and downloader (its mirrors, MD5 checks and folder layout):
# <cache>/MNIST/raw/ and <cache>/FashionMNIST/raw/ hold the unpacked IDX files.
_TORCHVISION_DATASETS = {"mnist": ("MNIST", "MNIST"), "fashion": ("Fashion-MNIST", "FashionMNIST")}
_MNIST_SIDE = 28


def _torchvision_class(name: str):
    from torchvision import datasets

    return getattr(datasets, _TORCHVISION_DATASETS[name][1])


def _load_torchvision_dataset(
    name: str, cache: Path, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    title, folder = _TORCHVISION_DATASETS[name]
    cls = _torchvision_class(name)
    raw = cache / folder / "raw"
    if not download and not _torchvision_ready(cls, raw):
        names = ", ".join(_unpacked(file) for file, _ in cls.resources)
        raise DatasetUnavailable(
            f"{title} is not downloaded and downloading is off: put {names} (unpacked) in "
            f"{raw}, or {OFFLINE_HINT}"
        )
    try:
        dataset = cls(root=str(cache), train=True, download=download)
    except (RuntimeError, OSError) as exc:
        if not _torchvision_ready(cls, raw):  # the download failed
            _discard_corrupt(cls, raw)
            raise DatasetUnavailable(_download_failure(title, cls.mirrors[0], exc, raw)) from None
        raise _unreadable(title, raw, exc) from None
    except Exception as exc:  # torchvision's reader asserts on malformed IDX files
        raise _unreadable(title, raw, exc) from None
    images, labels = dataset.data, dataset.targets
    if images.ndim != 3 or tuple(images.shape[1:]) != (_MNIST_SIDE, _MNIST_SIDE):
        raise DatasetUnavailable(
            f"{raw} holds images of shape {tuple(images.shape[1:])}, not {title}'s 28x28: "
            "replace the files with the originals"
        )
    if labels.shape[0] != images.shape[0]:
        raise DatasetUnavailable(
            f"{title}: {images.shape[0]} images but {labels.shape[0]} labels in {raw}: replace "
            "the files with the originals"
        )
    labels = labels.numpy()
    _check_labels(labels, raw)
    return images.numpy()[:, None], labels.astype(np.int64)


def _unpacked(file: str) -> str:
    return file.removesuffix(".gz")


def _torchvision_ready(cls, raw: Path) -> bool:
    from torchvision.datasets.utils import check_integrity

    return all(check_integrity(raw / _unpacked(file)) for file, _ in cls.resources)


def _discard_corrupt(cls, raw: Path) -> None:
    """Remove what a failed download left (torchvision keeps a file that failed its MD5
    check): the next attempt starts clean, and nothing half-made looks complete."""
    from torchvision.datasets.utils import check_integrity

    for file, md5 in cls.resources:
        archive = raw / file
        if archive.is_file() and not check_integrity(archive, md5):
            archive.unlink()
            (raw / _unpacked(file)).unlink(missing_ok=True)


def _unreadable(title: str, raw: Path, exc: BaseException) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"the {title} files in {raw} are not valid IDX files ({_one_line(exc)}): delete them so "
        "they are downloaded again, or replace them with the originals"
    )


def _check_labels(labels: np.ndarray, path: Path) -> None:
    if labels.size and int(labels.max()) > 9:
        raise DatasetUnavailable(
            f"{path} has a label {int(labels.max())}, outside 0..9: replace it with the original"
        )


def _download_failure(title: str, url: str, exc: BaseException, folder: Path) -> str:
    """One line for a download that failed inside torchvision (its message spans lines)."""
    text = str(exc)
    http = re.search(r"HTTP Error (\d+)", text)
    if http:
        reason = f"the server answered HTTP {http.group(1)}"
    elif "corrupted" in text or "MD5" in text:
        reason = "the file downloaded is not the published one (MD5 mismatch), so it was not kept"
    else:
        got = [line for line in text.splitlines() if line.strip()][-1:] or [type(exc).__name__]
        reason = f"no network: {_one_line(got[0])}"
    return (
        f"{title} is not downloaded and could not be fetched ({reason}; tried {url}): "
        f"{OFFLINE_HINT}, or put the files in {folder}"
    )


# ---------------------------------------------------------------------------- CIFAR-10 (binary)
# The binary version, read here: torchvision's CIFAR10 reads the python version, whose batches
# are pickles, and loading a pickle runs whatever code the file holds. torchvision still
# downloads the archive and checks its published MD5.
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # published on the CIFAR-10 page
CIFAR_TAR = "cifar-10-binary.tar.gz"
CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_SIDE = 32
_CIFAR_RECORD = 1 + 3 * _CIFAR_SIDE * _CIFAR_SIDE  # label byte, then R, G, B planes row-major
_CIFAR_PER_BATCH = 10_000


def _load_cifar10(cache: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    folder = cache / CIFAR_DIR
    if not all((folder / name).is_file() for name in CIFAR_BATCHES):
        _fetch_cifar10(cache, folder, download)
    records = np.concatenate([_read_cifar_batch(folder / name) for name in CIFAR_BATCHES])
    labels = records[:, 0]
    _check_labels(labels, folder)
    images = records[:, 1:].reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE)
    return images, labels.astype(np.int64)


def _fetch_cifar10(cache: Path, folder: Path, download: bool) -> None:
    from torchvision.datasets.utils import check_integrity, download_url

    archive = cache / CIFAR_TAR
    if not archive.is_file():
        if not download:
            raise DatasetUnavailable(
                f"CIFAR-10 is not downloaded and downloading is off: put {CIFAR_TAR} (the binary "
                f"version) in {cache}, or {OFFLINE_HINT}"
            )
        try:
            download_url(CIFAR_URL, str(cache), CIFAR_TAR, CIFAR_MD5)
        except (RuntimeError, OSError) as exc:
            if archive.is_file() and not check_integrity(archive, CIFAR_MD5):
                archive.unlink()
            raise DatasetUnavailable(
                _download_failure("CIFAR-10", CIFAR_URL, exc, cache)
            ) from None
    elif not check_integrity(archive, CIFAR_MD5):  # put there by hand
        raise DatasetUnavailable(
            f"{archive} is not the published CIFAR-10 binary archive (its MD5 differs): delete "
            "it so it is downloaded again"
        )
    _extract_cifar10(archive, folder)


def _extract_cifar10(archive: Path, folder: Path) -> None:
    """Extract exactly the five training batches. Only these fixed names are written, under
    paths built here, and only from regular members of a plausible size, so an archive cannot
    write elsewhere (path traversal, links) or fill the disk."""
    wanted = {f"{CIFAR_DIR}/{name}": name for name in CIFAR_BATCHES}
    found = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is None or not member.isfile() or not _plausible_batch(member.size):
                    continue
                source = tar.extractfile(member)
                if source is not None:
                    _save_atomic(source, folder / name, limit=member.size)
                    found.add(name)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise DatasetUnavailable(
            f"{archive} is not a readable CIFAR-10 archive ({_one_line(exc)}): delete it so it "
            "is downloaded again"
        ) from None
    missing = sorted(set(CIFAR_BATCHES) - found)
    if missing:
        raise DatasetUnavailable(
            f"{archive} lacks {', '.join(missing)} under {CIFAR_DIR}/: it "
            "is not the binary CIFAR-10 archive; delete it"
        )


def _plausible_batch(size: int) -> bool:
    return 0 < size <= _CIFAR_PER_BATCH * _CIFAR_RECORD and size % _CIFAR_RECORD == 0


def _read_cifar_batch(path: Path) -> np.ndarray:
    try:
        size = path.stat().st_size
        if not _plausible_batch(size):
            raise DatasetUnavailable(
                f"{path} is not a CIFAR-10 binary batch ({size:,} bytes is not a whole number of "
                f"{_CIFAR_RECORD:,}-byte records, at most {_CIFAR_PER_BATCH:,}): delete it"
            )
        return np.fromfile(path, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    except OSError as exc:
        raise DatasetUnavailable(f"{path} cannot be read ({_one_line(exc)})") from None


def _save_atomic(source: BinaryIO, dest: Path, *, limit: int) -> None:
    """Copy `source` to `dest` through a temporary name, so a crash never leaves a file that
    looks complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            written = 0
            while block := source.read(2**20):
                written += len(block)
                if written > limit:
                    raise DatasetUnavailable(f"more than {limit:,} bytes, too big to be the file")
                out.write(block)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a no-op after the rename


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) or type(value).__name__


# ---------------------------------------------------------------------------- a folder of images
def _folder_source(
    folder: Path, size: int, grayscale: bool, device: torch.device, max_images: int
) -> DataSource:
    if not folder.is_dir():
        raise DatasetUnavailable(f"image folder {folder} does not exist or is not a folder")
    tally = {"ignored": 0, "walk_capped": 0}
    mode = "L" if grayscale else "RGB"
    loaded: list[np.ndarray] = []
    unreadable = too_large = candidates = 0
    for path in _image_files(folder, tally):  # found lazily: the walk ends with this loop
        candidates += 1
        if len(loaded) >= max_images:
            break  # one file past the cap, so the notes can say some were left out
        try:
            pixels = _load_image(path, size, mode)
        except (_TooLarge, Image.DecompressionBombError):
            too_large += 1
        except Exception:  # Pillow raises many types (OSError, ValueError, SyntaxError, ...)
            unreadable += 1  # on corrupt data; one bad file must not sink the whole folder
        else:
            loaded.append(pixels)
    if not loaded:
        raise DatasetUnavailable(
            f"no readable images in {folder} (looked for "
            f"{', '.join(FOLDER_EXTENSIONS)}, searching subfolders)"
        )
    notes = _folder_notes(len(loaded), candidates, unreadable, too_large, tally["ignored"],
                          max_images)
    if tally["walk_capped"]:
        notes.append(f"stopped looking after {MAX_FOLDER_ENTRIES:,} files and folders")
    stacked = np.stack(loaded)  # (N, H, W, C)
    images = stacked.transpose(0, 3, 1, 2)
    return _image_source(
        "folder", images, None, size, device, notes=notes, skipped=unreadable + too_large
    )


def _image_files(folder: Path, tally: dict[str, int]) -> Iterator[Path]:
    """Image files under `folder` in a stable order, found lazily: the walk (one folder listed
    at a time) goes no further than the caller reads, so a loader that stops at its image cap
    never lists the rest of a large tree, and it never looks at more than MAX_FOLDER_ENTRIES
    entries. Counts other files in tally["ignored"]; sets tally["walk_capped"] at that cap."""
    seen = 0
    for root, dirs, files in os.walk(folder):
        seen += len(dirs) + len(files)
        if seen > MAX_FOLDER_ENTRIES:
            tally["walk_capped"] = 1
            return
        # Hidden entries are skipped: .git folders, and macOS "._name.jpg" files that are not
        # images despite their extension.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if name.lower().endswith(FOLDER_EXTENSIONS):
                yield Path(root) / name
            else:
                tally["ignored"] += 1


class _TooLarge(Exception):
    pass


def _load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """One image as uint8 (size, size, channels): short side scaled to `size`, centre-cropped."""
    with Image.open(path) as image:
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise _TooLarge  # checked from the header, before any pixel is decoded
        image.draft(mode, (size, size))  # JPEG only: decode at a reduced scale >= size, far faster
        image = ImageOps.exif_transpose(image)  # phone photos are stored sideways
        image = _flatten_alpha(_to_8bit(image))
        if image.mode not in ("L", "RGB"):  # palette, CMYK, ...: their bytes are not pixels
            image = image.convert("RGB")
        tensor = _pil_to_tensor(image)
        pixels = _square(size, mode, tensor.shape[0])(tensor)  # (C, size, size) uint8
    return pixels.permute(1, 2, 0).numpy()


def _pil_to_tensor(image: Image.Image) -> torch.Tensor:
    # torchvision is imported at first use: it adds seconds to starting the app.
    from torchvision.transforms.v2.functional import pil_to_tensor

    return pil_to_tensor(image)


def _square(size: int, mode: str, channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """torchvision's transforms: short side scaled to `size` (antialiased), centre crop, and the
    channels of `mode` ("L" or "RGB", ITU-R BT.601 luma) from an image with `channels`."""
    from torchvision.transforms import v2

    if mode == "L":
        convert = v2.Grayscale(num_output_channels=1)
    elif channels == 1:
        convert = v2.Grayscale(num_output_channels=3)  # a grey picture, repeated into R, G, B
    else:
        convert = v2.Identity()
    return v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size), convert])


def _to_8bit(image: Image.Image) -> Image.Image:
    # Pillow's convert("L") clips 16-bit and 32-bit greyscale at 255, turning most of such an
    # image white; rescale it instead (16-bit exactly, wider types by their brightest pixel).
    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    pixels = np.asarray(image, dtype=np.float64)
    scale = 257.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0) / 255.0
    return Image.fromarray(np.clip(np.rint(pixels / scale), 0, 255).astype(np.uint8))


def _flatten_alpha(image: Image.Image) -> Image.Image:
    # Transparent pixels hold arbitrary colours (often black); composite onto white instead so
    # cut-out objects and icons look as they do in a viewer.
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return image


def _folder_notes(
    loaded: int, candidates: int, unreadable: int, too_large: int, ignored: int, max_images: int
) -> list[str]:
    notes = [f"loaded {loaded:,} images"]
    if unreadable:
        notes.append(f"skipped {unreadable:,} files that are not readable images")
    if too_large:
        notes.append(
            f"skipped {too_large:,} images larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
        )
    if ignored:
        notes.append(f"ignored {ignored:,} files without an image extension")
    if loaded >= max_images and candidates > loaded + unreadable + too_large:
        notes.append(f"stopped at the cap of {max_images:,} images; the rest were not loaded")
    return notes


def dataset_status(cache_dir: Path | None = None) -> dict[str, str]:
    """For each dataset, whether it works offline now: shown on the app's home page."""
    cache = Path(cache_dir) if cache_dir is not None else data_cache_dir()
    status = {name: "offline (generated in code)" for name in POINT_DATASETS}
    status["digits"] = "offline (bundled with scikit-learn)"
    for name, (_, folder) in _TORCHVISION_DATASETS.items():
        ready = _torchvision_ready(_torchvision_class(name), cache / folder / "raw")
        status[name] = "downloaded" if ready else "downloads on first use (needs network)"
    cifar = cache / CIFAR_DIR
    ready = all((cifar / name).is_file() for name in CIFAR_BATCHES) or (cache / CIFAR_TAR).is_file()
    status["cifar10"] = "downloaded" if ready else "downloads on first use (needs network)"
    status["folder"] = "your own images (a folder path or an uploaded zip)"
    return status
