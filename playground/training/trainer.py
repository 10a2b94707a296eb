"""The GAN step and its bookkeeping.

`Trainer` owns the data, G, D, their optimisers and a bounded history; `train_step()` is one
generator update preceded by `d_steps` discriminator updates, and returns a log record every
`log_every` steps. Losses are summed on the device and copied to the host only at those log
steps, so a GPU is never stalled by a per-step `.item()`.

Its pieces live beside it: the history (history), the live-change check (livechanges), the
last good state (goodstate), the optimisers (optim), the device (devices) and what the
batched multi-run shares with it (stepcore). The names other modules import from here are
re-exported below.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from playground.data.loading import load_dataset
from playground.data.source import DataSource
from playground.measures.evaluation import MeasureSeries, measure_live
from playground.models import infogan
from playground.models.architectures import build_seeded
from playground.objectives import regularisers as reg
from playground.objectives.losses import LOSSES
from playground.settings.config import GANConfig
from playground.settings.live import GP_LOSSES, Hyper, check_live_changes
from playground.training import goodstate
from playground.training.devices import resolve_device
from playground.training.fast import FastPaths, StepGraph
from playground.training.history import PLAYER_SERIES, SERIES, BoundedHistory, carry_forward
from playground.training.optim import (
    clip_gradients,
    ema_update,
    grad_norm,
    make_optimizer,
    set_hyper_parameters,
)
from playground.training.stepcore import Divergence, StepCore
from playground.views import images
from playground.views.view2d import plot_window

_D_STATS, _G_STATS = 3, 1  # (d_loss, d_real, d_fake) and (g_loss,) accumulated on the device


class Trainer(StepCore):
    def __init__(self, cfg: GANConfig, data: DataSource | None = None, n_fixed: int | None = None):
        self.cfg = cfg  # a GANConfig is checked when made
        self.codes = infogan.Codes.of(cfg)  # InfoGAN's latent codes (empty without)
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = (
                True  # fixed shapes: let cuDNN pick its fastest kernels
            )
        self.data = data if data is not None else load_dataset(cfg, self.device)
        g, d = build_seeded(cfg, self.data.shape, self.data.num_classes)
        # GPU fast paths (cfg.fast_paths, CUDA only; see FastPaths): bf16 autocast and
        # channels_last for the convolutional models, the whole step replayed as a CUDA graph.
        self.fast = FastPaths.for_config(cfg, self.device)
        if self.fast.channels_last:
            g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        self.G, self.D = g.to(self.device), d.to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if cfg.ema > 0 else None
        self._opt_g: torch.optim.Optimizer | None = None  # built at first use: see opt_g
        self._opt_d: torch.optim.Optimizer | None = None
        self._set_loss()
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self._streams = reg.OneStream(self.gen)
        self.graph = StepGraph(self.device, [self.gen]) if self.fast.graphs else None
        self.step = 0
        # InfoGAN logs its L_I too, and a stateful regulariser its own series (ADA: p and
        # r_t), series older checkpoints lack (see BoundedHistory).
        extra = infogan.SERIES if self.codes else ()
        extra_d = reg.series(self._regs)  # made in D's updates
        self.history = BoundedHistory(
            ("step",) + SERIES + extra + extra_d, optional=extra + extra_d
        )
        self._player_series = {
            "d": PLAYER_SERIES["d"] + extra_d, "g": PLAYER_SERIES["g"] + extra
        }
        self.measures = MeasureSeries()  # mode-collapse measures every eval_every steps
        self.evaluator = None  # what they compare against, built at the first evaluation
        self._d_acc = torch.zeros(_D_STATS, device=self.device)
        self._g_acc = torch.zeros(_G_STATS + len(extra), device=self.device)
        self._d_count = self._g_count = 0
        self._half_step = False  # a step's first phase ran (ends_step=False); the next ends it
        self._grad_norms = torch.zeros(2, device=self.device)
        self._log_started = time.perf_counter()
        self._log_step0 = 0
        self.steps_per_sec = 0.0
        self._good: goodstate.GoodState | None = None  # the state at the last finite log
        self._init_fixed_noise(n_fixed)

    # ------------------------------------------------------------------ set-up helpers
    def _init_fixed_noise(self, n_fixed: int | None) -> None:
        """One fixed noise batch (drawn on the CPU, so it is the same on every device) makes the
        sample grids comparable over time."""
        n = n_fixed or (512 if self.data.kind == "points" else 64)
        cpu = torch.Generator().manual_seed(self.cfg.seed + 1)
        self.fixed_z = torch.randn(n, self.cfg.latent_dim, generator=cpu).to(self.device)
        classes = self.data.num_classes if self.cfg.conditional else 0
        self.fixed_labels = (torch.arange(n) % classes).to(self.device) if classes else None
        if self.codes:  # InfoGAN: the grid sweeps the codes (one category per row)
            self.fixed_z = self.codes.sweep(self.fixed_z)

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        """G's optimiser. Both are built at first use, not with the models: a process's first
        optimiser imports torch's compiler stack (about a second on a 2-core CPU), and a run
        draws its first picture before its first step, so that picture need not wait for it."""
        if self._opt_g is None:
            self._opt_g = self._optimizer(self.G, self.cfg.lr_g)
        return self._opt_g

    @property
    def opt_d(self) -> torch.optim.Optimizer:
        """D's optimiser (see opt_g)."""
        if self._opt_d is None:
            self._opt_d = self._optimizer(self.D, self.cfg.lr_d)
        return self._opt_d

    def _optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        return make_optimizer(self.cfg, model.parameters(), lr, self.device, self.fast.graphs)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes if self.cfg.conditional else 0

    def apply(self, changes: Hyper | Mapping[str, Any]) -> None:
        """Change live settings (config.LIVE_SETTINGS) between steps, with full effect: the
        config records them, the optimisers get the new rates and betas, the losses switch.
        Anything else raises ConfigError (see check_live_changes) and nothing changes."""
        if isinstance(changes, Hyper):
            changes = {k: v for k, v in vars(changes).items() if v is not None}
        if not changes:
            return
        self.cfg = check_live_changes(self.cfg, changes)
        # Rates, betas, step counts, loss weights: a captured step has them all baked in.
        self.drop_graph()
        self._set_loss()
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            set_hyper_parameters(opt, self.cfg, lr)

    def _set_loss(self) -> None:
        """The loss's functions and facts from the registry (losses.LOSSES), for cfg.loss."""
        self.loss = LOSSES[self.cfg.loss]
        self.d_loss_fn, self.g_loss_fn = self.loss.d_loss, self.loss.g_loss
        # The regularisers that are on; a stateful one (ADA) keeps its state over live changes.
        actives = reg.active([self.cfg], self.device)
        self._regs = reg.with_states(actives, self.cfg, self.device, getattr(self, "_regs", ()))

    # ------------------------------------------------------------------ the step
    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of samples x (real or generated alike): the input regularisers that are
        on (DiffAugment, instance noise; see regularisers), then packing."""
        x = reg.d_input(x, self._regs, self.cfg, self.step, self._streams)
        return reg.pack(x, self.cfg.pack)

    def _latent(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = self.codes.prior(n, self.cfg.latent_dim, self.gen, self.device)  # noise (+ codes)
        labels = None
        if self.num_classes:
            labels = torch.randint(self.num_classes, (n,), device=self.device, generator=self.gen)
        return z, labels

    def d_update(self, want_norm: bool = False) -> None:
        """One D update: D maximises its objective on real x against detached fakes G(z)."""
        cfg = self.cfg
        real, labels = self.data.sample(cfg.batch_size, self.gen)
        labels = labels if self.num_classes else None
        z, _ = self._latent(cfg.batch_size)
        if self.fast.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        with self.fast.autocast():
            with torch.no_grad():  # D's update must not touch G: no graph through G at all
                fake = self.G(z, labels)
            real, fake = self._d_input(real), self._d_input(fake)
            if reg.needs_real_grad(self._regs):  # e.g. R1: D's gradient w.r.t. real inputs
                real = real.detach().requires_grad_(True)
            # Scores in fp32 whatever the compute precision: the losses and logs see fp32.
            r, f = self.D(real, labels).float(), self.D(fake, labels).float()
            reg.observe(self._regs, r)  # e.g. ADA tunes its p from D's certainty on real
            loss = self.d_loss_fn(r, f, cfg.label_smoothing)
            # The terms of the regularisers that are on (gradient penalty, R1, …), weighted.
            critic = lambda x, members: self.D(x, labels).float()  # noqa: E731
            term = reg.DTerm(real, fake, r, critic, self._streams)
            loss = reg.add_d_terms(loss, self._regs, term)
            if self.codes:  # InfoGAN: D's Q head learns to tell the codes back
                loss = loss + infogan.info_term(self.D, fake, z, cfg.info_weight)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if want_norm:
            self._grad_norms[1] = grad_norm(self.D)
        clip_gradients(self.D, cfg.grad_clip)
        self.opt_d.step()
        if self.loss.lipschitz == "weight clipping":  # clip every weight of D to [-c, c]
            with torch.no_grad():
                params = infogan.critic_params(self.D)  # not Q's: it must read the codes
                torch._foreach_clamp_min_(params, -cfg.clip_value)
                torch._foreach_clamp_max_(params, cfg.clip_value)
        with torch.no_grad():
            self._d_acc += torch.stack(
                [loss.detach(), self._score(r.detach()).mean(), self._score(f).mean()]
            )
        self._d_count += 1

    def g_update(self, want_norm: bool = False) -> None:
        """One generator update: G minimises its loss on D(G(z)) (and, for the relativistic
        losses, on D's scores of a fresh real batch); only G's optimiser steps."""
        z, labels = self._latent(self.cfg.batch_size)
        with self.fast.autocast():
            fake = self._d_input(self.G(z, labels))
            f = self.D(fake, labels).float()
            if self.loss.g_needs_real:
                loss = self.g_loss_fn(f, self._real_scores())
            else:
                loss = self.g_loss_fn(f)
            if self.codes:  # InfoGAN: G keeps its codes recoverable by Q
                info = infogan.info_loss(self.D, fake, z)
                loss = loss + self.cfg.info_weight * info
        self.opt_g.zero_grad(set_to_none=True)
        # Only G's gradients: D's weight gradients would cost matmuls and never be used.
        loss.backward(inputs=list(self.G.parameters()))
        if want_norm:
            self._grad_norms[0] = grad_norm(self.G)
        clip_gradients(self.G, self.cfg.grad_clip)
        self.opt_g.step()
        if self.G_ema is not None:
            ema_update(self.G_ema, self.G, self.cfg.ema)
        with torch.no_grad():
            if self.codes:  # (g_loss, info_loss)
                self._g_acc += torch.cat([loss.detach().reshape(1), info.detach().reshape(1)])
            else:
                self._g_acc += loss.detach().reshape(1)
        self._g_count += 1

    def _real_scores(self) -> torch.Tensor:
        """D's scores on a fresh real batch, seen as D sees it; constants for G's update."""
        real, labels = self.data.sample(self.cfg.batch_size, self.gen)
        labels = labels if self.num_classes else None
        if self.fast.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            return self.D(self._d_input(real), labels).float()

    def g_loss_for(self, f: torch.Tensor) -> torch.Tensor:
        """G's loss on D's raw scores `f`, as G's update computes it (for views such as the 2D
        arrows). A loss that needs D's real scores gets them on a real batch drawn from a fixed
        seed, so looking never moves the run's random stream."""
        if not self.loss.g_needs_real:
            return self.g_loss_fn(f)
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed)
        real, _ = self.data.sample(self.cfg.batch_size, gen)
        with torch.no_grad():
            r = self.D(reg.pack(real, self.cfg.pack)).float()
        return self.g_loss_fn(f, r)

    def _score(self, scores: torch.Tensor) -> torch.Tensor:
        """D's output as people see it: a probability where the loss says so, else the raw score."""
        return reg.shown_score(scores, self.loss.probability)

    def train_step(
        self, d: bool = True, g: bool = True, log_now: bool = False, ends_step: bool = True
    ) -> dict[str, float] | None:
        """`d_steps` D updates then `g_steps` G updates (either part can be skipped, as in a
        manual "D only" step). Returns the log record when this step is a logging step.

        `log_now` (a manual step while paused) logs this step's own losses and D outputs at
        once, whatever `log_every` says: what was summed since the last log is logged first,
        so the step's record holds nothing but its own updates.

        `ends_step=False` runs a step's first phase only (slow motion's D phase): the updates
        are made and summed, but the step counter, the log and the evaluation wait for the
        next call, which ends that same step (slow motion's G phase): one step, one record.
        That call makes no D update when it asks for G's (a resume or a plain step after D's
        phase): D's part of the step is done."""
        if self._half_step and ends_step and g:
            d = False
        if log_now and (self._d_count or self._g_count) and not self._half_step:
            self.flush_log()
        logging = log_now or (self.step + 1) % self.cfg.log_every == 0
        if self._good is None:
            self.keep_good_state()  # training starts here: the first state to fall back on
            reg.resume(self._regs, self.history.last())  # a loaded run's ADA p goes on
        for module in (self.G, self.D):
            if not module.training:  # .train() walks every submodule: call it only when needed
                module.train()
        self._step_updates(d, g, logging)
        self._half_step = not ends_step
        if not ends_step:
            return None
        self.step += 1
        record = self.flush_log(manual=log_now) if logging else None
        if self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
            self.evaluate()
        return record

    def _networks(self) -> tuple[torch.nn.Module, ...]:
        return (self.G, self.D)  # whose layers a long update is watched in (stepcore)

    def drop_graph(self) -> None:
        """Forget the captured step (after a change it has baked in: learning rates, step
        counts, or optimiser state tensors that were replaced); the next steps re-capture."""
        if self.graph is not None:
            self.graph.drop()

    def flush_log(self, manual: bool = False) -> dict[str, float]:
        """Copy the device-side sums to the host (the only sync), check them, store a record
        (at once when `manual`). A player that made no update since the last log (a manual
        "D only" or "G only" step) keeps its last logged values."""
        ran = {"d": self._d_count > 0, "g": self._g_count > 0}
        d_stats, g_stats, norms = self._take_sums(measure_speed=not manual)
        record = dict(
            step=float(self.step),
            d_loss=d_stats[0],
            g_loss=g_stats[0],
            d_real=d_stats[1],
            d_fake=d_stats[2],
            g_grad_norm=norms[0],
            d_grad_norm=norms[1],
        )
        if self.codes:
            record["info_loss"] = g_stats[1]
        record.update(reg.logged(self._regs))
        carried = carry_forward(record, ran, self.history.last(), self._player_series)
        bad = [k for k, v in record.items() if not math.isfinite(v) and k not in carried]
        if bad:
            diverged_at = self.step
            good_step = self.restore_good_state()
            raise Divergence(
                f"training diverged at step {diverged_at}: {', '.join(bad)} became "
                f"{record[bad[0]]}. Try lower learning rates (now lr_g={self.cfg.lr_g:g}, "
                f"lr_d={self.cfg.lr_d:g}), a gradient penalty (loss {GP_LOSSES}) or spectral "
                "norm. "
                f"The models are back as they were at step {good_step}, the last finite log."
            )
        self.history.append(record, flush=manual)
        self.keep_good_state()
        return record

    def _state_tensors(self) -> tuple[list[torch.Tensor], tuple]:
        """Every tensor training changes, in a fixed order, and its layout (goodstate)."""
        return goodstate.state_tensors(*self._tracked())

    def _tracked(self) -> tuple[tuple, tuple]:
        return (self.G, self.D, self.G_ema), (self.opt_g, self.opt_d)

    def keep_good_state(self) -> None:
        """Copy the current state into a second set of tensors on the same device (at each
        finite log; see goodstate.keep)."""
        self._good = goodstate.keep(self._good, self.step, *self._tracked())

    def restore_good_state(self) -> int:
        """Put the models and optimisers back to the last kept state; returns its step."""
        if self._good is None:
            return self.step
        # New optimiser state tensors: a captured step would miss them.
        step = goodstate.restore(self._good, *self._tracked(), on_new_state=self.drop_graph)
        self.step = self._log_step0 = step
        return step

    def evaluate(self) -> dict | None:
        """Mode-collapse measures of G now, on a few fixed-noise samples, appended to
        `self.measures` (see playground.measures.evaluation); None where there are none."""
        return measure_live(self)

    # ------------------------------------------------------------------ looking at G
    @property
    def sampler(self) -> torch.nn.Module:
        """The generator used for pictures: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        g = self.sampler
        was_training = g.training
        g.eval()  # BN running statistics: a sample does not depend on the rest of its batch
        out = g(z.to(self.device), None if labels is None else labels.to(self.device))
        g.train(was_training)
        return out

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n fresh samples from noise seeded by `seed` (class labels cycle 0, 1, …), on the CPU."""
        cpu = torch.Generator().manual_seed(seed)
        z = self.codes.prior(n, self.cfg.latent_dim, cpu)
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        return torch.cat(
            [
                self.generate(
                    z[i : i + 4096], None if labels is None else labels[i : i + 4096]
                ).cpu()
                for i in range(0, n, 4096)
            ]
        )

    def fixed_samples(self) -> np.ndarray:
        """Points (N, 2) float32, or images (N, H, W, C) uint8, from the fixed noise batch."""
        out = self.generate(self.fixed_z, self.fixed_labels)
        if self.data.kind == "points":
            return out.float().cpu().numpy()
        return images.to_uint8(out)

    def sample_grid(self) -> np.ndarray:
        """The fixed-noise samples as one picture (a grid, or a scatter over real points)."""
        samples = self.fixed_samples()
        if self.data.kind == "points":
            real, _ = self.data.sample(len(samples), torch.Generator(self.device).manual_seed(0))
            return images.scatter_image(samples, real.cpu().numpy(), extent=self.extent())
        return images.make_grid(samples, upscale=2 if samples.shape[1] <= 32 else 1)

    def real_sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n real training samples drawn with `seed`: points (n, 2) float32, or images
        (n, H, W, C) uint8."""
        if self.data.kind == "points":
            return self.data.numpy_sample(n, seed)
        real, _ = self.data.sample(n, torch.Generator(self.device).manual_seed(seed))
        return images.to_uint8(real)

    def extent(self) -> tuple[float, float, float, float]:
        """The data-space window for 2D views: the real data's range with a margin."""
        if not hasattr(self, "_extent"):
            self._extent = plot_window(self.data)
        return self._extent

    @torch.inference_mode()
    def decision_map(self, resolution: int = 64) -> np.ndarray:
        """D's score on a resolution² grid over `extent()` (2D only), as D's shown output:
        rows go from the top (high y) to the bottom, as an image does."""
        x0, x1, y0, y1 = self.extent()
        xs = torch.linspace(x0, x1, resolution, device=self.device)
        ys = torch.linspace(y1, y0, resolution, device=self.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        was_training = self.D.training
        self.D.eval()
        points = torch.stack([gx, gy], dim=-1).reshape(-1, 2)
        # Under packing D takes `pack` points: show its score for a pack of copies of one point.
        scores = self._score(self.D(points.repeat(1, self.cfg.pack)))
        self.D.train(was_training)
        return scores.reshape(resolution, resolution).float().cpu().numpy()

