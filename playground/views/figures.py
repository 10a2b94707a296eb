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


def points_figure(samples: np.ndarray | None, real: np.ndarray | None,
                  extent: tuple[float, float, float, float],
                  decision: np.ndarray | None = None, title: str = "", height: int = 480,
                  colorbar: bool = True) -> go.Figure:
    """Real (blue) and generated (orange) points over D's score heatmap: GAN Lab's view."""
    x0, x1, y0, y1 = extent
    fig = go.Figure()
    if decision is not None:
        res = decision.shape[0]
        fig.add_trace(go.Heatmap(z=decision[::-1].astype(np.float32), x=np.linspace(x0, x1, res),
                                 y=np.linspace(y0, y1, res), colorscale="RdBu",
                                 showscale=colorbar, opacity=0.55, hoverinfo="skip",
                                 name="D's decision map", colorbar=decision_legend(decision)))
    if real is not None:
        add_points(fig, real, "real", REAL_COLOUR)
    if samples is not None:
        add_points(fig, samples, "generated", FAKE_COLOUR)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(range=[x0, x1], constrain="domain"),
                      yaxis=dict(range=[y0, y1], scaleanchor="x", constrain="domain"),
                      legend=dict(orientation="h", y=-0.12))
    return fig


def decision_legend(decision: np.ndarray) -> dict:
    """The colour bar of D's map: its lowest score reads "fake", its highest "real" (D's own
    numbers beside them), so the colours explain themselves."""
    lo, hi = float(np.nanmin(decision)), float(np.nanmax(decision))
    if not hi > lo:
        return dict(title=dict(text="D's score"), thickness=10)
    return dict(
        title=dict(text="D says"),
        thickness=10,
        tickvals=[lo, (lo + hi) / 2, hi],
        ticktext=[f"fake ({lo:.2g})", f"{(lo + hi) / 2:.2g}", f"real ({hi:.2g})"],
    )


SVG_POINTS = 3000  # see add_points


def add_points(fig: go.Figure, points: np.ndarray, name: str, colour: str,
               size: int = 4) -> None:
    """A cloud of points; real ones are circles and generated ones crosses (POINT_SYMBOLS), so
    the two differ by shape as well as by colour."""
    # SVG up to a few thousand points: a WebGL trace (Scattergl) costs each chart a GL context,
    # slow to set up in a browser without a GPU (measured: the first live picture came about
    # 0.15 s later in software-rendered chromium); past that WebGL draws faster.
    trace = go.Scatter if len(points) <= SVG_POINTS else go.Scattergl
    fig.add_trace(trace(x=points[:, 0], y=points[:, 1], mode="markers", name=name,
                        marker=dict(size=size, color=colour,
                                    symbol=POINT_SYMBOLS.get(name, "circle"))))


# ---------------------------------------------------------------------- the 2D view's layers
# The layers a person can switch on the 2D view (Train and Lessons pages): name -> (label, help).
LAYERS = {
    "real": ("Real samples", "Blue circles: 1,000 points of the training data."),
    "generated": ("Generated samples", "Orange crosses: G's output on the same fixed noise."),
    "decision": (
        "D's decision map",
        "Background: D's output over the plane; blue where D says real, red where it says fake.",
    ),
    "manifold": (
        "G's manifold",
        "The mesh: G's image of a regular grid of its latent space (see below for which plane).",
    ),
    "arrows": (
        "Gradient arrows",
        "For each of 128 fixed-noise fakes, −∂L_G/∂x: where G's next update pushes it (scaled).",
    ),
}
MESH_COLOUR, ARROW_COLOUR = "rgba(60, 60, 60, 0.55)", "#009E73"  # Okabe–Ito bluish green
REAL_COLOUR, FAKE_COLOUR = "#1f77b4", "#ff7f0e"  # blue and orange: apart in every colour vision
POINT_SYMBOLS = {"real": "circle", "generated": "x"}  # the second cue, for grey or a weak eye
# Lines that must be told apart: the Okabe–Ito colours (distinct under the common colour-vision
# deficiencies), each with its own marker shape as a second cue.
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                  "#000000")
SERIES_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross",
                  "triangle-down")


def layered_figure(frame, real: np.ndarray | None, extent: tuple[float, float, float, float],
                   layers: set[str] | frozenset[str], title: str = "", height: int = 480,
                   colorbar: bool = True) -> go.Figure:
    """The 2D view of a runner.Frame with the chosen `layers` (names of LAYERS) on: real and
    generated points over D's map, with G's manifold and the gradient arrows."""
    fig = points_figure(None, real if "real" in layers else None, extent,
                        frame.decision if "decision" in layers else None,
                        title=title, height=height, colorbar=colorbar)
    if "manifold" in layers and frame.manifold is not None:
        add_mesh(fig, frame.manifold.points)
    if "generated" in layers:
        add_points(fig, frame.samples, "generated", FAKE_COLOUR)
    if "arrows" in layers and frame.arrows is not None:
        add_arrows(fig, frame.arrows.starts, frame.arrows.vectors, "gradient arrows")
    return fig


def add_mesh(fig: go.Figure, points: np.ndarray, name: str = "G's manifold") -> None:
    """G's manifold, a (rows, cols, 2) mesh, as thin grey lines."""
    xs, ys = mesh_lines(points)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                             line=dict(color=MESH_COLOUR, width=1)))


def add_arrows(fig: go.Figure, starts: np.ndarray, vectors: np.ndarray, name: str,
               colour: str = ARROW_COLOUR) -> None:
    """Arrows from `starts` along `vectors` (both (N, 2), in data units), heads at the ends."""
    xs, ys, sizes = arrow_segments(starts, vectors)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, hoverinfo="skip",
                             line=dict(color=colour, width=1.5),
                             marker=dict(symbol="arrow", angleref="previous", size=sizes,
                                         color=colour)))


def mesh_lines(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (rows, cols, 2) mesh as polylines along rows and along columns, NaN-separated (a gap
    in a plotly line). Arrays, not lists: plotly sends them packed, about 5x cheaper per frame."""
    lines = [points] if points.shape[0] == 1 else [points, points.transpose(1, 0, 2)]
    gaps = [np.concatenate([p, np.full((p.shape[0], 1, 2), np.nan)], axis=1) for p in lines]
    flat = np.concatenate([g.reshape(-1, 2) for g in gaps]).astype(np.float32)
    return flat[:, 0], flat[:, 1]


def arrow_segments(starts: np.ndarray,
                   vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrows as start→end segments, NaN-separated; an arrow head (size > 0) at each end."""
    n = len(starts)
    segments = np.full((n, 3, 2), np.nan, dtype=np.float32)
    segments[:, 0] = starts
    segments[:, 1] = starts + vectors
    flat = segments.reshape(-1, 2)
    return flat[:, 0], flat[:, 1], np.tile(np.array([0, 7, 0], dtype=np.float32), n)


PLANE_CAPTIONS = {  # which latent plane G's manifold shows, in words ({dims}, {span} filled in)
    "latent": "The mesh is G's image of a regular {dims}D grid over its whole latent space "
    "(±2.5 standard deviations).",
    "principal": "The latent has {dims} dimensions: the mesh is G's image of a grid on the plane "
    "of G's two principal directions (where its output moves most).",
    "random": "The latent has {dims} dimensions: the mesh is G's image of a grid on a fixed "
    "random plane through the latent's origin (the same plane all run long), spanning ±{span} "
    "so that it reaches the sizes of the noise vectors G is fed.",
}


def plane_caption(plane: str, latent_dim: int, translate=str) -> str:
    """Which latent plane G's manifold shows (view2d.Manifold.plane), in words; `translate`
    gives the words in a page's language before the numbers are filled in."""
    key = plane if plane in ("latent", "principal") else "random"
    return translate(PLANE_CAPTIONS[key]).format(
        dims=latent_dim, span=f"{2.5 * (latent_dim / 2) ** 0.5:.0f}"
    )


def change_figure(change: np.ndarray, extent: tuple[float, float, float, float],
                  real: np.ndarray | None, samples: np.ndarray | None, title: str = "",
                  height: int = 480) -> go.Figure:
    """How D's map changed (after − before), blue where D's output rose and red where it fell,
    white where it stayed: centred on 0 and scaled to the largest change, however small."""
    x0, x1, y0, y1 = extent
    res = change.shape[0]
    top = float(np.abs(change).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=change[::-1].astype(np.float32), x=np.linspace(x0, x1, res),
                               y=np.linspace(y0, y1, res), colorscale="RdBu", zmid=0.0,
                               zmin=-top, zmax=top, hoverinfo="skip", name="change in D",
                               colorbar=dict(title="ΔD", thickness=10, exponentformat="e")))
    if real is not None:
        add_points(fig, real, "real", REAL_COLOUR, size=3)
    if samples is not None:
        add_points(fig, samples, "generated", FAKE_COLOUR, size=3)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(range=[x0, x1], constrain="domain"),
                      yaxis=dict(range=[y0, y1], scaleanchor="x", constrain="domain"),
                      legend=dict(orientation="h", y=-0.12))
    return fig



def modes_held_figure(series, total: int, title: str, height: int = 260) -> go.Figure:
    """Modes held over time: one line per (name, steps, held) in `series` (the every-loss view,
    a side-by-side lesson), on an axis from 0 to all `total` modes."""
    fig = go.Figure()
    for i, (name, steps, held) in enumerate(series):
        fig.add_trace(
            go.Scatter(
                x=list(steps),
                y=list(held),
                name=name,
                mode="lines+markers",
                line=dict(color=SERIES_COLOURS[i % len(SERIES_COLOURS)]),
                marker=dict(symbol=SERIES_SYMBOLS[i % len(SERIES_SYMBOLS)], size=7),
            )
        )
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="step",
        yaxis=dict(title="modes held", range=[-0.3, total + 0.3]),
    )
    return fig
