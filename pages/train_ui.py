"""The Train page's controls and live view (drawing only; the run itself is `playground`'s)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import streamlit as st
import torch

from pages import ui
from playground import images
from playground.config import PRESETS
from playground.runner import Frame, Run, Snapshot

POLLING = ("starting", "running")  # statuses during which the live view redraws by itself


def apply_pending_preset() -> None:
    """Another page asked for a preset (the home page's one-click starts)."""
    name = st.session_state.pop("pending_preset", None)
    if name in PRESETS:
        st.session_state["preset"] = name
        ui.load_into_widgets(PRESETS[name].config())


# ---------------------------------------------------------------------- controls
def _step(run: Run, d: bool, g: bool) -> None:
    """Queue one manual step and wait briefly for it, so the redraw shows its result."""
    before = run.trainer.step if run.trainer else 0
    if run.step(d=d, g=g):
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and run.trainer and run.trainer.step == before:
            time.sleep(0.01)


def _save(run: Run) -> None:
    folder = ui.new_run_folder(run.trainer.cfg)
    try:
        run.save(folder)
        st.session_state["saved_to"] = str(folder.relative_to(ui.ROOT))
    except Exception as exc:  # disk full, permissions: say so, keep the run
        st.session_state["save_error"] = f"Could not save: {exc}"


def controls(slot: ui.RunSlot, start: Callable[[], None], problem: str | None) -> None:
    run = slot.run
    snap = run.snapshot() if run else None
    active = snap is not None and snap.active
    paused = active and snap.status == "paused"
    can_save = run is not None and run.trainer is not None
    cols = st.columns(8)
    cols[0].button(
        "Start",
        icon=":material/play_arrow:",
        on_click=start,
        type="primary",
        disabled=problem is not None,
        help="Start a new run with the settings in the sidebar (stops any current one).",
    )
    if paused:
        cols[1].button(
            "Resume", icon=":material/resume:", on_click=run.resume, help="Continue training."
        )
    else:
        cols[1].button(
            "Pause",
            icon=":material/pause:",
            on_click=run.pause if run else None,
            disabled=not active,
            help="Pause; then step by hand.",
        )
    step_help = "One step while paused: {}."
    cols[2].button(
        "Step",
        on_click=_step,
        args=(run, True, True),
        disabled=not paused,
        help=step_help.format("d_steps D updates, then a G update"),
    )
    cols[3].button(
        "D only",
        on_click=_step,
        args=(run, True, False),
        disabled=not paused,
        help=step_help.format("only the discriminator learns"),
    )
    cols[4].button(
        "G only",
        on_click=_step,
        args=(run, False, True),
        disabled=not paused,
        help=step_help.format("only the generator learns"),
    )
    cols[5].button(
        "Stop",
        icon=":material/stop:",
        on_click=run.stop if run else None,
        disabled=not active,
        help="End the run; its state stays on screen and can be saved.",
    )
    cols[6].button(
        "Save",
        icon=":material/save:",
        on_click=_save,
        args=(run,),
        disabled=not can_save,
        help="Save a checkpoint to checkpoints/runs/ (see the Runs page).",
    )
    cols[7].button(
        "Reset",
        icon=":material/restart_alt:",
        on_click=slot.replace,
        args=(None,),
        disabled=run is None,
        help="Stop and discard the current run.",
    )
    if problem:
        st.error(f"Fix this setting to start: {problem}")
    if "saved_to" in st.session_state:
        st.success(f"Saved to `{st.session_state.pop('saved_to')}`.")
    if "save_error" in st.session_state:
        st.error(st.session_state.pop("save_error"))


# ---------------------------------------------------------------------- live view
def live_view(slot: ui.RunSlot) -> None:
    run = slot.run
    if run is None:
        st.info(
            "Pick a preset in the sidebar (or set things by hand) and press **Start**. "
            "Curves and samples appear here while it trains."
        )
        return
    polling = run.snapshot().status in POLLING
    every = ui.REFRESH_SECONDS if polling else None

    @st.fragment(run_every=every)
    def view() -> None:
        snap = run.snapshot()
        if polling and snap.status not in POLLING:
            st.rerun()  # paused or ended: redraw the page (buttons) and stop polling
        draw(run, snap)

    view()


def draw(run: Run, snap: Snapshot) -> None:
    _progress(snap)
    ui.status_message(snap)
    for note in snap.info.get("notes", []):
        st.caption(note)
    if not snap.history.get("step") and snap.latest is None:
        st.caption("Building the models and loading the data…")
        return
    _metrics(snap)
    _charts(snap)
    _samples(run, snap)
    _downloads(run, snap)


def _progress(snap: Snapshot) -> None:
    fraction = min(1.0, snap.step / max(snap.total_steps, 1))
    text = f"{snap.status} · step {snap.step:,} / {snap.total_steps:,}"
    if snap.steps_per_sec:
        text += f" · {snap.steps_per_sec:,.0f} steps/s"
    if snap.eta_seconds is not None:
        text += f" · ETA {_duration(snap.eta_seconds)}"
    st.progress(fraction, text=text)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _metrics(snap: Snapshot) -> None:
    h = snap.history
    last = {k: v[-1] for k, v in h.items() if v}
    cols = st.columns(4)
    cols[0].metric("Step", f"{snap.step:,}")
    cols[1].metric("D loss", f"{last['d_loss']:.3f}" if "d_loss" in last else "–")
    cols[2].metric("G loss", f"{last['g_loss']:.3f}" if "g_loss" in last else "–")
    cols[3].metric("Device", snap.device or "–")


def _charts(snap: Snapshot) -> None:
    smoothing = st.slider(
        "Curve smoothing",
        0.0,
        0.99,
        0.6,
        0.01,
        key="smoothing",
        help="Exponential moving average over logged points; 0 shows raw values.",
    )
    h = snap.history
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(
        ui.line_figure(h, {"d_loss": "D loss", "g_loss": "G loss"}, "Losses", smoothing),
        key="chart_loss",
    )
    probability = snap.config is not None and snap.config.loss in ("minimax", "nonsaturating")
    title = "D's output (probability real)" if probability else "D's score"
    c2.plotly_chart(
        ui.line_figure(h, {"d_real": "D(real)", "d_fake": "D(fake)"}, title, smoothing),
        key="chart_d",
    )
    c3.plotly_chart(
        ui.line_figure(
            h,
            {"g_grad_norm": "‖∇G‖", "d_grad_norm": "‖∇D‖"},
            "Gradient norms",
            smoothing,
            log_y=True,
        ),
        key="chart_grad",
    )


def _pick_frame(snap: Snapshot) -> Frame:
    frames = snap.frames
    follow = st.toggle(
        "Follow the latest samples",
        value=True,
        key="follow_latest",
        help="Off: scrub back through earlier samples of the same noise.",
    )
    if follow or len(frames) < 2:
        return frames[-1]
    steps = [f.step for f in frames]
    chosen = st.select_slider("Samples at step", options=steps, value=steps[-1], key="frame_step")
    return frames[steps.index(chosen)]


def _samples(run: Run, snap: Snapshot) -> None:
    if snap.latest is None:
        return
    frame = _pick_frame(snap)
    if snap.kind == "points":
        fig = ui.points_figure(
            frame.samples,
            _real_points(run),
            snap.extent,
            frame.decision,
            title=f"Real (blue) vs generated (orange) at step {frame.step:,}; "
            "background: D's score",
        )
        st.plotly_chart(fig, key="chart_points")
    else:
        st.image(
            images.make_grid(frame.samples),
            caption=f"Fixed noise at step {frame.step:,}",
            width=min(512, 16 * frame.samples.shape[2]),
        )


def _real_points(run: Run) -> np.ndarray | None:
    cache = st.session_state.setdefault("_real_points", {})
    if id(run) not in cache and run.trainer is not None:
        cache.clear()
        gen = torch.Generator(run.trainer.device).manual_seed(7)
        real, _ = run.trainer.data.sample(1000, gen)
        cache[id(run)] = real.cpu().numpy()
    return cache.get(id(run))


def _frame_picture(run: Run, snap: Snapshot, frame: Frame) -> np.ndarray:
    if snap.kind == "points":
        return images.scatter_image(frame.samples, _real_points(run), snap.extent, size=384)
    return images.make_grid(frame.samples)


def _downloads(run: Run, snap: Snapshot) -> None:
    cols = st.columns(3)
    latest = snap.latest
    if latest is None:
        return
    cols[0].download_button(
        "Samples (PNG)",
        data=lambda: images.png_bytes(_frame_picture(run, snap, latest)),
        file_name=f"samples-step{latest.step}.png",
        mime="image/png",
        key="dl_png",
    )
    cols[1].download_button(
        "Loss history (CSV)",
        data=lambda: history_csv(snap.history),
        file_name="history.csv",
        mime="text/csv",
        key="dl_csv",
    )
    cols[2].download_button(
        "Timelapse (GIF)",
        data=lambda: images.gif_bytes([_frame_picture(run, snap, f) for f in snap.frames]),
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
