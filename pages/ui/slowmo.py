"""Slow motion on a paused 2D run (Train and Lessons pages): a "Next phase" button runs D's
update, then G's, and shows each before and after with its formula term highlighted. The phases
and their texts are playground.runs.slowmo's; this module only draws them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.ui import common as ui
from pages.ui.i18n import _, translated
from playground.objectives.losses import LOSSES
from playground.runs import slowmo
from playground.runs.runner import Run
from playground.runs.snapshots import Snapshot
from playground.texts.catalogue import N_
from playground.views import figures

MOVE_COLOUR = "#000000"  # black: apart from the blue and orange points in every colour vision
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
    st.subheader(_("Slow motion"))
    if snap.status != "paused":
        st.session_state.pop(f"{prefix}.slowmo", None)  # the next pause starts at D's phase
        st.caption(_("Pause the run to watch one training step in slow motion: D's update, "
                     "then G's, each shown before and after."))
        return
    state = _state(prefix, run)
    label = _("Next phase: {phase}").format(phase=_(slowmo.PHASE_NAMES[state["next"]]))
    st.button(label, key=f"{prefix}.slowmo.next", on_click=_play, args=(run, state),
              icon=":material/slow_motion_video:",
              help=_("Run one phase of one training step and show what it changed."))
    if state["error"]:
        st.error(_("Slow motion: {reason}").format(reason=ui.reason(state["error"])))
    result = state["result"]
    if result is None:
        st.caption(_("Each press runs one phase of a training step: first D learns with G "
                     "frozen, then G learns with D frozen."))
        return
    _show(result, snap, real, prefix)


def _show(result: slowmo.PhaseResult, snap: Snapshot, real: np.ndarray | None,
          prefix: str) -> None:
    loss, d_steps = snap.config.loss, snap.config.d_steps
    # Both phases make the same step: D's leaves the counter, G's moves it on by one.
    numbers = dict(step=f"{result.before.step:,}", next=f"{result.before.step + 1:,}")
    if result.phase == "d":
        step = _("step {step} → {next}, first half").format(**numbers)
    else:
        step = _("step {step} → {next}").format(**numbers)
    st.markdown(_("**Phase {number}: {phase}** ({step})").format(
        number=1 if result.phase == "d" else 2, phase=_(slowmo.PHASE_NAMES[result.phase]),
        step=step))
    st.latex(slowmo.formula(loss, result.phase))
    st.write(phase_sentence(loss, result.phase, d_steps))
    if result.phase == "d":
        _show_d(result, snap, real, prefix)
    else:
        _show_g(result, snap, real, prefix)


def _colour_key(decision) -> str:
    """What the colours of D's maps mean, in words (the maps are drawn without a colour bar,
    which would shrink them beside each other)."""
    if decision is None:
        return ""
    lo, hi = float(np.nanmin(decision)), float(np.nanmax(decision))
    return _("Colours of D's maps: blue where D says real (up to {hi}), red where it says fake "
             "(down to {lo}).").format(hi=f"{hi:.2g}", lo=f"{lo:.2g}")


def _show_d(result: slowmo.PhaseResult, snap: Snapshot, real, prefix: str) -> None:
    cols = st.columns(3)
    titles = {"before": _("D's map before"), "after": _("D's map after")}
    for col, frame, name in ((cols[0], result.before, "before"), (cols[1], result.after, "after")):
        fig = figures.layered_figure(frame, real, snap.extent, {"real", "generated", "decision"},
                                     title=titles[name], height=HEIGHT, colorbar=False)
        col.plotly_chart(translated(fig), key=f"{prefix}.slowmo.d.{name}")
    st.caption(_colour_key(result.before.decision))
    change = result.decision_change
    cols[2].plotly_chart(
        translated(figures.change_figure(change, snap.extent, real, result.before.samples,
                                         title=_("What changed (after − before)"),
                                         height=HEIGHT)),
        key=f"{prefix}.slowmo.d.change")
    st.caption(_("One step changes D's map by at most {most}, too little to see side by side: "
                 "the third picture shows the change on its own scale, blue where D's output "
                 "rose, red where it fell. G's samples did not move.").format(
                     most=f"{np.abs(change).max():.2g}"))


def _show_g(result: slowmo.PhaseResult, snap: Snapshot, real, prefix: str) -> None:
    before, after = result.before, result.after
    moved = result.displacement[: len(before.arrows.vectors)]
    factor = slowmo.magnification(moved, snap.extent)
    scale = (_("true size") if factor == 1
             else f"×{factor:,.0f}" if factor >= 10 else f"×{factor:.2g}")
    cols = st.columns(2)
    fig = figures.layered_figure(before, real, snap.extent,
                                 {"real", "generated", "decision", "arrows"},
                                 title=_("Before: each fake's arrow"), height=HEIGHT,
                                 colorbar=False)
    cols[0].plotly_chart(translated(fig), key=f"{prefix}.slowmo.g.before")
    fig = figures.layered_figure(after, real, snap.extent, {"real", "generated", "decision"},
                                 title=_("After: where each moved ({scale})").format(scale=scale),
                                 height=HEIGHT, colorbar=False)
    figures.add_arrows(fig, before.arrows.starts, moved * factor,
                       _("movement ({scale})").format(scale=scale), MOVE_COLOUR)
    cols[1].plotly_chart(translated(fig), key=f"{prefix}.slowmo.g.after")
    st.caption(_colour_key(before.decision))
    cosine = result.arrow_cosine()
    agreement = "" if np.isnan(cosine) else " " + _(
        "The movements point along the arrows with a mean cosine of {cosine} (1 would "
        "be exactly along them).").format(cosine=f"{cosine:.2f}")
    longest = float(np.linalg.norm(moved, axis=1).max())
    drawn = (_("at its true size") if factor == 1
             else _("{times} times larger").format(times=scale[1:]))
    ema = snap.config.ema
    averaged = " " + _(
        "With EMA on, the pictures show G's moving average (decay {decay}): each step it "
        "moves {share} of the way to G's new weights, so its samples follow the arrows only "
        "loosely.").format(decay=f"{ema:g}", share=f"{1 - ema:.2g}") if ema else ""
    st.caption(_("One step moves a fake by at most {longest}: the black arrows draw each "
                 "movement {drawn}. D's map did not change.").format(
                     longest=f"{longest:.2g}", drawn=drawn) + agreement + averaged)


def phase_sentence(loss: str, phase: str, d_steps: int) -> str:
    """slowmo.sentence in the page's language: the same sentence built from its translated
    parts (the registry's words included), or the engine's own where the two differ."""
    english = slowmo.sentence(loss, phase, d_steps)
    entry = LOSSES[loss]
    if phase == "d":
        player = N_("D") if entry.probability or entry.lipschitz == "none" else N_("The critic")
        updates = (N_("one update") if d_steps == 1
                   else N_("{n} updates (d_steps)"))
        aim = entry.d_aim or (
            N_("raises its probability of 'real' on the real points and lowers it on the fakes")
            if entry.probability
            else N_("raises its score on the real points and lowers it on the fakes")
        )
        template = N_("{player} takes {updates} while G is frozen: it {aim}.")
        parts = dict(player=player, updates=updates.format(n=d_steps), aim=aim)
        shown = dict(player=_(player), updates=_(updates).format(n=d_steps), aim=_(aim))
    else:
        template = N_("G takes one update while D is frozen: the fakes move roughly along their "
                      "green arrows, −∂L_G/∂x, towards where D says 'real' (G's shared weights "
                      "and the optimiser's momentum bend each path).{note}")
        note = f" {entry.g_note}" if entry.g_note else ""
        parts = dict(note=note)
        shown = dict(note=f" {_(entry.g_note)}" if entry.g_note else "")
    if template.format(**parts) != english:  # the engine's words changed: shown as they are
        return _(english)
    return _(template).format(**shown)
