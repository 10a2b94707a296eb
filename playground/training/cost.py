"""What a run will cost before it starts: its peak memory, estimated from the models it would
build (on PyTorch's "meta" device: shapes only, no memory) and the batch it would train on.

Peak memory ≈ a base (BASE_BYTES) + weights + gradients + optimiser state (4 bytes each per
parameter; Adam keeps two states, RMSprop one) + activations. The activations are measured,
not guessed: one G forward and two D forwards (real and fake) of a one-sample batch on the meta
device, every module's output counted, times the batch size, times ACTIVATION_FACTOR for what
backward keeps beside them (a gradient penalty's second backward doubles it).

The step's arithmetic is counted on the same forwards (torch.utils.flop_counter): a backward is
taken as twice its forward, so one D update costs G's forward and D's two forwards three times
over, one G update G's and one D forward three times over, a gradient penalty doubling D's part.
Stop waits for at most one update (training.stepcore), so the larger of the two bounds it.
`tests/test_cost.py` checks the estimate against the measured peak of real steps.

runs.capacity holds the server's per-run budget and refuses a run over it.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from playground.data.registry import DATASETS
from playground.models.architectures import build_models
from playground.models.nets import packed_shape
from playground.objectives.regularisers import REGULARISERS
from playground.settings.config import GANConfig

FLOAT_BYTES = 4
ACTIVATION_FACTOR = 1.5  # outputs kept for backward, their gradients, and the allocator's slack
# What the first training steps add whatever the models (kernels and buffers loaded on first use,
# the allocator's arenas): measured at about 150 MB on a CPU.
BASE_BYTES = 160 * 2**20
OPTIMISER_STATES = {"adam": 2, "rmsprop": 1, "sgd": 1}
# One estimate at a time: PyTorch's meta kernels are Python code that loads parts of torch on
# first use, and every visitor's page run asks for an estimate (ten pages at once on a fresh
# server would all do that together).
_ESTIMATING = threading.Lock()


@dataclass(frozen=True)
class Cost:
    parameters: int  # G's and D's (with any InfoGAN head)
    fixed_bytes: int  # weights, gradients and optimiser state, and BASE_BYTES
    bytes_per_sample: int  # activations for one sample of the batch
    batch_size: int
    d_update_flops: int = 0  # one D update, for the whole batch
    g_update_flops: int = 0  # one G update, for the whole batch
    d_steps: int = 1

    @property
    def step_flops(self) -> int:
        """One training step: d_steps D updates and one G update."""
        return self.d_steps * self.d_update_flops + self.g_update_flops

    @property
    def update_flops(self) -> int:
        """The longest stretch Stop may have to wait for: one update."""
        return max(self.d_update_flops, self.g_update_flops)

    @property
    def peak_bytes(self) -> int:
        return self.fixed_bytes + self.bytes_per_sample * self.batch_size

    def largest_batch(self, budget: int) -> int:
        """The largest batch size whose peak fits `budget` (0 when not even one sample does)."""
        return max(0, (budget - self.fixed_bytes) // max(self.bytes_per_sample, 1))


def data_shape(cfg: GANConfig) -> tuple[int, ...]:
    """The shape one real sample of this config has: (2,) or (C, S, S)."""
    if cfg.is_points:
        return (2,)
    entry = DATASETS[cfg.dataset]
    channels = 1 if cfg.grayscale or entry.channels == 1 else 3
    return (channels, cfg.image_size, cfg.image_size)


def estimate(cfg: GANConfig) -> Cost:
    """The run's cost, from its models built on the meta device (tens of milliseconds the first
    time; remembered per config, so a page that reruns with the same settings pays nothing)."""
    with _ESTIMATING:
        return _estimate(cfg)


@functools.lru_cache(maxsize=256)
def _estimate(cfg: GANConfig) -> Cost:
    shape = data_shape(cfg)
    classes = (DATASETS[cfg.dataset].num_classes or 10) if cfg.conditional else 0
    with torch.device("meta"):
        g, d = build_models(cfg, shape, classes)
        parameters = sum(p.numel() for m in (g, d) for p in m.parameters())
        per_sample, g_flops, d_flops = _activations(cfg, g, d, shape, classes)
    states = OPTIMISER_STATES.get(cfg.optimizer, 2)
    fixed = BASE_BYTES + parameters * FLOAT_BYTES * (2 + states)
    second_backward = 2.0 if any(entry.on(cfg) for entry in REGULARISERS.values()) else 1.0
    per_sample_bytes = per_sample * FLOAT_BYTES * ACTIVATION_FACTOR * second_backward
    batch = cfg.batch_size
    d_update = batch * (g_flops + 3 * 2 * d_flops * second_backward)  # fakes, then D on two
    g_update = batch * 3 * (g_flops + d_flops)
    return Cost(parameters, fixed, math.ceil(per_sample_bytes), batch,
                math.ceil(d_update), math.ceil(g_update), cfg.d_steps)


def _activations(cfg: GANConfig, g: nn.Module, d: nn.Module, shape,
                 classes: int) -> tuple[int, float, float]:
    """Values every module outputs for one sample (G once, D on a real and on a fake sample; D
    sees `pack` samples at once, so one sample is 1/pack of its forward), and the FLOPs of one
    sample's G forward and of one D forward."""
    counted = 0

    def count(_module, _inputs, output) -> None:
        nonlocal counted
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        counted += sum(o.numel() for o in outputs if isinstance(o, torch.Tensor))

    # Leaf layers only (a block's output is its last layer's), and layers under a parametrization
    # such as spectral norm, whose normalised weight is kept for backward too.
    layers = [m for net in (g, d) for m in net.modules()
              if next(m.children(), None) is None or hasattr(m, "parametrizations")]
    hooks = [m.register_forward_hook(count) for m in layers]
    try:
        pack = max(1, cfg.pack)
        labels = torch.zeros(pack, dtype=torch.long) if classes else None
        z = torch.zeros(pack, cfg.latent_dim)
        with torch.no_grad():
            with FlopCounterMode(display=False) as g_count:
                fake = g(z, labels)
            packed = packed_shape(shape, pack)  # D sees `pack` samples as one
            d_labels = None if labels is None else labels[:1]
            with FlopCounterMode(display=False) as d_count:
                d(torch.zeros(1, *packed), d_labels)
            d(fake.reshape(1, *packed), d_labels)
    finally:
        for hook in hooks:
            hook.remove()
    return (math.ceil(counted / pack), g_count.get_total_flops() / pack,
            d_count.get_total_flops() / pack)


def gflop(n: int) -> str:
    """FLOPs in billions, in words: "under 0.01", "about 0.22", "about 35,123"."""
    value = n / 1e9
    if value < 0.01:
        return "under 0.01"
    return "about " + (f"{value:,.0f}" if value >= 10 else f"{value:.2g}")


def gib(n: int) -> str:
    """Bytes in words: "2.5 GB" or "300 MB"."""
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
