"""The GPU fast paths (trainer.FastPaths): a CUDA-graph step computes what the eager step
computes, bf16/channels_last DCGAN learns like fp32, and everything around the step (live
changes, divergence recovery, checkpoints, a Run in its thread) still works with them.

Needs a CUDA GPU: skipped elsewhere (CI has none). On a CPU, `fast_paths` has no effect, which
the last test checks everywhere."""

from __future__ import annotations

import math

import pytest
import torch

from playground.runs.runner import Run
from playground.settings.config import GANConfig
from playground.settings.live import Hyper
from playground.storage.checkpoints import load_checkpoint, save_checkpoint
from playground.training.fast import GRAPH_WARMUP, FastPaths
from playground.training.multirun import MultiRun
from playground.training.stepcore import Divergence
from playground.training.trainer import Trainer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

RING = dict(dataset="ring8", hidden=64, layers=3, batch_size=256, log_every=5, steps=1000,
            eval_every=0, device="cuda")
DIGITS = dict(dataset="digits", arch="dcgan", image_size=32, width=16, latent_dim=32,
              batch_size=64, log_every=5, steps=1000, eval_every=0, device="cuda")
STEPS = GRAPH_WARMUP + 12  # warm-up, the captured step, then replays


def pair(**settings) -> tuple[Trainer, Trainer]:
    """The same run twice: with the fast paths (graphed) and without (eager fp32)."""
    cfg = GANConfig(**settings)
    return Trainer(cfg), Trainer(cfg.replace(fast_paths=False))


def captured(trainer) -> bool:
    return trainer.graph is not None and trainer.graph.graph is not None


def weights(trainer: Trainer) -> list[torch.Tensor]:
    modules = [trainer.G, trainer.D] + ([trainer.G_ema] if trainer.G_ema is not None else [])
    return [t.detach().float().cpu() for m in modules for t in m.state_dict().values()]


def assert_same_run(fast: Trainer, eager: Trainer, rtol=1e-4, atol=1e-5) -> None:
    assert captured(fast), "the fast trainer never captured its step"
    assert eager.graph is None
    for a, b in zip(weights(fast), weights(eager), strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
    hist_a, hist_b = fast.history.copy(), eager.history.copy()
    assert hist_a["step"] == hist_b["step"] and len(hist_a["step"]) >= 2
    for key in hist_a:
        assert hist_a[key] == pytest.approx(hist_b[key], rel=1e-3, abs=1e-5), key


@cuda
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"loss": "wgan", "d_steps": 3, "optimizer": "rmsprop", "lr_d": 5e-5, "lr_g": 5e-5},
        {"loss": "hinge", "ema": 0.9, "g_steps": 2},
        {"loss": "lsgan", "optimizer": "sgd", "label_smoothing": 0.1, "pack": 2},
        {"spectral_norm": True, "beta1": 0.0},
        {"loss": "wgan-gp", "d_steps": 2},
    ],
    ids=["nonsaturating", "wgan-rmsprop-d3", "hinge-ema-g2", "lsgan-sgd-pack", "spectral",
         "wgan-gp"],
)
def test_graphed_mlp_step_matches_the_eager_step(settings):
    fast, eager = pair(**{**RING, **settings})
    assert fast.fast.graphs and not eager.fast.graphs
    for _ in range(STEPS):
        fast.train_step()
        eager.train_step()
    assert_same_run(fast, eager)


@cuda
def test_graphed_conditional_dcgan_matches_the_same_step_run_eagerly(monkeypatch):
    """A conditional DCGAN with batch norm, bf16 and channels_last, graphed against the very
    same fast paths run eagerly. cuDNN's own choice of algorithm differs from trainer to
    trainer (rounding that Adam then amplifies), so both use its deterministic ones here."""
    cfg = GANConfig(**DIGITS, conditional=True)
    graphed, eager = Trainer(cfg), Trainer(cfg)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    eager.graph = None  # same kernels, launched one by one
    for _ in range(STEPS):
        graphed.train_step()
        eager.train_step()
    assert_same_run(graphed, eager, rtol=1e-3, atol=1e-4)


@cuda
def test_bf16_channels_last_dcgan_learns_like_fp32():
    fast, eager = pair(**{**DIGITS, "steps": 300, "log_every": 25})
    assert fast.fast == FastPaths(autocast_on=True, channels_last=True, graphs=True)
    assert fast.fast.describe().count(",") == 2
    assert fast.G.body[4].weight.is_contiguous(memory_format=torch.channels_last)
    for _ in range(300):
        fast.train_step()
        eager.train_step()
    a, b = fast.history.copy(), eager.history.copy()
    for key in ("d_loss", "g_loss"):
        # Different rounding makes two different trajectories: they must agree in level,
        # not step for step.
        mean_a, mean_b = sum(a[key]) / len(a[key]), sum(b[key]) / len(b[key])
        assert mean_a == pytest.approx(mean_b, rel=0.25), key
        assert all(math.isfinite(v) for v in a[key])
    # And the samples are images in range, not noise: pixels use the whole of [-1, 1].
    out = fast.generate(fast.fixed_z[:16])
    assert out.dtype == torch.float32 and out.min() < -0.5 and out.max() > 0.5


@cuda
def test_a_live_change_is_captured_anew():
    fast, eager = pair(**RING)
    for trainer in (fast, eager):
        for _ in range(STEPS):
            trainer.train_step()
    first = fast.graph.graph
    for trainer in (fast, eager):
        trainer.apply(Hyper(lr_g=3e-4, lr_d=2e-4, d_steps=2))
        for _ in range(STEPS):
            trainer.train_step()
    assert captured(fast) and fast.graph.graph is not first and fast.graph.captures == 2
    assert_same_run(fast, eager)


@cuda
def test_manual_d_only_and_g_only_steps_between_replays():
    fast, eager = pair(**RING)
    for trainer in (fast, eager):
        for _ in range(STEPS):
            trainer.train_step()
        trainer.train_step(d=True, g=False)
        trainer.train_step(d=False, g=True)
        for _ in range(6):
            trainer.train_step()
    assert_same_run(fast, eager)


@cuda
def test_divergence_under_a_graph_restores_the_last_good_state():
    trainer = Trainer(GANConfig(**RING))
    for _ in range(STEPS):
        trainer.train_step()
    good_step = trainer._good.step
    kept = [t.clone() for t in trainer._good.tensors]
    with torch.no_grad():
        trainer.D.features[1].weight.fill_(math.nan)
    with pytest.raises(Divergence):
        for _ in range(RING["log_every"]):
            trainer.train_step()
    assert trainer.step == good_step
    current, _ = trainer._state_tensors()
    for a, b in zip(current, kept, strict=True):
        torch.testing.assert_close(a, b, equal_nan=False)
    for _ in range(STEPS):  # and it trains on, replaying the same graph
        trainer.train_step()
    assert all(math.isfinite(v) for v in trainer.history.copy()["d_loss"])


@cuda
def test_checkpoint_of_a_fast_dcgan_round_trips(tmp_path):
    trainer = Trainer(GANConfig(**DIGITS))
    for _ in range(STEPS):
        trainer.train_step()
    save_checkpoint(trainer, tmp_path / "run")
    loaded = load_checkpoint(tmp_path / "run", device="cuda")
    for a, b in zip(weights(trainer), weights(loaded), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for _ in range(STEPS):  # the loaded run captures and trains too
        loaded.train_step()
    assert captured(loaded) and loaded.step == 2 * STEPS


@cuda
def test_a_run_in_its_thread_trains_with_graphs_while_snapshots_are_read():
    run = Run(GANConfig(**{**RING, "steps": 400, "sample_every": 50}))
    run.start()
    polls = 0
    while run.snapshot().active:
        run.snapshot()  # from this thread, as the page does, while the graph is captured
        polls += 1
        run.join(timeout=0.01)
    snap = run.snapshot()
    assert snap.status == "finished", snap.error
    assert snap.step == 400 and snap.frames and polls > 0
    assert snap.fast_paths == "each step replayed as a CUDA graph"
    assert captured(run.trainer)


@cuda
def test_graphed_multirun_matches_the_eager_multirun():
    losses = ("minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge")
    configs = [GANConfig(**RING, loss=loss, seed=i) for i, loss in enumerate(losses)]
    fast = MultiRun(configs)
    eager = MultiRun([c.replace(fast_paths=False) for c in configs])
    assert fast.graph is not None and eager.graph is None
    for _ in range(STEPS):
        fast.train_step()
        eager.train_step()
    fast.set_hyper(1, lr_g=1e-4)  # in place: the captured step picks it up
    eager.set_hyper(1, lr_g=1e-4)
    for _ in range(STEPS):
        fast.train_step()
        eager.train_step()
    assert fast.graph.captures == 1
    for a, b in zip(fast.opt_g.params + fast.opt_d.params, eager.opt_g.params + eager.opt_d.params,
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for ha, hb in zip(fast.histories, eager.histories, strict=True):
        a, b = ha.copy(), hb.copy()
        assert a["step"] == b["step"] and len(a["step"]) >= 4
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-3, abs=1e-5), key


@cuda
def test_instance_noise_keeps_the_step_eager():
    trainer = Trainer(GANConfig(**RING, instance_noise=0.1))
    assert trainer.graph is None
    for _ in range(STEPS):
        trainer.train_step()


def test_fast_paths_do_nothing_on_a_cpu():
    for arch in ("mlp", "dcgan"):
        settings = DIGITS if arch == "dcgan" else RING
        trainer = Trainer(GANConfig(**{**settings, "device": "cpu", "batch_size": 8, "width": 8}))
        assert trainer.fast == FastPaths() and trainer.fast.describe() == ""
        trainer.train_step()
        assert trainer.graph is None
