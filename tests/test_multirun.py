"""MultiRun: N 2D GANs as one batched computation must behave like N separate Trainers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import wait_for

from playground.errors import ConfigError
from playground.measures.metrics import coverage_2d
from playground.runs.multirunner import MultiRunner
from playground.training.history import SERIES
from playground.training.multirun import PER_MEMBER, MultiRun, check_members
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer

LOSSES = ("minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge")


def member_g(multi: MultiRun, i: int) -> list[torch.Tensor]:
    """Member i's generator weights in nn.Linear layout, for comparing with a Trainer's G."""
    out = []
    for w, b in multi.g_layers:
        out += [w[i].detach().t(), b[i, 0].detach()]
    return out


def member_d(multi: MultiRun, i: int) -> list[torch.Tensor]:
    out = []
    for w, b in multi.d_layers:
        out += [w[i].detach().t(), b[i, 0].detach()]
    return out


def assert_same_weights(ours: list[torch.Tensor], module: torch.nn.Module, atol: float) -> None:
    theirs = [p.detach() for p in module.parameters()]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b.reshape(a.shape), atol=atol, rtol=1e-4)


def six_losses(tiny_cfg, **shared):
    return [
        tiny_cfg(loss=loss, seed=i, lr_g=1e-3 * (i + 1), lr_d=2e-3, steps=50, **shared)
        for i, loss in enumerate(LOSSES)
    ]


def train_side_by_side(configs, steps: int) -> tuple[MultiRun, list[Trainer]]:
    """A batched MultiRun of `configs` and a lone Trainer per config, each trained `steps`
    steps, for comparing the members with their lone runs."""
    multi = MultiRun(configs)
    trainers = [Trainer(c) for c in configs]
    for _ in range(steps):
        multi.train_step()
        for t in trainers:
            t.train_step()
    return multi, trainers


@pytest.mark.parametrize(
    "shared",
    [
        {},
        dict(ema=0.9, pack=2, instance_noise=0.1, d_steps=2, log_every=3),
    ],
    ids=["plain", "ema-pack-noise-dsteps"],
)
def test_batched_members_match_separate_trainers(tiny_cfg, shared):
    multi, trainers = train_side_by_side(six_losses(tiny_cfg, **shared), 12)
    for i, t in enumerate(trainers):
        assert_same_weights(member_g(multi, i), t.G, atol=1e-5)
        assert_same_weights(member_d(multi, i), t.D, atol=1e-5)
        ours, theirs = multi.histories[i].copy(), t.history.copy()
        assert set(ours) == {"step", *SERIES}
        assert ours["step"] == theirs["step"]
        for key in SERIES:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)
    if shared.get("ema"):
        for i, t in enumerate(trainers):
            ema = [x for w, b in multi.g_ema for x in (w[i].t(), b[i, 0])]
            assert_same_weights(ema, t.G_ema, atol=1e-5)
        torch.testing.assert_close(
            multi.samples(2, 64, seed=3), trainers[2].sample(64, seed=3), atol=1e-5, rtol=1e-4
        )


def test_initial_state_and_fixed_noise_match_a_trainer(tiny_cfg):
    configs = [tiny_cfg(seed=5), tiny_cfg(seed=9)]
    multi = MultiRun(configs)
    for i, cfg in enumerate(configs):
        t = Trainer(cfg)
        assert_same_weights(member_g(multi, i), t.G, atol=0)
        assert torch.equal(multi.fixed_z[i], t.fixed_z)
        np.testing.assert_allclose(multi.fixed_samples()[i], t.fixed_samples(), atol=1e-6)
        np.testing.assert_allclose(multi.decision_maps()[i], t.decision_map(), atol=1e-6)
    assert multi.extent() == Trainer(configs[0]).extent()


def test_changing_one_members_lr_leaves_the_others_alone(tiny_cfg):
    base = [tiny_cfg(seed=0), tiny_cfg(seed=1, loss="hinge"), tiny_cfg(seed=2)]
    other = [base[0], base[1].replace(lr_g=5e-2, lr_d=5e-2), base[2]]
    a, b = MultiRun(base), MultiRun(other)
    for _ in range(8):
        a.train_step()
        b.train_step()
    for i in (0, 2):
        ours, theirs = member_g(a, i) + member_d(a, i), member_g(b, i) + member_d(b, i)
        for x, y in zip(ours, theirs, strict=True):
            torch.testing.assert_close(x, y, atol=1e-6, rtol=0)
    moved = [(x - y).abs().max() for x, y in zip(member_g(a, 1), member_g(b, 1), strict=True)]
    assert max(moved) > 1e-3  # member 1 itself did change

    # The same live: set_hyper on one member changes only that member from then on.
    c = MultiRun(base)
    c.set_hyper(1, lr_g=5e-2, lr_d=5e-2)
    for _ in range(8):
        c.train_step()
    for i in (0, 2):
        for x, y in zip(member_g(a, i), member_g(c, i), strict=True):
            torch.testing.assert_close(x, y, atol=1e-6, rtol=0)
    assert c.configs[1].lr_g == 5e-2 and c.configs[0].lr_g == base[0].lr_g
    with pytest.raises(ConfigError):
        c.set_hyper(0, lr_g=5.0)


def test_every_member_learns(tiny_cfg):
    configs = six_losses(tiny_cfg)
    multi = MultiRun(configs)
    before = [w.detach().clone() for w, _ in multi.g_layers + multi.d_layers]
    for _ in range(10):
        records = multi.train_step()
        assert records is not None  # log_every = 1
        assert all(r is not None and all(math.isfinite(v) for v in r.values()) for r in records)
    after = [w.detach() for w, _ in multi.g_layers + multi.d_layers]
    for old, new in zip(before, after, strict=True):
        change = (new - old).flatten(1).abs().amax(dim=1)  # per member
        assert (change > 0).all()
    assert all(len(h) == 10 for h in multi.histories)


@pytest.mark.slow
def test_a_2d_member_reaches_reasonable_coverage(tiny_cfg):
    # Two seeds of a small ring8 recipe (non-saturating, batch 256, EMA): a few seconds on a CPU.
    configs = [
        tiny_cfg(hidden=64, layers=2, batch_size=256, ema=0.99, steps=1500, log_every=50, seed=s)
        for s in (0, 1)
    ]
    multi = MultiRun(configs)
    for _ in range(1500):
        multi.train_step()
    best = max(multi.coverage(i, n=2000)["modes_covered"] for i in range(2))
    assert best >= 6
    result = multi.coverage(0, n=500, seed=1)
    assert result == coverage_2d(multi.samples(0, 500, 1), multi.data.centres, multi.data.sigma)


def test_samples_are_seeded_and_generator_module_matches(tiny_cfg):
    multi = MultiRun([tiny_cfg(seed=0), tiny_cfg(seed=1, ema=0.0)])
    for _ in range(3):
        multi.train_step()
    a, b = multi.samples(1, 100, seed=4), multi.samples(1, 100, seed=4)
    assert a.shape == (100, 2) and torch.equal(a, b)
    assert not torch.equal(a, multi.samples(0, 100, seed=4))
    g = multi.generator_module(1)
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(g(z), a, atol=1e-6, rtol=0)


def test_a_diverged_member_is_frozen_and_the_rest_go_on(tiny_cfg):
    multi = MultiRun([tiny_cfg(seed=0), tiny_cfg(seed=1), tiny_cfg(seed=2)])
    multi.train_step()
    with torch.no_grad():
        multi.g_layers[0][0][1].fill_(float("nan"))  # member 1's first generator layer
    records = multi.train_step()
    assert records[1] is None and records[0] is not None and records[2] is not None
    assert "diverged at step 2" in multi.errors[1] and multi.errors[0] is None
    for _ in range(3):
        multi.train_step()
    assert len(multi.histories[0]) == 5 and len(multi.histories[1]) == 1
    assert all(torch.isfinite(w).all() for w in member_g(multi, 0) + member_g(multi, 2))
    with torch.no_grad():
        for i in (0, 2):
            multi.d_layers[0][0][i].fill_(float("inf"))
    with pytest.raises(Divergence, match="every member diverged"):
        multi.train_step()


def test_members_must_share_everything_else(tiny_cfg, tiny_image_cfg):
    with pytest.raises(ConfigError) as err:
        check_members([tiny_cfg(), tiny_cfg(batch_size=64)])
    assert err.value.setting == "batch_size" and "member 1" in str(err.value)
    assert all(name in str(err.value) for name in PER_MEMBER)
    with pytest.raises(ConfigError, match="hidden"):
        check_members([tiny_cfg(), tiny_cfg(hidden=32)])
    with pytest.raises(ConfigError) as err:
        check_members([tiny_image_cfg()])
    assert err.value.setting == "dataset"
    with pytest.raises(ConfigError, match="adam"):
        check_members([tiny_cfg(optimizer="rmsprop")])
    with pytest.raises(ConfigError, match="spectral"):
        check_members([tiny_cfg(spectral_norm=True)])
    with pytest.raises(ConfigError, match="1 to"):
        check_members([])
    # What may differ, does.
    configs = check_members(
        [tiny_cfg(), tiny_cfg(loss="wgan-gp", seed=3, lr_g=1e-4, lr_d=3e-4, gp_weight=5.0)]
    )
    assert len(configs) == 2


def test_multirunner_trains_in_a_thread_and_snapshots_each_member(tiny_cfg):
    configs = six_losses(tiny_cfg)
    runner = MultiRunner([c.replace(steps=20, sample_every=5) for c in configs])
    runner.start()
    assert runner.join(60)
    snap = runner.snapshot()
    assert snap.status == "finished" and snap.step == 20 and not snap.active
    assert len(snap.members) == 6
    for i, member in enumerate(snap.members):
        assert member.config.loss == LOSSES[i]
        assert member.history["step"][-1] == 20.0 and set(member.history) == {"step", *SERIES}
        assert member.frames and member.latest.step == 20
        assert member.latest.samples.shape == (512, 2)
        assert member.latest.decision.shape == (64, 64)
        assert member.kind == "points" and member.extent is not None


def test_multirunner_controls(tiny_cfg):
    runner = MultiRunner([tiny_cfg(seed=0, steps=10_000), tiny_cfg(seed=1, steps=10_000)])
    runner.start(paused=True)
    wait_for(lambda: runner.status == "paused", "the runner to pause")
    assert runner.step() and runner.step(d=True, g=False)
    wait_for(lambda: runner.multi.step == 2, "two steps")
    runner.set_hyper(1, lr_d=5e-3)
    with pytest.raises(ConfigError):
        runner.set_hyper(0, lr_g=-1.0)
    with pytest.raises(ConfigError):
        runner.set_hyper(7, lr_g=1e-3)
    runner.resume()
    wait_for(lambda: runner.multi.step > 5, "more than five steps")
    assert runner.snapshot().members[1].config.lr_d == 5e-3
    runner.pause()
    wait_for(lambda: runner.status == "paused", "the runner to pause")
    runner.stop()
    assert runner.join(10) and runner.status == "stopped"
    assert not runner.step()
