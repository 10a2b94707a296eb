"""The named set-ups (`gan-playground presets`, the Train page's preset picker): each a few
settings on top of GANConfig's defaults, checked like any config."""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.errors import ConfigError
from playground.settings.config import GANConfig


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    settings: dict = field(default_factory=dict)

    def config(self) -> GANConfig:
        return GANConfig().replace(**self.settings)


_IMAGE = dict(
    arch="dcgan",
    latent_dim=64,
    loss="nonsaturating",
    lr_g=2e-4,
    lr_d=2e-4,
    beta1=0.5,
    batch_size=64,
    log_every=10,
    sample_every=100,
)

# The set-up both faces of mode collapse share; only the learning rates and length differ.
_RING_COLLAPSE = dict(
    dataset="ring8", loss="nonsaturating", latent_dim=256, layers=2, batch_size=512
)
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "ring8-stable",
            "Ring of 8 Gaussians learned with all 8 modes. The same game as ring8-collapse's "
            "(non-saturating loss) made steady: Adam without momentum (beta1 = 0), so G does "
            "not overshoot towards whichever mode D currently favours, which is what makes it hop; "
            "a large batch (512), so every batch shows D all 8 modes; and samples from an "
            "exponential moving average of G's weights (ema 0.99), which averages away G's "
            "step-to-step jitter. All 8 modes are found within about 2,000 steps. The rest of "
            "the 20,000 sharpens them: G turns one connected cloud of noise into the 8 modes, so "
            "some of its samples always lie on thin bridges between neighbouring modes, and the "
            "longer it trains the thinner the bridges get. That is what raises the share of "
            "high-quality samples, from about 92% at 6,000 steps to about 97% at 20,000.",
            dict(
                dataset="ring8",
                loss="nonsaturating",
                beta1=0.0,
                batch_size=512,
                ema=0.99,
                steps=20000,
            ),
        ),
        Preset(
            "ring8-collapse",
            "The classic mode collapse on the ring of 8: G makes one mode, and makes it well. "
            "The set-up of the unrolled-GAN paper's toy experiment (the original GAN game, "
            "non-saturating; a 256-dimensional latent; two hidden layers; batch 512), except "
            "that D learns twenty times faster than G. D is then always nearly the best "
            "discriminator for the current G: around the mode G reaches first its score peaks at "
            "the mode's centre and pulls G's samples in, so that mode gets sharper, while far "
            "from G's samples it is flat, so nothing pulls G towards the other seven modes. (At "
            "ten times, G moved fast enough that on some seeds it settled on two neighbouring "
            "modes instead of one.) By step 8,000 more than 90% of the samples are high quality, "
            "on one mode.",
            dict(_RING_COLLAPSE, lr_g=5e-5, lr_d=1e-3, steps=8000),
        ),
        Preset(
            "ring8-hopping",
            "Mode hopping on the ring of 8, the other face of mode collapse: the same set-up as "
            "ring8-collapse with equal learning rates. G moves all its mass to wherever D "
            "currently scores as real; D learns to reject that spot as fast as G gets there, so "
            "G's clump of samples keeps sweeping round the ring, mostly between the modes "
            "rather than on one.",
            dict(_RING_COLLAPSE, lr_g=3e-4, lr_d=3e-4, steps=3000),
        ),
        Preset(
            "grid25-stable",
            "5x5 grid of 25 Gaussians, harder than the ring because the modes sit close together: "
            "the ring8-stable recipe (non-saturating loss; Adam without momentum, beta1 = 0, so "
            "G does not overshoot as D's favourite modes change; a batch of 512, so that every "
            "batch shows D all 25 modes; an average of G's weights; 20,000 steps) with PacGAN's "
            "packing: D judges pairs of samples at once (pack 2). Two real samples seldom come "
            "from the same one of 25 modes, so pairs from a G that crowds some modes and starves "
            "others look fake, and D can punish how G shares its samples among the modes, not "
            "only where each sample lies. Without packing, on some seeds G was still missing or "
            "starving a few modes at step 20,000. The modes are found early; the long tail of "
            "training thins the bridges of samples between them, which raises the share of "
            "high-quality samples.",
            dict(
                dataset="grid25",
                loss="nonsaturating",
                beta1=0.0,
                batch_size=512,
                ema=0.99,
                pack=2,
                steps=20000,
            ),
        ),
        Preset(
            "digits-dcgan",
            "DCGAN on the 1,797 bundled handwritten digits, trained at their own size (8x8) "
            "and enlarged only for display: works offline; all ten digits recognisable after "
            "about 1,000 steps, some 10 seconds on a laptop CPU (a 32 px model of the enlarged "
            "digits took minutes, and a 16 px one ended blurrier).",
            dict(
                _IMAGE, dataset="digits", image_size=8, width=32, lr_g=5e-4, lr_d=5e-4,
                steps=1500,
            ),
        ),
        Preset(
            "digits-stylegan",
            "StyleGAN (Karras et al. 2019, 2020) on the bundled digits at 8x8: a mapping "
            "network turns z into a style w, and w scales the (demodulated) convolutions that "
            "grow each digit from a learned 4x4 constant, with per-pixel noise and style "
            "mixing; D is DCGAN's. G learns at StyleGAN2's rate, 0.0025: its weights are drawn "
            "N(0, 1) and scaled at run time, so a step moves them less than DCGAN's. Width 16 "
            "(digits-dcgan's is 32) keeps it within about 1.4 times digits-dcgan's time on a "
            "CPU.",
            dict(
                _IMAGE, dataset="digits", arch="stylegan", image_size=8, width=16, lr_g=2.5e-3,
                lr_d=5e-4, steps=1500,
            ),
        ),
        Preset(
            "mnist-dcgan",
            "DCGAN on MNIST (downloaded on first use, 28x28 grey).",
            dict(_IMAGE, dataset="mnist", image_size=28, steps=5000),
        ),
        Preset(
            "fashion-dcgan",
            "DCGAN on Fashion-MNIST (downloaded on first use, 28x28 grey).",
            dict(_IMAGE, dataset="fashion", image_size=28, steps=5000),
        ),
        Preset(
            "cifar10-dcgan",
            "DCGAN on CIFAR-10 (downloaded on first use, 32x32 colour); best on a GPU.",
            dict(_IMAGE, dataset="cifar10", image_size=32, latent_dim=100, steps=20000),
        ),
        Preset(
            "cifar10-sngan",
            "SNGAN on CIFAR-10 as in its paper (Miyato et al. 2018): ResNet G and D with every D "
            "layer spectrally normalised, hinge loss, Adam (beta1 0, beta2 0.9) at lr 2e-4, 5 D "
            "updates per G update, 50,000 G updates; needs a GPU (downloaded on first use).",
            dict(
                _IMAGE, dataset="cifar10", image_size=32, arch="sngan", width=128, latent_dim=128,
                loss="hinge", beta1=0.0, beta2=0.9, d_steps=5, steps=50000,
            ),
        ),
        Preset(
            "digits-ada",
            "ADA (Karras et al. 2020) on only 100 of the bundled digits: the digits-dcgan set-up "
            "(8x8, DCGAN of width 32) with D shown every image, real or generated, through "
            "random flips, shifts, colour changes and cutouts, each with probability p. p "
            "starts at 0 and is tuned as training goes so that r_t = E[sign D(real)], how "
            "sure D is of the 100 training digits, stays at 0.6: with so few images D soon "
            "knows them by heart, r_t climbs and p rises with it. p may cross its whole range "
            "in 20 thousand images (the paper's 500 thousand suits runs of millions). Watch p "
            "and r_t in the run's history; 1,500 steps, under a minute on a laptop CPU.",
            dict(
                _IMAGE, dataset="digits", image_size=8, width=32, lr_g=5e-4, lr_d=5e-4,
                train_images=100, ada_target=0.6, ada_kimg=20.0, steps=1500,
            ),
        ),
        Preset(
            "digits-infogan",
            "InfoGAN (Chen et al. 2016) on the bundled digits: G's latent is 62 noise "
            "coordinates, a 10-valued categorical code and 2 continuous codes, and a head on D "
            "must tell them back from the image, so G learns to make them visible. The sample "
            "grid shows one category value per row. No labels are used, so what a value comes to "
            "mean is G's choice, a digit or a style. G learns five times faster than D, as in the "
            "paper's MNIST set-up: with equal rates Q still reads the category back, but the "
            "values settle on styles more than on digits. Trained at 16 px (the digits are "
            "8x8), about four times as fast as at 32 px.",
            dict(
                _IMAGE, dataset="digits", image_size=16, width=32, latent_dim=74, info_cat=10,
                info_cont=2, lr_g=1e-3, steps=3000,
            ),
        ),
    ]
}


def preset(name: str) -> GANConfig:
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name].config()
