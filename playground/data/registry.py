"""Every dataset, one registry entry each: what it holds (points or images, channels, native
size, the sizes it trains at, its classes and their names, the mode centres and sigma of a
Gaussian mixture), how it is had (generated, bundled, downloaded on first use, or the user's own
folder), and one sentence for the app.

Adding a dataset is its loader (toys.py, imagesets.py or folders.py) plus one entry here. Nothing
else lists dataset names: config.py takes its allowed values from DATASETS, and the pages and
the measures read the entries' facts (class names, mode centres, whether it works offline).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from playground.data import toys
from playground.data.source import DataSource

# Every image dataset is resized (or padded) to one of these sides; 8 and 16 px are for the
# bundled 8x8 digits, trained at their own size and enlarged only for display.
IMAGE_SIZES = (8, 16, 28, 32, 64)
DIGIT_NAMES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str  # its name in sentences ("Fashion-MNIST")
    summary: str  # one sentence for the app
    kind: str  # "points" or "images"
    # How it is had, which picks its loader in data.load_dataset: "generated" (toys.py),
    # "bundled" (scikit-learn's digits), "torchvision" (downloaded by torchvision's class
    # `torchvision_class`), "cifar-binary" (CIFAR-10's binary archive), "user-folder" (the user's),
    # "user-points" (the user's 2D points, drawn or a CSV: userpoints.py).
    loader: str
    obtained: str  # how it is had, in words (the home page shows it)
    offline: bool  # works on a fresh machine with no network
    channels: int = 0  # 0 for points; the stored channels of images (a folder: 3, 1 if grey)
    native_size: int | None = None  # the stored images' side; None for points and user folders
    image_sizes: tuple[int, ...] = ()  # the sides it trains at
    class_names: tuple[str, ...] = ()  # empty: unlabelled
    centres: tuple[tuple[float, float], ...] = ()  # a Gaussian mixture's mode centres
    sigma: float | None = None  # std of each mixture component
    sampler: toys.PointSampler | None = None  # a toy that is not a mixture draws with this
    torchvision_class: str = ""  # for loader "torchvision": the class in torchvision.datasets
    # Where the every-loss view's length (everyloss.VIEW_STEPS) is too short on it: what the view
    # can show instead, measured (the Diagnostics page shows it when the data is picked).
    every_loss_note: str = ""

    @property
    def is_points(self) -> bool:
        return self.kind == "points"

    @property
    def user_folder(self) -> bool:
        """The user's own images, read from cfg.data_folder."""
        return self.loader == "user-folder"

    @property
    def user_points(self) -> bool:
        """The user's own 2D points, read from the CSV file cfg.points_file."""
        return self.loader == "user-points"

    @property
    def downloaded(self) -> bool:
        """Fetched into the data cache (data.data_cache_dir) on first use."""
        return self.loader in ("torchvision", "cifar-binary")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_mixture(self) -> bool:
        """A Gaussian mixture with known modes: coverage is measured exactly."""
        return bool(self.centres)

    def class_label(self, index: int) -> str:
        """'3' for digits, '1: Trouser' for Fashion-MNIST (the index, then a name that adds)."""
        name = self.class_names[index] if 0 <= index < self.num_classes else str(index)
        return str(index) if name == str(index) else f"{index}: {name}"


def _toy(name: str, title: str, summary: str, **facts) -> Dataset:
    return Dataset(name, title, summary, "points", "generated", "generated in code", True, **facts)


def _image(name: str, title: str, summary: str, loader: str, obtained: str, **facts) -> Dataset:
    offline = loader in ("bundled", "user-folder")
    return Dataset(
        name, title, summary, "images", loader, obtained, offline, image_sizes=IMAGE_SIZES, **facts
    )


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        _toy(
            "ring8",
            "the ring of 8 Gaussians",
            "Ring of 8 Gaussians (radius 2): the classic picture of mode collapse.",
            centres=toys.RING8_CENTRES,
            sigma=toys.RING8_SIGMA,
        ),
        _toy(
            "grid25",
            "the grid of 25 Gaussians",
            "5x5 grid of 25 Gaussians: modes close together, harder to cover than the ring.",
            centres=toys.GRID25_CENTRES,
            sigma=toys.GRID25_SIGMA,
            # Measured: python -m playground.runs.everyloss --dataset grid25 --seeds 0-2 (README).
            every_loss_note=(
                "On the grid's 25 modes, 3,000 steps are too few for the losses to hold their "
                "modes: measured on seeds 0-2, hinge held 3 once and every other run none, while "
                "they covered 3 to 18 of the 25. Watch the modes covered here; the grid's recipe "
                "(preset grid25-stable on the Train page) trains 20,000 steps to hold all 25."
            ),
        ),
        _toy(
            "spiral",
            "the spiral",
            "A two-turn spiral: one thin curved manifold.",
            sampler=toys.spiral,
        ),
        _toy(
            "moons",
            "the two moons",
            "Two interleaved half circles (scikit-learn's moons).",
            sampler=toys.moons,
        ),
        _toy(
            "circles",
            "the two circles",
            "Two concentric circles, half the points on each.",
            sampler=toys.circles,
        ),
        Dataset(
            "own-points",
            "your own points",
            "Your own 2D points: drawn with the mouse or uploaded as a CSV file of x,y values.",
            "points",
            "user-points",
            "your own points (drawn in the app or a CSV file)",
            True,
        ),
        _image(
            "digits",
            "digits",
            "scikit-learn's 1,797 bundled handwritten digits (8x8 grey), upscaled; no download.",
            "bundled",
            "bundled with scikit-learn",
            channels=1,
            native_size=8,
            class_names=DIGIT_NAMES,
        ),
        _image(
            "mnist",
            "MNIST",
            "MNIST: 60,000 handwritten digits, 28x28 grey.",
            "torchvision",
            "downloaded on first use (torchvision's MNIST)",
            torchvision_class="MNIST",
            channels=1,
            native_size=28,
            class_names=DIGIT_NAMES,
        ),
        _image(
            "fashion",
            "Fashion-MNIST",
            "Fashion-MNIST: 60,000 pictures of clothes in 10 classes, 28x28 grey.",
            "torchvision",
            "downloaded on first use (torchvision's FashionMNIST)",
            torchvision_class="FashionMNIST",
            channels=1,
            native_size=28,
            class_names=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
        ),
        _image(
            "cifar10",
            "CIFAR-10",
            "CIFAR-10: 50,000 small colour photos in 10 classes, 32x32.",
            "cifar-binary",
            "downloaded on first use (its binary version, read without unpickling)",
            channels=3,
            native_size=32,
            class_names=(
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
        ),
        _image(
            "folder",
            "your images",
            "Your own images: a folder path or an uploaded zip, resized and centre-cropped.",
            "user-folder",
            "your own images (a folder path or an uploaded zip)",
            channels=3,
        ),
    ]
}


def names_where(
    *,
    kind: str | None = None,
    labelled: bool | None = None,
    mixture: bool | None = None,
    offline: bool | None = None,
) -> tuple[str, ...]:
    """Dataset names, in registry order, whose facts match every filter given."""
    return tuple(
        d.name
        for d in DATASETS.values()
        if (kind is None or d.kind == kind)
        and (labelled is None or (d.num_classes > 0) == labelled)
        and (mixture is None or d.is_mixture == mixture)
        and (offline is None or d.offline == offline)
    )


def get(name: str) -> Dataset:
    """The entry for `name`; ValueError naming the choices when there is none."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


def class_names(name: str) -> tuple[str, ...]:
    """A dataset's class names ('' tuple for unlabelled or unknown datasets)."""
    entry = DATASETS.get(name)
    return entry.class_names if entry is not None else ()


def mixture_spec(name: str) -> tuple[torch.Tensor, float] | None:
    """(centres (M, 2) float32 CPU, sigma) for a Gaussian-mixture toy, else None.

    A new tensor each call, so a caller that edits it cannot change anyone else's centres.
    """
    entry = DATASETS.get(name)
    if entry is None or not entry.is_mixture or entry.sigma is None:
        return None
    return torch.tensor(entry.centres, dtype=torch.float32), entry.sigma


def offline_hint() -> str:
    """What to use instead of a dataset that cannot be had: the ones that need no network."""
    bundled = [
        f"'{d.name}'" for d in DATASETS.values() if d.kind == "images" and d.loader == "bundled"
    ]
    return (
        f"use the offline dataset {' or '.join(bundled)} or a 2D toy "
        f"({', '.join(d.name for d in DATASETS.values() if d.loader == 'generated')})"
    )


def toy_points(
    name: str, n: int, generator: torch.Generator, device: torch.device | str
) -> torch.Tensor:
    """n fresh float32 points (n, 2) of 2D toy `name`, drawn on `device` with `generator`."""
    device = torch.device(device)
    entry = DATASETS.get(name)
    if entry is None or not entry.is_points:
        choices = ", ".join(names_where(kind="points"))
        raise ValueError(f"unknown 2D dataset {name!r}; choose from {choices}")
    if entry.sampler is None and not entry.is_mixture:
        raise ValueError(f"'{name}' is not generated in code: its points come from points_file")
    if entry.is_mixture and entry.sigma is not None:
        centres = torch.tensor(entry.centres, dtype=torch.float32, device=device)
        return toys.mixture_points(centres, entry.sigma, n, generator)
    assert entry.sampler is not None
    return entry.sampler(n, generator, device)


def points_source(name: str, device: torch.device | str = "cpu") -> DataSource:
    """The DataSource of 2D toy `name` (nothing is stored: each batch is drawn fresh)."""
    entry = DATASETS[name]
    centres = torch.tensor(entry.centres, dtype=torch.float32) if entry.is_mixture else None
    return DataSource(
        name=name,
        kind="points",
        shape=(2,),
        num_classes=0,
        centres=centres,
        sigma=entry.sigma,
        device=device,
        draw=entry.sampler,  # None for a mixture: its centres and sigma say it all
    )
