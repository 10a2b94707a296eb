"""Every architecture, one registry entry each: how G and D are built and the facts other modules
need (which data it builds for, whether the GPU's bf16/channels-last paths pay off, whether D
drops batch norm under a gradient penalty, one sentence for the app).

Adding an architecture is its own module with a G and a D builder, plus one entry here. Nothing
else lists architecture names: config.py takes its allowed values from ARCHITECTURES, fast.py
and the pages read the entries' facts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from playground.models import infogan, sngan, stylegan
from playground.models import nets as models
from playground.models.parts import Discriminator, Generator, ModelSettings

# Model init draws from the global RNG: seeded builds in two threads at once would interleave.
BUILD_LOCK = threading.Lock()

# (cfg, shape, num_classes) -> module; num_classes is 0 for an unconditional model.
GeneratorBuilder = Callable[[ModelSettings, tuple[int, ...], int], Generator]
DiscriminatorBuilder = Callable[[ModelSettings, tuple[int, ...], int], Discriminator]


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str  # one sentence for the app
    generator: GeneratorBuilder
    discriminator: DiscriminatorBuilder
    points: bool  # builds for 2D points
    image_sizes: tuple[int, ...]  # image sides it builds (empty: no images)
    # bf16 autocast and the channels-last layout on a GPU (fast.FastPaths): they pay off for
    # convolutions on tensor cores, not for small fully connected layers.
    gpu_fast_layers: bool = False
    # D's batch norm is dropped when the loss penalises D's gradient per sample (WGAN-GP):
    # batch norm mixes the samples of a batch, so D's per-sample gradient is no longer one.
    drops_batchnorm_for_gp: bool = False
    init: Callable[[nn.Module], None] | None = None  # applied to G and D after building

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise ValueError unless this architecture builds for data of `shape`."""
        if len(shape) == 1 and self.points:
            return
        if len(shape) == 3 and shape[1] == shape[2] and shape[1] in self.image_sizes:
            return
        raise ValueError(f"arch '{self.name}' builds {self.builds()}, not data of shape {shape}")

    def builds(self) -> str:
        """What it builds, in words: '2D points or 28, 32 or 64 px images'."""
        kinds = ["2D points"] if self.points else []
        if self.image_sizes:
            sizes = ", ".join(map(str, self.image_sizes[:-1]))
            last = str(self.image_sizes[-1])
            kinds.append(f"{sizes + ' or ' if sizes else ''}{last} px images")
        return " or ".join(kinds)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture(
            "mlp",
            "Fully connected layers (2D data, or images flattened to vectors).",
            models.mlp_generator,
            models.mlp_discriminator,
            points=True,
            image_sizes=(8, 16, 28, 32, 64),
        ),
        Architecture(
            "dcgan",
            "DCGAN (Radford et al. 2016): transposed convolutions with batch norm in G, strided "
            "convolutions in D.",
            models.dcgan_generator,
            models.dcgan_discriminator,
            points=False,
            image_sizes=models.DCGAN_SIZES,
            gpu_fast_layers=True,  # measured in BENCHMARKS.md (bench --device cuda)
            drops_batchnorm_for_gp=True,
            init=models.dcgan_init,
        ),
        Architecture(
            "sngan",
            "SNGAN (Miyato et al. 2018): residual blocks in G and D, every D layer spectrally "
            "normalised so D stays smooth.",
            sngan.sngan_generator,
            sngan.sngan_discriminator,
            points=False,
            image_sizes=sngan.SIZES,
            # Convolutional like DCGAN, but bf16 under its spectral norm's power iteration is
            # not yet measured on a GPU: fp32 until it is.
            gpu_fast_layers=False,
        ),
        Architecture(
            "stylegan",
            "StyleGAN (Karras et al. 2019, 2020): a mapping network turns z into a style w that "
            "scales every convolution of G, which grows the image from a learned constant; "
            "DCGAN's D.",
            stylegan.stylegan_generator,
            models.dcgan_discriminator,
            points=False,
            image_sizes=stylegan.SIZES,
            gpu_fast_layers=False,  # not yet measured on a GPU
            drops_batchnorm_for_gp=True,  # DCGAN's D
            init=models.dcgan_init,  # D's layers; G's equalised-lr layers are left alone
        ),
    ]
}


def build_models(
    cfg: ModelSettings, shape: tuple[int, ...], num_classes: int = 0
) -> tuple[Generator, Discriminator]:
    """G and D for data of `shape`: (2,) for points or (C, H, W) for images."""
    arch = ARCHITECTURES[cfg.arch]
    arch.check_shape(shape)
    classes = num_classes if cfg.conditional else 0
    g = arch.generator(cfg, shape, classes)
    d = arch.discriminator(cfg, models.packed_shape(shape, cfg.pack), classes)
    infogan.attach_head(cfg, d)  # InfoGAN's Q head on D's features, when the config has codes
    if arch.init is not None:
        g.apply(arch.init)
        d.apply(arch.init)
    return g, d


def build_seeded(
    cfg: ModelSettings, shape: tuple[int, ...], num_classes: int = 0
) -> tuple[Generator, Discriminator]:
    """build_models with the global RNG seeded by cfg.seed, one build at a time: the same seed
    gives the same initial weights in a Trainer and in a batched MultiRun member."""
    with BUILD_LOCK:
        torch.manual_seed(cfg.seed)
        return build_models(cfg, shape, num_classes)
