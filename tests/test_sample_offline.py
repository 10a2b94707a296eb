"""Sampling or exploring a checkpoint builds its generator only: the training dataset is never
loaded, so an MNIST checkpoint samples on a machine that never downloaded MNIST."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from playground.cli import main
from playground.data import loading as data
from playground.latent import load_latent_model
from playground.storage.checkpoints import META, save_checkpoint
from playground.training import trainer


@pytest.fixture
def mnist_checkpoint(tiny_image_cfg, make_trainer, tmp_path):
    """A tiny checkpoint whose config says MNIST (28 px grey, 10 classes): trained on the
    bundled digits, which have the same shape, then relabelled."""
    trainer = make_trainer(tiny_image_cfg(conditional=True))
    trainer.train_step()
    folder = save_checkpoint(trainer, tmp_path / "mnist-run")
    meta = json.loads((folder / META).read_text())
    meta["config"]["dataset"] = "mnist"
    (folder / META).write_text(json.dumps(meta))
    return folder


@pytest.fixture
def no_dataset(tmp_path, monkeypatch):
    """An empty data folder, and any attempt to load a dataset fails the test."""
    cache = tmp_path / "datasets"
    cache.mkdir()
    monkeypatch.setenv("GAN_PLAYGROUND_DATA", str(cache))

    def refuse(*args, **kwargs):
        raise AssertionError("the training dataset was loaded")

    monkeypatch.setattr(data, "load_dataset", refuse)
    monkeypatch.setattr(trainer, "load_dataset", refuse)  # its own name for it
    return cache


def test_sample_needs_no_dataset(mnist_checkpoint, no_dataset, tmp_path, capsys):
    png = tmp_path / "grid.png"
    assert main(["sample", str(mnist_checkpoint), "--n", "8", "--out", str(png)]) == 0, (
        capsys.readouterr().err
    )
    with Image.open(png) as image:
        assert image.format == "PNG"
    assert "8 samples at step 1" in capsys.readouterr().out
    assert list(no_dataset.iterdir()) == [], "nothing was written to the data folder"


def test_the_explorer_loads_it_without_the_dataset(mnist_checkpoint, no_dataset):
    model = load_latent_model(mnist_checkpoint)
    assert model.dataset == "mnist" and model.num_classes == 10
    assert model.sample(4).shape == (4, 1, 28, 28)
    assert list(no_dataset.iterdir()) == []
