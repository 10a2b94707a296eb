"""The 2D toy distributions, generated in code on the training device (the mode-collapse
classics). The two Gaussian mixtures carry their mode centres and sigma, which the dataset
registry (datasets.py) publishes so metrics can count exactly which modes a generator covers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

# (n, generator, device) -> float32 points (n, 2)
PointSampler = Callable[[int, torch.Generator, torch.device], torch.Tensor]

RING8_RADIUS = 2.0
RING8_SIGMA = 0.02
GRID25_SIGMA = 0.05
SPIRAL_TURNS = 2.0
SPIRAL_NOISE = 0.03
MOONS_NOISE = 0.05
CIRCLES_NOISE = 0.03

# Eight modes evenly spaced on a circle of radius 2, the first on the positive x axis.
RING8_CENTRES = tuple(
    (RING8_RADIUS * math.cos(2 * math.pi * k / 8), RING8_RADIUS * math.sin(2 * math.pi * k / 8))
    for k in range(8)
)
# A 5x5 grid at -4, -2, 0, 2, 4 on each axis, x-major.
_GRID = (-4.0, -2.0, 0.0, 2.0, 4.0)
GRID25_CENTRES = tuple((x, y) for x in _GRID for y in _GRID)


def mixture_points(
    centres: torch.Tensor, sigma: float, n: int, generator: torch.Generator
) -> torch.Tensor:
    """n points of an equal-weight Gaussian mixture: a component picked uniformly, then
    isotropic noise of std `sigma`; drawn on the centres' device."""
    device = centres.device
    which = torch.randint(0, centres.shape[0], (n,), generator=generator, device=device)
    noise = torch.randn(n, 2, generator=generator, device=device)
    return centres.index_select(0, which) + sigma * noise


def _noise(points: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    return points + std * torch.randn(points.shape, generator=generator, device=points.device)


def spiral(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Archimedean spiral r ∝ t out to radius 2. Its arc length grows like t², so t ∝ sqrt(u)
    # spreads points evenly along the curve instead of crowding the centre.
    u = torch.rand(n, generator=generator, device=device).sqrt()
    t = SPIRAL_TURNS * 2 * math.pi * u
    r = 2.0 * u
    return _noise(torch.stack((r * torch.cos(t), r * torch.sin(t)), dim=1), SPIRAL_NOISE, generator)


def moons(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # scikit-learn's make_moons layout: upper arc (cos θ, sin θ) and lower arc
    # (1 - cos θ, 0.5 - sin θ) for θ in [0, π], spanning x in [-1, 2], y in [-0.5, 1];
    # recentred and scaled by 4/3 so x spans [-2, 2].
    theta = math.pi * torch.rand(n, generator=generator, device=device)
    lower = torch.randint(0, 2, (n,), generator=generator, device=device).bool()
    cos, sin = torch.cos(theta), torch.sin(theta)
    x = torch.where(lower, 1.0 - cos, cos) - 0.5
    y = torch.where(lower, 0.5 - sin, sin) - 0.25
    return _noise(torch.stack((x, y), dim=1) * (4.0 / 3.0), MOONS_NOISE, generator)


def circles(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Two concentric circles of radius 2 and 1, half the points on each.
    theta = 2 * math.pi * torch.rand(n, generator=generator, device=device)
    inner = torch.randint(0, 2, (n,), generator=generator, device=device)
    radius = 2.0 - inner.float()
    points = torch.stack((radius * torch.cos(theta), radius * torch.sin(theta)), dim=1)
    return _noise(points, CIRCLES_NOISE, generator)
