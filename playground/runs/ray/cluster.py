"""Training runs as Ray actors, with exactly the interface of runner.Run (and of
multirun.MultiRunner), so a page cannot tell which it holds.

Inside a Ray worker, `RunHost` holds an ordinary local Run (its training thread and all) and
answers calls on it from several threads at once (a threaded actor), so snapshots come while it
trains. In the app, `RemoteRun` is the proxy a page holds:

- Ray schedules the actor by the resources it asks for; until the cluster has room the actor
  waits in Ray's queue and the proxy's snapshots say "queued" (how long, and the place among
  this process's waiting runs; Ray itself does not promise an order).
- Snapshots cross as plain data (Ray's own transport), and only the sample frames the proxy
  does not hold yet travel, so polling once a second stays cheap.
- When the run ends, a watcher thread brings its final state home (the checkpoint files as
  bytes, loaded here without unpickling anything) and ends the actor, so its CPU or GPU goes to
  the next queued run at once while the page can still save, explore and diagnose it.
- A worker that dies turns the run into status "error" with a one-line reason; `discard()`
  (a closed browser tab) kills the actor.

Ray is imported only when a run is started here, so the local backend never needs it. The
actor's body is in rayhost, what the two proxies share in remote (RemoteRunner, importable from
here too).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from playground.data import userpoints
from playground.data.registry import DATASETS
from playground.data.source import DatasetUnavailable
from playground.paths import atomic_write
from playground.runs.ray import rayhost
from playground.runs.ray.remote import CALL_TIMEOUT, RemoteRunner
from playground.runs.runner import Run
from playground.runs.snapshots import MultiSnapshot, QueuePlace, Snapshot
from playground.settings.config import GANConfig
from playground.settings.live import check_single_member, member_changes
from playground.storage.checkpoints import load_checkpoint, read_meta
from playground.training.multigroups import check_grouped

log = logging.getLogger(__name__)


def own_points(config: GANConfig):
    """A new run of your own points takes them along, read here (where the app checked the
    file): a worker on another machine cannot read this one's files. None for other data, or
    when the file cannot be read (the worker then says why, as a local run would)."""
    if not DATASETS[config.dataset].user_points:
        return None
    try:
        return userpoints.read_points_file(config.points_file)
    except DatasetUnavailable:
        return None


class RemoteRun(RemoteRunner):
    """A runner.Run in a Ray actor, with Run's interface (see the module's docstring)."""

    _kind = "run"
    host_actor = staticmethod(rayhost.host_actor)

    def __init__(
        self,
        config: GANConfig | None = None,
        *,
        resume_from: str | os.PathLike | None = None,
        resources: dict[str, float] | None = None,
    ):
        if config is None and resume_from is None:
            raise ValueError("a RemoteRun needs a config or a checkpoint folder")
        if config is None:
            config = read_meta(resume_from)["config_obj"]
        self.config = config
        spec = {
            "config": self.config,
            "resume_from": str(resume_from) if resume_from else None,
            "points": None if resume_from else own_points(self.config),
        }
        super().__init__(spec, self.config.steps, resources or {"num_cpus": 1.0})
        self._landed = None  # a local, never-started Run with the final state, once home
        self._landed_files: dict[str, bytes] | None = None  # its checkpoint files
        self._home_lock = threading.Lock()
        self._home_failed = False

    # ------------------------------------------------------------------ Run's controls
    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change live settings (see Run.set_hyper); a bad value raises ConfigError here."""
        check_single_member(member)
        if not self._is_placed() or self._ended:
            self.config.replace(**{k: v for k, v in changes.items() if v is not None})
            return  # nothing is training yet (or any more): checked, nothing to apply
        self._remote("set_hyper", **changes)  # a refused value raises ConfigError here

    def save(self, path: str | os.PathLike, **kwargs) -> Path:
        """Save a checkpoint. While the actor lives it writes the folder itself (so `path` must
        be on a file system the worker shares, see backends.runs_dir); once the run has ended
        its files came home and are written here."""
        if not self._ended and self._is_placed():
            saved = self._remote("save", str(path), **kwargs)  # errors raise again here
            if saved is not None:
                return Path(saved)
            self._home_run_after_end()  # the run ended meanwhile: save what came home
        with self._home_lock:
            files = self._landed_files
        if files is None:
            raise RuntimeError(self.snapshot().error or "nothing to save: the run has no models")
        if not kwargs:  # the usual case: the files as they came, nothing loaded
            return _write_files(files, Path(path))
        landed = self._home_run()
        if landed is None:
            raise RuntimeError("the finished run's models cannot be loaded on this machine")
        return landed.save(path, **kwargs)

    # ------------------------------------------------------------------ looking at the models
    @property
    def has_models(self) -> bool:
        if self._ended:
            return self._landed_files is not None
        if not self._is_placed():
            return False
        return bool(self._remote("has_models"))

    def generator_state(self):
        return self._ask("generator_state")

    def real_sample(self, n: int, seed: int = 0):
        return self._ask("real_sample", n, seed=seed)

    def measure(self, n: int, seed: int = 0):
        return self._ask("measure", n, seed=seed)

    def view_layers(self, plane: str = "random"):
        return self._ask("view_layers", plane)

    def frame_now(self):
        return self._ask("frame_now")

    def _ask(self, name: str, *args, **kwargs):
        """One of Run's looking-at methods: in the actor while it lives, else on the state
        brought home (None when there is none)."""
        if not self._ended and self._is_placed():
            value = self._remote(name, *args, **kwargs)
            if not self._ended:
                return value
        landed = self._home_run_after_end()
        if landed is None:
            return None
        return getattr(landed, name)(*args, **kwargs)

    # ------------------------------------------------------------------ the final state
    def _keep_final_state(self) -> None:
        import ray

        # Only the bytes now: they are loaded into a Run here when first needed (most finished
        # runs are never saved or explored), and the actor's CPU/GPU is freed at once.
        self._landed_files = ray.get(self._actor.land.remote(), timeout=CALL_TIMEOUT) or None

    def _drop_landed(self) -> None:
        with self._home_lock:
            self._landed = None
            self._landed_files = None

    def _home_run(self):
        """The finished run as a local, never-started Run (loaded on first use); None when no
        models came home or they cannot be loaded here (then `save` still writes the files)."""
        with self._home_lock:
            files = self._landed_files
            if self._landed is None and files is not None and not self._home_failed:
                try:
                    self._landed = _run_from_files(files)
                except Exception as exc:  # e.g. its dataset cannot be loaded on this machine
                    log.warning("the finished run's models cannot be loaded here: %s", exc)
                    self._home_failed = True
            return self._landed

    def _home_run_after_end(self):
        """The landed run, waiting briefly for the watcher when the run has just ended."""
        if self._ended or not self.alive:
            self.join(CALL_TIMEOUT)
        return self._home_run()

    def _plain_snapshot(
        self, status: str, error: str | None = None, queue: QueuePlace | None = None
    ):
        return Snapshot(
            status=status,
            step=0,
            total_steps=self._total,
            steps_per_sec=0.0,
            history={},
            error=error,
            config=self.config,
            kind="points" if self.config.is_points else "images",
            queue=queue,
        )


class RemoteMultiRun(RemoteRunner):
    """A multirun.MultiRunner (the batched every-loss run) in a Ray actor."""

    _kind = "multi"
    host_actor = staticmethod(rayhost.host_actor)

    def __init__(
        self,
        configs: list[GANConfig],
        *,
        resources: dict[str, float] | None = None,
        mesh: bool = False,
    ):
        self.configs = check_grouped(list(configs))
        super().__init__(
            {"configs": self.configs, "mesh": mesh},
            self.configs[0].steps,
            resources or {"num_cpus": 1.0},
        )

    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change members' learning rates (see MultiRunner.set_hyper); a bad value raises
        ConfigError here, also before the actor has started."""
        members, real = member_changes(len(self.configs), member, changes)
        for i in members:
            self.configs[i].replace(**real)
        if not self._is_placed() or self._ended:
            return
        self._remote("set_hyper", member, **real)

    def _plain_snapshot(
        self, status: str, error: str | None = None, queue: QueuePlace | None = None
    ):
        return MultiSnapshot(status, 0, self._total, 0.0, (), error)

    def _with_status(self, snap, status: str, error: str | None):
        # A member that diverged keeps saying so; the others take the run's status.
        members = tuple(m if m.status == "diverged" else replace(m, status=status)
                        for m in snap.members)
        return replace(snap, status=status, error=error, members=members)


def _write_files(files: dict[str, bytes], folder: Path) -> Path:
    """Write a checkpoint's files into `folder`: tensors first, checkpoint.json last, each under
    a temporary name and then renamed, so a crash mid-save never leaves a half checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n.endswith(".json")):
        atomic_write(folder / name, files[name])
    return folder


def _run_from_files(files: dict[str, bytes]):
    """A never-started local Run holding the checkpoint `files` (loaded through the checkpoint
    module's checks: safetensors and JSON only, nothing unpickled), on this machine's CPU."""
    with tempfile.TemporaryDirectory(prefix="gan-home-") as tmp:
        _write_files(files, Path(tmp))
        trainer = load_checkpoint(tmp, device="cpu")
    return Run(trainer=trainer)
