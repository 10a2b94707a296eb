"""The every-loss view: every loss of the registry trained on the same data, side by side, each
with the training settings its paper recommends (losses.Loss.recommended) and everything else in
common (the data, batch, models, EMA, length and seed).

One set of settings for all would be unfair: tuned for the non-saturating loss, it leaves
WGAN-GP a tiny blob and weight-clipped WGAN a cloud. The view and the command that measures its
claims (`python -m playground.runs.everyloss --seeds 0-9`) both build their members here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from playground.measures.metrics import coverage_2d
from playground.objectives.losses import LOSSES
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.training.multigroups import GroupedRun, member_groups

# The view's length: long enough for the slowest loss that should hold the ring's modes
# (WGAN-GP, whose rate is a tenth of the common one) to find them; see README's table.
VIEW_STEPS = 3000


def common_config(dataset: str, seed: int = 0) -> GANConfig:
    """What every member shares: the dataset's stable preset, at the view's length."""
    return preset(f"{dataset}-stable").replace(steps=VIEW_STEPS, seed=seed)


def every_loss_configs(dataset: str, seed: int = 0) -> list[GANConfig]:
    """One config per loss, in registry order: the common settings with the loss's own."""
    base = common_config(dataset, seed)
    return [base.replace(loss=name, **entry.recommended) for name, entry in LOSSES.items()]


def batched(configs: list[GANConfig]) -> list[bool]:
    """For each member, whether it trains batched with others (True) or on its own beside them."""
    together = {i: len(rows) > 1 for rows in member_groups(configs) for i in rows}
    return [together[i] for i in range(len(configs))]


def _number(value: float) -> str:
    return f"{value:g}"


def differences(cfg: GANConfig, common: GANConfig) -> list[str]:
    """In plain words, how a member's training settings differ from the common ones (only the
    settings its loss uses: no betas for RMSprop, no λ without a gradient penalty)."""
    entry = LOSSES[cfg.loss]
    out = []
    if cfg.optimizer != common.optimizer:
        out.append(f"{cfg.optimizer.replace('rmsprop', 'RMSprop')} instead of Adam")
    if (cfg.lr_g, cfg.lr_d) != (common.lr_g, common.lr_d):
        if cfg.lr_g == cfg.lr_d:
            out.append(f"learning rate {_number(cfg.lr_g)} for both")
        else:
            out.append(f"learning rates G {_number(cfg.lr_g)}, D {_number(cfg.lr_d)}")
    adam = cfg.optimizer == "adam"
    if adam and (cfg.beta1, cfg.beta2) != (common.beta1, common.beta2):
        out.append(f"Adam betas ({_number(cfg.beta1)}, {_number(cfg.beta2)})")
    if cfg.d_steps != common.d_steps:
        out.append(f"{cfg.d_steps} D updates per G update")
    if entry.lipschitz == "gradient penalty":
        out.append(f"gradient penalty weight λ = {_number(cfg.gp_weight)}")
    if entry.lipschitz == "weight clipping":
        out.append(f"D's weights clipped to ±{_number(cfg.clip_value)}")
    if cfg.spectral_norm and not common.spectral_norm:
        out.append("spectral norm on D's layers")
    return out


def common_words(common: GANConfig) -> str:
    """The common settings in one line of plain words."""
    packing = f", D judging packs of {common.pack} samples (PacGAN)" if common.pack > 1 else ""
    return (
        f"Adam, learning rate {_number(common.lr_g)}, betas ({_number(common.beta1)}, "
        f"{_number(common.beta2)}), {common.d_steps} D update per G update, batch "
        f"{common.batch_size}, {common.layers} hidden layers of {common.hidden}{packing}, "
        f"samples from an average of G's weights (EMA {_number(common.ema)}), "
        f"{common.steps:,} steps"
    )


# ---------------------------------------------------------------------- measuring the view
def measure(
    dataset: str, seed: int, losses: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Train the view's members of `losses` (all when None) for the view's length on one seed;
    return each one's modes held and covered on its 512 fixed-noise samples (what the view
    shows), as {"held": {loss: n}, "covered": {loss: n}}.

    Members of one group train exactly as they would beside the others (groups share no weights
    or random streams), so `losses` must be whole groups (multigroups.member_groups)."""
    configs = every_loss_configs(dataset, seed)
    chosen = [i for i, cfg in enumerate(configs) if losses is None or cfg.loss in losses]
    for rows in member_groups(configs):
        if 0 < len(set(rows) & set(chosen)) < len(rows):
            names = ", ".join(configs[i].loss for i in rows)
            raise ValueError(f"losses {names} train as one group: measure them together")
    run = GroupedRun([configs[i] for i in chosen])
    while run.step < run.cfg.steps:
        run.train_step()
    centres, sigma = run.data.centres, run.data.sigma
    found = {
        run.configs[j].loss: coverage_2d(samples, centres, sigma)
        for j, samples in enumerate(run.fixed_samples())
    }
    return {
        key: {loss: m[f"modes_{key}"] for loss, m in found.items()} for key in ("held", "covered")
    }


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure the every-loss view's modes held and covered."
    )
    parser.add_argument("--dataset", default=GANConfig.dataset)  # the app's default dataset
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 100,101")
    parser.add_argument("--losses", default="", help="comma-separated whole groups; all if empty")
    parser.add_argument("--out", default="", help="append one JSON line per seed to this file")
    args = parser.parse_args(argv)
    losses = [s for s in args.losses.split(",") if s] or None
    for seed in _seeds(args.seeds):
        started = time.perf_counter()
        modes = measure(args.dataset, seed, losses)
        line = json.dumps(
            dict(dataset=args.dataset, seed=seed, steps=VIEW_STEPS, **modes,
                 seconds=round(time.perf_counter() - started))
        )
        print(line, flush=True)
        if args.out:
            with Path(args.out).open("a") as fh:
                fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
