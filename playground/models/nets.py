"""Generators and discriminators, built from the config alone (no file I/O): the shared G and D
wrappers and the MLP and DCGAN builders (playground.models.architectures lists every architecture).

Every discriminator is `features(x) -> h` followed by a linear head, so the conditional variant is
the projection discriminator of Miyato & Koyama (2018): logit = w·h + <embed(y), h>. The
conditional generator concatenates a learned label embedding to z.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from playground.objectives.losses import LOSSES


class ModelSettings(Protocol):
    """What building a G and D reads from a run's settings (`settings.GANConfig` has all of it;
    it is passed in, never imported, so models sit below settings)."""

    arch: str
    conditional: bool
    hidden: int  # MLP width
    layers: int  # MLP hidden layers
    width: int  # DCGAN/ResNet base channels
    latent_dim: int
    spectral_norm: bool
    pack: int
    info_cat: int
    info_cont: int
    info_weight: float
    loss: str
    seed: int


def _maybe_sn(layer: nn.Module, on: bool) -> nn.Module:
    return _sn(layer) if on else layer


class Generator(nn.Module):
    """z (B, latent_dim) [+ label (B,)] -> sample (B, *out_shape)."""

    def __init__(
        self,
        body: nn.Module,
        latent_dim: int,
        out_shape: tuple[int, ...],
        num_classes: int = 0,
        image: bool = False,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.out_shape = out_shape
        self.num_classes = num_classes
        # The label embedding has the latent's size: concatenated, it doubles G's input.
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.body = body
        self.image = image

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        out = self.body(z)
        if self.image:
            out = torch.tanh(out)  # images live in [-1, 1]
        return out.reshape(z.shape[0], *self.out_shape)


class Discriminator(nn.Module):
    """sample (B, *in_shape) [+ label] -> a raw score per sample (B,): a logit or a critic value."""

    def __init__(
        self, features: nn.Module, feature_dim: int, num_classes: int = 0, spectral: bool = False
    ):
        super().__init__()
        self.features = features
        self.head = _maybe_sn(nn.Linear(feature_dim, 1), spectral)
        self.embed = (
            _maybe_sn(nn.Embedding(num_classes, feature_dim), spectral) if num_classes else None
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)  # (B, feature_dim)
        score = self.head(h).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(labels) * h).sum(dim=1)  # projection term
        return score


# ---------------------------------------------------------------------- MLP
def mlp_generator(cfg: ModelSettings, out_shape: tuple[int, ...], num_classes: int) -> Generator:
    in_dim = cfg.latent_dim * (2 if num_classes else 1)
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(cfg.layers):
        layers += [nn.Linear(width, cfg.hidden), nn.ReLU()]
        width = cfg.hidden
    layers.append(nn.Linear(width, math.prod(out_shape)))
    return Generator(
        nn.Sequential(*layers), cfg.latent_dim, out_shape, num_classes, image=len(out_shape) == 3
    )


def mlp_discriminator(
    cfg: ModelSettings, in_shape: tuple[int, ...], num_classes: int
) -> Discriminator:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(in_shape)
    for _ in range(cfg.layers):
        layers += [_maybe_sn(nn.Linear(width, cfg.hidden), cfg.spectral_norm), nn.LeakyReLU(0.2)]
        width = cfg.hidden
    return Discriminator(nn.Sequential(*layers), cfg.hidden, num_classes, cfg.spectral_norm)


# ---------------------------------------------------------------------- DCGAN
# Image side -> (side of the smallest feature map, number of 2x resampling stages). 8 and 16 px
# fit the bundled 8x8 digits at their own size (a fraction of the work of 32 px).
DCGAN_PLANS = {8: (2, 2), 16: (4, 2), 28: (7, 2), 32: (4, 3), 64: (4, 4)}
DCGAN_SIZES = tuple(DCGAN_PLANS)


class Unflatten(nn.Module):
    def __init__(self, channels: int, side: int):
        super().__init__()
        self.channels, self.side = channels, side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], self.channels, self.side, self.side)


def dcgan_generator(cfg: ModelSettings, out_shape: tuple[int, ...], num_classes: int) -> Generator:
    channels, size, _ = out_shape
    side, stages = DCGAN_PLANS[size]
    in_dim = cfg.latent_dim * (2 if num_classes else 1)
    width = cfg.width * 2 ** (stages - 1)  # e.g. 4*ngf at 4x4 for 32 px, as in the DCGAN paper
    # Project z to the smallest map (a linear layer equals the paper's 1x1 -> side x side
    # transposed conv), then each stage doubles the side and halves the channels.
    layers: list[nn.Module] = [
        nn.Linear(in_dim, width * side * side, bias=False),
        Unflatten(width, side),
        nn.BatchNorm2d(width),
        nn.ReLU(True),
    ]
    for _ in range(stages - 1):
        layers += [
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width // 2),
            nn.ReLU(True),
        ]
        width //= 2
    layers.append(nn.ConvTranspose2d(width, channels, 4, 2, 1))  # no BN on G's output layer
    return Generator(nn.Sequential(*layers), cfg.latent_dim, out_shape, num_classes, image=True)


def dcgan_discriminator(
    cfg: ModelSettings, in_shape: tuple[int, ...], num_classes: int
) -> Discriminator:
    channels, size, _ = in_shape
    side, stages = DCGAN_PLANS[size]
    # Batch norm mixes samples within a batch, which breaks WGAN-GP's per-sample gradient
    # penalty (Gulrajani et al. 2017), and is redundant with spectral norm: drop it for both.
    use_bn = not (penalises_gradient(cfg) or cfg.spectral_norm)
    layers: list[nn.Module] = []
    width_in, width = channels, cfg.width
    for stage in range(stages):
        layers.append(
            _maybe_sn(nn.Conv2d(width_in, width, 4, 2, 1, bias=not use_bn), cfg.spectral_norm)
        )
        if use_bn and stage > 0:  # no BN on D's input layer (DCGAN paper)
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU(0.2, True))
        width_in, width = width, width * 2
    layers.append(nn.Flatten())
    return Discriminator(
        nn.Sequential(*layers), width_in * side * side, num_classes, cfg.spectral_norm
    )


def penalises_gradient(cfg: ModelSettings) -> bool:
    """Whether D's loss keeps it Lipschitz by a per-sample gradient penalty (the losses
    registry's fact), which batch norm in D would break."""
    return LOSSES[cfg.loss].lipschitz == "gradient penalty"


def packed_shape(shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """What D sees under PacGAN packing: `pack` samples stacked along the first axis."""
    return (shape[0] * pack, *shape[1:])


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) weights and N(1, 0.02) BN scales, as the DCGAN paper prescribes."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        weight = getattr(module, "parametrizations", None)
        target = weight.weight.original if weight is not None else module.weight
        nn.init.normal_(target, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
