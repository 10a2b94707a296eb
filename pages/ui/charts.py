"""The Diagnostics page's pictures of one model: the mode/class timeline, densities, the
share of each mode or class, and the grid of samples sorted by class.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from pages.ui.i18n import _, translated
from playground.data import registry as datasets
from playground.views import diagnosis

PER_CLASS = 8  # images per row of the grid sorted by class


def bin_labels(measures: dict, dataset: str) -> list[str]:
    """Names of the modes or classes of a histogram."""
    if "modes_total" in measures:
        return [_("mode {k}").format(k=k) for k in range(measures["modes_total"])]
    names = datasets.class_names(dataset)
    k = measures.get("classes_total") or len(names)
    return list(names) if names and len(names) == k else [str(c) for c in range(k)]


def _counts(record: dict) -> list[int] | None:
    counts = record.get("mode_counts", record.get("class_histogram"))
    return counts if isinstance(counts, list) else None


def timeline_figure(records: list[dict], labels: list[str]) -> go.Figure | None:
    """Modes (or classes) × step, coloured by the share of evaluated samples in each: a
    generator rotating through the modes draws a staircase."""
    rows = [(r["step"], _counts(r), r.get("samples")) for r in records if _counts(r)]
    rows = [(s, c, n) for s, c, n in rows if len(c) == len(labels)]
    if not rows:
        return None
    steps = [s for s, _, _ in rows]
    shares = np.array([np.asarray(c, float) / max(n or sum(c), 1) for _, c, n in rows]).T
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=steps,
            y=labels,
            colorscale="Viridis",
            zmin=0,
            colorbar=dict(title=_("share"), thickness=10),
            hovertemplate=_("step %{x}<br>%{y}: %{z:.1%} of samples") + "<extra></extra>",
        )
    )
    fig.update_layout(
        title=_("Mode timeline: share of samples in each mode over training"),
        height=140 + 18 * len(labels),
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title=_("step"),
        yaxis=dict(type="category", autorange="reversed"),  # every label, first mode on top
    )
    return fig


def density_figure(
    samples: np.ndarray, real: np.ndarray, extent: tuple[float, float, float, float], bins: int = 60
) -> go.Figure:
    """Histograms of generated (orange) and real (blue) points over the same window, each
    shaded from white up to its own densest cell on a square-root scale, so a faint spread
    stays visible next to the eight sharp real modes."""
    x0, x1, y0, y1 = extent
    edges = (np.linspace(x0, x1, bins + 1), np.linspace(y0, y1, bins + 1))
    fig = make_subplots(1, 2, subplot_titles=(_("generated"), _("real")), horizontal_spacing=0.04)
    centres = [(e[:-1] + e[1:]) / 2 for e in edges]
    for i, (points, colour) in enumerate(((samples, "#ff7f0e"), (real, "#1f77b4")), start=1):
        points = points[np.isfinite(points).all(axis=1)]
        grid = np.histogram2d(points[:, 0], points[:, 1], bins=edges)[0].T
        fig.add_trace(
            go.Heatmap(
                z=np.sqrt(grid),
                x=centres[0],
                y=centres[1],
                zmin=0,
                zmax=math.sqrt(max(float(grid.max()), 1.0)),
                colorscale=[[0, "white"], [1, colour]],
                showscale=False,
                hoverinfo="skip",
            ),
            1,
            i,
        )
        fig.update_yaxes(scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_layout(
        title=_("Density: generated against true"),
        height=380,
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return fig


def share_figure(
    counts: list[int], reference: list[float], labels: list[str], unit: str
) -> go.Figure:
    """Generated share of each mode or class beside the true share (views.diagnosis's bars,
    in the page's language)."""
    return translated(diagnosis.share_figure(
        counts, reference, labels, _(unit), names=(_("generated"), _("real data")),
        title=_("Share of {unit}: generated vs real").format(unit=_(unit)),
    ))


def sorted_grid(
    samples: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    labels: list[str],
    per_class: int = PER_CLASS,
    scale: int = 2,
) -> np.ndarray:
    """One row per class: the label and share, then the most confidently recognised samples
    of that class (the grid sorted by predicted class). (H, W, 3) uint8."""
    n, h, w, c = samples.shape
    pad, label_w = 2, 96
    cell_h, cell_w = h * scale + pad, w * scale + pad
    k = len(labels)
    canvas = np.full((k * cell_h + pad, label_w + per_class * cell_w + pad, 3), 24, np.uint8)
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=14)
    for row, name in enumerate(labels):
        members = np.flatnonzero(predicted == row)
        members = members[np.argsort(-confidence[members])][:per_class]
        top = pad + row * cell_h
        share = (predicted == row).mean() if n else 0.0
        text = f"{name[:11]}\n{share:.0%}"
        draw.multiline_text((6, top + cell_h // 2 - 16), text, fill=(230, 230, 230), font=font)
        for col, index in enumerate(members):
            tile = samples[index].repeat(scale, 0).repeat(scale, 1)
            tile = np.repeat(tile, 3, axis=2) if c == 1 else tile
            left = label_w + col * cell_w
            picture.paste(Image.fromarray(tile), (left, top))
    return np.asarray(picture)
