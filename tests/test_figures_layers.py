"""The 2D view's layers as plotly figures (playground.views.figures): which traces each set of
layers draws, and the mesh and arrows as NaN-separated polylines."""

from __future__ import annotations

import numpy as np
import pytest

from playground.runs.snapshots import Frame
from playground.views import figures
from playground.views.view2d import Arrows, Manifold

EXTENT = (-2.0, 2.0, -2.0, 2.0)


def _frame(manifold: bool = True, arrows: bool = True) -> Frame:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(64, 2)).astype(np.float32)
    mesh = Manifold(rng.normal(size=(3, 4, 2)).astype(np.float32), "random")
    push = Arrows(samples[:8], np.ones((8, 2), np.float32) * 0.1, scale=1.0, median_norm=0.1)
    return Frame(3, samples, rng.random((16, 16)).astype(np.float32),
                 mesh if manifold else None, push if arrows else None)


def _names(fig) -> list[str]:
    return [trace.name for trace in fig.data]


def test_each_layer_draws_its_own_trace_in_a_fixed_order():
    real = np.zeros((10, 2), np.float32)
    fig = figures.layered_figure(_frame(), real, EXTENT, set(figures.LAYERS))
    assert _names(fig) == ["D's decision map", "real", "G's manifold", "generated",
                           "gradient arrows"]
    fig = figures.layered_figure(_frame(), real, EXTENT, {"generated", "arrows"})
    assert _names(fig) == ["generated", "gradient arrows"]
    # A layer the frame does not carry (image data, an older frame) is simply absent.
    bare = figures.layered_figure(_frame(manifold=False, arrows=False), real, EXTENT,
                                  set(figures.LAYERS))
    assert _names(bare) == ["D's decision map", "real", "generated"]


def test_the_mesh_is_its_rows_and_columns_with_gaps():
    points = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    xs, ys = figures.mesh_lines(points)
    assert len(xs) == 3 * (4 + 1) + 4 * (3 + 1) and np.isnan(xs).sum() == 7
    assert np.array_equal(xs[:4], points[0, :, 0]) and np.isnan(xs[4])
    assert np.array_equal(ys[15:18], points[:, 0, 1])  # the first column, after the rows
    line = np.arange(10, dtype=np.float32).reshape(1, 5, 2)  # a 1D latent: one line
    assert len(figures.mesh_lines(line)[0]) == 6


def test_arrows_run_from_their_starts_along_their_vectors():
    starts = np.array([[0.0, 0.0], [1.0, 2.0]])
    vectors = np.array([[0.5, 0.0], [0.0, -1.0]])
    xs, ys, sizes = figures.arrow_segments(starts, vectors)
    assert xs[:2].tolist() == [0.0, 0.5] and ys[3:5].tolist() == [2.0, 1.0]
    assert np.isnan(xs[2]) and sizes.tolist() == [0, 7, 0, 0, 7, 0]


@pytest.mark.parametrize("plane, words", [("latent", "whole latent space"),
                                          ("random", "fixed random plane"),
                                          ("principal", "principal directions")])
def test_the_caption_names_the_latent_plane(plane, words):
    assert words in figures.plane_caption(plane, 2 if plane == "latent" else 64)


def test_the_change_map_is_centred_on_zero():
    change = np.linspace(-1e-4, 3e-4, 256, dtype=np.float32).reshape(16, 16)
    heat = figures.change_figure(change, EXTENT, None, None).data[0]
    assert heat.zmid == 0 and heat.zmin == pytest.approx(-3e-4) and heat.zmax == pytest.approx(3e-4)


def _has(picture: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool((picture.reshape(-1, 3) == rgb).all(axis=1).any())


def test_the_downloaded_picture_draws_the_chosen_layers():
    """The Train page's PNG and GIF downloads: each layer switched on is in the picture (in
    the live view's colours), each switched off is not."""
    from playground.views import images

    real = np.full((10, 2), -1.5, np.float32)
    frame = _frame()
    everything = images.layered_image(frame, real, EXTENT, set(figures.LAYERS), size=200)
    assert everything.shape == (200, 200, 3) and everything.dtype == np.uint8
    for rgb in (images.REAL_RGB, images.FAKE_RGB, images.MESH_RGB, images.ARROW_RGB):
        assert _has(everything, rgb), rgb
    assert not _has(everything, (255, 255, 255)), "D's map covers the whole window"
    points = images.layered_image(frame, real, EXTENT, {"real", "generated"}, size=200)
    assert _has(points, (255, 255, 255)) and _has(points, images.FAKE_RGB)
    for rgb in (images.MESH_RGB, images.ARROW_RGB):
        assert not _has(points, rgb), rgb


def test_ds_map_in_the_picture_is_red_where_d_says_fake_and_blue_where_real():
    from playground.views import images

    decision = np.tile(np.linspace(0.0, 1.0, 16, dtype=np.float32), (16, 1))  # rises with x
    frame = Frame(0, np.zeros((0, 2), np.float32), decision)
    picture = images.layered_image(frame, None, EXTENT, {"decision"}, size=160).astype(int)
    left, right = picture[80, 2], picture[80, -3]
    assert left[0] > left[2] and right[2] > right[0], (left, right)
    # Its top row is the map's first row (high y), as an image's is.
    top = np.zeros((16, 16), np.float32)
    top[0] = 1.0
    picture = images.layered_image(Frame(0, frame.samples, top), None, EXTENT, {"decision"}, 160)
    assert picture[2, 80, 2] > picture[2, 80, 0] and picture[-3, 80, 0] > picture[-3, 80, 2]


def test_ds_map_has_a_legend_that_says_which_colour_is_real():
    decision = np.tile(np.linspace(0.1, 0.9, 16, dtype=np.float32), (16, 1))
    fig = figures.layered_figure(Frame(0, np.zeros((0, 2), np.float32), decision), None,
                                 EXTENT, {"decision"})
    (heat,) = [t for t in fig.data if t.name == "D's decision map"]
    assert heat.showscale and heat.colorscale[-1][1] == "rgb(5,48,97)"  # RdBu's top is blue
    assert heat.colorbar.ticktext[0].startswith("fake") and heat.colorbar.ticktext[-1].startswith(
        "real")
    assert heat.colorbar.tickvals[0] == pytest.approx(0.1) and heat.colorbar.tickvals[-1] == (
        pytest.approx(0.9))


def test_real_and_generated_points_differ_by_shape_as_well_as_colour():
    """A second cue beside blue and orange: in the live view real points are circles and
    generated ones crosses, whatever the number of points (SVG or WebGL trace)."""
    real = np.zeros((10, 2), np.float32)
    for n in (64, figures.SVG_POINTS + 1):
        frame = Frame(0, np.zeros((n, 2), np.float32))
        fig = figures.layered_figure(frame, real, EXTENT, {"real", "generated"})
        symbols = {trace.name: trace.marker.symbol for trace in fig.data}
        assert symbols == {"real": "circle", "generated": "x"}, n
    fig = figures.points_figure(np.ones((4, 2)), real, EXTENT)
    assert [t.marker.symbol for t in fig.data] == ["circle", "x"]


def test_the_downloaded_picture_draws_real_points_as_dots_and_generated_ones_as_crosses():
    from playground.views import images

    centre = np.zeros((1, 2), np.float32)  # the middle pixel of a 101-pixel picture
    dot = images.scatter_image(np.zeros((0, 2), np.float32), centre, EXTENT, size=101)
    cross = images.scatter_image(centre, None, EXTENT, size=101)
    # A dot fills its edge's middle and leaves its corners; a cross the other way round.
    assert tuple(dot[50, 52]) == images.REAL_RGB and tuple(dot[52, 52]) == (255, 255, 255)
    assert tuple(cross[52, 52]) == images.FAKE_RGB and tuple(cross[50, 52]) == (255, 255, 255)
