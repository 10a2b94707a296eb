"""The worker side of a run on a Ray cluster: `RunHost`, the actor's body, holds an ordinary
local run (its training thread and all) and answers calls on it from several threads at once (a
threaded actor), so snapshots come while it trains. cluster.RemoteRun is the app's side.

Ray is imported only when the actor class is first made, so the local backend never needs it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from playground.data.userpoints import pointset_source
from playground.errors import ConfigError
from playground.runs.multirunner import MultiRunner
from playground.runs.ray.remote import Refusal, one_line
from playground.runs.runner import Run
from playground.runs.snapshots import MultiSnapshot, Snapshot
from playground.storage.checkpoints import load_for_training
from playground.training.devices import resolve_device
from playground.training.trainer import Trainer

log = logging.getLogger(__name__)

MAX_CONCURRENCY = 8  # actor threads: the run's own calls never wait for one another


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
            self.failed = _failed_snapshot(kind, spec, one_line(exc))

    def pid(self) -> int:
        return os.getpid()

    def cpu_seconds(self) -> float:
        """CPU time of this worker process so far (all its threads): the bench's second clock."""
        return time.process_time()

    def call(self, name: str, *args, **kwargs):
        """A method of the run (pause, save, measure, …), or a property's value. An error comes
        back as a Refusal (ConfigError cannot be unpickled by Ray: its arguments differ from
        what it stores), which the proxy raises again."""
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
            return Refusal("other", one_line(exc))

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
        return MultiRunner(spec["configs"], mesh=spec.get("mesh", False))

    if spec.get("resume_from"):
        return Run(trainer=load_for_training(spec["resume_from"]))
    if spec.get("points") is not None:  # your own points, sent along (cluster.own_points)
        return Run(spec["config"], make_trainer=lambda cfg: _trainer_on(cfg, spec["points"]))
    return Run(spec["config"])


def _trainer_on(cfg, found):
    """A Trainer on the points a run brought along (a userpoints.PointSet)."""
    return Trainer(cfg, data=pointset_source(cfg.dataset, found, resolve_device(cfg.device)))


def _failed_snapshot(kind: str, spec: dict, reason: str):
    if kind == "multi":
        return MultiSnapshot("error", 0, spec["configs"][0].steps, 0.0, (), reason)
    config = spec["config"]
    return Snapshot("error", 0, config.steps, 0.0, {}, error=reason, config=config)


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


def host_actor():
    """RunHost as a Ray actor class (made on first use: importing this module needs no Ray)."""
    global _actor_class
    if _actor_class is None:
        import ray

        _actor_class = ray.remote(max_concurrency=MAX_CONCURRENCY)(RunHost)
    return _actor_class
