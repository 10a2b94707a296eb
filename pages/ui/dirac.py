"""The Lessons page's Dirac-GAN panel (lesson 4): the two-parameter game's paths under each loss
and update rule, drawn over its gradient field."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.ui.i18n import _
from playground.lessons import dirac
from playground.lessons.catalogue import (
    Lesson,
    TeacherView,
)
from playground.views import figures


# ---------------------------------------------------------------------- the Dirac-GAN
@st.cache_data(show_spinner=False, max_entries=64)
def _dirac_paths(setup: dirac.DiracSetup) -> dict[str, np.ndarray]:
    plain = replace(setup, regulariser="none")
    return {
        "simultaneous": dirac.trajectory(replace(plain, mode="simultaneous")),
        "alternating": dirac.trajectory(replace(plain, mode="alternating")),
        "regularised": dirac.trajectory(setup),
    }


def dirac_panel(lesson: Lesson, view: TeacherView) -> None:
    """The Dirac-GAN's vector field and three trajectories (drawn at once: no training)."""
    st.subheader(_("The Dirac-GAN"))
    base = lesson.dirac or dirac.DiracSetup()
    locked = view.locked
    cols = st.columns(4)
    loss = cols[0].selectbox(
        _("Loss"),
        dirac.DIRAC_LOSSES,
        index=dirac.DIRAC_LOSSES.index(base.loss),
        key="lessons.dirac.loss",
        disabled=locked,
        help=_(dirac.loss_help()),
    )
    reg = cols[1].selectbox(
        _("Regulariser"),
        dirac.REGULARISERS[1:],
        key="lessons.dirac.reg",
        disabled=locked,
        help=_(
            "r1: γ/2·ψ² on D. gp: WGAN-GP's λ(|ψ| − 1)². "
            "noise: instance noise of std σ on D's inputs."
        ),
    )
    strength = cols[2].number_input(
        _("Strength (γ, λ or σ)"),
        0.0,
        100.0,
        1.0,
        0.1,
        key="lessons.dirac.strength",
        disabled=locked,
    )
    lr = cols[3].number_input(
        _("Learning rate h"), 0.01, 1.0, base.lr, 0.01, key="lessons.dirac.lr", disabled=locked
    )
    setup = replace(base, loss=loss, regulariser=reg, strength=float(strength), lr=float(lr))
    paths = _dirac_paths(setup)
    st.plotly_chart(dirac_figure(setup, paths), key="lessons.dirac.figure")
    verdicts = [
        _("**{name}**: {verdict} (distance {start} → {end})").format(
            name=_(name),
            verdict=_(dirac.verdict(path)),
            start=f"{dirac.distances(path)[0]:.2f}",
            end=f"{dirac.distances(path)[-1]:.3g}",
        )
        for name, path in paths.items()
    ]
    st.markdown(" · ".join(verdicts))


def dirac_figure(setup: dirac.DiracSetup, paths: dict[str, np.ndarray]) -> go.Figure:
    theta, psi, v_theta, v_psi = dirac.vector_field(setup, span=2.0, resolution=15)
    xs, ys, sizes = figures.arrow_segments(
        np.stack([theta.ravel(), psi.ravel()], axis=1),
        0.12
        * np.stack([v_theta.ravel(), v_psi.ravel()], axis=1)
        / max(np.hypot(v_theta, v_psi).max(), 1e-12)
        * 2.0,
    )
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            name=_("gradient field"),
            line=dict(color="#999", width=1),
            hoverinfo="skip",
            marker=dict(symbol="arrow", angleref="previous", size=sizes, color="#999"),
        )
    )
    # Okabe–Ito colours, told apart by their dash too (not by red against green).
    colours = {"simultaneous": "#D55E00", "alternating": "#0072B2", "regularised": "#009E73"}
    dashes = {"simultaneous": "solid", "alternating": "dash", "regularised": "dot"}
    names = {
        "simultaneous": _("simultaneous steps"),
        "alternating": _("alternating steps"),
        "regularised": _("simultaneous, {regulariser} {strength}").format(
            regulariser=setup.regulariser, strength=f"{setup.strength:g}"
        ),
    }
    for key, path in paths.items():
        fig.add_trace(
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines",
                name=names[key],
                line=dict(color=colours[key], width=2.5, dash=dashes[key]),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0],
            y=[0],
            mode="markers",
            name=_("equilibrium"),
            marker=dict(symbol="x", size=12, color="black"),
        )
    )
    fig.update_layout(
        height=480,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title=_("θ (G's point)"), range=[-2.2, 2.2], constrain="domain"),
        yaxis=dict(
            title=_("ψ (D's slope)"), range=[-2.2, 2.2], scaleanchor="x", constrain="domain"
        ),
        legend=dict(orientation="h", y=-0.15),
    )
    return fig
