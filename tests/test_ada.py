"""ADA (Karras et al. 2020): p rises while D is sure of the real images and falls otherwise,
within [0, 1]; the augmentation is differentiable and the identity at p = 0; a run with ADA
trains, logs p and r_t in its history, and a checkpoint of it loads with its p; the digits-ada
preset validates and trains."""

from __future__ import annotations

import math

import pytest
import torch

from playground.errors import ConfigError
from playground.objectives import ada
from playground.objectives import regularisers as reg
from playground.settings.config import GANConfig
from playground.settings.fields import ADVANCED_SETTINGS, FIELDS, LIVE_SETTINGS
from playground.settings.presets import PRESETS, preset
from playground.storage.checkpoints import load_checkpoint, save_checkpoint
from playground.training.trainer import Trainer


def _digits(**kw) -> GANConfig:
    base = dict(
        dataset="digits", arch="dcgan", image_size=8, width=8, latent_dim=8, batch_size=16,
        train_images=100, ada_target=0.6, steps=20, log_every=4, eval_every=0, device="cpu",
    )
    return GANConfig(**{**base, **kw})


def _images(b: int = 6, c: int = 1, seed: int = 3) -> torch.Tensor:
    return torch.rand(b, c, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ---------------------------------------------------------------------- p's controller
def test_p_rises_while_d_is_sure_of_the_real_images_and_stays_at_most_1():
    state = ada.AdaState(target=0.6, kimg=1.0, batch_size=100, device="cpu")  # 0.4 a step
    sure = torch.full((16, 1), 3.0)  # sign +1 on every real image: r_t = 1 > 0.6
    for _ in range(ada.INTERVAL - 1):
        state.observe(sure)
    assert float(state.p) == 0.0, "p moves only every INTERVAL D updates"
    state.observe(sure)
    assert float(state.p) == pytest.approx(0.4)
    for _ in range(10 * ada.INTERVAL):
        state.observe(sure)
    assert float(state.p) == 1.0, "clamped at 1"


def test_p_falls_while_d_is_unsure_and_stays_at_least_0():
    state = ada.AdaState(target=0.6, kimg=1.0, batch_size=100, device="cpu")
    state.p.fill_(0.5)
    unsure = torch.tensor([1.0, -1.0, 2.0, -2.0])  # r_t = 0 < 0.6
    for _ in range(ada.INTERVAL):
        state.observe(unsure)
    assert float(state.p) == pytest.approx(0.1)
    for _ in range(5 * ada.INTERVAL):
        state.observe(unsure)
    assert float(state.p) == 0.0, "clamped at 0"


def test_p_steps_by_batch_times_interval_over_kimg_thousand():
    state = ada.AdaState(target=0.6, kimg=20.0, batch_size=64, device="cpu")
    for _ in range(ada.INTERVAL):
        state.observe(torch.ones(64))
    assert float(state.p) == pytest.approx(64 * ada.INTERVAL / 20_000)


def test_logged_gives_p_and_r_t_averaged_since_the_last_log():
    state = ada.AdaState(target=0.6, kimg=1.0, batch_size=100, device="cpu")
    state.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # E[sign] = 0.5
    state.observe(torch.tensor([1.0, -1.0]))  # 0
    logged = state.logged()
    assert logged == {"ada_p": 0.0, "ada_rt": pytest.approx(0.25)}
    assert math.isnan(state.logged()["ada_rt"]), "no D update since: no r_t"


def test_resume_takes_p_back_from_a_logged_point():
    state = ada.AdaState(target=0.6, kimg=20.0, batch_size=64, device="cpu")
    state.resume({"ada_p": 0.37, "ada_rt": 0.6})
    assert float(state.p) == pytest.approx(0.37)
    state.resume(None)
    state.resume({"ada_p": math.nan})
    assert float(state.p) == pytest.approx(0.37), "nothing to take back: p stays"


# ---------------------------------------------------------------------- the augmentation
def test_the_augmentation_is_the_identity_at_p_0():
    x = _images(c=3)
    assert torch.equal(ada.augment(x, 0.0, torch.Generator().manual_seed(1)), x)
    assert torch.equal(ada.augment(x, torch.tensor(0.0), torch.Generator().manual_seed(1)), x)


def test_at_p_1_every_image_is_changed_and_at_p_half_some_are():
    x = _images(b=64, c=3)
    full = ada.augment(x, 1.0, torch.Generator().manual_seed(1))
    changed = (full - x).flatten(1).abs().amax(1) > 0
    assert changed.all()
    half = ada.augment(x, 0.5, torch.Generator().manual_seed(1))
    changed = (half - x).flatten(1).abs().amax(1) > 0
    assert 0 < int(changed.sum()) < 64, "each image keeps some links of the chain unapplied"


def test_xflip_mirrors_left_to_right():
    x = _images()
    assert torch.equal(ada.xflip(x)[..., 0], x[..., -1])


def test_the_augmentation_is_differentiable():
    x = _images(c=3).requires_grad_(True)
    out = ada.augment(x, 0.7, torch.Generator().manual_seed(2))
    (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0, "the gradient flows back through the transforms"


# ---------------------------------------------------------------------- the registry entry
def test_ada_is_one_registry_entry_with_its_settings_in_the_table():
    entry = reg.REGULARISERS["ada"]
    assert entry.setting == "ada_target" and "Karras" in entry.source
    assert entry.series == ada.SERIES and entry.uses == ("ada_kimg",)
    assert entry.data == ("images",) and not entry.batched and not entry.graphable
    for name in ("ada_target", *entry.uses):
        row = FIELDS[name]
        assert row.label and row.help and row.low is not None and row.high is not None
        assert name in ADVANCED_SETTINGS and name not in LIVE_SETTINGS
    assert not entry.on(GANConfig()), "off by default"


@pytest.mark.parametrize(
    "setting, value", [("ada_target", 1.5), ("ada_target", -0.1), ("ada_kimg", 0.0)]
)
def test_out_of_range_settings_are_refused(setting, value):
    with pytest.raises(ConfigError, match=setting):
        _digits(**{setting: value})


def test_ada_is_refused_for_2d_points():
    with pytest.raises(ConfigError, match="ada_target: applies to images only"):
        GANConfig(dataset="ring8", ada_target=0.6)


# ---------------------------------------------------------------------- a run with ADA
def test_a_run_with_ada_trains_and_logs_p_and_r_t():
    trainer = Trainer(_digits(ada_kimg=0.1))  # fast: p moves 0.64 at each adjustment
    before = [p.detach().clone() for p in trainer.D.parameters()]
    for _ in range(8):
        trainer.train_step()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.D.parameters(), strict=True))
    history = trainer.history.copy()
    assert len(history["ada_p"]) == len(history["ada_rt"]) == len(history["step"]) == 2
    assert all(0.0 <= p <= 1.0 for p in history["ada_p"])
    assert all(-1.0 <= r <= 1.0 for r in history["ada_rt"])
    (state,) = [a.state for a in trainer._regs if a.entry.name == "ada"]
    assert float(state.p) == pytest.approx(history["ada_p"][-1])


def test_a_run_without_ada_logs_no_ada_series():
    history = Trainer(_digits(ada_target=0.0)).history.copy()
    assert not set(ada.SERIES) & set(history)


def test_d_sees_augmented_images_once_p_is_up():
    trainer = Trainer(_digits())
    (state,) = [a.state for a in trainer._regs if a.entry.name == "ada"]
    x = _images(b=16)
    assert torch.equal(trainer._d_input(x), x), "p starts at 0: D sees the images as they are"
    state.p.fill_(1.0)
    assert not torch.equal(trainer._d_input(x), x)


def test_a_live_change_keeps_ada_p():
    trainer = Trainer(_digits())
    (state,) = [a.state for a in trainer._regs if a.entry.name == "ada"]
    state.p.fill_(0.42)
    trainer.apply({"lr_d": 1e-4})
    (kept,) = [a.state for a in trainer._regs if a.entry.name == "ada"]
    assert kept is state and float(kept.p) == pytest.approx(0.42)


def test_a_checkpoint_of_an_ada_run_round_trips_and_goes_on_from_its_p(tmp_path):
    trainer = Trainer(_digits(ada_kimg=0.1))
    for _ in range(8):
        trainer.train_step()
    folder = save_checkpoint(trainer, tmp_path / "ada")
    loaded = load_checkpoint(folder)
    assert loaded.cfg == trainer.cfg and loaded.step == trainer.step
    assert loaded.history.copy() == trainer.history.copy()
    for a, b in zip(trainer.G.state_dict().values(), loaded.G.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    loaded.train_step()
    (state,) = [a.state for a in loaded._regs if a.entry.name == "ada"]
    # The first step resumed p from the last logged point; one D update adjusts nothing.
    assert float(state.p) == pytest.approx(trainer.history.copy()["ada_p"][-1])
    assert float(state.p) > 0, "this run's p had risen"


# ---------------------------------------------------------------------- the preset
def test_the_digits_ada_preset_validates_and_trains_a_few_steps():
    assert "digits-ada" in PRESETS
    cfg = preset("digits-ada")
    assert cfg.dataset == "digits" and cfg.train_images == 100 and cfg.ada_target == 0.6
    assert reg.REGULARISERS["ada"].on(cfg)
    trainer = Trainer(cfg.replace(steps=8, log_every=4, device="cpu", eval_every=0))
    for _ in range(8):
        trainer.train_step()
    assert len(trainer.history.copy()["ada_p"]) == 2
