"""What a single run (trainer.Trainer) and a batched multi-run (multirun.MultiRun) share
around their updates: the order of the updates, the CUDA-graph replay and the device-side sums
copied out at each log."""

from __future__ import annotations

import functools
import threading
import time
import weakref

import torch


class Divergence(RuntimeError):
    """Training produced NaN or inf; the message says where and what to try."""


class StepInterrupted(RuntimeError):
    """The step was abandoned between two of its updates because its run was asked to stop."""


SLOW_UPDATE_S = 0.2  # an update slower than this is watched layer by layer from then on


class _Armed(threading.local):
    check = None  # the interrupt of the update this thread is running, while it is watched


_ARMED = _Armed()


def _layer_forward_done(module, args, output):
    """A forward hook on every layer of a watched model: a no-op unless this thread is running
    a watched update, which then stops here when asked, or watches this layer's backward."""
    check = _ARMED.check
    if check is None:
        return None
    if check():
        raise StepInterrupted("stopped in the middle of an update")
    if isinstance(output, torch.Tensor) and output.requires_grad:
        output.register_hook(functools.partial(_layer_backward_done, check))
    return None


def _layer_backward_done(check, grad):
    if check():  # raised through backward(): the update ends before the optimiser step
        raise StepInterrupted("stopped in the middle of an update")
    return None


class StepCore:
    """What Trainer and MultiRun share around their updates. They provide `cfg`, `step`,
    `d_update(want_norm)`, `g_update(want_norm)`, `graph` (a fast.StepGraph, or None where
    the step is not graphed), the device-side sums `_d_acc`, `_g_acc`, `_grad_norms`, the
    host-side update counters `_d_count`, `_g_count`, and `_log_started`, `_log_step0`,
    `steps_per_sec`.

    `interrupt`, when set, is asked before each update of an eager step: when it returns True
    the step stops there (StepInterrupted), so Stop or a closed tab never waits for the rest of
    a long step. A CUDA-graph replay is one launch and is not cut.

    An update can itself be long (a big batch through wide layers: seconds to minutes on a
    CPU). When `interrupt_within` is set (by the caller, from the step's estimated cost) or an
    update has taken longer than SLOW_UPDATE_S, `interrupt` is also asked after each layer's
    forward and each layer's backward (`_networks()` lists the models whose layers are
    watched): Stop then waits for one layer, not one update. An update cut like this changes
    no weight (the optimiser step comes after the backward) and is not counted."""

    interrupt = None  # Callable[[], bool] | None
    interrupt_within = False

    def _networks(self) -> tuple[torch.nn.Module, ...]:
        return ()

    def _updates(self, d: bool, g: bool, want_norm: bool, interruptible: bool = False) -> None:
        """d_steps D updates then g_steps G updates, run eagerly (or recorded, under capture);
        the gradient norms are taken at the last update of each when `want_norm`."""
        if d:
            for i in range(self.cfg.d_steps):
                self._update(self.d_update, want_norm and i == self.cfg.d_steps - 1, interruptible)
        if g:
            for i in range(self.cfg.g_steps):
                self._update(self.g_update, want_norm and i == self.cfg.g_steps - 1, interruptible)

    def _update(self, update, want_norm: bool, interruptible: bool) -> None:
        """One update; when interruptible, Stop is heard before it (and within it, when watched)."""
        if not interruptible or self.interrupt is None:
            update(want_norm=want_norm)
            return
        if self.interrupt():
            raise StepInterrupted("stopped in the middle of a step")
        if not self.interrupt_within:
            started = time.perf_counter()
            update(want_norm=want_norm)
            self.interrupt_within = time.perf_counter() - started > SLOW_UPDATE_S
            return
        self._hook_layers()
        _ARMED.check = self.interrupt  # this thread's layers now ask it
        try:
            update(want_norm=want_norm)
        finally:
            _ARMED.check = None

    def _hook_layers(self) -> None:
        """Hooks every layer of `_networks()` once (a model built anew is hooked too). The hooks
        act only on the thread that arms them, so copies of the models made for pictures or
        snapshots are unaffected."""
        hooked = self.__dict__.setdefault("_hooked_networks", weakref.WeakSet())
        for net in self._networks():
            if net not in hooked:
                for module in net.modules():
                    module.register_forward_hook(_layer_forward_done)
                hooked.add(net)

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
