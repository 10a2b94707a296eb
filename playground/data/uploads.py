"""A person's own images from an uploaded zip, unpacked safely into a folder `data` can read.

An upload is hostile until proven otherwise. Nothing in the zip chooses where a file is written:
each image gets a fresh flat name inside the destination, opened exclusively, so `../` paths,
absolute paths, drive letters and symbolic links cannot write anywhere else. Entries that are
unsafe (traversal, absolute, links, encrypted, compressed suspiciously well) are refused and
counted; files that are not images are ignored and counted; the sizes that matter (upload,
central directory, each file, the total) are capped and checked while reading, never trusted
from the zip's own headers. Whether an extracted file is a readable image is for the folder
loader (`folders.py`), which skips bad ones and says how many.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

# The data-root rule lives with the folder loader.
from playground.data.folders import (
    FOLDER_EXTENSIONS,
)

MAX_UPLOAD_BYTES = 200 * 2**20  # as the server's maxUploadSize
MAX_FILES = 5_000  # entries in the zip, folders included
MAX_FILE_BYTES = 32 * 2**20  # one image, unpacked
MAX_TOTAL_BYTES = 512 * 2**20  # everything unpacked from one zip
MAX_RATIO = 100  # unpacked / packed size of one entry; images barely compress, bombs do 1000:1
MAX_CENTRAL_DIRECTORY = MAX_FILES * 1024  # bytes of the zip's table of contents
UPLOAD_PREFIX = "gan-upload-"
_BLOCK = 2**20


class UploadError(ValueError):
    """An upload cannot be used at all; the message says why, in one line."""


@dataclass
class Extracted:
    """What unpacking a zip of images did."""

    folder: Path
    images: int = 0  # files written (with an image extension)
    ignored: int = 0  # files without an image extension, hidden files, macOS metadata
    refused: Counter = field(default_factory=Counter)  # reason -> entries refused
    not_unpacked: int = 0  # images left out once the total size cap was reached
    cap: int = MAX_TOTAL_BYTES

    def message(self) -> str:
        """One sentence for the page: what was unpacked, and everything left out and why."""
        parts = [f"unpacked {self.images:,} image file{'s' if self.images != 1 else ''}"]
        if self.ignored:
            parts.append(f"ignored {self.ignored:,} files that are not images")
        for reason, count in sorted(self.refused.items()):
            parts.append(f"refused {count:,} ({reason})")
        if self.not_unpacked:
            parts.append(
                f"left out {self.not_unpacked:,} images over the {_size(self.cap)} size cap"
            )
        return "; ".join(parts)


def new_upload_folder(parent: str | os.PathLike | None = None) -> Path:
    """A fresh private folder (mode 0700) for one session's uploads."""
    return Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX, dir=parent))


def remove_upload_folder(folder: str | os.PathLike) -> None:
    """Delete a folder made by `new_upload_folder`; anything else is left alone."""
    path = Path(folder)
    if path.name.startswith(UPLOAD_PREFIX) and path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------- zips in general
def open_zip(data: bytes | BinaryIO, max_entries: int) -> zipfile.ZipFile:
    """A ZipFile over `data`, after checking, from the raw bytes, that its table of contents is
    small: zipfile reads the whole table into memory on opening, so a zip declaring millions
    of entries would cost gigabytes before a single entry could be refused."""
    raw = data if isinstance(data, bytes) else data.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is larger than {_size(MAX_UPLOAD_BYTES)}")
    entries, directory_bytes = _table_of_contents(raw)
    if entries > max_entries or directory_bytes > max_entries * 1024:
        raise UploadError(f"the zip holds {entries:,} entries; at most {max_entries:,} are allowed")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise UploadError(f"the file is not a readable zip archive ({exc})") from None
    if len(archive.infolist()) > max_entries:  # the declared count can lie; the table cannot
        archive.close()
        raise UploadError(f"the zip holds more than {max_entries:,} entries")
    return archive


def _table_of_contents(raw: bytes) -> tuple[int, int]:
    """(entries, central directory bytes) from the end-of-central-directory record (and its
    zip64 form), as zipfile will read them."""
    tail_start = max(0, len(raw) - (65_535 + 22))
    at = raw.rfind(b"PK\x05\x06", tail_start)
    if at < 0 or len(raw) < at + 22:
        raise UploadError("the file is not a zip archive")
    entries, directory_bytes = struct.unpack("<xxxxxxxxxxHI", raw[at : at + 16])
    locator = at - 20
    if locator >= 0 and raw[locator : locator + 4] == b"PK\x06\x07":
        record = locator - 56  # zip64 end record sits right before its locator
        if record >= 0 and raw[record : record + 4] == b"PK\x06\x06":
            entries, directory_bytes = struct.unpack("<QQ", raw[record + 32 : record + 48])
    return entries, directory_bytes


def entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why an entry must not be unpacked (a short reason), or None when it may be."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "path with '..'"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "control characters in name"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "not a regular file"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


def copy_capped(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    limit: int,
    max_ratio: int | None = MAX_RATIO,
) -> int:
    """Unpack one entry into the new file `target` (never an existing one), refusing, while
    reading, more than `limit` bytes or more than `max_ratio` times its packed size. Returns
    the bytes written; on any problem the partial file is removed and UploadError says why."""
    ratio_limit = max(info.compress_size, 1) * max_ratio if max_ratio else None
    copied = 0
    try:
        with archive.open(info) as source, open(target, "xb") as sink:
            while block := source.read(_BLOCK):
                copied += len(block)
                if copied > limit:
                    raise UploadError(f"unpacks to more than the {_size(limit)} allowed")
                if ratio_limit is not None and copied > max(ratio_limit, _BLOCK):
                    raise UploadError(f"compressed more than {max_ratio}:1 (a zip bomb?)")
                sink.write(block)
    except UploadError:
        target.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        target.unlink(missing_ok=True)
        raise UploadError(f"cannot be unpacked ({exc})") from None
    except OSError:
        target.unlink(missing_ok=True)
        raise
    return copied


# ---------------------------------------------------------------------- images
def extract_image_zip(
    data: bytes | BinaryIO,
    dest: str | os.PathLike,
    *,
    max_files: int = MAX_FILES,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Extracted:
    """Unpack the image files of a zip flat into the folder `dest` (created if needed).

    Raises UploadError when the upload cannot be used at all (not a zip, too many entries, no
    image left); otherwise refuses unsafe entries one by one and reports them in `Extracted`.
    """
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    report = Extracted(folder, cap=max_total_bytes)
    total = 0
    with open_zip(data, max_files) as archive:
        for index, info in enumerate(archive.infolist()):
            if info.is_dir():
                continue
            problem = entry_problem(info)
            if problem is not None:
                report.refused[problem] += 1
                continue
            base = PurePosixPath(info.filename.replace("\\", "/")).name
            if base.startswith(".") or "__MACOSX/" in info.filename:
                report.ignored += 1  # macOS "._name.jpg" resource forks, .DS_Store
                continue
            if not base.lower().endswith(FOLDER_EXTENSIONS):
                report.ignored += 1
                continue
            if info.file_size > max_file_bytes:
                report.refused[f"larger than {_size(max_file_bytes)}"] += 1
                continue
            if info.file_size > max(info.compress_size, 1) * MAX_RATIO and info.file_size > _BLOCK:
                report.refused[f"compressed more than {MAX_RATIO}:1"] += 1
                continue
            if total + info.file_size > max_total_bytes:
                report.not_unpacked += 1
                continue
            target = folder / _flat_name(index, base)
            try:
                total += copy_capped(
                    archive, info, target, min(max_file_bytes, max_total_bytes - total)
                )
            except UploadError as exc:
                reason = str(exc).split(" (")[0]
                report.refused[reason] += 1
                continue
            report.images += 1
    if report.images == 0:
        raise UploadError(f"no image files could be unpacked: {report.message()}")
    return report


def _size(n: int) -> str:
    return f"{n // 2**20:,} MB" if n >= 2**20 else f"{n:,} bytes"


def _flat_name(index: int, base: str) -> str:
    """A name chosen here: the entry's index (unique) and a tidied version of its base name."""
    stem, dot, ext = base.rpartition(".")
    tidy = re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:60] or "image"
    return f"{index:05d}-{tidy}.{ext.lower()}" if dot else f"{index:05d}-{tidy}"
