"""The parts every architecture shares: the settings a build reads (a Protocol: the settings
object is passed in, never imported), the G and D wrappers (D is features, then a linear or
projection head) and small layers. Imports nothing from the project."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn


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


def maybe_sn(layer: nn.Module, on: bool) -> nn.Module:
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
        self.head = maybe_sn(nn.Linear(feature_dim, 1), spectral)
        self.embed = (
            maybe_sn(nn.Embedding(num_classes, feature_dim), spectral) if num_classes else None
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)  # (B, feature_dim)
        score = self.head(h).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(labels) * h).sum(dim=1)  # projection term
        return score


# ---------------------------------------------------------------------- MLP


class Unflatten(nn.Module):
    def __init__(self, channels: int, side: int):
        super().__init__()
        self.channels, self.side = channels, side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], self.channels, self.side, self.side)
