"""DiffAugment (Zhao et al. 2020): each transform against the same parameters drawn by hand from
an identically seeded generator, gradients flowing through it, policies checked by name, and
the trainer applying it to real and generated images alike in both players' updates."""

from __future__ import annotations

import pytest
import torch

from playground.errors import ConfigError
from playground.objectives import diffaugment
from playground.objectives import regularisers as reg
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 4, c: int = 1, h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=gen(123)) * 2 - 1


def test_brightness_adds_one_offset_per_image():
    x = images()
    offsets = torch.rand(4, 1, 1, 1, generator=gen()) - 0.5
    assert torch.allclose(diffaugment.rand_brightness(x, gen()), x + offsets)


def test_saturation_scales_departure_from_the_channel_mean():
    x = images(c=3)
    factor = torch.rand(4, 1, 1, 1, generator=gen()) * 2
    mean = x.mean(dim=1, keepdim=True)
    assert torch.allclose(diffaugment.rand_saturation(x, gen()), (x - mean) * factor + mean)
    grey = images(c=1)
    assert torch.allclose(diffaugment.rand_saturation(grey, gen()), grey), "no colour: no change"


def test_contrast_scales_departure_from_the_image_mean():
    x = images(c=3)
    factor = torch.rand(4, 1, 1, 1, generator=gen()) + 0.5
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(diffaugment.rand_contrast(x, gen()), (x - mean) * factor + mean)


def test_translation_shifts_each_image_by_its_drawn_offset_with_zero_fill():
    x = images(b=6, c=2, h=8, w=8)
    out = diffaugment.rand_translation(x, gen(5))
    g = gen(5)  # the same draws: shifts in [-1, 1] for 8 px at ratio 1/8
    tx = torch.randint(-1, 2, (6, 1, 1), generator=g).flatten().tolist()
    ty = torch.randint(-1, 2, (6, 1, 1), generator=g).flatten().tolist()
    for i in range(6):
        expected = torch.zeros_like(x[i])
        for r in range(8):
            for c in range(8):
                sr, sc = r + tx[i], c + ty[i]  # out[r, c] reads x[r + tx, c + ty]
                if 0 <= sr < 8 and 0 <= sc < 8:
                    expected[:, r, c] = x[i, :, sr, sc]
        assert torch.equal(out[i], expected), i


def test_cutout_zeroes_one_half_size_square_per_image():
    x = torch.ones(5, 2, 8, 8)
    out = diffaugment.rand_cutout(x, gen(7))
    g = gen(7)
    ox = torch.randint(0, 9, (5, 1, 1), generator=g).flatten().tolist()  # 8 + (1 - 4 % 2)
    oy = torch.randint(0, 9, (5, 1, 1), generator=g).flatten().tolist()
    for i in range(5):
        rows = range(max(ox[i] - 2, 0), min(ox[i] + 2, 8))  # centre ± size/2, clipped
        cols = range(max(oy[i] - 2, 0), min(oy[i] + 2, 8))
        expected = torch.ones(8, 8)
        for r in rows:
            for c in cols:
                expected[r, c] = 0.0
        assert torch.equal(out[i, 0], expected) and torch.equal(out[i, 1], expected), i


def test_policy_applies_its_transforms_in_order_and_is_differentiable():
    x = images(c=3).requires_grad_(True)
    policy = diffaugment.parse_policy("color,translation,cutout")
    out = diffaugment.diff_augment(x, policy, gen(1))
    g = gen(1)
    expected = x
    for fn in (
        diffaugment.rand_brightness,
        diffaugment.rand_saturation,
        diffaugment.rand_contrast,
        diffaugment.rand_translation,
        diffaugment.rand_cutout,
    ):
        expected = fn(expected, g)
    assert torch.equal(out, expected)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0, "G's gradient flows through"


def test_empty_policy_is_the_identity_and_unknown_names_are_refused():
    x = images()
    assert diffaugment.diff_augment(x, diffaugment.parse_policy(""), gen()) is x
    with pytest.raises(ValueError, match="zoom"):
        diffaugment.parse_policy("color,zoom")


def test_config_refuses_diffaugment_for_points_and_unknown_policies():
    with pytest.raises(ConfigError, match="diffaugment.*2D points"):
        GANConfig(dataset="ring8", diffaugment="translation").validate()
    with pytest.raises(ConfigError, match="diffaugment.*unknown policy"):
        GANConfig(dataset="digits", arch="dcgan", diffaugment="colour").validate()
    cfg = GANConfig(dataset="digits", arch="dcgan", diffaugment="color, translation")
    assert cfg.validate().diffaugment == "color, translation"


def _digits(**kw) -> GANConfig:
    base = dict(
        dataset="digits",
        arch="dcgan",
        image_size=32,
        width=8,
        latent_dim=8,
        batch_size=8,
        steps=10,
        log_every=5,
        eval_every=0,
        device="cpu",
    )
    return GANConfig(**{**base, **kw})


def test_trainer_augments_real_and_fake_for_d_and_fake_for_g(monkeypatch):
    trainer = Trainer(_digits(diffaugment="translation,cutout"))
    seen = []
    real_augment = diffaugment.diff_augment

    def spy(x, policy, generator=None):
        seen.append((x.requires_grad, policy))
        return real_augment(x, policy, generator)

    monkeypatch.setattr(reg, "diff_augment", spy)
    trainer.d_update()
    assert seen == [(False, ("translation", "cutout"))] * 2, "real, then fake (detached)"
    seen.clear()
    trainer.g_update()
    assert seen == [(True, ("translation", "cutout"))], "fake, with G's graph"


def test_trainer_without_diffaugment_never_augments(monkeypatch):
    def boom(*args, **kw):
        raise AssertionError("augmented without a policy")

    monkeypatch.setattr(reg, "diff_augment", boom)
    trainer = Trainer(_digits())
    trainer.train_step()
    assert trainer.step == 1
