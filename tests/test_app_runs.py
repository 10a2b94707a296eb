"""AppTest for the Runs page (pages/runs.py): listing, deleting (own runs only), downloading,
and the Explore / Resume buttons that switch pages.

Switching pages needs st.navigation, so the tests run a small router from a temporary folder
whose `pages/runs.py` and `pages/explore.py` are links to the real pages and whose
`pages/train.py` is a stub that records what the Train page would receive."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from helpers import install_checkpoints, shown, small_checkpoints
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import explore as explore_ui
from playground.storage import store

PAGES = Path(__file__).resolve().parent.parent / "pages"
TOKEN = "the-owner-token-of-the-session-under-test"
ROUTER = """
import streamlit as st

st.navigation([
    st.Page("pages/runs.py", title="Runs", url_path="runs", default=True),
    st.Page("pages/explore.py", title="Explore", url_path="explore"),
    st.Page("pages/train.py", title="Train", url_path="train"),
]).run()
"""
TRAIN_STUB = """
import streamlit as st
from pages.ui import common as ui

run = ui.run_slot().run
st.session_state["train.seen"] = None if run is None else (
    run.status, run.trainer.step, run.trainer.cfg.dataset, run.trainer.cfg.steps)
if st.session_state.get("train.stop"):
    ui.run_slot().replace(None)
st.write("train stub")
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    return small_checkpoints(tmp_path_factory.mktemp("runs-made"))


@pytest.fixture
def checkpoints(made, tmp_path, monkeypatch) -> dict[str, Path]:
    """A shipped example (ring) and a user run (digits), with the pages pointed at them."""
    layout = {"ring": "examples/ring8-demo", "digits": "runs/my-digits"}
    paths = install_checkpoints(made, tmp_path / "checkpoints", layout, monkeypatch)
    store.claim_run(paths["digits"], TOKEN)  # saved by the session the `app` fixture plays
    return paths


@pytest.fixture
def app(tmp_path) -> AppTest:
    site = tmp_path / "site"
    (site / "pages").mkdir(parents=True)
    (site / "router.py").write_text(ROUTER)
    (site / "pages" / "train.py").write_text(TRAIN_STUB)
    for name in ("runs.py", "explore.py"):
        (site / "pages" / name).symlink_to(PAGES / name)
    at = AppTest.from_file(str(site / "router.py"), default_timeout=60)
    at.session_state[ui.OWNER_KEY] = TOKEN
    return at


def buttons(at: AppTest, prefix: str):
    return [b for b in at.button if b.key and b.key.startswith(prefix)]


def test_lists_every_checkpoint_with_preview_and_metrics(checkpoints, app):
    at = app.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "my-digits" in text and "ring8-demo" in text
    assert "modes held" in text  # the ring's metrics from its metadata
    assert "reverse KL" in text and "reverse_kl" not in text  # a measure's name, not its key
    assert len(at.image) == 2  # one thumbnail each
    assert [s.value for s in at.header] == ["Your runs (1)", "Examples (1)"]
    assert len(buttons(at, "runs.explore.")) == 2
    assert len(buttons(at, "runs.resume.")) == 2
    assert len(at.get("download_button")) == 2


def test_delete_only_for_user_runs_and_only_when_confirmed(checkpoints, app):
    at = app.run()
    deletes = buttons(at, "runs.delete.")
    assert [b.key for b in deletes] == [f"runs.delete.{checkpoints['digits']}"]
    assert deletes[0].disabled
    at.checkbox(key=f"runs.sure.{checkpoints['digits']}").check().run()
    at.button(key=f"runs.delete.{checkpoints['digits']}").click().run()
    assert not at.exception
    assert not checkpoints["digits"].exists()
    assert checkpoints["ring"].exists()
    assert any("Deleted my-digits" in shown(s.value) for s in at.success)
    assert not buttons(at, "runs.delete.")


def test_delete_refuses_anything_outside_user_runs(checkpoints, tmp_path):
    with pytest.raises(ValueError):
        store.delete_user_run(checkpoints["ring"], ui.USER_RUNS, owner=TOKEN)
    with pytest.raises(ValueError):
        store.delete_user_run(ui.USER_RUNS, ui.USER_RUNS, owner=TOKEN)
    with pytest.raises(ValueError):
        store.delete_user_run(
            ui.USER_RUNS / ".." / "examples" / "ring8-demo", ui.USER_RUNS, owner=TOKEN
        )
    escape = ui.USER_RUNS / "link"
    escape.symlink_to(checkpoints["ring"])
    with pytest.raises(ValueError):
        store.delete_user_run(escape, ui.USER_RUNS, owner=TOKEN)
    assert (checkpoints["ring"] / "checkpoint.json").exists()
    assert not store.is_user_run(checkpoints["ring"], ui.USER_RUNS)
    assert store.is_user_run(checkpoints["digits"], ui.USER_RUNS)


def test_zip_holds_the_checkpoint_files(checkpoints):
    data = store.zip_checkpoint(checkpoints["digits"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
    on_disk = checkpoints["digits"].iterdir()
    assert names == sorted(p.name for p in on_disk if p.name != store.OWNER_FILE)


def test_explore_button_opens_the_explorer_on_that_run(checkpoints, app):
    at = app.run()
    at.button(key=f"runs.explore.{checkpoints['ring']}").click().run()
    assert not at.exception
    assert at.selectbox(key="explore.source").value == str(checkpoints["ring"])
    assert len(at.get("plotly_chart")) == 2


def test_resume_loads_a_paused_run_and_opens_train(checkpoints, app):
    at = app.run()
    at.button(key=f"runs.resume.{checkpoints['digits']}").click().run()
    assert not at.exception
    status, step, dataset, steps = at.session_state["train.seen"]
    assert (step, dataset) == (5, "digits")
    assert status in ("starting", "paused")
    assert steps > step  # a finished run is given more steps to train
    # The explorer now offers the live run first.
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    assert at.selectbox(key="explore.source").value == explore_ui.CURRENT_RUN
    assert len(at.image) == 2
    at.session_state["train.stop"] = True
    at.switch_page("pages/train.py").run()


def test_no_checkpoints_points_to_the_train_page(tmp_path, monkeypatch, app):
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    at = app.run()
    assert not at.exception
    assert "Train" in at.info[0].value
    assert at.get("page_link")
