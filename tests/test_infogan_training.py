"""InfoGAN inside training and exploring: L_I is logged as a series, WGAN's weight clipping
leaves Q's weights alone, and the explorer's principal directions keep the codes fixed."""

from __future__ import annotations

import math

import pytest
import torch

from playground import latent
from playground.models import infogan
from playground.settings.presets import preset
from playground.storage.checkpoints import load_checkpoint, save_checkpoint
from playground.training.history import BoundedHistory
from playground.training.trainer import Trainer

TINY = dict(width=8, batch_size=16, eval_every=0, device="cpu", log_every=2)


def tiny(**changes):
    return preset("digits-infogan").replace(**{**TINY, **changes})


# ---------------------------------------------------------------------- L_I in the history
def test_the_history_logs_l_i_as_the_mean_over_gs_updates(monkeypatch):
    trainer = Trainer(tiny(g_steps=2))
    seen = []
    real_loss = infogan.info_loss

    def spy(d, x, z):
        value = real_loss(d, x, z)
        if x.requires_grad:  # G's update (D's sees detached fakes)
            seen.append(float(value.detach()))
        return value

    monkeypatch.setattr(infogan, "info_loss", spy)
    trainer.train_step()
    record = trainer.train_step()  # log_every=2: the second step logs
    assert len(seen) == 4, "two G updates a step, two steps"
    assert record["info_loss"] == pytest.approx(sum(seen) / 4, rel=1e-5)
    assert trainer.history.copy()["info_loss"] == [pytest.approx(sum(seen) / 4, rel=1e-5)]


def test_a_d_only_step_carries_l_i_forward_and_a_plain_run_has_no_such_series():
    trainer = Trainer(tiny())
    first = trainer.train_step(log_now=True)
    again = trainer.train_step(g=False, log_now=True)  # D only: G's series keep their values
    assert again["info_loss"] == first["info_loss"] and math.isfinite(first["info_loss"])
    plain = Trainer(tiny(info_cat=0, info_cont=0, latent_dim=64))
    assert "info_loss" not in plain.train_step(log_now=True)


def test_a_checkpoint_saved_before_the_series_loads_with_gaps(tmp_path):
    trainer = Trainer(tiny())
    trainer.train_step(log_now=True)
    folder = save_checkpoint(trainer, tmp_path / "run")
    old = BoundedHistory(("step",) + tuple(trainer.history.keys[1:-1]))
    state = trainer.history.state()
    del state["data"]["info_loss"]  # as a checkpoint written before L_I was logged
    old.load(state)  # the old layout itself loads
    loaded = load_checkpoint(folder)
    assert math.isfinite(loaded.history.copy()["info_loss"][0])
    fresh = Trainer(tiny())
    fresh.history.load(state)
    assert len(fresh.history) == 1 and math.isnan(fresh.history.copy()["info_loss"][0])


# ---------------------------------------------------------------------- weight clipping
def test_wgans_weight_clipping_bounds_d_but_not_q():
    trainer = Trainer(tiny(loss="wgan", clip_value=0.01, optimizer="rmsprop"))
    q = infogan.head_of(trainer.D)
    assert max(float(p.abs().max()) for p in q.parameters()) > 0.05, "Q starts beyond c"
    trainer.d_update()
    shared = infogan.critic_params(trainer.D)
    assert max(float(p.abs().max()) for p in shared) <= 0.01
    assert max(float(p.abs().max()) for p in q.parameters()) > 0.05, "Q was not clipped"
    assert not {id(p) for p in q.parameters()} & {id(p) for p in shared}


# ---------------------------------------------------------------------- the explorer
def test_principal_directions_move_the_noise_only_and_sample_the_codes_prior(monkeypatch):
    trainer = Trainer(tiny())
    model = latent.LatentModel.from_trainer(trainer)
    codes = model.codes
    seen = []
    real_generate = model.generate

    def spy(z, labels=None):
        seen.append(z.clone())
        return real_generate(z, labels)

    monkeypatch.setattr(model, "generate", spy)
    directions, explained = latent.principal_directions(model, k=4, n=64)
    assert directions.shape == (4, model.latent_dim)
    assert torch.equal(directions[:, -codes.size :], torch.zeros(4, codes.size))
    assert torch.allclose(directions.norm(dim=1), torch.ones(4))
    category = seen[0][:, -codes.size : -codes.size + codes.categories]
    assert torch.equal(category.sum(1), torch.ones(64)), "the categories are one-hot"
    assert set(category.unique().tolist()) == {0.0, 1.0}


def test_principal_directions_without_codes_use_every_dimension():
    trainer = Trainer(tiny(info_cat=0, info_cont=0, latent_dim=16))
    model = latent.LatentModel.from_trainer(trainer)
    directions, _ = latent.principal_directions(model, k=3, n=64)
    assert directions.shape == (3, 16) and bool((directions[:, -1] != 0).any())
