"""AppTest: slow motion on a lesson's paused run (the Lessons page shares the Train page's
slow-motion panel). AppTest never fires run_every: call .run() again to redraw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import lesson_slots, wait_for
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
LONG = dict(steps=100_000, log_every=1, sample_every=50, eval_every=0, hidden=16, batch_size=32)


@pytest.fixture
def slot(monkeypatch):
    """A fresh run slot, and lessons shrunk to tiny models that train until stopped."""
    with lesson_slots(monkeypatch, LONG) as (slot, _multi):
        yield slot


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


SLOWMO_MAPS = ("D's map before", "D's map after", "Before: each fake's arrow", "After: where")


def _legends(at: AppTest) -> list[str]:
    """The titles of the colour bars that slow motion's D maps (before and after) show."""
    found = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = (spec["layout"].get("title") or {}).get("text", "")
        if not title.startswith(SLOWMO_MAPS):
            continue
        for trace in spec["data"]:
            if trace.get("type") == "heatmap" and trace.get("showscale", True):
                found.append(trace.get("colorbar", {}).get("title", {}).get("text", ""))
    return found


def _colour_key(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Colours of D's maps: blue where D "
                                                               "says real (up to ")]


def test_a_lessons_paused_run_plays_in_slow_motion(slot):
    at = AppTest.from_file(str(ROOT / "pages" / "lessons.py"), default_timeout=60).run()
    _button(at, "lessons.start.game").click().run()
    run = slot.run
    wait_for(lambda: run.snapshot().latest is not None, "the first picture")
    at.run()
    assert any("Pause the run" in c.value for c in at.caption)
    _button(at, "lessons.pause").click().run()
    wait_for(lambda: run.snapshot().status == "paused", "the run to pause")
    at.run()
    before = run.snapshot().step
    _button(at, "lessons.slowmo.next").click().run()
    assert not at.exception
    assert run.snapshot().step == before  # D's phase is the first half of one step
    assert run.snapshot().manual_steps >= 1
    assert any(r"\boxed" in x.value for x in at.latex)
    assert _legends(at) == [] and _colour_key(at), "D's maps say in words what colours mean"
    assert _button(at, "lessons.slowmo.next").label == "Next phase: G's update"
    _button(at, "lessons.slowmo.next").click().run()
    assert run.snapshot().step == before + 1 and not at.exception
    assert _colour_key(at)
