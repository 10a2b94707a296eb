"""Where training runs run: in this process (the `local` backend, a thread per run, the default
that needs nothing) or on a Ray cluster (the `ray` backend, an actor per run; see
playground.runs.ray.cluster). Pages and the command line make every run through `make_run` and
start it
with `try_start`, so they never know which one they hold.

Settings (environment variables, read when a run is made):
- GAN_PLAYGROUND_BACKEND: local (default) or ray.
- RAY_ADDRESS: Ray's own setting, the cluster to join; unset, a local Ray is started on demand.
- GAN_PLAYGROUND_LOCAL_FALLBACK: 1 lets runs train in this process when the cluster cannot be
  reached (default 0: Start says the cluster is unreachable).
- GAN_PLAYGROUND_RAY_CPUS / GAN_PLAYGROUND_RAY_GPUS: what each run asks Ray for (default 1 CPU,
  0 GPUs; a fraction of a GPU such as 0.25 lets four runs share one).
- GAN_PLAYGROUND_RUNS_DIR: the folder saved runs go to (a shared file system on a cluster).
- GAN_PLAYGROUND_POOL: 1 (default) makes every local 2D run the pool can take (pool.poolable)
  a member of this process's shared stepping pool (runs.pool.default_pool: same-shaped runs
  train as one stacked step in one thread, and take slots by their cost, see capacity); 0 runs
  each in a thread of its own. On Ray every run is an actor of its own either way (a pool as
  one Ray actor is not built).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from playground.errors import ConfigError
from playground.runs import capacity
from playground.runs.interface import BatchedRun, RunControls, SingleRun
from playground.runs.multirunner import MultiRunner
from playground.runs.pool import default_pool, poolable
from playground.runs.ray.cluster import RemoteMultiRun, RemoteRun, RemoteRunner
from playground.runs.runner import Run
from playground.settings.config import GANConfig
from playground.storage.checkpoints import load_for_training, read_meta
from playground.training.trainer import Trainer

BACKEND_ENV = "GAN_PLAYGROUND_BACKEND"
BACKENDS = ("local", "ray")
FALLBACK_ENV = "GAN_PLAYGROUND_LOCAL_FALLBACK"
CPUS_ENV = "GAN_PLAYGROUND_RAY_CPUS"
GPUS_ENV = "GAN_PLAYGROUND_RAY_GPUS"
RUNS_DIR_ENV = "GAN_PLAYGROUND_RUNS_DIR"
POOL_ENV = "GAN_PLAYGROUND_POOL"
RETRY_SECONDS = 60.0  # after a failed connection, how long before the cluster is tried again

log = logging.getLogger(__name__)


class ClusterUnavailable(RuntimeError):
    """The Ray cluster cannot be reached (or Ray is not installed); the message is one line."""


# ---------------------------------------------------------------------- settings
def backend_name(explicit: str | None = None) -> str:
    """`explicit` (e.g. the command line's --backend) else $GAN_PLAYGROUND_BACKEND else local."""
    name = (explicit or os.environ.get(BACKEND_ENV, "") or "local").strip().lower()
    if name not in BACKENDS:
        setting = "--backend" if explicit else BACKEND_ENV
        raise ConfigError(setting, f"must be one of {', '.join(BACKENDS)}; got {name!r}")
    return name


def fallback_allowed() -> bool:
    return os.environ.get(FALLBACK_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def pooling() -> bool:
    """Whether local 2D runs join the shared pool: $GAN_PLAYGROUND_POOL, on unless it is 0,
    false, no or off."""
    return os.environ.get(POOL_ENV, "").strip().lower() not in ("0", "false", "no", "off")


def _amount(env: str, default: float, top: float) -> float:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= top:
        raise ConfigError(env, f"must be a number from 0 to {top:g}; got {text!r}")
    return value


def ray_resources() -> dict[str, float]:
    """What each run asks Ray for: {"num_cpus": …, "num_gpus": …}."""
    cpus = _amount(CPUS_ENV, 1.0, 1024)
    gpus = _amount(GPUS_ENV, 0.0, 64)
    if cpus == 0 and gpus == 0:
        raise ConfigError(CPUS_ENV, "a run must ask for some CPU or GPU; both are 0")
    return {"num_cpus": cpus, "num_gpus": gpus}


def runs_dir(default: str | os.PathLike) -> Path:
    """Where saved runs go: $GAN_PLAYGROUND_RUNS_DIR (on a cluster, a folder every machine
    mounts at the same path), else `default`."""
    text = os.environ.get(RUNS_DIR_ENV, "").strip()
    return Path(text).expanduser() if text else Path(default)


# ---------------------------------------------------------------------- connecting to Ray
_connect_lock = threading.Lock()
_last_failure: tuple[float, str] | None = None


def connect() -> None:
    """Join the Ray cluster at $RAY_ADDRESS, or start a local Ray when it is unset (once per
    process). Raises ClusterUnavailable with a one-line reason; a failure is remembered for a
    minute, so a page does not wait for the same timeout at every click."""
    global _last_failure
    with _connect_lock:
        try:
            import ray
        except ImportError:
            raise ClusterUnavailable(
                'the ray backend needs Ray: pip install -e ".[cluster]"'
            ) from None
        if ray.is_initialized():
            return
        if _last_failure and time.monotonic() - _last_failure[0] < RETRY_SECONDS:
            raise ClusterUnavailable(_last_failure[1])
        address = os.environ.get("RAY_ADDRESS", "").strip()
        try:
            _probe(address)
            if address:
                ray.init(address=address, log_to_driver=False)
            else:  # Ray's own search: a cluster started on this machine, else a new local one
                ray.init(include_dashboard=False, log_to_driver=False)
        except Exception as exc:  # ConnectionError, timeouts, a version mismatch: one line
            where = f"RAY_ADDRESS={address}" if address else "a local Ray"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = (
                f"cannot reach the Ray cluster ({where}): {reason[:200]}. Check that the head is "
                f"running (ray status), or set {BACKEND_ENV}=local"
            )
            _last_failure = (time.monotonic(), message)
            raise ClusterUnavailable(message) from None
        _last_failure = None


PROBE_SECONDS = 5.0


def _probe(address: str) -> None:
    """Fail fast when nothing listens at a host:port address: ray.init itself retries for
    minutes before giving up, which would freeze a page."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():  # "auto", "local" or empty: Ray's own resolution
        return
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc.strerror or exc})") from None


# ---------------------------------------------------------------------- making runs
def make_run(
    config: GANConfig | None = None,
    *,
    resume_from: str | os.PathLike | None = None,
    trainer: Trainer | None = None,
    backend: str | None = None,
    pictures: bool = True,
) -> SingleRun:
    """A new, unstarted run of `config` (or continuing the checkpoint `resume_from`) on the
    configured backend: a runner.Run (a pool.PooledRun when the shared pool can take it, see
    `pooling`) or a cluster.RemoteRun, with the same interface. A `trainer` built in this
    process (e.g. resumed with changes) runs here. `pictures=False` draws no sample grids or 2D
    views in a local run (for a run nobody watches).

    A run whose estimated peak memory is over the per-run budget (capacity.check_budget) is
    refused with ConfigError. With the ray backend and an unreachable cluster:
    ClusterUnavailable, or, when the operator allows it ($GAN_PLAYGROUND_LOCAL_FALLBACK=1), a
    local run."""
    if trainer is not None:  # a trainer already built here (the CLI's resume): this process
        if config is not None or resume_from is not None:
            raise ValueError("make_run takes a trainer alone")
        return _local(trainer=trainer, pictures=pictures, pool=backend_name(backend) == "local")
    if (config is None) == (resume_from is None):
        raise ValueError("make_run needs a config or a checkpoint folder to resume, not both")
    # Over the server's per-run memory budget: ConfigError naming the cost, before anything runs.
    capacity.check_budget(config if config is not None else read_meta(resume_from)["config_obj"])
    if _use_ray(backend):
        if resume_from is not None:
            read_meta(resume_from)  # refuse a bad folder here, with the checkpoint's message
        return RemoteRun(config, resume_from=resume_from, resources=ray_resources())

    # The local backend pools; a run that falls back here from an unreachable cluster
    # ($GAN_PLAYGROUND_LOCAL_FALLBACK) runs alone, as it did before there was a pool.
    pool = backend_name(backend) == "local"
    if resume_from is not None:
        return _local(trainer=load_for_training(resume_from), pictures=pictures, pool=pool)
    return _local(config, pictures=pictures, pool=pool)


def _local(
    config: GANConfig | None = None,
    trainer: Trainer | None = None,
    *,
    pictures: bool,
    pool: bool,
) -> Run:
    """A run in this process: a member of the shared pool when `pool`, pooling is on and the
    pool can take it; else a run in a thread of its own."""
    cfg = trainer.cfg if trainer is not None else config
    if pool and pooling() and poolable(cfg):
        return default_pool().member(config, trainer, pictures=pictures)
    return Run(config, trainer, pictures=pictures)


def make_multi_run(
    configs: list[GANConfig], *, backend: str | None = None, mesh: bool = False
) -> BatchedRun:
    """A multi-run (multirunner.MultiRunner: the every-loss view, a side-by-side lesson) on the
    configured backend; `mesh`: its frames carry each member's G manifold."""
    if _use_ray(backend):
        return RemoteMultiRun(configs, resources=ray_resources(), mesh=mesh)

    return MultiRunner(configs, mesh=mesh)


def try_start(run: RunControls, paused: bool = False) -> bool:
    """Start `run`. A local run needs one of this server's slots (playground.runs.capacity; a
    pooled run its share of one) and is left unstarted (False) when they are full; a run on Ray
    is always accepted and waits in Ray's queue (its snapshots say "queued") until the cluster
    has room."""
    if on_cluster(run):
        run.start(paused=paused)
        return True

    return capacity.SLOTS.try_start(run, paused=paused)


def on_cluster(run: RunControls) -> bool:
    """True for a run on Ray (it queues there instead of taking one of this server's slots)."""
    return isinstance(run, RemoteRunner)


def _use_ray(backend: str | None) -> bool:
    if backend_name(backend) != "ray":
        return False
    try:
        connect()
    except ClusterUnavailable as exc:
        if not fallback_allowed():
            raise
        log.warning("%s; training in this process instead (%s=1)", exc, FALLBACK_ENV)
        return False
    return True


def cluster_in_use(backend: str | None = None) -> bool:
    """True when new runs go to the Ray cluster (backend ray and the cluster reachable); False
    for the local backend and while an unreachable cluster is skipped or refused."""
    if backend_name(backend) != "ray":
        return False
    try:
        connect()
    except ClusterUnavailable:
        return False
    return True


def describe(backend: str | None = None) -> str:
    """One line for a page: where runs train."""
    if backend_name(backend) == "local":
        return "Runs train on this server."
    try:
        connect()
    except ClusterUnavailable as exc:
        if fallback_allowed():
            return f"Runs train on this server for now: {exc}."
        return f"Runs cannot start: {exc}."
    import ray

    cpus = ray.cluster_resources().get("CPU", 0)
    gpus = ray.cluster_resources().get("GPU", 0)
    return f"Runs train on the Ray cluster ({cpus:g} CPUs, {gpus:g} GPUs); full, they queue."
