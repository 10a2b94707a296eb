"""The regularisers' registry and the step pieces Trainer and MultiRun share: R1 against
hand-computed gradients, the gradient penalty stacked over members against one run at a time,
packing, instance noise and the shown score; R1 and RaGAN inside a training step."""

from __future__ import annotations

import math

import pytest
import torch

from playground.errors import ConfigError
from playground.objectives import regularisers as reg
from playground.settings.config import GANConfig
from playground.settings.fields import LIVE_SETTINGS
from playground.training.multirun import MultiRun
from playground.training.trainer import Trainer


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# ---------------------------------------------------------------------- registry
def test_every_regulariser_names_a_real_setting():
    fields = GANConfig().to_dict()
    for entry in reg.REGULARISERS.values():
        assert entry.setting in fields, entry.name
        assert entry.source.strip() and entry.sentence.strip()
    assert reg.REGULARISERS["diffaugment"].data == ("images",)


def test_r1_gamma_is_live_and_validated():
    assert "r1_gamma" in LIVE_SETTINGS
    with pytest.raises(ConfigError, match="r1_gamma"):
        GANConfig(r1_gamma=-1.0).validate()


# ---------------------------------------------------------------------- R1
def test_r1_of_a_linear_critic_is_its_squared_weight_norm():
    # D(x) = w·x has ∇ₓD = w everywhere: E‖∇‖² = ‖w‖² = 3² + 4² = 25.
    w = t([3.0, 4.0])
    real = torch.randn(16, 2, dtype=torch.float64).requires_grad_(True)
    assert float(reg.r1_penalty(real @ w, real).detach()) == pytest.approx(25.0)


def test_r1_of_a_quadratic_critic_by_hand():
    # D(x) = ½‖x‖² has ∇ₓD = x: E‖∇‖² is the mean squared norm of the real points.
    real = t([[1.0, 2.0], [0.0, -3.0], [2.0, 2.0]]).requires_grad_(True)
    scores = 0.5 * (real**2).sum(dim=1)
    assert float(reg.r1_penalty(scores, real).detach()) == pytest.approx((5 + 9 + 8) / 3)


def test_r1_is_per_member_on_stacked_runs_and_differentiable():
    w = t([[1.0, 0.0], [0.0, 2.0]]).requires_grad_(True)  # member 0 and 1's linear critics
    real = torch.randn(2, 5, 2, dtype=torch.float64).requires_grad_(True)
    scores = torch.einsum("nbi,ni->nb", real, w)
    penalty = reg.r1_penalty(scores, real, batch_dims=2)
    assert penalty.detach().tolist() == pytest.approx([1.0, 4.0])
    penalty.sum().backward()  # ∂‖w‖²/∂w = 2w
    assert w.grad.flatten().tolist() == pytest.approx([2.0, 0.0, 0.0, 4.0])


# ---------------------------------------------------------------------- shared pieces
def test_stacked_gradient_penalty_equals_one_run_at_a_time():
    real, fake = torch.randn(3, 8, 2), torch.randn(3, 8, 2)
    eps = torch.rand(3, 8, 1)
    w = torch.randn(3, 2)

    def critic(x):
        return torch.einsum("nbi,ni->nb", x, w) ** 2

    stacked = reg.gradient_penalty(critic, real, fake, batch_dims=2, eps=eps)
    for i in range(3):
        one = reg.gradient_penalty(lambda x, i=i: (x @ w[i]) ** 2, real[i], fake[i], eps=eps[i])
        assert float(stacked[i].detach()) == pytest.approx(float(one.detach()), rel=1e-5)


def test_pack_groups_consecutive_samples_for_one_run_and_for_stacked_runs():
    x = torch.arange(24.0).reshape(6, 2, 2)  # (B, C, W)
    packed = reg.pack(x, 3)
    assert packed.shape == (2, 6, 2)
    assert torch.equal(packed[1], torch.cat([x[3], x[4], x[5]]))
    stacked = torch.arange(24.0).reshape(2, 6, 2)  # (N, B, 2)
    assert torch.equal(reg.pack(stacked, 2, batch_dims=2)[1, 0], stacked[1, :2].reshape(4))
    assert reg.pack(x, 1) is x


def test_instance_noise_anneals_and_draws_nothing_when_off():
    assert reg.annealed_noise_std(0.4, 0, 100) == pytest.approx(0.4)
    assert reg.annealed_noise_std(0.4, 75, 100) == pytest.approx(0.1)
    assert reg.annealed_noise_std(0.4, 150, 100) == 0.0
    x = torch.zeros(3)

    def boom():
        raise AssertionError("drew noise at std 0")

    assert reg.add_noise(x, 0.0, boom) is x
    assert reg.add_noise(x, 2.0, lambda: torch.ones(3)).tolist() == [2.0, 2.0, 2.0]


def test_shown_score_is_a_probability_only_where_the_loss_says():
    s = t([0.0, 2.0])
    assert reg.shown_score(s, True).tolist() == pytest.approx([0.5, 1 / (1 + math.exp(-2))])
    assert reg.shown_score(s, False) is s
    flags = torch.tensor([[True], [False]])
    both = reg.shown_score(torch.stack([s, s]), flags)
    assert both[0, 0] == 0.5 and both[1, 1] == 2.0


# ---------------------------------------------------------------------- in a training step
def _points(**kw) -> GANConfig:
    base = dict(dataset="ring8", hidden=16, layers=2, batch_size=32, steps=20, log_every=5)
    return GANConfig(**{**base, **kw}, device="cpu", eval_every=0)


def test_r1_changes_ds_update_and_is_weighted_by_gamma(monkeypatch):
    calls = []
    real_r1 = reg.r1_penalty

    def spy(scores, real, batch_dims=1):
        value = real_r1(scores, real, batch_dims)
        calls.append(float(value))
        return value

    monkeypatch.setattr(reg, "r1_penalty", spy)
    plain, with_r1 = Trainer(_points(seed=3)), Trainer(_points(seed=3, r1_gamma=10.0))
    plain.d_update()
    with_r1.d_update()
    assert len(calls) == 1 and calls[0] > 0, "R1 is computed only when r1_gamma > 0"
    moved = [
        not torch.equal(a, b)
        for a, b in zip(plain.D.parameters(), with_r1.D.parameters(), strict=True)
    ]
    assert any(moved), "the penalty changed D's update"


def test_r1_works_with_every_loss_in_a_lone_run_and_a_multirun():
    from playground.objectives.losses import LOSSES

    for name in LOSSES:
        trainer = Trainer(_points(loss=name, r1_gamma=1.0))
        for _ in range(5):
            trainer.train_step()
        assert all(torch.isfinite(p).all() for p in trainer.D.parameters()), name
    multi = MultiRun([_points(loss=name, r1_gamma=1.0) for name in LOSSES])
    for _ in range(5):
        records = multi.train_step()
    assert records is not None and all(r is not None for r in records)


def test_multirun_member_with_r1_follows_the_lone_run():
    cfg = _points(loss="hinge", r1_gamma=2.0, seed=5)
    lone, multi = Trainer(cfg), MultiRun([cfg, cfg.replace(seed=6)])
    for _ in range(10):
        lone.train_step()
        multi.train_step()
    assert multi.histories[0].copy()["d_loss"] == pytest.approx(
        lone.history.copy()["d_loss"], rel=1e-4, abs=1e-5
    )


def test_ragan_g_update_sees_ds_real_scores(monkeypatch):
    trainer = Trainer(_points(loss="ragan"))
    seen = []
    entry_g = trainer.g_loss_fn

    def spy(f, r):
        seen.append(r.shape)
        return entry_g(f, r)

    monkeypatch.setattr(trainer, "g_loss_fn", spy)
    trainer.g_update()
    assert seen == [torch.Size([32])]


def test_ragan_multirun_member_follows_the_lone_run():
    cfg = _points(loss="ragan", seed=2)
    lone, multi = Trainer(cfg), MultiRun([cfg, cfg.replace(loss="nonsaturating")])
    for _ in range(10):
        lone.train_step()
        multi.train_step()
    assert multi.histories[0].copy()["g_loss"] == pytest.approx(
        lone.history.copy()["g_loss"], rel=1e-4, abs=1e-5
    )
