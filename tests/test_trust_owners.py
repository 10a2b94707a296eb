"""A session may delete only the runs it saved: two sessions on one server, each saving a run
from the Train page, each seeing the other's run read-only on the Runs page."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TIMEOUT, wait_for
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from playground.storage import store
from playground.storage.checkpoints import META, save_checkpoint
from playground.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------- the engine
@pytest.fixture
def saved(tmp_path, tiny_cfg) -> Path:
    trainer = Trainer(tiny_cfg(steps=2))
    trainer.train_step()
    return save_checkpoint(trainer, tmp_path / "runs" / "a-run")


def test_only_the_claiming_token_deletes(saved):
    runs = saved.parent
    mine, theirs = store.new_owner_token(), store.new_owner_token()
    assert mine != theirs
    store.claim_run(saved, mine)
    assert mine not in (saved / store.OWNER_FILE).read_text(), "only a hash is stored"
    assert store.owns_run(saved, mine) and not store.owns_run(saved, theirs)
    with pytest.raises(ValueError, match="another session"):
        store.delete_user_run(saved, runs, owner=theirs)
    with pytest.raises(ValueError):
        store.delete_user_run(saved, runs, owner="")
    assert (saved / META).is_file()
    store.delete_user_run(saved, runs, owner=mine)
    assert not saved.exists()


@pytest.mark.parametrize("content", [None, "", "not json", "[1, 2]", '{"owner_sha256": 5}'])
def test_a_run_without_a_valid_owner_belongs_to_no_session(saved, content):
    if content is not None:
        (saved / store.OWNER_FILE).write_text(content)
    token = store.new_owner_token()
    assert not store.owns_run(saved, token)
    with pytest.raises(ValueError):
        store.delete_user_run(saved, saved.parent, owner=token)
    assert (saved / META).is_file()


def test_the_owner_file_is_not_in_a_download(saved):
    import io
    import zipfile

    store.claim_run(saved, store.new_owner_token())
    with zipfile.ZipFile(io.BytesIO(store.zip_checkpoint(saved))) as archive:
        assert store.OWNER_FILE not in archive.namelist()


# ---------------------------------------------------------------------- two sessions
@pytest.fixture
def server(tmp_path, monkeypatch):
    """The pages pointed at an empty checkpoints folder; each AppTest is one session."""
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "checkpoints" / "runs")
    monkeypatch.setattr(ui, "ROOT", tmp_path)
    return tmp_path / "checkpoints" / "runs"


def _session_saves_a_run(server, tiny_cfg, monkeypatch) -> tuple[AppTest, Path]:
    """One session: the Train page with a paused run that has stepped, then Save."""
    from playground.runs.runner import Run

    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    run = Run(tiny_cfg(steps=100))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    slot.replace(run)
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120).run()
    before = set(server.iterdir()) if server.is_dir() else set()
    save = next(b for b in at.button if "Save" in b.label)
    save.click().run()
    assert not at.exception and not at.error
    (saved,) = set(server.iterdir()) - before
    run.stop(wait=TIMEOUT)
    return at, saved


def _runs_page(token: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=120)
    at.session_state[ui.OWNER_KEY] = token
    return at.run()


def test_two_sessions_each_delete_only_their_own_run(server, tiny_cfg, monkeypatch):
    first, first_run = _session_saves_a_run(server, tiny_cfg, monkeypatch)
    second, second_run = _session_saves_a_run(server, tiny_cfg, monkeypatch)
    assert first_run != second_run and (first_run / META).is_file()
    tokens = first.session_state[ui.OWNER_KEY], second.session_state[ui.OWNER_KEY]
    assert tokens[0] != tokens[1]

    page = _runs_page(tokens[0])
    assert not page.exception
    headings = [s.value for s in page.header]
    assert headings == ["Your runs (1)", "Saved by others (1)"]
    deletes = [b.key for b in page.button if b.key and b.key.startswith("runs.delete.")]
    assert deletes == [f"runs.delete.{first_run}"], "a delete button for its own run only"
    assert not [c for c in page.checkbox if c.key == f"runs.sure.{second_run}"]

    page.checkbox(key=f"runs.sure.{first_run}").check().run()
    page.button(key=f"runs.delete.{first_run}").click().run()
    assert not page.exception
    assert not first_run.exists() and (second_run / META).is_file()

    other = _runs_page(tokens[1])
    assert [s.value for s in other.header] == ["Your runs (1)"]
    with pytest.raises(ValueError):  # the engine refuses too, whatever a page shows
        store.delete_user_run(second_run, server, owner=tokens[0])
    assert (second_run / META).is_file()
