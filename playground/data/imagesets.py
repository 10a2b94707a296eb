"""The image sets: decoded once, resized on the training device, held there as uint8.

- `digits`-like bundled sets come from scikit-learn (no network).
- MNIST-like sets come through `torchvision.datasets` (its downloader, MD5 checks and folder
  layout) under the data cache, downloaded on first use.
- CIFAR-10 is its binary version, downloaded and checked with torchvision's helpers and read
  here (nothing is ever unpickled).

Which dataset uses which loader, its title and its torchvision class are facts of the registry
(datasets.py); this module holds only the readers.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from playground.data.registry import Dataset, offline_hint
from playground.data.source import DatasetUnavailable, one_line


# ---------------------------------------------------------------------------- image tensors
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits as uint8 (N, 1, 8, 8) in 0..255 and int64 labels."""
    # Imported here: scikit-learn is slow to import and only this dataset needs it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are 0..16; stretch to 0..255 like every other image dataset.
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images[:, None], bunch.target.astype(np.int64)


# ---------------------------------------------------------------------------- MNIST-like
# torchvision's readers and downloader (its mirrors, MD5 checks and folder layout):
# <cache>/<class name>/raw/ (MNIST/raw/, FashionMNIST/raw/) holds the unpacked IDX files.


def _torchvision_class(entry: Dataset):
    from torchvision import datasets

    return getattr(datasets, entry.torchvision_class)


def _raw_folder(entry: Dataset, cache: Path) -> Path:
    return cache / entry.torchvision_class / "raw"  # torchvision's layout: root/<class>/raw


def load_torchvision_dataset(
    entry: Dataset, cache: Path, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The training split of an MNIST-like torchvision dataset as uint8 (N, 1, side, side) and
    int64 labels, downloaded first when `download` allows."""
    title, side = entry.title, entry.native_size
    cls = _torchvision_class(entry)
    raw = _raw_folder(entry, cache)
    if not download and not _torchvision_ready(cls, raw):
        names = ", ".join(_unpacked(file) for file, _ in cls.resources)
        raise DatasetUnavailable(
            f"{title} is not downloaded and downloading is off: put {names} (unpacked) in "
            f"{raw}, or {offline_hint()}"
        )
    try:
        if download and not _torchvision_ready(cls, raw):
            for file, md5 in cls.resources:  # torchvision then finds them verified and unpacks
                _fetch_first(cls.mirrors, file, raw / file, md5)
        dataset = cls(root=str(cache), train=True, download=download)
    except (RuntimeError, OSError) as exc:
        if not _torchvision_ready(cls, raw):  # the download failed
            _discard_corrupt(cls, raw)
            raise DatasetUnavailable(_download_failure(title, cls.mirrors[0], exc, raw)) from None
        raise _unreadable(title, raw, exc) from None
    except Exception as exc:  # torchvision's reader asserts on malformed IDX files
        raise _unreadable(title, raw, exc) from None
    images, labels = dataset.data, dataset.targets
    if images.ndim != 3 or tuple(images.shape[1:]) != (side, side):
        raise DatasetUnavailable(
            f"{raw} holds images of shape {tuple(images.shape[1:])}, not {title}'s {side}x{side}: "
            "replace the files with the originals"
        )
    if labels.shape[0] != images.shape[0]:
        raise DatasetUnavailable(
            f"{title}: {images.shape[0]} images but {labels.shape[0]} labels in {raw}: replace "
            "the files with the originals"
        )
    labels = labels.numpy()
    _check_labels(labels, raw, entry.num_classes)
    return images.numpy()[:, None], labels.astype(np.int64)


DOWNLOAD_TIMEOUT_S = 60.0  # to connect, and the longest silence between two reads


def fetch(url: str, target: Path, md5: str) -> None:
    """Download `url` to `target` unless a file with that MD5 is there. torchvision's own
    downloader sets no timeout, so a mirror that stops answering would hang the run for ever:
    this one raises TimeoutError after DOWNLOAD_TIMEOUT_S of silence, and keeps a file only
    when its MD5 is the published one (else RuntimeError, as torchvision's does)."""
    from torchvision.datasets.utils import check_integrity

    if check_integrity(str(target), md5):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "gan-playground"})
    try:
        with (
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response,
            open(partial, "wb") as out,
        ):
            shutil.copyfileobj(response, out, 1 << 16)
        if not check_integrity(str(partial), md5):
            raise RuntimeError(f"{url}: the file downloaded is corrupted (its MD5 differs)")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _fetch_first(mirrors: list[str], file: str, target: Path, md5: str) -> None:
    """`file` from the first mirror that serves it; the last mirror's error otherwise."""
    for i, mirror in enumerate(mirrors):
        try:
            return fetch(mirror + file, target, md5)
        except (RuntimeError, OSError):
            if i == len(mirrors) - 1:
                raise


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
        f"the {title} files in {raw} are not valid IDX files ({one_line(exc)}): delete them so "
        "they are downloaded again, or replace them with the originals"
    )


def _check_labels(labels: np.ndarray, path: Path, num_classes: int) -> None:
    if labels.size and int(labels.max()) >= num_classes:
        raise DatasetUnavailable(
            f"{path} has a label {int(labels.max())}, outside 0..{num_classes - 1}: replace it "
            "with the original"
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
        reason = f"no network: {one_line(got[0])}"
    return (
        f"{title} is not downloaded and could not be fetched ({reason}; tried {url}): "
        f"{offline_hint()}, or put the files in {folder}"
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


def load_cifar10(entry: Dataset, cache: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's five training batches as uint8 (N, 3, 32, 32) and int64 labels."""
    folder = cache / CIFAR_DIR
    if not all((folder / name).is_file() for name in CIFAR_BATCHES):
        _fetch_cifar10(cache, folder, download)
    records = np.concatenate([_read_cifar_batch(folder / name) for name in CIFAR_BATCHES])
    labels = records[:, 0]
    _check_labels(labels, folder, entry.num_classes)
    images = records[:, 1:].reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE)
    return images, labels.astype(np.int64)


def _fetch_cifar10(cache: Path, folder: Path, download: bool) -> None:
    from torchvision.datasets.utils import check_integrity

    archive = cache / CIFAR_TAR
    if not archive.is_file():
        if not download:
            raise DatasetUnavailable(
                f"CIFAR-10 is not downloaded and downloading is off: put {CIFAR_TAR} (the binary "
                f"version) in {cache}, or {offline_hint()}"
            )
        try:
            fetch(CIFAR_URL, archive, CIFAR_MD5)
        except (RuntimeError, OSError) as exc:
            if archive.is_file() and not check_integrity(archive, CIFAR_MD5):
                archive.unlink()
            raise DatasetUnavailable(_download_failure("CIFAR-10", CIFAR_URL, exc, cache)) from None
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
            f"{archive} is not a readable CIFAR-10 archive ({one_line(exc)}): delete it so it "
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
        raise DatasetUnavailable(f"{path} cannot be read ({one_line(exc)})") from None


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


def is_downloaded(entry: Dataset, cache: Path) -> bool:
    """Whether a downloaded dataset's files are already in `cache` (no network needed)."""
    if entry.loader == "torchvision":
        return _torchvision_ready(_torchvision_class(entry), _raw_folder(entry, cache))
    cifar = cache / CIFAR_DIR
    return all((cifar / name).is_file() for name in CIFAR_BATCHES) or (cache / CIFAR_TAR).is_file()
