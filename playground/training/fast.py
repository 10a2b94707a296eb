"""The GPU's fast paths: which ones a run uses, and a training step replayed as a CUDA graph.

Both trainers (trainer.Trainer, multirun.MultiRun) use them; on a CPU, or with the setting
`fast_paths` off, nothing here is used and training is plain eager fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from playground.models.architectures import ARCHITECTURES
from playground.objectives.regularisers import active
from playground.settings.config import GANConfig

GRAPH_WARMUP = 3  # eager steps (on a side stream) before the step is captured as a CUDA graph


@dataclass(frozen=True)
class FastPaths:
    """Which of the GPU's fast paths a run uses (all off on a CPU, or with cfg.fast_paths off).

    - autocast: bf16 compute for the architectures whose registry entry says it pays off
      (architectures.Architecture.gpu_fast_layers: DCGAN's convolutions), fp32 weights and optimiser
      state; bf16 keeps fp32's exponent range, so no loss scaling is needed.
    - channels_last: NHWC layout for those models, the layout the tensor-core convolutions
      want (without it cuDNN transposes around each convolution).
    - graphs: the whole step (data draw, D and G updates, EMA, loss sums) captured once as a
      CUDA graph and replayed (WGAN-GP's double backward included). Not with a regulariser
      its registry entry marks as not graphable (instance noise: its strength changes with the
      step), and only where torch can capture the run's own
      random-number generator (torch 2.5 and later).
    """

    autocast_on: bool = False
    channels_last: bool = False
    graphs: bool = False

    @classmethod
    def for_config(cls, cfg: GANConfig, device: torch.device) -> FastPaths:
        if not (cfg.fast_paths and device.type == "cuda"):
            return cls()
        convolutional = ARCHITECTURES[cfg.arch].gpu_fast_layers
        graphs = all(a.entry.graphable for a in active([cfg])) and hasattr(
            torch.cuda.CUDAGraph, "register_generator_state"
        )
        return cls(autocast_on=convolutional, channels_last=convolutional, graphs=graphs)

    @classmethod
    def for_configs(cls, configs: list[GANConfig], device: torch.device) -> FastPaths:
        """What a batch of runs trained together may use: only what all of them may."""
        each = [cls.for_config(cfg, device) for cfg in configs]
        return cls(*(all(getattr(f, name) for f in each) for name in cls.__dataclass_fields__))

    def describe(self) -> str:
        """What is in use, in words (empty when nothing is)."""
        used = [
            ("each step replayed as a CUDA graph", self.graphs),
            ("bf16 autocast", self.autocast_on),
            ("channels-last layout", self.channels_last),
        ]
        return ", ".join(name for name, on in used if on)

    def autocast(self):
        if self.autocast_on:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()


class StepGraph:
    """A training step recorded once as a CUDA graph and then replayed.

    A small model's step is a few hundred kernels of a few microseconds each, so launching them
    one by one from Python costs more than running them; a replay launches them all at once.
    The first GRAPH_WARMUP steps run eagerly on a side stream (so that lazily created handles
    and optimiser state exist before capture); the next is captured and replayed at once (a
    capture records work without running it); later steps are replays. Everything a replay
    reads must stay where it was at capture: learning rates, step counts and replaced
    optimiser state need `drop()` (and are captured anew). The `generators` the step draws
    from keep giving fresh random numbers on every replay.
    """

    def __init__(self, device: torch.device, generators: list[torch.Generator]):
        self.device, self.generators = device, generators
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager_steps = 0  # eager steps since the graph was last dropped
        self.captures = 0

    def step(self, work: Callable[[], None]) -> bool:
        """Do one step of `work`. True when its Python ran (a warm-up or the capture), False
        for a replay, which runs none: host-side bookkeeping inside `work` is then skipped."""
        if self.graph is not None:
            self.graph.replay()
            return False
        if self.eager_steps < GRAPH_WARMUP:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                work()
            torch.cuda.current_stream(self.device).wait_stream(side)
            self.eager_steps += 1
            return True
        graph = torch.cuda.CUDAGraph()
        for generator in self.generators:
            graph.register_generator_state(generator)
        # thread_local: other threads may use the GPU meanwhile (the app's page thread does).
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            work()
        graph.replay()
        self.graph, self.captures = graph, self.captures + 1
        return True

    def drop(self) -> None:
        self.graph, self.eager_steps = None, 0
