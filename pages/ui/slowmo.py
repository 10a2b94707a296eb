"""Slow motion on a paused 2D run (Train and Lessons pages): a "Next phase" button runs D's
update, then G's, and shows each before and after with its formula term highlighted. The phases
and their texts are playground.runs.slowmo's; this module only draws them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.ui import common as ui
from playground.runs import slowmo
from playground.runs.runner import Run
from playground.runs.snapshots import Snapshot
from playground.views import figures

MOVE_COLOUR = "#9467bd"
HEIGHT = 380


def _state(prefix: str, run: Run) -> dict:
    """This run's slow-motion state in the session: the next phase and the last result."""
    state = st.session_state.setdefault(f"{prefix}.slowmo", {})
    if state.get("uid") != run.uid:  # a new run starts again at D's phase
        state.clear()
        state.update(uid=run.uid, next="d", result=None, error=None)
    return state


def _play(run: Run, state: dict) -> None:
    try:
        state["result"] = slowmo.play(run, state["next"])
        state["error"] = None
        state["next"] = "g" if state["next"] == "d" else "d"
    except slowmo.SlowMotionError as exc:
        state["error"] = str(exc)


def panel(run: Run, snap: Snapshot, real: np.ndarray | None, prefix: str) -> None:
    """The slow-motion controls and the last phase's pictures, under the 2D view."""
    if snap.kind != "points" or not snap.active:
        return
    st.subheader("Slow motion")
    if snap.status != "paused":
        st.session_state.pop(f"{prefix}.slowmo", None)  # the next pause starts at D's phase
        st.caption("Pause the run to watch one training step in slow motion: D's update, then "
                   "G's, each shown before and after.")
        return
    state = _state(prefix, run)
    label = f"Next phase: {slowmo.PHASE_NAMES[state['next']]}"
    st.button(label, key=f"{prefix}.slowmo.next", on_click=_play, args=(run, state),
              icon=":material/slow_motion_video:",
              help="Run one phase of one training step and show what it changed.")
    if state["error"]:
        st.error(f"Slow motion: {ui.plain(str(state['error']))}")
    result = state["result"]
    if result is None:
        st.caption("Each press runs one phase of a training step: first D learns with G "
                   "frozen, then G learns with D frozen.")
        return
    _show(result, snap, real, prefix)


def _show(result: slowmo.PhaseResult, snap: Snapshot, real: np.ndarray | None,
          prefix: str) -> None:
    loss, d_steps = snap.config.loss, snap.config.d_steps
    # Both phases make the same step: D's leaves the counter, G's moves it on by one.
    step = f"step {result.before.step:,} → {result.before.step + 1:,}"
    if result.phase == "d":
        step += ", first half"
    st.markdown(f"**Phase {1 if result.phase == 'd' else 2}: "
                f"{slowmo.PHASE_NAMES[result.phase]}** ({step})")
    st.latex(slowmo.formula(loss, result.phase))
    st.write(slowmo.sentence(loss, result.phase, d_steps))
    if result.phase == "d":
        _show_d(result, snap, real, prefix)
    else:
        _show_g(result, snap, real, prefix)


def _show_d(result: slowmo.PhaseResult, snap: Snapshot, real, prefix: str) -> None:
    cols = st.columns(3)
    for col, frame, name in ((cols[0], result.before, "before"), (cols[1], result.after, "after")):
        fig = figures.layered_figure(frame, real, snap.extent, {"real", "generated", "decision"},
                                     title=f"D's map {name}", height=HEIGHT, colorbar=False)
        col.plotly_chart(fig, key=f"{prefix}.slowmo.d.{name}")
    change = result.decision_change
    cols[2].plotly_chart(
        figures.change_figure(change, snap.extent, real, result.before.samples,
                              title="What changed (after − before)", height=HEIGHT),
        key=f"{prefix}.slowmo.d.change")
    st.caption(f"One step changes D's map by at most {np.abs(change).max():.2g}, too little "
               "to see side by side: the third picture shows the change on its own scale, blue "
               "where D's output rose, red where it fell. G's samples did not move.")


def _show_g(result: slowmo.PhaseResult, snap: Snapshot, real, prefix: str) -> None:
    before, after = result.before, result.after
    moved = result.displacement[: len(before.arrows.vectors)]
    factor = slowmo.magnification(moved, snap.extent)
    scale = "true size" if factor == 1 else f"×{factor:,.0f}" if factor >= 10 else f"×{factor:.2g}"
    cols = st.columns(2)
    fig = figures.layered_figure(before, real, snap.extent,
                                 {"real", "generated", "decision", "arrows"},
                                 title="Before: each fake's arrow", height=HEIGHT,
                                 colorbar=False)
    cols[0].plotly_chart(fig, key=f"{prefix}.slowmo.g.before")
    fig = figures.layered_figure(after, real, snap.extent, {"real", "generated", "decision"},
                                 title=f"After: where each moved ({scale})",
                                 height=HEIGHT, colorbar=False)
    figures.add_arrows(fig, before.arrows.starts, moved * factor,
                       f"movement ({scale})", MOVE_COLOUR)
    cols[1].plotly_chart(fig, key=f"{prefix}.slowmo.g.after")
    cosine = result.arrow_cosine()
    agreement = "" if np.isnan(cosine) else (
        f" The movements point along the arrows with a mean cosine of {cosine:.2f} (1 would "
        "be exactly along them).")
    longest = float(np.linalg.norm(moved, axis=1).max())
    drawn = "at its true size" if factor == 1 else f"{scale[1:]} times larger"
    ema = snap.config.ema
    averaged = (f" With EMA on, the pictures show G's moving average (decay {ema:g}): each "
                f"step it moves {1 - ema:.2g} of the way to G's new weights, so its samples "
                "follow the arrows only loosely." if ema else "")
    st.caption(f"One step moves a fake by at most {longest:.2g}: the purple arrows draw each "
               f"movement {drawn}. D's map did not change.{agreement}{averaged}")
