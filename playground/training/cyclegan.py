"""CycleGAN (Zhu et al. 2017) on 2D points: unpaired translation between two point sets.

Two translators, G: A → B and F: B → A, and two discriminators, D_A and D_B, trained with
least-squares adversarial losses (objectives.losses' LSGAN pair, as the paper does) plus

    cycle consistency  λ · (E‖F(G(a)) − a‖₁ + E‖G(F(b)) − b‖₁)
    identity           λ_id · (E‖G(b) − b‖₁ + E‖F(a) − a‖₁)         (optional, λ_id = 0 off)

The adversarial losses alone only ask that G(A) look like B and F(B) like A; nothing says
*which* b a given a should become, so F(G(a)) may land anywhere on A. The cycle term asks the
two maps to undo each other, which picks a consistent pairing.

The domains: A is the ring of 8 Gaussians (data.registry's "ring8"); B is the same ring
stretched and rotated (B_MATRIX below), so the two are different shapes with the same 8 modes
and any of the 8 × 2 ways of matching the modes round the ring is a valid translation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from playground.data.toys import RING8_CENTRES, RING8_SIGMA, mixture_points
from playground.models.cyclegan import PointCritic, translator
from playground.objectives.losses import lsgan_d_loss, lsgan_g_loss
from playground.training.history import BoundedHistory

B_ANGLE = math.pi / 6  # B is A stretched by B_STRETCH along x, then turned by 30°
B_STRETCH = (1.5, 0.6)
# The linear map taking A's points to B's: rotation(B_ANGLE) @ diag(B_STRETCH), (2, 2).
B_MATRIX = (
    (B_STRETCH[0] * math.cos(B_ANGLE), -B_STRETCH[1] * math.sin(B_ANGLE)),
    (B_STRETCH[0] * math.sin(B_ANGLE), B_STRETCH[1] * math.cos(B_ANGLE)),
)
SERIES = ("d_loss", "g_loss", "adv_loss", "cycle_loss", "identity_loss")


@dataclass(frozen=True)
class CycleGANSetup:
    """Everything a CycleGAN run is built from."""

    seed: int = 0
    steps: int = 2000
    cycle_weight: float = 10.0  # λ: the paper's default
    identity_weight: float = 0.0  # λ_id (the paper uses 0.5 λ on some tasks; off here)
    hidden: int = 64
    layers: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    log_every: int = 10
    history_capacity: int = 1000


def domain_a(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """n points (n, 2) of domain A: the ring of 8 Gaussians, drawn as the ring8 dataset draws
    them (the same centres, σ and order of draws)."""
    centres = torch.tensor(RING8_CENTRES, dtype=torch.float32, device=torch.device(device))
    return mixture_points(centres, RING8_SIGMA, n, generator)


def domain_b(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """n points (n, 2) of domain B: fresh A points through B_MATRIX (x ↦ M x)."""
    m = torch.tensor(B_MATRIX, dtype=torch.float32, device=device)
    return domain_a(n, generator, device) @ m.T


def l1_distance(x: Tensor, y: Tensor) -> Tensor:
    # E‖x − y‖₁: the L1 norm per point (summed over its 2 coordinates), averaged over the batch.
    return (x - y).abs().sum(-1).mean()


class CycleGAN:
    """One CycleGAN run on the CPU or a device: `train_step()` makes one update of the two
    translators (together) and one of the two discriminators; `step` counts them; `history`
    keeps the losses, bounded. The same setup and seed give the same run (on the CPU)."""

    def __init__(self, setup: CycleGANSetup, device: torch.device | str = "cpu"):
        self.setup, self.device = setup, torch.device(device)
        with torch.random.fork_rng(devices=[]):  # the weights' draws leave the global RNG be
            torch.manual_seed(setup.seed)
            self.G = translator(setup.hidden, setup.layers).to(self.device)  # A → B
            self.F = translator(setup.hidden, setup.layers).to(self.device)  # B → A
            self.D_A = PointCritic(setup.hidden, setup.layers).to(self.device)
            self.D_B = PointCritic(setup.hidden, setup.layers).to(self.device)
        translators = list(self.G.parameters()) + list(self.F.parameters())
        critics = list(self.D_A.parameters()) + list(self.D_B.parameters())
        self.opt_g = torch.optim.Adam(translators, lr=setup.lr, betas=setup.betas)
        self.opt_d = torch.optim.Adam(critics, lr=setup.lr, betas=setup.betas)
        self.gen = torch.Generator(device=self.device).manual_seed(setup.seed)  # batch draws
        self.step = 0
        self.history = BoundedHistory(("step",) + SERIES, setup.history_capacity)
        # Running sums on the device, copied out every log_every steps (no sync per step).
        self._sums = torch.zeros(len(SERIES), device=self.device)
        self._since_log = 0

    def train_step(self) -> None:
        s = self.setup
        a = domain_a(s.batch_size, self.gen, self.device)  # (B, 2)
        b = domain_b(s.batch_size, self.gen, self.device)  # (B, 2), unpaired with a

        # Translators: minimise ½E[(D_B(G(a)) − 1)²] + ½E[(D_A(F(b)) − 1)²]
        #              + λ (E‖F(G(a)) − a‖₁ + E‖G(F(b)) − b‖₁) + λ_id (E‖G(b) − b‖₁ + E‖F(a) − a‖₁).
        fake_b, fake_a = self.G(a), self.F(b)
        adv = lsgan_g_loss(self.D_B(fake_b)) + lsgan_g_loss(self.D_A(fake_a))
        cycle = l1_distance(self.F(fake_b), a) + l1_distance(self.G(fake_a), b)
        identity = (
            l1_distance(self.G(b), b) + l1_distance(self.F(a), a)
            if s.identity_weight > 0
            else torch.zeros((), device=self.device)
        )
        g_loss = adv + s.cycle_weight * cycle + s.identity_weight * identity
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()

        # Discriminators: each minimises ½E[(D(real) − 1)²] + ½E[D(translated)²] on its own
        # domain; the translated points are detached so only D moves.
        d_loss = lsgan_d_loss(self.D_A(a), self.D_A(fake_a.detach())) + lsgan_d_loss(
            self.D_B(b), self.D_B(fake_b.detach())
        )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        self.step += 1
        self._sums += torch.stack((d_loss, g_loss, adv, cycle, identity)).detach()
        self._since_log += 1
        if self.step % s.log_every == 0:
            self._log()

    def _log(self) -> None:
        means = (self._sums / self._since_log).tolist()  # the one copy to the host per log
        self.history.append({"step": float(self.step), **dict(zip(SERIES, means, strict=True))})
        self._sums.zero_()
        self._since_log = 0

    def train(self) -> CycleGAN:
        """Train to setup.steps; returns self."""
        while self.step < self.setup.steps:
            self.train_step()
        return self

    def translate_a(self, points: Tensor) -> Tensor:
        """G(a): A's points (N, 2) in B, without gradients."""
        with torch.no_grad():
            return self.G(points.to(self.device)).cpu()

    def translate_b(self, points: Tensor) -> Tensor:
        """F(b): B's points (N, 2) in A, without gradients."""
        with torch.no_grad():
            return self.F(points.to(self.device)).cpu()


def domain_b_modes() -> tuple[Tensor, float]:
    """B's 8 mode centres (8, 2) and the largest std of a mode (A's sigma times the larger
    stretch), for measures.metrics.coverage_2d."""
    m = torch.tensor(B_MATRIX, dtype=torch.float64)
    centres = torch.tensor(RING8_CENTRES, dtype=torch.float64) @ m.T
    return centres, RING8_SIGMA * max(B_STRETCH)
