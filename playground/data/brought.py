"""Samples a person brings from a GAN trained elsewhere, read for diagnosis: a folder or zip of
images, an .npy/.npz image array, or 2D points (a CSV, or an .npy of shape (N, 2)).

A brought file is hostile until proven otherwise, like an upload. Arrays are read with
`allow_pickle=False`, and their header (shape and type) is checked before any data is read, so
a pickled object array or a declared shape of terabytes is refused in one line without running
or allocating anything. A zip of images goes through the upload unpacker (uploads.py) and the
folder loader (folders.py), with their caps. Every refusal is a `BroughtError`: one line saying
what is wrong and what is allowed.

Images come out as float32 (N, C, H, W) in [-1, 1], the range a generator's samples have, with
a note stating what was detected ("1,000 images, 28×28 grey, uint8 0-255").
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from playground.data.folders import FOLDER_EXTENSIONS, MAX_FOLDER_IMAGES, folder_source
from playground.data.source import DatasetUnavailable
from playground.data.uploads import (
    MAX_UPLOAD_BYTES,
    UploadError,
    extract_image_zip,
    new_upload_folder,
    open_zip,
    remove_upload_folder,
)
from playground.data.userpoints import MAX_FILE_BYTES as MAX_POINTS_CSV_BYTES
from playground.data.userpoints import PointsError, finish, parse_csv

MAX_SAMPLES = 50_000  # images (or points) one diagnosis reads
MAX_ARRAY_BYTES = 512 * 2**20  # an array's data, as declared by its header, before reading it
MIN_SIDE, MAX_SIDE = 4, 512  # image sides accepted in an array
MIN_IMAGES = 10
CHANNELS = (1, 3)
NPZ_NAMES = ("samples", "images", "x", "arr_0")  # the array picked from an .npz of several
_RANGE_SLACK = 1e-3  # float images may overshoot their range by rounding


class BroughtError(ValueError):
    """Brought samples cannot be used; the message is one line saying why."""


@dataclass
class Brought:
    """Brought samples: `images` float32 (N, C, H, W) in [-1, 1], or `points` float64 (N, 2)."""

    kind: str  # "images" or "points"
    images: torch.Tensor | None = None
    points: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        data = self.images if self.kind == "images" else self.points
        return int(data.shape[0])


# ---------------------------------------------------------------------- the entry point
def load_samples(path: str | os.PathLike, side: int | None = None, grey: bool = False) -> Brought:
    """The samples in `path`: a folder or .zip of images, an .npy/.npz array, or a .csv of
    points. Folder and zip images are scaled (short side) and centre-cropped to `side` (default:
    the first image's short side, at most MAX_SIDE), grey when `grey`; arrays keep their own."""
    file = Path(path).expanduser()
    if file.is_dir():
        return _folder(file, side, grey)
    if not file.is_file():
        raise BroughtError(f"--samples: {file} does not exist")
    suffix = file.suffix.lower()
    if suffix == ".zip":
        return _zip(file, side, grey)
    if suffix == ".npy":
        with open(file, "rb") as handle:
            return from_array(read_npy(handle, file.name), file.name)
    if suffix == ".npz":
        return from_array(read_npz(file), file.name)
    if suffix == ".csv":
        return _csv(file)
    raise BroughtError(
        f"--samples: {file.name} is not a folder, .zip, .npy, .npz or .csv file"
    )


# ---------------------------------------------------------------------- arrays
def read_npy(handle, name: str) -> np.ndarray:
    """An .npy array from an open binary stream, its header checked before its data is read."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise BroughtError(f"--samples: {name} is not a NumPy array file ({_first(exc)})") from None
    if dtype.hasobject:
        raise BroughtError(
            f"--samples: {name} holds Python objects (a pickled array); only numeric arrays are "
            "read, never unpickled"
        )
    if dtype.kind not in "uifb":
        raise BroughtError(f"--samples: {name} holds {dtype} values; expected numbers")
    declared = math.prod(shape) * dtype.itemsize
    if declared > MAX_ARRAY_BYTES:
        raise BroughtError(
            f"--samples: {name} declares shape {shape} of {dtype} ({declared / 2**20:,.0f} MB); "
            f"at most {MAX_ARRAY_BYTES // 2**20:,} MB are read"
        )
    count = math.prod(shape)
    data = handle.read(declared)
    if len(data) != declared:
        raise BroughtError(f"--samples: {name} is cut short: less data than its header declares")
    array = np.frombuffer(data, dtype=dtype, count=count)
    order = "F" if fortran else "C"
    return array.reshape(shape, order=order)


def read_npz(file: Path) -> np.ndarray:
    """The samples array of an .npz archive (its only array, or one named as in NPZ_NAMES)."""
    if file.stat().st_size > MAX_UPLOAD_BYTES:
        raise BroughtError(f"--samples: {file.name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        archive = open_zip(file.read_bytes(), max_entries=64)
    except UploadError as exc:
        raise BroughtError(f"--samples: {file.name}: {exc}") from None
    with archive:
        names = [i.filename for i in archive.infolist() if i.filename.endswith(".npy")]
        if not names:
            raise BroughtError(f"--samples: {file.name} holds no arrays")
        chosen = names[0] if len(names) == 1 else None
        for wanted in NPZ_NAMES:
            if chosen is None and f"{wanted}.npy" in names:
                chosen = f"{wanted}.npy"
        if chosen is None:
            shown = ", ".join(n[:-4] for n in names[:8])
            raise BroughtError(
                f"--samples: {file.name} holds several arrays ({shown}); name the samples one "
                f"{' or '.join(NPZ_NAMES[:2])}"
            )
        info = archive.getinfo(chosen)
        if info.file_size > MAX_ARRAY_BYTES + 4096:
            raise BroughtError(
                f"--samples: {file.name}:{chosen} unpacks to more than "
                f"{MAX_ARRAY_BYTES // 2**20} MB"
            )
        try:
            with archive.open(info) as member:
                return read_npy(io.BufferedReader(member), f"{file.name}:{chosen}")
        except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError) as exc:
            problem = _first(exc)
            raise BroughtError(f"--samples: {file.name} cannot be unpacked ({problem})") from None


def from_array(array: np.ndarray, name: str = "the array") -> Brought:
    """Images or points from an array: (N, 2) points; (N, H, W), (N, H, W, C) or (N, C, H, W)
    images with C of 1 or 3, uint8 (0-255) or float in [0, 1], [-1, 1] or 0-255."""
    if array.ndim == 2 and array.shape[1] == 2:
        return _points(array.astype(np.float64), f"{name}: ")
    if array.ndim == 2:
        raise BroughtError(
            f"--samples: {name} has shape {array.shape}; 2D points need shape (N, 2), images "
            "(N, H, W), (N, H, W, C) or (N, C, H, W)"
        )
    if array.ndim not in (3, 4):
        raise BroughtError(
            f"--samples: {name} has {array.ndim} dimensions {array.shape}; images need 3 "
            "(N, H, W) or 4 (N, H, W, C or N, C, H, W), points 2 (N, 2)"
        )
    layout = _layout(array.shape, name)
    n, c, h, w = _nchw_shape(array.shape, layout)
    _check_count_and_side(n, h, w, name)
    pixels, described = _unit_range(array, name)
    if layout == "NHW":
        pixels = pixels[:, None]
    elif layout == "NHWC":
        pixels = pixels.transpose(0, 3, 1, 2)
    images = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    what = "grey" if c == 1 else "colour"
    note = f"{n:,} images, {h}×{w} {what}, {described} ({layout} layout)"
    return Brought("images", images=images, notes=[note])


def _layout(shape: tuple[int, ...], name: str) -> str:
    """'NHW', 'NHWC' or 'NCHW' for an image array's shape; BroughtError when it is not one, or
    could be either."""
    if len(shape) == 3:
        return "NHW"
    last, second = shape[3] in CHANNELS, shape[1] in CHANNELS
    if last and second:
        # (N, 3, 3, 3) and the like: a square picture settles it, when only one reading is square
        if shape[1] == shape[2] and shape[2] != shape[3]:
            return "NHWC"
        if shape[2] == shape[3] and shape[1] != shape[2]:
            return "NCHW"
        raise BroughtError(
            f"--samples: {name} has shape {shape}: ambiguous layout (channels could be axis 1 "
            "or axis 3); save it as (N, H, W, C) with images larger than 3×3"
        )
    if last:
        return "NHWC"
    if second:
        return "NCHW"
    raise BroughtError(
        f"--samples: {name} has shape {shape}; colour images need 1 or 3 channels, first "
        "(N, C, H, W) or last (N, H, W, C)"
    )


def _nchw_shape(shape: tuple[int, ...], layout: str) -> tuple[int, int, int, int]:
    if layout == "NHW":
        return shape[0], 1, shape[1], shape[2]
    if layout == "NHWC":
        return shape[0], shape[3], shape[1], shape[2]
    return shape[0], shape[1], shape[2], shape[3]


def _check_count_and_side(n: int, h: int, w: int, name: str) -> None:
    if not MIN_IMAGES <= n <= MAX_SAMPLES:
        raise BroughtError(
            f"--samples: {name} holds {n:,} images; from {MIN_IMAGES} to {MAX_SAMPLES:,} are read"
        )
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise BroughtError(
            f"--samples: {name} holds {h}×{w} images; sides from {MIN_SIDE} to {MAX_SIDE} are read"
        )


def _unit_range(array: np.ndarray, name: str) -> tuple[np.ndarray, str]:
    """The pixels mapped onto [-1, 1] (float32) and the range that was detected, in words."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0, "uint8 0-255"
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise BroughtError(f"--samples: {name} holds NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    s = _RANGE_SLACK
    if array.dtype.kind in "ub" or (array.dtype.kind == "i" and low >= 0):
        if high <= 255:
            return values / 127.5 - 1.0, f"{array.dtype} 0-255"
    elif low >= -s and high <= 1 + s:
        return np.clip(values, 0, 1) * 2 - 1, f"{array.dtype} in [0, 1]"
    elif low >= -1 - s and high <= 1 + s:
        return np.clip(values, -1, 1), f"{array.dtype} in [-1, 1]"
    elif low >= 0 and high <= 255 + s:
        return np.clip(values, 0, 255) / 127.5 - 1.0, f"{array.dtype} 0-255"
    raise BroughtError(
        f"--samples: {name} holds values from {low:.3g} to {high:.3g}; images must be uint8, or "
        "floats in [0, 1], [-1, 1] or 0-255"
    )


# ---------------------------------------------------------------------- points
def _points(points: np.ndarray, where: str) -> Brought:
    """Points as given (not normalised: they are compared with a reference in its own units)."""
    if len(points) > MAX_SAMPLES:
        raise BroughtError(f"--samples: {where}{len(points):,} points; at most {MAX_SAMPLES:,}")
    try:
        found = finish(points, normalise=False)
    except PointsError as exc:
        raise BroughtError(f"--samples: {where}{exc}") from None
    return Brought("points", points=found.points, notes=[f"{len(found):,} 2D points"])


def _csv(file: Path) -> Brought:
    if file.stat().st_size > MAX_POINTS_CSV_BYTES:
        raise BroughtError(
            f"--samples: {file.name} is larger than {MAX_POINTS_CSV_BYTES // 2**20} MB of points"
        )
    try:
        found = parse_csv(file.read_bytes(), normalise=False)
    except PointsError as exc:
        raise BroughtError(f"--samples: {file.name}: {exc}") from None
    return _points(found.points, f"{file.name}: ")


# ---------------------------------------------------------------------- folders and zips
def _folder(folder: Path, side: int | None, grey: bool) -> Brought:
    side = side or _first_side(folder)
    try:
        source = folder_source("samples", folder, side, grey, torch.device("cpu"),
                               min(MAX_SAMPLES, MAX_FOLDER_IMAGES))
    except DatasetUnavailable as exc:
        raise BroughtError(f"--samples: {exc}") from None
    if len(source) < MIN_IMAGES:
        raise BroughtError(
            f"--samples: {folder} holds {len(source)} readable images; at least {MIN_IMAGES}"
        )
    images = source.images.float().div_(127.5).sub_(1.0)
    what = "grey" if images.shape[1] == 1 else "colour"
    notes = [f"{len(source):,} images read as {side}×{side} {what} (short side scaled, centre "
             f"cropped)", *source.notes[1:]]
    return Brought("images", images=images, notes=notes)


def _zip(file: Path, side: int | None, grey: bool) -> Brought:
    folder = new_upload_folder()
    try:
        try:
            with open(file, "rb") as handle:
                report = extract_image_zip(handle, folder)
        except UploadError as exc:
            raise BroughtError(f"--samples: {file.name}: {exc}") from None
        brought = _folder(folder, side, grey)
        brought.notes.append(report.message())
        return brought
    finally:
        remove_upload_folder(folder)


def _first_side(folder: Path) -> int:
    """The short side of the first image under `folder` (read from its header), capped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(FOLDER_EXTENSIONS):
                continue
            try:
                with Image.open(Path(root) / name) as image:
                    return max(MIN_SIDE, min(MAX_SIDE, min(image.size)))
            except Exception:  # Pillow raises many types on corrupt files; try the next one
                continue
    return 32


def _first(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
