"""StyleGAN's G (Karras et al. 2019, 2020): shapes, demodulation, style mixing, truncation, the
running mean of w, training on the digits and the checkpoint round trip."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from playground.errors import ConfigError
from playground.latent import load_latent_model
from playground.models import stylegan
from playground.models.architectures import ARCHITECTURES, build_models
from playground.settings import fields
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.storage.checkpoints import load_checkpoint, save_checkpoint
from playground.training.trainer import Trainer

B = 4
Z = 8


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def style_cfg(**changes) -> GANConfig:
    base = dict(dataset="digits", arch="stylegan", width=8, latent_dim=Z, image_size=8)
    return GANConfig(**{**base, **changes}).validate()


def tiny_preset(**changes) -> GANConfig:
    """The digits-stylegan preset, a few steps long."""
    tiny = dict(batch_size=8, steps=3, device="cpu", log_every=1, sample_every=2, eval_every=0)
    return preset("digits-stylegan").replace(**{**tiny, **changes}).validate()


def generator(size: int = 8, channels: int = 1) -> stylegan.StyleGenerator:
    g, _ = build_models(style_cfg(image_size=size), (channels, size, size))
    return g


def zs(n: int = B, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, Z, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_at_every_size(size, channels, conditional):
    cfg = style_cfg(image_size=size, conditional=conditional)
    g, d = build_models(cfg, (channels, size, size), 10)
    labels = torch.arange(B) % 10 if conditional else None
    x = g(zs(), labels)
    assert x.shape == (B, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    # One w per style layer (one at 4x4, two per doubling) and one for the toRGB.
    assert g.num_ws == 1 + 2 * stylegan.doublings(size) + 1 and g.w_dim == Z
    w = g.mapping(zs(), labels)
    assert w.shape == (B, Z)
    assert g.synthesis(g.broadcast(w)).shape == (B, channels, size, size)
    score = d(x, labels)
    assert score.shape == (B,) and torch.isfinite(score).all()


def test_other_sizes_are_refused_by_name():
    with pytest.raises(ConfigError, match="image_size"):
        style_cfg(image_size=28)
    with pytest.raises(ValueError, match="stylegan"):
        build_models(style_cfg(), (1, 28, 28))
    with pytest.raises(ConfigError, match="arch"):
        GANConfig(dataset="ring8", arch="stylegan").validate()


def test_ws_of_the_wrong_shape_are_refused():
    g = generator()
    with pytest.raises(ValueError, match="ws must be"):
        g.synthesis(torch.zeros(B, g.num_ws - 1, Z))


def test_equalised_learning_rate_weights_are_left_unit_normal_by_the_init():
    g, d = build_models(style_cfg(width=32, latent_dim=64), (1, 8, 8))
    # Drawn N(0, 1) (N(0, 1/lr_mul²) in the mapping) and scaled at run time; dcgan_init, which
    # is applied to D's layers, would have made them N(0, 0.02).
    stds = [float(m.weight.detach().std()) * m.lr_mul for m in g.modules()
            if isinstance(m, stylegan.EqualLinear) and m.weight.numel() >= 1024]
    stds += [float(m.weight.detach().std()) for m in g.modules()
             if isinstance(m, stylegan.ModulatedConv2d) and m.weight.numel() >= 1024]
    assert len(stds) >= 6 and all(0.8 < s < 1.2 for s in stds), stds
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(float(m.weight.detach().std()) < 0.05 for m in convs)


# ---------------------------------------------------------------------- demodulation
@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
def test_demodulation_gives_unit_std_per_channel_whatever_the_style_scale(scale):
    conv = stylegan.ModulatedConv2d(16, 32, Z, 3)
    plain = stylegan.ModulatedConv2d(16, 32, Z, 3, demodulate=False)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, 16, 64, 64)
    w = scale * torch.randn(2, Z)
    with torch.no_grad():
        conv.affine.weight.mul_(scale)  # styles far from 1 as well
        plain.affine.weight.copy_(conv.affine.weight)
        std = conv(x, w).std(dim=(2, 3))  # (N, c_out)
        plain_std = plain(x, w).std(dim=(2, 3))
    # Zero padding loses a little variance at the border; otherwise it is exactly 1.
    assert std.flatten().tolist() == pytest.approx([1.0] * std.numel(), abs=0.1)
    if scale == 10.0:  # without demodulation the style's scale comes through
        assert float(plain_std.mean()) > 3.0


def test_the_shared_kernel_form_equals_the_grouped_convolution_with_one_kernel_per_sample():
    for demodulate in (True, False):
        conv = stylegan.ModulatedConv2d(6, 5, Z, 3, demodulate=demodulate)
        x, w = torch.randn(3, 6, 9, 9), torch.randn(3, Z)
        with torch.no_grad():
            kernels = conv.modulated_weight(w)  # (N, c_out, c_in, k, k)
            grouped = F.conv2d(
                x.reshape(1, 3 * 6, 9, 9), kernels.reshape(3 * 5, 6, 3, 3), padding=1, groups=3
            ).reshape(3, 5, 9, 9)
            torch.testing.assert_close(conv(x, w), grouped, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- styles
def test_coarse_styles_from_one_z_and_fine_from_another_make_a_third_image():
    g = generator(size=16).eval()
    with torch.no_grad():
        for p in g.parameters():  # trained-like noise strengths and styles, not the init's 0
            p.add_(0.3 * torch.randn_like(p))
        wa, wb = g.broadcast(g.mapping(zs(1, seed=1))), g.broadcast(g.mapping(zs(1, seed=2)))
        cut = g.num_ws // 2
        mixed = torch.cat([wa[:, :cut], wb[:, cut:]], dim=1)
        a, b, ab = (g.synthesis(ws, noise_mode="none") for ws in (wa, wb, mixed))
    assert (ab - a).abs().max() > 1e-3 and (ab - b).abs().max() > 1e-3
    assert (a - b).abs().max() > 1e-3


def test_style_mixing_takes_the_rolled_batchs_ws_from_one_crossover_on():
    g = generator(size=16).train()
    g.mixing_prob = 1.0
    ws = torch.arange(B, dtype=torch.float)[:, None, None].expand(B, g.num_ws, Z)
    mixed = g.mix_styles(ws)
    first = mixed[0, :, 0].tolist()  # sample 0's layers: its own w (0) then sample B-1's
    crossover = first.index(float(B - 1))
    assert 1 <= crossover < g.num_ws
    assert first == [0.0] * crossover + [float(B - 1)] * (g.num_ws - crossover)
    torch.testing.assert_close(mixed[:, crossover:], ws.roll(1, dims=0)[:, crossover:])
    g.mixing_prob = 0.0
    assert torch.equal(g.mix_styles(ws), ws)


def test_training_mode_is_deterministic_under_the_seed():
    g = generator()
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        outs.append(g(zs()))  # style mixing and noise draw from the global RNG
    assert torch.equal(*outs)


def test_eval_mode_gives_the_same_image_for_the_same_z():
    g = generator()
    with torch.no_grad():
        for layer in g.body.layers:
            layer.noise_strength.fill_(1.0)
        g.eval()
        assert torch.equal(g(zs()), g(zs()))  # const noise, no mixing
        g.train()
        assert not torch.equal(g(zs()), g(zs()))  # fresh noise


# ---------------------------------------------------------------------- truncation
def test_w_avg_follows_w_in_training_only():
    g = generator()
    assert torch.equal(g.w_avg, torch.zeros(Z))
    w = g.mapping(zs(64))
    expected = (1 - stylegan.W_AVG_BETA) * w.detach().mean(0)
    torch.testing.assert_close(g.w_avg, expected)
    g.eval()
    before = g.w_avg.clone()
    g(zs(64, seed=3))
    assert torch.equal(g.w_avg, before)


def test_truncation_at_psi_zero_gives_one_image_for_every_z():
    g = generator(size=16)
    with torch.no_grad():
        for _ in range(50):
            g.mapping(torch.randn(64, Z))  # a w_avg that is not 0
        g.eval()
        w = g.mapping(zs(6))
        torch.testing.assert_close(g.truncate(w, 1.0), w)
        torch.testing.assert_close(g.truncate(w, 0.0), g.w_avg.expand(6, Z))
        images = g.synthesis(g.broadcast(g.truncate(w, 0.0)), noise_mode="const")
        untruncated = g.synthesis(g.broadcast(w), noise_mode="const")
    torch.testing.assert_close(images, images[:1].expand_as(images))
    assert (untruncated - untruncated[:1]).abs().max() > 1e-3


# ---------------------------------------------------------------------- training
def test_a_few_steps_of_the_preset_train_with_finite_losses():
    cfg = tiny_preset()
    assert (cfg.arch, cfg.image_size, cfg.dataset) == ("stylegan", 8, "digits")
    trainer = Trainer(cfg)
    g0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    for _ in range(3):
        trainer.train_step()
    history = trainer.history.copy()
    for series in ("d_loss", "g_loss"):
        assert len(history[series]) == 3 and all(map(math.isfinite, history[series]))
    assert any(not torch.equal(v, trainer.G.state_dict()[k]) for k, v in g0.items())
    assert trainer.G.w_avg.abs().sum() > 0
    assert trainer.sample(5, seed=0).shape == (5, 1, 8, 8)


def test_conditional_stylegan_trains_on_digits():
    trainer = Trainer(tiny_preset(conditional=True, steps=1))
    trainer.train_step()
    assert trainer.G.embed is not None and trainer.D.embed is not None


# ---------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_keeps_w_avg(tmp_path):
    trainer = Trainer(tiny_preset(ema=0.5))
    for _ in range(2):
        trainer.train_step()
    assert trainer.G.w_avg.abs().sum() > 0
    folder = save_checkpoint(trainer, tmp_path / "stylegan")
    loaded = load_checkpoint(folder)
    for a, b in ((trainer.G, loaded.G), (trainer.D, loaded.D), (trainer.G_ema, loaded.G_ema)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert "w_avg" in loaded.G.state_dict()
    assert torch.equal(loaded.G.w_avg, trainer.G.w_avg)
    assert torch.equal(loaded.sample(6, seed=1), trainer.sample(6, seed=1))
    model = load_latent_model(folder)
    z = torch.randn(6, trainer.cfg.latent_dim, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(model.generate(z), trainer.generate(z).float().cpu())


# ---------------------------------------------------------------------- registry
def test_the_registry_entry_states_its_facts_and_the_settings_offer_it():
    entry = ARCHITECTURES["stylegan"]
    assert entry.image_sizes == (8, 16, 32, 64) and not entry.points
    assert "Karras" in entry.summary
    assert "stylegan" in fields.ARCHITECTURES
