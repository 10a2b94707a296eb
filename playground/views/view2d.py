"""The layers of the 2D view beyond points and D's map: G's manifold and the gradient arrows.

GAN Lab's two teaching pictures, computed from a trainer's live G and D between two steps:

- **G's manifold**: the image under G of a regular grid in latent space, a warped mesh that shows
  how G folds and stretches its noise onto the plane. With a 1- or 2-dimensional latent the grid
  covers the latent itself; above 2 it lies on a plane through the latent's origin, spanned by
  two fixed random orthonormal directions (the same plane all run long, so frames compare) or by
  G's two principal directions (the latent directions along which G's output moves most, from
  the mean Jacobian JᵀJ over the fixed noise; they can turn as G learns).
- **Gradient arrows**: for each fake sample x of the fixed noise batch, −∂L_G/∂x, the direction
  in which G's next update pushes that sample, scaled so the longest arrows are readable.

Pure torch/numpy: the run thread computes both when it records a frame, so a page only draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

PLANES = ("random", "principal")
GRID_LINES = 15  # latent grid lines per axis: a readable mesh, 225 points through G
LATENT_SPAN = 2.5  # the grid covers ±2.5 standard deviations of z ~ N(0, I) (×√(d/2) on a plane)
ARROW_SHARE = 0.08  # the longest (95th percentile) arrow is this share of the window's width
WINDOW_SAMPLES = 4096  # real points the 2D window is fitted to


def plot_window(source) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the data-space window of every 2D view of `source` (a data.DataSource
    of points), a square around the real data's range with a margin. Fitted to a sample drawn
    with a fixed seed, so the Train page, the every-loss view and the explorer agree."""
    real, _ = source.sample(WINDOW_SAMPLES, torch.Generator(source.device).manual_seed(1))
    lo, hi = real.min(0).values.cpu(), real.max(0).values.cpu()
    half = float((hi - lo).max()) * 0.6 + 0.5
    mid = ((lo + hi) / 2).tolist()
    return (mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half)


@dataclass(frozen=True)
class Manifold:
    """G's image of a regular latent grid: points (rows, cols, 2) in data space; row i holds
    latent grid line i (for a 1D latent, rows == 1). `plane` says which latent plane it is."""

    points: np.ndarray
    plane: str  # "latent" (the whole 1D/2D latent), "random" or "principal"


@dataclass(frozen=True)
class Arrows:
    """For each shown sample, −∂L_G/∂x scaled by `scale` (data units per gradient unit), so
    `starts + vectors` is where the arrow ends; `median_norm` is the unscaled median length."""

    starts: np.ndarray  # (N, 2)
    vectors: np.ndarray  # (N, 2), already scaled
    scale: float
    median_norm: float


def latent_plane(latent_dim: int, seed: int = 0) -> torch.Tensor:
    """Two fixed random orthonormal latent directions, (2, latent_dim): a reproducible plane."""
    gen = torch.Generator().manual_seed(10_007 + seed)
    basis, _ = torch.linalg.qr(torch.randn(latent_dim, 2, generator=gen))
    return basis.T.contiguous()


def principal_plane(g: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G's two principal latent directions at the samples z, (2, latent_dim): the top
    eigenvectors of the mean JᵀJ, J = ∂G(z)/∂z (2 × latent_dim per sample). Two backward passes,
    one per output coordinate: cheap for a 2D output."""
    z = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = g(z).reshape(len(z), -1).float()
        rows = [torch.autograd.grad(out[:, k].sum(), z, retain_graph=k == 0)[0] for k in (0, 1)]
    jac = torch.stack(rows, dim=1)  # (B, 2, latent_dim)
    gram = torch.einsum("bki,bkj->ij", jac, jac) / len(z)
    _, vectors = torch.linalg.eigh(gram.double())  # ascending eigenvalues
    return vectors[:, -2:].flip(1).T.float().contiguous()


def latent_grid(
    latent_dim: int, basis: torch.Tensor | None, lines: int = GRID_LINES
) -> torch.Tensor:
    """Latent points of a regular grid, (rows, cols, latent_dim): a (lines × lines) grid of the
    plane spanned by `basis` (or of the latent itself for latent_dim 2), a line for latent_dim 1.

    On a plane of a d-dimensional latent the grid spans ±2.5·√(d/2): a sample z has norm about
    √d, so a grid of ±2.5 would show G only near the latent's centre, where it never samples
    (for d = 256, a dot instead of G's whole output)."""
    span = LATENT_SPAN * math.sqrt(max(latent_dim, 2) / 2)
    ticks = torch.linspace(-span, span, lines)
    if latent_dim == 1:
        return torch.linspace(-LATENT_SPAN, LATENT_SPAN, lines * 4).reshape(1, -1, 1)
    a, b = torch.meshgrid(ticks, ticks, indexing="ij")
    coords = torch.stack([a, b], dim=-1)  # (lines, lines, 2)
    if latent_dim == 2 and basis is None:
        return coords
    return coords @ basis  # (lines, lines, latent_dim)


@torch.no_grad()
def manifold(
    g: torch.nn.Module,
    latent_dim: int,
    plane: str = "random",
    z_for_principal: torch.Tensor | None = None,
    seed: int = 0,
    lines: int = GRID_LINES,
) -> Manifold:
    """G's image of a regular latent grid (see the module's docstring for the planes)."""
    if plane not in PLANES:
        raise ValueError(f"plane: must be one of {', '.join(PLANES)}; got {plane!r}")
    device = next(g.parameters()).device
    basis, name = None, "latent"
    if latent_dim > 2:
        name = plane
        if plane == "principal":
            if z_for_principal is None:
                raise ValueError("plane 'principal' needs the latent samples to take it at")
            basis = principal_plane(g, z_for_principal.to(device)).cpu()
        else:
            basis = latent_plane(latent_dim, seed)
    grid = latent_grid(latent_dim, basis, lines)
    rows, cols = grid.shape[:2]
    out = _eval(g)(grid.reshape(-1, latent_dim).to(device))
    return Manifold(out.reshape(rows, cols, 2).float().cpu().numpy(), name)


def arrows(
    d: torch.nn.Module,
    g_loss_fn: Callable[[torch.Tensor], torch.Tensor],
    samples: torch.Tensor,
    extent: tuple[float, float, float, float],
    pack: int = 1,
) -> Arrows:
    """−∂L_G/∂x at each sample x (N, 2), scaled for drawing. L_G is G's loss on D's raw scores,
    summed over the samples, so each arrow is that sample's own gradient (not divided by N).
    Under packing D scores `pack` copies of a point, as in the decision map."""
    device = next(d.parameters()).device
    x = samples.detach().to(device).float().clone().requires_grad_(True)
    with torch.enable_grad():
        scores = _eval(d)(x.repeat(1, pack)).float()  # (N,)
        # The loss functions average over the last axis; ×N gives the per-sample sum.
        loss = g_loss_fn(scores) * len(x)
        (grad,) = torch.autograd.grad(loss, x)
    push = (-grad).cpu().numpy().astype(np.float32)
    norms = np.linalg.norm(push, axis=1)
    width = extent[1] - extent[0]
    typical = float(np.quantile(norms, 0.95)) if len(norms) else 0.0
    scale = ARROW_SHARE * width / typical if typical > 0 else 0.0
    return Arrows(
        starts=x.detach().cpu().numpy(),
        vectors=push * scale,
        scale=scale,
        median_norm=float(np.median(norms)) if len(norms) else 0.0,
    )


class _eval:
    """Call a module in eval mode (BN running statistics), restoring its mode afterwards."""

    def __init__(self, module: torch.nn.Module):
        self.module = module

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        was_training = self.module.training
        self.module.eval()
        try:
            return self.module(x)
        finally:
            self.module.train(was_training)


def layers_for(trainer, plane: str = "random", n_arrows: int = 128) -> tuple[Manifold, Arrows]:
    """Both layers for a 2D trainer, between two steps: the manifold of the generator shown in
    the pictures (the EMA copy when there is one) and arrows at its first `n_arrows` fixed-noise
    samples, from the live D and G's loss (the update G is about to take)."""
    if trainer.data.kind != "points":
        raise ValueError("the manifold and arrows are for 2D point data")
    g = trainer.sampler
    z = trainer.fixed_z
    mesh = manifold(g, trainer.cfg.latent_dim, plane, z_for_principal=z, seed=trainer.cfg.seed)
    with torch.no_grad():
        shown = _eval(g)(z[:n_arrows])
    push = arrows(trainer.D, trainer.g_loss_for, shown, trainer.extent(), trainer.cfg.pack)
    return mesh, push
