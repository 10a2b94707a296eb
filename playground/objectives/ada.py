"""ADA, adaptive discriminator augmentation (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data", StyleGAN2-ADA): every image D sees, real or generated,
goes through a chain of random transforms, each applied with probability p, and p is tuned as
training goes from how sure D is of the real images. Its registry entry, which turns it on in
the step, is in regularisers.

The overfitting heuristic r_t = E[sign(D(real))] is 0 when D cannot tell the training images
from anything else and 1 when it scores every one as real, i.e. when it has learnt them by heart.
Every INTERVAL D updates, p moves by a fixed step towards keeping r_t at the target (0.6 in the
paper): up while r_t is above it, down while below, clamped to [0, 1]. The step is sized so
that p could go from 0 to 1 in `ada_kimg` thousand real images: batch · INTERVAL /
(ada_kimg · 1000). The paper uses 500 (thousand images), for runs of millions of images; a
lesson's run of a few thousand steps of 64 images sees some 200 thousand, so this project's
default is 20: p can cross its whole range in about 300 D updates at batch 64.

Because each transform is applied with probability p < 1 and its parameters are drawn from a
symmetric range, G cannot lower its loss by making augmented-looking images (the transforms do
not "leak") as long as p stays below about 0.8 (the paper's figure 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from playground.objectives.diffaugment import (
    rand_brightness,
    rand_contrast,
    rand_cutout,
    rand_saturation,
    rand_translation,
)

Tensor = torch.Tensor

INTERVAL = 4  # D updates between two adjustments of p (the paper's ada_interval)
SERIES = ("ada_p", "ada_rt")  # what an ADA run logs: p, and r_t averaged since the last log


def xflip(x: Tensor, gen: torch.Generator | None = None) -> Tensor:
    """Mirror every image left to right (ADA's first transform; `gen` is unused: the draw of
    whether to flip an image is ADA's, made in `augment`)."""
    return x.flip(-1)


# ADA's chain, a subset of the paper's "bgc" pipeline that suits small grey or colour images:
# x-flip and integer translation (its "blit" group), brightness, saturation, contrast (its
# colour group), and cutout, which the paper tried on top. Each link is applied to each image
# with probability p, independently. The transforms are DiffAugment's (diffaugment.py): their
# ranges are symmetric (translation by up to 1/8 of the image, brightness ±0.5, saturation and
# contrast around 1), which is what keeps them from leaking into G at p < 0.8.
TRANSFORMS: tuple[Callable[..., Tensor], ...] = (
    xflip,
    rand_translation,
    rand_brightness,
    rand_saturation,
    rand_contrast,
    rand_cutout,
)


def augment(x: Tensor, p: Tensor | float, gen: torch.Generator | None = None) -> Tensor:
    """Images x (B, C, H, W) with each transform of TRANSFORMS applied to each image with
    probability `p` (a number or a 0-d tensor on x's device, so no host sync). Differentiable
    in x, so G's gradient flows through it; exactly x at p = 0."""
    for transform in TRANSFORMS:
        chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=gen) < p  # (B,1,1,1)
        x = torch.where(chosen, transform(x, gen), x)
    return x


class AdaState:
    """One run's ADA state: p, and r_t's running sums, all on the run's device so that a step
    never waits for the host; the host reads them only at a log (`logged`)."""

    def __init__(self, target: float, kimg: float, batch_size: int, device: torch.device | str):
        self.target = target
        # How far p moves at each adjustment: it could go from 0 to 1 in kimg thousand images.
        self.adjust = batch_size * INTERVAL / (kimg * 1000)
        self.p = torch.zeros((), device=device)
        self._signs = torch.zeros((), device=device)  # sum of E[sign(D(real))] since adjusting
        self._seen = 0  # D updates since p was last adjusted
        self._log_signs = torch.zeros((), device=device)  # the same since the last log
        self._log_seen = 0

    @classmethod
    def of(cls, cfg, device: torch.device | str) -> AdaState:
        """The state of a run with config `cfg` (its ada_target, ada_kimg and batch_size)."""
        return cls(cfg.ada_target, cfg.ada_kimg, cfg.batch_size, device)

    def observe(self, real_scores: Tensor) -> None:
        """D's raw scores on one real batch (any shape; sign > 0 means "real"). Every INTERVAL
        calls, p steps towards keeping r_t = E[sign(D(real))] at the target."""
        mean_sign = torch.sign(real_scores.detach().float()).mean()
        self._signs += mean_sign
        self._log_signs += mean_sign
        self._seen += 1
        self._log_seen += 1
        if self._seen >= INTERVAL:
            r_t = self._signs / self._seen
            # p += sign(r_t − target) · batch · interval / (kimg · 1000), clamped to [0, 1]
            self.p.add_(torch.sign(r_t - self.target) * self.adjust).clamp_(0.0, 1.0)
            self._signs.zero_()
            self._seen = 0

    def logged(self) -> dict[str, float]:
        """p now and r_t averaged over the D updates since the last log (NaN when there were
        none); the sums restart. The one host read."""
        p, signs = torch.stack([self.p, self._log_signs]).tolist()
        r_t = signs / self._log_seen if self._log_seen else math.nan
        self._log_signs.zero_()
        self._log_seen = 0
        return {"ada_p": p, "ada_rt": r_t}

    def resume(self, record: dict[str, float] | None) -> None:
        """Take p back from a run's last logged point (a run loaded from a checkpoint goes on
        from where its p was, not from 0). Nothing changes without a finite logged p."""
        p = (record or {}).get("ada_p")
        if p is not None and math.isfinite(p):
            self.p.fill_(min(max(float(p), 0.0), 1.0))
