"""GAN objectives as small pure functions of the discriminator's raw scores.

Notation: r = D(x) on real samples, f = D(G(z)) on generated ones, both raw (pre-sigmoid) scores,
σ the logistic sigmoid, E the batch mean (over the last axis, so that scores of k runs stacked as
(k, B) give their k losses at once). Each function returns the quantity its player *minimises*.
softplus(a) = log(1 + e^a), so −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a):
written this way the losses stay finite for large scores.

`LOSSES` is the registry: one `Loss` entry per objective with its two functions, its formula
and its facts. Everything else (config's allowed values, the trainer, the batched multi-run,
the pages, the bench) reads it; adding a loss is its functions plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

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


def ragan_d_loss(r: Tensor, f: Tensor, smoothing: float = 0.0) -> Tensor:
    # Relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2018, "The relativistic
    # discriminator: a key element missing from standard GAN", eq. 13): D judges whether a real
    # sample is more realistic than the average fake, and a fake less than the average real:
    # L_D = −E_r[log σ(r − E f)] − E_f[log(1 − σ(f − E r))]
    #     = E[softplus(−(r − E f))] + E[softplus(f − E r)].
    # No target to smooth: `smoothing` is accepted for the common signature and unused.
    r_rel = r - f.mean(-1, keepdim=True)
    f_rel = f - r.mean(-1, keepdim=True)
    return F.softplus(-r_rel).mean(-1) + F.softplus(f_rel).mean(-1)


def ragan_g_loss(f: Tensor, r: Tensor) -> Tensor:
    # RaSGAN's G loss is D's with the roles swapped, so G also learns from the real scores:
    # L_G = −E_f[log σ(f − E r)] − E_r[log(1 − σ(r − E f))]
    #     = E[softplus(−(f − E r))] + E[softplus(r − E f)].
    # r (D on real data) is a constant for G; the second term still moves G through E f.
    f_rel = f - r.mean(-1, keepdim=True)
    r_rel = r - f.mean(-1, keepdim=True)
    return F.softplus(-f_rel).mean(-1) + F.softplus(r_rel).mean(-1)


# How a loss keeps D Lipschitz (the values of Loss.lipschitz).
LIPSCHITZ = ("none", "weight clipping", "gradient penalty", "spectral norm")


@dataclass(frozen=True)
class Loss:
    """One GAN objective and its facts, read by the engine and the app.

    d_loss(r, f, smoothing) and g_loss(f) (or g_loss(f, r) when `g_needs_real`) return the
    quantity each player minimises, averaged over the last axis. `recommended` holds the
    training settings (GANConfig names: optimiser, learning rates, betas, D updates per G update,
    penalty weight, clipping bound, spectral norm) that the loss's paper uses, for 2D toy data
    where the paper has such an experiment, for a fair side-by-side comparison in which the data,
    batch and models stay common; `source` says where they come from.
    """

    name: str
    d_loss: Callable[..., Tensor]
    g_loss: Callable[..., Tensor]
    formula: str  # LaTeX, shown beside the loss picker
    sentence: str  # one sentence for the app
    probability: bool = False  # D's output reads as a probability, σ(score)
    g_needs_real: bool = False  # G's loss takes D's scores on real data as well
    lipschitz: str = "none"  # one of LIPSCHITZ: how D is kept Lipschitz
    smoothable: bool = False  # D has a real target, so one-sided label smoothing applies
    recommended: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    # Words for the slow-motion view (playground.runs.slowmo): what D's updates do to its output
    # (empty: said from the facts above), and a note on G's update (empty: none).
    d_aim: str = ""
    g_note: str = ""

    def __post_init__(self) -> None:
        if self.lipschitz not in LIPSCHITZ:
            raise ValueError(f"lipschitz: must be one of {', '.join(LIPSCHITZ)}")
        object.__setattr__(self, "recommended", MappingProxyType(dict(self.recommended)))


# DCGAN's Adam (Radford et al. 2016): the papers of LSGAN and RaGAN train with it, and it is
# the usual choice for the original losses, whose paper (2014, before Adam) names none.
_DCGAN_ADAM = dict(lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, d_steps=1)

_ENTRIES = (
    Loss(
        "minimax",
        bce_d_loss,
        minimax_g_loss,
        r"\min_G \max_D \; \mathbb{E}[\log D(x)] + \mathbb{E}[\log(1 - D(G(z)))]",
        "The original game. G's gradient vanishes where D confidently rejects its samples, which "
        "can stall G early on.",
        probability=True,
        smoothable=True,
        recommended=_DCGAN_ADAM,
        g_note="Under the original minimax loss, fakes that D confidently rejects barely move: "
        "its gradient vanishes there.",
        source="Goodfellow et al. 2014 (trained with SGD and momentum, before Adam); here with "
        "DCGAN's Adam (Radford et al. 2016: lr 2e-4, betas (0.5, 0.999), 1 D step)",
    ),
    Loss(
        "nonsaturating",
        bce_d_loss,
        nonsaturating_g_loss,
        r"L_D = -\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1 - D(G(z)))],\quad "
        r"L_G = -\mathbb{E}[\log D(G(z))]",
        "Same equilibrium as minimax, but G maximises log D(G(z)) so it learns even when losing.",
        probability=True,
        smoothable=True,
        recommended=_DCGAN_ADAM,
        source="Goodfellow et al. 2014 (trained with SGD and momentum, before Adam); here with "
        "DCGAN's Adam (Radford et al. 2016: lr 2e-4, betas (0.5, 0.999), 1 D step)",
    ),
    Loss(
        "lsgan",
        lsgan_d_loss,
        lsgan_g_loss,
        r"L_D = \tfrac12\mathbb{E}[(D(x)-1)^2] + \tfrac12\mathbb{E}[D(G(z))^2],\quad "
        r"L_G = \tfrac12\mathbb{E}[(D(G(z))-1)^2]",
        "Squared error instead of log loss: fakes far from the boundary still get a gradient.",
        smoothable=True,
        recommended=_DCGAN_ADAM,
        d_aim="pulls its output towards 1 on the real points and towards 0 on the fakes",
        source="Mao et al. 2017, who train with DCGAN's Adam (lr 2e-4, beta1 0.5, 1 D step)",
    ),
    Loss(
        "wgan",
        wasserstein_d_loss,
        wasserstein_g_loss,
        r"\min_G \max_{\|D\|_L \le 1} \mathbb{E}[D(x)] - \mathbb{E}[D(G(z))]",
        "The critic estimates the earth mover's distance; weight clipping keeps it Lipschitz, "
        "but also leaves it nearly flat, so G learns slowly.",
        lipschitz="weight clipping",
        recommended=dict(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, d_steps=5, clip_value=0.01),
        source="Arjovsky et al. 2017, Algorithm 1 (RMSProp, lr 5e-5, 5 critic steps, c = 0.01); "
        "the same in the toy script of Gulrajani et al. 2017",
    ),
    Loss(
        "wgan-gp",
        wasserstein_d_loss,
        wasserstein_g_loss,
        r"L_D = \mathbb{E}[D(G(z))] - \mathbb{E}[D(x)] + "
        r"\lambda\,\mathbb{E}[(\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2]",
        "Wasserstein with a gradient penalty instead of clipping: smooth, useful gradients "
        "everywhere, the usual cure for mode collapse on toy data.",
        lipschitz="gradient penalty",
        recommended=dict(lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, d_steps=5, gp_weight=0.1),
        source="Gulrajani et al. 2017, the script of their 2D toy experiments (gan_toy.py: Adam, "
        "lr 1e-4, betas (0.5, 0.9), 5 critic steps, lambda 0.1, which it notes is faster on "
        "toy data; the paper's Algorithm 1, for images, has lambda 10 and beta1 0)",
    ),
    Loss(
        "hinge",
        hinge_d_loss,
        wasserstein_g_loss,
        r"L_D = \mathbb{E}[\max(0, 1 - D(x))] + \mathbb{E}[\max(0, 1 + D(G(z)))],\quad "
        r"L_G = -\mathbb{E}[D(G(z))]",
        "A margin loss: D stops pushing once a sample is beyond the margin; common with "
        "spectral norm.",
        lipschitz="spectral norm",
        d_aim="raises its score on the real points and lowers it on the fakes, until each is "
        "beyond the margin of 1",
        recommended=dict(
            spectral_norm=True, lr_g=2e-4, lr_d=2e-4, beta1=0.0, beta2=0.9, d_steps=5
        ),
        source="Miyato et al. 2018, who pair the hinge loss (Lim & Ye 2017) with spectral norm "
        "(SNGAN's ResNet setting: Adam, lr 2e-4, betas (0, 0.9), 5 D steps)",
    ),
    Loss(
        "ragan",
        ragan_d_loss,
        ragan_g_loss,
        r"L_D = -\mathbb{E}_x[\log \sigma(D(x) - \bar D_f)] - "
        r"\mathbb{E}_z[\log(1 - \sigma(D(G(z)) - \bar D_r))],\quad "
        r"L_G = -\mathbb{E}_z[\log \sigma(D(G(z)) - \bar D_r)] - "
        r"\mathbb{E}_x[\log(1 - \sigma(D(x) - \bar D_f))]",
        "Relativistic average: D judges whether real data looks more real than the average fake "
        "(bars are batch means), so G also gains by making real data look less real.",
        g_needs_real=True,
        recommended=_DCGAN_ADAM,
        d_aim="makes the real points score higher than the average fake, and the fakes lower "
        "than the average real point",
        g_note="Under RaGAN, G also gains by making the real points look less real, which this "
        "picture does not show.",
        source="Jolicoeur-Martineau 2018 (RaSGAN's main set-up: DCGAN's Adam, lr 2e-4, betas "
        "(0.5, 0.999), 1 D step)",
    ),
)

# The registry: name -> Loss, in the order the app lists them.
LOSSES: dict[str, Loss] = {entry.name: entry for entry in _ENTRIES}


def loss_names() -> tuple[str, ...]:
    """The configurable losses, in registry order."""
    return tuple(LOSSES)


def names_where(**facts: Any) -> tuple[str, ...]:
    """The losses whose facts match, e.g. names_where(probability=True)."""
    return tuple(
        name
        for name, entry in LOSSES.items()
        if all(getattr(entry, k) == v for k, v in facts.items())
    )
