"""Members with their own Adam betas, critic steps, optimiser or spectral norm: batched where they
can be (MultiRun), alone beside them where not (GroupedRun), each equal to a lone Trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_multirun import assert_same_weights, member_d, member_g, train_side_by_side

from playground.errors import ConfigError
from playground.runs.multirunner import MultiRunner
from playground.training.history import SERIES
from playground.training.multigroups import GroupedRun, check_grouped, member_groups
from playground.training.trainer import Trainer
from playground.views.view2d import layers_for


def assert_same_history(ours: dict, theirs: dict) -> None:
    assert ours["step"] == theirs["step"]
    for key in SERIES:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_batched_members_with_their_own_betas_match_separate_trainers(tiny_cfg):
    configs = [
        tiny_cfg(loss="nonsaturating", seed=0, beta1=0.5, beta2=0.999),
        tiny_cfg(loss="wgan-gp", seed=1, beta1=0.0, beta2=0.9, gp_weight=0.1, lr_g=1e-4),
        tiny_cfg(loss="lsgan", seed=2, beta1=0.9, beta2=0.99),
    ]
    multi, trainers = train_side_by_side(configs, 12)
    for i, t in enumerate(trainers):
        assert_same_weights(member_g(multi, i), t.G, atol=1e-5)
        assert_same_weights(member_d(multi, i), t.D, atol=1e-5)
        assert_same_history(multi.histories[i].copy(), t.history.copy())


def test_a_member_beside_a_relativistic_one_keeps_its_own_random_stream(tiny_cfg):
    # RaGAN's G loss scores a real batch; only its own member may draw that batch, or the
    # members beside it drift from their lone runs.
    configs = [
        tiny_cfg(loss="nonsaturating", seed=0, instance_noise=0.1),
        tiny_cfg(loss="ragan", seed=1, instance_noise=0.1),
    ]
    multi, trainers = train_side_by_side(configs, 6)
    for i, t in enumerate(trainers):
        assert_same_weights(member_g(multi, i), t.G, atol=1e-5)
    assert_same_weights(member_d(multi, 0), trainers[0].D, atol=1e-5)
    assert_same_history(multi.histories[0].copy(), trainers[0].history.copy())
    # RaGAN's losses compare scores, so they do not change with D's last bias: that bias's
    # gradient is zero up to rounding, which Adam scales up to a full step, and its rounding
    # then reaches D's other near-zero gradients. G and both losses still match.
    ours, theirs = multi.histories[1].copy(), trainers[1].history.copy()
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)


def mixed_members(tiny_cfg):
    """Two batched groups (1 and 3 D updates a step) and two members that cannot be batched."""
    return [
        tiny_cfg(loss="nonsaturating", seed=0),
        tiny_cfg(loss="wgan-gp", seed=1, d_steps=3, beta1=0.0, beta2=0.9, gp_weight=0.1),
        tiny_cfg(loss="wgan", seed=2, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, d_steps=2),
        tiny_cfg(loss="lsgan", seed=3, d_steps=3, lr_d=2e-3),
        tiny_cfg(loss="hinge", seed=4, spectral_norm=True, beta1=0.0, beta2=0.9, d_steps=2),
        tiny_cfg(loss="minimax", seed=5),
    ]


def test_members_are_grouped_by_what_can_be_batched(tiny_cfg):
    assert member_groups(mixed_members(tiny_cfg)) == [[0, 5], [1, 3], [2], [4]]


def test_grouped_members_match_separate_trainers_step_for_step(tiny_cfg):
    configs = mixed_members(tiny_cfg)
    run = GroupedRun(configs)
    trainers = [Trainer(c) for c in configs]
    for step in range(12):
        records = run.train_step()
        for t in trainers:
            t.train_step()
        assert records is not None and len(records) == len(configs)  # log_every = 1
        assert all(r is not None and r["step"] == step + 1 for r in records)
    for i, t in enumerate(trainers):
        torch.testing.assert_close(run.samples(i, 64, seed=3), t.sample(64, seed=3), atol=1e-5,
                                   rtol=1e-4)
        np.testing.assert_allclose(run.decision_maps()[i], t.decision_map(), atol=1e-5)
        np.testing.assert_allclose(run.fixed_samples()[i], t.fixed_samples(), atol=1e-5)
        assert_same_history(run.history_copies()[i], t.history.copy())
        z = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(run.generator_module(i)(z), t.sampler(z), atol=1e-5, rtol=1e-4)
    assert [run.group_of(i) for i in range(len(configs))] == [
        "batched with 1 others", "batched with 1 others", "on its own", "batched with 1 others",
        "on its own", "batched with 1 others",
    ]


def test_one_members_lr_changes_only_that_member(tiny_cfg):
    configs = mixed_members(tiny_cfg)
    a, b = GroupedRun(configs), GroupedRun(configs)
    b.set_hyper(2, lr_g=1e-2, lr_d=1e-2)  # the RMSprop member, alone
    b.set_hyper(1, lr_g=1e-2)  # a batched one
    with pytest.raises(ConfigError):
        b.set_hyper(0, lr_g=5.0)
    for _ in range(5):
        a.train_step()
        b.train_step()
    for i in (0, 3, 4, 5):
        torch.testing.assert_close(a.samples(i, 32), b.samples(i, 32), atol=1e-6, rtol=0)
    for i in (1, 2):
        assert not torch.allclose(a.samples(i, 32), b.samples(i, 32), atol=1e-4)
    assert b.configs[2].lr_d == 1e-2 and b.configs[1].lr_g == 1e-2 and a.configs[2].lr_d == 5e-5


def test_a_lone_member_that_diverges_is_marked_and_the_rest_go_on(tiny_cfg):
    run = GroupedRun(mixed_members(tiny_cfg))
    run.train_step()
    lone = run.groups[2][1]  # the RMSprop member's Trainer
    assert run.groups[2][0] == [2]
    with torch.no_grad():
        next(lone.G.parameters()).fill_(float("nan"))
    records = run.train_step()
    assert records[2] is None and "diverged" in run.errors[2]
    assert all(records[i] is not None for i in (0, 1, 3, 4, 5))
    run.train_step()
    assert len(run.history_copies()[2]["step"]) == 1 and len(run.history_copies()[0]["step"]) == 3


def test_members_still_share_the_data_and_the_runs_length(tiny_cfg, tiny_image_cfg):
    with pytest.raises(ConfigError) as err:
        check_grouped([tiny_cfg(), tiny_cfg(optimizer="rmsprop", steps=99)])
    assert err.value.setting == "steps" and "member 1" in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_grouped([tiny_cfg(), tiny_cfg(log_every=7)])
    assert err.value.setting == "log_every"
    with pytest.raises(ConfigError) as err:
        check_grouped([tiny_image_cfg()])
    assert err.value.setting == "dataset"
    with pytest.raises(ConfigError, match="1 to"):
        check_grouped([])
    with pytest.raises(ConfigError, match="InfoGAN"):
        check_grouped([tiny_cfg(), tiny_cfg(info_cat=4)])


def test_members_of_other_shapes_train_beside_each_other_as_their_lone_trainers(tiny_cfg):
    """Lesson 2 sets a collapsing run beside its fix, whose G has another latent size, depth
    and batch: each shape is its own group, and each member still equals its lone Trainer."""
    configs = [
        tiny_cfg(seed=0),
        tiny_cfg(seed=1, latent_dim=3, layers=1, batch_size=48, ema=0.9),
        tiny_cfg(seed=2, lr_g=2e-3),  # batched with member 0
    ]
    assert member_groups(configs) == [[0, 2], [1]]
    run = GroupedRun(configs)
    trainers = [Trainer(c.replace(eval_every=0)) for c in configs]
    for _ in range(8):
        run.train_step()
        for t in trainers:
            t.train_step()
    for i, t in enumerate(trainers):
        np.testing.assert_allclose(run.fixed_samples()[i], t.fixed_samples(), atol=1e-5)
        assert_same_history(run.history_copies()[i], t.history.copy())
    meshes = run.manifolds()
    for i, t in enumerate(trainers):
        np.testing.assert_allclose(meshes[i].points, layers_for(t)[0].points, atol=1e-5)


def test_the_runner_trains_members_that_cannot_be_batched_beside_the_others(tiny_cfg):
    configs = [c.replace(steps=12, sample_every=4) for c in mixed_members(tiny_cfg)]
    runner = MultiRunner(configs)
    runner.start()
    assert runner.join(120)
    snap = runner.snapshot()
    assert snap.status == "finished" and snap.step == 12
    for cfg, member in zip(configs, snap.members, strict=True):
        assert member.config == cfg and member.error is None
        assert member.history["step"][-1] == 12.0 and member.latest.step == 12
        assert member.latest.samples.shape == (512, 2) and member.latest.decision.shape == (64, 64)
        assert member.latest.manifold is None  # only asked for, as a lesson asks


def test_a_runner_asked_for_the_mesh_draws_each_members_g_manifold(tiny_cfg):
    configs = [tiny_cfg(seed=0, steps=4), tiny_cfg(seed=1, steps=4, latent_dim=3, layers=1)]
    runner = MultiRunner(configs, mesh=True)
    runner.start()
    assert runner.join(120)
    meshes = [m.latest.manifold for m in runner.snapshot().members]
    assert all(mesh is not None and mesh.points.shape[-1] == 2 for mesh in meshes)
    assert meshes[0].plane == "latent" and meshes[1].plane == "random"
    assert not np.allclose(meshes[0].points, meshes[1].points[: len(meshes[0].points)])


def test_stop_ends_a_multi_runs_long_step_between_two_updates(tiny_cfg, monkeypatch):
    """Members with 20 D updates a step: Stop pressed in the third is heard before the fourth,
    and the run ends at its last whole step (0), as a single run does."""
    from playground.runs import multirunner

    configs = [tiny_cfg(steps=1000, d_steps=20, seed=s) for s in (0, 1)]
    calls = {"d": 0, "g": 0}
    runner = MultiRunner(configs)

    class Counted(GroupedRun):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for _, engine in self.groups:
                for role in ("d", "g"):
                    update = getattr(engine, f"{role}_update")
                    setattr(engine, f"{role}_update", self._counting(role, update))

        @staticmethod
        def _counting(role, update):
            def counted(*args, **kwargs):
                calls[role] += 1
                if role == "d" and calls["d"] == 3:
                    runner.stop(wait=0)  # Stop pressed while the third D update runs
                return update(*args, **kwargs)
            return counted

    monkeypatch.setattr(multirunner, "GroupedRun", Counted)
    runner.start()
    assert runner.join(120)
    snap = runner.snapshot()
    assert snap.status == "stopped" and snap.step == 0
    assert calls == {"d": 3, "g": 0}, "no update after the one Stop was pressed in"
