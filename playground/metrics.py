"""Mode-collapse measures for 2D Gaussian mixtures (VEEGAN, Srivastava et al. 2017; PacGAN,
Lin et al. 2018).

A generated sample is *high quality* when it lies within 3σ of its nearest mode centre. A mode is
*covered* when it is the nearest centre of at least one high-quality sample, and *held* when it
gets at least 20% of its fair share (1/M) of the high-quality samples. "Covered" is lenient and
hides a generator that hops between modes; "held" shows it.
"""

from __future__ import annotations

import numpy as np
import torch


def coverage_2d(
    samples: torch.Tensor | np.ndarray,
    centres: torch.Tensor | np.ndarray,
    sigma: float,
    hq_radius: float = 3.0,
    held_share: float = 0.2,
) -> dict:
    """Coverage measures of `samples` (N, 2) against mixture `centres` (M, 2) of std `sigma`."""
    x = torch.as_tensor(np.asarray(samples, dtype=np.float64))
    c = torch.as_tensor(np.asarray(centres, dtype=np.float64))
    m = c.shape[0]
    dist = torch.cdist(x, c)  # (N, M)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= hq_radius * sigma
    counts = torch.bincount(nearest[hq], minlength=m)  # high-quality samples per mode
    n_hq = int(hq.sum())
    fair_share = n_hq / m
    held = int((counts >= held_share * fair_share).sum()) if n_hq else 0
    return {
        "modes_total": m,
        "modes_covered": int((counts > 0).sum()),
        "modes_held": held,
        "high_quality_fraction": n_hq / max(len(x), 1),
        "mode_counts": counts.tolist(),
    }
