"""What every section shares: the budgets, logging, and the interleaved timing of blocks."""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from playground import paths
from playground.runs.runner import Run
from playground.runs.snapshots import FINAL
from playground.training.trainer import Trainer

EXAMPLE_DIGITS = paths.shipped_checkpoints() / "examples" / "digits-dcgan"
SECTIONS = ("ui", "overhead", "images", "learning", "multirun", "classroom", "memory")
EXTRA_SECTIONS = ("ray",)  # only when named (--only ray): it starts a Ray, or joins $RAY_ADDRESS
POLL_SECONDS = 1.0  # the Train page redraws its live view about once a second
NEVER = 10_000_000  # a step count no benchmark reaches: runs go on until stopped


@dataclass(frozen=True)
class Budget:
    block_s: float  # seconds per measured block
    rounds: int  # interleaved rounds per comparison
    image_rounds: int  # DCGAN 64 px rounds (a CPU step takes seconds)
    memory_steps: int  # steps of the long run
    slider_moves: int
    figure_repeats: int
    image_warmup: bool = True  # a warm-up step before timing DCGAN 64 px steps on a CPU
    deadline_s: float | None = None  # sections not started by then are skipped (--quick)
    memory_seconds: float | None = None  # the long run is stopped after this long (--quick)
    learning_steps: int = 1500  # DCGAN 64 px steps per variant in the learning comparison

    def scaled(self, block_s: float) -> Budget:
        """The same plan with `block_s` seconds a block; the long run shrinks or grows alike."""
        factor = block_s / self.block_s
        return dataclasses.replace(
            self, block_s=block_s, memory_steps=max(100, int(self.memory_steps * factor))
        )


# --quick is for CI: it must finish on a busy machine, so it has a deadline and a capped long
# run; its figures are rough.
QUICK = Budget(
    block_s=0.4,
    rounds=3,
    image_rounds=1,
    memory_steps=3000,
    slider_moves=10,
    figure_repeats=3,
    image_warmup=False,
    deadline_s=75.0,
    memory_seconds=10.0,
    learning_steps=100,
)
FULL = Budget(
    block_s=1.0, rounds=9, image_rounds=3, memory_steps=50_000, slider_moves=50, figure_repeats=10
)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- timing helpers
def sync_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Block = Callable[[float], tuple[int, float]]  # run for about s seconds -> (steps, seconds)


def loop_block(step: Callable[[], object], device: torch.device) -> Block:
    """A block that calls `step` until `seconds` have passed (at least once)."""

    def block(seconds: float) -> tuple[int, float]:
        done, start = 0, time.perf_counter()
        while True:
            step()
            done += 1
            if time.perf_counter() - start >= seconds:
                break
        sync_device(device)
        return done, time.perf_counter() - start

    return block


class RunBlock:
    """A `Run` in its background thread, resumed for a block while this thread polls its
    snapshot every POLL_SECONDS (as the page does), then paused again."""

    def __init__(self, trainer: Trainer, poll_s: float = POLL_SECONDS):
        self.run, self.poll_s, self.polls = Run(trainer=trainer), poll_s, 0
        # Note when each step ends, so a block ends exactly on a step boundary however late
        # this thread notices the pause.
        self.step_ended = 0.0
        step = trainer.train_step
        # On a GPU a step's host time is not its time: an event after each step marks when
        # the device finished it (one event record a step, a few microseconds).
        self.gpu = trainer.device.type == "cuda"
        self.last_event = torch.cuda.Event(enable_timing=True) if self.gpu else None

        def timed_step(*args, **kwargs):
            record = step(*args, **kwargs)
            self.step_ended = time.perf_counter()
            if self.gpu:
                self.last_event.record()  # re-recorded: it marks the latest step
            return record

        trainer.train_step = timed_step
        self.run.start(paused=True)
        self._wait_for("paused")

    def _wait_for(self, status: str, timeout: float = 600.0) -> None:
        deadline = time.perf_counter() + timeout
        while self.run.status != status:
            if self.run.status in FINAL:
                raise RuntimeError(f"benchmark run ended: {self.run.snapshot().error}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"benchmark run never became {status}")
            time.sleep(0.005)

    def __call__(self, seconds: float) -> tuple[int, float]:
        trainer = self.run.trainer
        if self.gpu:
            torch.cuda.synchronize(trainer.device)
            began = torch.cuda.Event(enable_timing=True)
            began.record()
        first, start = trainer.step, time.perf_counter()
        self.run.resume()
        next_poll = start
        while (now := time.perf_counter()) - start < seconds:
            if now >= next_poll:
                self.run.snapshot()
                self.polls += 1
                next_poll += self.poll_s
            time.sleep(max(0.0, min(next_poll, start + seconds) - time.perf_counter()))
        # End on a step boundary, after at least one step, as loop_block does: pausing lets
        # the step under way finish, so no step's time is counted without the step.
        while trainer.step == first:
            if self.run.status in FINAL:
                raise RuntimeError(f"benchmark run ended: {self.run.snapshot().error}")
            time.sleep(0.002)
        self.run.pause()
        self._wait_for("paused")
        seconds = self.step_ended - start
        if self.gpu:  # the block ends when the device has done its last step
            self.last_event.synchronize()
            seconds = max(seconds, began.elapsed_time(self.last_event) / 1e3)
        return trainer.step - first, seconds

    def close(self) -> None:
        self.run.stop(wait=30.0)


@dataclass(frozen=True)
class Sample:
    """One measured block: steps done, wall-clock seconds, and this process's CPU seconds (all
    its threads). Other processes on a shared machine slow the wall clock, not the CPU time, so
    CPU-time rates cross-check wall-clock ones when the machine is busy."""

    steps: int
    wall: float
    cpu: float


def interleaved(
    variants: dict[str, Block], rounds: int, block_s: float, warmup: bool = True
) -> dict[str, list[Sample]]:
    """Each variant's blocks, one per round. One short warm-up round first; then the order
    alternates (A B C, C B A, …) so a shared machine's slow drifts hit every variant alike."""
    names = list(variants)
    for name in names if warmup else ():
        variants[name](block_s / 2)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            cpu = time.process_time()
            done, seconds = variants[name](block_s)
            samples[name].append(Sample(done, seconds, time.process_time() - cpu))
    return samples


def rates(samples: list[Sample], clock: str = "wall") -> list[float]:
    """Steps per second of each block, by the wall clock or by CPU time."""
    return [s.steps / max(getattr(s, clock), 1e-9) for s in samples]


def paired_ratio(top: list[float], bottom: list[float]) -> float:
    """Median over rounds of top/bottom (pairs from the same round share the machine's mood)."""
    return statistics.median(t / b for t, b in zip(top, bottom, strict=True))


def spread(top: list[float], bottom: list[float]) -> list[float]:
    ratios = [t / b for t, b in zip(top, bottom, strict=True)]
    return [round(min(ratios), 3), round(max(ratios), 3)]
