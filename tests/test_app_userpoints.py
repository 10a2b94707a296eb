"""AppTest for your own 2D points on the Train page: pick the dataset, upload a CSV (good and
bad), use the example drawing, start a run and see the measures that need no modes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from helpers import shown
from streamlit.testing.v1 import AppTest

from playground.data import userpoints

ROOT = Path(__file__).resolve().parent.parent


def own_points_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    at.sidebar.selectbox(key="cfg.dataset").set_value("own-points").run()
    assert not at.exception
    return at


def start(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Start")


def test_choosing_the_dataset_shows_draw_and_upload_and_asks_for_points(fresh_slot):
    at = own_points_page()
    assert [t.label for t in at.tabs] == ["Draw", "Upload a CSV"]
    assert at.get("file_uploader")
    assert any(b.label == "Example CSV" for b in at.get("download_button"))
    assert "points_file" in " ".join(e.value for e in at.error)
    assert start(at).disabled


def test_a_link_to_own_points_uses_its_settings_and_asks_for_the_points(fresh_slot):
    """A link cannot carry the points: its other settings fill the sidebar, the page asks for
    the points (it used to refuse the whole link); anything else invalid is still refused."""
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params["dataset"] = "own-points"
    at.query_params["steps"] = "700"
    at.run()
    assert not at.exception and not at.warning
    assert at.session_state["cfg.dataset"] == "own-points"
    assert at.session_state["cfg.steps"] == 700
    assert any("your own data" in i.value for i in at.info)
    assert [t.label for t in at.tabs] == ["Draw", "Upload a CSV"]
    assert start(at).disabled
    bad = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    bad.query_params["dataset"] = "own-points"
    bad.query_params["steps"] = "-3"
    bad.run()
    assert any("steps" in w.value for w in bad.warning)
    assert bad.session_state["cfg.steps"] != -3


def test_a_bad_csv_gets_one_line_and_no_traceback(fresh_slot):
    at = own_points_page()
    at.get("file_uploader")[0].set_value(("p.csv", b"x,y\n=HYPERLINK(1),2\n", "text/csv")).run()
    assert not at.exception
    # As a person sees it: the escapes and word joiners (userdata_ui.plain) are invisible.
    errors = [e.value.replace("\\", "").replace("\u2060", "") for e in at.error]
    assert any("This file cannot be used: line 2: x value '=HYPERLINK(1)' is not a number" in e
               for e in errors)
    assert start(at).disabled


def test_a_typed_path_outside_the_session_is_refused(fresh_slot, monkeypatch):
    monkeypatch.delenv("GAN_PLAYGROUND_DATA_ROOTS", raising=False)
    at = own_points_page()
    at.sidebar.text_input(key="cfg.points_file").set_value("/etc/passwd").run()
    assert not at.exception
    errors = [shown(e.value) for e in at.error]
    assert any(e.startswith("Fix this setting to start: points_file:") for e in errors)
    assert start(at).disabled


def test_the_example_drawing_becomes_the_points_file(fresh_slot):
    at = own_points_page()
    next(b for b in at.button if b.label == "Example").click().run()
    assert not at.exception
    assert any("600 points drawn" in m.value for m in at.markdown)
    path = at.session_state["cfg.points_file"]
    assert Path(path).name.startswith("points-") and len(userpoints.read_points_file(path)) == 600
    assert not start(at).disabled
    next(b for b in at.button if b.label == "Undo").click().run()
    assert any("0 points drawn" in m.value for m in at.markdown)


def test_an_uploaded_csv_trains_with_the_point_measures(fresh_slot):
    at = own_points_page()
    csv = userpoints.example_csv().encode()
    at.get("file_uploader")[0].set_value(("smiley.csv", csv, "text/csv")).run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("Read 600 points; centred") for s in at.success)
    at.sidebar.number_input(key="cfg.steps").set_value(200).run()
    at.sidebar.number_input(key="cfg.eval_every").set_value(50).run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(64).run()
    start(at).click().run()
    assert fresh_slot.run is not None
    deadline = time.monotonic() + 90
    labels: list[str] = []
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        labels = [m.label for m in at.metric]
        if "JS (grid)" in labels:
            break
    assert not at.exception
    for wanted in ("Precision", "Recall", "KL (grid)", "JS (grid)"):
        assert wanted in labels
    assert "Modes held" not in labels
    assert fresh_slot.run.snapshot().config.dataset == "own-points"


# ---------------------------------------------------------------------- a saved run
@pytest.fixture
def saved_run(tmp_path, monkeypatch):
    """A checkpoint trained with the command line on a CSV of points, the CSV deleted after."""
    from helpers import cli_train, install_checkpoints

    csv = tmp_path / "smiley.csv"
    csv.write_text(userpoints.example_csv())
    made = cli_train(
        tmp_path / "made", "--set", "dataset=own-points", "--set", f"points_file={csv}",
        "--steps", "60", "--set", "batch_size=32", "--set", "eval_every=20",
    )
    csv.unlink()
    return install_checkpoints({"run": made}, tmp_path / "checkpoints", {"run": "runs/mine"},
                               monkeypatch)["run"]


def test_diagnostics_measure_a_saved_run_on_its_own_points(saved_run, fresh_slot):
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120).run()
    at.selectbox(key="diag.source").set_value(str(saved_run)).run()
    at.select_slider(key="diag.samples").set_value(500).run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    for wanted in ("Precision", "Recall", "KL (grid)", "JS (grid)"):
        assert labels.count(wanted) == 1, wanted
    assert "Modes held" not in labels
    assert "has no separate modes" not in " ".join(i.value for i in at.info)
    assert at.get("plotly_chart")  # the timeline and the real-against-generated density


def test_the_command_line_diagnoses_a_saved_run_on_its_own_points(saved_run, capsys):
    from playground.cli import main as cli

    assert cli(["diagnose", str(saved_run), "--samples", "300"]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "JS (grid)" in out


def test_the_explorer_shows_a_saved_run_with_its_own_points(saved_run):
    at = AppTest.from_file(str(ROOT / "pages" / "explore.py"), default_timeout=60)
    at.session_state["explore_source"] = str(saved_run)
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="explore.source").value == str(saved_run)
    traces = [t for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]]
    real = [t for t in traces if t.get("name") == "real"]
    # The picture draws the real points: the checkpoint's own, since the CSV is gone.
    assert real and len(real[0]["x"]) > 0


def test_a_file_cannot_put_markdown_or_html_on_the_page(fresh_slot):
    """The page's messages are markdown and chart titles take HTML: a value or a file name from
    the file is shown as text, never as a link or an image fetched from elsewhere."""
    at = own_points_page()
    image = b"x,y\n![](http://a.bc/d.png),1\n"
    at.get("file_uploader")[0].set_value(("p.csv", image, "text/csv")).run()
    message = next(e.value for e in at.error if "cannot be used" in e.value)
    assert "![](" not in message and "](http" not in message
    assert "\\!\\[\\]\\(http\u2060\\:" in message  # as typed, escaped, no address

    name = '<a href="http://evil.example">x</a>.csv'
    at.get("file_uploader")[0].set_value((name, userpoints.example_csv().encode(), "text/csv"))
    at.run()
    assert not at.exception
    titles = [json.dumps(json.loads(c.proto.spec)["layout"].get("title"))
              for c in at.get("plotly_chart")]
    assert titles and not any("evil" in t for t in titles)
    named = [m.value for m in list(at.caption) + list(at.markdown) if "evil" in m.value]
    assert named  # the preview says where its points came from
    assert all(re.search(r"(?<!\\)[<:(\[]", t) is None for t in named)  # each one escaped


def test_resuming_a_saved_run_gives_this_session_its_points(saved_run, tmp_path):
    """The Runs page's Resume: the run's points (from its checkpoint; the CSV is gone) are
    copied into this session's space and named in the settings the Train page receives."""
    import torch

    from pages.ui import common as ui
    from playground.storage import store
    from playground.storage.checkpoints import read_meta, saved_points

    token = "the-owner-token-of-this-session"
    store.claim_run(saved_run, token)
    site = tmp_path / "site"
    (site / "pages").mkdir(parents=True)
    (site / "router.py").write_text(
        "import streamlit as st\n"
        "st.navigation([st.Page('pages/runs.py', default=True),"
        " st.Page('pages/train.py')]).run()\n")
    (site / "pages" / "train.py").write_text(
        "import streamlit as st\nfrom pages.ui import common as ui\nui.run_slot().replace(None)\n")
    (site / "pages" / "runs.py").symlink_to(ROOT / "pages" / "runs.py")
    at = AppTest.from_file(str(site / "router.py"), default_timeout=60)
    at.session_state[ui.OWNER_KEY] = token
    at.run()
    at.button(key=f"runs.resume.{saved_run}").click().run()
    assert not at.exception
    config, _ = at.session_state["train.pending_config"]
    assert config["dataset"] == "own-points"
    here = userpoints.read_points_file(config["points_file"]).points
    saved = saved_points(saved_run, read_meta(saved_run))
    assert torch.equal(torch.as_tensor(here, dtype=torch.float32), saved)
