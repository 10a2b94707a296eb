"""CycleGAN's picture on 2D points, as a plotly figure: domain A's points, their translations
G(A) drawn over domain B's points, and the round trip F(G(A)) with a thin line from each point
to where its round trip brought it (short lines: the maps undo each other; long lines crossing
the picture: which point goes where was scrambled). Plotly only, no streamlit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go

from playground.views.figures import SERIES_COLOURS

A_COLOUR, B_COLOUR, TRANSLATED_COLOUR, RETURNED_COLOUR = (
    SERIES_COLOURS[0], SERIES_COLOURS[4], SERIES_COLOURS[1], SERIES_COLOURS[3]
)
TRIP_COLOUR = "rgba(60, 60, 60, 0.35)"


def trip_segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One start→end segment per row of `starts` and `ends` (both (N, 2)), NaN-separated (a gap
    in a plotly line): x and y arrays of 3N values."""
    segments = np.full((len(starts), 3, 2), np.nan, dtype=np.float32)
    segments[:, 0], segments[:, 1] = starts, ends
    flat = segments.reshape(-1, 2)
    return flat[:, 0], flat[:, 1]


def round_trip_figure(
    a: np.ndarray,
    translated: np.ndarray,
    b: np.ndarray,
    returned: np.ndarray,
    title: str = "",
    height: int = 480,
    translate: Callable[[str], str] = str,
) -> go.Figure:
    """A's points `a` (N, 2), G(a) `translated` (N, 2) over B's points `b` (M, 2), and the
    round trip F(G(a)) `returned` (N, 2) with a line from each a to its F(G(a))."""
    t = translate
    fig = go.Figure()
    xs, ys = trip_segments(a, returned)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=t("round trip a → F(G(a))"),
                             hoverinfo="skip", line=dict(color=TRIP_COLOUR, width=1)))
    for points, name, colour, symbol in (
        (b, t("B"), B_COLOUR, "circle"),
        (a, t("A"), A_COLOUR, "circle"),
        (translated, t("G(A): A translated into B"), TRANSLATED_COLOUR, "x"),
        (returned, t("F(G(A)): the round trip"), RETURNED_COLOUR, "diamond"),
    ):
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name=name,
                                 marker=dict(size=4, color=colour, symbol=symbol)))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.05))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig
