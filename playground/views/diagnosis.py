"""The pictures of a diagnosis of brought samples: the share of each class (or mode) beside the
real data's, and a sample next to its nearest real image. Plotly and numpy only; the Diagnostics
page and the standalone HTML report draw the same ones.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from playground.views import images
from playground.views.figures import FAKE_COLOUR, REAL_COLOUR

PICTURE_SIDE = 96  # pixels a small sample is enlarged towards (whole factors, crisp)


def share_figure(
    counts: list[int],
    reference: list[float],
    labels: list[str],
    unit: str = "classes",
    names: tuple[str, str] = ("your samples", "real data"),
    title: str | None = None,
) -> go.Figure:
    """The samples' share of each of `labels` (from `counts`) as bars beside the real data's
    share (`reference`, fractions summing to 1): a collapsed generator leaves bars empty.
    `names` are the two bars' legend entries; the title says what is compared."""
    total = max(sum(counts), 1)
    fig = go.Figure(
        [
            go.Bar(x=labels, y=[c / total for c in counts], name=names[0],
                   marker_color=FAKE_COLOUR),
            go.Bar(x=labels, y=list(reference), name=names[1], marker_color=REAL_COLOUR),
        ]
    )
    fig.update_xaxes(type="category", title=unit)  # every label, digits included
    fig.update_layout(
        title=title or f"Share of {unit}: your samples vs the real data",
        barmode="group",
        height=320,
        yaxis=dict(tickformat=".0%", title="share"),
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def enlarged_grid(pictures: np.ndarray, ncols: int | None = None) -> np.ndarray:
    """(N, H, W, C) uint8 tiled (images.make_grid), small images enlarged towards
    PICTURE_SIDE a tile."""
    factor = max(1, PICTURE_SIDE // max(pictures.shape[1], pictures.shape[2]))
    return images.make_grid(pictures, ncols=ncols, upscale=factor)


def pair_picture(sample: np.ndarray, real: np.ndarray) -> np.ndarray:
    """A sample (H, W, C) uint8 on the left, its nearest real image on the right, enlarged."""
    return enlarged_grid(np.stack([sample, real]), ncols=2)
