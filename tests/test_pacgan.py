"""PacGAN's Table 1 measures (playground.lessons.pacgan) on inputs whose answers are worked out by
hand,
and the `reproduce pacgan` command in its quick mode (that it runs and reports every row; its
figures are not asserted: a few steps of training say nothing)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from playground.cli import main
from playground.data.registry import mixture_spec
from playground.lessons import pacgan
from playground.measures.metrics import coverage_2d

# Four modes of σ = 1, far apart: the nearest centre of each sample is obvious by eye.
CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def test_hand_computed_measures():
    samples = [
        [0.0, 0.0],
        [0.0, 0.0],
        [0.5, 0.0],  # three high-quality samples of mode 0
        [10.0, 0.5],  # one of mode 1
        [5.0, 5.0],  # 7.07σ from every mode: low quality
        [0.0, 3.0],  # exactly 3σ from mode 0: PacGAN's test is strict, so low quality
    ]
    m = pacgan.measures(samples, CENTRES, sigma=1.0)
    assert m["modes"] == 2
    assert m["high_quality"] == pytest.approx(4 / 6)
    assert m["mode_counts"] == [3, 1, 0, 0]
    # q = (3/4, 1/4) over the covered modes, p = 1/4 each:
    # KL = 3/4 log(3/4 · 4) + 1/4 log(1/4 · 4) = 3/4 log 3.
    assert m["reverse_kl"] == pytest.approx(0.75 * math.log(3), abs=1e-12)


def test_the_strict_three_sigma_is_where_the_project_measure_differs():
    # The project's everyday measure counts a sample at exactly 3σ; PacGAN's does not.
    on_the_edge = [[0.0, 3.0]]
    assert pacgan.measures(on_the_edge, CENTRES, 1.0)["high_quality"] == 0.0
    assert coverage_2d(np.array(on_the_edge), CENTRES, 1.0)["high_quality_fraction"] == 1.0


def test_a_perfect_spread_reads_zero_and_a_total_collapse_log_m():
    perfect = np.repeat(CENTRES, 5, axis=0)
    m = pacgan.measures(perfect, CENTRES, 1.0)
    assert (m["modes"], m["high_quality"], m["reverse_kl"]) == (4, 1.0, 0.0)
    collapsed = np.repeat(CENTRES[2:3], 20, axis=0)
    m = pacgan.measures(collapsed, CENTRES, 1.0)
    assert (m["modes"], m["high_quality"]) == (1, 1.0)
    assert m["reverse_kl"] == pytest.approx(math.log(4))
    # Nothing near any mode: no histogram; reads as badly as a total collapse, never as 0.
    m = pacgan.measures([[5.0, 5.0]], CENTRES, 1.0)
    assert (m["modes"], m["high_quality"]) == (0, 0.0)
    assert m["reverse_kl"] == pytest.approx(math.log(4))


def test_real_ring_samples_read_as_a_perfect_generator():
    import torch

    centres, sigma = mixture_spec("ring8")
    gen = torch.Generator().manual_seed(0)
    which = torch.randint(0, 8, (2500,), generator=gen)
    real = centres[which] + sigma * torch.randn(2500, 2, generator=gen)
    m = pacgan.measures(real.numpy(), centres.numpy(), sigma)
    assert m["modes"] == 8
    assert m["high_quality"] > 0.98  # a 2D Gaussian puts 98.9% of its mass within 3σ
    assert m["reverse_kl"] < 0.01


def test_mean_and_standard_error():
    mean, se = pacgan.mean_and_error([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert se == pytest.approx(1.0 / math.sqrt(3))  # sample std 1, over √3
    assert pacgan.mean_and_error([5.0]) == (5.0, 0.0)


def test_table_puts_the_published_rows_beside_the_projects():
    runs = [
        {"modes": 8, "high_quality": 0.98, "reverse_kl": 0.01, "modes_held": 8},
        {"modes": 8, "high_quality": 0.96, "reverse_kl": 0.03, "modes_held": 7},
    ]
    rows = pacgan.table_rows("ring8", {"mine": pacgan.summarise(runs)})
    names = [r["row"] for r in rows]
    assert names[:5] == [f"{n} (published)" for n in ("GAN", "ALI", "PacGAN2", "PacGAN3",
                                                     "PacGAN4")]
    assert rows[0]["high quality"] == "98.2%"
    mine = rows[-1]
    assert mine["row"] == "mine" and mine["seeds"] == "2"
    assert mine["modes"] == "8.00 ± 0.00"
    assert mine["high quality"] == "97.0 ± 1.0%"
    assert mine["reverse KL"] == "0.020 ± 0.010"
    assert mine["modes held"] == "7.50 ± 0.50"
    text = pacgan.format_table(rows)
    assert "PacGAN4 (published)" in text and "97.0 ± 1.0%" in text


def test_reproduce_quick_runs_every_row_and_writes_json(tmp_path, capsys):
    out = tmp_path / "table.json"
    assert main(["reproduce", "pacgan", "--quick", "--quiet", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PacGAN4 (published)" in printed
    assert "ring8-stable (this project)" in printed and "grid25-stable (this project)" in printed
    document = json.loads(out.read_text())
    assert set(document["datasets"]) == {"ring8", "grid25"}
    for dataset, rows in document["datasets"].items():
        assert len(rows) == 3
        for row in rows.values():
            (run,) = row["runs"]
            assert 0 <= run["modes"] <= pacgan.PUBLISHED_MODES[dataset]
            assert 0.0 <= run["high_quality"] <= 1.0
            assert run["reverse_kl"] >= 0.0
            assert row["config"]["dataset"] == dataset


def test_reproduce_refuses_bad_arguments_in_one_line(capsys):
    assert main(["reproduce", "pacgan", "--seeds", "0"]) == 2
    assert main(["reproduce", "veegan"]) == 2
    assert main(["reproduce", "pacgan", "--datasets", "spiral"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("gan-playground: error:") for line in err)
