"""`gan-playground diagnose` on image checkpoints (and the 2D reverse KL): the JSON keys the issue
names, readable text, exit status 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.cli import main

IMAGE_KEYS = {"diversity_ratio", "duplicate_rate"}
LABELLED_KEYS = {
    "classes_total",
    "classes_covered",
    "class_histogram",
    "reverse_kl",
    "precision",
    "recall",
    "density",
    "coverage",
}
POINT_KEYS = {"modes_total", "modes_covered", "modes_held", "high_quality_fraction", "reverse_kl"}


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory) -> Path:
    """digits-dcgan at 32 px (the shipped classifier), a few steps of a narrow model."""
    out = tmp_path_factory.mktemp("diag") / "digits"
    argv = ["train", "--preset", "digits-dcgan", "--steps", "5", "--set", "width=8"]
    argv += ["--set", "batch_size=16", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


def test_diagnose_json_for_labelled_images(digits_checkpoint, capsys):
    capsys.readouterr()
    assert main(["diagnose", str(digits_checkpoint), "--json", "--samples", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert LABELLED_KEYS | IMAGE_KEYS <= set(result)
    assert result["classes_total"] == 10 and result["step"] == 5
    assert len(result["class_histogram"]) == 10
    assert sum(result["class_histogram"]) <= 200
    assert 0 <= result["classes_covered"] <= 10
    for key in ("precision", "recall", "coverage", "duplicate_rate"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["density"] >= 0 and result["diversity_ratio"] >= 0 and result["reverse_kl"] >= 0
    # The same seed gives the same measures.
    assert main(["diagnose", str(digits_checkpoint), "--json", "--samples", "200"]) == 0
    assert json.loads(capsys.readouterr().out) == result


def test_diagnose_text_for_images_explains_each_measure(digits_checkpoint, capsys):
    capsys.readouterr()
    assert main(["diagnose", str(digits_checkpoint), "--samples", "50"]) == 0
    out = capsys.readouterr().out
    for words in (
        "classes covered",
        "/10",
        "precision",
        "recall",
        "diversity ratio",
        "near-duplicates",
        "classifier",
    ):
        assert words in out, words


def test_diagnose_images_of_an_unlabelled_folder(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "run"
    argv = [
        "train",
        "--set",
        "dataset=folder",
        "--set",
        f"data_folder={folder}",
        "--set",
        "arch=dcgan",
        "--set",
        "width=8",
        "--set",
        "batch_size=4",
        "--steps",
        "2",
    ]
    assert main(argv + ["--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(out), "--json", "--samples", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert IMAGE_KEYS <= set(result)
    assert not LABELLED_KEYS & set(result)  # no labels, no classes


def test_diagnose_json_for_2d_has_reverse_kl(tmp_path, capsys):
    out = tmp_path / "ring"
    argv = ["train", "--preset", "ring8-collapse", "--steps", "10", "--set", "batch_size=32"]
    assert main(argv + ["--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(out), "--json", "--samples", "300"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert POINT_KEYS <= set(result)
    assert 0.0 <= result["reverse_kl"] <= 2.0794416
    meta = json.loads((out / "checkpoint.json").read_text())
    assert "reverse_kl" in meta["metrics"]  # `train` stores it with the other measures
