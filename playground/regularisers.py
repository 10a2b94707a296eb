"""Regularisers and augmentations of D's inputs, and the pieces of a GAN step built on them.

One registry, `REGULARISERS`, names each with its paper, the setting that turns it on and what
data it works on; each is a small function here, composable with any loss. `Trainer` (one run,
batch axis first) and `MultiRun` (N stacked runs, a leading member axis) both call these
functions, so the step's pieces exist once: `batch_dims` says how many leading axes index
samples (1 for a lone run, 2 for stacked members).

Random draws come from explicit torch.Generators and nothing here reads a tensor's value on the
host, so a step built from these pieces can be captured as a CUDA graph (fast.StepGraph).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


@dataclass(frozen=True)
class Regulariser:
    """One regulariser or augmentation: `setting` is the GANConfig field that turns it on
    (non-zero or non-empty), `data` the kinds of dataset it applies to."""

    name: str
    setting: str
    source: str
    sentence: str
    data: tuple[str, ...] = ("points", "images")


REGULARISERS: dict[str, Regulariser] = {
    r.name: r
    for r in (
        Regulariser(
            "gradient penalty",
            "gp_weight",
            "Gulrajani et al. 2017 (WGAN-GP)",
            "Pushes the norm of D's input gradient towards 1 between real and fake samples; "
            "on with every loss whose Lipschitz fact is 'gradient penalty'.",
        ),
        Regulariser(
            "r1",
            "r1_gamma",
            "Mescheder et al. 2018, 'Which training methods for GANs actually converge?'",
            "Penalises the squared norm of D's gradient on real data (weight gamma / 2), so D "
            "stays flat where the data is and the game settles instead of circling.",
        ),
        Regulariser(
            "instance noise",
            "instance_noise",
            "Sønderby et al. 2016",
            "Gaussian noise on every input D sees, annealed to zero, so real and fake overlap.",
        ),
        Regulariser(
            "diffaugment",
            "diffaugment",
            "Zhao et al. 2020, 'Differentiable Augmentation for Data-Efficient GAN Training'",
            "The same kinds of random translation, cutout and colour change applied to real and "
            "generated images before D, differentiably, so D cannot memorise a small dataset.",
            data=("images",),
        ),
    )
}


# ---------------------------------------------------------------------- shared step pieces
def annealed_noise_std(instance_noise: float, step: int, steps: int) -> float:
    """Instance noise's std at `step`: linear from `instance_noise` to 0 over the run."""
    return instance_noise * max(0.0, 1.0 - step / steps)


def add_noise(x: Tensor, std: float, draw: Callable[[], Tensor]) -> Tensor:
    """Instance noise (Sønderby et al. 2016): x + std·ε, with ε = draw() shaped like x.
    Nothing is drawn when std is 0, so a run without noise keeps its random stream."""
    return x if std <= 0 else x + std * draw()


def pack(x: Tensor, m: int, batch_dims: int = 1) -> Tensor:
    """PacGAN (Lin et al. 2018): D scores `m` consecutive samples jointly, so a generator that
    repeats itself is easy to spot. (…, B, C, rest) -> (…, B / m, m·C, rest), where the batch
    axis B is axis `batch_dims - 1`."""
    if m == 1:
        return x
    lead, rest = x.shape[: batch_dims - 1], x.shape[batch_dims + 1 :]
    b, c = x.shape[batch_dims - 1], x.shape[batch_dims]
    return x.reshape(*lead, b // m, c * m, *rest)


def shown_score(scores: Tensor, probability: bool | Tensor) -> Tensor:
    """D's output as people see it: σ(score) for the losses whose D outputs a probability
    (losses.Loss.probability), else the raw score. `probability` may be a boolean tensor that
    broadcasts against `scores` (one flag per stacked member)."""
    if isinstance(probability, Tensor):
        return torch.where(probability, torch.sigmoid(scores), scores)
    return torch.sigmoid(scores) if probability else scores


def _sample_norms(grad: Tensor, batch_dims: int) -> Tensor:
    return grad.flatten(batch_dims).norm(dim=-1) if grad.dim() > batch_dims else grad.abs()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
    batch_dims: int = 1,
    eps: Tensor | None = None,
) -> Tensor:
    # WGAN-GP (Gulrajani et al. 2017): E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃,
    # ε ~ U[0, 1] per sample: a soft 1-Lipschitz constraint on lines between real and fake.
    # Returns one value per leading index (a scalar for batch_dims = 1; (N,) for N members).
    # `eps` (shaped real.shape[:batch_dims] + 1s) may be given, e.g. drawn per member.
    if eps is None:
        shape = real.shape[:batch_dims] + (1,) * (real.dim() - batch_dims)
        eps = torch.rand(shape, device=real.device, generator=generator, dtype=real.dtype)
    mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((_sample_norms(grad, batch_dims) - 1.0) ** 2).mean(-1)


def r1_penalty(scores: Tensor, real: Tensor, batch_dims: int = 1) -> Tensor:
    # R1 (Mescheder et al. 2018, eq. 9): R1 = γ/2 · E_x~data[‖∇_x D(x)‖²]. This returns the
    # expectation E‖∇_x D(x)‖² of D's `scores` on `real` (which must require grad and be what
    # D scored, so D runs once); the trainer weighs it by r1_gamma / 2. Under packing each
    # score's gradient is over its whole pack. One value per leading index, as above.
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return (_sample_norms(grad, batch_dims) ** 2).mean(-1)


# ---------------------------------------------------------------------- DiffAugment
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
