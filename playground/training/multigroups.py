"""A multi-run whose members differ in more than a batched MultiRun allows.

MultiRun batches members that share every setting but a few (multirun.PER_MEMBER). Trained with
the settings their papers recommend, the losses of the every-loss view also differ in their D
updates per step, their optimiser (RMSprop, say) and spectral norm. `GroupedRun`
trains such members in lock-step as groups: the members that can be batched together (Adam, no
spectral norm, the same settings but those of multirun.PER_MEMBER) as one MultiRun, and each
member that cannot be batched (another optimiser, spectral norm) as a lone Trainer beside them.
Members share only the data and the run's length and rhythm (SHARED), so a G of another shape
(lesson 2's fix beside its collapsing run) trains beside the others too. A member follows the
trajectory of a lone Trainer of its config either way (a MultiRun member up to float rounding).

It offers what MultiRunner reads of a MultiRun (step, cfg, configs, errors, train_step,
history_copies, fixed_samples, decision_maps, extent, set_hyper), so the thread and the pages
cannot tell the two apart.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch
from torch import nn

from playground.data.loading import load_dataset
from playground.data.source import DataSource
from playground.errors import ConfigError
from playground.measures.metrics import coverage_2d
from playground.settings.config import GANConfig
from playground.settings.live import member_changes
from playground.training.devices import resolve_device
from playground.training.multirun import PER_MEMBER, MultiRun, check_members, check_shared
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer
from playground.views.view2d import Manifold, manifold, plot_window

# Settings every member shares: the data, the length of the run and its rhythm (when records,
# pictures and measures are taken), and where it runs. Every other setting may differ: members
# that differ only in multirun.PER_MEMBER train batched together, the others in groups of their
# own or as lone Trainers (lesson 2 sets a collapsing run beside its fix, whose G has another
# shape).
SHARED = (
    "dataset",
    "data_folder",
    "points_file",
    "image_size",
    "grayscale",
    "train_images",
    "steps",
    "log_every",
    "sample_every",
    "eval_every",
    "device",
    "fast_paths",
)


def batchable(cfg: GANConfig) -> bool:
    """Whether a member can train in a batched MultiRun (multirun.check_members: Adam, no
    spectral norm on D, no gradient clipping, no InfoGAN codes, batched regularisers only)."""
    try:
        check_members([cfg])
    except ConfigError:
        return False
    return True


def _free(configs: list[GANConfig]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(configs[0]) if f.name not in SHARED)


def check_grouped(configs: list[GANConfig]) -> list[GANConfig]:
    """Validate every member and that they can train side by side; raise ConfigError naming
    the setting. Members share the settings in SHARED."""
    configs = check_shared(list(configs), _free(list(configs)) if configs else ())
    for cfg in configs:
        if cfg.info_cat or cfg.info_cont:
            raise ConfigError(
                "info_cat", "a multi-run does not train InfoGAN codes; train it alone"
            )
    return configs


def _batch_key(cfg: GANConfig) -> tuple:
    """What members must share to be batched together: every setting but PER_MEMBER."""
    return tuple(getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in PER_MEMBER)


def member_groups(configs: list[GANConfig]) -> list[list[int]]:
    """The members' indices by group: one batched group per set of shared settings (in order of
    first appearance; members differing in D updates per step, say, are two groups), then
    each member that cannot be batched on its own."""
    batched: dict[tuple, list[int]] = {}
    lone = []
    for i, cfg in enumerate(configs):
        if batchable(cfg):
            batched.setdefault(_batch_key(cfg), []).append(i)
        else:
            lone.append([i])
    return list(batched.values()) + lone


class GroupedRun:
    """N 2D GANs in lock-step, in batched groups and lone Trainers (see the module's text).
    `train_step()` steps every group once; records and errors are per member, in order."""

    def __init__(self, configs: list[GANConfig], data: DataSource | None = None):
        self.configs = check_grouped(list(configs))
        self.cfg = self.configs[0]  # its SHARED settings are every member's (steps, logging…)
        self.n = len(self.configs)
        self.device = resolve_device(self.cfg.device)
        self.data = data if data is not None else load_dataset(self.cfg, self.device)
        self.groups: list[tuple[list[int], MultiRun | Trainer]] = []
        for rows in member_groups(self.configs):
            if batchable(self.configs[rows[0]]):
                engine = MultiRun([self.configs[i] for i in rows], self.data)
            else:  # a lone Trainer; its mode measures are the view's to take, not its own
                engine = Trainer(self.configs[rows[0]].replace(eval_every=0), self.data)
            self.groups.append((rows, engine))
        self._place = {i: (engine, j) for rows, engine in self.groups for j, i in enumerate(rows)}
        self.step = 0
        self.errors: list[str | None] = [None] * self.n
        self.steps_per_sec = 0.0
        self._log_started, self._log_step0 = time.perf_counter(), 0
        self._publish()

    # ------------------------------------------------------------------ the step
    def train_step(
        self, d: bool = True, g: bool = True, log_now: bool = False
    ) -> list[dict[str, float] | None] | None:
        """One step of every group that still trains; on a logging step, the members' records
        (None for a member that has diverged). `log_now` as MultiRun.train_step's."""
        logging = log_now or (self.step + 1) % self.cfg.log_every == 0
        records: list[dict[str, float] | None] = [None] * self.n
        for rows, engine in self.groups:
            if all(self.errors[i] is not None for i in rows):
                continue
            try:
                out = engine.train_step(d, g, log_now=log_now)
            except Divergence as exc:  # a lone member, or every member of a batched group
                out = None
                for i in rows:
                    self.errors[i] = self.errors[i] or str(exc)
            if isinstance(engine, MultiRun):
                for i, error in zip(rows, engine.errors, strict=True):
                    self.errors[i] = self.errors[i] or error
                for i, record in zip(rows, out or [None] * len(rows), strict=True):
                    records[i] = record
            elif out is not None:
                records[rows[0]] = out
        self.step += 1
        self._publish()
        if logging and not log_now:
            now = time.perf_counter()
            self.steps_per_sec = (self.step - self._log_step0) / max(now - self._log_started, 1e-9)
            self._log_started, self._log_step0 = now, self.step
        if all(e is not None for e in self.errors):
            raise Divergence(f"every member diverged; member 0: {self.errors[0]}")
        return records if logging else None

    def _publish(self) -> None:
        """Every member's history dict as it stands after a whole step, in one assignment:
        histories are copy-on-write (history.BoundedHistory), so a reader on another thread
        sees series of one length for every member."""
        data: list[dict[str, list[float]]] = [{}] * self.n
        for rows, engine in self.groups:
            if isinstance(engine, MultiRun):
                for i, history in zip(rows, engine.histories, strict=True):
                    data[i] = history.data
            else:
                data[rows[0]] = engine.history.data
        self._published = tuple(data)

    def history_copies(self) -> list[dict[str, list[float]]]:
        """Every member's history as it stood after the last whole step."""
        return [{k: list(v) for k, v in data.items()} for data in self._published]

    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change the learning rates (lr_g, lr_d) of one member (None: every member), validated
        like a config, before the next step; ConfigError for anything else."""
        members, changes = member_changes(len(self.configs), member, changes)
        if not changes:
            return
        for i in members:
            updated = self.configs[i].replace(**changes)  # raises ConfigError for a bad value
            engine, j = self._place[i]
            if isinstance(engine, MultiRun):
                engine.set_hyper(j, **changes)
            elif self.errors[i] is None:
                engine.apply(changes)
            self.configs[i] = updated

    # ------------------------------------------------------------------ looking at members
    def group_of(self, member: int) -> str:
        """In words, how a member trains: 'batched with k others', 'batched' or 'on its own'."""
        engine, _ = self._place[member]
        if not isinstance(engine, MultiRun):
            return "on its own"
        return f"batched with {engine.n - 1} others" if engine.n > 1 else "batched"

    def samples(self, member: int, n: int, seed: int = 0) -> torch.Tensor:
        """n samples (n, 2) of one member on the CPU, from noise seeded as Trainer.sample does."""
        engine, j = self._place[member]
        if isinstance(engine, MultiRun):
            return engine.samples(j, n, seed)
        return engine.sample(n, seed)

    def coverage(self, member: int, n: int = 2500, seed: int = 0) -> dict:
        """Mode-coverage measures (metrics.coverage_2d) of one member; mixtures only."""
        if self.data.centres is None:
            raise ValueError(f"coverage needs a Gaussian mixture, not {self.cfg.dataset}")
        return coverage_2d(self.samples(member, n, seed), self.data.centres, self.data.sigma)

    def fixed_samples(self) -> np.ndarray:
        """Every member's samples of its fixed noise batch: (N, 512, 2) float32."""
        return self._gather(lambda multi: multi.fixed_samples(), Trainer.fixed_samples)

    def decision_maps(self, resolution: int = 64) -> np.ndarray:
        """Each member's D output over `extent()`: (N, resolution, resolution)."""
        return self._gather(
            lambda multi: multi.decision_maps(resolution),
            lambda trainer: trainer.decision_map(resolution),
        )

    def manifolds(self) -> list[Manifold]:
        """Each member's G manifold on its fixed random latent plane (view2d.manifold), as a
        lone Run's frames carry it."""
        return [
            manifold(self.generator_module(i), cfg.latent_dim, "random", seed=cfg.seed)
            for i, cfg in enumerate(self.configs)
        ]

    def _gather(self, batched, lone) -> np.ndarray:
        """One array per member in member order: batched(MultiRun) gives a group's stack,
        lone(Trainer) one member's array."""
        parts: list[np.ndarray | None] = [None] * self.n
        for rows, engine in self.groups:
            stacked = batched(engine) if isinstance(engine, MultiRun) else lone(engine)[None]
            for i, part in zip(rows, stacked, strict=True):
                parts[i] = part
        return np.stack(parts)

    def extent(self) -> tuple[float, float, float, float]:
        """The same 2D window Trainer.extent computes for this dataset."""
        if not hasattr(self, "_extent"):
            self._extent = plot_window(self.data)
        return self._extent

    def generator_module(self, member: int) -> nn.Module:
        """A plain models.py generator holding one member's (EMA) weights."""
        engine, j = self._place[member]
        if isinstance(engine, MultiRun):
            return engine.generator_module(j)
        return copy.deepcopy(engine.sampler).eval().requires_grad_(False)
