"""A side-by-side lesson's live view (lesson 3's two losses, say): each member's 2D view and
their G gradient norms on one chart."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui import lessons as lessons_ui
from playground.lessons.catalogue import (
    Lesson,
    TeacherView,
)


def live_side_by_side(lesson: Lesson, runner, view: TeacherView) -> None:
    """The members of a side-by-side lesson, and their G gradient norms on one chart."""
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
            st.caption("Waiting for the cluster to start the runs…")
            return
        grads = go.Figure()
        for variant, member in zip(lesson.variants, members, strict=True):
            h = member.history
            grads.add_trace(
                go.Scatter(
                    x=h.get("step", []),
                    y=h.get("g_grad_norm", []),
                    name=f"{variant.label}: ‖∇G‖",
                    mode="lines",
                )
            )
        grads.update_layout(
            title="G's gradient norm, side by side",
            height=300,
            yaxis_type="log",
            margin=dict(l=10, r=10, t=40, b=10),
            xaxis_title="step",
            legend=dict(orientation="h", y=-0.3),
        )
        st.plotly_chart(grads, key="lessons.side.grads")
        cols = st.columns(len(members))
        for col, variant, member in zip(cols, lesson.variants, members, strict=True):
            if member.latest is None:
                col.caption("Building the models…")
                continue
            fig = lessons_ui.view_figure(
                member.latest,
                lessons_ui.mode_centres(member.config.dataset),
                member.extent,
                {"decision"},
                title=variant.label,
                height=400,
            )
            col.plotly_chart(fig, key=f"lessons.side.{variant.label}")

    live()
