"""A person's own 2D points (drawn in the app or uploaded as a CSV) as a training set.

A CSV is hostile until proven otherwise: its size is capped before it is read, it must be
UTF-8 text (a NUL byte means a binary file), every value must parse as a finite number (so a
spreadsheet formula such as `=HYPERLINK(...)` is refused as text, never evaluated), and every
problem is one line naming what is wrong and where. Nothing in a file is executed.

Points are *normalised* the same way wherever they come from: the bounding box is centred at
the origin and scaled, aspect ratio kept, so its longer side spans [-2, 2], the window of the
2D toys (the ring has radius 2). The generator then starts at the right scale whatever units
the file used. A set larger than MAX_POINTS is subsampled (a fixed random choice, so the same
file always gives the same set) and the notes say so.

The points a run trains on are stored as a small canonical CSV (`x,y` header, one point a
line) named by its content's hash, so the same points give the same file name, and the
setting `points_file` names it. A saved checkpoint holds the points itself (checkpoints.py), so
a run can be explored, diagnosed and resumed after the file is gone.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from playground.data.roots import DATA_ROOTS_ENV, allowed_data_roots
from playground.data.source import DatasetUnavailable, DataSource
from playground.errors import ConfigError

MAX_FILE_BYTES = 2 * 2**20  # a CSV of 20,000 points with 9 digits each is about 400 KB
MAX_ROWS = 200_000  # data lines read at most (more are refused, not silently cut)
MIN_POINTS = 20  # fewer cannot show a distribution (k-NN measures need a few neighbours too)
MAX_POINTS = 20_000  # more are subsampled: batches are drawn from the set anyway
WINDOW = 2.0  # normalised points fit [-WINDOW, WINDOW] on each axis, like the toys
SUBSAMPLE_SEED = 0
# Coordinates beyond this size overflow float32 when scaled, or lose their shape to rounding: a
# file in such units is refused, naming the limit, instead of training on inf and "diverging".
MAX_ABS = 1e12
MIN_SPAN = 1e-9  # the smallest spread (relative to the coordinates' size) that can be scaled up
FILE_PREFIX = "points-"
EXAMPLE_SEED = 3
_SPLIT = re.compile(r"\s*[,;\t]\s*|\s+")
_NON_FINITE = ("nan", "inf", "infinity")


class PointsError(ValueError):
    """A file or a drawing cannot be used as points; the message is one line saying why."""


@dataclass
class PointSet:
    """Normalised points (N, 2) float64 and sentences about what reading them did."""

    points: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.points.shape[0])


# ---------------------------------------------------------------------- parsing
def parse_csv(data: bytes, *, normalise: bool = True) -> PointSet:
    """The points of a CSV file's bytes: two numeric columns (x, y), an optional header line
    (a header naming columns `x` and `y` picks those two among more), `#` comment lines and
    blank lines skipped; commas, semicolons, tabs or spaces between values. Raises PointsError
    with one line for anything else."""
    if len(data) > MAX_FILE_BYTES:
        raise PointsError(
            f"the file is {_size(len(data))}; at most {_size(MAX_FILE_BYTES)} of points are read"
        )
    if b"\x00" in data:
        raise PointsError("the file is binary, not a CSV text file of numbers")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PointsError("the file is not UTF-8 text (save it as CSV UTF-8)") from None
    rows = _rows(text)
    if not rows:
        raise PointsError("the file holds no data lines: expected two numbers a line, x,y")
    columns, rows = _columns(rows)
    if not rows:
        raise PointsError("the file holds a header but no data lines: expected x,y a line")
    points = np.array([_point(line, fields, columns) for line, fields in rows], dtype=np.float64)
    return finish(points, normalise=normalise)


def finish(points: np.ndarray, *, normalise: bool = True, what: str = "points") -> PointSet:
    """Checks (count, spread) shared by files and drawings, then subsampling and normalising."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    notes = []
    if len(points) < MIN_POINTS:
        raise PointsError(f"{len(points)} {what}; at least {MIN_POINTS} are needed")
    if not np.isfinite(points).all():
        raise PointsError(f"the {what} hold NaN or infinite values")
    largest = float(np.abs(points).max())
    if largest > MAX_ABS:
        raise PointsError(
            f"the {what} must lie within ±{MAX_ABS:.0e} (the largest is {largest:.3g}): give them "
            "in smaller units"
        )
    if len(points) > MAX_POINTS:
        keep = np.random.default_rng(SUBSAMPLE_SEED).choice(len(points), MAX_POINTS, replace=False)
        notes.append(
            f"{len(points):,} {what}: a fixed random {MAX_POINTS:,} of them are used (the most "
            "one set may hold)"
        )
        points = points[np.sort(keep)]
    else:
        notes.append(f"{len(points):,} {what}")
    if normalise:
        points, note = normalised(points)
        if note:
            notes.append(note)
    return PointSet(points, notes)


def normalised(points: np.ndarray) -> tuple[np.ndarray, str]:
    """Points with their bounding box centred at 0 and its longer side spanning
    [-WINDOW, WINDOW] (aspect ratio kept), and a sentence saying what changed ('' for nothing).
    PointsError when every point is the same (there is no shape to scale)."""
    low, high = points.min(axis=0), points.max(axis=0)
    half = float((high - low).max()) / 2
    if not half > 0 or not math.isfinite(half):
        raise PointsError("every point is the same: there is no distribution to learn")
    size = max(1.0, float(np.abs(points).max()))
    if half < MIN_SPAN * size:
        raise PointsError(
            f"the points spread over only {2 * half:.3g} (at least {MIN_SPAN:.0e} of their size "
            f"{size:.3g} is needed to scale them): give them in larger units"
        )
    centre = (low + high) / 2
    scale = WINDOW / half
    out = (points - centre) * scale
    # Already normalised (to float32 precision, as a checkpoint stores them): kept exactly, so
    # points saved with a run and read back train on the very same values.
    if np.allclose(centre, 0, atol=1e-6 * half) and abs(scale - 1) < 1e-6:
        return points.copy(), ""
    return out, (
        f"centred (moved by {-centre[0]:.3g}, {-centre[1]:.3g}) and scaled by {scale:.3g} so they "
        f"fit [-{WINDOW:g}, {WINDOW:g}] like the 2D toys (aspect ratio kept)"
    )


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each data line: blanks and `#` comments skipped."""
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(rows) >= MAX_ROWS:
            raise PointsError(f"the file has more than {MAX_ROWS:,} lines of data")
        fields = [part.strip().strip("\"'") for part in _SPLIT.split(line)]
        rows.append((number, [f for f in fields if f != ""] or [""]))
    return rows


def _columns(rows: list[tuple[int, list[str]]]) -> tuple[tuple[int, int], list]:
    """Which two columns hold x and y, and the data rows (the header taken off)."""
    first_line, first = rows[0]
    # A header is a first line with no number in it; a line mixing numbers and text is data
    # (and is refused below by the value that is not a number).
    if any(_is_number(f) for f in first):
        header, data = None, rows
    else:
        header, data = first, rows[1:]
    if header is not None:
        names = [h.lower() for h in header]
        if "x" in names and "y" in names:
            return (names.index("x"), names.index("y")), data
        if len(header) != 2:
            raise PointsError(
                f"line {first_line}: a header of {len(header)} columns without columns named "
                "x and y; expected two columns, x then y"
            )
    for line, fields in data:
        if len(fields) != 2:
            raise PointsError(
                f"line {line} has {len(fields)} value{'s' if len(fields) != 1 else ''}; "
                "expected two, x then y"
            )
    return (0, 1), data


def _point(line: int, fields: list[str], columns: tuple[int, int]) -> tuple[float, float]:
    if max(columns) >= len(fields):
        raise PointsError(f"line {line} has {len(fields)} values; expected an x and a y column")
    return tuple(_number(line, fields[c], c) for c in columns)  # type: ignore[return-value]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(line: int, text: str, column: int) -> float:
    name = "xy"[column] if column < 2 else f"column {column + 1}"
    try:
        value = float(text)
    except ValueError:
        raise PointsError(f"line {line}: {name} value {_shown(text)} is not a number") from None
    if not math.isfinite(value) or text.lower().lstrip("+-") in _NON_FINITE:
        raise PointsError(f"line {line}: {name} value {_shown(text)} is not a finite number")
    return value


def _shown(text: str, limit: int = 24) -> str:
    """A value from the file, safe to print on one line: quoted, escaped, cut short."""
    cut = text[:limit] + ("…" if len(text) > limit else "")
    return ascii(cut) if not cut.isprintable() else repr(cut)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


# ---------------------------------------------------------------------- files
def to_csv(points: np.ndarray) -> str:
    """The canonical CSV of points: an `x,y` header and 9 significant digits a value."""
    lines = ["x,y"] + [f"{x:.9g},{y:.9g}" for x, y in np.asarray(points, dtype=np.float64)]
    return "\n".join(lines) + "\n"


def save_points(points: np.ndarray, folder: str | os.PathLike) -> Path:
    """Write points as their canonical CSV into `folder`, named by the content's SHA-256, so
    the same points always give the same file. Returns its path."""
    text = to_csv(points).encode()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{FILE_PREFIX}{hashlib.sha256(text).hexdigest()[:16]}.csv"
    if not path.is_file():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(text)
        os.replace(tmp, path)
    return path


def read_points_file(path: str | os.PathLike) -> PointSet:
    """The normalised points of a CSV file; DatasetUnavailable naming points_file otherwise."""
    file = Path(path).expanduser()
    try:
        if not file.is_file():
            raise PointsError(f"{file} does not exist or is not a file")
        if file.stat().st_size > MAX_FILE_BYTES:
            raise PointsError(f"{file} is larger than {_size(MAX_FILE_BYTES)}")
        with open(file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        return parse_csv(data)
    except PointsError as exc:
        raise DatasetUnavailable(f"points_file: {exc}") from None
    except OSError as exc:
        raise DatasetUnavailable(f"points_file: cannot read {file} ({exc.strerror})") from None


def points_source(
    name: str, points: np.ndarray | torch.Tensor, device: torch.device, notes: list[str] = ()
) -> DataSource:
    """A DataSource drawing batches (with replacement) from a fixed set of 2D points."""
    tensor = torch.as_tensor(np.asarray(points, dtype=np.float32)).reshape(-1, 2)
    return DataSource(
        name=name,
        kind="points",
        shape=(2,),
        num_classes=0,
        centres=None,
        sigma=None,
        device=device,
        notes=list(notes),
        points=tensor.to(device),
    )


def file_source(name: str, path: str | os.PathLike, device: torch.device) -> DataSource:
    """The DataSource of the points in CSV file `path` (DatasetUnavailable when unusable)."""
    return pointset_source(name, read_points_file(path), device)


def pointset_source(name: str, found: PointSet, device: torch.device) -> DataSource:
    """The DataSource of points read from a file (its notes say how they were scaled and
    thinned); a Ray worker gets them read by the app (cluster.own_points)."""
    return points_source(name, found.points, device, notes=[_notes_sentence(found.notes)])


def _notes_sentence(notes: list[str]) -> str:
    return "Your points: " + "; ".join(notes) + "."


# ---------------------------------------------------------------------- the app's rule
def check_app_points_file(path: str, own: Iterable[str | os.PathLike] = ()) -> Path:
    """The file, resolved, when the app may read it: a .csv file under this session's own
    upload space (`own`) or under a root the server's operator allows (the data roots of
    folders.py). Otherwise ConfigError naming points_file, and the file is never opened."""
    text = str(path).strip()
    candidate = Path(text).expanduser()
    if text and candidate.is_absolute() and candidate.suffix.lower() == ".csv":
        resolved = candidate.resolve()  # links first: a link inside a root may point outside
        for root in [Path(p).resolve() for p in own] + allowed_data_roots():
            if resolved.is_relative_to(root):
                return resolved
    raise ConfigError(
        "points_file",
        "this server reads only points drawn or uploaded in this session (or CSV files under "
        f"folders its operator allows with {DATA_ROOTS_ENV}); draw them or upload a CSV",
    )


# ---------------------------------------------------------------------- drawing and examples
def brush(centres: np.ndarray, count: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """`count` points around each of `centres` (M, 2): Gaussian noise of std `spread`, the way
    a spray brush lays paint; (M * count, 2)."""
    c = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    if count <= 0 or len(c) == 0:
        return np.zeros((0, 2))
    noise = rng.normal(0.0, spread, size=(len(c), count, 2))
    return (c[:, None, :] + noise).reshape(-1, 2)


def example_points(n: int = 600) -> np.ndarray:
    """An example set for the format hint: a smiley (two eyes and a mouth), in raw units."""
    rng = np.random.default_rng(EXAMPLE_SEED)
    third = n // 3
    eyes = np.concatenate(
        [
            rng.normal((-0.7, 0.8), 0.12, (third // 2, 2)),
            rng.normal((0.7, 0.8), 0.12, (third // 2, 2)),
        ]
    )
    angle = rng.uniform(math.pi * 1.15, math.pi * 1.85, n - len(eyes))
    mouth = np.stack([1.3 * np.cos(angle), 1.3 * np.sin(angle) + 0.4], axis=1)
    mouth += rng.normal(0, 0.05, mouth.shape)
    return np.concatenate([eyes, mouth]) * 10 + 50  # units of a drawing program, not [-2, 2]


def example_csv() -> str:
    """A downloadable example file in the accepted format."""
    return "# x,y: one point a line (this header and comment lines are optional)\n" + to_csv(
        example_points()
    )
