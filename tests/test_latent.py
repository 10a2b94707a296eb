"""Tests for playground.latent: interpolation maths, seeds, truncation, principal directions and
the frozen generator copy, on tiny CPU models (a 2D MLP and a narrow digits DCGAN)."""

from __future__ import annotations

import math

import pytest
import torch

from playground import latent
from playground.latent import (
    LatentModel,
    interpolate,
    lerp,
    load_latent_model,
    principal_directions,
    slerp,
    truncate,
    z_from_seed,
)
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.storage.checkpoints import CheckpointError, save_checkpoint
from playground.training import generator_state as generator_state_mod
from playground.training.trainer import Trainer


@pytest.fixture(scope="module")
def points_trainer() -> Trainer:
    cfg = GANConfig(dataset="ring8", hidden=16, layers=2, batch_size=32, device="cpu")
    trainer = Trainer(cfg)
    for _ in range(3):
        trainer.train_step()
    return trainer


@pytest.fixture(scope="module")
def digits_trainer() -> Trainer:
    cfg = preset("digits-dcgan").replace(width=8, latent_dim=16, batch_size=16, device="cpu")
    trainer = Trainer(cfg)
    for _ in range(3):
        trainer.train_step()
    return trainer


# ---------------------------------------------------------------------- interpolation
def test_lerp_endpoints_and_midpoint():
    a, b = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    assert torch.equal(lerp(a, b, 0.0), a)
    assert torch.equal(lerp(a, b, 1.0), b)
    assert torch.allclose(lerp(a, b, 0.5), torch.tensor([2.0, 0.0]))
    assert lerp(a, b, torch.linspace(0, 1, 5)).shape == (5, 2)


def test_slerp_endpoints():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)


def test_slerp_keeps_unit_vectors_on_the_sphere():
    gen = torch.Generator().manual_seed(1)
    a = torch.nn.functional.normalize(torch.randn(16, generator=gen), dim=0)
    b = torch.nn.functional.normalize(torch.randn(16, generator=gen), dim=0)
    path = slerp(a, b, torch.linspace(0, 1, 11))
    assert torch.allclose(path.norm(dim=1), torch.ones(11), atol=1e-5)
    # …while the straight line dips inside the sphere in the middle.
    assert lerp(a, b, 0.5).norm() < 0.99


def test_slerp_moves_at_constant_angular_speed():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]), atol=1e-6)


def test_slerp_falls_back_to_lerp_when_parallel():
    a = torch.tensor([1.0, 2.0, 3.0])
    b = 2 * a
    assert torch.allclose(slerp(a, b, 0.25), lerp(a, b, 0.25), atol=1e-6)
    assert torch.isfinite(slerp(a, a, 0.5)).all()
    zero = torch.zeros(3)
    assert torch.allclose(slerp(zero, a, 0.5), 0.5 * a)


@pytest.mark.parametrize("method", latent.METHODS)
def test_interpolate_shapes_and_ends(method):
    a, b = z_from_seed(0, 6), z_from_seed(1, 6)
    path = interpolate(a, b, 7, method)
    assert path.shape == (7, 6)
    assert torch.allclose(path[0], a, atol=1e-5)
    assert torch.allclose(path[-1], b, atol=1e-5)
    assert interpolate(a, b, 1, method).shape == (1, 6)


def test_interpolate_rejects_unknown_method():
    with pytest.raises(ValueError):
        interpolate(torch.zeros(2), torch.ones(2), 4, "cubic")


def test_z_from_seed_is_reproducible_and_seed_dependent():
    assert torch.equal(z_from_seed(42, 32), z_from_seed(42, 32))
    assert not torch.equal(z_from_seed(42, 32), z_from_seed(43, 32))
    assert z_from_seed(0, 5).shape == (5,)
    torch.manual_seed(0)
    first = z_from_seed(7, 4)
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(first, z_from_seed(7, 4))


def test_truncate_scales_towards_the_mean():
    z = torch.tensor([1.0, -2.0, 0.5])
    assert torch.equal(truncate(z, 1.0), z)
    assert torch.allclose(truncate(z, 0.5), z / 2)
    assert truncate(z, 0.1).norm() < z.norm()


# ---------------------------------------------------------------------- the model copy
def test_generate_shapes_for_points(points_trainer):
    model = LatentModel.from_trainer(points_trainer)
    assert (model.kind, model.shape, model.latent_dim, model.num_classes) == ("points", (2,), 2, 0)
    out = model.generate(torch.randn(5, 2))
    assert out.shape == (5, 2) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert model.real.shape == (generator_state_mod.N_REAL, 2)
    x0, x1, y0, y1 = model.extent
    assert x0 < x1 and y0 < y1


def test_generate_shapes_for_digits_and_matches_trainer(digits_trainer):
    model = LatentModel.from_trainer(digits_trainer)
    side = digits_trainer.cfg.image_size  # the preset's training size (16 px)
    assert model.kind == "images" and model.shape == (1, side, side)
    z = torch.randn(3, 16)
    out = model.generate(z)
    assert out.shape == (3, 1, side, side)
    assert out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out, digits_trainer.generate(z).cpu(), atol=1e-6)
    with pytest.raises(ValueError):
        model.generate(torch.randn(3, 15))


def test_copy_is_frozen_and_independent(points_trainer):
    model = LatentModel.from_trainer(points_trainer)
    assert not model.generator.training
    assert not any(p.requires_grad for p in model.generator.parameters())
    z = torch.randn(4, 2)
    before = model.generate(z)
    trainer_copy = Trainer(points_trainer.cfg)
    trainer_copy.G.load_state_dict(points_trainer.G.state_dict())
    model2 = LatentModel.from_trainer(trainer_copy)
    trainer_copy.train_step()  # training the source afterwards leaves the copy alone
    assert torch.equal(model2.generate(z), before)


def test_conditional_generate_uses_labels():
    cfg = preset("digits-dcgan").replace(
        width=8, latent_dim=8, batch_size=16, conditional=True, device="cpu"
    )
    model = LatentModel.from_trainer(Trainer(cfg))
    assert model.num_classes == 10
    z = z_from_seed(3, 8).expand(2, 8)
    out = model.generate(z, torch.tensor([1, 7]))
    assert out.shape == (2, 1, cfg.image_size, cfg.image_size)
    assert not torch.allclose(out[0], out[1])  # the same z, another class: another sample


def test_load_latent_model_matches_the_trainer(digits_trainer, tmp_path):
    save_checkpoint(digits_trainer, tmp_path / "ckpt")
    rng = torch.random.get_rng_state()
    model = load_latent_model(tmp_path / "ckpt")
    assert torch.equal(rng, torch.random.get_rng_state())  # loading draws no random numbers
    assert model.step == digits_trainer.step
    z = torch.randn(2, 16)
    assert torch.allclose(model.generate(z), digits_trainer.generate(z).cpu(), atol=1e-6)
    assert torch.equal(model.fixed_z, digits_trainer.fixed_z.cpu())


def test_load_latent_model_refuses_a_broken_generator_file(points_trainer, tmp_path):
    folder = save_checkpoint(points_trainer, tmp_path / "ckpt")
    (generator,) = folder.glob("generator-*.safetensors")
    generator.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError):
        load_latent_model(folder)


# ---------------------------------------------------------------------- directions
def test_principal_directions_are_unit_vectors(digits_trainer):
    model = LatentModel.from_trainer(digits_trainer)
    directions, explained = principal_directions(model, 4, n=128)
    assert directions.shape == (4, 16) and explained.shape == (4,)
    assert torch.allclose(directions.norm(dim=1), torch.ones(4), atol=1e-5)
    assert (explained >= 0).all() and explained.sum() <= 1 + 1e-6
    assert (explained[:-1] >= explained[1:] - 1e-9).all()  # sorted, largest first
    again, _ = principal_directions(model, 4, n=128)
    assert torch.allclose(directions, again)  # same seed, same directions (signs included)


def test_principal_direction_changes_the_output_more_than_random(digits_trainer):
    model = LatentModel.from_trainer(digits_trainer)
    directions, _ = principal_directions(model, 2, n=256)
    gen = torch.Generator().manual_seed(5)
    randoms = torch.nn.functional.normalize(torch.randn(16, 16, generator=gen), dim=1)
    top = latent.output_change(model, directions[0])
    typical = sum(latent.output_change(model, r) for r in randoms) / len(randoms)
    assert top > typical


def test_principal_directions_cap_k_at_the_latent_size(points_trainer):
    model = LatentModel.from_trainer(points_trainer)
    directions, explained = principal_directions(model, 4, n=64)
    assert directions.shape == (2, 2) and explained.shape == (2,)
    assert torch.allclose(directions.norm(dim=1), torch.ones(2), atol=1e-5)


# ---------------------------------------------------------- what the explorer's pages call


def test_one_class_for_the_whole_batch_is_the_same_as_its_labels():
    cfg = preset("digits-dcgan").replace(
        width=8, latent_dim=8, batch_size=16, conditional=True, device="cpu"
    )
    model = LatentModel.from_trainer(Trainer(cfg))
    z = torch.stack([z_from_seed(s, 8) for s in (1, 2, 3)])
    assert torch.equal(model.generate(z, 7), model.generate(z, torch.tensor([7, 7, 7])))
    with pytest.raises(ValueError, match="class must be from 0 to 9"):
        model.generate(z, 10)


def test_with_noise_replaces_only_the_leading_coordinates():
    z = torch.arange(6, dtype=torch.float32)
    out = latent.with_noise(z, torch.tensor([-1.0, -2.0]))
    assert out.tolist() == [-1.0, -2.0, 2.0, 3.0, 4.0, 5.0]
    assert z.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # the seed's z is left as it was


def test_along_sums_the_moves_along_each_direction():
    directions = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert latent.along(directions, [2.0, -0.5]).tolist() == [2.0, -0.5, 0.0]
    assert latent.along(directions[:0], []).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="2 directions need 2 amounts"):
        latent.along(directions, [1.0])


# ---------------------------------------------------------------------- W space (StyleGAN)
@pytest.fixture(scope="module")
def style_model() -> LatentModel:
    cfg = preset("digits-stylegan").replace(
        width=8, latent_dim=16, batch_size=16, device="cpu", eval_every=0
    )
    trainer = Trainer(cfg)
    for _ in range(3):
        trainer.train_step()
    model = LatentModel.from_trainer(trainer)
    with torch.no_grad():  # styles that matter at every layer, as after a longer training
        for p in model.generator.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return model


def test_only_a_style_generator_has_a_w_space(style_model, digits_trainer):
    assert latent.has_styles(style_model.generator)
    dcgan = LatentModel.from_trainer(digits_trainer).generator
    assert not latent.has_styles(dcgan)
    with pytest.raises(ValueError, match="no W space"):
        latent.style_ws(dcgan, torch.zeros(2, 16))


def test_style_ws_are_one_truncated_w_per_layer(style_model):
    g = style_model.generator
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    ws = latent.style_ws(g, z)
    assert ws.shape == (5, g.num_ws, g.w_dim)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))  # the same w at every layer
    torch.testing.assert_close(latent.style_ws(g, z, psi=0.0), g.w_avg.expand(5, g.num_ws, -1))
    half = latent.style_ws(g, z, psi=0.5)
    torch.testing.assert_close(half, (ws + g.w_avg) / 2)
    torch.testing.assert_close(
        latent.synthesise(g, ws), style_model.generate(z)  # eval: the same fixed noise
    )


def test_mixing_styles_takes_coarse_layers_from_one_z_and_fine_from_the_other(style_model):
    g = style_model.generator
    za = torch.randn(3, 16, generator=torch.Generator().manual_seed(2))
    zb = torch.randn(3, 16, generator=torch.Generator().manual_seed(3))
    a, b = style_model.generate(za), style_model.generate(zb)
    torch.testing.assert_close(latent.mix_styles(g, za, zb, 0), b)  # all fine: zb's
    torch.testing.assert_close(latent.mix_styles(g, za, zb, g.num_ws), a)  # all coarse: za's
    mixed = latent.mix_styles(g, za, zb, g.num_ws // 2)
    assert (mixed - a).abs().max() > 1e-3 and (mixed - b).abs().max() > 1e-3
    with pytest.raises(ValueError, match="crossover"):
        latent.mix_styles(g, za, zb, g.num_ws + 1)


def test_w_directions_are_the_principal_axes_of_the_mapped_styles(style_model):
    g = style_model.generator
    directions, share, spread = latent.w_directions(g, k=4, n=500)
    assert directions.shape == (4, g.w_dim) and share.shape == spread.shape == (4,)
    torch.testing.assert_close(directions @ directions.T, torch.eye(4), atol=1e-4, rtol=0)
    assert bool((share[:-1] >= share[1:]).all()) and 0 < float(share.sum()) <= 1 + 1e-6
    # the spread is the standard deviation of the styles along each direction
    z = torch.randn(500, g.latent_dim, generator=torch.Generator().manual_seed(0))
    w = latent.style_ws(g, z)[:, 0]
    along = (w - w.mean(0)) @ directions.T
    torch.testing.assert_close(along.std(0), spread, rtol=1e-3, atol=1e-5)
    again, _, _ = latent.w_directions(g, k=4, n=500)
    torch.testing.assert_close(again, directions)  # repeatable signs
    with pytest.raises(ValueError, match="no W space"):
        latent.w_directions(torch.nn.Linear(2, 2), k=2)
