"""AppTest for the Diagnostics page (pages/diagnostics.py) on a 2D and a digits checkpoint made
with the command line, the compare view, the session's live run, and the Train page's gauges.
AppTest never fires run_every: call .run() again to redraw."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli_train, install_checkpoints, wait_for
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import diagnostics as diagnostics_ui
from pages.ui import every_loss as every_loss_ui
from pages.ui.gauges import verdict_text
from playground.runs.runner import Run
from playground.settings.fields import LOSSES

ROOT = Path(__file__).resolve().parent.parent


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / name), default_timeout=120)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diag-made")
    return {
        "ring": cli_train(
            root / "ring", "--preset", "ring8-collapse", "--steps", "60",
            "--set", "batch_size=32", "--set", "eval_every=20",
        ),
        "digits": cli_train(
            root / "digits", "--preset", "digits-dcgan", "--steps", "6", "--set", "width=8",
            "--set", "batch_size=16", "--set", "eval_every=3",
        ),
    }


@pytest.fixture
def checkpoints(made, tmp_path, monkeypatch) -> dict[str, Path]:
    layout = {"ring": "runs/ring-collapse", "digits": "runs/my-digits"}
    return install_checkpoints(made, tmp_path / "checkpoints", layout, monkeypatch)


def metric_labels(at: AppTest) -> list[str]:
    return [m.label for m in at.metric]


def chart_count(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def open_source(at: AppTest, key: str, samples: int) -> AppTest:
    at.selectbox(key="diag.source").set_value(key).run()
    at.select_slider(key="diag.samples").set_value(samples).run()
    return at


def test_a_2d_checkpoint_shows_modes_timeline_and_density(checkpoints, fresh_slot):
    at = page("diagnostics.py").run()
    assert not at.exception
    at = open_source(at, str(checkpoints["ring"]), 500)
    assert not at.exception
    labels = metric_labels(at)
    for wanted in ("Modes held", "Modes covered", "High quality", "Reverse KL"):
        assert wanted in labels
    assert "Classes covered" not in labels
    held = next(m for m in at.metric if m.label == "Modes held")
    assert held.value.endswith("/8")
    # timeline, coverage over time, quality over time, density, mode shares
    assert chart_count(at) >= 5
    text = " ".join(e.value for e in at.markdown)
    assert "Reverse KL" in text  # the explanations
    assert at.error or at.warning or at.success  # the verdict


def test_a_digits_checkpoint_shows_classes_histogram_and_sorted_grid(checkpoints, fresh_slot):
    at = page("diagnostics.py").run()
    at = open_source(at, str(checkpoints["digits"]), 250)
    assert not at.exception
    labels = metric_labels(at)
    for wanted in ("Classes covered", "Classes held", "Precision", "Recall", "Density",
                   "Coverage", "Diversity", "Near-duplicates"):
        assert wanted in labels, wanted
    covered = next(m for m in at.metric if m.label == "Classes covered")
    assert covered.value.endswith("/10")
    assert len(at.image) >= 1  # the grid sorted by predicted class
    assert chart_count(at) >= 2  # class shares + timeline


def test_compare_two_checkpoints_side_by_side(checkpoints, fresh_slot):
    at = page("diagnostics.py").run()
    at.multiselect(key="diag.compare").set_value(
        [str(checkpoints["ring"]), str(checkpoints["digits"])]
    ).run()
    assert not at.exception
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) >= 3  # G loss, D loss, a measure over time (plus the first tab's charts)
    assert at.selectbox(key="diag.cmp.measure").value in diagnostics_ui.SERIES_ORDER
    assert len(at.image) >= 2  # the two grids side by side


def test_no_checkpoints_and_no_run_says_what_to_do(tmp_path, monkeypatch, fresh_slot):
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    at = page("diagnostics.py").run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_the_sessions_run_is_measured_live(tiny_cfg, fresh_slot, tmp_path, monkeypatch):
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    run = Run(tiny_cfg(steps=40, eval_every=10))
    fresh_slot.replace(run)
    run.start()
    assert run.join(60)
    at = page("diagnostics.py").run()
    assert at.selectbox(key="diag.source").value == diagnostics_ui.CURRENT
    at.select_slider(key="diag.samples").set_value(250).run()
    assert not at.exception
    assert "Modes held" in metric_labels(at)
    assert chart_count(at) >= 3


def test_train_page_shows_live_gauges(tiny_cfg, fresh_slot):
    run = Run(tiny_cfg(steps=40, eval_every=10))
    fresh_slot.replace(run)
    run.start()
    assert run.join(60)
    at = page("train.py").run()
    assert not at.exception
    assert "Modes held" in metric_labels(at)
    assert any(c.proto.id and "live_chart" in c.proto.id for c in at.get("plotly_chart"))


def test_every_loss_button_starts_a_batched_run(monkeypatch, tmp_path, fresh_slot):
    pytest.importorskip("playground.training.multirun")
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    slot = ui.RunSlot()
    monkeypatch.setattr(every_loss_ui, "multi_slot", lambda: slot)
    at = page("diagnostics.py").run()
    at.button(key="diag.multi.start").click().run()
    try:
        assert not at.exception
        assert slot.run is not None
        losses = [cfg.loss for cfg in slot.run.configs]
        assert losses == list(LOSSES), "every loss in the registry, once each"
    finally:
        slot.replace(None)


@pytest.mark.parametrize(
    "held, covered, good, kind, opening",
    [
        (1, 2, 0.97, "error", "**Mode collapse:** only 1 of 8 modes held"),
        (0, 0, 0.0, "error", "**Off the data:** only 0% of the samples are near a mode"),
        (6, 8, 0.9, "warning", "**Partial coverage:** 6 of 8 modes held"),
        (8, 8, 0.95, "success", "**All 8 modes held.**"),
    ],
)
def test_the_verdict_calls_collapse_only_what_sits_on_few_modes(held, covered, good, kind,
                                                                  opening):
    """Samples mostly off every mode (lesson 4's circling run: 0% near a mode) are not called
    a mode collapse; few modes held by samples on the data are."""
    found_kind, text = verdict_text("modes", 8, held, covered, good)
    assert found_kind == kind and text.startswith(opening), text


def test_a_live_change_shows_on_the_diagnostics_page(tiny_cfg, fresh_slot, tmp_path, monkeypatch):
    """The session's run is described with the settings it trains with now: a learning rate
    changed live shows, on the page opened before the change and on a fresh one."""
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    run = Run(tiny_cfg(steps=10**6, eval_every=10, lr_g=2e-4))
    fresh_slot.replace(run)
    run.start()
    wait_for(lambda: run.snapshot().step > 20, "some steps")
    def captions(at) -> list[str]:  # as read: without the escapes that keep it plain text
        return [c.value.replace("\u2060", "").replace("\\", "") for c in at.caption]

    at = page("diagnostics.py").run()
    assert any("lr 0.0002/" in c for c in captions(at)), captions(at)
    run.set_hyper(lr_g=7e-4)
    wait_for(lambda: run.snapshot().config.lr_g == 7e-4, "the change to apply")
    for shown in (at.run(), page("diagnostics.py").run()):
        assert not shown.exception
        now = captions(shown)
        assert any("lr 0.0007/" in c for c in now), now
        assert not any("lr 0.0002/" in c for c in now), now
