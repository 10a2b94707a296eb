"""GAN objectives as small pure functions of the discriminator's raw scores.

Notation: r = D(x) on real samples, f = D(G(z)) on generated ones, both raw (pre-sigmoid) scores,
σ the logistic sigmoid, E the batch mean (over the last axis, so that scores of k runs stacked as
(k, B) give their k losses at once). Each function returns the quantity its player *minimises*.
softplus(a) = log(1 + e^a), so −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a):
written this way the losses stay finite for large scores.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def bce_d_loss(r: Tensor, f: Tensor, smoothing: float = 0.0) -> Tensor:
    # D maximises E[log σ(r)] + E[log(1 − σ(f))] (Goodfellow et al. 2014).
    # One-sided smoothing: the real target is t = 1 − smoothing, giving
    # −E[t log σ(r) + (1 − t) log(1 − σ(r))] − E[log(1 − σ(f))].
    t = 1.0 - smoothing
    return (t * F.softplus(-r) + (1.0 - t) * F.softplus(r)).mean(-1) + F.softplus(f).mean(-1)


def minimax_g_loss(f: Tensor) -> Tensor:
    # G minimises E[log(1 − σ(f))] = −E[softplus(f)]: the original, saturating objective. When D
    # confidently rejects fakes (f ≪ 0) its gradient vanishes, which is why it trains badly.
    return -F.softplus(f).mean(-1)


def nonsaturating_g_loss(f: Tensor) -> Tensor:
    # G minimises −E[log σ(f)] = E[softplus(−f)]: same fixed point, strong gradients early on.
    return F.softplus(-f).mean(-1)


def lsgan_d_loss(r: Tensor, f: Tensor, smoothing: float = 0.0) -> Tensor:
    # Least squares (Mao et al. 2017): D minimises ½E[(r − t)²] + ½E[f²], with t = 1 − smoothing.
    t = 1.0 - smoothing
    return 0.5 * ((r - t) ** 2).mean(-1) + 0.5 * (f**2).mean(-1)


def lsgan_g_loss(f: Tensor) -> Tensor:
    # G minimises ½E[(f − 1)²]: pulls fakes to where D scores real.
    return 0.5 * ((f - 1.0) ** 2).mean(-1)


def wasserstein_d_loss(r: Tensor, f: Tensor, smoothing: float = 0.0) -> Tensor:
    # The critic maximises E[r] − E[f], an estimate of the Wasserstein-1 distance when it is
    # 1-Lipschitz (Arjovsky et al. 2017); it minimises E[f] − E[r]. Lipschitz-ness comes from
    # weight clipping ("wgan") or the gradient penalty ("wgan-gp"), applied by the trainer.
    return f.mean(-1) - r.mean(-1)


def wasserstein_g_loss(f: Tensor) -> Tensor:
    # G minimises −E[f]: move fakes to where the critic scores high. Hinge uses the same G loss.
    return -f.mean(-1)


def hinge_d_loss(r: Tensor, f: Tensor, smoothing: float = 0.0) -> Tensor:
    # Hinge (Lim & Ye 2017; Miyato et al. 2018): D minimises E[max(0, 1 − r)] + E[max(0, 1 + f)]:
    # scores beyond the margin ±1 stop contributing.
    return F.relu(1.0 - r).mean(-1) + F.relu(1.0 + f).mean(-1)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    # WGAN-GP (Gulrajani et al. 2017): E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃,
    # ε ~ U[0, 1] per sample: a soft 1-Lipschitz constraint on lines between real and fake.
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, device=real.device, generator=generator, dtype=real.dtype)
    mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


# name -> (D loss, G loss)
LOSSES: dict[str, tuple[Callable[..., Tensor], Callable[[Tensor], Tensor]]] = {
    "minimax": (bce_d_loss, minimax_g_loss),
    "nonsaturating": (bce_d_loss, nonsaturating_g_loss),
    "lsgan": (lsgan_d_loss, lsgan_g_loss),
    "wgan": (wasserstein_d_loss, wasserstein_g_loss),
    "wgan-gp": (wasserstein_d_loss, wasserstein_g_loss),
    "hinge": (hinge_d_loss, wasserstein_g_loss),
}

# Shown by the app beside the loss picker: the two objectives, in LaTeX, and one sentence.
FORMULAS: dict[str, tuple[str, str]] = {
    "minimax": (
        r"\min_G \max_D \; \mathbb{E}[\log D(x)] + \mathbb{E}[\log(1 - D(G(z)))]",
        "The original game. G's gradient vanishes when D is confident, so early training stalls.",
    ),
    "nonsaturating": (
        r"L_D = -\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1 - D(G(z)))],\quad "
        r"L_G = -\mathbb{E}[\log D(G(z))]",
        "Same equilibrium as minimax, but G maximises log D(G(z)) so it learns even when losing.",
    ),
    "lsgan": (
        r"L_D = \tfrac12\mathbb{E}[(D(x)-1)^2] + \tfrac12\mathbb{E}[D(G(z))^2],\quad "
        r"L_G = \tfrac12\mathbb{E}[(D(G(z))-1)^2]",
        "Squared error instead of log loss: fakes far from the boundary still get a gradient.",
    ),
    "wgan": (
        r"\min_G \max_{\|D\|_L \le 1} \mathbb{E}[D(x)] - \mathbb{E}[D(G(z))]",
        "The critic estimates the earth mover's distance; weight clipping keeps it Lipschitz.",
    ),
    "wgan-gp": (
        r"L_D = \mathbb{E}[D(G(z))] - \mathbb{E}[D(x)] + "
        r"\lambda\,\mathbb{E}[(\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2]",
        "Wasserstein with a gradient penalty instead of clipping: smooth, useful gradients "
        "everywhere, the usual cure for mode collapse on toy data.",
    ),
    "hinge": (
        r"L_D = \mathbb{E}[\max(0, 1 - D(x))] + \mathbb{E}[\max(0, 1 + D(G(z)))],\quad "
        r"L_G = -\mathbb{E}[D(G(z))]",
        "A margin loss: D stops pushing once a sample is beyond the margin; common with "
        "spectral norm.",
    ),
}
