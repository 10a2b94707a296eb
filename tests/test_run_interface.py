"""The public Run methods pages use instead of the trainer (design rule 7): each returns plain
data that matches what the trainer itself gives."""

from __future__ import annotations

import numpy as np
import torch
from helpers import wait_for

from playground.latent import LatentModel
from playground.measures.evaluation import Report
from playground.runs.runner import Run


def _ended_run(runs, cfg) -> Run:
    run = runs(cfg)
    assert not run.has_models
    assert run.generator_state() is None and run.real_sample(4) is None
    run.start()
    wait_for(lambda: not run.alive, "the run to end")
    assert run.snapshot().status == "finished"
    return run


def test_generator_state_rebuilds_the_same_generator(runs, tiny_cfg):
    run = _ended_run(runs, tiny_cfg(ema=0.9))
    assert run.has_models
    state = run.generator_state()
    assert all(t.device.type == "cpu" for t in state.weights.values())
    rebuilt = LatentModel.from_state(state)
    copied = LatentModel.from_trainer(run.trainer, device="cpu")
    z = torch.randn(64, rebuilt.latent_dim, generator=torch.Generator().manual_seed(3))
    assert torch.equal(rebuilt.generate(z), copied.generate(z))
    assert rebuilt.step == run.snapshot().step == 10
    assert np.array_equal(rebuilt.real, copied.real) and rebuilt.extent == copied.extent


def test_generator_state_of_a_conditional_image_run(runs, tiny_image_cfg):
    run = _ended_run(runs, tiny_image_cfg(conditional=True))
    rebuilt = LatentModel.from_state(run.generator_state())
    assert rebuilt.num_classes == 10 and rebuilt.kind == "images"
    assert torch.equal(rebuilt.fixed_labels, run.trainer.fixed_labels.cpu())
    assert rebuilt.sample(4).shape == (4, *rebuilt.shape)


def test_real_sample_and_measure_are_plain_data(runs, tiny_cfg):
    run = _ended_run(runs, tiny_cfg())
    real = run.real_sample(100, seed=7)
    expected, _ = run.trainer.data.sample(100, torch.Generator().manual_seed(7))
    assert isinstance(real, np.ndarray) and np.array_equal(real, expected.numpy())
    report = run.measure(200, seed=0)
    assert isinstance(report, Report)
    assert report.measures["modes_total"] == 8 and report.samples.shape == (200, 2)


def test_real_images_come_as_uint8_pictures(runs, tiny_image_cfg):
    run = _ended_run(runs, tiny_image_cfg())
    real = run.real_sample(5)
    assert real.dtype == np.uint8 and real.shape == (5, 28, 28, 1)


def test_set_hyper_is_one_method_for_single_and_batched_runs(tiny_cfg):
    """`set_hyper(member=None, **changes)` on every run kind: a single run is member 0; a
    batched run changes one member, or every member when member is None; what a batched run
    cannot change live is refused naming the setting, and nothing is queued."""
    import pytest

    from playground.errors import ConfigError
    from playground.runs.multirunner import MultiRunner

    single = Run(tiny_cfg(steps=10))
    single.set_hyper(0, lr_g=3e-4)
    single.set_hyper(lr_d=2e-4)
    with pytest.raises(ConfigError, match="member"):
        single.set_hyper(1, lr_g=1e-4)
    runner = MultiRunner([tiny_cfg(seed=0, steps=10_000), tiny_cfg(seed=1, steps=10_000)])
    runner.start(paused=True)
    try:
        wait_for(lambda: runner.status == "paused", "the runner to pause")
        runner.set_hyper(lr_g=4e-3)  # every member
        runner.set_hyper(1, lr_d=5e-3)  # one member
        with pytest.raises(ConfigError, match="loss"):
            runner.set_hyper(0, loss="hinge")
        assert runner.step()
        wait_for(lambda: runner.multi.step == 1, "one step")
        members = runner.snapshot().members
        assert [m.config.lr_g for m in members] == [4e-3, 4e-3]
        assert [m.config.lr_d for m in members] == [tiny_cfg().lr_d, 5e-3]
        assert [m.config.loss for m in members] == [tiny_cfg().loss] * 2
    finally:
        runner.stop()


def test_every_local_run_kind_is_the_run_interface(tiny_cfg):
    """What the factory makes satisfies the interface pages and the CLI program against (the
    Ray proxies are checked in test_ray)."""
    from playground.runs import backends
    from playground.runs.interface import BatchedRun, RunControls, SingleRun

    single = backends.make_run(tiny_cfg(steps=10), backend="local")
    batched = backends.make_multi_run([tiny_cfg(seed=0), tiny_cfg(seed=1)], backend="local")
    assert isinstance(single, SingleRun) and isinstance(single, RunControls)
    assert isinstance(batched, BatchedRun) and not isinstance(batched, SingleRun)


def test_a_discarded_batched_run_ends_and_lets_go_of_its_models(tiny_cfg):
    """A closed session's every-loss or side-by-side run is discarded like a single run: it
    stops without anyone waiting and then drops its models and pictures."""
    from playground.runs.multirunner import MultiRunner

    runner = MultiRunner([tiny_cfg(seed=0, steps=100_000), tiny_cfg(seed=1, steps=100_000)])
    runner.start()
    wait_for(lambda: runner.multi is not None and runner.multi.step > 2, "a few steps")
    runner.discard()
    assert runner.join(60) and runner.status == "stopped"
    wait_for(lambda: runner.multi is None, "the models let go")
    assert runner.snapshot().members[0].frames == ()
