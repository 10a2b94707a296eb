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

Ray is imported only when a run is started here, so the local backend never needs it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from .config import GANConfig
from .paths import atomic_write
from .runner import Frame, Snapshot

log = logging.getLogger(__name__)

CALL_TIMEOUT = 60.0  # seconds a control call may take (a save of a big model included)
SNAPSHOT_TIMEOUT = 10.0  # a busier worker than this: show the last snapshot again
MAX_CONCURRENCY = 8  # actor threads: the run's own calls never wait for one another

_queue_lock = threading.Lock()
_queued: dict[str, float] = {}  # uid -> when it asked, for this process's runs still waiting


# ---------------------------------------------------------------------- inside the worker
class RunHost:
    """The actor's body: one local run, started as soon as Ray has placed the actor."""

    def __init__(self, kind: str, spec: dict, paused: bool, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))  # what Ray gave this run, not the whole machine
        self.run = None
        self.failed = None  # the snapshot to show when the run could not even be set up
        try:
            self.run = _local_run(kind, spec)
            self.run.start(paused=paused)
        except Exception as exc:  # e.g. a checkpoint to resume that this worker cannot read:
            # the actor stays, so the run reads as failed with this reason, as a local one would
            log.exception("setting up a %s failed", kind)
            self.failed = _failed_snapshot(kind, spec, _one_line(exc))

    def pid(self) -> int:
        return os.getpid()

    def cpu_seconds(self) -> float:
        """CPU time of this worker process so far (all its threads): the bench's second clock."""
        return time.process_time()

    def call(self, name: str, *args, **kwargs):
        """A method of the run (pause, save, measure, …), or a property's value. An error comes
        back as a Refusal (ConfigError cannot be unpickled by Ray: its arguments differ from
        what it stores), which the proxy raises again."""
        from .config import ConfigError

        if self.run is None:  # set-up failed: no models to ask about, every control refused
            return False if name == "has_models" else Refusal("other", self.failed.error)
        try:
            value = getattr(self.run, name)
            return value(*args, **kwargs) if callable(value) else value
        except ConfigError as exc:
            return Refusal("config", str(exc), exc.setting)
        except OSError as exc:
            return Refusal("os", str(exc))
        except Exception as exc:
            return Refusal("other", _one_line(exc))

    def snapshot(self, known: list[int]):
        """(snapshot, frame steps): the snapshot without the frames whose steps are in `known`
        (the proxy holds them; the newest is always sent, it may have been redrawn)."""
        if self.run is None:
            return self.failed, []
        snap = self.run.snapshot()
        return _without_frames(snap, set(known)), _frame_steps(snap)

    def wait_end(self) -> str:
        """Block until the run's thread has ended; its final status."""
        if self.run is None:
            return "error"
        self.run.join()
        return self.run.status

    def land(self) -> dict[str, bytes] | None:
        """The run's checkpoint files as bytes (None when no models were built), for the app
        to keep after this actor is gone."""
        if self.run is None or not getattr(self.run, "has_models", False):
            return None
        with tempfile.TemporaryDirectory(prefix="gan-land-") as tmp:
            self.run.save(tmp)
            return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


def _local_run(kind: str, spec: dict):
    """The local run an actor hosts: a MultiRunner, a Run resuming a checkpoint, or a new Run."""
    if kind == "multi":
        from .multirun import MultiRunner

        return MultiRunner(spec["configs"])
    from .runner import Run

    if spec.get("resume_from"):
        from .backends import load_for_training

        return Run(trainer=load_for_training(spec["resume_from"]))
    return Run(spec["config"])


def _failed_snapshot(kind: str, spec: dict, reason: str):
    if kind == "multi":
        from .multirun import MultiSnapshot

        return MultiSnapshot("error", 0, spec["configs"][0].steps, 0.0, (), reason)
    config = spec["config"]
    return Snapshot("error", 0, config.steps, 0.0, {}, error=reason, config=config)


@dataclass(frozen=True)
class Refusal:
    """An error raised by a call in the worker, as plain data."""

    kind: str  # "config", "os" or "other"
    message: str
    setting: str = ""

    def raise_again(self) -> None:
        from .config import ConfigError

        if self.kind == "config":
            prefix = f"{self.setting}: "
            text = self.message[len(prefix):] if self.message.startswith(prefix) else self.message
            raise ConfigError(self.setting, text)
        if self.kind == "os":
            raise OSError(self.message)
        raise RuntimeError(self.message)


def _frame_steps(snap) -> list[int]:
    frames = snap.members[0].frames if hasattr(snap, "members") and snap.members else (
        getattr(snap, "frames", ())
    )
    return [f.step for f in frames]


def _without_frames(snap, known: set[int]):
    if hasattr(snap, "members"):
        return replace(snap, members=tuple(_without_frames(m, known) for m in snap.members))
    frames = snap.frames
    kept = tuple(f for f in frames[:-1] if f.step not in known) + frames[-1:]
    return replace(snap, frames=kept)


_actor_class = None


def _host_actor():
    """RunHost as a Ray actor class (made on first use: importing this module needs no Ray)."""
    global _actor_class
    if _actor_class is None:
        import ray

        _actor_class = ray.remote(max_concurrency=MAX_CONCURRENCY)(RunHost)
    return _actor_class


# ---------------------------------------------------------------------- in the app
class RemoteRunner:
    """What RemoteRun and RemoteMultiRun share: the actor's life, queued/failed/ended states,
    the frames cache and the watcher that brings the final state home."""

    _kind = "run"

    def __init__(self, spec: dict, total_steps: int, resources: dict[str, float]):
        self.uid = uuid.uuid4().hex
        self._spec = spec
        self._total = total_steps
        self._resources = dict(resources)
        self._lock = threading.RLock()
        self._actor = None
        self._ready = None  # the ObjectRef of the actor's first call: done once it is placed
        self._placed = False
        self._asked_at = 0.0
        self._watcher: threading.Thread | None = None
        self._frames: dict[tuple[int, int], Frame] = {}  # (member, step) -> frame held here
        self._last = None  # the latest snapshot received
        self._ended = False  # the run is over and its actor gone (or never to come)
        self._final_status: str | None = None
        self._error: str | None = None
        self._discarded = False
        self.pid: int | None = None  # the worker process's id once placed (for operators)

    # ------------------------------------------------------------------ controls
    def start(self, paused: bool = False) -> None:
        with self._lock:
            if self._actor is not None or self._ended:
                raise RuntimeError(f"this {self._kind} was already started")
            cpus = self._resources.get("num_cpus", 1.0)
            options = dict(self._resources, name=f"gan-{self._kind}-{self.uid[:12]}")
            self._actor = _host_actor().options(**options).remote(
                self._kind, self._spec, paused, max(1, int(cpus))
            )
            self._ready = self._actor.pid.remote()
            self._asked_at = time.monotonic()
            with _queue_lock:
                _queued[self.uid] = self._asked_at
            self._watcher = threading.Thread(
                target=self._watch, name=f"gan-ray-{self._kind}", daemon=True
            )
            self._watcher.start()

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def step(self, d: bool = True, g: bool = True) -> bool:
        return bool(self._control("step", d=d, g=g))

    def stop(self, wait: float | None = 5.0) -> None:
        """Stop the run (its state stays and can be saved). A queued run is withdrawn."""
        if not self._is_placed():
            self._end_unplaced("stopped")
            return
        self._control("stop", wait=wait)
        if wait:
            self.join(wait + 5.0)

    def discard(self) -> None:
        """The session is gone: kill the actor now (frees its CPU/GPU), without waiting."""
        with self._lock:
            self._discarded = True
            actor, self._actor = self._actor, None
            self._ended = True
            self._final_status = self._final_status or "stopped"
        _forget_queued(self.uid)
        if actor is not None:
            _kill(actor)
        self._drop_landed()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended (and its state is home); True when it has."""
        watcher = self._watcher
        if watcher is None:
            return True
        watcher.join(timeout)
        return not watcher.is_alive()

    @property
    def alive(self) -> bool:
        """Queued or training (like a local run's thread being alive)."""
        watcher = self._watcher
        return watcher is not None and watcher.is_alive() and not self._ended

    @property
    def status(self) -> str:
        return self.snapshot().status

    def worker_cpu_seconds(self) -> float | None:
        """CPU time the run's worker process has used (None unless it is placed and alive):
        what `gan-playground bench --only ray` measures steps per CPU-second with."""
        import ray

        if self._ended or not self._is_placed():
            return None
        try:
            return ray.get(self._actor.cpu_seconds.remote(), timeout=CALL_TIMEOUT)
        except ray.exceptions.RayActorError:
            return None

    # ------------------------------------------------------------------ observing
    def snapshot(self):
        with self._lock:
            ended, last = self._ended, self._last
            started = self._actor is not None
        if ended:
            return self._ended_snapshot()
        if not started:
            return self._plain_snapshot("created")
        if not self._is_placed():
            return self._queued_snapshot()
        import ray

        try:
            snap, steps = ray.get(
                self._actor.snapshot.remote(self._known_steps()), timeout=SNAPSHOT_TIMEOUT
            )
        except ray.exceptions.GetTimeoutError:
            return last or self._plain_snapshot("starting")
        except (ray.exceptions.RayActorError, AttributeError):
            if not self._ended:  # not ended by us: the worker died
                self._fail(_death_reason())
            return self._ended_snapshot()
        snap = self._merge_frames(snap, steps)
        with self._lock:
            if not self._ended:
                self._last = snap
        return snap

    # ------------------------------------------------------------------ helpers
    def _control(self, name: str, **kwargs):
        """Call the run's method in the actor; None when the run is queued or over (a queued
        run is not training yet, so pause/step/… have nothing to act on)."""
        if not self._is_placed() or self._ended:
            return None
        return self._remote(name, **kwargs)

    def _remote(self, name: str, *args, **kwargs):
        import ray

        actor = self._actor
        if actor is None:
            return None
        try:
            value = ray.get(actor.call.remote(name, *args, **kwargs), timeout=CALL_TIMEOUT)
        except ray.exceptions.RayActorError:
            if not self._ended:
                self._fail(_death_reason())
            return None
        if isinstance(value, Refusal):
            value.raise_again()
        return value

    def _is_placed(self) -> bool:
        if self._placed:
            return True
        ready = self._ready
        if ready is None:
            return False
        import ray

        done, _ = ray.wait([ready], timeout=0)
        if done:
            self._placed = True
            _forget_queued(self.uid)
        return self._placed

    def _known_steps(self) -> list[int]:
        with self._lock:
            return sorted({step for _, step in self._frames})

    def _merge_frames(self, snap, steps: list[int]):
        """Put back the frames the worker left out (this proxy holds them)."""
        with self._lock:
            if hasattr(snap, "members"):
                members = tuple(self._merge_member(i, m, steps) for i, m in enumerate(snap.members))
                return replace(snap, members=members)
            return self._merge_member(0, snap, steps)

    def _merge_member(self, i: int, snap: Snapshot, steps: list[int]) -> Snapshot:
        for frame in snap.frames:
            self._frames[(i, frame.step)] = frame
        wanted = set(steps)
        for key in [k for k in self._frames if k[0] == i and k[1] not in wanted]:
            del self._frames[key]  # thinned out by the run
        frames = tuple(self._frames[(i, s)] for s in steps if (i, s) in self._frames)
        return replace(snap, frames=frames)

    def _watch(self) -> None:
        """The watcher thread: wait for a place, then for the end; bring the state home."""
        import ray

        try:
            self.pid = ray.get(self._ready)
            self._placed = True
            _forget_queued(self.uid)
            ray.get(self._actor.wait_end.remote())
            self._bring_home()
        except ray.exceptions.RayActorError:
            if not self._ended:
                self._fail(_death_reason())
        except Exception as exc:  # e.g. the connection to the cluster was lost
            if not self._ended:
                log.exception("remote %s failed", self._kind)
                self._fail(_one_line(exc))
        finally:
            _forget_queued(self.uid)
            with self._lock:
                actor = None if self._discarded else self._actor
                self._ended = True
            if actor is not None:
                _kill(actor)

    def _bring_home(self) -> None:
        """Take the final snapshot (every frame) and what the subclass keeps of the run."""
        import ray

        self._frames.clear()
        snap, steps = ray.get(self._actor.snapshot.remote([]), timeout=CALL_TIMEOUT)
        snap = self._merge_frames(snap, steps)
        self._keep_final_state()
        with self._lock:
            self._last = snap
            self._final_status = snap.status
            self._ended = True

    def _keep_final_state(self) -> None:
        """Subclasses copy what they need from the actor before it ends."""

    def _drop_landed(self) -> None:
        """Subclasses forget what they brought home."""

    def _fail(self, reason: str) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._final_status = "error"
            self._error = reason
            actor = self._actor
        _forget_queued(self.uid)
        if actor is not None:
            _kill(actor)

    def _end_unplaced(self, status: str) -> None:
        with self._lock:
            self._ended = True
            self._final_status = self._final_status or status
            actor = self._actor
        _forget_queued(self.uid)
        if actor is not None:
            _kill(actor)

    def _ended_snapshot(self):
        with self._lock:
            last, status, error = self._last, self._final_status or "stopped", self._error
        if last is None:
            return self._plain_snapshot(status, error)
        return self._with_status(last, status, error or last.error)

    def _queued_snapshot(self):
        with self._lock:
            asked = self._asked_at
        waited = time.monotonic() - asked
        with _queue_lock:
            order = sorted(_queued.items(), key=lambda item: item[1])
        place = next((n for n, (uid, _) in enumerate(order, 1) if uid == self.uid), None)
        return self._plain_snapshot(
            "queued", info={"queued_seconds": waited, "queue_position": place,
                            "queue_length": len(order)}
        )

    # Subclasses: the snapshot type's constructors.
    def _plain_snapshot(self, status: str, error: str | None = None, info: dict | None = None):
        raise NotImplementedError

    def _with_status(self, snap, status: str, error: str | None):
        return replace(snap, status=status, error=error)


class RemoteRun(RemoteRunner):
    """A runner.Run in a Ray actor, with Run's interface (see the module's docstring)."""

    _kind = "run"

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
            from .checkpoints import read_meta

            config = read_meta(resume_from)["config_obj"]
        self.config = config.validate()
        spec = {"config": self.config, "resume_from": str(resume_from) if resume_from else None}
        super().__init__(spec, self.config.steps, resources or {"num_cpus": 1.0})
        self._landed = None  # a local, never-started Run with the final state, once home
        self._landed_files: dict[str, bytes] | None = None  # its checkpoint files
        self._home_lock = threading.Lock()
        self._home_failed = False

    # ------------------------------------------------------------------ Run's controls
    def set_hyper(self, **changes) -> None:
        """Change live settings (see Run.set_hyper); a bad value raises ConfigError here."""
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

    def _plain_snapshot(self, status: str, error: str | None = None, info: dict | None = None):
        return Snapshot(
            status=status,
            step=0,
            total_steps=self._total,
            steps_per_sec=0.0,
            history={},
            error=error,
            config=self.config,
            kind="points" if self.config.is_points else "images",
            info=info or {},
        )


class RemoteMultiRun(RemoteRunner):
    """A multirun.MultiRunner (the batched every-loss run) in a Ray actor."""

    _kind = "multi"

    def __init__(self, configs: list[GANConfig], *, resources: dict[str, float] | None = None):
        from .multirun import check_members

        self.configs = check_members(list(configs))
        super().__init__(
            {"configs": self.configs}, self.configs[0].steps, resources or {"num_cpus": 1.0}
        )

    def set_lr(self, member: int, lr_g: float | None = None, lr_d: float | None = None) -> None:
        if not self._is_placed() or self._ended:
            return
        self._remote("set_lr", member, lr_g=lr_g, lr_d=lr_d)

    def _plain_snapshot(self, status: str, error: str | None = None, info: dict | None = None):
        from .multirun import MultiSnapshot

        return MultiSnapshot(status, 0, self._total, 0.0, (), error)

    def _with_status(self, snap, status: str, error: str | None):
        # A member that diverged keeps saying so; the others take the run's status.
        members = tuple(m if m.status == "diverged" else replace(m, status=status)
                        for m in snap.members)
        return replace(snap, status=status, error=error, members=members)


# ---------------------------------------------------------------------- small helpers
def _forget_queued(uid: str) -> None:
    with _queue_lock:
        _queued.pop(uid, None)


def _kill(actor) -> None:
    try:
        import ray

        ray.kill(actor, no_restart=True)
    except Exception:  # already gone, or the cluster is: nothing left to free
        pass


def _death_reason() -> str:
    return (
        "the Ray worker training this run stopped unexpectedly (its process was killed, ran "
        "out of memory, or its machine left the cluster); checkpoints saved before are intact"
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


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
    from .checkpoints import load_checkpoint
    from .runner import Run

    with tempfile.TemporaryDirectory(prefix="gan-home-") as tmp:
        _write_files(files, Path(tmp))
        trainer = load_checkpoint(tmp, device="cpu")
    return Run(trainer=trainer)
