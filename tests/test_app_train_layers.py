"""AppTest for the Train page's 2D view: its layer toggles (real, generated, D's map, G's
manifold, gradient arrows) and slow motion on a paused run (AppTest never fires run_every:
call .run() again to redraw)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import wait_for
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def _started(slot, steps: int, **settings) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    for name, value in dict(batch_size=32, steps=steps, **settings).items():
        at.sidebar.number_input(key=f"cfg.{name}").set_value(value).run()
    next(b for b in at.button if b.label == "Start").click().run()
    assert slot.run is not None
    return at


def _figures(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures by title."""
    out = {}
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        title = figure["layout"].get("title", {})
        out[title.get("text", "") if isinstance(title, dict) else title] = figure
    return out


def _points_figure(at: AppTest) -> dict:
    return next(f for t, f in _figures(at).items() if t.startswith("Real (blue) vs generated"))


def _trace_names(figure: dict) -> list[str]:
    return [trace.get("name") for trace in figure["data"]]


def test_the_2d_views_layers_can_be_switched(fresh_slot):
    at = _started(fresh_slot, steps=20)
    wait_for(lambda: not fresh_slot.run.snapshot().active, "the run to finish")
    at.run()
    assert not at.exception
    toggles = {t.key: t.value for t in at.toggle if t.key.startswith("train.layer.")}
    assert toggles == {
        "train.layer.real": True,
        "train.layer.generated": True,
        "train.layer.decision": True,
        "train.layer.manifold": False,
        "train.layer.arrows": False,
    }
    assert _trace_names(_points_figure(at)) == ["D's decision map", "real", "generated"]
    at.toggle(key="train.layer.manifold").set_value(True).run()
    at.toggle(key="train.layer.arrows").set_value(True).run()
    names = _trace_names(_points_figure(at))
    assert "G's manifold" in names and "gradient arrows" in names
    captions = " ".join(c.value for c in at.caption)
    assert "fixed random plane" in captions  # ring8-collapse's latent has more than 2 dims
    assert "−∂L_G/∂x" in captions
    at.toggle(key="train.layer.real").set_value(False).run()
    at.toggle(key="train.layer.decision").set_value(False).run()
    names = _trace_names(_points_figure(at))
    assert "real" not in names and "D's decision map" not in names and "generated" in names
    assert not at.exception


def _next_phase(at: AppTest):
    return next(b for b in at.button if b.key == "train.slowmo.next")


def test_slow_motion_runs_d_then_g_on_a_paused_run(fresh_slot):
    at = _started(fresh_slot, steps=100_000)
    run = fresh_slot.run
    wait_for(lambda: run.snapshot().step >= 3, "a few steps")
    at.run()
    # While it trains, slow motion only says to pause first.
    assert any("Pause the run" in c.value for c in at.caption)
    assert not any(b.key == "train.slowmo.next" for b in at.button)
    next(b for b in at.button if b.label == "Pause").click().run()
    wait_for(lambda: run.snapshot().status == "paused", "the run to pause")
    at.run()
    assert _next_phase(at).label == "Next phase: D's update"
    before = run.snapshot().step

    _next_phase(at).click().run()
    assert not at.exception
    assert run.snapshot().step == before and run.snapshot().status == "paused"
    assert any(r"\boxed" in x.value and "L_D" in x.value for x in at.latex)
    titles = set(_figures(at))
    assert {"D's map before", "D's map after", "What changed (after − before)"} <= titles
    assert _next_phase(at).label == "Next phase: G's update"

    _next_phase(at).click().run()
    assert not at.exception
    assert run.snapshot().step == before + 1  # D's phase and G's: one step
    g_formula = [x.value for x in at.latex if r"\boxed" in x.value]
    assert g_formula and "L_G" in g_formula[0].split(r"\boxed")[1]
    figures = _figures(at)
    assert "Before: each fake's arrow" in figures
    after = next(f for t, f in figures.items() if t.startswith("After: where each moved"))
    assert any(name.startswith("movement (") for name in _trace_names(after))
    assert any("mean cosine" in c.value for c in at.caption)
    assert _next_phase(at).label == "Next phase: D's update"

    # Resuming ends slow motion: after the next pause it starts again at D's phase.
    _next_phase(at).click().run()
    assert _next_phase(at).label == "Next phase: G's update"
    next(b for b in at.button if b.label == "Resume").click().run()
    wait_for(lambda: run.snapshot().status == "running", "the run to resume")
    at.run()
    next(b for b in at.button if b.label == "Pause").click().run()
    wait_for(lambda: run.snapshot().status == "paused", "the run to pause again")
    at.run()
    assert _next_phase(at).label == "Next phase: D's update"
    assert not at.exception


def test_the_downloads_draw_the_layers_switched_on(fresh_slot, monkeypatch):
    """The PNG and GIF downloads get the layers the person switched on, and draw them."""
    from pages.ui import train as train_ui
    from playground.views import images

    seen = []
    downloads = train_ui._downloads

    def recorded(run, snap, layers):
        seen.append(layers)
        downloads(run, snap, layers)

    monkeypatch.setattr(train_ui, "_downloads", recorded)
    at = _started(fresh_slot, steps=20)
    wait_for(lambda: not fresh_slot.run.snapshot().active, "the run to finish")
    at.run()
    assert seen[-1] == {"real", "generated", "decision"}
    at.toggle(key="train.layer.arrows").set_value(True).run()
    at.toggle(key="train.layer.decision").set_value(False).run()
    assert seen[-1] == {"real", "generated", "arrows"}
    run = fresh_slot.run
    snap = run.snapshot()
    picture = train_ui.frame_picture(run, snap, snap.latest, seen[-1])
    colours = picture.reshape(-1, 3)
    assert (colours == images.ARROW_RGB).all(axis=1).any(), "the arrows are drawn"
    assert (colours == (255, 255, 255)).all(axis=1).any(), "no D's map behind the points"


def test_starts_own_page_run_shows_the_first_picture(fresh_slot, monkeypatch):
    """The click's own page run waits for the run's first picture (drawn before any step)
    instead of showing it at the live view's next redraw; the wait is lengthened here so the
    test does not depend on the machine's speed."""
    from pages.ui import common as ui

    monkeypatch.setattr(ui, "FIRST_PICTURE_WAIT_S", 120.0)
    at = _started(fresh_slot, steps=100_000)
    assert not at.exception
    assert "Building the models" not in " ".join(c.value for c in at.caption)
    figure = _points_figure(at)
    assert "generated" in _trace_names(figure)


def test_before_start_the_train_page_draws_the_chosen_2d_data(fresh_slot):
    """The picked toy's real points, the very ones the run's view will show (the same draw)."""
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    preview = _figures(at).get("The data (real, blue)")
    assert preview is not None and _trace_names(preview) == ["real"]
    at.sidebar.selectbox(key="cfg.dataset").set_value("digits").run()
    assert "The data (real, blue)" not in _figures(at), "no 2D preview for images"
    at.sidebar.selectbox(key="cfg.dataset").set_value("ring8").run()
    at.sidebar.number_input(key="cfg.steps").set_value(20).run()
    next(b for b in at.button if b.label == "Start").click().run()
    wait_for(lambda: not fresh_slot.run.snapshot().active, "the run to finish")
    at.run()
    assert "The data (real, blue)" not in _figures(at)
    (real,) = [t for t in _points_figure(at)["data"] if t["name"] == "real"]
    assert real["x"] == preview["data"][0]["x"] and real["y"] == preview["data"][0]["y"]
