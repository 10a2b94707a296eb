"""Shapes of every architecture at every size, the conditional and spectral-norm variants,
DCGAN's batch-norm rule for WGAN-GP, and that models come from the config alone."""

from __future__ import annotations

import builtins
import io
import os

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from playground.models.architectures import ARCHITECTURES, build_models
from playground.objectives.losses import LOSSES
from playground.settings.config import GANConfig

B = 4  # batch: > 1 so batch norm in training mode is defined


@pytest.fixture(autouse=True)
def _seeded():
    """Models initialise from the global RNG: seed it so no test depends on the ones before."""
    torch.manual_seed(0)


def image_cfg(**changes) -> GANConfig:
    base = dict(dataset="cifar10", arch="dcgan", width=8, hidden=16, layers=2, latent_dim=8)
    return GANConfig(**{**base, **changes}).validate()


def z_for(g, n: int = B, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, g.latent_dim, generator=torch.Generator().manual_seed(0))


def labels_for(n: int = B) -> torch.Tensor:
    return torch.arange(n) % 10


# ---------------------------------------------------------------------- shapes
def test_mlp_on_points():
    cfg = GANConfig(dataset="ring8", hidden=16, layers=2, latent_dim=3).validate()
    g, d = build_models(cfg, (2,))
    x = g(z_for(g))
    assert x.shape == (B, 2)
    assert d(x).shape == (B,)
    assert g.latent_dim == 3


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_image_models_at_every_size(arch, size, channels):
    cfg = image_cfg(arch=arch, image_size=size)
    g, d = build_models(cfg, (channels, size, size))
    x = g(z_for(g))
    assert x.shape == (B, channels, size, size)
    score = d(x)
    assert score.shape == (B,)
    assert torch.isfinite(score).all()


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("size", [28, 64])
def test_generated_images_lie_in_minus_one_to_one(arch, size):
    g, _ = build_models(image_cfg(arch=arch, image_size=size), (3, size, size))
    with torch.no_grad():
        for p in g.parameters():  # blow every weight up: unbounded outputs would be huge
            p.mul_(100.0)
        x = g(z_for(g, n=8, scale=10.0))
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.abs().max() > 0.99  # and the ends of the range are reached


def test_point_generator_is_not_squashed_into_minus_one_to_one():
    # The ring has radius 2: a tanh on 2D outputs would make it unreachable.
    cfg = GANConfig(dataset="ring8", hidden=16, layers=2).validate()
    g, _ = build_models(cfg, (2,))
    assert g(z_for(g, n=64, scale=100.0)).abs().max() > 1.0


def test_dcgan_refuses_an_unsupported_image_size():
    cfg = image_cfg()
    with pytest.raises(ValueError, match="8, 16, 28, 32 or 64"):
        build_models(cfg, (3, 12, 12))


def test_packed_discriminator_judges_packs_of_samples():
    cfg = GANConfig(dataset="ring8", hidden=16, layers=2, pack=4, batch_size=64).validate()
    g, d = build_models(cfg, (2,))
    assert g(z_for(g, n=8)).shape == (8, 2), "G is unchanged"
    assert d.features[1].in_features == 8, "D reads 4 points of 2 coordinates"
    assert d(torch.randn(2, 8)).shape == (2,)
    _, d_img = build_models(image_cfg(image_size=32, pack=2), (3, 32, 32))
    assert d_img.features[0].in_channels == 6
    assert d_img(torch.randn(2, 6, 32, 32)).shape == (2,)


# ---------------------------------------------------------------------- conditional
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_models_take_labels_and_use_them(arch):
    cfg = image_cfg(dataset="digits", arch=arch, image_size=32, conditional=True)
    g, d = build_models(cfg, (1, 32, 32), num_classes=10)
    g.eval()  # batch norm on running stats, so rows do not depend on each other
    d.eval()
    assert g.embed is not None and d.embed is not None
    z = z_for(g).repeat(2, 1)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    with torch.no_grad():
        x = g(z, labels)
        assert x.shape == (8, 1, 32, 32)
        assert not torch.allclose(x[:4], x[4:]), "the same z with other labels must differ"
        same_x = x[:1].repeat(8, 1, 1, 1)
        scores = d(same_x, labels)
    assert scores.shape == (8,)
    assert len(set(scores.tolist())) == 8, "the projection term makes D's score label-specific"


def test_unconditional_config_ignores_the_number_of_classes():
    g, d = build_models(image_cfg(dataset="digits", image_size=28), (1, 28, 28), num_classes=10)
    assert g.embed is None and d.embed is None
    assert g(z_for(g)).shape == (B, 1, 28, 28)


# ---------------------------------------------------------------------- spectral norm
def weighted_layers(module: nn.Module) -> list[nn.Module]:
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)
    return [m for m in module.modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_spectral_norm_parametrizes_every_layer_of_d_only(arch):
    cfg = image_cfg(
        dataset="digits", arch=arch, image_size=28, spectral_norm=True, conditional=True
    )
    g, d = build_models(cfg, (1, 28, 28), num_classes=10)
    d_layers = weighted_layers(d)
    assert len(d_layers) >= 3
    for layer in d_layers:
        assert parametrize.is_parametrized(layer, "weight"), layer
    assert not any(parametrize.is_parametrized(m) for m in weighted_layers(g))
    assert d(g(z_for(g), labels_for()), labels_for()).shape == (B,)


def test_without_spectral_norm_nothing_is_parametrized():
    g, d = build_models(image_cfg(image_size=32), (3, 32, 32))
    assert not any(parametrize.is_parametrized(m) for m in weighted_layers(d) + weighted_layers(g))


def test_spectral_norm_bounds_each_d_layer_near_one():
    cfg = GANConfig(dataset="ring8", hidden=32, layers=2, spectral_norm=True).validate()
    _, d = build_models(cfg, (2,))
    d.train()
    x = torch.randn(64, 2)
    for _ in range(30):  # power iteration converges over forward passes
        d(x)
    for layer in weighted_layers(d):
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------------- batch norm rules
def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
def test_dcgan_critic_has_no_batchnorm_for_wgan_gp(size):
    _, d = build_models(image_cfg(image_size=size, loss="wgan-gp"), (3, size, size))
    assert not has_batchnorm(d)
    _, d_plain = build_models(image_cfg(image_size=size), (3, size, size))
    assert has_batchnorm(d_plain), "the usual DCGAN D does use batch norm"


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_the_registry_says_which_ds_drop_batch_norm_under_a_gradient_penalty(name):
    arch = ARCHITECTURES[name]
    size = arch.image_sizes[-1]
    penalised = [n for n, loss in LOSSES.items() if loss.lipschitz == "gradient penalty"]
    assert penalised, "some loss is kept Lipschitz by a gradient penalty"
    shape = (3, size, size)
    _, plain = build_models(image_cfg(arch=name, image_size=size), shape)
    for loss in penalised:
        _, d = build_models(image_cfg(arch=name, image_size=size, loss=loss), shape)
        dropped = has_batchnorm(plain) and not has_batchnorm(d)
        assert dropped == arch.drops_batchnorm_for_gp, (name, loss)


def test_dcgan_d_has_no_batchnorm_with_spectral_norm():
    _, d = build_models(image_cfg(spectral_norm=True), (3, 32, 32))
    assert not has_batchnorm(d)


def test_dcgan_first_d_layer_has_no_batchnorm():
    _, d = build_models(image_cfg(image_size=32), (3, 32, 32))
    first_conv = d.features[0]
    assert isinstance(first_conv, nn.Conv2d)
    assert not isinstance(d.features[1], nn.BatchNorm2d)


def test_dcgan_init_uses_small_normal_weights():
    g, d = build_models(image_cfg(image_size=64, width=16), (3, 64, 64))
    convs = [m for m in list(g.modules()) + list(d.modules()) if isinstance(m, nn.Conv2d)]
    big = max(convs, key=lambda m: m.weight.numel())
    weight = big.weight.detach()
    assert float(weight.mean()) == pytest.approx(0.0, abs=0.003)
    assert float(weight.std()) == pytest.approx(0.02, abs=0.003)


# ---------------------------------------------------------------------- config alone
def test_models_are_built_without_touching_files(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"model building opened a file: {args[:1]}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    monkeypatch.setattr(os, "open", refuse)
    for cfg, shape in [
        (GANConfig(dataset="ring8", hidden=16, layers=2).validate(), (2,)),
        (image_cfg(image_size=64, conditional=False), (3, 64, 64)),
        (image_cfg(dataset="digits", image_size=28, conditional=True), (1, 28, 28)),
    ]:
        g, d = build_models(cfg, shape, num_classes=10)
        assert sum(p.numel() for p in g.parameters()) > 0
        assert sum(p.numel() for p in d.parameters()) > 0


def test_same_seed_builds_the_same_models():
    cfg = image_cfg(image_size=32)

    def build():
        torch.manual_seed(7)
        return build_models(cfg, (3, 32, 32))

    (g1, d1), (g2, d2) = build(), build()
    for a, b in [(g1, g2), (d1, d2)]:
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert torch.equal(x, y), name


def test_width_and_hidden_settings_size_the_models():
    small_g, small_d = build_models(image_cfg(image_size=32, width=8), (3, 32, 32))
    big_g, big_d = build_models(image_cfg(image_size=32, width=16), (3, 32, 32))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(big_g) > count(small_g) and count(big_d) > count(small_d)
    cfg = GANConfig(dataset="ring8", hidden=24, layers=3).validate()
    g, d = build_models(cfg, (2,))
    assert [m.out_features for m in g.body if isinstance(m, nn.Linear)] == [24, 24, 24, 2]
    assert [m.out_features for m in d.features if isinstance(m, nn.Linear)] == [24, 24, 24]
