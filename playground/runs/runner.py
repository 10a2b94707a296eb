"""A training run in a background thread, controlled through thread-safe flags and observed
through immutable snapshots of plain data.

The thread never draws anything: a page polls `snapshot()` (about once a second) and draws it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from playground.measures.evaluation import evaluator_for
from playground.runs import capacity
from playground.runs.controls import ThreadControls
from playground.runs.snapshots import MAX_FRAMES, Frame, Snapshot
from playground.settings.config import GANConfig
from playground.settings.live import check_live_changes, check_single_member
from playground.storage import checkpoints
from playground.training import cost
from playground.training.generator_state import generator_state
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer
from playground.views.view2d import Arrows, Manifold, layers_for

log = logging.getLogger(__name__)

class Run(ThreadControls):
    """Loops `Trainer.train_step()` in a daemon thread.

    Controls (safe from any thread): start, pause, resume, step (while paused), stop, change
    learning rates / D steps live, save. `snapshot()` returns the latest state as plain data.
    """

    _phases = True

    def __init__(
        self,
        config: GANConfig | None = None,
        trainer: Trainer | None = None,
        make_trainer: Callable[[GANConfig], Trainer] = Trainer,
        *,
        pictures: bool = True,
    ):
        if config is None and trainer is None:
            raise ValueError("a Run needs a config or a trainer")
        self.config = trainer.cfg if trainer else config
        self.trainer = trainer
        self._make_trainer = make_trainer
        # False for a run nobody watches (the command line's): no sample grids or 2D views are
        # drawn, so the run costs what its training steps cost.
        self._pictures = pictures
        super().__init__()
        self._pending: dict = {}  # live changes for the next step (config.LIVE_SETTINGS)
        self._frames: deque[Frame] = deque(maxlen=MAX_FRAMES)
        self._frame_every = 1  # keep every n-th grid so frames span the whole run
        self._frames_seen = 0

    # ------------------------------------------------------------------ controls
    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change live settings (any of config.LIVE_SETTINGS by keyword, e.g. lr_g=2e-4,
        loss="hinge"; None means "leave it"). Validated now against the run's settings with
        the changes already queued (ConfigError naming a bad value or a setting that cannot
        change live, and then nothing is queued); applied together between two steps: at once
        when no step is under way (paused, say: a Save or a look right after sees the change),
        else before the next step. `member` is for batched runs' sake: a single run is member 0
        (or None)."""
        check_single_member(member)
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return
        with self._cond:
            trainer = self.trainer
            current = trainer.cfg if trainer is not None else self.config
            capacity.check_rise(current, check_live_changes(current, {**self._pending, **changes}))
            self._pending.update(changes)
        if self.trainer is not None and self._step_lock.acquire(blocking=False):
            try:  # between two steps: nothing is training, so apply now
                self._apply_pending_hyper()
            finally:
                self._step_lock.release()

    def between_steps(self) -> threading.Lock:
        """A context manager that holds training between two steps, e.g. to copy a model:
        `with run.between_steps(): model = copy(run.trainer.G)`."""
        return self._step_lock

    def view_layers(self, plane: str = "random") -> tuple[Manifold, Arrows] | None:
        """G's manifold (on the latent `plane`: "random" or "principal", see view2d) and the
        gradient arrows now, computed between two steps; None before the models exist or for
        image data. Frames already carry both on the fixed random plane."""
        with self._step_lock:
            trainer = self.trainer
            if trainer is None or trainer.data.kind != "points":
                return None
            return layers_for(trainer, plane)

    def frame_now(self) -> Frame | None:
        """The picture of the models as they are now (samples, and for 2D data D's map, G's
        manifold and the arrows), computed between two steps and not kept among the frames;
        None before the models exist. Slow motion takes it before and after one phase."""
        with self._step_lock:
            trainer = self.trainer
            return None if trainer is None else _picture(trainer)

    def save(self, path: str | Path, **kwargs) -> Path:
        """Save a checkpoint between two steps (safe while running)."""
        if self.trainer is None:
            raise RuntimeError("nothing to save yet: the run has not built its models")
        with self._step_lock:
            self._apply_pending_hyper()  # a change made during the last step is saved too
            return checkpoints.save_checkpoint(self.trainer, path, **kwargs)

    # ------------------------------------------------------------------ looking at the models
    # Pages use these instead of reaching into the trainer: each returns plain data, so a run in
    # another process (playground.runs.ray.cluster) answers them the same way.
    @property
    def has_models(self) -> bool:
        """True once the models are built (so there is something to save or explore)."""
        return self.trainer is not None

    def generator_state(self):
        """The generator now (the EMA copy when there is one) as a GeneratorState, copied
        between two training steps; `LatentModel.from_state` rebuilds it. None before the models
        are built."""
        with self._step_lock:
            trainer = self.trainer
            return None if trainer is None else generator_state(trainer)

    def real_sample(self, n: int, seed: int = 0) -> np.ndarray | None:
        """n real training samples (points (n, 2) float32, or images (n, H, W, C) uint8), drawn
        with `seed`; None before the data is loaded."""
        trainer = self.trainer
        return None if trainer is None else trainer.real_sample(n, seed)

    def measure(self, n: int, seed: int = 0):
        """The mode-collapse measures (an evaluation.Report) of the generator on n fresh samples
        drawn with `seed`, sampled between two training steps; None before the models exist."""
        trainer = self.trainer
        if trainer is None:
            return None
        with self._step_lock:  # G must not change (nor switch train/eval) while sampled
            samples = trainer.sample(n, seed=seed)
        return evaluator_for(trainer).measure(samples)

    # ------------------------------------------------------------------ observing
    def snapshot(self) -> Snapshot:
        trainer = self.trainer
        with self._cond:
            frames = tuple(self._frames)
            status, error = self._status, self._error
            manual_steps = self._manual_done
            history = trainer.history.copy() if trainer else {}
            step = self.shown_step(trainer)
        if trainer is None:
            return Snapshot(
                status,
                0,
                self.config.steps,
                0.0,
                history,
                frames,
                error,
                self.config,
                elapsed=self._elapsed(),
            )
        return Snapshot(
            status=status,
            step=step,
            total_steps=trainer.cfg.steps,
            steps_per_sec=trainer.steps_per_sec,
            history=history,
            frames=frames,
            error=error,
            config=trainer.cfg,
            kind=trainer.data.kind,
            extent=trainer.extent() if trainer.data.kind == "points" else None,
            device=str(trainer.device),
            elapsed=self._elapsed(),
            notes=tuple(getattr(trainer.data, "notes", ())),
            fast_paths=trainer.fast.describe(),
            measures_note=trainer.measures.note,  # e.g. the classifier still training
            measures=tuple(trainer.measures.copy()),
            manual_steps=manual_steps,
        )

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started_at if self._started_at else 0.0

    # ------------------------------------------------------------------ the thread
    def _main(self) -> None:
        try:
            if self.trainer is None:
                self.trainer = self._make_trainer(self.config)
            self.trainer.interrupt = self._stop_requested  # a long step ends at the next update
            self.trainer.interrupt_within = _long_updates(self.trainer.cfg)  # or the next layer
            self._paced_frame()  # a first picture right away, before any training
            self._loop()
        except Divergence as exc:
            self._set_status("diverged", str(exc))
        except Exception as exc:  # shown to the person, not raised into a dead thread
            log.exception("training run failed")
            self._set_status("error", describe_failure(exc))
        finally:
            self._release()

    def _engine(self) -> Trainer:
        return self.trainer

    def _train_step(self, action: tuple[bool, bool, bool], manual: bool = False) -> dict | None:
        self._apply_pending_hyper()
        d, g, ends_step = action
        if not ends_step:  # slow motion's first phase: the next manual step ends the step
            return self.trainer.train_step(d, g, log_now=True, ends_step=False)
        if manual:  # (a plain call otherwise: what wraps train_step need not know log_now)
            return self.trainer.train_step(d, g, log_now=True)
        return self.trainer.train_step(d, g)

    def _apply_pending_hyper(self) -> None:
        if not self._pending:  # the usual case: no lock taken on a step
            return
        with self._cond:  # applied under the lock set_hyper validates under: never stale
            changes, self._pending = self._pending, {}
            self.trainer.apply(changes)

    def _record_frame(self) -> None:
        if not self._pictures:
            return
        with self._step_lock:
            frame = _picture(self.trainer)
        with self._cond:
            if self._frames and self._frames[-1].step == frame.step:
                self._frames[-1] = frame
                return
            self._frames_seen += 1
            if len(self._frames) == MAX_FRAMES:
                # Thin out: keep every other frame, so the kept ones span the whole run.
                kept = list(self._frames)[::2]
                self._frames.clear()
                self._frames.extend(kept)
            self._frames.append(frame)

    def _release(self) -> None:
        """Free accelerator memory held only by this run's optimiser state and caches."""
        try:
            import torch

            on_gpu = self.trainer is not None and self.trainer.device.type == "cuda"
            self._mark_ended()
            if on_gpu:
                torch.cuda.empty_cache()
        except Exception:  # cleanup must never raise from the thread
            pass

    def _let_go(self) -> None:
        self.trainer = None
        self._frames.clear()


def _picture(trainer: Trainer) -> Frame:
    """A Frame of the trainer now (the caller holds the step lock)."""
    samples = trainer.fixed_samples()
    decision = trainer.decision_map() if trainer.data.kind == "points" else None
    layers = layers_for(trainer) if decision is not None else (None, None)
    return Frame(trainer.step, samples, decision, *layers)


def describe_failure(exc: BaseException) -> str:
    """What a run that failed shows: its error in one line (for an out-of-memory error, the
    advice to make the run smaller)."""
    text = str(exc).strip() or type(exc).__name__
    if "out of memory" in text.lower():
        return (
            "The GPU ran out of memory: try a smaller batch size, a smaller image size or "
            "a narrower model."
        )
    return text if len(text) < 500 else text[:500] + "…"


WATCHED_UPDATE_FLOPS = 5e9  # about a tenth of a second and more on a CPU


def _long_updates(cfg: GANConfig) -> bool:
    """Whether one update of this run is expected to take long enough that Stop should be
    heard within it, layer by layer (a slow update turns this on by itself too)."""
    try:
        return cost.estimate(cfg).update_flops >= WATCHED_UPDATE_FLOPS
    except Exception:  # an estimate that cannot be made must not keep a run from starting
        log.debug("no cost estimate for %s", cfg, exc_info=True)
        return False
