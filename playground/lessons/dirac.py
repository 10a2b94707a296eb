"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, "Which training methods for GANs do actually
converge?"): the smallest GAN there is, two parameters, solvable by hand.

The data is a point mass at 0, the generator G(z) = θ outputs one point, the discriminator is
linear, D(x) = ψ·x. So D's raw score on real data is r = ψ·0 = 0 and on the fake f = ψ·θ, and
any of the app's losses (playground.objectives.losses, the same functions training uses) turns them
into a
game over (θ, ψ) whose only equilibrium is θ = ψ = 0. The gradient vector field
v(θ, ψ) = (−∂L_G/∂θ, −∂L_D/∂ψ) rotates around that point: at it, its Jacobian has purely
imaginary eigenvalues, so

- simultaneous gradient steps spiral outwards (each step multiplies the distance from the
  equilibrium by |1 + hλ| > 1; for the Wasserstein game exactly by √(1 + h²));
- alternating steps (D first, then G against the new D) circle for ever without arriving;
- a regulariser that damps ψ converges: R1, γ/2·‖∇ₓD(x)‖² on real data = γ/2·ψ², and instance
  noise (D sees x + ε) both add a negative real part to the eigenvalues. WGAN-GP's penalty
  λ(‖∇D‖ − 1)² = λ(|ψ| − 1)² pulls |ψ| to 1 instead of 0, so it does not (the paper's
  Lemma: WGAN-GP is not locally convergent here).

Pure torch/numpy; a few hundred tiny steps take milliseconds on any CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from playground.objectives.losses import LOSSES
from playground.settings.config import GANConfig

# Every registry loss but those defined by a gradient penalty: the lesson adds its own "gp"
# regulariser in closed form, and applies no weight clipping (a loss the registry keeps
# Lipschitz by clipping is played unclipped here).
DIRAC_LOSSES = tuple(n for n, e in LOSSES.items() if e.lipschitz != "gradient penalty")
UNCLIPPED = tuple(n for n in DIRAC_LOSSES if LOSSES[n].lipschitz == "weight clipping")
REGULARISERS = ("none", "r1", "gp", "noise")
MODES = ("simultaneous", "alternating")
NOISE_POINTS = 64  # instance noise as a fixed set of quantiles of N(0, σ²): deterministic


def loss_help() -> str:
    """The loss picker's help: the losses are the app's, but those it trains with weight
    clipping are played here unclipped (named from the registry's facts)."""
    note = f" ({', '.join(UNCLIPPED)}: unclipped)" if UNCLIPPED else ""
    return f"The game's loss, as the app trains it{note}."


@dataclass(frozen=True)
class DiracSetup:
    """One Dirac-GAN training: the loss, a regulariser and its strength (R1's γ, WGAN-GP's λ,
    or the instance noise's σ), the learning rate h, steps, simultaneous or alternating."""

    loss: str = GANConfig.loss  # the app's default loss (config's)
    regulariser: str = "none"
    strength: float = 1.0
    lr: float = 0.1
    steps: int = 500
    mode: str = "simultaneous"
    start: tuple[float, float] = (1.0, 1.0)  # (θ, ψ)

    def validate(self) -> DiracSetup:
        _choice("loss", self.loss, DIRAC_LOSSES)
        _choice("regulariser", self.regulariser, REGULARISERS)
        _choice("mode", self.mode, MODES)
        if not 0.0 <= self.strength <= 100.0:
            raise ValueError(f"strength: must be a number from 0 to 100; got {self.strength}")
        if not 0.0 < self.lr <= 2.0:
            raise ValueError(f"lr: must be a number above 0 and at most 2; got {self.lr}")
        if not 1 <= self.steps <= 100_000:
            raise ValueError(f"steps: must be an integer from 1 to 100000; got {self.steps}")
        return self


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: must be one of {', '.join(allowed)}; got {value!r}")


def _noise(setup: DiracSetup) -> torch.Tensor:
    """What D sees added to each input: 0, or σ times fixed standard-normal quantiles."""
    if setup.regulariser != "noise" or setup.strength == 0:
        return torch.zeros(1, dtype=torch.float64)
    u = (torch.arange(NOISE_POINTS, dtype=torch.float64) + 0.5) / NOISE_POINTS
    return setup.strength * torch.special.ndtri(u)


def gradients(setup: DiracSetup, theta: torch.Tensor, psi: torch.Tensor) -> tuple:
    """(∂L_G/∂θ, ∂L_D/∂ψ) at each (θ, ψ) pair (tensors of one shape), with the regulariser."""
    entry = LOSSES[setup.loss]
    theta = theta.detach().double().requires_grad_(True)
    psi = psi.detach().double().requires_grad_(True)
    eps = _noise(setup)
    with torch.enable_grad():
        # Scores over the noise "batch" on the last axis: the losses average over it.
        r = psi[..., None] * (0.0 + eps)  # D(x) on real x = 0
        f = psi[..., None] * (theta[..., None] + eps)  # D(G(z)) = ψ·θ
        d_loss = entry.d_loss(r, f)
        if setup.regulariser == "r1":  # γ/2 · ‖∇ₓD(x)‖² at the real data = γ/2 · ψ²
            d_loss = d_loss + setup.strength / 2 * psi**2
        elif setup.regulariser == "gp":  # λ(‖∇ₓD(x̂)‖ − 1)², the same at every x̂
            d_loss = d_loss + setup.strength * (psi.abs() - 1.0) ** 2
        g_loss = entry.g_loss(f, r) if entry.g_needs_real else entry.g_loss(f)
        (d_theta,) = torch.autograd.grad(g_loss.sum(), theta, retain_graph=True)
        (d_psi,) = torch.autograd.grad(d_loss.sum(), psi)
    return d_theta.detach(), d_psi.detach()


def vector_field(
    setup: DiracSetup, span: float = 2.0, resolution: int = 21
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The field v = (−∂L_G/∂θ, −∂L_D/∂ψ) on a resolution² grid over [−span, span]²:
    (θ grid, ψ grid, v_θ, v_ψ), each (resolution, resolution), rows along ψ."""
    ticks = torch.linspace(-span, span, resolution, dtype=torch.float64)
    psi, theta = torch.meshgrid(ticks, ticks, indexing="ij")
    g_theta, g_psi = gradients(setup.validate(), theta, psi)
    return theta.numpy(), psi.numpy(), (-g_theta).numpy(), (-g_psi).numpy()


def trajectory(setup: DiracSetup) -> np.ndarray:
    """(steps + 1, 2) array of (θ, ψ) from `start` under gradient steps of size `lr`:
    simultaneous (both from the same point) or alternating (D's step, then G's against it)."""
    setup = setup.validate()
    theta = torch.tensor([float(setup.start[0])], dtype=torch.float64)
    psi = torch.tensor([float(setup.start[1])], dtype=torch.float64)
    path = np.empty((setup.steps + 1, 2))
    path[0] = setup.start
    for i in range(1, setup.steps + 1):
        g_theta, g_psi = gradients(setup, theta, psi)
        psi = psi - setup.lr * g_psi
        if setup.mode == "alternating":
            g_theta, _ = gradients(setup, theta, psi)
        theta = theta - setup.lr * g_theta
        path[i] = (float(theta), float(psi))
        if not np.isfinite(path[i]).all():
            return path[: i + 1]
    return path


def distances(path: np.ndarray) -> np.ndarray:
    """Distance from the equilibrium (0, 0) at each step."""
    return np.linalg.norm(path, axis=1)


def verdict(path: np.ndarray, tolerance: float = 0.05) -> str:
    """One word for a trajectory: "converges" (ends within `tolerance` of the equilibrium),
    "spirals out" (ends farther than it started), or "circles"."""
    dist = distances(path)
    if dist[-1] < tolerance:
        return "converges"
    if dist[-1] > dist[0] * 1.05:
        return "spirals out"
    return "circles"
