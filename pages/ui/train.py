"""The Train page's controls and live view (drawing only; the run itself is `playground`'s)."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import numpy as np
import streamlit as st

from pages.ui import common as ui
from pages.ui import gauges as gauges_ui
from pages.ui import i18n
from pages.ui import settings as settings_ui
from pages.ui import slowmo as slowmo_ui
from pages.ui.i18n import _, translated
from playground.errors import ConfigError
from playground.objectives.losses import LOSSES
from playground.runs.runner import Run
from playground.runs.snapshots import Frame, Snapshot
from playground.settings.config import GANConfig
from playground.settings.fields import FIELDS
from playground.settings.presets import PRESETS
from playground.texts.catalogue import DEFAULT, N_
from playground.views import figures, images

POLLING = ("queued", "starting", "running")  # statuses during which the live view redraws itself


def apply_pending_preset() -> None:
    """Another page asked for a preset (the home page's one-click starts)."""
    name = st.session_state.pop("pending_preset", None)
    if name in PRESETS:
        st.session_state["preset"] = name
        settings_ui.load_into_widgets(PRESETS[name].config())


PENDING_CONFIG = "train.pending_config"  # a run's own settings, left by the Runs page's Resume
LOADED_NOTE = "train.loaded_note"
# (the sidebar's settings before a run's were handed over, its preset, the handed-over settings)
HANDED_OVER = "train.handed_over"


def apply_pending_config() -> None:
    """The Runs page resumed a run: its own settings fill the widgets (before they are drawn),
    so the sidebar shows what the run trains with and pushes nothing into it."""
    pending = st.session_state.pop(PENDING_CONFIG, None)
    if pending is None:
        return
    config, name = pending
    before, _problem = settings_ui.config_from_state()
    if before is not None:  # what Reset puts back, unless the person edits the settings since
        st.session_state[HANDED_OVER] = (before.to_dict(), st.session_state.get("preset"), config)
    settings_ui.load_into_widgets(GANConfig.from_dict(config))
    st.session_state["preset"] = "(custom)"
    st.session_state.pop(settings_ui.LIVE_CHANGED, None)
    st.session_state[LOADED_NOTE] = name


def _reset(slot) -> None:
    """Discard the run; if its settings were handed to the sidebar (a lesson's Start, the Runs
    page's Resume) and are unchanged, give the sidebar back the settings it had before."""
    slot.replace(None)
    handed = st.session_state.pop(HANDED_OVER, None)
    if handed is None:
        return
    before, preset_name, given = handed
    now, _problem = settings_ui.config_from_state()
    if now is not None and now.to_dict() == GANConfig.from_dict(given).to_dict():
        settings_ui.load_into_widgets(before)
        st.session_state["preset"] = preset_name
        st.session_state[settings_ui.SETTLED_PRESET] = preset_name  # its values are in place
        st.session_state.pop(LOADED_NOTE, None)


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def push_live_changes(run: Run, snap: Snapshot, cfg: GANConfig, names: list[str]) -> None:
    """Send the live settings the user changed (`names`) to the running run, and say so."""
    changes = {k: getattr(cfg, k) for k in names if getattr(cfg, k) != getattr(snap.config, k)}
    if not changes:
        return
    try:
        run.set_hyper(**changes)
    except ConfigError as exc:  # e.g. a loss that would change D's layers
        st.warning(_("Not changed on the running run: {reason}").format(reason=ui.reason(exc)))
        return
    shown = ", ".join(f"{k} = {_shown(v)}" for k, v in changes.items())
    st.toast(_("Changed live: {changes}").format(changes=shown))


def differences_note(snap: Snapshot | None, cfg: GANConfig) -> None:
    """Where the sidebar and the session's run differ, say so: live settings reach the run when
    their control changes; the others only with a new Start."""
    if name := st.session_state.pop(LOADED_NOTE, None):
        st.info(_("The sidebar shows **{name}**'s own settings. Change a live setting (learning "
                  "rates, D/G steps, the loss, …) and it reaches the run at its next step.")
                .format(name=name))
    if snap is None or snap.config is None or not snap.active:
        return
    differ = [k for k, v in cfg.to_dict().items()
              if not FIELDS[k].live and v != getattr(snap.config, k)]
    if differ:
        each = _("{label} (`{name}`: {here} here, {there} in the run)")
        items = "; ".join(each.format(label=_(FIELDS[k].label), name=k,
                                      here=_shown(getattr(cfg, k)),
                                      there=_shown(getattr(snap.config, k))) for k in differ)
        st.caption(_("The sidebar differs from the running run in {items}. These take effect "
                     "with a new **Start**.").format(items=items))


# ---------------------------------------------------------------------- controls
def _step(run: Run, d: bool, g: bool) -> None:
    """Queue one manual step and wait briefly for it, so the redraw shows its result."""
    if run is None:  # a stale click after Reset
        return
    before = run.snapshot().step
    if run.step(d=d, g=g):
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and run.snapshot().step == before:
            time.sleep(0.02)


def _save(run: Run) -> None:
    if run is None:
        return
    # Offered from the moment a run starts (the page does not redraw its buttons while a run
    # trains): a run still building its models is given a moment to finish.
    deadline = time.monotonic() + 10.0
    while not run.has_models and run.snapshot().active and time.monotonic() < deadline:
        time.sleep(0.05)
    if not run.has_models:
        st.session_state["save_error"] = _("Nothing to save yet: the run has not built its "
                                           "models.")
        return
    folder = None
    try:
        folder = ui.new_run_folder(run.snapshot().config)
        run.save(folder)
        ui.claim_run(folder)  # this session's to delete; read-only to other sessions
        st.session_state["saved_to"] = ui.shown_path(folder)
    except Exception as exc:  # disk full, permissions: say so, keep the run
        st.session_state["save_error"] = _("Could not save: {reason}").format(reason=exc)
        if folder is not None and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def controls(slot: ui.RunSlot, start: Callable[[], None], problem: str | None) -> None:
    run = slot.run
    snap = run.snapshot() if run else None
    active = snap is not None and snap.active
    paused = active and snap.status == "paused"
    can_save = run is not None  # Run.save is safe while training: no Pause needed
    cols = st.columns(8)
    cols[0].button(
        _("Start"),
        icon=":material/play_arrow:",
        on_click=start,
        type="primary",
        disabled=problem is not None,
        help=_("Start a new run with the settings in the sidebar (stops any current one)."),
    )
    if paused:
        cols[1].button(
            _("Resume"), icon=":material/resume:", on_click=run.resume,
            help=_("Continue training."),
        )
    else:
        cols[1].button(
            _("Pause"),
            icon=":material/pause:",
            on_click=run.pause if run else None,
            disabled=not active,
            help=_("Pause; then step by hand."),
        )
    step_help = _("One step while paused: {what}.")
    cols[2].button(
        _("Step"),
        on_click=_step,
        args=(run, True, True),
        disabled=not paused,
        help=step_help.format(what=_("d_steps D updates, then a G update")),
    )
    cols[3].button(
        _("D only"),
        on_click=_step,
        args=(run, True, False),
        disabled=not paused,
        help=step_help.format(what=_("only the discriminator learns")),
    )
    cols[4].button(
        _("G only"),
        on_click=_step,
        args=(run, False, True),
        disabled=not paused,
        help=step_help.format(what=_("only the generator learns")),
    )
    cols[5].button(
        _("Stop"),
        icon=":material/stop:",
        on_click=run.stop if run else None,
        disabled=not active,
        help=_("End the run; its state stays on screen and can be saved."),
    )
    cols[6].button(
        _("Save"),
        icon=":material/save:",
        on_click=_save,
        args=(run,),
        disabled=not can_save,
        help=_("Save a checkpoint to checkpoints/runs/ (see the Runs page)."),
    )
    cols[7].button(
        _("Reset"),
        icon=":material/restart_alt:",
        on_click=_reset,
        args=(slot,),
        disabled=run is None,
        help=_("Stop and discard the current run. Settings that came with it (from a lesson or "
               "a resumed run) go back to what they were, unless you have changed them since."),
    )
    if problem:
        shown = ui.reason(_(str(problem)))  # the common ones (your own data not given) translated
        st.error(_("Fix this setting to start: {problem}").format(problem=shown))
    if "saved_to" in st.session_state:
        where = ui.plain(str(st.session_state.pop("saved_to")))
        st.success(_("Saved to {path}.").format(path=where))
    if "save_error" in st.session_state:
        st.error(st.session_state.pop("save_error"))


# ---------------------------------------------------------------------- live view
def live_view(slot: ui.RunSlot, cfg: GANConfig | None) -> None:
    run = slot.run
    if run is None:
        st.info(
            _("Pick a preset in the sidebar (or set things by hand) and press **Start**. "
              "Curves and samples appear here while it trains.")
        )
        if cfg is not None:
            ui.data_preview_chart(cfg.dataset, "train.preview", _("The data (real, blue)"),
                                  _("The generator learns to draw these."))
        return
    polling = ui.await_first_picture(run).status in POLLING
    every = ui.REFRESH_SECONDS if polling else None

    @st.fragment(run_every=every)
    def view() -> None:
        snap = run.snapshot()
        if polling and snap.status not in POLLING:
            st.rerun()  # paused or ended: redraw the page (buttons) and stop polling
        draw(run, snap)

    view()


def draw(run: Run, snap: Snapshot) -> None:
    ui.progress_bar(snap)
    ui.status_message(snap)
    for note in snap.notes:
        st.caption(data_note(note))
    if not snap.history.get("step") and snap.latest is None:
        if snap.status != "queued":  # a queued run has not begun (status_message says so)
            st.caption(_("Building the models and loading the data…"))
        return
    _metrics(snap)
    gauges_ui.live_gauges(snap)
    _charts(snap)
    layers = _samples(run, snap)
    _downloads(run, snap, layers)


# The bundled digits' loading note (playground.data.loading) as templates, so it can be shown in
# the page's language; any other note is looked up whole.
DIGITS_NOTES = (
    (re.compile(r"^([\d,]+) scikit-learn digits, upscaled from (\d+)x\2 to (\d+)x\3$"),
     N_("{count} scikit-learn digits, upscaled from {side}x{side} to {size}x{size}")),
    (re.compile(r"^([\d,]+) scikit-learn digits, at their own (\d+)x\2$"),
     N_("{count} scikit-learn digits, at their own {side}x{side}")),
)


def data_note(note: str) -> str:
    """A sentence about loading the data, in the page's language where it has a translation."""
    for pattern, template in DIGITS_NOTES:
        if found := pattern.match(note):
            count, side, *size = found.groups()
            return _(template).format(count=count, side=side, size=size[0] if size else "")
    return _(note)


def _metrics(snap: Snapshot) -> None:
    h = snap.history
    last = {k: v[-1] for k, v in h.items() if v}
    cols = st.columns(4)
    # "Step" is also the single-step button's label; the counter has its own word elsewhere.
    counter = _("Step") if i18n.current() == DEFAULT else _("Step count")
    cols[0].metric(counter, f"{snap.step:,}")
    cols[1].metric(_("D loss"), f"{last['d_loss']:.3f}" if "d_loss" in last else "–")
    cols[2].metric(_("G loss"), f"{last['g_loss']:.3f}" if "g_loss" in last else "–")
    fast = snap.fast_paths
    cols[3].metric(
        _("Device"),
        snap.device or "–",
        help=_("GPU fast paths in use: {paths}.").format(paths=fast) if fast
        else _("Plain fp32, one kernel at a time."),
    )


# The losses chart's series; InfoGAN runs also log L_I (absent otherwise, so not drawn).
LOSS_SERIES = {"d_loss": N_("D loss"), "g_loss": N_("G loss"),
               "info_loss": N_("InfoGAN L_I (Q's error)")}
D_SERIES = {"d_real": N_("D(real)"), "d_fake": N_("D(fake)")}
ADA_SERIES = {"ada_p": "p", "ada_rt": "r_t"}


def _charts(snap: Snapshot) -> None:
    smoothing = st.slider(
        _("Curve smoothing"),
        0.0,
        0.99,
        0.6,
        0.01,
        key="smoothing",
        help=_("Exponential moving average over logged points; 0 shows raw values."),
    )
    h = snap.history
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(
        translated(figures.line_figure(h, LOSS_SERIES, N_("Losses"), smoothing)),
        key="chart_loss",
    )
    probability = snap.config is not None and LOSSES[snap.config.loss].probability
    title = N_("D's output (probability real)") if probability else N_("D's score")
    c2.plotly_chart(
        translated(figures.line_figure(h, D_SERIES, title, smoothing)),
        key="chart_d",
    )
    c3.plotly_chart(
        translated(
            figures.line_figure(
                h,
                {"g_grad_norm": "‖∇G‖", "d_grad_norm": "‖∇D‖"},
                N_("Gradient norms"),
                smoothing,
                log_y=True,
            )
        ),
        key="chart_grad",
    )
    if h.get("ada_p"):  # an ADA run: its augmentation probability p, tuned to keep r_t at target
        c1.plotly_chart(
            translated(figures.line_figure(h, ADA_SERIES, N_("ADA: p beside r_t"), 0.0)),
            key="chart_ada",
        )


def _pick_frame(snap: Snapshot) -> Frame:
    frames = snap.frames
    follow = st.toggle(
        _("Follow the latest samples"),
        value=True,
        key="follow_latest",
        help=_("Off: scrub back through earlier samples of the same noise."),
    )
    if follow or len(frames) < 2:
        return frames[-1]
    steps = [f.step for f in frames]
    chosen = st.select_slider(_("Samples at step"), options=steps, value=steps[-1],
                              key="frame_step")
    return frames[steps.index(chosen)]


def _samples(run: Run, snap: Snapshot) -> set[str]:
    """The samples at the chosen step; for 2D data, the layers switched on (else empty)."""
    if snap.latest is None:
        return set()
    frame = _pick_frame(snap)
    if snap.kind == "points":
        return _points_view(run, snap, frame)
    side = frame.samples.shape[2]  # small images (digits at 8 or 16 px) are enlarged crisply
    st.image(
        images.make_grid(frame.samples, upscale=max(1, 32 // side)),
        caption=_("Fixed noise at step {step}").format(step=f"{frame.step:,}"),
        width=min(512, 16 * max(32, side)),
        alt=_("The generator's images of its fixed noise at step {step}").format(
            step=f"{frame.step:,}"
        ),
    )
    return set()


LAYERS_ON = ("real", "generated", "decision")  # the 2D view's layers on at first


def _layer_toggles() -> set[str]:
    """A toggle per layer of the 2D view (figures.LAYERS), kept across pages and reruns."""
    on = set()
    for col, (name, (label, text)) in zip(
        st.columns(len(figures.LAYERS)), figures.LAYERS.items(), strict=True
    ):
        if col.toggle(_(label), value=name in LAYERS_ON, key=f"train.layer.{name}", help=_(text),
                      persist_state="session"):
            on.add(name)
    return on


def _points_view(run: Run, snap: Snapshot, frame: Frame) -> set[str]:
    """The 2D picture with the layers a person chose (returned), then slow motion."""
    layers = _layer_toggles()
    real = ui.shown_real_points(run)
    title = _("Real (blue) vs generated (orange) at step {step}; background: D's score")
    fig = translated(figures.layered_figure(
        frame, real, snap.extent, layers, title=title.format(step=f"{frame.step:,}"),
    ))
    st.plotly_chart(fig, key="chart_points")
    if "manifold" in layers and frame.manifold is not None:
        st.caption(figures.plane_caption(frame.manifold.plane, snap.config.latent_dim, _))
    if "arrows" in layers and frame.arrows is not None:
        st.caption(_("Arrows: −∂L_G/∂x at 128 fixed-noise fakes, scaled (median length "
                     "{length} before scaling).").format(length=f"{frame.arrows.median_norm:.3g}"))
    slowmo_ui.panel(run, snap, real, "train")
    return layers


def frame_picture(run: Run, snap: Snapshot, frame: Frame, layers: set[str]) -> np.ndarray:
    """A frame as the PNG and GIF downloads draw it: a 2D run with the `layers` switched on."""
    if snap.kind == "points":
        return images.layered_image(frame, ui.shown_real_points(run), snap.extent, layers, size=384)
    return images.make_grid(frame.samples)


def _downloads(run: Run, snap: Snapshot, layers: set[str]) -> None:
    cols = st.columns(3)
    latest = snap.latest
    if latest is None:
        return
    cols[0].download_button(
        _("Samples (PNG)"),
        data=lambda: images.png_bytes(frame_picture(run, snap, latest, layers)),
        file_name=f"samples-step{latest.step}.png",
        mime="image/png",
        key="dl_png",
    )
    cols[1].download_button(
        _("Loss history (CSV)"),
        data=lambda: history_csv(snap.history),
        file_name="history.csv",
        mime="text/csv",
        key="dl_csv",
    )
    cols[2].download_button(
        _("Timelapse (GIF)"),
        data=lambda: images.gif_bytes([frame_picture(run, snap, f, layers) for f in snap.frames]),
        file_name="timelapse.gif",
        mime="image/gif",
        key="dl_gif",
        disabled=len(snap.frames) < 2,
    )


def history_csv(history: dict[str, list[float]]) -> str:
    keys = list(history)
    out = io.StringIO()
    out.write(",".join(keys) + "\n")
    for row in zip(*(history[k] for k in keys), strict=True):
        out.write(",".join(f"{v:g}" for v in row) + "\n")
    return out.getvalue()




def loss_formula(loss: str) -> None:
    """The chosen loss's formula and its sentence, in the main area where it has room (the
    sidebar cut it); the sentence in the page's language."""
    entry = LOSSES[loss]
    st.latex(entry.formula)
    st.caption(f"**{loss}**: {_(entry.sentence)}")
