"""Checkpoint folders on disk as the app handles them: naming new runs, zipping a checkpoint for
download, unpacking an uploaded one, deleting a user's own run.

Every path here is built by this module from a root folder and a sanitised name, or checked to
resolve inside its root before anything is written or deleted: nothing a person types or
uploads can reach outside `checkpoints/`.

Ownership: on a shared server every session sees every saved run, but deletes only its own. A
session holds a random owner token (`new_owner_token`, kept in its memory only); saving a run
writes the token's SHA-256 into the run's `owner.json` (`claim_run`), and `delete_user_run`
deletes a folder only for the token whose hash it holds. A folder without `owner.json` (runs
saved before owners, copied in by hand, made by the command line) belongs to no session: it can
be explored, resumed and downloaded, and is deleted on disk by whoever runs the server.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from playground.data.uploads import UploadError, copy_capped, entry_problem, open_zip
from playground.errors import JSON_ERRORS
from playground.paths import atomic_write
from playground.settings.config import GANConfig
from playground.storage.checkpoints import META, CheckpointError, read_meta

MAX_ZIP_MEMBER = 200 * 2**20  # bytes per file extracted from an uploaded checkpoint zip
MAX_ZIP_TOTAL = 400 * 2**20
MAX_ZIP_MEMBERS = 32
MAX_NAME = 80
OWNER_FILE = "owner.json"


@dataclass(frozen=True)
class Listing:
    """The checkpoints found under some folders: the readable ones, newest first, and each
    folder whose checkpoint.json was refused, with the one-line reason."""

    runs: list[tuple[Path, dict]]
    skipped: list[tuple[Path, str]]


def list_checkpoints(roots: list[Path]) -> Listing:
    """Every checkpoint folder under `roots` (each folder once). A broken one never stops the
    listing: it is skipped and named in `skipped`."""
    runs, skipped, seen = [], [], set()
    for meta_file in (m for root in roots if root.is_dir() for m in root.rglob(META)):
        folder = meta_file.parent
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        try:
            runs.append((folder, read_meta(folder), folder.stat().st_mtime))
        except CheckpointError as exc:
            skipped.append((folder, str(exc)))
        except OSError:  # removed or unreadable while listing: not there
            continue
    runs.sort(key=lambda item: item[2], reverse=True)
    return Listing([(folder, meta) for folder, meta, _ in runs], skipped)


# ---------------------------------------------------------------------- names
def safe_run_name(text: str) -> str:
    """A folder name that cannot escape its parent: letters, digits, '-', '_' and '.', never
    starting or ending with '.' or '-' (so never '.' or '..'), at most 80 characters."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text))[:MAX_NAME].strip(".-")
    return name or "run"


def new_run_folder(root: str | os.PathLike, cfg: GANConfig, label: str = "") -> Path:
    """Create and return a new, empty folder for a run under `root`, named after its settings
    and the time. Never an existing folder: two saves in the same second (two students with
    the same preset) get two folders, so no save overwrites another run."""
    parent = Path(root)
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = safe_run_name(label or f"{cfg.dataset}-{cfg.arch}-{cfg.loss}-{stamp}")[: MAX_NAME - 4]
    for n in range(1, 1000):
        folder = parent / (base if n == 1 else f"{base}-{n}")
        _check_inside(folder, parent)
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise OSError(f"could not create a new run folder under {parent}")


def _check_inside(path: Path, root: Path) -> None:
    if not path.resolve().is_relative_to(root.resolve()) or path.resolve() == root.resolve():
        raise ValueError(f"{path} is not inside {root}")


# ---------------------------------------------------------------------- user runs
def is_user_run(folder: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True for a folder strictly inside `root` (the user runs' folder) that is not a link."""
    path = Path(folder)
    root_resolved = Path(root).resolve()
    resolved = path.resolve()
    return (
        not path.is_symlink()
        and resolved != root_resolved
        and resolved.is_relative_to(root_resolved)
    )


def new_owner_token() -> str:
    """A fresh secret for one session: whoever holds it may delete the runs it claimed."""
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def claim_run(folder: str | os.PathLike, token: str) -> None:
    """Record `token`'s owner in a freshly saved run folder (its hash only: reading the folder
    never reveals the token). Written atomically, like the checkpoint itself."""
    if not token:
        raise ValueError("an owner token is needed to claim a run")
    path = Path(folder) / OWNER_FILE
    atomic_write(path, json.dumps({"owner_sha256": _digest(token)}).encode("utf-8"))


def owns_run(folder: str | os.PathLike, token: str | None) -> bool:
    """True when `folder` was claimed with `token` (compared in constant time)."""
    path = Path(folder) / OWNER_FILE
    if not token or path.is_symlink():
        return False
    try:
        if path.stat().st_size > 4096:
            return False
        recorded = json.loads(path.read_text(encoding="utf-8")).get("owner_sha256")
    except (OSError, AttributeError, *JSON_ERRORS):  # missing, unreadable, not a JSON object
        return False
    return isinstance(recorded, str) and hmac.compare_digest(recorded, _digest(token))


def delete_user_run(folder: str | os.PathLike, root: str | os.PathLike, *, owner: str) -> None:
    """Delete a checkpoint folder under `root` that the session holding `owner` saved; anything
    else (another session's run, a run without an owner, shipped examples, a path outside the
    runs folder, the runs folder itself, a symlink, a folder without checkpoint.json) raises
    ValueError and nothing is deleted."""
    path = Path(folder)
    if not is_user_run(path, root):
        raise ValueError(f"{path} is not one of your runs under {root}; not deleted")
    resolved = path.resolve()
    if not (resolved / META).is_file():
        raise ValueError(f"{path} is not a checkpoint folder; not deleted")
    if not owns_run(resolved, owner):
        raise ValueError(f"{path.name} was saved by another session; only it may delete it")
    shutil.rmtree(resolved)


# ---------------------------------------------------------------------- zips
def zip_checkpoint(folder: str | os.PathLike) -> bytes:
    """A checkpoint folder's `checkpoint.json` and the safetensors files it names, as a zip."""
    folder = Path(folder)
    meta = read_meta(folder)
    names = [META] + sorted(set(meta["files"].values()))
    for name in names:
        if (folder / name).is_symlink():
            raise ValueError(f"{folder / name} is a symbolic link; not zipped")
    with io.BytesIO() as buffer:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in names:
                archive.write(folder / name, name)
        return buffer.getvalue()


def extract_checkpoint_zip(data: bytes, dest: str | os.PathLike) -> list[str]:
    """Extract only `checkpoint.json` and `*.safetensors` regular files, flat into `dest`.

    Entry paths are never used: a file is written under its bare name (so a zip of a folder
    works), and names are whitelisted. Symlinks, duplicates, oversized entries (checked while
    reading, not trusted from the header) and too many files are refused with UploadError."""
    dest = Path(dest)
    written: list[str] = []
    total = 0
    with open_zip(data, max_entries=1000) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise UploadError(f"the zip holds {len(members)} files; a checkpoint has a few")
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/")).name
            if name != META and not _is_tensor_name(name):
                continue  # anything else (__MACOSX, README, …) is ignored
            problem = entry_problem(member)
            if problem == "symbolic link":
                raise UploadError(f"{name} is a symbolic link, not a file")
            if problem is not None and not problem.startswith(("path", "absolute")):
                raise UploadError(f"{name} cannot be used: {problem}")
            if name in written:
                raise UploadError(f"the zip holds two files named {name}")
            if member.file_size > MAX_ZIP_MEMBER:
                raise UploadError(f"{name} is larger than {MAX_ZIP_MEMBER // 2**20} MB")
            limit = min(MAX_ZIP_MEMBER, MAX_ZIP_TOTAL - total)
            try:
                total += copy_capped(archive, member, dest / name, limit, max_ratio=None)
            except UploadError as exc:
                raise UploadError(f"{name}: {exc}") from None
            written.append(name)
    if META not in written:
        raise UploadError(f"the zip has no {META}: zip a checkpoint folder's files")
    return written


def _is_tensor_name(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_-]{1,100}\.safetensors", name) is not None
