"""Where the app may read a person's data folder from: the operator's roots
($GAN_PLAYGROUND_DATA_ROOTS) and the session's own upload folder. The command line reads any
folder its user names; this is the server's rule, for visitors who must not read its files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from playground.errors import ConfigError

DATA_ROOTS_ENV = "GAN_PLAYGROUND_DATA_ROOTS"


def allowed_data_roots() -> list[Path]:
    """The folders under which the app may read a typed data folder: $GAN_PLAYGROUND_DATA_ROOTS,
    os.pathsep-separated (':' on Linux and macOS), resolved. None by default."""
    text = os.environ.get(DATA_ROOTS_ENV, "")
    return [Path(part).expanduser().resolve() for part in text.split(os.pathsep) if part.strip()]


def check_app_data_folder(folder: str, own: Iterable[str | os.PathLike] = ()) -> Path:
    """The folder, resolved, when the app may train on it: it lies under one of the operator's
    roots (allowed_data_roots) or one of `own` (the session's own upload folder). Otherwise
    ConfigError naming data_folder, and the folder is never listed or read.

    This is the app's rule, for a server whose visitors must not read its files; the command
    line reads any folder its user names. Links are resolved first, so a link inside a root
    that points outside it is outside."""
    text = str(folder).strip()
    path = Path(text).expanduser()
    roots = allowed_data_roots()
    if text and path.is_absolute():  # a relative path would depend on the server's folder
        resolved = path.resolve()
        for root in [Path(p).resolve() for p in own] + roots:
            if resolved.is_relative_to(root):
                return resolved
    if not roots:
        raise ConfigError(
            "data_folder",
            "this server does not read folders typed in the app; upload a zip of your images "
            f"instead (its operator can allow folders under chosen roots with {DATA_ROOTS_ENV}"
            f"=/srv/images{os.pathsep}/data/more)",
        )
    raise ConfigError(
        "data_folder",
        f"{text} is not under a folder this server allows "
        f"({', '.join(str(r) for r in roots)}); upload a zip of your images instead",
    )
