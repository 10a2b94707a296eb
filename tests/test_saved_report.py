"""What a saved run measures (storage.reports): the Diagnostics page reads a checkpoint through
it, never through a trainer of its own."""

from __future__ import annotations

import numpy as np
import pytest

from playground.data.registry import points_source
from playground.runs.everyloss import batched, every_loss_configs
from playground.storage.checkpoints import CheckpointError, save_checkpoint
from playground.storage.reports import measure_saved


def test_a_saved_2d_run_reports_its_measures_real_points_and_window(tiny_cfg, make_trainer,
                                                                   tmp_path):
    trainer = make_trainer(tiny_cfg())
    for _ in range(3):
        trainer.train_step()
    save_checkpoint(trainer, tmp_path / "run")
    saved = measure_saved(tmp_path / "run", 200, seed=0)
    assert saved.report.measures["modes_total"] == 8
    assert saved.real.shape == (200, 2) and saved.real.dtype == np.float32
    np.testing.assert_array_equal(saved.real, trainer.real_sample(200, seed=0))
    assert saved.extent == trainer.extent()
    again = measure_saved(tmp_path / "run", 200, seed=0)
    assert again.report.measures == saved.report.measures  # the same seed, the same figures


def test_a_folder_that_is_no_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError):
        measure_saved(tmp_path, 100)


def test_numpy_sample_is_one_draw_per_seed():
    source = points_source("ring8")
    a, b = source.numpy_sample(64, seed=3), source.numpy_sample(64, seed=3)
    assert a.shape == (64, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, source.numpy_sample(64, seed=4))


def test_batched_says_which_every_loss_members_share_a_batch():
    configs = every_loss_configs("ring8")
    flags = batched(configs)
    assert len(flags) == len(configs)
    assert any(flags)  # most losses train stacked together
