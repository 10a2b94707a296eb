"""Generators and discriminators, built from the config alone (no file I/O): the MLP and DCGAN
builders on the shared wrappers of models.parts (playground.models.architectures lists every
architecture).

Every discriminator is `features(x) -> h` followed by a linear head, so the conditional variant is
the projection discriminator of Miyato & Koyama (2018): logit = w·h + <embed(y), h>. The
conditional generator concatenates a learned label embedding to z.
"""

from __future__ import annotations

import math

from torch import nn

from playground.models.parts import Discriminator, Generator, ModelSettings, Unflatten, maybe_sn
from playground.objectives.losses import LOSSES


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
        layers += [maybe_sn(nn.Linear(width, cfg.hidden), cfg.spectral_norm), nn.LeakyReLU(0.2)]
        width = cfg.hidden
    return Discriminator(nn.Sequential(*layers), cfg.hidden, num_classes, cfg.spectral_norm)


# ---------------------------------------------------------------------- DCGAN
# Image side -> (side of the smallest feature map, number of 2x resampling stages). 8 and 16 px
# fit the bundled 8x8 digits at their own size (a fraction of the work of 32 px).
DCGAN_PLANS = {8: (2, 2), 16: (4, 2), 28: (7, 2), 32: (4, 3), 64: (4, 4)}
DCGAN_SIZES = tuple(DCGAN_PLANS)


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
            maybe_sn(nn.Conv2d(width_in, width, 4, 2, 1, bias=not use_bn), cfg.spectral_norm)
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
