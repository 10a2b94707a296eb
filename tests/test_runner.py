"""The background run: its life cycle, pause / single step / resume / stop, live settings,
errors and divergence reported as statuses, and no thread left behind."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch
from helpers import TIMEOUT, run_threads, wait_for

from playground.errors import ConfigError
from playground.runs.runner import Run
from playground.runs.snapshots import FINAL, MAX_FRAMES
from playground.training.trainer import Trainer

# An unhandled exception in the run thread must fail the test, not only warn.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def test_a_run_reaches_finished(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=12, log_every=2, sample_every=5))
    assert run.snapshot().status == "created"
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "finished" and not snap.active and snap.error is None
    assert snap.step == snap.total_steps == 12
    assert snap.history["step"] == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert all(math.isfinite(v) for v in snap.history["d_loss"])
    assert snap.frames[0].step == 0, "a first picture before any training"
    assert snap.latest.step == 12
    assert [f.step for f in snap.frames] == sorted({f.step for f in snap.frames})
    assert snap.latest.samples.shape == (512, 2)
    assert snap.latest.decision.shape == (64, 64)
    assert snap.kind == "points" and snap.extent is not None and snap.device == "cpu"
    assert snap.config.steps == 12
    assert snap.eta_seconds is None
    assert not run.alive


def test_the_first_picture_does_not_wait_for_the_optimisers(runs, tiny_cfg, monkeypatch):
    """A process's first optimiser imports torch's compiler stack (about a second on a 2-core
    CPU): the run's first picture, drawn before any step, must come without waiting for it."""
    from playground.training import trainer as trainer_module

    built, gate = threading.Event(), threading.Event()
    make = trainer_module.make_optimizer

    def held_back(*args, **kwargs):
        built.set()
        assert gate.wait(TIMEOUT), "the test never let the optimisers be built"
        return make(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "make_optimizer", held_back)
    run = runs(tiny_cfg(steps=4, log_every=1))
    run.start()
    try:
        wait_for(lambda: run.snapshot().frames or not run.snapshot().active, "a first picture")
        snap = run.snapshot()
        assert snap.frames and snap.frames[0].step == 0 and snap.step == 0
    finally:
        gate.set()
    assert run.join(TIMEOUT)
    assert built.is_set() and run.snapshot().status == "finished"


def test_a_run_cannot_start_twice(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=2))
    run.start()
    with pytest.raises(RuntimeError):
        run.start()
    assert run.join(TIMEOUT)


def test_frames_stay_bounded_and_span_the_run(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=150, log_every=50, sample_every=1))
    run.start()
    assert run.join(TIMEOUT)
    steps = [f.step for f in run.snapshot().frames]
    assert len(steps) <= MAX_FRAMES
    assert steps[0] == 0 and steps[-1] == 150
    assert steps == sorted(set(steps))


def test_live_pictures_follow_the_run_by_the_clock(runs, tiny_cfg):
    """With pictures due only every million steps and no early logs, the live view still gets
    a fresh frame about every FRAME_SECONDS: frames at ever later steps keep arriving."""
    run = runs(tiny_cfg(steps=10**7, log_every=10**5, sample_every=10**6))
    run.start()
    wait_for(lambda: len(run.snapshot().frames) >= 4, "three pictures after the first")
    steps = [f.step for f in run.snapshot().frames]
    assert steps[0] == 0 and steps == sorted(set(steps)) and steps[-1] < 10**5


def test_a_slow_picture_spaces_the_next_ones_out(runs, tiny_cfg, monkeypatch):
    """Drawing stays within FRAME_SHARE of the thread: after a frame that took t seconds the
    next is due no sooner than t / FRAME_SHARE from then (and never sooner than FRAME_SECONDS)."""
    from playground.runs import controls

    run = runs(tiny_cfg())
    monkeypatch.setattr(run, "_record_frame", lambda: time.sleep(0.1))
    run._paced_frame()
    assert run._next_frame_at - time.monotonic() > 0.1 / controls.FRAME_SHARE - 0.1
    monkeypatch.setattr(run, "_record_frame", lambda: None)
    run._paced_frame()
    left = run._next_frame_at - time.monotonic()
    assert controls.FRAME_SECONDS - 0.1 < left <= controls.FRAME_SECONDS


def test_pause_single_steps_and_resume(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=20, log_every=1))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    assert run.snapshot().step == 0
    for expected in (1, 2, 3):
        assert run.step() is True
        wait_for(lambda e=expected: run.snapshot().step == e, f"step {expected}")
        wait_for(lambda: not run._manual, "the queued step to be taken")
        assert run.status == "paused"
    time.sleep(0.05)  # give a run that would wrongly keep going the chance to do so
    snap = run.snapshot()
    assert snap.step == 3 and snap.status == "paused"
    assert snap.latest.step == 3, "a single step draws a picture"
    # Several queued steps are each taken once.
    for _ in range(4):
        assert run.step()
    wait_for(lambda: run.snapshot().step == 7, "four more steps")
    wait_for(lambda: not run._manual, "the queue to empty")
    assert run.snapshot().step == 7
    run.resume()
    assert run.join(TIMEOUT)
    assert run.status == "finished" and run.snapshot().step == 20


def test_d_only_and_g_only_single_steps(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=20))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused" and run.trainer is not None, "the paused run")

    def weights(module):
        return [p.detach().clone() for p in module.parameters()]

    def same(before, module):
        return all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))

    g0, d0 = weights(run.trainer.G), weights(run.trainer.D)
    assert run.step(d=True, g=False)
    wait_for(lambda: run.snapshot().step == 1, "the D-only step")
    assert same(g0, run.trainer.G) and not same(d0, run.trainer.D)
    g1, d1 = weights(run.trainer.G), weights(run.trainer.D)
    assert run.step(d=False, g=True)
    wait_for(lambda: run.snapshot().step == 2, "the G-only step")
    assert same(d1, run.trainer.D) and not same(g1, run.trainer.G)


def test_step_while_running_is_refused(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=10_000_000, log_every=100, sample_every=100_000))
    run.start()
    wait_for(lambda: run.status == "running", "the run to start")
    assert run.step() is False
    assert not run._manual, "nothing was queued"
    run.pause()
    wait_for(lambda: run.status == "paused", "the run to pause")
    paused_at = run.snapshot().step
    time.sleep(0.05)
    assert run.snapshot().step == paused_at, "a paused run does not train"
    run.resume()
    wait_for(lambda: run.snapshot().step > paused_at, "training to continue")
    assert run.status == "running"
    run.stop()
    assert run.join(TIMEOUT) and run.status == "stopped"
    assert run.step() is False, "no steps after the end"


def test_stop_while_paused_ends_the_thread(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=100))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    assert run.alive and run_threads()
    run.stop()
    assert run.join(TIMEOUT)
    assert run.status == "stopped" and not run.alive
    assert run._thread not in threading.enumerate()
    assert run_threads() == []


def test_set_hyper_validates_then_applies(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=20, lr_g=1e-3, lr_d=1e-3))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    for bad in (dict(lr_g=-1.0), dict(lr_d=math.nan), dict(d_steps=0)):
        with pytest.raises(ConfigError) as info:
            run.set_hyper(**bad)
        assert info.value.setting in bad
    with run.between_steps():  # as if a step were under way: the change waits for its end
        run.set_hyper(lr_g=2e-4, d_steps=2)
        assert run.trainer.cfg.lr_g == 1e-3, "applied before the next step, not mid-step"
    run.step()
    wait_for(lambda: run.snapshot().step == 1, "the step")
    trainer = run.trainer
    assert trainer.cfg.lr_g == 2e-4 and trainer.cfg.d_steps == 2 and trainer.cfg.lr_d == 1e-3
    assert trainer.opt_g.param_groups[0]["lr"] == 2e-4
    assert run.snapshot().config.lr_g == 2e-4


def test_a_failing_trainer_factory_ends_in_error(runs, tiny_cfg):
    def broken(cfg):
        raise RuntimeError("cannot build the models: out of llamas")

    run = runs(tiny_cfg(), make_trainer=broken)
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "error" and snap.status in FINAL
    assert "out of llamas" in snap.error
    assert snap.step == 0


def test_an_exception_mid_run_ends_in_error(runs, tiny_cfg):
    def make(cfg):
        trainer = Trainer(cfg)
        real_step = trainer.train_step

        def flaky(*args):
            if trainer.step == 3:
                raise ValueError("shape mismatch in step 4")
            return real_step(*args)

        trainer.train_step = flaky
        return trainer

    run = runs(tiny_cfg(steps=10), make_trainer=make)
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "error"
    assert snap.error == "shape mismatch in step 4"
    assert snap.step == 3


def test_out_of_memory_is_explained(runs, tiny_cfg):
    def make(cfg):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    run = runs(tiny_cfg(), make_trainer=make)
    run.start()
    assert run.join(TIMEOUT)
    assert "smaller batch size" in run.snapshot().error


def test_a_diverging_run_ends_diverged(runs, tiny_cfg):
    def make(cfg):
        trainer = Trainer(cfg)
        trainer.g_loss_fn = lambda f: f.mean() * math.nan
        return trainer

    run = runs(tiny_cfg(steps=50, log_every=5), make_trainer=make)
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "diverged"
    assert "diverged at step 5" in snap.error
    assert snap.step == 0, "the models are back at the last good state (here: the start)"


def test_a_run_from_an_existing_trainer_continues_it(runs, tiny_cfg):
    trainer = Trainer(tiny_cfg(steps=8))
    for _ in range(5):
        trainer.train_step()
    run = runs(None, trainer=trainer)
    run.start()
    assert run.join(TIMEOUT)
    assert run.status == "finished" and trainer.step == 8
    assert run.snapshot().history["step"][-1] == 8.0


def test_a_run_needs_a_config_or_a_trainer():
    with pytest.raises(ValueError):
        Run()


def test_save_while_paused_writes_a_loadable_checkpoint(runs, tiny_cfg, tmp_path):
    from playground.storage.checkpoints import load_checkpoint

    run = runs(tiny_cfg(steps=20))
    with pytest.raises(RuntimeError):
        run.save(tmp_path / "early")  # no models yet
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    run.step()
    run.step()
    wait_for(lambda: run.snapshot().step == 2, "two steps")
    run.save(tmp_path / "ckpt")
    assert load_checkpoint(tmp_path / "ckpt").step == 2


def test_a_change_made_while_paused_is_applied_at_once_and_saved(runs, tiny_cfg, tmp_path):
    """Change a setting, then (no step in between) look at the run and save it: both show the
    change. It used to wait for the next step, so Pause, change, Save lost the change."""
    from playground.storage.checkpoints import load_checkpoint

    run = runs(tiny_cfg(steps=20, lr_g=1e-3))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    run.set_hyper(lr_g=3e-4)
    assert run.snapshot().config.lr_g == 3e-4
    assert run.trainer.opt_g.param_groups[0]["lr"] == 3e-4
    run.save(tmp_path / "ckpt")
    assert load_checkpoint(tmp_path / "ckpt").cfg.lr_g == 3e-4


def test_a_change_queued_during_a_step_is_in_the_next_save(runs, tiny_cfg, tmp_path):
    from playground.storage.checkpoints import load_checkpoint

    run = runs(tiny_cfg(steps=20, lr_d=1e-3))
    run.start(paused=True)
    wait_for(lambda: run.status == "paused", "the run to pause")
    with run.between_steps():  # a step under way: the change is queued, not applied
        run.set_hyper(lr_d=5e-4)
        assert run.trainer.cfg.lr_d == 1e-3
    run.save(tmp_path / "ckpt")
    assert load_checkpoint(tmp_path / "ckpt").cfg.lr_d == 5e-4


def test_stop_ends_a_long_step_between_two_updates(runs, tiny_cfg):
    """A heavy step (here 20 D updates) is not finished after Stop: the run stops before the next
    update, its slot is free at once, and the step counter keeps counting whole steps only."""
    run = runs(tiny_cfg(d_steps=20, steps=1000))
    calls = {"d": 0, "g": 0}
    original = {}

    def counting(role):
        def update(*args, **kwargs):
            calls[role] += 1
            if role == "d" and calls["d"] == 3:
                run.stop(wait=0)  # Stop pressed while the step's third D update runs
            return original[role](*args, **kwargs)
        return update

    def make_trainer(cfg):
        trainer = Trainer(cfg)
        original["d"], original["g"] = trainer.d_update, trainer.g_update
        trainer.d_update, trainer.g_update = counting("d"), counting("g")
        return trainer

    run._make_trainer = make_trainer
    run.start()
    assert run.join(TIMEOUT)
    assert run.snapshot().status == "stopped"
    assert calls == {"d": 3, "g": 0}, "no update after the one Stop was pressed in"
    assert run.trainer.step == 0


EXIT_MID_RUN = """
import time
from playground.settings.config import GANConfig
from playground.runs.runner import Run
run = Run(GANConfig(hidden=128, layers=3, batch_size=256, steps=10_000_000))
run.start()
while run.snapshot().step < 3:
    time.sleep(0.05)
print("leaving at step", run.snapshot().step, flush=True)
"""


def test_the_process_exits_cleanly_while_a_run_trains():
    """A script (or the server) that ends while a run's thread is inside a training step used to
    abort at shutdown: "terminate called without an active exception", exit code 134."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_MID_RUN], capture_output=True, text=True,
                          timeout=TIMEOUT * 4)
    assert "leaving at step" in done.stdout, done.stderr[-2000:]
    assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-2000:]


def _cut_mid_update(runs, tiny_cfg, monkeypatch, where):
    """A run whose first D update hears Stop in the middle: in a layer's forward or in the
    backward. Returns the run (ended) and D's weights from before."""
    from playground.runs import runner

    monkeypatch.setattr(runner, "_long_updates", lambda cfg: True)  # as if its updates were long
    run = runs(tiny_cfg(steps=1000, loss="nonsaturating"))
    before = {}

    def make_trainer(cfg):
        trainer = Trainer(cfg)
        before.update({k: v.clone() for k, v in trainer.D.state_dict().items()})
        first = next(m for m in trainer.D.modules() if isinstance(m, torch.nn.Linear))
        updating = threading.Event()  # (not the first picture's D map and arrows)

        def press_stop(*args):
            if updating.is_set():
                run.stop(wait=0)

        if where == "forward":
            first.register_forward_pre_hook(press_stop)
        else:  # the gradient reaching D's first layer: the backward is half done
            first.register_full_backward_pre_hook(press_stop)
        d_update = trainer.d_update

        def watched_d_update(*args, **kwargs):
            updating.set()
            try:
                return d_update(*args, **kwargs)
            finally:
                updating.clear()

        trainer.d_update = watched_d_update
        return trainer

    run._make_trainer = make_trainer
    run.start()
    assert run.join(TIMEOUT)
    return run, before


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_stop_cuts_a_long_update_between_two_layers(runs, tiny_cfg, monkeypatch, where):
    """With heavy settings one update alone can take minutes on a CPU: Stop is heard after the
    next layer's forward or backward, the update is dropped before D's weights change, and the
    stopped run's models still work for pictures and saving."""
    run, before = _cut_mid_update(runs, tiny_cfg, monkeypatch, where)
    snap = run.snapshot()
    assert snap.status == "stopped", snap.error
    trainer = run.trainer
    assert trainer.step == 0 and trainer._d_count == 0, "the cut update is not counted"
    after = trainer.D.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "no weight of D changed"
    with torch.no_grad():  # the watch is off outside a watched update (pictures after Stop)
        trainer.D(trainer.G(torch.randn(4, trainer.cfg.latent_dim)))


def test_a_slow_update_turns_the_layer_watch_on(runs, tiny_cfg, monkeypatch):
    from playground.training import stepcore

    monkeypatch.setattr(stepcore, "SLOW_UPDATE_S", 0.0)  # every update counts as slow
    run = runs(tiny_cfg(steps=3))
    run.start()
    assert run.join(TIMEOUT) and run.snapshot().status == "finished"
    assert run.trainer.interrupt_within


def test_the_runner_watches_layers_only_when_an_update_is_long(tiny_cfg):
    from playground.runs.runner import _long_updates
    from playground.settings.config import GANConfig

    assert not _long_updates(tiny_cfg())
    assert _long_updates(GANConfig(hidden=2048, layers=8, batch_size=4096))
