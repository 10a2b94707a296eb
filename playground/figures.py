"""The live charts, as plotly figures: loss curves and the 2D view (points over D's map).

The Train, Lessons and Explore pages draw them (through pages/ui.py) and the bench measures what
building and sending them costs, so both use these builders. Plotly only, no streamlit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def smooth(values: list[float], weight: float) -> np.ndarray:
    """Exponential moving average, as TensorBoard's smoothing slider does (weight in [0, 1))."""
    out = np.empty(len(values))
    last = values[0] if values else 0.0
    for i, v in enumerate(values):
        last = weight * last + (1 - weight) * v
        out[i] = last
    return out


# A live chart sends at most this many points per curve: a redraw every second of three charts
# with thousands of points each was too heavy for a weak laptop's browser, which left the
# charts blank under load. 300 is more points than a 400-pixel-wide chart shows distinctly.
MAX_POINTS = 300
# Legends go above the plot, right-aligned under the title's line, clear of the x-axis title.
LEGEND_ABOVE = dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0)


def decimate(n: int, most: int | None = MAX_POINTS) -> np.ndarray:
    """Indices of at most `most` evenly spread points of `n`, the first and last included
    (all of them when `most` is None)."""
    if most is None or n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(int))


def line_figure(history: dict[str, list[float]], series: dict[str, str], title: str,
                smoothing: float = 0.0, log_y: bool = False,
                most: int | None = MAX_POINTS) -> go.Figure:
    """One chart of `series` (history key -> label) over the logged steps, smoothed over every
    point and then thinned to at most `most` points per curve (None sends all of them)."""
    fig = go.Figure()
    # float32 holds every step exactly (at most 10 million) and is plenty for a curve: plotly
    # sends numpy arrays as packed binary, so this halves the bytes again.
    steps = np.asarray(history.get("step", []), dtype=np.float32)
    keep = decimate(len(steps), most)
    for key, label in series.items():
        values = history.get(key, [])
        if values:  # smoothed over every logged point, then thinned for sending
            y = smooth(values, smoothing)[keep].astype(np.float32)
            fig.add_trace(go.Scatter(x=steps[keep], y=y, name=label, mode="lines"))
    fig.update_layout(title=dict(text=title, x=0.0, xanchor="left", y=0.97, yanchor="top"),
                      height=280, margin=dict(l=10, r=10, t=64, b=10), xaxis_title="step",
                      legend=LEGEND_ABOVE, uirevision=title)
    if log_y:  # one tick per power of ten: "0.01, 0.1, 1, 10" rather than "2, 100, 5, 2, 10"
        fig.update_yaxes(type="log", dtick=1, exponentformat="power", minor=dict(ticks=""))
    return fig


def points_figure(samples: np.ndarray, real: np.ndarray | None,
                  extent: tuple[float, float, float, float],
                  decision: np.ndarray | None = None, title: str = "") -> go.Figure:
    """Real (blue) and generated (orange) points over D's score heatmap: GAN Lab's view."""
    x0, x1, y0, y1 = extent
    fig = go.Figure()
    if decision is not None:
        res = decision.shape[0]
        fig.add_trace(go.Heatmap(z=decision[::-1].astype(np.float32), x=np.linspace(x0, x1, res),
                                 y=np.linspace(y0, y1, res), colorscale="RdBu",
                                 showscale=True, opacity=0.55,
                                 colorbar=dict(title="D", thickness=10)))
    if real is not None:
        fig.add_trace(go.Scattergl(x=real[:, 0], y=real[:, 1], mode="markers", name="real",
                                   marker=dict(size=4, color="#1f77b4")))
    fig.add_trace(go.Scattergl(x=samples[:, 0], y=samples[:, 1], mode="markers",
                               name="generated", marker=dict(size=4, color="#ff7f0e")))
    fig.update_layout(title=title, height=480, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(range=[x0, x1]), yaxis=dict(range=[y0, y1], scaleanchor="x"),
                      legend=dict(orientation="h", y=-0.12))
    return fig
