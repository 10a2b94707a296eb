"""What a single run (trainer.Trainer) and a batched multi-run (multirun.MultiRun) share
around their updates: the order of the updates, the CUDA-graph replay and the device-side sums
copied out at each log."""

from __future__ import annotations

import time


class Divergence(RuntimeError):
    """Training produced NaN or inf; the message says where and what to try."""


class StepInterrupted(RuntimeError):
    """The step was abandoned between two of its updates because its run was asked to stop."""


class StepCore:
    """What Trainer and MultiRun share around their updates. They provide `cfg`, `step`,
    `d_update(want_norm)`, `g_update(want_norm)`, `graph` (a fast.StepGraph, or None where
    the step is not graphed), the device-side sums `_d_acc`, `_g_acc`, `_grad_norms`, the
    host-side update counters `_d_count`, `_g_count`, and `_log_started`, `_log_step0`,
    `steps_per_sec`.

    `interrupt`, when set, is asked before each update of an eager step: when it returns True
    the step stops there (StepInterrupted), so Stop or a closed tab never waits for the rest of
    a long step. A CUDA-graph replay is one launch and is not cut."""

    interrupt = None  # Callable[[], bool] | None

    def _updates(self, d: bool, g: bool, want_norm: bool, interruptible: bool = False) -> None:
        """d_steps D updates then g_steps G updates, run eagerly (or recorded, under capture);
        the gradient norms are taken at the last update of each when `want_norm`."""
        if d:
            for i in range(self.cfg.d_steps):
                self._check_interrupt(interruptible)
                self.d_update(want_norm=want_norm and i == self.cfg.d_steps - 1)
        if g:
            for i in range(self.cfg.g_steps):
                self._check_interrupt(interruptible)
                self.g_update(want_norm=want_norm and i == self.cfg.g_steps - 1)

    def _check_interrupt(self, interruptible: bool) -> None:
        if interruptible and self.interrupt is not None and self.interrupt():
            raise StepInterrupted("stopped in the middle of a step")

    def _step_updates(self, d: bool, g: bool, logging: bool) -> None:
        """One step's updates: a full step goes through the graph when there is one (which
        always computes the gradient norms, a few small kernels); a replay runs no Python, so
        the update counters are advanced here for it. Anything else runs eagerly."""
        if d and g and self.graph is not None:
            if not self.graph.step(lambda: self._updates(True, True, want_norm=True)):
                self._d_count += self.cfg.d_steps
                self._g_count += self.cfg.g_steps
        else:
            self._updates(d, g, want_norm=logging, interruptible=True)

    def _take_sums(self, measure_speed: bool = True) -> tuple[list, list, list]:
        """The mean D and G statistics since the last log and the latest gradient norms, copied
        to the host (the only sync); the sums restart and the speed is updated (not for a
        manual step, whose pace is the person's: the next automatic log measures afresh)."""
        d_stats = (self._d_acc / max(self._d_count, 1)).tolist()
        g_stats = (self._g_acc / max(self._g_count, 1)).tolist()
        norms = self._grad_norms.tolist()
        now = time.perf_counter()
        if measure_speed and self.step > self._log_step0:
            self.steps_per_sec = (self.step - self._log_step0) / max(now - self._log_started, 1e-9)
        self._log_started, self._log_step0 = now, self.step
        self._d_acc.zero_()
        self._g_acc.zero_()
        self._d_count = self._g_count = 0
        return d_stats, g_stats, norms
