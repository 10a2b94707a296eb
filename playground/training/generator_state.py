"""A live run's generator as plain data (CPU tensors and facts), taken between two steps, so it
can leave the process that trains it (a Ray worker) and be rebuilt for the latent explorer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

N_REAL = 1000  # real points kept for 2D views


# ---------------------------------------------------------------------- from a live run
@dataclass(frozen=True, eq=False)
class GeneratorState:
    """A live run's generator as plain data (CPU tensors and facts), so it can leave the process
    that trains it (a Ray worker) and be rebuilt as a LatentModel by
    `latent.LatentModel.from_state`."""

    config: object  # the run's GANConfig
    weights: dict[str, torch.Tensor]  # the sampler's state dict (the EMA copy when there is one)
    kind: str
    shape: tuple[int, ...]
    num_classes: int  # the dataset's classes (0 when unlabelled)
    step: int
    fixed_z: torch.Tensor
    fixed_labels: torch.Tensor | None = None
    extent: tuple[float, float, float, float] | None = None
    real: np.ndarray | None = None


def generator_state(trainer) -> GeneratorState:
    """The trainer's sampler as plain CPU data; call it between two training steps."""
    data = trainer.data
    real = extent = None
    if data.kind == "points":
        extent = trainer.extent()
        points, _ = data.sample(N_REAL, torch.Generator(data.device).manual_seed(0))
        real = points.float().cpu().numpy()
    weights = {k: v.detach().to("cpu", copy=True).contiguous()
               for k, v in trainer.sampler.state_dict().items()}
    labels = trainer.fixed_labels
    return GeneratorState(
        config=trainer.cfg,
        weights=weights,
        kind=data.kind,
        shape=tuple(data.shape),
        num_classes=data.num_classes,
        step=trainer.step,
        fixed_z=trainer.fixed_z.detach().cpu().clone(),
        fixed_labels=None if labels is None else labels.detach().cpu().clone(),
        extent=extent,
        real=real,
    )
