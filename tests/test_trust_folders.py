"""A data folder typed in the app (or given in a link) must lie under a root the server's
operator allows; none by default, uploads still work. The folder walk stops at the image cap."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import shown
from PIL import Image
from streamlit.testing.v1 import AppTest

from playground.data import folders, roots
from playground.data.loading import load_dataset
from playground.data.source import DatasetUnavailable
from playground.errors import ConfigError
from playground.settings.config import GANConfig

ROOT = Path(__file__).resolve().parent.parent


def _images(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8, 3), 20 * i, dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


# ---------------------------------------------------------------------- the rule
def test_no_roots_by_default_refuses_every_typed_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(roots.DATA_ROOTS_ENV, raising=False)
    pictures = _images(tmp_path / "pictures", 1)
    for folder in (str(pictures), "/usr/share", "relative/pictures", ""):
        with pytest.raises(ConfigError) as info:
            roots.check_app_data_folder(folder)
        message = str(info.value)
        assert info.value.setting == "data_folder"
        assert "upload a zip" in message and roots.DATA_ROOTS_ENV in message
        assert "\n" not in message


def test_folders_under_an_allowed_root_only(tmp_path, monkeypatch):
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    inside = _images(allowed / "cats", 1)
    outside = _images(other / "secrets", 1)
    (allowed / "link").symlink_to(outside)
    monkeypatch.setenv(roots.DATA_ROOTS_ENV, f"{tmp_path / 'nothing'}{os.pathsep}{allowed}")
    assert roots.check_app_data_folder(str(inside)) == inside.resolve()
    assert roots.check_app_data_folder(str(allowed)) == allowed.resolve()
    for refused in (outside, allowed / "link", allowed / ".." / "other" / "secrets"):
        with pytest.raises(ConfigError, match="not under a folder this server allows"):
            roots.check_app_data_folder(str(refused))


def test_the_sessions_own_upload_folder_is_allowed(tmp_path, monkeypatch):
    monkeypatch.delenv(roots.DATA_ROOTS_ENV, raising=False)
    upload = _images(tmp_path / "gan-upload-x" / "images-1", 1)
    assert roots.check_app_data_folder(str(upload), own=[upload.parent]) == upload.resolve()
    with pytest.raises(ConfigError):
        roots.check_app_data_folder(str(tmp_path), own=[upload.parent])


# ---------------------------------------------------------------------- from a link
@pytest.fixture
def walked(monkeypatch):
    """Every folder any os.walk in the data module lists."""
    seen: list[str] = []
    real_walk = os.walk

    def spy(top, *args, **kwargs):
        for entry in real_walk(top, *args, **kwargs):
            seen.append(entry[0])
            yield entry

    monkeypatch.setattr(folders.os, "walk", spy)
    return seen


def test_a_link_naming_a_server_folder_loads_nothing(monkeypatch, walked):
    from pages.ui import common as ui

    monkeypatch.delenv(roots.DATA_ROOTS_ENV, raising=False)
    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params["dataset"] = "folder"
    at.query_params["data_folder"] = "/usr/share"
    at.query_params["arch"] = "dcgan"
    at.run()
    assert not at.exception
    start = next(b for b in at.button if "Start" in b.label)
    try:
        assert start.disabled, "the page refuses the folder before anything is started"
        assert slot.run is None, "no run was started"
        errors = " ".join(shown(e.value) for e in at.error)
        assert "data_folder" in errors and roots.DATA_ROOTS_ENV in errors
        assert walked == [], "no folder was listed"
    finally:
        slot.stop()


def test_resuming_a_folder_run_follows_the_same_rule(tmp_path, monkeypatch, walked):
    from pages.ui import common as ui
    from playground.storage.checkpoints import save_checkpoint
    from playground.training.trainer import Trainer

    pictures = _images(tmp_path / "pictures", 4)
    cfg = GANConfig(dataset="folder", data_folder=str(pictures), arch="dcgan", image_size=28,
                    width=8, latent_dim=8, batch_size=4, steps=3, device="cpu").validate()
    folder = save_checkpoint(Trainer(cfg), tmp_path / "checkpoints" / "runs" / "mine")
    walked.clear()
    monkeypatch.delenv(roots.DATA_ROOTS_ENV, raising=False)
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "checkpoints" / "runs")
    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60).run()
    at.button(key=f"runs.resume.{folder}").click().run()
    assert not at.exception
    assert slot.run is None and walked == []
    assert any("data_folder" in shown(e.value) for e in at.error)


# ---------------------------------------------------------------------- the walk
def test_the_walk_stops_at_the_image_cap(tmp_path, walked):
    top = tmp_path / "tree"
    for name in ("a", "b", "c"):
        _images(top / name, 3)
    cfg = GANConfig(dataset="folder", data_folder=str(top), image_size=28)
    source = load_dataset(cfg, max_images=2)
    assert len(source) == 2 and any("cap of 2" in note for note in source.notes)
    assert walked == [str(top), str(top / "a")], "folders past the cap were never listed"


def test_the_walk_has_an_entry_cap(tmp_path, monkeypatch):
    folder = tmp_path / "many"
    _images(folder, 2)
    for i in range(10):
        (folder / f"note-{i}.txt").write_text("x")
    monkeypatch.setattr(folders, "MAX_FOLDER_ENTRIES", 5)
    with pytest.raises(DatasetUnavailable):
        load_dataset(GANConfig(dataset="folder", data_folder=str(folder), image_size=28))
