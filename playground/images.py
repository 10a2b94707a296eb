"""Turning generator output into pictures: image grids, point scatters, PNG and GIF bytes.

Grids and PNGs go through torchvision (`make_grid`, `save_image`); the rest is numpy/PIL. The
engine, the command line and the pages share this one rendering, and `upscale` is the one way
a small picture is enlarged.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image, ImageDraw


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    scaled = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


GRID_BACKGROUND = 32  # the dark grey between tiles


def make_grid(
    images: np.ndarray, ncols: int | None = None, pad: int = 2, upscale: int = 1
) -> np.ndarray:
    """Tile (N, H, W, C) uint8 images into one (H', W', C) picture on a dark background,
    `ncols` to a row (default: as square as possible), each side enlarged `upscale` times."""
    from torchvision.utils import make_grid as tile

    n = images.shape[0]
    ncols = ncols or max(1, math.ceil(math.sqrt(n)))
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    channels = batch.shape[1]
    # torchvision returns a lone image unpadded; padding it by hand keeps every grid framed.
    if n == 1:
        grid = torch.nn.functional.pad(batch[0], (pad, pad, pad, pad), value=GRID_BACKGROUND)
    else:
        grid = tile(batch, nrow=ncols, padding=pad, pad_value=GRID_BACKGROUND)
    # torchvision makes grey tiles RGB; keep the images' own channel count.
    picture = grid[:channels].permute(1, 2, 0).numpy()
    return upscale_by(picture, upscale)


def upscale_by(image: np.ndarray, factor: int) -> np.ndarray:
    """(H, W, C) uint8 enlarged `factor` times by repeating pixels (nearest neighbour, so small
    images stay crisp instead of blurring)."""
    if factor <= 1:
        return image
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def upscale(image: np.ndarray, target: int) -> np.ndarray:
    """(H, W, C) uint8 enlarged by the whole factor that brings its longer side near `target`
    (at least 1: a larger picture is left as it is)."""
    return upscale_by(image, max(1, math.ceil(target / max(image.shape[0], image.shape[1]))))


def scatter_image(
    points: np.ndarray,
    real: np.ndarray | None = None,
    extent: tuple[float, float, float, float] | None = None,
    size: int = 512,
) -> np.ndarray:
    """Generated `points` (orange) over `real` ones (blue) as a (size, size, 3) uint8 image."""
    clouds = [p for p in (real, points) if p is not None and len(p)]
    if extent is None:
        allp = np.concatenate(clouds)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        margin = 0.1 * max(float((hi - lo).max()), 1e-3)
        extent = (lo[0] - margin, hi[0] + margin, lo[1] - margin, hi[1] + margin)
    x0, x1, y0, y1 = extent
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)

    def plot(cloud: np.ndarray, colour: tuple[int, int, int], r: int) -> None:
        px = (cloud[:, 0] - x0) / (x1 - x0) * (size - 1)
        py = (1 - (cloud[:, 1] - y0) / (y1 - y0)) * (size - 1)  # y grows upwards
        for u, v in zip(px, py, strict=True):
            if np.isfinite(u) and np.isfinite(v):
                draw.ellipse((u - r, v - r, u + r, v + r), fill=colour)

    if real is not None:
        plot(np.asarray(real), (31, 119, 180), 2)
    plot(np.asarray(points), (255, 127, 14), 2)
    return np.asarray(canvas)


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, C) uint8 as PNG bytes, written by torchvision's save_image."""
    buffer = io.BytesIO()
    _save_image(image, buffer)
    return buffer.getvalue()


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 200) -> bytes:
    """An animated, looping GIF of same-sized (H, W, C) uint8 frames."""
    pictures = [Image.fromarray(_squeeze_gray(f)) for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=ms_per_frame,
        loop=0,
    )
    return buffer.getvalue()


def save_png(image: np.ndarray, path: str) -> None:
    """(H, W, C) uint8 written to `path` as a PNG by torchvision's save_image."""
    _save_image(image, path)


def _save_image(image: np.ndarray, target) -> None:
    from torchvision.utils import save_image

    # save_image takes floats in [0, 1] and rounds x·255 + 0.5 back: uint8 values survive exactly.
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    save_image(pixels, target, format="PNG")


def _squeeze_gray(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
