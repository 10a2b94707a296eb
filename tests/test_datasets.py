"""The datasets registry is the one place that knows the datasets: config's allowed values come
from it, its facts match what the loaders produce, and no engine or page module outside it
(and the presets) spells a dataset's name."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

from playground.data import registry as datasets
from playground.data.loading import load_dataset
from playground.data.registry import mixture_spec, toy_points
from playground.settings import config, fields

ROOT = Path(__file__).resolve().parents[1]
# Files that may name datasets, and why: the registry itself; presets and defaults (config and
# presets, the lessons' variants, the benchmark's set-ups); PacGAN's published table, keyed by
# its datasets; dirac.py's "circles" is the name of a path's shape, not a dataset.
MAY_NAME = {
    "playground/data/registry.py",
    "playground/settings/config.py",
    "playground/settings/presets.py",
    "playground/lessons/catalogue.py",
    "playground/lessons/pacgan.py",
    "playground/lessons/dirac.py",
}
MAY_NAME_UNDER = ("playground/bench/",)


def literal_names(source: str, names: set[str]) -> list[int]:
    """Lines of `source` holding a string literal that is exactly one of `names`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]


def test_the_checker_finds_a_name_and_ignores_prose():
    found = literal_names(
        'x = "ring8"\ny = "a ring8 run"\nif d == "mnist": pass\n', {"ring8", "mnist"}
    )
    assert found == [1, 3]


def test_no_module_outside_the_registry_and_presets_names_a_dataset():
    names = set(datasets.DATASETS)
    files = sorted([*(ROOT / "playground").rglob("*.py"), *(ROOT / "pages").rglob("*.py")])
    found = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel in MAY_NAME or rel.startswith(MAY_NAME_UNDER):
            continue
        found += [f"{rel}:{line}" for line in literal_names(path.read_text(), names)]
    assert not found, f"dataset names outside the registry: {found}"


def test_config_takes_its_dataset_values_from_the_registry():
    assert fields.DATASETS == tuple(datasets.DATASETS)
    assert config.POINT_DATASETS == datasets.names_where(kind="points")
    assert set(config.LABELLED_IMAGE_DATASETS) == {
        d.name for d in datasets.DATASETS.values() if d.kind == "images" and d.num_classes
    }
    assert fields.IMAGE_SIZES == datasets.IMAGE_SIZES


def test_every_entry_is_complete():
    for d in datasets.DATASETS.values():
        assert d.summary.endswith(".") and d.title and d.obtained
        assert d.kind in ("points", "images")
        if d.kind == "points":
            assert d.channels == 0 and not d.image_sizes and d.offline
            # Exactly one way to draw points: a mixture, a sampler, or the user's own file.
            ways = [d.is_mixture, d.sampler is not None, d.user_points]
            assert ways.count(True) == 1, d.name
        else:
            assert d.channels in (1, 3) and d.image_sizes
            assert not d.is_mixture and d.sampler is None
        if d.loader == "torchvision":
            assert d.torchvision_class and d.downloaded and not d.offline


def test_mixture_centres_and_sigma_come_from_the_entry():
    for name in datasets.names_where(mixture=True):
        entry = datasets.get(name)
        centres, sigma = mixture_spec(name)
        assert centres.shape == (len(entry.centres), 2) and sigma == entry.sigma
    ring, _ = mixture_spec("ring8")
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    assert ring[2].tolist() == pytest.approx([0.0, 2.0], abs=1e-6)  # 90 degrees
    grid, _ = mixture_spec("grid25")
    assert sorted({x for x, _ in grid.tolist()}) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert mixture_spec("spiral") is None and mixture_spec("digits") is None


def test_every_toy_draws_points_from_its_entry():
    generated = [d.name for d in datasets.DATASETS.values() if d.loader == "generated"]
    assert generated and set(generated) < set(datasets.names_where(kind="points"))
    for name in generated:
        points = toy_points(name, 64, torch.Generator().manual_seed(0), "cpu")
        assert points.shape == (64, 2) and torch.isfinite(points).all()
    with pytest.raises(ValueError, match="choose from ring8"):
        toy_points("digits", 4, torch.Generator(), "cpu")


def test_the_offline_labelled_set_matches_its_entry():
    entry = datasets.get("digits")
    source = load_dataset(config.GANConfig(dataset="digits", image_size=28), download=False)
    assert source.num_classes == entry.num_classes == len(entry.class_names)
    assert source.shape == (entry.channels, 28, 28)
    assert int(source.labels.max()) == entry.num_classes - 1


def test_class_labels_add_a_name_only_where_it_says_more_than_the_index():
    assert datasets.get("digits").class_label(3) == "3"
    assert datasets.get("fashion").class_label(1) == "1: Trouser"
    assert datasets.get("cifar10").class_label(0) == "0: airplane"
    assert datasets.get("cifar10").class_label(12) == "12"  # out of range: the index alone
    assert datasets.class_names("nothing") == ()


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose from ring8, grid25"):
        datasets.get("imagenet")
    assert math.isfinite(datasets.get("ring8").sigma)
