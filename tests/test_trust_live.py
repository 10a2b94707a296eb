"""Live changes and `train --resume --set`: a live setting changes with full effect, anything
else is refused naming it, and whatever is accepted leaves a checkpoint that loads."""

from __future__ import annotations

import dataclasses
import json

import pytest
from helpers import wait_for

from playground.cli import main
from playground.errors import ConfigError
from playground.objectives import losses
from playground.settings.config import GANConfig
from playground.settings.fields import LIVE_SETTINGS
from playground.settings.live import check_live_changes
from playground.storage.checkpoints import load_checkpoint, save_checkpoint
from playground.training.trainer import Trainer


def _counting(monkeypatch, loss: str) -> dict[str, int]:
    """Wrap the registry's functions of `loss` so a test sees whether training calls them."""
    calls = {"d": 0, "g": 0}
    entry = losses.LOSSES[loss]
    d_fn, g_fn = entry.d_loss, entry.g_loss

    def d_counted(*args):
        calls["d"] += 1
        return d_fn(*args)

    def g_counted(*args):
        calls["g"] += 1
        return g_fn(*args)

    counted = dataclasses.replace(entry, d_loss=d_counted, g_loss=g_counted)
    monkeypatch.setitem(losses.LOSSES, loss, counted)
    return calls


def test_live_settings_is_the_engines_list():
    fields = {name for name in GANConfig().to_dict()}
    assert set(LIVE_SETTINGS) <= fields
    for name in ("lr_g", "lr_d", "beta1", "beta2", "d_steps", "g_steps", "loss", "steps"):
        assert name in LIVE_SETTINGS
    for name in ("hidden", "latent_dim", "pack", "batch_size", "arch", "dataset", "seed"):
        assert name not in LIVE_SETTINGS


def test_apply_switches_loss_betas_and_weights_with_full_effect(tiny_cfg, monkeypatch):
    trainer = Trainer(tiny_cfg(loss="nonsaturating", steps=50, log_every=5))
    trainer.train_step()
    hinge = _counting(monkeypatch, "hinge")
    trainer.apply(
        dict(loss="hinge", beta1=0.0, beta2=0.9, g_steps=2, instance_noise=0.1, log_every=2)
    )
    for opt in (trainer.opt_g, trainer.opt_d):
        assert opt.param_groups[0]["betas"] == (0.0, 0.9)
    record = None
    while record is None:
        record = trainer.train_step()
    assert trainer.step == 2, "the new log_every took effect"
    assert hinge["d"] == 1 and hinge["g"] == 2, "one D update, then two G updates, with hinge"
    assert trainer.cfg.loss == "hinge" and trainer.cfg.instance_noise == 0.1


@pytest.mark.parametrize(
    "change",
    [dict(hidden=32), dict(latent_dim=3), dict(pack=2), dict(batch_size=16), dict(seed=1),
     dict(dataset="spiral"), dict(ema=0.5)],
)
def test_apply_refuses_what_cannot_change_live(tiny_cfg, change):
    trainer = Trainer(tiny_cfg())
    before = trainer.cfg
    with pytest.raises(ConfigError) as info:
        trainer.apply(change)
    assert info.value.setting in change and "cannot change" in str(info.value)
    assert trainer.cfg == before


def test_a_loss_that_changes_ds_layers_is_refused(tiny_image_cfg):
    # DCGAN's D drops batch norm under wgan-gp: its weights would not fit.
    with pytest.raises(ConfigError) as info:
        check_live_changes(tiny_image_cfg(), dict(loss="wgan-gp"))
    assert info.value.setting == "loss"
    assert check_live_changes(tiny_image_cfg(), dict(loss="hinge")).loss == "hinge"


def test_set_hyper_takes_any_live_setting_and_refuses_others(runs, tiny_cfg, monkeypatch):
    run = runs(tiny_cfg(steps=50, loss="nonsaturating"))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    with pytest.raises(ConfigError) as info:
        run.set_hyper(lr_g=1e-4, hidden=8)
    assert info.value.setting == "hidden"
    hinge = _counting(monkeypatch, "hinge")
    with run.between_steps():  # as if a step were under way: the changes wait for its end
        run.set_hyper(loss="hinge", beta2=0.99)
        run.set_hyper(lr_d=3e-4, d_steps=2)  # the old keywords still work, queued together
        assert run.trainer.cfg.loss == "nonsaturating", "applied before the next step"
    run.step()
    wait_for(lambda: run.snapshot().step == 1, "the manual step")
    cfg = run.snapshot().config
    assert (cfg.loss, cfg.beta2, cfg.lr_d, cfg.d_steps, cfg.lr_g) == (
        "hinge", 0.99, 3e-4, 2, 1e-3
    )
    assert hinge["d"] == 2 and hinge["g"] >= 1  # (pictures may evaluate G's loss too)
    assert run.trainer.opt_d.param_groups[0]["lr"] == 3e-4


def test_set_hyper_validates_against_queued_changes(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=50, loss="nonsaturating"))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    with run.between_steps():  # a step under way: the loss change is queued, not applied
        run.set_hyper(loss="hinge")
        with pytest.raises(ConfigError) as info:  # smoothing is for target losses, not hinge
            run.set_hyper(label_smoothing=0.1)
    assert info.value.setting == "label_smoothing"


# ---------------------------------------------------------------------- the command line
@pytest.fixture
def first(tmp_path, tiny_cfg):
    trainer = Trainer(tiny_cfg(steps=4, loss="nonsaturating"))
    while trainer.step < 4:
        trainer.train_step()
    return save_checkpoint(trainer, tmp_path / "first")


def _resume(first, out, *sets: str) -> int:
    argv = ["train", "--resume", str(first), "--steps", "8", "--out", str(out), "--quiet"]
    for item in sets:
        argv += ["--set", item]
    return main(argv)


def test_resume_set_loss_trains_with_it_and_saves_a_loadable_run(first, tmp_path, monkeypatch):
    hinge = _counting(monkeypatch, "hinge")
    out = tmp_path / "second"
    assert _resume(first, out, "loss=hinge", "beta1=0.1", "gp_weight=5") == 0
    assert hinge["d"] == 4 and hinge["g"] == 4, "the four resumed steps trained with hinge"
    trainer = load_checkpoint(out)
    assert trainer.step == 8
    assert (trainer.cfg.loss, trainer.cfg.beta1, trainer.cfg.gp_weight) == ("hinge", 0.1, 5.0)
    assert trainer.opt_g.param_groups[0]["betas"][0] == 0.1


@pytest.mark.parametrize("item", ["hidden=32", "latent_dim=4", "pack=2", "arch=dcgan"])
def test_resume_refuses_a_setting_that_cannot_change(first, tmp_path, capsys, item):
    out = tmp_path / "second"
    assert _resume(first, out, item) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and item.split("=")[0] in err[0]
    assert "Traceback" not in err[0]
    assert not (out / "checkpoint.json").exists()


def test_resume_with_an_unchanged_value_is_fine(first, tmp_path):
    out = tmp_path / "second"
    hidden = json.loads((first / "checkpoint.json").read_text())["config"]["hidden"]
    assert _resume(first, out, f"hidden={hidden}") == 0
    assert load_checkpoint(out).step == 8


def test_resume_refuses_seed_and_preset(first, tmp_path, capsys):
    out = tmp_path / "second"
    argv = ["train", "--resume", str(first), "--seed", "3", "--out", str(out), "--quiet"]
    assert main(argv) == 2
    assert "--seed" in capsys.readouterr().err
