"""Runs on a Ray cluster (playground.runs.ray.cluster), against a local Ray with 2 CPUs started
here:
the same checkpoints and controls as a local run, queueing when the cluster is full, a killed
worker reported as a failed run, a closed session freeing its actor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TIMEOUT, wait_for

from playground.errors import ConfigError
from playground.runs.runner import Run
from playground.settings.config import GANConfig
from playground.storage.checkpoints import load_checkpoint, read_meta

ray = pytest.importorskip("ray")

from playground.runs import backends  # noqa: E402
from playground.runs.ray.cluster import RemoteMultiRun, RemoteRun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ONE_CPU = {"num_cpus": 1.0, "num_gpus": 0.0}
# A tiny ring8 MLP: about a millisecond a step on one core.
SMALL = dict(dataset="ring8", hidden=16, layers=2, batch_size=32, log_every=10,
             sample_every=50, device="cpu")


def small(**changes) -> GANConfig:
    return GANConfig(**{**SMALL, **changes}).validate()


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """One local Ray for the module: 2 CPUs, so two one-CPU runs fill it."""
    if ray.is_initialized():
        ray.shutdown()
    # address="local": a new Ray of its own, even when a cluster runs on this machine.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def remote_runs():
    """Factory for RemoteRuns; each is discarded after the test (its actor killed)."""
    made: list[RemoteRun] = []

    def make(cfg=None, **kwargs) -> RemoteRun:
        run = RemoteRun(cfg, resources=ONE_CPU, **kwargs)
        made.append(run)
        return run

    yield make
    for run in made:
        run.discard()
    wait_for(lambda: ray.available_resources().get("CPU", 0) == 2, "the actors' CPUs back")


def status_of(run) -> str:
    return run.snapshot().status


def test_a_run_through_ray_gives_the_same_checkpoint_as_a_local_one(remote_runs, tmp_path):
    cfg = small(steps=120, seed=3)
    remote = remote_runs(cfg)
    remote.start()
    assert remote.join(TIMEOUT)
    snap = remote.snapshot()
    assert (snap.status, snap.step, snap.error) == ("finished", 120, None)
    assert snap.history["step"][-1] == 120 and snap.frames[-1].step == 120
    local = Run(cfg)
    local.start()
    assert local.join(TIMEOUT)
    remote.save(tmp_path / "remote")
    local.save(tmp_path / "local")
    theirs, ours = read_meta(tmp_path / "remote"), read_meta(tmp_path / "local")
    assert sorted(theirs["files"]) == sorted(ours["files"])
    assert theirs["config"] == ours["config"] and theirs["step"] == ours["step"] == 120
    trainer = load_checkpoint(tmp_path / "remote")
    assert trainer.step == 120 and trainer.cfg == cfg
    # The same seed on the same CPU: the same weights, whichever process trained them.
    mine = load_checkpoint(tmp_path / "local")
    for key, value in mine.G.state_dict().items():
        assert value.equal(trainer.G.state_dict()[key]), key


def test_controls_and_snapshots_through_the_actor(remote_runs):
    run = remote_runs(small(steps=100_000))
    assert status_of(run) == "created" and not run.has_models
    run.start(paused=True)
    wait_for(lambda: status_of(run) == "paused", "the actor to be placed, paused")
    assert run.has_models and run.snapshot().step == 0
    assert run.step(d=True, g=True)
    wait_for(lambda: run.snapshot().step == 1, "one manual step")
    assert run.step(d=True, g=False)
    wait_for(lambda: run.snapshot().step == 2, "a D-only step")
    run.set_hyper(lr_g=3e-4, d_steps=2)
    with pytest.raises(ConfigError, match="lr_d"):
        run.set_hyper(lr_d=-1.0)
    run.resume()
    wait_for(lambda: run.snapshot().step > 50, "training on after resume")
    snap = run.snapshot()
    assert snap.status == "running" and snap.config.lr_g == 3e-4 and snap.config.d_steps == 2
    assert snap.frames and snap.history["step"]
    run.pause()
    wait_for(lambda: status_of(run) == "paused", "pause")
    held = run.snapshot().step
    assert run.snapshot().step == held  # paused: no step moves
    run.resume()
    run.stop(wait=TIMEOUT)
    snap = run.snapshot()
    assert snap.status == "stopped" and snap.step >= held
    assert not run.alive
    # Home after the end: the same interface on the state brought back from the worker.
    assert run.generator_state().step == snap.step
    assert run.real_sample(10).shape == (10, 2)
    wait_for(lambda: ray.available_resources().get("CPU") == 2, "its actor's CPU freed")


def test_slow_motion_through_the_actor(remote_runs):
    from playground.runs import slowmo

    run = remote_runs(small(steps=100_000))
    run.start(paused=True)
    wait_for(lambda: status_of(run) == "paused" and run.has_models, "a paused run in the actor")
    d = slowmo.play(run, "d")
    assert abs(d.decision_change).max() > 0 and (d.displacement == 0).all()
    g = slowmo.play(run, "g")
    assert abs(g.displacement).max() > 0 and (g.decision_change == 0).all()
    assert run.snapshot().step == 1 and status_of(run) == "paused"  # two phases, one step


def test_ten_runs_on_room_for_two_all_finish_and_the_rest_queue(remote_runs):
    runs = [remote_runs(small(steps=60, seed=i)) for i in range(10)]
    for run in runs:
        assert backends.try_start(run)  # the cluster takes them all: none refused
    queued = [run.snapshot() for run in runs]
    waiting = [snap for snap in queued if snap.status == "queued"]
    assert len(waiting) >= 8  # at most two can have been placed this quickly
    places = sorted(snap.queue.position for snap in waiting)
    assert places == list(range(1, len(waiting) + 1))
    assert all(snap.queue.waited >= 0 for snap in waiting)
    for run in runs:
        assert run.join(4 * TIMEOUT)
    finals = [run.snapshot() for run in runs]
    assert [(s.status, s.step) for s in finals] == [("finished", 60)] * 10
    assert len({run.pid for run in runs}) == 10  # each its own actor


def test_a_killed_worker_fails_the_run_with_a_reason(remote_runs, tmp_path):
    run = remote_runs(small(steps=10_000_000))
    run.start()
    wait_for(lambda: run.snapshot().step > 20, "training")
    saved = run.save(tmp_path / "before")
    step_saved = read_meta(saved)["step"]
    seen = run.snapshot()
    os.kill(run.pid, signal.SIGKILL)
    wait_for(lambda: status_of(run) == "error", "the run to read as failed")
    snap = run.snapshot()
    assert "worker" in snap.error and "\n" not in snap.error
    assert snap.step == seen.step and snap.history == seen.history  # what was seen stays
    assert not run.alive and run.step() is False
    run.pause()  # controls on a failed run do nothing, and raise nothing
    assert load_checkpoint(saved).step == step_saved  # the last checkpoint is intact
    # The app keeps working: the next run trains; its session closes (the browser tab goes),
    # which stops it and frees its actor and worker process.
    after = remote_runs(small(steps=10_000_000))
    after.start()
    wait_for(lambda: status_of(after) == "running", "the next run training")
    assert ray.available_resources().get("CPU", 0) == 1
    pid = after.pid
    after.discard()
    wait_for(lambda: ray.available_resources().get("CPU", 0) == 2, "the actor's CPU freed")
    wait_for(lambda: not _process_exists(pid), "the worker process to end")
    assert status_of(after) == "stopped" and not after.alive


def test_the_every_loss_run_as_one_actor():
    from playground.settings.fields import LOSSES

    runner = backends.make_multi_run(
        [small(steps=40, loss=loss, sample_every=20) for loss in LOSSES], backend="ray"
    )
    assert isinstance(runner, RemoteMultiRun)
    try:
        runner.start()
        assert runner.join(TIMEOUT)
        snap = runner.snapshot()
        assert snap.status == "finished" and snap.step == 40
        assert [m.config.loss for m in snap.members] == list(LOSSES)
        assert all(m.frames and m.frames[-1].step == 40 for m in snap.members)
    finally:
        runner.discard()


def test_the_backend_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(backends.BACKEND_ENV, "ray")
    run = backends.make_run(small(steps=10))
    assert isinstance(run, RemoteRun) and backends.on_cluster(run)
    monkeypatch.setenv(backends.BACKEND_ENV, "local")
    assert isinstance(backends.make_run(small(steps=10)), Run)
    monkeypatch.setenv(backends.BACKEND_ENV, "spark")
    with pytest.raises(ConfigError, match="GAN_PLAYGROUND_BACKEND.*local, ray"):
        backends.make_run(small())
    monkeypatch.setenv(backends.GPUS_ENV, "-1")
    with pytest.raises(ConfigError, match="GAN_PLAYGROUND_RAY_GPUS.*from 0 to 64"):
        backends.ray_resources()
    monkeypatch.setenv(backends.GPUS_ENV, "0.25")
    assert backends.ray_resources() == {"num_cpus": 1.0, "num_gpus": 0.25}
    monkeypatch.setenv(backends.RUNS_DIR_ENV, str(tmp_path))
    assert backends.runs_dir("elsewhere") == tmp_path


def test_an_unreachable_cluster_is_one_clear_line_and_local_still_works_when_allowed():
    script = (
        "from playground.runs import backends\n"
        "from playground.settings.config import GANConfig\n"
        "try:\n"
        "    backends.make_run(GANConfig())\n"
        "except backends.ClusterUnavailable as exc:\n"
        "    print('refused:', exc)\n"
        "import os\n"
        "os.environ[backends.FALLBACK_ENV] = '1'\n"
        "print('fallback:', type(backends.make_run(GANConfig())).__name__)\n"
    )
    env = {**os.environ, backends.BACKEND_ENV: "ray", "RAY_ADDRESS": "127.0.0.1:9",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    refused = next(line for line in lines if line.startswith("refused:"))
    assert "cannot reach the Ray cluster (RAY_ADDRESS=127.0.0.1:9)" in refused
    assert "GAN_PLAYGROUND_BACKEND=local" in refused
    assert lines[-1] == "fallback: Run"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def test_the_train_page_on_the_ray_backend_shows_a_queued_run_then_trains(
    remote_runs, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    from pages.ui import common as ui

    monkeypatch.setenv(backends.BACKEND_ENV, "ray")
    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    busy = [remote_runs(small(steps=10_000_000)) for _ in range(2)]
    for run in busy:
        run.start()
    wait_for(lambda: all(status_of(r) == "running" for r in busy), "the cluster to fill")
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.steps").set_value(100_000).run()
    next(b for b in at.button if b.label == "Start").click().run()
    try:
        assert not at.exception
        assert isinstance(slot.run, RemoteRun)
        assert any("Queued on the Ray cluster" in x.value for x in at.info)
        assert not any("Building the models" in x.value for x in at.caption)  # not begun yet
        assert any("Ray cluster" in x.value for x in at.caption)  # where runs train, not slots
        withdrawn = remote_runs(small(steps=10))  # also queued: stopping it withdraws it
        withdrawn.start()
        assert status_of(withdrawn) == "queued"
        withdrawn.stop()
        assert status_of(withdrawn) == "stopped" and not withdrawn.alive
        assert not withdrawn.has_models
        for run in busy:
            run.discard()
        wait_for(lambda: status_of(slot.run) == "running", "the queued run to start")

        def steps_shown() -> int:
            at.run()
            shown = [m.value for m in at.metric if m.label == "Step"]
            return int(shown[0].replace(",", "")) if shown else 0

        wait_for(lambda: steps_shown() > 0, "the page to show training")
        next(b for b in at.button if b.label == "Stop").click().run()
        assert slot.run.join(TIMEOUT) and status_of(slot.run) == "stopped"
        assert not at.exception
    finally:  # the page's run is not one of remote_runs'
        if slot.run is not None:
            slot.run.discard()


def test_the_command_line_trains_on_the_cluster_and_diagnose_loads_it(tmp_path, capsys):
    from playground import cli

    out = tmp_path / "ring8"
    code = cli.main(["train", "--preset", "ring8-stable", "--backend", "ray", "--steps", "60",
                     "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "trained on the Ray cluster" in printed and "modes held" in printed
    assert read_meta(out)["step"] == 60 and read_meta(out)["metrics"]["modes_total"] == 8
    assert cli.main(["diagnose", str(out), "--json"]) == 0
    assert '"step": 60' in capsys.readouterr().out
    assert cli.main(["train", "--backend", "spark", "--out", str(tmp_path / "x")]) == 2
    assert "--backend" in capsys.readouterr().err
    wait_for(lambda: ray.available_resources().get("CPU", 0) == 2, "the CLI's actor freed")


def test_resume_through_ray_and_a_checkpoint_the_worker_cannot_load(remote_runs, tmp_path):
    local = Run(small(steps=30))
    local.start()
    assert local.join(TIMEOUT)
    folder = local.save(tmp_path / "ring8")
    resumed = remote_runs(resume_from=folder)
    resumed.start(paused=True)
    wait_for(lambda: status_of(resumed) == "paused", "the resumed run, paused")
    assert resumed.snapshot().step == 30 and resumed.snapshot().total_steps == 60
    resumed.resume()
    assert resumed.join(TIMEOUT) and resumed.snapshot().step == 60
    # The folder passes the app's check (its JSON), but its tensors are gone by the time the
    # worker reads them: the run fails with the loader's reason, and nothing else breaks.
    next(folder.glob("generator-*.safetensors")).unlink()
    broken = remote_runs(resume_from=folder)
    broken.start(paused=True)
    wait_for(lambda: status_of(broken) == "error", "the broken resume to fail")
    assert "generator" in broken.snapshot().error and not broken.has_models


def test_the_bench_measures_the_ray_path():
    import dataclasses

    from playground import bench

    row = bench.ray_overhead(dataclasses.replace(bench.QUICK, rounds=1, block_s=0.2))
    assert row["blocks"] == 2 and row["block_s"] == 5.0
    assert row["quiet_steps_per_s"] > 0 and row["polled_steps_per_s"] > 0
    assert row["cpu_ratio_polled_vs_quiet"] > 0 and row["snapshot_ms"] > 0
    assert ray.is_initialized()  # it used the Ray it found, and left it running
    wait_for(lambda: ray.available_resources().get("CPU", 0) == 2, "the bench's actor freed")


def test_a_run_of_own_points_takes_them_to_its_worker(remote_runs, tmp_path):
    """A worker on another machine cannot read the app's files: the points go with the run
    (here the file is gone before the worker starts, as it would be on another machine)."""
    from playground.data import userpoints

    csv = tmp_path / "points.csv"
    csv.write_text(userpoints.example_csv())
    cfg = small(dataset="own-points", points_file=str(csv), steps=20)
    run = remote_runs(cfg)
    csv.unlink()
    run.start()
    assert run.join(TIMEOUT)
    snap = run.snapshot()
    assert (snap.status, snap.error) == ("finished", None)
    assert any("Your points" in note for note in snap.notes)


def test_a_lesson_on_the_ray_backend_runs_as_an_actor(monkeypatch):
    """The Lessons page starts its runs through the same factory as the Train page: with the
    ray backend, a one-run lesson is a RemoteRun and a side-by-side lesson one RemoteMultiRun,
    each training to its end in an actor."""
    from streamlit.testing.v1 import AppTest

    from pages.ui import common as ui
    from pages.ui import lessons as lessons_ui
    from playground.lessons import catalogue
    from playground.runs.interface import BatchedRun, SingleRun

    monkeypatch.setenv(backends.BACKEND_ENV, "ray")
    slot, multi = ui.RunSlot(), ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    monkeypatch.setattr(lessons_ui, "multi_slot", lambda: multi)
    original = catalogue.Variant.config
    short = dict(steps=6, log_every=1, sample_every=3, eval_every=0, hidden=16, batch_size=32)
    monkeypatch.setattr(catalogue.Variant, "config",
                        lambda self, seed=None: original(self, seed).replace(**short))
    single = next(x for x in catalogue.LESSONS if x.kind == "run")
    side = next(x for x in catalogue.LESSONS if x.kind == "side-by-side")
    try:
        for lesson, held, kind in ((single, lambda: slot.run, RemoteRun),
                                   (side, lambda: multi.run, RemoteMultiRun)):
            at = AppTest.from_file(str(ROOT / "pages" / "lessons.py"), default_timeout=120)
            at.query_params["lesson"] = str(lesson.number)
            at.run()
            next(b for b in at.button if b.key == f"lessons.start.{lesson.key}").click()
            at.run()
            assert not at.exception
            run = held()
            assert isinstance(run, kind) and backends.on_cluster(run), lesson.key
            assert isinstance(run, SingleRun if kind is RemoteRun else BatchedRun)
            assert run.join(TIMEOUT), f"lesson {lesson.number} to finish on Ray"
            assert run.snapshot().status == "finished" and run.snapshot().step == 6
    finally:
        for run in (slot.run, multi.run):
            if run is not None:
                run.discard()
    wait_for(lambda: ray.available_resources().get("CPU", 0) == 2, "the actors' CPUs back")
