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
    """Generated `points` (orange crosses) over `real` ones (blue dots) as a (size, size, 3)
    uint8 image."""
    clouds = [p for p in (real, points) if p is not None and len(p)]
    if extent is None:
        allp = np.concatenate(clouds)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        margin = 0.1 * max(float((hi - lo).max()), 1e-3)
        extent = (lo[0] - margin, hi[0] + margin, lo[1] - margin, hi[1] + margin)
    plane = _Plane(extent, size)
    if real is not None:
        plane.dots(real, REAL_RGB)
    plane.crosses(points, FAKE_RGB)
    return plane.pixels()


# The live 2D view's colours (figures.py), as RGB for the pictures drawn here.
REAL_RGB, FAKE_RGB = (31, 119, 180), (255, 127, 14)
MESH_RGB, ARROW_RGB = (150, 150, 150), (0, 158, 115)
# D's map as the live view draws it: plotly's "RdBu" over D's range (red: fake, blue: real),
# at opacity 0.55 over white.
_RDBU = np.array(
    [(103, 0, 31), (178, 24, 43), (214, 96, 77), (244, 165, 130), (253, 219, 199),
     (247, 247, 247), (209, 229, 240), (146, 197, 222), (67, 147, 195), (33, 102, 172),
     (5, 48, 97)],
    dtype=np.float32,
)
MAP_OPACITY = 0.55


def layered_image(frame, real: np.ndarray | None, extent: tuple[float, float, float, float],
                  layers, size: int = 512) -> np.ndarray:
    """The 2D view of a runner.Frame as a (size, size, 3) uint8 picture, with the chosen
    `layers` (figures.LAYERS' names) drawn as the live view draws them: what the Train page's
    PNG and GIF downloads hold."""
    plane = _Plane(extent, size)
    if "decision" in layers and frame.decision is not None:
        plane.background(decision_colours(frame.decision))
    if "real" in layers and real is not None:
        plane.dots(real, REAL_RGB)
    if "manifold" in layers and frame.manifold is not None:
        mesh = frame.manifold.points
        for line in [*mesh, *mesh.transpose(1, 0, 2)]:
            plane.line(line, MESH_RGB)
    if "generated" in layers:
        plane.crosses(frame.samples, FAKE_RGB)
    if "arrows" in layers and frame.arrows is not None:
        plane.arrows(frame.arrows.starts, frame.arrows.vectors, ARROW_RGB)
    return plane.pixels()


def decision_colours(decision: np.ndarray) -> np.ndarray:
    """D's map (rows from the top) as (res, res, 3) uint8 colours, blended over white."""
    z = np.nan_to_num(decision.astype(np.float32))
    lo, hi = float(z.min()), float(z.max())
    t = (z - lo) / (hi - lo) if hi > lo else np.full_like(z, 0.5)
    at = t * (len(_RDBU) - 1)
    i = np.clip(np.floor(at).astype(int), 0, len(_RDBU) - 2)
    frac = (at - i)[..., None]
    colour = _RDBU[i] * (1 - frac) + _RDBU[i + 1] * frac
    return (MAP_OPACITY * colour + (1 - MAP_OPACITY) * 255).round().astype(np.uint8)


class _Plane:
    """A white square picture of the data window `extent`, drawn on in data coordinates."""

    def __init__(self, extent: tuple[float, float, float, float], size: int):
        self.extent, self.size = extent, size
        self.canvas = Image.new("RGB", (size, size), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.canvas)

    def pixels(self) -> np.ndarray:
        return np.array(self.canvas)  # writable: torch warns on a read-only array

    def to_px(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x0, x1, y0, y1 = self.extent
        points = np.asarray(points, dtype=np.float64)
        px = (points[:, 0] - x0) / (x1 - x0) * (self.size - 1)
        py = (1 - (points[:, 1] - y0) / (y1 - y0)) * (self.size - 1)  # y grows upwards
        return px, py

    def background(self, colours: np.ndarray) -> None:
        # The map's cells span the window edge to edge, as the live view's heatmap does.
        cells = Image.fromarray(colours).resize((self.size, self.size), Image.NEAREST)
        self.canvas.paste(cells)

    def dots(self, points: np.ndarray, colour: tuple[int, int, int], r: int = 2) -> None:
        for u, v in zip(*self.to_px(points), strict=True):
            if np.isfinite(u) and np.isfinite(v):
                self.draw.ellipse((u - r, v - r, u + r, v + r), fill=colour)

    def crosses(self, points: np.ndarray, colour: tuple[int, int, int], r: int = 2) -> None:
        """Generated points as small crosses (real ones are dots), as the live view marks them."""
        for u, v in zip(*self.to_px(points), strict=True):
            if np.isfinite(u) and np.isfinite(v):
                self.draw.line((u - r, v - r, u + r, v + r), fill=colour, width=1)
                self.draw.line((u - r, v + r, u + r, v - r), fill=colour, width=1)

    def line(self, points: np.ndarray, colour: tuple[int, int, int]) -> None:
        px, py = self.to_px(points)
        shown = [(u, v) for u, v in zip(px, py, strict=True) if np.isfinite(u) and np.isfinite(v)]
        if len(shown) > 1:
            self.draw.line(shown, fill=colour, width=1)

    def arrows(self, starts: np.ndarray, vectors: np.ndarray,
               colour: tuple[int, int, int], head: float = 5.0) -> None:
        (sx, sy), (ex, ey) = self.to_px(starts), self.to_px(np.asarray(starts) + vectors)
        for a, b, c, d in zip(sx, sy, ex, ey, strict=True):
            if not np.isfinite([a, b, c, d]).all():
                continue
            self.draw.line((a, b, c, d), fill=colour, width=1)
            length = math.hypot(c - a, d - b)
            if length < 1:
                continue
            ux, uy = (c - a) / length, (d - b) / length  # the head: two strokes back from the tip
            for side in (1, -1):
                wx, wy = ux * 0.87 - side * uy * 0.5, uy * 0.87 + side * ux * 0.5
                self.draw.line((c, d, c - head * wx, d - head * wy), fill=colour, width=1)


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
