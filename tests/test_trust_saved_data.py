"""A saved run names its data (a folder, a points file); a checkpoint is a file from outside, so
what it names is read only under the app's rules: the Diagnostics page applies the Train page's
folder rule, and a run of your own points must carry them (a path it names is never read)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import cli_train, install_checkpoints, shown
from PIL import Image
from streamlit.testing.v1 import AppTest

from playground.data import userpoints
from playground.data.roots import DATA_ROOTS_ENV
from playground.latent import load_latent_model
from playground.storage.checkpoints import META, CheckpointError, load_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_a_run_of_own_points_without_them_is_refused_and_the_named_file_never_read(
    tmp_path, monkeypatch
):
    csv = tmp_path / "points.csv"
    csv.write_text(userpoints.example_csv())
    made = cli_train(
        tmp_path / "made", "--set", "dataset=own-points", "--set", f"points_file={csv}",
        "--steps", "4", "--set", "batch_size=32",
    )
    meta = json.loads((made / META).read_text())
    del meta["files"]["points"]  # as a hostile or hand-edited checkpoint could be
    (made / META).write_text(json.dumps(meta))
    opened = []
    read = userpoints.read_points_file

    def spy(path):
        opened.append(Path(path))
        return read(path)

    monkeypatch.setattr(userpoints, "read_points_file", spy)
    with pytest.raises(CheckpointError, match="own points are not in the checkpoint"):
        load_checkpoint(made, device="cpu", with_optimizers=False)
    with pytest.raises(CheckpointError, match="own points are not in the checkpoint"):
        load_latent_model(made, device="cpu")
    assert not opened, "a path named by the checkpoint was read"


@pytest.fixture
def folder_run(tmp_path, monkeypatch):
    """A checkpoint trained with the command line on a folder of pictures outside any root."""
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        picture = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(picture).save(pictures / f"{i}.png")
    made = cli_train(
        tmp_path / "made", "--set", "dataset=folder", "--set", f"data_folder={pictures}",
        "--set", "arch=dcgan", "--set", "width=8", "--set", "batch_size=4", "--steps", "2",
    )
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    run = install_checkpoints({"run": made}, tmp_path / "checkpoints", {"run": "runs/mine"},
                              monkeypatch)["run"]
    return run, pictures


def _diagnose(folder: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120).run()
    at.selectbox(key="diag.source").set_value(str(folder)).run()
    assert not at.exception
    return at


def test_diagnostics_read_a_saved_runs_folder_only_under_the_servers_roots(
    folder_run, monkeypatch
):
    run, pictures = folder_run
    at = _diagnose(run)
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "data_folder" in warnings and "does not read folders" in warnings
    assert not at.metric, "nothing measured"
    monkeypatch.setenv(DATA_ROOTS_ENV, str(pictures.parent))
    at = _diagnose(run)
    assert "data_folder" not in " ".join(w.value for w in at.warning)
    assert at.metric, "measured once the folder is under a root"
