"""One source of truth for a run's settings: the dataclass, its validation, JSON, URL and presets.

Every other module reads a validated `GANConfig`; nothing else decides what a legal setting is.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from playground.data import registry as dataset_registry
from playground.errors import JSON_ERRORS, ConfigError, json_problem
from playground.models import infogan
from playground.models.architectures import ARCHITECTURES as ARCHITECTURE_REGISTRY
from playground.objectives.losses import names_where
from playground.objectives.regularisers import REGULARISERS, check_setting
from playground.settings.fields import FIELDS, Field

# Dataset and loss facts validation needs, read from their registries.
POINT_DATASETS = dataset_registry.names_where(kind="points")
LABELLED_IMAGE_DATASETS = dataset_registry.names_where(kind="images", labelled=True)
IMAGE_DATASETS = dataset_registry.names_where(kind="images")
# Losses whose D is a real/fake classifier with a target, so smoothing that target makes sense.
TARGET_LOSSES = names_where(smoothable=True)


@dataclass(frozen=True)
class GANConfig:
    """A run's settings, checked once when made (ConfigError names the first bad one) and never
    changed after: `replace()` gives a new, checked config."""

    # --- data ---
    dataset: str = "ring8"
    data_folder: str = ""  # only for dataset="folder": a folder of images (searched recursively)
    points_file: str = ""  # only for dataset="own-points": a CSV of 2D points (userpoints.py)
    image_size: int = 32  # images are resized and centre-cropped to this many pixels a side
    grayscale: bool = False  # convert colour images to one channel
    # Images only: train on this many of the dataset's images (a fixed draw, the same for every
    # run) and hold the rest out, e.g. to watch D memorise its training set; 0 = all of them.
    train_images: int = 0
    # --- model ---
    arch: str = "mlp"
    conditional: bool = False  # feed the class label to G and D (labelled datasets only)
    hidden: int = 128  # MLP width
    layers: int = 3  # MLP hidden layers
    width: int = 64  # DCGAN base channel count (ngf = ndf)
    latent_dim: int = 2
    spectral_norm: bool = False  # on D's layers
    pack: int = 1  # PacGAN: D judges packs of this many samples at once (1 = plain GAN)
    # InfoGAN (playground/infogan.py): the last info_cat + info_cont coordinates of the latent
    # are codes (a one-hot category, continuous codes in [-1, 1]) that D's Q head predicts.
    info_cat: int = 0  # categories of the categorical code (0 = none)
    info_cont: int = 0  # continuous codes
    info_weight: float = 1.0  # lambda on the mutual-information term
    # --- objective ---
    loss: str = "nonsaturating"
    gp_weight: float = 10.0  # WGAN-GP's lambda
    clip_value: float = 0.01  # WGAN's weight clipping bound c
    label_smoothing: float = 0.0  # one-sided: real target becomes 1 - value
    instance_noise: float = 0.0  # std of Gaussian noise added to D's inputs, annealed to 0
    r1_gamma: float = 0.0  # R1 (Mescheder et al. 2018): gamma/2 E||grad D(real)||^2; 0 = off
    diffaugment: str = ""  # DiffAugment policy for images, e.g. "color,translation,cutout"
    # ADA (objectives/ada.py): p is tuned to keep E[sign D(real)] at ada_target (0 = off), and
    # could go from 0 to 1 in ada_kimg thousand real images.
    ada_target: float = 0.0
    ada_kimg: float = 20.0
    # --- optimisation ---
    optimizer: str = "adam"
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 256
    d_steps: int = 1  # discriminator updates per generator update
    g_steps: int = 1  # generator updates per step
    grad_clip: float = 0.0  # each player's gradient norm is clipped to this before a step; 0 = off
    ema: float = 0.0  # generator EMA decay; 0 turns it off
    # --- run ---
    seed: int = 0
    steps: int = 3000
    log_every: int = 25
    sample_every: int = 250
    eval_every: int = 500  # steps between mode-collapse measures (0 = off)
    device: str = "auto"
    fast_paths: bool = True  # GPU only: bf16 autocast, channels_last, CUDA graphs

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ derived facts
    @property
    def is_points(self) -> bool:
        return self.dataset in POINT_DATASETS

    @property
    def is_labelled(self) -> bool:
        return self.dataset in LABELLED_IMAGE_DATASETS

    # ------------------------------------------------------------------ validation
    def validate(self) -> GANConfig:
        """Check every setting; raise ConfigError naming the first bad one. Returns self."""
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
        for row in FIELDS.values():  # the table's choices and bounds, setting by setting
            _check_row(row, getattr(self, row.name))
        if dataset_registry.DATASETS[self.dataset].user_folder and not self.data_folder.strip():
            raise ConfigError("data_folder", f"dataset '{self.dataset}' needs a folder of images")
        if dataset_registry.DATASETS[self.dataset].user_points and not self.points_file.strip():
            raise ConfigError(
                "points_file", f"dataset '{self.dataset}' needs points: draw them or upload a CSV"
            )
        _check_arch(self)
        if self.train_images and self.is_points:
            raise ConfigError("train_images", "holds out images only; set it to 0 for 2D points")
        if self.conditional and not self.is_labelled:
            raise ConfigError(
                "conditional", f"needs a labelled dataset ({', '.join(LABELLED_IMAGE_DATASETS)})"
            )
        if self.label_smoothing > 0 and self.loss not in TARGET_LOSSES:
            raise ConfigError(
                "label_smoothing",
                f"applies to losses {', '.join(TARGET_LOSSES)} only; set it to 0 for '{self.loss}'",
            )
        for entry in REGULARISERS.values():  # what each regulariser's entry says beyond bounds
            if (problem := check_setting(entry, self)) is not None:
                raise ConfigError(entry.setting, problem)
        if (problem := infogan.check(self)) is not None:
            raise ConfigError(*problem)
        if self.batch_size % self.pack:
            raise ConfigError(
                "pack", f"must divide batch_size ({self.batch_size}); got {self.pack}"
            )
        if self.pack > 1 and self.conditional:
            raise ConfigError("pack", "packing is for unconditional models; set it to 1")
        return self

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        """Build and validate from a dict; unknown keys are refused, missing keys take defaults."""
        if not isinstance(data, dict):
            raise ConfigError("config", "must be a JSON object of settings")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(str(key), f"unknown setting (known: {', '.join(sorted(known))})")
        return cls(**data)  # checked as it is made

    @classmethod
    def from_json(cls, text: str) -> GANConfig:
        try:
            data = json.loads(text)
        except JSON_ERRORS as exc:
            raise ConfigError("config", f"not valid JSON ({json_problem(exc)})") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> GANConfig:
        """A validated copy with some settings changed."""
        return GANConfig.from_dict({**self.to_dict(), **changes})

    def with_strings(self, assignments: dict[str, str]) -> GANConfig:
        """A validated copy with settings given as text (from `--set KEY=VALUE` or a URL)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for key, text in assignments.items():
            if key not in FIELDS:
                raise ConfigError(key, f"unknown setting (known: {', '.join(sorted(FIELDS))})")
            changes[key] = parse_value(key, text, fields[key].type)
        return self.replace(**changes)

    def to_query(self, base: GANConfig | None = None) -> dict[str, str]:
        """The settings that differ from `base` (defaults if None), as strings for a page URL."""
        base_dict = (base or GANConfig()).to_dict()
        return {k: _to_text(v) for k, v in self.to_dict().items() if base_dict[k] != v}


# ---------------------------------------------------------------------- value helpers
_TYPE_NAMES = {"int": int, "float": float, "bool": bool, "str": str}


def _check_type(name: str, value: Any, type_name: Any) -> None:
    expected = _TYPE_NAMES[type_name if isinstance(type_name, str) else type_name.__name__]
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        wanted = "a whole number" if expected is int else expected.__name__
        raise ConfigError(name, f"must be {wanted}, got {type(value).__name__} {value!r}")


def parse_value(name: str, text: str, type_name: Any) -> Any:
    """Parse one setting given as text."""
    expected = _TYPE_NAMES[type_name if isinstance(type_name, str) else type_name.__name__]
    text = text.strip()
    if expected is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"must be true or false, got {text!r}")
    if expected is str:
        return text
    try:
        return expected(text)
    except ValueError:
        wanted = "a whole number" if expected is int else expected.__name__
        raise ConfigError(name, f"must be {wanted}, got {text!r}") from None


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_arch(cfg: GANConfig) -> None:
    arch = ARCHITECTURE_REGISTRY[cfg.arch]
    if cfg.is_points and not arch.points:
        fits = [a.name for a in ARCHITECTURE_REGISTRY.values() if a.points]
        raise ConfigError("arch", f"2D dataset '{cfg.dataset}' needs arch {' or '.join(fits)}")
    if not cfg.is_points and cfg.image_size not in arch.image_sizes:
        raise ConfigError(
            "image_size", f"arch '{cfg.arch}' builds {arch.builds()}; got {cfg.image_size}"
        )


def _check_row(row: Field, value: Any) -> None:
    if row.choices and value not in row.choices:
        raise ConfigError(row.name, f"must be one of {row.bounds_text()}; got {value!r}")
    if row.low is None or isinstance(value, (bool, str)):
        return
    if isinstance(row.low, int) and isinstance(row.high, int):
        if not row.low <= value <= row.high:
            raise ConfigError(
                row.name, f"must be an integer from {row.low} to {row.high}; got {value}"
            )
        return
    # Ints are always finite (and math.isfinite overflows on huge ones); compare them exactly.
    finite = isinstance(value, int) or math.isfinite(value)
    if not finite or not row.low <= value <= row.high:
        raise ConfigError(
            row.name, f"must be a number from {row.low:g} to {row.high:g}; got {value!r}"
        )
