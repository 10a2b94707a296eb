"""One 2D window (view2d.plot_window) for every view: the trainer's, the batched every-loss
run's and the explorer's (from a live run and from a checkpoint) are the same square."""

from __future__ import annotations

import pytest
import torch

from playground.latent import LatentModel, load_latent_model
from playground.storage.checkpoints import save_checkpoint
from playground.training.multirun import MultiRun
from playground.training.trainer import Trainer


@pytest.mark.parametrize("dataset", ["ring8", "moons"])
def test_every_view_uses_the_same_window(dataset, tiny_cfg, tmp_path):
    cfg = tiny_cfg(dataset=dataset)
    trainer = Trainer(cfg)
    window = trainer.extent()
    x0, x1, y0, y1 = window
    assert x1 - x0 == pytest.approx(y1 - y0) and x1 > x0, "a square"
    real, _ = trainer.data.sample(2000, torch.Generator().manual_seed(5))
    assert (real[:, 0] > x0).all() and (real[:, 0] < x1).all(), "holding the data"
    assert (real[:, 1] > y0).all() and (real[:, 1] < y1).all()
    assert MultiRun([cfg]).extent() == window
    assert LatentModel.from_trainer(trainer).extent == window
    assert load_latent_model(save_checkpoint(trainer, tmp_path / "run")).extent == window
