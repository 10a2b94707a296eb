"""A user's own images: the lazy folder walk and decoding (short side scaled, centre-cropped),
and the app's rule for which typed folders it may read at all (the data roots).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from playground.data.source import DatasetUnavailable, DataSource, image_source

MAX_FOLDER_IMAGES = 20_000
MAX_FOLDER_ENTRIES = 200_000  # files and folders one folder walk looks at, at most
MAX_IMAGE_PIXELS = 50_000_000  # larger files are skipped: decoding one would take seconds and GBs
# An image is judged by what it becomes, not only by what it is: its short side is scaled to the
# run's size, so a 400,000 x 1 strip would become 32 x 12.8 million pixels. Longer ones are skipped.
MAX_ASPECT = 16
FOLDER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


# ---------------------------------------------------------------------------- a folder of images
def folder_source(
    name: str, folder: Path, size: int, grayscale: bool, device: torch.device, max_images: int
) -> DataSource:
    """The images under `folder` (searched lazily, at most `max_images`) as dataset `name`."""
    if not folder.is_dir():
        raise DatasetUnavailable(f"image folder {folder} does not exist or is not a folder")
    tally = {"ignored": 0, "walk_capped": 0}
    mode = "L" if grayscale else "RGB"
    loaded: list[np.ndarray] = []
    unreadable = too_large = oblong = candidates = 0
    for path in _image_files(folder, tally):  # found lazily: the walk ends with this loop
        candidates += 1
        if len(loaded) >= max_images:
            break  # one file past the cap, so the notes can say some were left out
        try:
            pixels = _load_image(path, size, mode)
        except (_TooLarge, Image.DecompressionBombError):
            too_large += 1
        except _TooOblong:
            oblong += 1
        except Exception:  # Pillow raises many types (OSError, ValueError, SyntaxError, ...)
            unreadable += 1  # on corrupt data; one bad file must not sink the whole folder
        else:
            loaded.append(pixels)
    if not loaded:
        raise DatasetUnavailable(
            f"no readable images in {folder}"
            + (f" ({oblong:,} skipped as more than {MAX_ASPECT} times longer than wide)"
               if oblong else "")
            + " (looked for "
            f"{', '.join(FOLDER_EXTENSIONS)}, searching subfolders)"
        )
    notes = _folder_notes(
        len(loaded), candidates, unreadable, too_large, oblong, tally["ignored"], max_images
    )
    if tally["walk_capped"]:
        notes.append(f"stopped looking after {MAX_FOLDER_ENTRIES:,} files and folders")
    stacked = np.stack(loaded)  # (N, H, W, C)
    images = stacked.transpose(0, 3, 1, 2)
    return image_source(
        name, images, None, size, device, notes=notes, skipped=unreadable + too_large + oblong
    )


def _image_files(folder: Path, tally: dict[str, int]) -> Iterator[Path]:
    """Image files under `folder` in a stable order, found lazily: the walk (one folder listed
    at a time) goes no further than the caller reads, so a loader that stops at its image cap
    never lists the rest of a large tree, and it never looks at more than MAX_FOLDER_ENTRIES
    entries. Counts other files in tally["ignored"]; sets tally["walk_capped"] at that cap."""
    seen = 0
    for root, dirs, files in os.walk(folder):
        seen += len(dirs) + len(files)
        if seen > MAX_FOLDER_ENTRIES:
            tally["walk_capped"] = 1
            return
        # Hidden entries are skipped: .git folders, and macOS "._name.jpg" files that are not
        # images despite their extension.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if name.lower().endswith(FOLDER_EXTENSIONS):
                yield Path(root) / name
            else:
                tally["ignored"] += 1


class _TooLarge(Exception):
    pass


class _TooOblong(Exception):
    pass


def _load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """One image as uint8 (size, size, channels): short side scaled to `size`, centre-cropped."""
    with Image.open(path) as image:
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise _TooLarge  # checked from the header, before any pixel is decoded
        if max(image.size) > MAX_ASPECT * min(image.size):
            raise _TooOblong  # also from the header: what resizing would make of it
        image.draft(mode, (size, size))  # JPEG only: decode at a reduced scale >= size, far faster
        image = ImageOps.exif_transpose(image)  # phone photos are stored sideways
        image = _flatten_alpha(_to_8bit(image))
        if image.mode not in ("L", "RGB"):  # palette, CMYK, ...: their bytes are not pixels
            image = image.convert("RGB")
        tensor = _pil_to_tensor(image)
        pixels = _square(size, mode, tensor.shape[0])(tensor)  # (C, size, size) uint8
    return pixels.permute(1, 2, 0).numpy()


def _pil_to_tensor(image: Image.Image) -> torch.Tensor:
    # torchvision is imported at first use: it adds seconds to starting the app.
    from torchvision.transforms.v2.functional import pil_to_tensor

    return pil_to_tensor(image)


def _square(size: int, mode: str, channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """torchvision's transforms: short side scaled to `size` (antialiased), centre crop, and the
    channels of `mode` ("L" or "RGB", ITU-R BT.601 luma) from an image with `channels`."""
    from torchvision.transforms import v2

    if mode == "L":
        convert = v2.Grayscale(num_output_channels=1)
    elif channels == 1:
        convert = v2.Grayscale(num_output_channels=3)  # a grey picture, repeated into R, G, B
    else:
        convert = v2.Identity()
    return v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size), convert])


def _to_8bit(image: Image.Image) -> Image.Image:
    # Pillow's convert("L") clips 16-bit and 32-bit greyscale at 255, turning most of such an
    # image white; rescale it instead (16-bit exactly, wider types by their brightest pixel).
    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    pixels = np.asarray(image, dtype=np.float64)
    scale = 257.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0) / 255.0
    return Image.fromarray(np.clip(np.rint(pixels / scale), 0, 255).astype(np.uint8))


def _flatten_alpha(image: Image.Image) -> Image.Image:
    # Transparent pixels hold arbitrary colours (often black); composite onto white instead so
    # cut-out objects and icons look as they do in a viewer.
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return image


def _folder_notes(
    loaded: int, candidates: int, unreadable: int, too_large: int, oblong: int, ignored: int,
    max_images: int,
) -> list[str]:
    notes = [f"loaded {loaded:,} images"]
    if unreadable:
        notes.append(f"skipped {unreadable:,} files that are not readable images")
    if too_large:
        notes.append(
            f"skipped {too_large:,} images larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
        )
    if oblong:
        notes.append(f"skipped {oblong:,} images more than {MAX_ASPECT} times longer than wide "
                     "(scaled to the run's size they would be huge)")
    if ignored:
        notes.append(f"ignored {ignored:,} files without an image extension")
    if loaded >= max_images and candidates > loaded + unreadable + too_large + oblong:
        notes.append(f"stopped at the cap of {max_images:,} images; the rest were not loaded")
    return notes
