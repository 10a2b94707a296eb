"""AppTest: the Diagnostics page's PacGAN table for saved runs. Runs that differ only in their
seed are averaged into one row, beside PacGAN's published rows, one table per dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli_train, install_checkpoints
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui

ROOT = Path(__file__).resolve().parent.parent
TINY = ("--steps", "20", "--set", "batch_size=32")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pacgan-made")
    return {
        "ring-a": cli_train(root / "a", "--preset", "ring8-stable", *TINY, "--seed", "1"),
        "ring-b": cli_train(root / "b", "--preset", "ring8-stable", *TINY, "--seed", "2"),
        "ring-pack": cli_train(
            root / "p", "--preset", "ring8-stable", *TINY, "--set", "pack=2"
        ),
        "grid": cli_train(root / "g", "--preset", "grid25-stable", *TINY),
    }


@pytest.fixture
def checkpoints(made, tmp_path, monkeypatch) -> dict[str, Path]:
    layout = {name: f"runs/{name}" for name in made}
    paths = install_checkpoints(made, tmp_path / "checkpoints", layout, monkeypatch)
    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    return paths


def test_saved_runs_make_pacgans_table_with_seeds_averaged(checkpoints):
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120).run()
    assert not at.exception
    at.multiselect(key="diag.pacgan").set_value([str(p) for p in checkpoints.values()]).run()
    assert not at.exception
    ring, grid = (t.value for t in at.dataframe)
    ring_rows = list(ring["row"])
    assert ring_rows[:5] == [f"{n} (published)" for n in ("GAN", "ALI", "PacGAN2", "PacGAN3",
                                                         "PacGAN4")]
    assert len(ring_rows) == 7  # the two seeds of ring8-stable are one row, the packed run one
    seeds = dict(zip(ring["row"], ring["seeds"], strict=True))
    averaged = [r for r in ring_rows if "+ 1 more seed" in r]
    assert len(averaged) == 1 and seeds[averaged[0]] == "2"
    assert "±" in ring.loc[ring["row"] == averaged[0], "high quality"].iloc[0]
    assert len(grid) == 6 and list(grid["seeds"])[-1] == "1"
