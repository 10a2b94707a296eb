"""A side-by-side lesson's live view (lesson 2's collapse and its fix, lesson 3's two losses):
each member's 2D view and one chart comparing them (G's gradient norms, or the modes held)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui import i18n
from pages.ui import lessons as lessons_ui
from pages.ui.i18n import _
from playground.data.registry import mixture_spec
from playground.lessons.catalogue import (
    Lesson,
    TeacherView,
)
from playground.measures.metrics import coverage_2d
from playground.views import figures


def _grad_figure(lesson: Lesson, members) -> go.Figure:
    grads = go.Figure()
    for variant, member in zip(lesson.variants, members, strict=True):
        h = member.history
        grads.add_trace(
            go.Scatter(
                x=h.get("step", []),
                y=h.get("g_grad_norm", []),
                name=f"{_(variant.label)}: ‖∇G‖",
                mode="lines",
            )
        )
    grads.update_layout(
        title=_("G's gradient norm, side by side"),
        height=300,
        yaxis_type="log",
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title=_("step"),
        legend=dict(orientation="h", y=-0.3),
    )
    return grads


def _held_figure(lesson: Lesson, members, centres, sigma) -> go.Figure:
    fig = figures.modes_held_figure(
        [
            (_(v.label), *ui.held_series(m.frames, centres, sigma))
            for v, m in zip(lesson.variants, members, strict=True)
        ],
        len(centres),
        _("Modes held (of {total}), side by side").format(total=len(centres)),
        height=300,
    )
    fig.update_layout(legend=dict(orientation="h", y=-0.3))
    return fig


def member_summary(label: str, member, centres, sigma) -> str:
    """A member's picture in one line of words (its text alternative)."""
    frame = member.latest
    text = _("**{run}**, step {step}").format(run=_(label), step=f"{frame.step:,}")
    if centres is not None:
        m = coverage_2d(frame.samples, centres, sigma)
        text += ": " + _("{held} of {total} modes held").format(
            held=m["modes_held"], total=m["modes_total"]
        )
    return text


def live_side_by_side(lesson: Lesson, runner, view: TeacherView) -> None:
    """The members of a side-by-side lesson, and the chart that compares them."""
    active = runner.snapshot().active

    @st.fragment(run_every=ui.REFRESH_SECONDS if active else None)
    def live() -> None:
        snap = runner.snapshot()
        if active and not snap.active:
            st.rerun()
        ui.progress_bar(snap)
        if snap.error:
            st.error(snap.error)
        if view.shows("controls"):
            lessons_ui.run_controls(runner, snap)
        members = snap.members
        if not members:  # a run on the Ray cluster has none until an actor takes it
            st.caption(_("Waiting for the cluster to start the runs…"))
            return
        spec = mixture_spec(members[0].config.dataset)
        centres, sigma = spec if spec is not None else (None, None)
        if lesson.compare == "modes_held" and centres is not None:
            chart = _held_figure(lesson, members, centres, sigma)
        else:
            chart = _grad_figure(lesson, members)
        st.plotly_chart(i18n.translated(chart), key="lessons.side.chart")
        cols = st.columns(len(members))
        for col, variant, member in zip(cols, lesson.variants, members, strict=True):
            if member.latest is None:
                col.caption(_("Building the models…"))
                continue
            fig = lessons_ui.view_figure(
                member.latest,
                lessons_ui.mode_centres(member.config.dataset),
                member.extent,
                set(lesson.layers) & {"decision", "manifold"},
                title=_(variant.label),
                height=400,
            )
            col.plotly_chart(fig, key=f"lessons.side.{variant.label}")
            col.caption(member_summary(variant.label, member, centres, sigma))

    live()
