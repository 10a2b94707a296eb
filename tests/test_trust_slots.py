"""The every-loss run (Diagnostics page) takes a server-wide training slot like any run."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TIMEOUT, wait_for
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import every_loss as every_loss_ui
from playground.runs import capacity
from playground.runs.capacity import RunSlots
from playground.runs.runner import Run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def page(monkeypatch, tmp_path):
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    session = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: session)
    multi = ui.RunSlot()
    monkeypatch.setattr(every_loss_ui, "multi_slot", lambda: multi)
    slots = RunSlots(limit=1)
    monkeypatch.setattr(capacity, "SLOTS", slots)
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120).run()
    yield at, multi, slots
    multi.replace(None)
    session.stop()


def test_the_every_loss_run_is_refused_when_the_server_is_full(page, tiny_cfg):
    at, multi, slots = page
    other = Run(tiny_cfg(steps=10_000_000))
    assert slots.try_start(other)
    try:
        at.button(key="diag.multi.start").click().run()
        assert not at.exception
        assert multi.run is None, "no every-loss run past the cap"
        assert slots.status().active == 1
        assert any("All 1 training slots" in e.value for e in at.error)
    finally:
        other.stop(wait=TIMEOUT)


def test_the_every_loss_run_holds_a_slot_while_it_trains(page, tiny_cfg):
    at, multi, slots = page
    at.button(key="diag.multi.start").click().run()
    assert not at.exception and multi.run is not None and multi.run.alive
    assert slots.status().active == 1, "the every-loss run counts against the cap"
    assert not slots.try_start(Run(tiny_cfg())), "and a second run is refused"
    multi.run.stop(wait=TIMEOUT)
    wait_for(lambda: slots.status().active == 0, "the slot to free")
