"""Your own images on the Train page: a zip uploaded into this session's private folder, or a
folder on the server, checked before a run may start."""

from __future__ import annotations

import shutil
from pathlib import Path

import streamlit as st

from pages.ui import common as ui
from pages.ui import settings as settings_ui
from pages.ui import userdata as userdata_ui
from pages.ui.i18n import _
from playground.data import registry as datasets
from playground.data import roots, uploads
from playground.errors import ConfigError
from playground.settings.config import GANConfig

# ---------------------------------------------------------------------- your own images
UPLOAD_KEY = "train.images_zip"


UPLOAD_NOTE = "train.upload_note"


class UploadSpace(ui.SessionFolder):
    """This session's private temporary folder for unpacked images; deleted with the session."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def fresh(self) -> Path:
        """An empty subfolder for a new upload; earlier uploads are deleted."""
        root = self.folder()
        for old in root.iterdir():
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
        self.count += 1
        return root / f"images-{self.count}"


@st.cache_resource(scope="session", on_release=lambda space: space.remove(), show_spinner=False)
def upload_space() -> UploadSpace:
    return UploadSpace()


def check_data_folder(cfg: GANConfig | None, problem: str | None):
    """A folder dataset trains only on this session's upload or under a root the server's
    operator allows (roots.check_app_data_folder): otherwise no config, and the reason."""
    cfg, problem = userdata_ui.check_points_file(cfg, problem)  # the same rule for points
    if cfg is None or not datasets.DATASETS[cfg.dataset].user_folder:
        return cfg, problem
    try:
        roots.check_app_data_folder(cfg.data_folder, own=[upload_space().root])
    except ConfigError as exc:
        return None, str(exc)
    return cfg, problem


def _unpack_upload() -> None:
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        return
    target = upload_space().fresh()
    try:
        report = uploads.extract_image_zip(upload.getvalue(), target)
    except uploads.UploadError as exc:
        st.session_state[UPLOAD_NOTE] = ("error", _("This zip cannot be used: {reason}").format(
            reason=exc))
        return
    except OSError as exc:  # disk full: say so
        st.session_state[UPLOAD_NOTE] = ("error", _("Could not unpack the zip: {reason}").format(
            reason=exc))
        return
    st.session_state[settings_ui.key_of("data_folder")] = str(target)
    st.session_state[UPLOAD_NOTE] = ("success", report.message().capitalize() + ".")


def image_upload() -> None:
    """With a folder dataset: upload a zip of your own images instead of typing a path."""
    userdata_ui.points_panel()  # with your own 2D points: draw them or upload a CSV
    entry = datasets.DATASETS.get(st.session_state.get(settings_ui.key_of("dataset")))
    if entry is None or not entry.user_folder:
        return
    st.sidebar.file_uploader(
        _("Your images (.zip)"), type=["zip"], key=UPLOAD_KEY, on_change=_unpack_upload,
        help=_("A zip of your own pictures (PNG, JPEG, BMP, GIF, WebP; any folders inside). It "
               "is unpacked into a private temporary folder for this session, which becomes "
               "data_folder. Unsafe entries are refused and files that are not images skipped, "
               "each counted."))
    kind, text = st.session_state.get(UPLOAD_NOTE, (None, None))
    if kind == "error":
        st.sidebar.error(text)
    elif kind == "success":
        st.sidebar.success(text)
