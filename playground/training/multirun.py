"""Many 2D GAN runs trained together as one batched computation.

N members (for example every loss side by side on one dataset, or five seeds of a preset)
share one MLP architecture, batch size and dataset. Their weights are stacked on a leading
member axis, so every layer of all N generators (or discriminators) is one batched matrix
multiply, `torch.baddbmm(b, x, W)` with x (N, B, in), W (N, in, out), b (N, 1, out), and one
Python-level step trains them all. On a CPU that removes most of the per-operation overhead a
small model pays N times over; the arithmetic itself still grows with N (BENCHMARKS.md: six
ring8-stable members cost about five single runs, six hidden-32 ones under two).

Each member keeps what makes it itself: its loss, learning rates, Adam betas, seed (initial
weights and random stream), label smoothing, gradient-penalty weight and clipping bound. With
the same seed a member follows the same trajectory as a lone `Trainer` run of its config, up to
float rounding: same initial weights, same random draws in the same order, same update rules.

Hand-written batched matmuls were measured against `torch.func.vmap(functional_call)` on a
2-core CPU (ring8-stable, N = 6): about 28 ms against 35 ms a step, so the batched matmuls win.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from playground.data.loading import load_dataset
from playground.data.registry import names_where as names_where_data
from playground.data.source import DataSource
from playground.errors import ConfigError
from playground.measures.metrics import coverage_2d
from playground.models.architectures import build_models, build_seeded
from playground.objectives import regularisers as reg
from playground.objectives.losses import LOSSES, names_where
from playground.settings.config import GANConfig
from playground.settings.live import member_changes
from playground.training.devices import resolve_device
from playground.training.fast import FastPaths, StepGraph
from playground.training.history import SERIES, BoundedHistory, carry_forward
from playground.training.stacked import (
    Groups,
    Layers,
    StackedAdam,
    leaky,
    member_norms,
    mlp,
    stack,
    stacked_params,
)
from playground.training.stepcore import Divergence, StepCore
from playground.views.view2d import plot_window

# Settings each member may set for itself; every other setting is shared by all members.
PER_MEMBER = (
    "loss",
    "lr_g",
    "lr_d",
    "beta1",
    "beta2",
    "seed",
    "label_smoothing",
    "gp_weight",
    "clip_value",
)
MAX_MEMBERS = 32


def check_shared(configs: list[GANConfig], free: tuple[str, ...]) -> list[GANConfig]:
    """Validate every member of a multi-run (batched or grouped): 1 to MAX_MEMBERS 2D configs
    sharing every setting except those in `free`; raise ConfigError naming the setting."""
    if not 1 <= len(configs) <= MAX_MEMBERS:
        raise ConfigError(
            "members", f"a multi-run needs 1 to {MAX_MEMBERS} configs, got {len(configs)}"
        )
    configs = list(configs)
    first = configs[0]
    for index, cfg in enumerate(configs[1:], start=1):
        for f in dataclasses.fields(GANConfig):
            mine, theirs = getattr(cfg, f.name), getattr(first, f.name)
            if f.name not in free and mine != theirs:
                raise ConfigError(
                    f.name,
                    f"member {index} has {mine!r} but member 0 has {theirs!r}; members of a "
                    f"multi-run share every setting except {', '.join(free)}",
                )
    if not first.is_points:
        raise ConfigError(
            "dataset", f"a multi-run trains the 2D MLP GANs only; '{first.dataset}' is images"
        )
    return configs


def check_members(configs: list[GANConfig]) -> list[GANConfig]:
    """Validate every member and that they can be batched; raise ConfigError naming the setting."""
    configs = check_shared(configs, PER_MEMBER)
    first = configs[0]
    if first.optimizer != "adam":
        raise ConfigError("optimizer", "a multi-run trains with adam only")
    if first.spectral_norm:
        raise ConfigError("spectral_norm", "a multi-run does not support spectral norm")
    if first.grad_clip:
        raise ConfigError("grad_clip", "a multi-run does not clip gradients; train it alone")
    if first.info_cat or first.info_cont:
        raise ConfigError("info_cat", "a multi-run does not train InfoGAN codes; train it alone")
    for entry in (a.entry for a in reg.active(configs) if not a.entry.batched):
        raise ConfigError(entry.setting, f"a multi-run does not apply {entry.name}; train it alone")
    return configs



def _g_loss(entry, f: torch.Tensor, r: torch.Tensor | None, pick: Callable) -> torch.Tensor:
    """A group's G loss on its members' fake scores, with their real scores when it needs them."""
    return entry.g_loss(f, pick(r)) if entry.g_needs_real else entry.g_loss(f)


# ---------------------------------------------------------------------- the batched trainer
class MultiRun(StepCore):
    """N 2D GANs trained in lock-step. `train_step()` mirrors `Trainer.train_step()` for all of
    them; `histories[i]` holds member i's records under the series names of `trainer.SERIES`."""

    def __init__(
        self,
        configs: list[GANConfig],
        data: DataSource | None = None,
        models: list[tuple[nn.Module, nn.Module]] | None = None,
    ):
        """`models`: each member's (G, D) to stack, as they are (default: built from each
        member's seed, the same initial weights a lone Trainer builds)."""
        self.configs = check_members(list(configs))
        self.cfg = cfg = self.configs[0]  # the shared settings (steps, batch, architecture…)
        self.n = len(self.configs)
        self.device = resolve_device(cfg.device)
        self.data = data if data is not None else load_dataset(cfg, self.device)
        if models is None:
            models = [build_seeded(member, self.data.shape) for member in self.configs]
        if len(models) != self.n:
            raise ValueError(f"{len(models)} (G, D) pairs for {self.n} members")
        gens = [g for g, _ in models]
        discs = [d for _, d in models]
        self.g_layers = stack(gens, nn.ReLU, self.device)
        self.d_layers = stack(discs, nn.LeakyReLU, self.device)
        self.g_ema = (
            [[t.detach().clone() for t in pair] for pair in self.g_layers] if cfg.ema > 0 else None
        )
        betas = ([m.beta1 for m in self.configs], [m.beta2 for m in self.configs])
        self.opt_g = StackedAdam(stacked_params(self.g_layers), self._column("lr_g"), betas)
        self.opt_d = StackedAdam(stacked_params(self.d_layers), self._column("lr_d"), betas)
        self.gens = [torch.Generator(device=self.device).manual_seed(m.seed) for m in self.configs]
        # On a GPU the whole batched step is replayed as one CUDA graph (fast.StepGraph).
        self.fast = FastPaths.for_configs(self.configs, self.device)
        self.graph = StepGraph(self.device, self.gens) if self.fast.graphs else None
        self._probability = torch.tensor(
            [[LOSSES[m.loss].probability] for m in self.configs], device=self.device
        )  # (N, 1): D's output is shown as σ(score) for these
        lipschitz = [LOSSES[m.loss].lipschitz for m in self.configs]
        # The regularisers on for some members (gradient penalty, R1, …), each member drawing
        # from its own stream.
        self._regs = reg.active(self.configs, self.device)
        self._streams = reg.MemberStreams(self.gens)
        # Members sharing a loss (and smoothing) get it computed once over their stacked scores.
        self._d_groups = Groups([(m.loss, m.label_smoothing) for m in self.configs], self.device)
        self._g_groups = Groups([m.loss for m in self.configs], self.device)
        self._g_needs_real = any(LOSSES[m.loss].g_needs_real for m in self.configs)
        real_rows = [i for i, m in enumerate(self.configs) if LOSSES[m.loss].g_needs_real]
        self._real_gens = [self.gens[i] for i in real_rows]
        self._real_rows = torch.tensor(real_rows, dtype=torch.long, device=self.device)
        clipped = [kind == "weight clipping" for kind in lipschitz]
        clip = [m.clip_value if c else math.inf for m, c in zip(self.configs, clipped, strict=True)]
        self._clip = torch.tensor(clip, device=self.device).view(-1, 1, 1)
        self._any_clip = any(clipped)
        self.step = 0
        self.histories = [BoundedHistory() for _ in range(self.n)]
        self._published = tuple(h.data for h in self.histories)  # see history_copies
        self.errors: list[str | None] = [None] * self.n
        self._d_acc = torch.zeros(self.n, 3, device=self.device)  # d_loss, d_real, d_fake
        self._g_acc = torch.zeros(self.n, device=self.device)
        self._grad_norms = torch.zeros(self.n, 2, device=self.device)  # ‖∇G‖, ‖∇D‖
        self._d_count = self._g_count = 0
        self._log_started, self._log_step0 = time.perf_counter(), 0
        self.steps_per_sec = 0.0
        # Each member's fixed noise batch, drawn as Trainer draws it (CPU, seed + 1).
        self.fixed_z = torch.stack(
            [
                torch.randn(
                    512, cfg.latent_dim, generator=torch.Generator().manual_seed(m.seed + 1)
                )
                for m in self.configs
            ]
        ).to(self.device)

    def _column(self, name: str) -> torch.Tensor:
        return torch.tensor([getattr(m, name) for m in self.configs], device=self.device)

    # ------------------------------------------------------------------ batched pieces
    def _G(self, z: torch.Tensor, layers: Layers | None = None) -> torch.Tensor:
        return mlp(z, layers or self.g_layers, F.relu)  # (N, B, 2)

    def _D(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        return mlp(x, self.d_layers, leaky, members).squeeze(-1)  # (N, B)

    def _per_member(self, draw: Callable[[torch.Generator], torch.Tensor]) -> torch.Tensor:
        """Stack one draw per member from that member's own random stream."""
        return torch.stack([draw(gen) for gen in self.gens])

    def _latent(self) -> torch.Tensor:
        shape = (self.cfg.batch_size, self.cfg.latent_dim)
        return self._per_member(lambda g: torch.randn(shape, device=self.device, generator=g))

    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of stacked samples (N, B, 2), as Trainer._d_input per member: the input
        regularisers that are on (instance noise from each member's own stream), then packing
        (N, B / m, 2m). Their settings are shared by all members (check_members)."""
        x = reg.d_input(x, self._regs, self.cfg, self.step, self._streams)
        return reg.pack(x, self.cfg.pack, batch_dims=2)

    def _score(self, scores: torch.Tensor) -> torch.Tensor:
        return reg.shown_score(scores, self._probability)

    def _real_scores(self) -> torch.Tensor:
        """D's scores (N, B') on a fresh real batch for the members whose G loss needs them
        (zeros for the others): only their streams draw, so every other member's draws stay
        those of its lone Trainer."""
        batch, rows, gens = self.cfg.batch_size, self._real_rows, self._real_gens
        real = torch.stack([self.data.sample(batch, g)[0] for g in gens])
        real = reg.d_input(real, self._regs, self.cfg, self.step, reg.MemberStreams(gens))
        with torch.no_grad():
            r = self._D(reg.pack(real, self.cfg.pack, batch_dims=2), rows)
        return r.new_zeros(self.n, r.shape[1]).index_copy(0, rows, r)

    # ------------------------------------------------------------------ the step
    def d_update(self, want_norm: bool = False) -> None:
        batch = self.cfg.batch_size
        real = self._per_member(lambda g: self.data.sample(batch, g)[0])  # (N, B, 2)
        z = self._latent()
        with torch.no_grad():
            fake = self._G(z)
        real, fake = self._d_input(real), self._d_input(fake)
        if reg.needs_real_grad(self._regs):  # e.g. R1: D's gradient w.r.t. real inputs
            real = real.detach().requires_grad_(True)
        r, f = self._D(real), self._D(fake)  # (N, B')
        loss = self._d_groups.apply(
            lambda key, pick: LOSSES[key[0]].d_loss(pick(r), pick(f), key[1])
        )  # (N,): members' parameters are disjoint, so one backward
        # The regularisers' terms, per member where they are on (the gradient penalty of the
        # members whose loss uses one, R1, …): one value per member.
        term = reg.DTerm(real, fake, r, lambda x, members: self._D(x, members), self._streams)
        loss = reg.add_d_terms(loss, self._regs, term)
        self.opt_d.zero_grad()
        loss.sum().backward()
        if want_norm:
            self._grad_norms[:, 1] = member_norms(self.opt_d.params)
        self.opt_d.step()
        if self._any_clip:  # WGAN members: clip every D weight to [-c, c] (others have c = inf)
            with torch.no_grad():
                for p in self.opt_d.params:
                    p.clamp_(min=-self._clip, max=self._clip)
        with torch.no_grad():
            stats = [loss.detach(), self._score(r.detach()).mean(1), self._score(f).mean(1)]
            self._d_acc += torch.stack(stats, dim=1)
        self._d_count += 1

    def g_update(self, want_norm: bool = False) -> None:
        f = self._D(self._d_input(self._G(self._latent())))
        r = self._real_scores() if self._g_needs_real else None
        loss = self._g_groups.apply(lambda key, pick: _g_loss(LOSSES[key], pick(f), r, pick))
        self.opt_g.zero_grad()
        loss.sum().backward(inputs=self.opt_g.params)  # G's gradients only: D's are not needed
        if want_norm:
            self._grad_norms[:, 0] = member_norms(self.opt_g.params)
        self.opt_g.step()
        if self.g_ema is not None:
            with torch.no_grad():
                ema = stacked_params(self.g_ema)
                torch._foreach_lerp_(ema, self.opt_g.params, 1.0 - self.cfg.ema)
        with torch.no_grad():
            self._g_acc += loss.detach()
        self._g_count += 1

    def train_step(
        self, d: bool = True, g: bool = True, log_now: bool = False
    ) -> list[dict[str, float] | None] | None:
        """One step for every member; on a logging step, the members' records (None for a
        member that has diverged). `log_now` (a manual step) logs as Trainer.train_step's."""
        if log_now and (self._d_count or self._g_count):
            self.flush_log()
        logging = log_now or (self.step + 1) % self.cfg.log_every == 0
        self._step_updates(d, g, logging)
        self.step += 1
        return self.flush_log(manual=log_now) if logging else None

    def history_copies(self) -> list[dict[str, list[float]]]:
        """Every member's history as it stood after one whole log: all members' series of one
        length, even while the training thread is logging (see BoundedHistory.append)."""
        return [{k: list(v) for k, v in data.items()} for data in self._published]

    def flush_log(self, manual: bool = False) -> list[dict[str, float] | None]:
        """One host copy for all members; a member that turned NaN/inf is frozen and marked.
        A manual step's records are stored at once, as Trainer.flush_log's."""
        ran = {"d": self._d_count > 0, "g": self._g_count > 0}
        d_stats, g_stats, norms = self._take_sums(measure_speed=not manual)
        records: list[dict[str, float] | None] = []
        for i in range(self.n):
            if self.errors[i] is not None:
                records.append(None)
                continue
            values = [d_stats[i][0], g_stats[i], d_stats[i][1], d_stats[i][2], *norms[i]]
            record = {"step": float(self.step), **dict(zip(SERIES, values, strict=True))}
            carried = carry_forward(record, ran, self.histories[i].last())
            bad = [k for k, v in record.items() if not math.isfinite(v) and k not in carried]
            if bad:
                self._freeze(i, bad, record)
                records.append(None)
                continue
            self.histories[i].append(record, flush=manual)
            records.append(record)
        self._published = tuple(h.data for h in self.histories)  # one assignment: all or none
        if all(e is not None for e in self.errors):
            raise Divergence(f"every member diverged; member 0: {self.errors[0]}")
        return records

    def _freeze(self, i: int, bad: list[str], record: dict[str, float]) -> None:
        m = self.configs[i]
        self.errors[i] = (
            f"training diverged at step {self.step}: {', '.join(bad)} became {record[bad[0]]}. "
            f"Try lower learning rates (now lr_g={m.lr_g:g}, lr_d={m.lr_d:g}) or a gradient "
            f"penalty (loss {' or '.join(names_where(lipschitz='gradient penalty'))})."
        )
        self.opt_g.lr[i] = 0.0  # its slice stops moving; the other members are unaffected
        self.opt_d.lr[i] = 0.0

    def set_hyper(self, member: int | None = None, **changes) -> None:
        """Change the learning rates (lr_g, lr_d) of one member (None: every member), validated
        like a config, before the next step; ConfigError for anything else."""
        members, changes = member_changes(self.n, member, changes)
        if not changes:
            return
        for i in members:
            self.configs[i] = self.configs[i].replace(**changes)
            if self.errors[i] is None:
                self.opt_g.lr[i] = self.configs[i].lr_g
                self.opt_d.lr[i] = self.configs[i].lr_d

    # ------------------------------------------------------------------ looking at members
    @property
    def sampler_layers(self) -> Layers:
        """Generator weights used for pictures: the EMA copies when there are some."""
        return [tuple(p) for p in self.g_ema] if self.g_ema is not None else self.g_layers

    @torch.inference_mode()
    def samples(self, member: int, n: int, seed: int = 0) -> torch.Tensor:
        """n samples (n, 2) of one member on the CPU, from noise seeded as Trainer.sample does."""
        z = torch.randn(n, self.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
        layers = [(w[member : member + 1], b[member : member + 1]) for w, b in self.sampler_layers]
        return self._G(z.to(self.device).unsqueeze(0), layers)[0].float().cpu()

    def coverage(self, member: int, n: int = 2500, seed: int = 0) -> dict:
        """Mode-coverage measures (metrics.coverage_2d) of one member; mixtures only."""
        if self.data.centres is None:
            raise ValueError(
                f"coverage needs a Gaussian mixture ({', '.join(names_where_data(mixture=True))}), "
                f"not {self.cfg.dataset}"
            )
        return coverage_2d(self.samples(member, n, seed), self.data.centres, self.data.sigma)

    @torch.inference_mode()
    def fixed_samples(self) -> np.ndarray:
        """Every member's samples of its fixed noise batch: (N, 512, 2) float32."""
        return self._G(self.fixed_z, self.sampler_layers).float().cpu().numpy()

    def extent(self) -> tuple[float, float, float, float]:
        """The same 2D window Trainer.extent computes for this dataset."""
        if not hasattr(self, "_extent"):
            self._extent = plot_window(self.data)
        return self._extent

    @torch.inference_mode()
    def decision_maps(self, resolution: int = 64) -> np.ndarray:
        """Each member's D output over `extent()`: (N, resolution, resolution), top row high y."""
        x0, x1, y0, y1 = self.extent()
        xs = torch.linspace(x0, x1, resolution, device=self.device)
        ys = torch.linspace(y1, y0, resolution, device=self.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([gx, gy], dim=-1).reshape(-1, 2).repeat(1, self.cfg.pack)
        scores = self._score(self._D(points.expand(self.n, *points.shape)))
        return scores.reshape(self.n, resolution, resolution).float().cpu().numpy()

    def generator_module(self, member: int) -> nn.Module:
        """A plain models.py generator holding one member's (EMA) weights, e.g. for a
        latent.LatentModel or a figure."""
        with torch.device("meta"):
            g, _ = build_models(self.configs[member], self.data.shape)
        state = {}
        names = [name for name, mod in g.named_modules() if isinstance(mod, nn.Linear)]
        for name, (w, b) in zip(names, self.sampler_layers, strict=True):
            state[f"{name}.weight"] = w[member].detach().t().contiguous().cpu().clone()
            state[f"{name}.bias"] = b[member, 0].detach().cpu().clone()
        g.load_state_dict(state, assign=True)
        return g.eval().requires_grad_(False)

