"""The GAN step: weights move, each half touches only its player, the logged history, divergence,
WGAN clipping, the EMA generator, live changes, determinism and image models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.errors import ConfigError
from playground.settings.fields import LOSSES
from playground.settings.live import Hyper
from playground.training.history import SERIES, BoundedHistory
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer


def params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {name for name, p in module.named_parameters() if not torch.equal(before[name], p)}


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------- weights move
@pytest.mark.parametrize("loss", LOSSES)
def test_a_few_steps_change_both_players(tiny_cfg, loss):
    trainer = Trainer(tiny_cfg(loss=loss, d_steps=1))
    g0, d0 = params(trainer.G), params(trainer.D)
    for _ in range(3):
        trainer.train_step()
    assert changed(g0, trainer.G) == set(g0), "every generator tensor moves"
    # The critic losses are shift-invariant (E[f] - E[r]), so D's output bias gets no gradient;
    # every weight matrix must move for every loss.
    d_weights = {name for name in d0 if name.endswith("weight")}
    assert d_weights <= changed(d0, trainer.D)
    assert trainer.step == 3


def test_packed_d_trains(tiny_cfg):
    trainer = Trainer(tiny_cfg(pack=4))
    g0, d0 = params(trainer.G), params(trainer.D)
    record = [trainer.train_step() for _ in range(2)][-1]
    assert math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])
    assert changed(g0, trainer.G) == set(g0) and changed(d0, trainer.D) == set(d0)
    assert trainer.decision_map(resolution=8).shape == (8, 8)
    assert trainer.sample(10).shape == (10, 2), "samples are single points, not packs"


def test_d_only_step_changes_only_d(tiny_cfg):
    trainer = Trainer(tiny_cfg())
    g0, d0 = params(trainer.G), params(trainer.D)
    trainer.train_step(d=True, g=False)
    assert changed(g0, trainer.G) == set()
    assert changed(d0, trainer.D) == set(d0)
    assert not trainer.opt_g.state, "G's optimiser never stepped"
    assert trainer.step == 1


def test_g_only_step_changes_only_g(tiny_cfg):
    trainer = Trainer(tiny_cfg())
    g0, d0 = params(trainer.G), params(trainer.D)
    trainer.train_step(d=False, g=True)
    assert changed(d0, trainer.D) == set()
    assert changed(g0, trainer.G) == set(g0)
    assert not trainer.opt_d.state, "D's optimiser never stepped"


def test_d_steps_runs_that_many_discriminator_updates(tiny_cfg, monkeypatch):
    trainer = Trainer(tiny_cfg(d_steps=3, g_steps=2))
    calls = {"d": 0, "g": 0}
    d_update, g_update = trainer.d_update, trainer.g_update

    def count_d(want_norm=False):
        calls["d"] += 1
        d_update(want_norm)

    def count_g(want_norm=False):
        calls["g"] += 1
        g_update(want_norm)

    monkeypatch.setattr(trainer, "d_update", count_d)
    monkeypatch.setattr(trainer, "g_update", count_g)
    trainer.train_step()
    trainer.train_step()
    assert calls == {"d": 6, "g": 4}


# ---------------------------------------------------------------------- history
def test_history_records_every_series_at_log_steps(tiny_cfg):
    trainer = Trainer(tiny_cfg(log_every=2, steps=7))
    records = [trainer.train_step() for _ in range(7)]
    assert [r is not None for r in records] == [False, True, False, True, False, True, False]
    history = trainer.history.copy()
    assert set(history) == {"step", *SERIES}
    assert history["step"] == [2.0, 4.0, 6.0]
    for key in SERIES:
        assert len(history[key]) == 3
        assert all(math.isfinite(v) for v in history[key]), key
    assert history["d_loss"][-1] == records[5]["d_loss"]
    # Probabilities for the log-loss GAN, and gradients that were really measured.
    assert all(0 < v < 1 for v in history["d_real"] + history["d_fake"])
    assert all(v > 0 for v in history["g_grad_norm"] + history["d_grad_norm"])


def scripted(loss_fn, values):
    """The real loss's gradient with a scripted value: value + (loss - loss.detach())."""
    values = iter(values)

    def fn(*args):
        loss = loss_fn(*args)
        return loss - loss.detach() + next(values)

    return fn


def test_logged_losses_are_means_over_the_logging_interval(tiny_cfg, monkeypatch):
    trainer = Trainer(tiny_cfg(log_every=2, d_steps=2, g_steps=1))
    # Two steps of two D updates each, and two G updates, between the log points.
    monkeypatch.setattr(trainer, "d_loss_fn", scripted(trainer.d_loss_fn, [2.0, 4.0, 6.0, 12.0]))
    monkeypatch.setattr(trainer, "g_loss_fn", scripted(trainer.g_loss_fn, [1.0, 6.0]))
    assert trainer.train_step() is None
    record = trainer.train_step()
    assert record["d_loss"] == pytest.approx(6.0)
    assert record["g_loss"] == pytest.approx(3.5)


def test_bounded_history_stays_bounded_and_spans_the_run():
    history = BoundedHistory(keys=("step", "value"), capacity=100)
    for i in range(1, 10_001):
        history.append({"step": float(i), "value": float(i)})
        assert len(history) <= 100
    steps, values = history.data["step"], history.data["value"]
    stride = history.stride
    assert stride > 1 and len(steps) >= 50, "it coarsens instead of dropping the past"
    assert steps == sorted(set(steps)), "strictly increasing"
    assert steps[0] <= stride, "the first point still covers the first log"
    assert steps[-1] > 10_000 - stride, "and the last point reaches the end"
    # Every stored point is the mean of the `stride` logs ending at its step.
    for step, value in zip(steps, values, strict=True):
        assert value == step - (stride - 1) / 2


def test_bounded_history_state_round_trip():
    history = BoundedHistory(keys=("step", "value"), capacity=8)
    for i in range(1, 30):
        history.append({"step": float(i), "value": i * 0.5})
    copy = BoundedHistory(keys=("step", "value"), capacity=8)
    copy.load(history.state())
    assert copy.data == history.data and copy.stride == history.stride
    with pytest.raises(ValueError):
        copy.load({"data": {"step": [1.0, 2.0], "value": [1.0]}})


# ---------------------------------------------------------------------- divergence
def test_nan_loss_raises_divergence_with_a_readable_message(tiny_cfg, monkeypatch):
    trainer = Trainer(tiny_cfg(log_every=3))
    monkeypatch.setattr(trainer, "g_loss_fn", lambda f: f.mean() * math.nan)
    assert trainer.train_step() is None  # no host sync between log steps
    assert trainer.train_step() is None
    with pytest.raises(Divergence) as info:
        trainer.train_step()
    message = str(info.value)
    assert "diverged at step 3" in message
    assert "g_loss" in message
    assert "lr_g=" in message and "wgan-gp" in message, "it says what to try"
    assert "\n" not in message


def test_infinite_d_loss_raises_divergence(tiny_cfg, monkeypatch):
    trainer = Trainer(tiny_cfg(log_every=1))
    monkeypatch.setattr(trainer, "d_loss_fn", lambda r, f, s: (f - r).mean() + math.inf)
    with pytest.raises(Divergence, match="d_loss"):
        trainer.train_step()
    assert len(trainer.history) == 0, "a non-finite record is never stored"


# ---------------------------------------------------------------------- WGAN clipping
def test_wgan_clips_every_critic_weight(tiny_cfg):
    trainer = Trainer(tiny_cfg(loss="wgan", clip_value=0.01))
    assert max(p.abs().max() for p in trainer.D.parameters()) > 0.01  # not clipped at init
    for _ in range(3):
        trainer.train_step()
    for name, p in trainer.D.named_parameters():
        assert p.abs().max() <= 0.01, name


def test_other_losses_do_not_clip(tiny_cfg):
    trainer = Trainer(tiny_cfg(loss="hinge", clip_value=0.01))
    trainer.train_step()
    assert max(p.abs().max() for p in trainer.D.parameters()) > 0.01


# ---------------------------------------------------------------------- EMA
def test_ema_generator_is_the_decay_weighted_average(tiny_cfg):
    trainer = Trainer(tiny_cfg(ema=0.9))
    assert trainer.sampler is trainer.G_ema
    before = params(trainer.G)
    assert all(torch.equal(before[n], p) for n, p in trainer.G_ema.named_parameters())
    trainer.train_step()
    live = dict(trainer.G.named_parameters())
    for name, ema in trainer.G_ema.named_parameters():
        # ema ← 0.9·ema + 0.1·live, and ema started equal to G's initial weights.
        expected = 0.9 * before[name] + 0.1 * live[name].detach()
        torch.testing.assert_close(ema, expected, rtol=0, atol=1e-6)
        assert not torch.equal(ema, live[name]), name
        assert not ema.requires_grad
    for _ in range(3):
        trainer.train_step()
    assert not state_equal(trainer.G_ema, trainer.G)


def test_no_ema_means_the_sampler_is_g(tiny_cfg):
    trainer = Trainer(tiny_cfg(ema=0.0))
    assert trainer.G_ema is None and trainer.sampler is trainer.G


# ---------------------------------------------------------------------- live changes
def test_apply_changes_learning_rates_and_config(tiny_cfg):
    trainer = Trainer(tiny_cfg(lr_g=1e-3, lr_d=1e-3))
    trainer.apply(Hyper(lr_g=5e-4))
    assert [g["lr"] for g in trainer.opt_g.param_groups] == [5e-4]
    assert [g["lr"] for g in trainer.opt_d.param_groups] == [1e-3]
    assert trainer.cfg.lr_g == 5e-4 and trainer.cfg.lr_d == 1e-3
    trainer.apply(Hyper(lr_d=2e-4, d_steps=4))
    assert trainer.opt_d.param_groups[0]["lr"] == 2e-4
    assert trainer.cfg.d_steps == 4
    trainer.apply(Hyper())  # nothing to change
    assert trainer.cfg.lr_g == 5e-4


def test_apply_refuses_bad_values_and_changes_nothing(tiny_cfg):
    trainer = Trainer(tiny_cfg())
    with pytest.raises(ConfigError) as info:
        trainer.apply(Hyper(lr_g=-1.0))
    assert info.value.setting == "lr_g"
    assert trainer.cfg.lr_g == 1e-3 and trainer.opt_g.param_groups[0]["lr"] == 1e-3


# ---------------------------------------------------------------------- determinism
def test_same_seed_same_weights(tiny_cfg):
    cfg = tiny_cfg(seed=3, ema=0.5)
    a, b = Trainer(cfg), Trainer(cfg)
    for trainer in (a, b):
        for _ in range(5):
            trainer.train_step()
    assert state_equal(a.G, b.G) and state_equal(a.D, b.D) and state_equal(a.G_ema, b.G_ema)
    assert a.history.copy() == b.history.copy()
    c = Trainer(tiny_cfg(seed=4, ema=0.5))
    for _ in range(5):
        c.train_step()
    assert not state_equal(a.G, c.G)


def test_sample_is_reproducible_and_does_not_disturb_training(tiny_cfg):
    cfg = tiny_cfg()
    a, b = Trainer(cfg), Trainer(cfg)
    first = a.sample(64, seed=3)
    assert first.shape == (64, 2) and first.device.type == "cpu"
    assert torch.equal(first, a.sample(64, seed=3))
    assert not torch.equal(first, a.sample(64, seed=4))
    for _ in range(3):
        a.train_step()
        a.sample(10, seed=1)
        b.train_step()
    assert state_equal(a.G, b.G), "sampling draws from its own generator"
    assert a.G.training, "sampling leaves the model in training mode"


def test_fixed_noise_is_fixed(tiny_cfg):
    trainer = Trainer(tiny_cfg())
    z = trainer.fixed_z.clone()
    first = trainer.fixed_samples()
    assert first.shape == (512, 2) and first.dtype == np.float32
    assert np.array_equal(first, trainer.fixed_samples())
    trainer.train_step()
    assert torch.equal(z, trainer.fixed_z)
    assert not np.array_equal(first, trainer.fixed_samples()), "G moved, so its picture did"


def test_points_pictures(tiny_cfg):
    trainer = Trainer(tiny_cfg())
    grid = trainer.sample_grid()
    assert grid.dtype == np.uint8 and grid.shape == (512, 512, 3)
    decision = trainer.decision_map(resolution=16)
    assert decision.shape == (16, 16)
    assert ((decision > 0) & (decision < 1)).all(), "a probability for the log-loss GAN"
    x0, x1, y0, y1 = trainer.extent()
    assert x0 < -2 and x1 > 2 and y0 < -2 and y1 > 2, "the window holds the whole ring"


# ---------------------------------------------------------------------- images
def test_tiny_digits_dcgan_trains(tiny_image_cfg, make_trainer):
    trainer = make_trainer(tiny_image_cfg())
    g0, d0 = params(trainer.G), params(trainer.D)
    for _ in range(3):
        record = trainer.train_step()
    assert record is not None and all(math.isfinite(record[k]) for k in SERIES)
    assert changed(g0, trainer.G) and changed(d0, trainer.D)
    samples = trainer.fixed_samples()
    assert samples.shape == (64, 28, 28, 1) and samples.dtype == np.uint8
    grid = trainer.sample_grid()
    assert grid.ndim == 3 and grid.dtype == np.uint8
    assert trainer.sample(5, seed=0).shape == (5, 1, 28, 28)


def test_sampling_is_independent_of_the_batch_with_batch_norm(tiny_image_cfg, make_trainer):
    trainer = make_trainer(tiny_image_cfg())
    trainer.train_step()
    many = trainer.sample(16, seed=2)
    z = torch.randn(16, trainer.cfg.latent_dim, generator=torch.Generator().manual_seed(2))
    one = trainer.generate(z[:1])
    torch.testing.assert_close(one, many[:1], rtol=0, atol=1e-5)


def test_conditional_digits_model_trains(tiny_image_cfg, make_trainer):
    trainer = make_trainer(tiny_image_cfg(conditional=True, ema=0.9))
    assert trainer.num_classes == 10
    assert trainer.fixed_labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    g0 = params(trainer.G)
    for _ in range(2):
        trainer.train_step()
    assert "embed.weight" in changed(g0, trainer.G), "the label embedding is learned"
    assert trainer.sample(10, seed=0).shape == (10, 1, 28, 28)
    assert trainer.fixed_samples().shape == (64, 28, 28, 1)


@pytest.mark.parametrize("loss", ["wgan-gp", "hinge"])
def test_image_critic_losses_train(tiny_image_cfg, make_trainer, loss):
    trainer = make_trainer(tiny_image_cfg(loss=loss, spectral_norm=loss == "hinge"))
    for _ in range(2):
        record = trainer.train_step()
    assert math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])


def _update_norm(trainer, player: str) -> float:
    """The norm of the change one update makes to a player's weights."""
    module = trainer.D if player == "d" else trainer.G
    before = [p.detach().clone() for p in module.parameters()]
    (trainer.d_update if player == "d" else trainer.g_update)()
    return float(torch.sqrt(sum(((p.detach() - b) ** 2).sum()
                                for p, b in zip(module.parameters(), before, strict=True))))


@pytest.mark.parametrize("player", ["d", "g"])
def test_grad_clip_bounds_each_players_step(tiny_cfg, player):
    """With plain SGD at lr 1 an update moves the weights by exactly the gradient, so with
    grad_clip = c no update moves them further than c; unclipped, the same update does."""
    cfg = tiny_cfg(optimizer="sgd", lr_d=1.0, lr_g=1.0, seed=4)
    free = _update_norm(Trainer(cfg), player)
    clipped = _update_norm(Trainer(cfg.replace(grad_clip=free / 10)), player)
    assert free > 0 and clipped == pytest.approx(free / 10, rel=1e-4)


def test_grad_clip_is_a_live_setting_and_keeps_a_clipped_member_out_of_a_batch(tiny_cfg):
    from playground.training.multigroups import member_groups
    from playground.training.multirun import check_members

    trainer = Trainer(tiny_cfg(optimizer="sgd", lr_d=1.0, lr_g=1.0))
    trainer.apply({"grad_clip": 1e-3})
    assert trainer.cfg.grad_clip == 1e-3
    assert _update_norm(trainer, "d") == pytest.approx(1e-3, rel=1e-3)
    members = [tiny_cfg(seed=0), tiny_cfg(seed=1, grad_clip=1.0), tiny_cfg(seed=2)]
    assert member_groups(members) == [[0, 2], [1]]
    with pytest.raises(ConfigError, match="grad_clip"):
        check_members(members)
    with pytest.raises(ConfigError, match="grad_clip.*0 to 1000"):
        tiny_cfg(grad_clip=-1.0)
