"""Which settings a live run may change, and the check that a change is one of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from playground.errors import ConfigError
from playground.models.architectures import build_models
from playground.objectives.losses import names_where
from playground.settings.config import GANConfig
from playground.settings.fields import LIVE_SETTINGS

GP_LOSSES = " or ".join(names_where(lipschitz="gradient penalty"))  # for advice in messages


@dataclass
class Hyper:
    """Learning rates and D steps to change between steps (kept for callers that name just
    these; `Trainer.apply` takes any of config.LIVE_SETTINGS as a mapping too)."""

    lr_g: float | None = None
    lr_d: float | None = None
    d_steps: int | None = None


def check_live_changes(cfg: GANConfig, changes: Mapping[str, Any]) -> GANConfig:
    """`cfg` with `changes` applied, validated, where each change is one a live run can take
    with full effect (config.LIVE_SETTINGS); raises ConfigError naming the first that is not.
    A setting given at its current value is no change and always passes."""
    real = {k: v for k, v in changes.items() if not _same(getattr(cfg, k, _MISSING), v)}
    for key in real:
        if key not in LIVE_SETTINGS:
            known = {f.name for f in dataclasses.fields(GANConfig)}
            if key not in known:
                raise ConfigError(key, f"unknown setting (known: {', '.join(sorted(known))})")
            raise ConfigError(
                key,
                "cannot change on a live or resumed run (it shapes the models, the data or the "
                f"random streams); start a new run. Settings that can change: "
                f"{', '.join(LIVE_SETTINGS)}",
            )
    new = cfg.replace(**real)
    if new.loss != cfg.loss and _layer_layout(new) != _layer_layout(cfg):
        raise ConfigError(
            "loss",
            f"'{cfg.loss}' -> '{new.loss}' would change D's layers for this architecture "
            "(its D drops batch norm under a gradient penalty, loss "
            f"{GP_LOSSES}); start a new run for it",
        )
    return new


_MISSING = object()


def _same(old: Any, new: Any) -> bool:
    # 1 and 1.0 are the same number; True and 1 are not the same setting.
    return old is not _MISSING and isinstance(old, bool) == isinstance(new, bool) and old == new


def _layer_layout(cfg: GANConfig) -> tuple:
    """The names and shapes of G's and D's tensors for `cfg`, built on the meta device (no
    memory, no data): two configs with the same layout can share one set of weights."""
    shape = (2,) if cfg.is_points else (1, cfg.image_size, cfg.image_size)
    with torch.device("meta"):
        g, d = build_models(cfg, shape, 10 if cfg.conditional else 0)
    return tuple(
        (name, tuple(t.shape)) for m in (g, d) for name, t in m.state_dict().items()
    )


BATCHED_LIVE_SETTINGS = ("lr_g", "lr_d")  # what a member of a batched run may change live


def member_changes(
    n: int, member: int | None, changes: Mapping[str, Any]
) -> tuple[range, dict[str, Any]]:
    """The members a batched run's `set_hyper(member, **changes)` acts on (None: all of its
    `n`), and the changes without the None ("leave it") values. ConfigError for a member out of
    range or a setting a batched run cannot change live."""
    if member is not None and not (isinstance(member, int) and 0 <= member < n):
        raise ConfigError("member", f"must be from 0 to {n - 1}; got {member!r}")
    real = {k: v for k, v in changes.items() if v is not None}
    for key in real:
        if key not in BATCHED_LIVE_SETTINGS:
            raise ConfigError(key, "cannot change while a batched run trains (live there: "
                              f"{', '.join(BATCHED_LIVE_SETTINGS)})")
    return (range(n) if member is None else range(member, member + 1)), real


def check_single_member(member: int | None) -> None:
    """A single run's `set_hyper(member=...)`: it is member 0 of one; anything else is refused."""
    if member not in (None, 0):
        raise ConfigError("member", f"a single run has only member 0; got {member!r}")
