"""The Diagnostics page in Chinese: no English left at rest, on a saved run of each kind, in the
comparison of runs, and in the diagnosis of your own samples (images and points)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import install_checkpoints, small_checkpoints
from streamlit.testing.v1 import AppTest
from test_i18n import ROOT, RUNS_NAMES, _english_left

from pages.ui import brought as brought_ui
from playground.data.brought import BroughtError
from playground.data.registry import points_source
from playground.measures.brought import diagnose_path
from playground.storage.diagnosis_report import html_report


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    return small_checkpoints(tmp_path_factory.mktemp("i18n-diag-runs"))


def _diagnostics(tmp_path, monkeypatch, saved=None, layout=None) -> tuple[AppTest, dict]:
    paths = {}
    if saved is None:
        from pages.ui import common as ui

        monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "checkpoints")
        monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "checkpoints" / "runs")
    else:
        paths = install_checkpoints(saved, tmp_path / "checkpoints", layout, monkeypatch)
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    return at, paths


def _left(at: AppTest) -> dict[str, list[str]]:
    """English words left, the checkpoints' folder names (shown in each run's name) aside."""
    left = {t: [w for w in words if w not in RUNS_NAMES] for t, words in _english_left(at).items()}
    return {t: words for t, words in left.items() if words}


def test_the_diagnostics_page_with_nothing_saved_in_chinese_has_no_english_left(
    tmp_path, monkeypatch, fresh_slot
):
    at, _ = _diagnostics(tmp_path, monkeypatch)
    at.run()
    assert not at.exception
    assert at.title[0].value == "诊断"
    assert [t.label for t in at.tabs][:3] == ["单个模型", "比较模型", "你自己的样本"]
    assert _left(at) == {}


@pytest.mark.parametrize("which", ["digits", "ring"])
def test_the_diagnostics_page_on_a_saved_run_in_chinese_has_no_english_left(
    which, saved_run, tmp_path, monkeypatch, fresh_slot
):
    layout = {"ring": "examples/ring8-stable", "digits": "runs/digits-dcgan"}
    at, paths = _diagnostics(tmp_path, monkeypatch, saved_run, layout)
    at.session_state["diagnose_source"] = str(paths[which])  # another page's "diagnose this"
    at.session_state["diag.compare"] = [str(p) for p in paths.values()]
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 3, "the measures' and the comparison's charts"
    assert _left(at) == {}


def _brought(tmp_path, kind: str) -> dict:
    """A diagnosis of samples brought from elsewhere, as the tab keeps it in the session."""
    if kind == "images":
        rng = np.random.default_rng(0)
        samples = rng.integers(0, 256, (200, 8, 8), dtype=np.uint8)
        path = tmp_path / "samples.npy"
        np.save(path, samples)
        found = diagnose_path(path, "digits")
    else:
        path = tmp_path / "points.npy"
        np.save(path, points_source("ring8").numpy_sample(500, seed=1))
        found = diagnose_path(path, "ring8")
    return {"name": path.name, "diagnosis": found, "html": html_report(found, path.name).encode()}


@pytest.mark.parametrize("kind", ["images", "points"])
def test_a_diagnosis_of_your_own_samples_in_chinese_has_no_english_left(
    kind, tmp_path, monkeypatch, fresh_slot
):
    at, _ = _diagnostics(tmp_path, monkeypatch)
    at.session_state[brought_ui.RESULT_KEY] = _brought(tmp_path, kind)
    at.run()
    assert not at.exception
    assert any(h.value == "指标" for h in at.subheader), "the measures' heading in Chinese"
    assert _left(at) == {}


def test_a_refused_file_in_chinese_says_so_in_chinese(tmp_path, monkeypatch, fresh_slot):
    at, _ = _diagnostics(tmp_path, monkeypatch)
    broken = tmp_path / "x.npy"
    broken.write_bytes(b"not an array")  # what the page's own diagnosis refuses
    with pytest.raises(BroughtError) as refused:
        diagnose_path(broken, "digits")
    at.session_state[brought_ui.RESULT_KEY] = {"name": broken.name, "error": str(refused.value)}
    at.run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("无法诊断这个文件")


def test_every_pick_list_of_the_translated_pages_asks_in_chinese(
    saved_run, tmp_path, monkeypatch, fresh_slot
):
    """A multiselect left without a placeholder shows the browser's English "Choose options"
    (which the text walk above cannot see: it is drawn by the page's script)."""
    layout = {"ring": "examples/ring8-stable", "digits": "runs/digits-dcgan"}
    at, _ = _diagnostics(tmp_path, monkeypatch, saved_run, layout)
    at.run()
    assert not at.exception
    pick_lists = at.get("multiselect")
    assert pick_lists, "the comparison's and the PacGAN table's pick lists"
    for found in pick_lists:
        assert re.search(r"[\u4e00-\u9fff]", found.proto.placeholder), found.proto.label
