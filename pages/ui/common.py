"""Drawing helpers shared by the pages: the session's run slot, settings widgets, figures.

Computation lives in `playground`; this module only turns its plain data into widgets and charts.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from playground.data import registry as datasets
from playground.data import uploads
from playground.data.source import points_source
from playground.errors import ConfigError
from playground.objectives.losses import LOSSES as LOSS_REGISTRY
from playground.runs import backends
from playground.runs.interface import RunControls
from playground.runs.runner import Snapshot
from playground.settings.config import GANConfig
from playground.settings.fields import ADVANCED_SETTINGS, FIELDS, MAIN_SETTINGS
from playground.settings.presets import PRESETS
from playground.storage import store
from playground.storage.checkpoints import CheckpointError, read_meta
from playground.training.devices import device_label, resolve_device, warm_up
from playground.views.figures import points_figure
from playground.views.view2d import plot_window

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
# Saved runs: $GAN_PLAYGROUND_RUNS_DIR when set (on a Ray cluster, a folder every machine shares).
USER_RUNS = backends.runs_dir(CHECKPOINTS / "runs")
REFRESH_SECONDS = 1.0  # how often the live view redraws while a run is active


# ---------------------------------------------------------------------- routing
def require_router() -> None:
    """Make a page opened by its own URL run inside app.py's navigation.

    Streamlit treats a folder named `pages/` beside the main script as an old-style page
    folder until the main script has called `st.navigation` once in the server process. So the
    very first request of a fresh server to, say, /explore would run the page alone (every
    module of the folder listed as a page, no page config). Switching that mode off and
    rerunning lets app.py route the request as usual. Every page calls this first.
    """
    if st.session_state.get("_routed"):  # only a session's first run can be the stray one
        return
    st.session_state["_routed"] = True
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this internals: nothing to repair
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# ---------------------------------------------------------------------- the session's run
class RunSlot:
    """A training run a browser session owns (one run, or a batched one). Replacing it stops
    the old one first; when the session goes away the run is discarded."""

    def __init__(self) -> None:
        self.run: RunControls | None = None

    def replace(self, run: RunControls | None) -> None:
        self.stop()
        self.run = run

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop(wait=10.0)

    def release(self) -> None:
        """The session is gone. Called on the server's event loop, so it must not wait: the run
        stops at its next step and then frees its models (see Run.discard)."""
        if self.run is not None:
            self.run.discard()


@st.cache_resource(scope="session", on_release=lambda slot: slot.release(), show_spinner=False)
def run_slot() -> RunSlot:
    """Session-scoped: when the browser session goes away, its training thread is stopped."""
    return RunSlot()


OWNER_KEY = "_owner_token"  # session_state key of the session's owner token


def owner_token() -> str:
    """This browser session's secret owner token (playground.storage.store): the runs it saves are
    its
    own to delete; runs other sessions saved are read-only to it. Held in the session's memory
    only, so a new session (a reload) starts with no runs of its own."""
    if OWNER_KEY not in st.session_state:
        st.session_state[OWNER_KEY] = store.new_owner_token()
    return st.session_state[OWNER_KEY]


def claim_run(folder: Path) -> None:
    """Mark a run this session just saved as its own."""
    store.claim_run(folder, owner_token())


# ---------------------------------------------------------------------- checkpoints on disk
safe_run_name = store.safe_run_name  # a folder name that cannot escape checkpoints/runs/


def new_run_folder(cfg: GANConfig) -> Path:
    """A new, empty folder under checkpoints/runs/ (never an existing run's)."""
    return store.new_run_folder(USER_RUNS, cfg)


def list_checkpoints() -> list[tuple[Path, dict]]:
    """(folder, checked metadata) for every loadable checkpoint under checkpoints/, newest first."""
    found = []
    roots = [CHECKPOINTS] + ([] if USER_RUNS.resolve().is_relative_to(CHECKPOINTS.resolve())
                             else [USER_RUNS])
    for meta_file in (m for root in roots for m in root.rglob("checkpoint.json")):
        try:
            found.append((meta_file.parent, read_meta(meta_file.parent)))
        except CheckpointError:
            continue
    return sorted(found, key=lambda item: item[0].stat().st_mtime, reverse=True)


def describe_config(cfg: GANConfig) -> str:
    model = f"{cfg.arch}{' conditional' if cfg.conditional else ''}"
    return f"{cfg.dataset} · {model} · {cfg.loss} · lr {cfg.lr_g:g}/{cfg.lr_d:g}"


class SessionFolder:
    """This session's private temporary folder (its uploads, its drawn points); deleted with the
    session (the pages' cached spaces call `remove` on release)."""

    def __init__(self) -> None:
        self.root = uploads.new_upload_folder()

    def folder(self) -> Path:
        """The folder, made again if it was removed under us (a /tmp cleaner on a long-lived
        server)."""
        if not self.root.is_dir():
            self.root = uploads.new_upload_folder()
        return self.root

    def remove(self) -> None:
        uploads.remove_upload_folder(self.root)


# ---------------------------------------------------------------------- start-up
@st.cache_resource(show_spinner=False)
def warm_up_in_background() -> threading.Thread:
    """Once per server process: load the heavy libraries while the person reads the page."""
    # pandas first, here (a quarter second, once): scikit-learn imports it, and while a
    # background import is half done, plotly (which uses pandas whenever it is in
    # sys.modules) fails in other sessions with "partially initialized module 'pandas'".
    import pandas  # noqa: F401

    thread = threading.Thread(target=warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------- device
@st.cache_resource(show_spinner=False)
def device_description() -> str:
    return device_label(resolve_device("auto"))


# ---------------------------------------------------------------------- settings widgets
# Each setting's label, help, bounds, step and liveness are rows of one table, settings.FIELDS.
LIVE_CHANGED = "train.live_changed"  # settings the user changed since the last page run


def key_of(name: str) -> str:
    return f"cfg.{name}"


def load_into_widgets(cfg: GANConfig | dict[str, Any]) -> None:
    """Put a config's values (or a link's, see link_settings) into the settings widgets' state
    (before they are drawn)."""
    values = cfg if isinstance(cfg, dict) else cfg.to_dict()
    for name, value in values.items():
        st.session_state[key_of(name)] = value


def _note_live_change(name: str) -> None:
    st.session_state.setdefault(LIVE_CHANGED, set()).add(name)


def help_for(name: str) -> str:
    row = FIELDS.get(name)
    text = row.help if row is not None else ""
    return f"{text} (Setting `{name}` in the page's URL and on the command line.)".lstrip()


def _widget(name: str, field: dataclasses.Field, device_text: str):
    # persist_state="session": the value outlives a visit to another page (a widget's state is
    # otherwise dropped when it is not drawn, and the run's settings came back as defaults).
    # on_change: only a control the user changes is pushed into a live run.
    row = FIELDS[name]
    common = dict(key=key_of(name), help=help_for(name), persist_state="session",
                  on_change=_note_live_change if row.live else None,
                  args=(name,) if row.live else None)
    label = row.label
    if row.choices:
        options = list(row.choices)
        fmt = (lambda v: f"auto ({device_text})" if v == "auto" else v) if name == "device" else str
        if name == "dataset":  # the user's own data is named in words: its name is jargon
            fmt = dataset_label
        return st.selectbox(label, options, format_func=fmt, **common)
    if field.type in ("bool", bool):
        return st.checkbox(label, **common)
    if field.type in ("int", int):
        # A float widget: an int one silently truncates a typed 2.5 to 2. This one hands 2.5
        # to the engine, which refuses it by name (whole numbers come back as ints: _coerce).
        return st.number_input(label, step=1.0, format="%g", **common)
    if field.type in ("float", float):
        if row.step is None:  # no -/+ buttons' scale given: plain typing, checked by the engine
            return st.number_input(label, format="%g", **common)
        return st.number_input(label, min_value=float(row.low), max_value=float(row.high),
                               step=row.step, format="%g", **common)
    return st.text_input(label, **common)


def dataset_label(name: str) -> str:
    """A dataset as the picker shows it: the user's own points in plain words."""
    entry = datasets.DATASETS.get(name)
    return entry.title if entry is not None and entry.user_points else name


def live_changes() -> list[str]:
    """The live settings the user changed since the page last ran (each reported once)."""
    return sorted(st.session_state.pop(LIVE_CHANGED, set()))


def loss_formula(loss: str) -> None:
    """The chosen loss's formula, in the main area where it has room (the sidebar cut it)."""
    entry = LOSS_REGISTRY[loss]
    st.latex(entry.formula)
    st.caption(f"**{loss}**: {entry.sentence}")


def settings_sidebar() -> tuple[GANConfig | None, str | None]:
    """Every setting as a widget in the sidebar. Returns (config, None) when valid, else
    (None, message) with the engine's message also shown under the offending control."""
    fields = {f.name: f for f in dataclasses.fields(GANConfig)}
    defaults = GANConfig().to_dict()
    for name, value in defaults.items():
        st.session_state.setdefault(key_of(name), value)
    device_text = device_description()
    slots: dict[str, st.delta_generator.DeltaGenerator] = {}
    values = {}
    with st.sidebar:
        for name in MAIN_SETTINGS:
            values[name] = _widget(name, fields[name], device_text)
            slots[name] = st.empty()
        st.caption("The loss's formula is shown beside the run's controls.")
        with st.expander("Advanced"):
            for name in ADVANCED_SETTINGS:
                values[name] = _widget(name, fields[name], device_text)
                slots[name] = st.empty()
    try:
        return GANConfig.from_dict(_coerce(values, fields)), None
    except ConfigError as exc:
        target = slots.get(exc.setting)
        if target is not None:
            target.error(str(exc))
        return None, str(exc)


def config_from_state() -> tuple[GANConfig | None, str | None]:
    """The settings as the widgets hold them now, for a button's callback: callbacks run before
    the page script, so a config the previous run computed misses a value typed just before
    the click (the browser sends the two together)."""
    settle_preset()
    fields = {f.name: f for f in dataclasses.fields(GANConfig)}
    values = {name: st.session_state.get(key_of(name), default)
              for name, default in GANConfig().to_dict().items()}
    try:
        return GANConfig.from_dict(_coerce(values, fields)), None
    except ConfigError as exc:
        return None, str(exc)


def _coerce(values: dict, fields: dict) -> dict:
    """number_input returns floats for ints typed as 3.0 etc.; give the engine its types."""
    out = {}
    for name, value in values.items():
        kind = fields[name].type
        if kind in ("int", int) and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out


SETTLED_PRESET = "ui.settled_preset"  # the preset whose values the controls were last given


def settle_preset() -> None:
    """Give the controls the picked preset's values unless that was done already. A button's
    callback calls it first: a preset picked just before a click can reach the server in the
    same page run, and the click's callback may run before the preset's own."""
    name = st.session_state.get("preset")
    if name in PRESETS and name != st.session_state.get(SETTLED_PRESET):
        load_into_widgets(PRESETS[name].config())
    st.session_state[SETTLED_PRESET] = name


def preset_picker() -> None:
    """One click sets every setting from a preset."""

    names = ["(custom)"] + list(PRESETS)
    st.sidebar.selectbox("Preset", names, key="preset", on_change=settle_preset,
                         persist_state="session",
                         help="A named setup that reliably shows something; picking one sets "
                         "every control below.")
    chosen = st.session_state.get("preset")
    st.session_state[SETTLED_PRESET] = chosen  # the controls below now hold what it set
    if chosen in PRESETS:
        st.sidebar.caption(PRESETS[chosen].description)


def apply_query_params() -> None:
    """On a session's first visit, settings in the URL (a shared link) fill the widgets."""
    if st.session_state.get("_query_applied"):
        return
    st.session_state["_query_applied"] = True
    params = {k: v for k, v in st.query_params.to_dict().items() if k in GANConfig().to_dict()}
    if not params:
        return
    try:
        load_into_widgets(link_settings(params))
    except ConfigError as exc:
        st.warning(f"The link's settings were not used: {exc}")


# A dataset of your own needs one of these; a link cannot carry the data itself.
OWN_DATA = {"points_file": "draw your points or upload a CSV", "data_folder": "give a folder"}


def link_settings(params: dict[str, str]) -> dict[str, Any]:
    """The settings of a link, as the widgets' values. One that picks your own points (or
    folder) without naming them is used all the same, the data left for the visitor to give
    (the sidebar asks for it, and no run starts without it); anything else invalid raises
    ConfigError."""
    try:
        return GANConfig().with_strings(params).to_dict()
    except ConfigError as exc:
        if exc.setting not in OWN_DATA or params.get(exc.setting, "").strip():
            raise
        checked = GANConfig().with_strings({**params, exc.setting: "given later"})  # the rest
        st.info(f"This link trains on your own data: {OWN_DATA[exc.setting]}.")
        return {**checked.to_dict(), exc.setting: ""}


REAL_SHOWN, REAL_SEED = 1000, 7  # the real points a 2D view draws, and the seed drawing them


def shown_real_points(run) -> np.ndarray | None:
    """The real points a run's 2D view shows, cached per run for the session (the Train and
    Lessons pages show the same session's run); None before its data is loaded."""
    cache = st.session_state.setdefault("ui.real_points", {})
    if run.uid not in cache:
        sample = run.real_sample(REAL_SHOWN, seed=REAL_SEED) if run.has_models else None
        if sample is None:
            return None
        cache.clear()
        cache[run.uid] = sample
    return cache[run.uid]


@st.cache_data(show_spinner=False, max_entries=16)
def data_preview(dataset: str) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """The real points a run of this 2D toy shows (the same draw as shown_real_points) and its
    window, before any run exists; None for data that is not a 2D toy."""
    import torch

    entry = datasets.DATASETS.get(dataset)
    if entry is None or not entry.is_points or (entry.sampler is None and not entry.is_mixture):
        return None
    source = points_source(dataset, torch.device("cpu"))
    real, _ = source.sample(REAL_SHOWN, torch.Generator().manual_seed(REAL_SEED))
    return real.numpy(), plot_window(source)


def data_preview_chart(dataset: str, key: str, title: str, caption: str) -> bool:
    """Before Start, the 2D toy's real points where the live picture will be (the browser then
    loads its charting code before the click, not after it); False when there are none."""
    shown = data_preview(dataset)
    if shown is None:
        return False
    real, extent = shown
    left, _ = st.columns([3, 2])
    with left:
        st.plotly_chart(points_figure(None, real, extent, title=title, height=520), key=key)
        st.caption(caption)
    return True


def scroll_into_view(key: str) -> None:
    """Scroll the page so the container made with `st.container(key=key)` is at the top of the
    window, once a chart or picture in it is drawn (before that, the page below it may be too
    short to scroll that far); after 10 s, wherever it is then. Streamlit has no call for this,
    so it is a fixed script (nothing from a user in it) naming the container's `st-key-` class."""
    if not key.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"not a container key a script may name: {key!r}")
    script = (
        "<script>(() => { let tries = 0; const go = () => {"
        f" const el = window.document.querySelector('.st-key-{key}');"
        " const drawn = el && el.querySelector('.main-svg, img');"
        " if (drawn || (el && tries >= 100)) { el.scrollIntoView({block: 'start'}); }"
        " else if (++tries <= 100) { setTimeout(go, 100); } }; go(); })();</script>"
    )
    st.html(script, unsafe_allow_javascript=True)


FIRST_PICTURE_WAIT_S = 1.0  # see await_first_picture


def await_first_picture(run) -> Snapshot:
    """Right after Start, wait up to FIRST_PICTURE_WAIT_S for the run's first picture (drawn
    before its first step, tens of milliseconds once the app is warm), so the click's own page
    run shows it instead of the live view's next redraw a second later. Returns the last
    snapshot taken (at once when the run is past that point)."""
    deadline = time.monotonic() + FIRST_PICTURE_WAIT_S
    while True:
        snap = run.snapshot()
        done = snap.step or snap.frames or snap.status not in ("starting", "running")
        if done or time.monotonic() >= deadline:
            return snap
        time.sleep(0.01)


def write_query_params(cfg: GANConfig) -> None:
    wanted = cfg.to_query()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def status_message(snap: Snapshot) -> None:
    """A readable banner for how a run ended (or why it has not started yet)."""
    if snap.status == "queued":
        place, length = snap.info.get("queue_position"), snap.info.get("queue_length")
        line = f" It is {place} of {length} waiting from this server." if place else ""
        st.info(f"**Queued on the Ray cluster** for {snap.info.get('queued_seconds', 0):.0f} s: "
                f"it starts by itself when the cluster has room.{line}")
    elif snap.status == "diverged":
        st.error(f"**The run diverged and stopped.** {snap.error}")
    elif snap.status == "error":
        st.error(f"**The run stopped with an error.** {snap.error}")
    elif snap.status == "finished":
        st.success(f"Finished {snap.total_steps:,} steps in {snap.elapsed:.0f} s.")
    elif snap.status == "stopped":
        st.info(f"Stopped at step {snap.step:,}.")
