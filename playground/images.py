"""Turning generator output into pictures: image grids, point scatters, PNG and GIF bytes.

Plain numpy/PIL so the engine, the command line and the pages share one rendering.
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


def make_grid(
    images: np.ndarray, ncols: int | None = None, pad: int = 2, upscale: int = 1
) -> np.ndarray:
    """Tile (N, H, W, C) uint8 images into one (H', W', C) picture on a dark background."""
    n, h, w, c = images.shape
    ncols = ncols or max(1, math.ceil(math.sqrt(n)))
    nrows = max(1, math.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 32, dtype=np.uint8)
    for i in range(n):
        row, col = divmod(i, ncols)
        top, left = pad + row * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = images[i]
    if upscale > 1:
        grid = grid.repeat(upscale, axis=0).repeat(upscale, axis=1)
    return grid


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
    buffer = io.BytesIO()
    Image.fromarray(_squeeze_gray(image)).save(buffer, format="PNG")
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
    Image.fromarray(_squeeze_gray(image)).save(path, format="PNG")


def _squeeze_gray(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
