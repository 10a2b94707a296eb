"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): random translation, cutout and colour changes applied alike to real and generated
images before D, differentiable so G's gradient flows through them. Its registry entry, which
turns it on in the step, is in regularisers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


# Zhao et al. 2020, after the authors' DiffAugment_pytorch.py: each transform draws its own
# parameters per image and is built from differentiable tensor operations, so G's gradient
# flows through the augmentation. Written here rather than with torchvision.transforms.v2
# because v2 draws one set of parameters per call from the global random stream; DiffAugment
# needs per-image parameters from the run's own generator (reproducible, and graph-capturable).
# Images are (B, C, H, W) in [-1, 1].
def _uniform(x: Tensor, gen: torch.Generator | None) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device, generator=gen)


def rand_brightness(x: Tensor, gen: torch.Generator | None = None) -> Tensor:
    """Add one offset per image, U[−0.5, 0.5]."""
    return x + (_uniform(x, gen) - 0.5)


def rand_saturation(x: Tensor, gen: torch.Generator | None = None) -> Tensor:
    """Scale each image's departure from its grey (channel mean) by U[0, 2] (a no-op on grey)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, gen) * 2) + mean


def rand_contrast(x: Tensor, gen: torch.Generator | None = None) -> Tensor:
    """Scale each image's departure from its mean by U[0.5, 1.5]."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, gen) + 0.5) + mean


def rand_translation(x: Tensor, gen: torch.Generator | None = None, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to `ratio` of its size in x and y, filling with zeros."""
    b, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = x.device
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=dev, generator=gen)
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=dev, generator=gen)
    gb, gx, gy = torch.meshgrid(
        torch.arange(b, device=dev),
        torch.arange(h, device=dev),
        torch.arange(w, device=dev),
        indexing="ij",
    )
    # Index into a copy padded by one zero pixel: out-of-range reads land on the padding.
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2)


def rand_cutout(x: Tensor, gen: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Zero one square of `ratio` times the image's size per image, at a random centre."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = x.device
    ox = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=dev, generator=gen)
    oy = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=dev, generator=gen)
    gb, gx, gy = torch.meshgrid(
        torch.arange(b, device=dev),
        torch.arange(ch, device=dev),
        torch.arange(cw, device=dev),
        indexing="ij",
    )
    gx = torch.clamp(gx + ox - ch // 2, min=0, max=h - 1)
    gy = torch.clamp(gy + oy - cw // 2, min=0, max=w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=dev)
    mask = mask.index_put((gb, gx, gy), torch.zeros((), dtype=x.dtype, device=dev))
    return x * mask.unsqueeze(1)


# Policy name -> its transforms, in the order applied (the paper's grouping).
AUGMENTATIONS: dict[str, tuple[Callable[..., Tensor], ...]] = {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}


@lru_cache(maxsize=64)  # read at every D input: parse each policy text once
def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); raises ValueError on an unknown name."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"unknown policy {unknown[0]!r}; use a comma-separated list of "
            f"{', '.join(AUGMENTATIONS)} (or empty for none)"
        )
    return names


def diff_augment(x: Tensor, policy: tuple[str, ...], gen: torch.Generator | None = None) -> Tensor:
    """DiffAugment: apply `policy`'s transforms (fresh parameters per image) to images x
    (B, C, H, W). Call it on real and on generated images alike, before D, in both players'
    updates; G's gradient flows through it."""
    for name in policy:
        for transform in AUGMENTATIONS[name]:
            x = transform(x, gen)
    return x
