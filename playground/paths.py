"""Where the project's files are, whether it runs from a checkout or as an installed package.

- Shipped files (the example checkpoints and the digits classifier) are read from the checkout's
  `checkpoints/` folder, or, for an installed package, from the copy its wheel puts under
  `<prefix>/share/gan-playground/checkpoints` (pyproject.toml's data-files).
- Files the program writes (classifiers it trains on first use) go to the checkout's
  `checkpoints/classifiers` when it runs from a checkout, else to the user's cache folder
  ($XDG_CACHE_HOME or ~/.cache, then gan-playground/). Never next to the installed package:
  site-packages may be read-only, shared by users, and is wiped by a reinstall.
"""

from __future__ import annotations

import os
import secrets
import site
import sys
from collections.abc import Callable
from pathlib import Path

APP_NAME = "gan-playground"
PACKAGE_DIR = Path(__file__).resolve().parent
CLASSIFIERS_ENV = "GAN_PLAYGROUND_CLASSIFIERS"


def atomic_write(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> Path:
    """Write `path` so that no reader, and no crash, ever sees half a file: the bytes (or
    whatever `data(tmp)` writes to the path it is given) go to a temporary name in the same
    folder, are flushed to disk, then renamed over `path` in one os.replace. Temporary names
    start with "." and end in ".tmp", so a folder's cleaner can recognise leftovers."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a no-op after the rename
    return path


def checkout() -> Path | None:
    """The project checkout this package runs from (source or editable install), or None for
    an installed package."""
    root = PACKAGE_DIR.parent
    markers = (root / "app.py", root / "pyproject.toml", root / "checkpoints")
    return root if all(m.exists() for m in markers) else None


def _installed_share() -> list[Path]:
    """Where a wheel's data-files land: the environment's prefix, or the user base for a
    `pip install --user`."""
    bases = [sys.prefix, getattr(site, "USER_BASE", None) or "", sys.base_prefix]
    return [Path(b) / "share" / APP_NAME / "checkpoints" for b in dict.fromkeys(bases) if b]


def shipped_checkpoints() -> Path:
    """The read-only folder holding the shipped `examples/` and `classifiers/`."""
    root = checkout()
    if root is not None:
        return root / "checkpoints"
    places = _installed_share()
    return next((p for p in places if p.is_dir()), places[0])


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/gan-playground, else ~/.cache/gan-playground."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / APP_NAME


def classifiers_dir() -> Path:
    """Where trained classifiers are written: $GAN_PLAYGROUND_CLASSIFIERS, else the checkout's
    checkpoints/classifiers, else the user cache's classifiers/."""
    override = os.environ.get(CLASSIFIERS_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    root = checkout()
    return root / "checkpoints" / "classifiers" if root else user_cache_dir() / "classifiers"
