"""Images trained at their own small size (the bundled digits at 8 or 16 px) are measured
enlarged to the size the measures use, so a run's classes, FID and the rest compare with a 32 px
run of the same data, with the same classifier."""

from __future__ import annotations

import pytest
import torch

from playground.data.loading import load_dataset
from playground.measures import evaluation
from playground.settings.config import GANConfig


def digits(size: int):
    return load_dataset(GANConfig(dataset="digits", image_size=size), download=False)


@pytest.mark.parametrize("size", [8, 16])
def test_small_digits_are_measured_on_the_32_px_images(size):
    small, full = digits(size), digits(evaluation.MEASURED_SIDE)
    ev = evaluation.Evaluator("digits", small)
    assert ev.data.shape == full.shape == (1, 32, 32)
    if size == 8:  # enlarged by the loader's own resize, pixel for pixel
        assert torch.equal(ev.data.images, full.images)


def test_small_real_digits_score_like_the_32_px_real_digits():
    """Real digits at 8 px, measured, read as real digits at 32 px do: every class, and the
    classifier features' FID near the noise floor (trained at 8 px without the enlargement, the
    measures would use another classifier and another feature space)."""
    small, full = digits(8), digits(32)
    gen = torch.Generator().manual_seed(3)
    x8, _ = small.sample(512, gen)
    report = evaluation.Evaluator("digits", small).measure(x8)
    assert report.samples.shape == (512, 32, 32, 1)
    gen = torch.Generator().manual_seed(3)
    x32, _ = full.sample(512, gen)
    reference = evaluation.Evaluator("digits", full).measure(x32)
    assert report.measures["classes_covered"] == reference.measures["classes_covered"] == 10
    assert report.measures["fid"] == pytest.approx(reference.measures["fid"], rel=0.05, abs=0.5)


def test_enlarge_keeps_an_image_of_the_right_size_and_enlarges_a_small_one():
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    assert evaluation.enlarge(x, 8) is x
    big = evaluation.enlarge(x, 32)
    assert big.shape == (2, 1, 32, 32)
    assert big.mean().item() == pytest.approx(x.mean().item(), abs=0.05)


def test_points_and_large_images_are_measured_as_they_are():
    ring = load_dataset(GANConfig(dataset="ring8"))
    assert evaluation.measured_source(ring) is ring
    full = digits(32)
    assert evaluation.measured_source(full) is full


@pytest.mark.parametrize("size", [8, 16])
def test_a_small_digits_run_saves_loads_and_is_explored(size, tmp_path):
    from conftest import tiny_image_config

    from playground.latent import load_latent_model
    from playground.storage.checkpoints import save_checkpoint
    from playground.training.trainer import Trainer
    from playground.views.images import make_grid, to_uint8, upscale

    trainer = Trainer(tiny_image_config(image_size=size))
    for _ in range(2):
        trainer.train_step()
    save_checkpoint(trainer, tmp_path / "run")
    model = load_latent_model(tmp_path / "run")
    assert model.shape == (1, size, size)
    out = model.generate(torch.zeros(4, model.latent_dim))
    assert out.shape == (4, 1, size, size)
    picture = upscale(make_grid(to_uint8(out), ncols=2), 256)  # enlarged for display only
    assert picture.shape[0] >= 256 - size and picture.shape[-1] == 1
    assert evaluation.Evaluator("digits", trainer.data).measure(out).measures["samples"] == 4
