"""SNGAN's ResNet G and D (Miyato et al. 2018): shapes, spectral norm, training, checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from playground.errors import ConfigError
from playground.latent import load_latent_model
from playground.models.architectures import ARCHITECTURES, build_models
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.storage.checkpoints import load_checkpoint, save_checkpoint
from playground.training.trainer import Trainer

B = 4


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def sngan_cfg(**changes) -> GANConfig:
    base = dict(dataset="cifar10", arch="sngan", width=8, latent_dim=8, loss="hinge")
    return GANConfig(**{**base, **changes}).validate()


def digits_sngan(**changes) -> GANConfig:
    """The cifar10-sngan preset on the bundled digits at 32 px (CIFAR-10 needs a download)."""
    tiny = dict(dataset="digits", width=8, latent_dim=8, batch_size=8, steps=3, device="cpu")
    tiny |= dict(log_every=1, sample_every=2, eval_every=0)
    return preset("cifar10-sngan").replace(**{**tiny, **changes}).validate()


def largest_singular_values(d: nn.Module) -> list[float]:
    """σ_max of every spectrally normalised weight of D, as the layer uses it (reshaped to a
    matrix (out, in·k·k), which is what spectral norm normalises)."""
    values = []
    for module in d.modules():
        if hasattr(module, "parametrizations") and "weight" in module.parametrizations:
            w = module.weight.detach()
            values.append(float(torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)))
    return values


# ---------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_at_32_and_64_pixels(size, channels, conditional):
    cfg = sngan_cfg(image_size=size, conditional=conditional)
    g, d = build_models(cfg, (channels, size, size), 10)
    labels = torch.arange(B) % 10 if conditional else None
    x = g(torch.randn(B, 8), labels)
    assert x.shape == (B, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    score = d(x, labels)
    assert score.shape == (B,) and torch.isfinite(score).all()


@pytest.mark.parametrize("size", [32, 64])
def test_the_papers_block_counts(size):
    g, d = build_models(sngan_cfg(image_size=size), (3, size, size))
    blocks = {type(m).__name__: 0 for m in (*g.modules(), *d.modules())}
    for m in (*g.modules(), *d.modules()):
        blocks[type(m).__name__] += 1
    up = {32: 3, 64: 4}[size]  # G: 4x4 -> 32 in 3 up-blocks, -> 64 in 4
    assert blocks["GBlock"] == up
    # D: the optimized first block, down-blocks to 8x8, two blocks at 8x8 (the CIFAR D).
    assert blocks["DBlock"] == 1 + (up - 2) + 2
    assert blocks["SumPool"] == 1


def test_other_sizes_are_refused_by_name():
    with pytest.raises(ConfigError, match="image_size.*32 or 64"):
        sngan_cfg(image_size=28)
    with pytest.raises(ValueError, match="sngan"):
        build_models(sngan_cfg(), (3, 28, 28))
    with pytest.raises(ConfigError, match="arch"):
        GANConfig(dataset="ring8", arch="sngan").validate()


# ---------------------------------------------------------------------- spectral norm
def test_every_d_layer_has_largest_singular_value_one_after_training():
    trainer = Trainer(digits_sngan(steps=4))
    for _ in range(4):
        trainer.train_step()
    sigmas = largest_singular_values(trainer.D)
    # 2 convs + shortcut per block (4 blocks at 32 px, the two 8x8 ones without shortcut) + head.
    assert len(sigmas) == 4 * 2 + 2 + 1
    # One power iteration per forward pass tracks σ closely, not exactly.
    assert sigmas == pytest.approx([1.0] * len(sigmas), abs=0.05)
    originals = [m.parametrizations.weight.original.detach() for m in trainer.D.modules()
                 if hasattr(m, "parametrizations")]
    raw = [float(torch.linalg.matrix_norm(w.flatten(1), ord=2)) for w in originals]
    assert max(abs(s - 1) for s in raw) > 0.1, "the raw weights are not normalised themselves"


def test_the_generator_is_not_spectrally_normalised():
    g, _ = build_models(sngan_cfg(), (3, 32, 32))
    assert largest_singular_values(g) == []


# ---------------------------------------------------------------------- training
def test_a_few_steps_of_the_preset_change_both_players_weights():
    cfg = digits_sngan()
    assert (cfg.loss, cfg.beta1, cfg.beta2, cfg.d_steps) == ("hinge", 0.0, 0.9, 5)
    trainer = Trainer(cfg)
    g0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    d0 = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    for _ in range(2):
        record = trainer.train_step()
    assert record is not None
    assert any(not torch.equal(v, trainer.G.state_dict()[k]) for k, v in g0.items())
    assert any(not torch.equal(v, trainer.D.state_dict()[k]) for k, v in d0.items())
    assert trainer.sample(5, seed=0).shape == (5, 1, 32, 32)


def test_conditional_sngan_trains_on_digits():
    trainer = Trainer(digits_sngan(conditional=True, d_steps=1))
    trainer.train_step()
    assert trainer.G.embed is not None and trainer.D.embed is not None


# ---------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_and_the_explorers_loading_path(tmp_path):
    trainer = Trainer(digits_sngan(ema=0.5, d_steps=1))
    for _ in range(2):
        trainer.train_step()
    folder = save_checkpoint(trainer, tmp_path / "sngan")
    loaded = load_checkpoint(folder)
    for a, b in ((trainer.G, loaded.G), (trainer.D, loaded.D), (trainer.G_ema, loaded.G_ema)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(loaded.sample(6, seed=1), trainer.sample(6, seed=1))
    model = load_latent_model(folder)
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(model.generate(z), trainer.generate(z).float().cpu())


def test_the_registry_entry_states_its_facts():
    entry = ARCHITECTURES["sngan"]
    assert entry.image_sizes == (32, 64) and not entry.points
    assert "Miyato" in entry.summary
