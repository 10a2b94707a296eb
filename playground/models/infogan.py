"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets"): latent codes G must keep recoverable.

G's input is z = noise ⊕ one-hot(category) ⊕ continuous codes: `latent_dim` counts all of it,
so the codes are the last `info_cat + info_cont` coordinates of z and no architecture changes.
The category is uniform over `info_cat` values; each continuous code is uniform in [-1, 1].

An auxiliary head Q on D's penultimate features (D.features, shared with D as in the paper)
predicts the codes of a generated sample. The variational lower bound on the mutual
information I(c; G(z, c)) becomes a loss to minimise,

    L_I = CE(Q_cat(x), c_cat) + Σ_j ½ (c_j − μ_j(x))²      (x = G(z, c))

(the categorical code's cross-entropy, and each continuous code's Gaussian negative
log-likelihood with σ fixed at 1, constants dropped), and the game is
min_{G,Q} max_D V(D, G) − λ·I: λ·L_I is added to G's loss and to D's (which trains Q and D's
shared layers; D's update sees detached fakes, so G is untouched there).

Q is registered as the submodule `info_q` of D: D's optimiser, its checkpoint tensors
(safetensors, like every weight) and the trainer's last-good-state copy hold Q with no extra code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from playground.models.parts import ModelSettings

MAX_CATEGORIES = 20
MAX_CONTINUOUS = 8
Q_HIDDEN = 128  # Q's hidden layer, as the paper's MNIST Q (FC 128)
HEAD_NAME = "info_q"  # Q's name inside D (its tensors are D's "info_q.*" entries)
# The series an InfoGAN run logs besides trainer.SERIES: L_I on G's update (Q's cross-entropy
# plus Gaussian error on the codes, before λ); it falls as Q reads G's codes back.
SERIES = ("info_loss",)


@dataclass(frozen=True)
class Codes:
    """The InfoGAN codes of a config: `categories` one-hot values (0 = none) and `continuous`
    uniform codes, the last `size` coordinates of G's latent z."""

    categories: int = 0
    continuous: int = 0

    @classmethod
    def of(cls, cfg: ModelSettings) -> Codes:
        return cls(cfg.info_cat, cfg.info_cont)

    @property
    def size(self) -> int:
        return self.categories + self.continuous

    def __bool__(self) -> bool:
        return self.size > 0

    def draw(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Codes (n, size) from their priors: one-hot of a uniform category, then U(-1, 1)."""
        parts = []
        if self.categories:
            cat = torch.randint(self.categories, (n,), device=device, generator=generator)
            parts.append(F.one_hot(cat, self.categories).float())
        if self.continuous:
            u = torch.rand(n, self.continuous, device=device, generator=generator)
            parts.append(u * 2 - 1)
        return torch.cat(parts, dim=1) if parts else torch.zeros(n, 0, device=device)

    def prior(
        self,
        n: int,
        latent_dim: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """n latents (n, latent_dim) from G's prior: N(0, 1) noise, then the codes (if any)
        from theirs, all drawn from `generator` in that order. Every sampler uses it, so a run
        without codes draws exactly torch.randn(n, latent_dim)."""
        z = torch.randn(n, latent_dim, device=device, generator=generator)
        return self.fill(z, generator)

    def fill(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z (n, latent_dim) with its code coordinates drawn from their priors (a new tensor);
        z itself when there are no codes."""
        if not self:
            return z
        codes = self.draw(z.shape[0], z.device, generator).to(z.dtype)
        return torch.cat([z[:, : z.shape[1] - self.size], codes], dim=1)

    def set(
        self, z: torch.Tensor, category: int | torch.Tensor, values: torch.Tensor | list[float]
    ) -> torch.Tensor:
        """z (n, latent_dim) with every row's codes set to `category` (an int, or (n,) ints) and
        the continuous `values` ((continuous,) or (n, continuous)); a new tensor."""
        n = z.shape[0]
        parts = [z[:, : z.shape[1] - self.size]]
        if self.categories:
            cat = torch.as_tensor(category, device=z.device).long().expand(n)
            parts.append(F.one_hot(cat, self.categories).to(z.dtype))
        if self.continuous:
            v = torch.as_tensor(values, dtype=z.dtype, device=z.device)
            parts.append(v.expand(n, self.continuous))
        return torch.cat(parts, dim=1)

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The codes held in z: the category indices (n,) and the continuous codes
        (n, continuous), each None when absent."""
        codes = z[:, z.shape[1] - self.size :]
        cat = codes[:, : self.categories].argmax(dim=1) if self.categories else None
        cont = codes[:, self.categories :] if self.continuous else None
        return cat, cont

    def sweep(self, z: torch.Tensor) -> torch.Tensor:
        """A fixed batch whose grid shows what the codes do. With categories: a k×k square
        (k = categories), row r in category r, column c holding noise c (the same down a
        column) and the continuous codes at 0. Without: the given batch with the first
        continuous code swept from -1 to 1 across each row of the grid (others at 0)."""
        if self.categories:
            k = self.categories
            noise = z[:k].repeat(k, 1)  # row-major: sample r*k + c holds noise c
            rows = torch.arange(k, device=z.device).repeat_interleave(k)
            return self.set(noise, rows, torch.zeros(self.continuous, device=z.device))
        n = z.shape[0]
        ncols = max(1, math.ceil(math.sqrt(n)))  # images.make_grid's default row length
        values = torch.zeros(n, self.continuous, device=z.device)
        values[:, 0] = torch.linspace(-1, 1, ncols, device=z.device).repeat(n // ncols + 1)[:n]
        return self.set(z, 0, values)


class QHead(nn.Module):
    """D's features (B, feature_dim) -> (category logits (B, categories), means of the
    continuous codes (B, continuous))."""

    def __init__(self, feature_dim: int, codes: Codes, hidden: int = Q_HIDDEN):
        super().__init__()
        self.codes = codes
        self.net = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, codes.size)
        )

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(h).float()
        return out[:, : self.codes.categories], out[:, self.codes.categories :]


def attach_head(cfg: ModelSettings, d: nn.Module) -> None:
    """Give D its Q head (as D.info_q) when the config has InfoGAN codes; else nothing."""
    codes = Codes.of(cfg)
    if codes:
        d.add_module(HEAD_NAME, QHead(d.head.in_features, codes))


def head_of(d: nn.Module) -> QHead | None:
    return getattr(d, HEAD_NAME, None)


def critic_params(d: nn.Module) -> list[nn.Parameter]:
    """D's parameters without its Q head's: what WGAN's weight clipping bounds. Q predicts the
    codes (category logits, code means up to ±1); clipped to ±c it could not, and the
    mutual-information term would lose its signal. D's shared layers are clipped as usual."""
    prefix = HEAD_NAME + "."
    return [p for name, p in d.named_parameters() if not name.startswith(prefix)]


def mi_loss(
    logits: torch.Tensor | None,
    means: torch.Tensor | None,
    category: torch.Tensor | None,
    continuous: torch.Tensor | None,
) -> torch.Tensor:
    """L_I: mean cross-entropy of the category plus, per continuous code, the mean Gaussian
    negative log-likelihood with σ = 1 (½(c − μ)², constant dropped), summed over codes."""
    loss = torch.zeros((), device=(logits if logits is not None else means).device)
    if category is not None:
        loss = loss + F.cross_entropy(logits, category)
    if continuous is not None:
        var = torch.ones_like(means)
        nll = F.gaussian_nll_loss(means, continuous.float(), var, reduction="sum")
        loss = loss + nll / means.shape[0]
    return loss


def info_term(d: nn.Module, x: torch.Tensor, z: torch.Tensor, weight: float) -> torch.Tensor:
    """λ·L_I for samples x = G(z) as D sees them (see info_loss)."""
    return weight * info_loss(d, x, z)


def info_loss(d: nn.Module, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """L_I for samples x = G(z) as D sees them: Q reads D's features of x and predicts the
    codes z holds. Zero (a constant) when D has no Q head."""
    q = head_of(d)
    if q is None:
        return torch.zeros((), device=x.device)
    logits, means = q(d.features(x))
    category, continuous = q.codes.split(z)
    return mi_loss(
        logits if category is not None else None,
        means if continuous is not None else None,
        category,
        continuous,
    )


def check(cfg: ModelSettings) -> tuple[str, str] | None:
    """The first InfoGAN setting that is out of range or does not combine with the others, as
    (setting, message); None when all is well."""
    # (The ranges, 0 to MAX_CATEGORIES and so on, are checked with every setting's bounds.)
    if cfg.info_cat == 1:
        return "info_cat", (
            f"must be 0 (no categorical code) or from 2 to {MAX_CATEGORIES}; got {cfg.info_cat}"
        )
    codes = Codes.of(cfg)
    if not codes:
        return None
    if cfg.latent_dim <= codes.size:
        return "latent_dim", (
            f"counts InfoGAN's codes too ({codes.categories} categories + {codes.continuous} "
            f"continuous = {codes.size}), so it must be more than {codes.size} to leave noise; "
            f"got {cfg.latent_dim}"
        )
    if cfg.conditional:
        return "conditional", "InfoGAN's codes replace class labels; set conditional off"
    if cfg.pack > 1:
        return "pack", "InfoGAN's Q reads one sample at a time; set pack to 1"
    return None


@torch.no_grad()
def category_purity(
    generate, codes: Codes, latent_dim: int, classify, n: int = 200, seed: int = 0
) -> list[tuple[int, float]]:
    """How well each value of the categorical code picks out one class: for each value k,
    `n` samples generate(z) with category k (fresh noise and continuous codes from a seeded
    CPU generator) are labelled by `classify` (images -> class indices (n,)); returns, per k,
    (the most frequent class, its share of the n samples: the purity)."""
    gen = torch.Generator().manual_seed(seed)
    result = []
    for k in range(codes.categories):
        z = codes.prior(n, latent_dim, gen)
        cat, cont = codes.split(z)
        z = codes.set(z, k, cont if cont is not None else [])
        counts = torch.bincount(classify(generate(z)).long().flatten())
        result.append((int(counts.argmax()), float(counts.max()) / n))
    return result
