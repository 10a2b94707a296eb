"""The colours that must be told apart stay apart for a reader with a colour-vision deficiency:
each pair's distance in CAM02-UCS (colorspacious) after simulating full deuteranopia,
protanopia and tritanopia (Machado et al. 2009) is at least MIN_DELTA_E, as it is in full
colour. Beside colour, real and generated points differ by shape (test_figures_layers)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert, deltaE

from pages.ui import slowmo
from playground.views import figures, images

DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")
MIN_DELTA_E = 10.0  # about five just-noticeable differences


def _rgb(colour: str | tuple[int, int, int]) -> np.ndarray:
    if isinstance(colour, str):
        colour = tuple(int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return np.asarray(colour, dtype=float) / 255


def seen(colour, deficiency: str | None) -> np.ndarray:
    rgb = _rgb(colour)
    if deficiency is None:
        return rgb
    space = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
    return np.clip(cspace_convert(rgb, space, "sRGB1"), 0, 1)


def closest(a, b) -> float:
    """The smallest distance between two colours over full colour vision and the deficiencies."""
    return min(float(deltaE(seen(a, d), seen(b, d), input_space="sRGB1"))
               for d in (None, *DEFICIENCIES))


PAIRS = {
    "real and generated points": (figures.REAL_COLOUR, figures.FAKE_COLOUR),
    "generated points and gradient arrows": (figures.FAKE_COLOUR, figures.ARROW_COLOUR),
    "real points and gradient arrows": (figures.REAL_COLOUR, figures.ARROW_COLOUR),
    "the pictures' real and generated points": (images.REAL_RGB, images.FAKE_RGB),
    "slow motion's movement and the real points": (slowmo.MOVE_COLOUR, figures.REAL_COLOUR),
    "slow motion's movement and the generated points": (slowmo.MOVE_COLOUR, figures.FAKE_COLOUR),
    "the pictures' arrows and generated points": (images.ARROW_RGB, images.FAKE_RGB),
    # D's map: the two ends of its colour scale, "fake" and "real".
    "D says fake and D says real": (tuple(images._RDBU[0].astype(int)),
                                    tuple(images._RDBU[-1].astype(int))),
}


@pytest.mark.parametrize("pair", PAIRS, ids=str)
def test_colours_that_mean_different_things_stay_apart(pair):
    a, b = PAIRS[pair]
    assert closest(a, b) >= MIN_DELTA_E, pair


def test_the_lines_of_a_comparison_stay_apart_pairwise():
    for a, b in itertools.combinations(figures.SERIES_COLOURS, 2):
        assert closest(a, b) >= MIN_DELTA_E, (a, b)
    assert len(set(figures.SERIES_SYMBOLS)) == len(figures.SERIES_COLOURS)


def test_the_check_fails_for_red_against_green():
    """The check can fail: the classic red/green pair (matplotlib's) merges for a deuteranope,
    and so did the old green arrows against the orange points for a protanope, and slow
    motion's old purple against the blue points."""
    assert closest("#d62728", "#2ca02c") < MIN_DELTA_E
    assert closest("#9467bd", figures.REAL_COLOUR) < MIN_DELTA_E
    assert closest("#2ca02c", figures.FAKE_COLOUR) < MIN_DELTA_E
    assert float(deltaE(seen("#d62728", None), seen("#2ca02c", None), input_space="sRGB1")) > 50
