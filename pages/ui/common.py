"""Drawing helpers shared by the pages: the session's run slot, settings widgets, figures.

Computation lives in `playground`; this module only turns its plain data into widgets and charts.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import streamlit as st

from pages.ui.i18n import _, message, translated
from playground.data import registry as datasets
from playground.data import uploads
from playground.data.registry import points_source
from playground.measures.metrics import coverage_2d
from playground.objectives.losses import LOSSES as LOSS_REGISTRY
from playground.runs import backends
from playground.runs.interface import RunControls
from playground.runs.snapshots import Snapshot
from playground.settings.config import GANConfig
from playground.storage import store
from playground.training.devices import device_label, resolve_device, warm_up
from playground.views.figures import points_figure
from playground.views.view2d import plot_window

ROOT = Path(__file__).resolve().parents[2]  # the checkout: pages/ui/common.py -> .
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


# The owner token lives in a cookie of this browser, so a reload (a new session) keeps the runs
# it saved. A cookie rather than a token in the URL: a URL is passed around with every shared
# link, a cookie never leaves its browser. SameSite=Strict: no other site's page sends it.
OWNER_COOKIE = "gan_playground_owner"
OWNER_COOKIE_DAYS = 365
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{40,100}$")  # what store.new_owner_token makes


def owner_token() -> str:
    """This browser's secret owner token (playground.storage.store): the runs it saves are its
    own to delete; runs other browsers saved are read-only to it. Read from the browser's cookie
    when it has one (keep_owner_cookie writes it), else new."""
    if OWNER_KEY not in st.session_state:
        kept = st.context.cookies.get(OWNER_COOKIE)  # (no cookies at all under AppTest)
        fits = isinstance(kept, str) and _TOKEN.match(kept)
        st.session_state[OWNER_KEY] = kept if fits else store.new_owner_token()
    return st.session_state[OWNER_KEY]


def keep_owner_cookie() -> None:
    """Store this session's owner token in the browser (once per session, from the router), so
    the next session of this browser finds it."""
    token = owner_token()
    if st.context.cookies.get(OWNER_COOKIE) == token or st.session_state.get("_cookie_written"):
        return
    st.session_state["_cookie_written"] = True
    age = OWNER_COOKIE_DAYS * 86_400
    # An HTML frame shares the app's origin, so its script sets the app's own cookie. In the
    # sidebar, where its empty one-pixel frame takes no room from the page.
    with st.sidebar:
        st.iframe(
            f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age={age}; "
            "SameSite=Strict';</script>",
            height=1,
            tab_index=-1,  # nothing in it to reach with the keyboard
            alt="Remembers this browser's saved runs across reloads",
        )


def claim_run(folder: Path) -> None:
    """Mark a run this session just saved as its own."""
    store.claim_run(folder, owner_token())


_MARKUP = set("\\`*_{}[]()#+-.!|<>~:=\"'&$%;/")
_LINKY = set(":.@")  # the marks a web address or an e-mail is guessed from


def reason(problem: BaseException | str) -> str:
    """An engine's message (an error, a refusal) as a page shows it: in the page's language
    where the catalogue knows it, and escaped as `plain` escapes it."""
    return plain(message(str(problem)))


def plain(text: str) -> str:
    """Text from a file (a value, a name) as it must appear in Streamlit's markdown: every
    punctuation mark escaped, so it shows as typed and never becomes formatting, a formula or
    an image fetched from elsewhere; and an invisible word joiner before each ':', '.' and '@',
    because the markdown renderer turns anything that looks like a web address into a link even
    when escaped (checked in a browser)."""
    return "".join(
        ("\u2060\\" + c) if c in _LINKY else ("\\" + c) if c in _MARKUP else c for c in text
    )


# ---------------------------------------------------------------------- checkpoints on disk
safe_run_name = store.safe_run_name  # a folder name that cannot escape checkpoints/runs/


def new_run_folder(cfg: GANConfig) -> Path:
    """A new, empty folder under checkpoints/runs/ (never an existing run's)."""
    return store.new_run_folder(USER_RUNS, cfg)


def checkpoint_listing() -> store.Listing:
    """Every checkpoint under checkpoints/ and the runs folder: the loadable ones newest first,
    and the folders skipped because their checkpoint.json was refused."""
    return store.list_checkpoints([CHECKPOINTS, USER_RUNS])


def list_checkpoints() -> list[tuple[Path, dict]]:
    """(folder, checked metadata) for every loadable checkpoint, newest first."""
    return checkpoint_listing().runs


def shown_path(folder: Path) -> str:
    """A saved run's folder as the page names it: from the checkout when it lies inside, else
    in full (a runs folder elsewhere, e.g. $GAN_PLAYGROUND_RUNS_DIR on a Ray cluster)."""
    resolved = Path(folder).resolve()
    root = ROOT.resolve()
    return str(resolved.relative_to(root) if resolved.is_relative_to(root) else resolved)


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


def loss_formula(loss: str) -> None:
    """The chosen loss's formula, in the main area where it has room (the sidebar cut it)."""
    entry = LOSS_REGISTRY[loss]
    st.latex(entry.formula)
    st.caption(f"**{loss}**: {entry.sentence}")


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
    entry = datasets.DATASETS.get(dataset)
    if entry is None or not entry.is_points or (entry.sampler is None and not entry.is_mixture):
        return None
    source = points_source(dataset)
    return source.numpy_sample(REAL_SHOWN, seed=REAL_SEED), plot_window(source)


def data_preview_chart(dataset: str, key: str, title: str, caption: str) -> bool:
    """Before Start, the 2D toy's real points where the live picture will be (the browser then
    loads its charting code before the click, not after it); False when there are none."""
    shown = data_preview(dataset)
    if shown is None:
        return False
    real, extent = shown
    left, _right = st.columns([3, 2])
    with left:
        figure = translated(points_figure(None, real, extent, title=title, height=520))
        st.plotly_chart(figure, key=key)
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


def status_message(snap: Snapshot) -> None:
    """A readable banner for how a run ended (or why it has not started yet)."""
    if snap.status == "queued":
        queue = snap.queue
        line = (
            " " + _("It is {position} of {length} waiting from this server.").format(
                position=queue.position, length=queue.length
            )
            if queue and queue.position
            else ""
        )
        st.info(
            _(
                "**Queued on the Ray cluster** for {seconds} s: it starts by itself when the "
                "cluster has room."
            ).format(seconds=f"{queue.waited if queue else 0:.0f}")
            + line
        )
    elif snap.status == "diverged":
        st.error(_("**The run diverged and stopped.**") + f" {reason(snap.error or '')}")
    elif snap.status == "error":
        st.error(_("**The run stopped with an error.**") + f" {reason(snap.error or '')}")
    elif snap.status == "finished":
        st.success(
            _("Finished {steps} steps in {seconds} s.").format(
                steps=f"{snap.total_steps:,}", seconds=f"{snap.elapsed:.0f}"
            )
        )
    elif snap.status == "stopped":
        st.info(_("Stopped at step {step}.").format(step=f"{snap.step:,}"))


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 60:
        return _("{minutes} min {seconds} s").format(
            minutes=seconds // 60, seconds=f"{seconds % 60:02d}"
        )
    return _("{seconds} s").format(seconds=seconds)


def progress_bar(snap) -> None:
    """A run's progress (a Snapshot or a MultiSnapshot): its status, step of all steps and,
    while it trains, its speed and the time left at that speed."""
    fraction = min(1.0, snap.step / max(snap.total_steps, 1))
    text = _("{status} · step {step} / {total}").format(
        status=_(snap.status), step=f"{snap.step:,}", total=f"{snap.total_steps:,}"
    )
    rate = snap.steps_per_sec
    if rate and snap.status == "running":  # paused: the last speed is stale
        shown = f"{rate:,.1f}" if rate < 10 else f"{rate:,.0f}"
        text += " · " + _("{rate} steps/s").format(rate=shown)
    if snap.eta_seconds is not None:
        text += " · " + _("about {time} left").format(time=duration(snap.eta_seconds))
    st.progress(fraction, text=text)


def held_series(frames, centres: np.ndarray, sigma: float) -> tuple[list[int], list[int]]:
    """(steps, modes held) of a run's frames, each measured on its fixed-noise samples."""
    return (
        [f.step for f in frames],
        [coverage_2d(f.samples, centres, sigma)["modes_held"] for f in frames],
    )


def dataset_status_text(status: str) -> str:
    """A dataset's status (loading.dataset_status) in the page's language: "offline (how it
    is obtained)" is translated in its two parts."""
    if status.startswith("offline (") and status.endswith(")"):
        return _("offline ({how})").format(how=_(status[len("offline (") : -1]))
    return _(status)
