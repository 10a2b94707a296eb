"""AppTest: the pages do what they show. Settings stay put across page switches, resuming a run
loads its own settings, Save works on a running run, −/+ steps fit each setting, Home's
"Explore a trained generator" opens a shipped model, and the live figures stay light.

Page switches need st.navigation, so the tests run a small router from a temporary folder whose
pages are links to the real ones (plus an `elsewhere` page that draws nothing of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import install_checkpoints, shown, small_checkpoints, wait_for
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import settings as settings_ui
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.views import figures

PAGES = Path(__file__).resolve().parent.parent / "pages"
ROUTER = """
import streamlit as st

st.navigation([
    st.Page("pages/home.py", title="Home", default=True),
    st.Page("pages/train.py", title="Train", url_path="train"),
    st.Page("pages/runs.py", title="Runs", url_path="runs"),
    st.Page("pages/explore.py", title="Explore", url_path="explore"),
    st.Page("pages/diagnostics.py", title="Diagnostics", url_path="diagnostics"),
    st.Page("pages/elsewhere.py", title="Elsewhere", url_path="elsewhere"),
]).run()
"""
CHOSEN = dict(lr_g=0.0002, lr_d=0.0003, d_steps=3, steps=20000)
BUDGET = 180.0  # seconds: a run's first steps can take long on a loaded 2-core machine


@pytest.fixture
def slot(monkeypatch):
    """Each test its own run slot (the cached session resource is per real session)."""
    fresh = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: fresh)
    yield fresh
    fresh.replace(None)


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "site"
    (root / "pages").mkdir(parents=True)
    (root / "router.py").write_text(ROUTER)
    (root / "pages" / "elsewhere.py").write_text("import streamlit as st\nst.write('elsewhere')\n")
    for name in ("home.py", "train.py", "runs.py", "explore.py", "diagnostics.py"):
        (root / "pages" / name).symlink_to(PAGES / name)
    return root


def app_at(site: Path, page: str) -> AppTest:
    at = AppTest.from_file(str(site / "router.py"), default_timeout=60)
    at.switch_page(f"pages/{page}")
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def choose_and_start(at: AppTest) -> None:
    at.sidebar.selectbox(key="preset").set_value("ring8-stable").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(32).run()
    for name, value in CHOSEN.items():
        at.sidebar.number_input(key=settings_ui.key_of(name)).set_value(value).run()
    button(at, "Start").click().run()
    assert not at.exception


# ---------------------------------------------------------------------- settings stay put
def test_leaving_the_train_page_keeps_the_settings_and_the_run(site, slot):
    at = app_at(site, "train.py")
    choose_and_start(at)
    run = slot.run
    wait_for(lambda: run.snapshot().step > 0, "the run to train", BUDGET)
    for page in ("elsewhere.py", "diagnostics.py"):
        at.switch_page(f"pages/{page}").run()
        assert not at.exception
        at.switch_page("pages/train.py").run()
        assert not at.exception
        for name, value in CHOSEN.items():
            assert at.session_state[settings_ui.key_of(name)] == value, name
        assert at.sidebar.selectbox(key="cfg.dataset").value == "ring8"
        assert not any("Changed live" in t for t in toasts(at)), toasts(at)
        assert at.query_params.get("lr_g") in ("0.0002", ["0.0002"]), dict(at.query_params)
    # Nothing was pushed into the run: it trains on with what it was started with.
    step = run.snapshot().step
    wait_for(lambda: run.snapshot().step > step + 2, "a few more steps", BUDGET)
    cfg = run.snapshot().config
    assert (cfg.lr_g, cfg.lr_d, cfg.d_steps, cfg.steps) == tuple(CHOSEN.values())


def test_start_uses_a_value_typed_just_before_the_click(site, slot):
    """The browser sends a value typed into a box together with the click that leaves it: the
    run must start with that value (Start's callback once used the previous page run's
    settings, and the new value then reached the run as a "live change")."""
    at = app_at(site, "train.py")
    at.sidebar.selectbox(key="preset").set_value("ring8-stable").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(32).run()
    at.sidebar.number_input(key=settings_ui.key_of("d_steps")).set_value(3)  # no run in between
    button(at, "Start").click().run()
    assert not at.exception
    assert slot.run.config.d_steps == 3
    assert not any("Changed live" in t for t in toasts(at)), toasts(at)


def test_start_clicked_with_a_new_preset_in_one_page_run_uses_that_preset(site, slot):
    """A preset picked just before Start can reach the server in the same page run as the
    click; Start's callback may then run before the preset's, and the run once started with
    the previous settings while the sidebar showed the preset's."""
    at = app_at(site, "train.py")
    at.sidebar.selectbox(key="preset").set_value("ring8-stable").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse")  # no run in between
    button(at, "Start").click().run()
    assert not at.exception
    wanted = preset("ring8-collapse")
    started = slot.run.config
    assert (started.latent_dim, started.lr_g, started.lr_d, started.steps) == (
        wanted.latent_dim, wanted.lr_g, wanted.lr_d, wanted.steps)


def test_a_live_change_reaches_the_run_and_is_announced(site, slot):
    at = app_at(site, "train.py")
    choose_and_start(at)
    run = slot.run
    at.sidebar.number_input(key="cfg.lr_d").set_value(0.0005).run()
    assert any("lr_d" in t and "0.0005" in t for t in toasts(at)), toasts(at)
    wait_for(lambda: run.snapshot().config.lr_d == 0.0005, "the new lr_d to apply", BUDGET)
    assert run.snapshot().config.lr_g == CHOSEN["lr_g"]  # only the changed control
    # A setting that needs a new run is not pushed; the page says how the two differ.
    at.sidebar.selectbox(key="cfg.dataset").set_value("grid25").run()
    captions = " ".join(c.value for c in at.caption)
    assert "`dataset`: grid25 here, ring8 in the run" in captions, captions
    assert run.snapshot().config.dataset == "ring8"


# ---------------------------------------------------------------------- resume
@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    return small_checkpoints(tmp_path_factory.mktemp("trust-made"))


@pytest.fixture
def checkpoints(made, tmp_path, monkeypatch) -> dict[str, Path]:
    layout = {"ring": "examples/ring8-demo", "digits": "runs/my-digits"}
    return install_checkpoints(made, tmp_path / "checkpoints", layout, monkeypatch)


def test_resume_loads_the_runs_own_settings_into_the_widgets(site, slot, checkpoints):
    at = app_at(site, "runs.py")
    at.button(key=f"runs.resume.{checkpoints['digits']}").click().run()
    assert not at.exception
    run = slot.run
    saved = run.snapshot().config
    assert saved.dataset == "digits" and saved.lr_g == preset("digits-dcgan").lr_g
    assert at.sidebar.selectbox(key="cfg.dataset").value == "digits"
    for name, value in saved.to_dict().items():
        assert at.session_state[settings_ui.key_of(name)] == value, name
    assert not any("Changed live" in t for t in toasts(at)), toasts(at)
    assert run.snapshot().config == saved
    # (AppTest's next run would be the Runs page again: stay on Train, as a browser does.)
    at.switch_page("pages/train.py").run()
    assert not any("Changed live" in t for t in toasts(at)), toasts(at)
    # The user changes one setting: that one reaches the run, and the page says so.
    at.sidebar.number_input(key="cfg.lr_g").set_value(0.0001).run()
    assert any("lr_g" in t and "0.0001" in t for t in toasts(at)), toasts(at)
    button(at, "Resume").click().run()  # a resumed run starts paused; changes apply at a step
    wait_for(lambda: run.snapshot().config.lr_g == 0.0001, "the new lr_g to apply", BUDGET)
    assert run.snapshot().config.lr_d == saved.lr_d


# ---------------------------------------------------------------------- save, progress, steps
def test_save_is_offered_while_the_run_is_still_building(site, slot, monkeypatch, tmp_path):
    """Home's one-click starts open Train before the run has built its models."""
    from playground.runs import runner
    from playground.training.trainer import Trainer

    monkeypatch.setattr(ui, "ROOT", tmp_path)
    monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "runs")
    gate = {"open": False}

    def slow_trainer(cfg):
        wait_for(lambda: gate["open"], "the test to let the build finish", BUDGET)
        return Trainer(cfg)

    monkeypatch.setattr(runner.Run.__init__, "__defaults__", (None, None, slow_trainer))
    at = app_at(site, "home.py")
    at.button(key="start_ring8-stable").click().run()
    assert not at.exception
    assert slot.run is not None and slot.run.snapshot().status == "starting"
    assert not button(at, "Save").disabled
    gate["open"] = True
    wait_for(lambda: slot.run.snapshot().step > 0, "the run to train", BUDGET)
    at.switch_page("pages/train.py").run()  # (AppTest's next run would be Home's again)
    assert slot.run.snapshot().active
    button(at, "Save").click().run()  # while it trains: no Pause needed
    assert not at.exception
    assert any("Saved to" in s.value for s in at.success), [e.value for e in at.error]
    assert list((tmp_path / "runs").glob("*/checkpoint.json"))


def test_paused_progress_has_no_speed_and_manual_steps_show_their_losses(site, slot):
    at = app_at(site, "train.py")
    choose_and_start(at)
    run = slot.run
    wait_for(lambda: run.snapshot().step > 30, "a first logged point", BUDGET)
    button(at, "Pause").click().run()
    wait_for(lambda: run.status == "paused", "the pause", BUDGET)
    at.run()
    assert "steps/s" not in at.get("progress")[0].proto.text
    for label in ("Step", "D only", "G only"):
        before = run.snapshot().step
        button(at, label).click().run()
        step = run.snapshot().step
        assert step == before + 1
        shown = next(m.value for m in at.metric if m.label == "Step")
        assert shown == f"{step:,}"
        history = run.snapshot().history
        assert history["step"][-1] == step, (label, history["step"][-3:])
        d_loss = next(m.value for m in at.metric if m.label == "D loss")
        assert d_loss == f"{history['d_loss'][-1]:.3f}"


@pytest.mark.parametrize("name", ["lr_g", "lr_d", "beta1", "beta2", "gp_weight", "clip_value",
                                  "label_smoothing", "instance_noise", "ema"])
def test_minus_and_plus_stay_within_the_settings_scale(site, slot, name):
    at = app_at(site, "train.py")
    widget = at.sidebar.number_input(key=settings_ui.key_of(name))
    start = getattr(GANConfig(), name)
    widget.decrement().run()
    lower = at.sidebar.number_input(key=settings_ui.key_of(name)).value
    assert lower <= start and (lower >= 0.5 * start if start else lower == 0), (start, lower)
    at.sidebar.number_input(key=settings_ui.key_of(name)).increment().run()
    at.sidebar.number_input(key=settings_ui.key_of(name)).increment().run()
    higher = at.sidebar.number_input(key=settings_ui.key_of(name)).value
    assert higher > start and (higher <= 2 * start if start else True), (start, higher)
    assert not at.error, [e.value for e in at.error]


# ---------------------------------------------------------------------- home, diagnostics
def test_explore_a_trained_generator_opens_a_shipped_model(site, slot, checkpoints, tmp_path):
    # A user run saved after the shipped one: the newest checkpoint is not the shipped model.
    newest = checkpoints["digits"] / "checkpoint.json"
    newest.touch()
    at = app_at(site, "home.py")
    shipped = ui.CHECKPOINTS / "examples"
    button(at, "Explore a trained generator").click().run()
    assert not at.exception
    chosen = Path(at.selectbox(key="explore.source").value)
    assert chosen.parent == shipped, chosen


def test_diagnostics_of_a_live_run_before_its_first_measure(site, slot):
    at = app_at(site, "train.py")
    at.sidebar.selectbox(key="preset").set_value("ring8-stable").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(32).run()
    at.sidebar.number_input(key="cfg.steps").set_value(100000).run()
    at.sidebar.number_input(key="cfg.eval_every").set_value(1000000).run()
    button(at, "Start").click().run()
    wait_for(lambda: slot.run.snapshot().step > 0, "the run to train", BUDGET)
    at.switch_page("pages/diagnostics.py").run()
    assert not at.exception
    text = " ".join(c.value for c in at.caption)
    assert "saved before" not in text, text
    assert "1,000,000" in text and "first measure" in text, text


# ---------------------------------------------------------------------- labels and figures
def test_settings_are_labelled_in_words_with_the_config_name_in_help(site, slot):
    at = app_at(site, "train.py")
    lr_g = at.sidebar.number_input(key="cfg.lr_g")
    assert lr_g.label == "Generator learning rate"
    assert "lr_g" in lr_g.help
    for widget in (list(at.sidebar.number_input) + list(at.sidebar.selectbox)
                   + list(at.sidebar.checkbox) + list(at.sidebar.text_input)):
        if widget.key and widget.key.startswith("cfg."):
            name = widget.key.removeprefix("cfg.")
            assert widget.label != name, name
            assert f"`{name}`" in widget.help, name


def test_the_loss_formula_is_drawn_where_it_fits(site, slot):
    at = app_at(site, "train.py")
    assert not at.sidebar.latex
    assert any("L_D" in x.value for x in at.main.latex)


def test_live_figures_are_decimated_and_legends_clear_the_axis_title():
    n = 20_000
    history = {"step": list(range(n)), "d_loss": [float(i % 7) for i in range(n)],
               "g_loss": [1.0] * n}
    fig = figures.line_figure(history, {"d_loss": "D", "g_loss": "G"}, "Losses", 0.6)
    for trace in fig.data:
        assert len(trace.x) <= figures.MAX_POINTS and trace.x[-1] == n - 1
    assert fig.layout.legend.y >= 1  # above the plot, clear of the x-axis title
    log = figures.line_figure(history, {"d_loss": "D"}, "Norms", log_y=True)
    assert log.layout.yaxis.type == "log" and log.layout.yaxis.dtick == 1


def test_no_page_uses_the_deprecated_width_argument():
    for page in PAGES.glob("*.py"):
        assert "use_container_width" not in page.read_text(), page.name



def test_the_pages_find_the_checkout_and_its_shipped_checkpoints():
    """The helpers live a folder deeper than the pages: their ROOT is still the checkout."""
    assert (ui.ROOT / "app.py").is_file()
    assert (ui.CHECKPOINTS / "examples" / "ring8-stable" / "checkpoint.json").is_file()


def test_save_to_a_runs_folder_outside_the_checkout_says_saved(site, slot, monkeypatch, tmp_path):
    """$GAN_PLAYGROUND_RUNS_DIR may lie anywhere (a folder the Ray cluster shares): the run is
    saved there and the page says so, instead of "Could not save" after a good save."""
    elsewhere = tmp_path / "shared-runs"
    monkeypatch.setattr(ui, "USER_RUNS", elsewhere)  # ROOT stays the checkout
    at = app_at(site, "home.py")
    at.button(key="start_ring8-stable").click().run()
    wait_for(lambda: slot.run is not None and slot.run.snapshot().step > 0, "a step", BUDGET)
    at.switch_page("pages/train.py").run()
    button(at, "Save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (saved,) = elsewhere.glob("*/checkpoint.json")
    assert any(str(saved.parent.resolve()) in shown(s.value) for s in at.success)
