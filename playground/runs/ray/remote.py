"""What the app-side proxies of runs on a Ray cluster share (cluster.RemoteRun and
cluster.RemoteMultiRun): the actor's life, its queued, failed and ended states, the cache of
sample frames and the watcher thread that brings the final state home."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace

from playground.errors import ConfigError
from playground.runs.snapshots import Frame, QueuePlace, Snapshot

log = logging.getLogger(__name__)

CALL_TIMEOUT = 60.0  # seconds a control call may take (a save of a big model included)
SNAPSHOT_TIMEOUT = 10.0  # a busier worker than this: show the last snapshot again

_queue_lock = threading.Lock()
_queued: dict[str, float] = {}  # uid -> when it asked, for this process's runs still waiting


@dataclass(frozen=True)
class Refusal:
    """An error raised by a call in the worker, as plain data."""

    kind: str  # "config", "os" or "other"
    message: str
    setting: str = ""

    def raise_again(self) -> None:
        if self.kind == "config":
            prefix = f"{self.setting}: "
            text = self.message[len(prefix):] if self.message.startswith(prefix) else self.message
            raise ConfigError(self.setting, text)
        if self.kind == "os":
            raise OSError(self.message)
        raise RuntimeError(self.message)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


class RemoteRunner:
    """What RemoteRun and RemoteMultiRun share: the actor's life, queued/failed/ended states,
    the frames cache and the watcher that brings the final state home."""

    _kind = "run"

    @staticmethod
    def host_actor():
        """The Ray actor class that hosts the run (its subclasses in ray.cluster name it)."""
        raise NotImplementedError

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
            self._actor = self.host_actor().options(**options).remote(
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

    def step(self, d: bool = True, g: bool = True, ends_step: bool = True) -> bool:
        return bool(self._control("step", d=d, g=g, ends_step=ends_step))

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
                self._fail(one_line(exc))
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
        return self._plain_snapshot("queued", queue=QueuePlace(waited, place, len(order)))

    # Subclasses: the snapshot type's constructors.
    def _plain_snapshot(
        self, status: str, error: str | None = None, queue: QueuePlace | None = None
    ):
        raise NotImplementedError

    def _with_status(self, snap, status: str, error: str | None):
        return replace(snap, status=status, error=error)


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
