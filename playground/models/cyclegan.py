"""CycleGAN's four networks for 2D points (Zhu et al. 2017): two translators, G: A → B and
F: B → A, and one discriminator per domain, D_A and D_B. Plain MLPs, built from their sizes alone
(no file I/O); training/cyclegan.py trains them."""

from __future__ import annotations

from torch import Tensor, nn


def translator(hidden: int, layers: int) -> nn.Sequential:
    """A map R² → R²: `layers` hidden ReLU layers of width `hidden`, then a linear read-out.
    Points (B, 2) -> points (B, 2)."""
    modules: list[nn.Module] = []
    width = 2
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    modules.append(nn.Linear(width, 2))
    return nn.Sequential(*modules)


class PointCritic(nn.Module):
    """A domain's discriminator: points (B, 2) -> raw scores (B,) (no sigmoid: the losses of
    objectives.losses take raw scores)."""

    def __init__(self, hidden: int, layers: int):
        super().__init__()
        modules: list[nn.Module] = []
        width = 2
        for _ in range(layers):
            modules += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        modules.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)
