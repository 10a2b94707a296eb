"""SNGAN's ResNet generator and discriminator at 32 and 64 pixels.

Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative Adversarial Networks",
ICLR 2018, appendix B.4 (the ResNet of its CIFAR-10 experiments, after Gulrajani et al. 2017):

- G: z -> linear -> 4x4 x ch, then up-blocks (3 at 32 px, 4 at 64 px), each BN-ReLU-upsample-
  conv3x3-BN-ReLU-conv3x3 with a 1x1-conv shortcut on the upsampled input; then BN, ReLU,
  conv3x3 to the image's channels and tanh (applied by models.Generator).
- D: an "optimized" first block (conv3x3-ReLU-conv3x3-avgpool, shortcut avgpool-conv1x1), then
  down-blocks (ReLU-conv3x3-ReLU-conv3x3-avgpool, shortcut conv1x1-avgpool), two of them
  resolution-preserving as in the paper's CIFAR D; then ReLU, global sum pooling and a linear
  head. Every layer of D is spectrally normalised, so each has largest singular value ≈ 1.

Channel widths: the paper uses 256 for G and 128 for D at 32 px; here the config's `width` is
D's width and G's is twice that (width 128 gives the paper's model). Conditioning follows the
project's other models (models.Generator concatenates a label embedding to z; models.
Discriminator adds the projection term) rather than the paper's conditional batch norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from playground.models.parts import Discriminator, Generator, ModelSettings, Unflatten

SIZES = (32, 64)
BASE_SIDE = 4  # G starts from a 4x4 map; each up-block doubles it


def up_blocks(size: int) -> int:
    """G's up-blocks for an image side: 3 at 32 px, 4 at 64 px (4 · 2^blocks = size)."""
    if size not in SIZES:
        raise ValueError(f"SNGAN builds {' or '.join(map(str, SIZES))} px images, not {size}")
    return (size // BASE_SIDE).bit_length() - 1


class GBlock(nn.Module):
    """Residual up-block: (B, c_in, s, s) -> (B, c_out, 2s, 2s)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0)  # nearest, as in the paper
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0))


class DBlock(nn.Module):
    """Residual down-block (spectrally normalised): (B, c_in, s, s) -> (B, c_out, s/2, s/2),
    or the same side when `down` is off. `first` is the paper's optimized first block: no ReLU
    before the first conv (the input is an image), and the shortcut pools before its conv."""

    def __init__(self, c_in: int, c_out: int, down: bool = True, first: bool = False):
        super().__init__()
        self.conv1 = spectral_norm(nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.conv2 = spectral_norm(nn.Conv2d(c_out, c_out, 3, 1, 1))
        learnable = c_in != c_out or down
        self.shortcut = spectral_norm(nn.Conv2d(c_in, c_out, 1)) if learnable else None
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            return x
        if self.first:
            return self.shortcut(F.avg_pool2d(x, 2))
        h = self.shortcut(x)
        return F.avg_pool2d(h, 2) if self.down else h


class SumPool(nn.Module):
    """ReLU, then the sum over all positions: (B, C, H, W) -> (B, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).sum(dim=(2, 3))


def sngan_generator(cfg: ModelSettings, out_shape: tuple[int, ...], num_classes: int) -> Generator:
    channels, size, _ = out_shape
    width = 2 * cfg.width
    in_dim = cfg.latent_dim * (2 if num_classes else 1)
    layers: list[nn.Module] = [
        nn.Linear(in_dim, width * BASE_SIDE * BASE_SIDE),
        Unflatten(width, BASE_SIDE),
    ]
    layers += [GBlock(width, width) for _ in range(up_blocks(size))]
    layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1)]
    return Generator(nn.Sequential(*layers), cfg.latent_dim, out_shape, num_classes, image=True)


def sngan_discriminator(
    cfg: ModelSettings, in_shape: tuple[int, ...], num_classes: int
) -> Discriminator:
    channels, size, _ = in_shape
    width = cfg.width
    # 32 px: optimized block to 16, one down-block to 8, two blocks at 8 (the paper's CIFAR D);
    # 64 px: one more down-block first, so the last two blocks again work on an 8x8 map.
    downs = up_blocks(size) - 2
    layers: list[nn.Module] = [DBlock(channels, width, first=True)]
    layers += [DBlock(width, width) for _ in range(downs)]
    layers += [DBlock(width, width, down=False), DBlock(width, width, down=False), SumPool()]
    return Discriminator(nn.Sequential(*layers), width, num_classes, spectral=True)
