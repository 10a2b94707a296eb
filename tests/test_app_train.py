"""AppTest for the Home and Train pages (AppTest never fires run_every: call .run() to redraw)."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)


def test_home_renders_with_starts_and_device():
    at = _page("home.py").run()
    assert not at.exception
    labels = [b.label for b in at.button]
    for wanted in ("See mode collapse", "See it fixed", "Train digits",
                   "Explore a trained generator"):
        assert wanted in labels
    assert any(r"\min_G" in x.value for x in at.latex)
    text = " ".join(m.value for m in at.markdown)
    assert "CPU" in text or "GPU" in text
    # The dataset availability table is static (the data grid drew an empty grey box).
    assert not at.dataframe
    assert "digits" in at.table[0].value.index


def test_train_page_renders_every_setting(fresh_slot):
    at = _page("train.py").run()
    assert not at.exception
    from playground.settings.config import GANConfig

    keys = {w.key for w in list(at.sidebar.selectbox) + list(at.sidebar.number_input)
            + list(at.sidebar.checkbox) + list(at.sidebar.text_input)}
    for name in GANConfig().to_dict():
        assert f"cfg.{name}" in keys, name
    assert at.latex  # the loss formula
    assert [b.label for b in at.button][:1] == ["Start"]


def test_preset_sets_every_control(fresh_slot):
    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-stable").run()
    from playground.settings.presets import preset

    cfg = preset("ring8-stable")
    for name, value in cfg.to_dict().items():
        assert at.session_state[f"cfg.{name}"] == value, name


def test_invalid_setting_shows_engine_message(fresh_slot):
    at = _page("train.py").run()
    at.sidebar.selectbox(key="cfg.loss").set_value("wgan").run()
    at.sidebar.number_input(key="cfg.label_smoothing").set_value(0.2).run()
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "label_smoothing" in messages
    start = next(b for b in at.button if b.label == "Start")
    assert start.disabled


def test_start_shows_progress_chart_and_samples(fresh_slot):
    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(64).run()
    at.sidebar.number_input(key="cfg.steps").set_value(400).run()
    next(b for b in at.button if b.label == "Start").click().run()
    assert fresh_slot.run is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        steps = [m.value for m in at.metric if m.label == "Step"]
        charts = at.get("plotly_chart")
        if steps and int(steps[0].replace(",", "")) > 0 and len(charts) >= 4:
            break
    assert not at.exception
    assert int(steps[0].replace(",", "")) > 0
    assert len(at.get("plotly_chart")) >= 4  # losses, D outputs, grad norms, points over D
    assert at.get("progress")


def test_pause_step_resume_stop(fresh_slot):
    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(32).run()
    at.sidebar.number_input(key="cfg.steps").set_value(100000).run()
    next(b for b in at.button if b.label == "Start").click().run()
    run = fresh_slot.run
    deadline = time.monotonic() + 30
    while run.snapshot().step < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    next(b for b in at.button if b.label == "Pause").click().run()
    deadline = time.monotonic() + 10
    while run.status != "paused" and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert run.status == "paused"
    before = run.snapshot().step
    next(b for b in at.button if b.label == "Step").click().run()
    assert run.snapshot().step == before + 1
    next(b for b in at.button if b.label == "D only").click().run()
    assert run.snapshot().step == before + 2
    next(b for b in at.button if b.label == "Resume").click().run()
    next(b for b in at.button if b.label == "Stop").click().run()
    assert run.join(10)
    assert run.status == "stopped"
    assert not at.exception


def test_live_learning_rate_change_reaches_the_run(fresh_slot):
    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(32).run()
    at.sidebar.number_input(key="cfg.steps").set_value(100000).run()
    next(b for b in at.button if b.label == "Start").click().run()
    run = fresh_slot.run
    at.sidebar.number_input(key="cfg.lr_g").set_value(0.05).run()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and run.snapshot().config.lr_g != 0.05:
        time.sleep(0.1)
    assert run.snapshot().config.lr_g == 0.05
    assert run.trainer.opt_g.param_groups[0]["lr"] == 0.05


def test_second_start_stops_the_first(fresh_slot):
    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.steps").set_value(100000).run()
    next(b for b in at.button if b.label == "Start").click().run()
    first = fresh_slot.run
    next(b for b in at.button if b.label == "Start").click().run()
    assert fresh_slot.run is not first
    assert first.join(10) and first.status == "stopped"


def test_url_settings_fill_the_widgets(fresh_slot):
    at = _page("train.py")
    at.query_params["loss"] = "hinge"
    at.query_params["lr_g"] = "0.0005"
    at.run()
    assert at.session_state["cfg.loss"] == "hinge"
    assert at.session_state["cfg.lr_g"] == 0.0005


def _handed_over(fresh_slot, lesson_key: str = "vanishing"):
    """The Train page after a lesson's Start: the lesson's run in the slot and its settings
    handed to the sidebar (as pages/ui/lessons.py does), the sidebar having held a preset."""
    from pages.ui import train as train_ui
    from playground.lessons.catalogue import BY_KEY
    from playground.runs.runner import Run

    cfg = BY_KEY[lesson_key].variants[0].config().replace(steps=5, hidden=16, device="cpu")
    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-stable").run()
    fresh_slot.replace(Run(cfg))
    at.session_state[train_ui.PENDING_CONFIG] = (cfg.to_dict(), "lesson 3")
    at.run()
    assert at.sidebar.number_input(key="cfg.d_steps").value == cfg.d_steps == 5
    return at, cfg


def _reset(at):
    next(b for b in at.button if b.label == "Reset").click().run()
    return at


def test_reset_gives_back_the_settings_from_before_a_lesson(fresh_slot):
    from playground.settings.presets import preset

    at, _ = _handed_over(fresh_slot)
    _reset(at)
    assert not at.exception and fresh_slot.run is None
    assert at.sidebar.selectbox(key="preset").value == "ring8-stable"
    stable = preset("ring8-stable")
    assert at.sidebar.number_input(key="cfg.d_steps").value == stable.d_steps
    assert at.sidebar.number_input(key="cfg.batch_size").value == stable.batch_size


def test_reset_keeps_settings_the_person_changed_after_the_hand_over(fresh_slot):
    at, _ = _handed_over(fresh_slot)
    at.sidebar.number_input(key="cfg.d_steps").set_value(3).run()
    _reset(at)
    assert not at.exception and fresh_slot.run is None
    assert at.sidebar.number_input(key="cfg.d_steps").value == 3


def test_an_ada_run_charts_p_beside_r_t(fresh_slot):
    """ADA's p and r_t are in the run's history: the Train page draws them (and only for ADA)."""
    import json

    from helpers import wait_for

    at = _page("train.py").run()
    at.sidebar.selectbox(key="preset").set_value("digits-ada").run()
    for name, value in (("width", 8), ("batch_size", 16), ("steps", 100000), ("log_every", 2)):
        at.sidebar.number_input(key=f"cfg.{name}").set_value(value).run()
    next(b for b in at.button if b.label == "Start").click().run()
    run = fresh_slot.run
    wait_for(lambda: len(run.snapshot().history.get("ada_p", [])) >= 2, "ADA's p logged", 120)
    at.run()
    assert not at.exception
    titles = [(json.loads(c.proto.spec)["layout"].get("title") or {}).get("text", "")
              for c in at.get("plotly_chart")]
    assert "ADA: p beside r_t" in titles
