"""Slow motion (playground.runs.slowmo): one step of a paused 2D run in its two phases, with
pictures
before and after, and the loss's formula with the phase's part highlighted."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from helpers import TIMEOUT, wait_for

from playground.objectives.losses import LOSSES
from playground.runs import slowmo
from playground.views.view2d import ARROW_SHARE


def _paused(runs, cfg):
    run = runs(cfg)
    run.start(paused=True)
    wait_for(lambda: run.snapshot().status == "paused" and run.has_models, "a paused run")
    return run


def _adam_steps(module: torch.nn.Module, opt: torch.optim.Optimizer) -> int:
    state = opt.state.get(next(module.parameters()), {})
    return int(state["step"]) if "step" in state else 0


def test_the_d_phase_changes_ds_map_and_leaves_gs_samples(runs, tiny_cfg):
    run = _paused(runs, tiny_cfg(steps=100, d_steps=3))
    trainer = run.trainer
    result = slowmo.play(run, "d")
    assert result.after.step == result.before.step  # the step ends with G's phase
    assert np.abs(result.decision_change).max() > 0
    assert np.array_equal(result.after.samples, result.before.samples)
    # One step's D part: exactly d_steps D updates, no G update.
    assert _adam_steps(trainer.D, trainer.opt_d) == 3
    assert _adam_steps(trainer.G, trainer.opt_g) == 0
    assert run.snapshot().status == "paused"


def test_the_two_phases_of_one_step_count_as_one_step_and_one_log_record(runs, tiny_cfg):
    run = _paused(runs, tiny_cfg(steps=100, log_every=50))
    step, records = run.snapshot().step, len(run.snapshot().history["step"])
    slowmo.play(run, "d")
    snap = run.snapshot()
    assert snap.step == step and len(snap.history["step"]) == records
    slowmo.play(run, "g")
    snap = run.snapshot()
    assert snap.step == step + 1 and snap.status == "paused"
    assert snap.history["step"][records:] == [step + 1]  # one record, with both players' losses
    assert np.isfinite(snap.history["d_loss"][-1]) and np.isfinite(snap.history["g_loss"][-1])
    assert _adam_steps(run.trainer.D, run.trainer.opt_d) == 1
    assert _adam_steps(run.trainer.G, run.trainer.opt_g) == 1
    # The manual "D only" and "G only" steps still count one step each.
    assert run.step(d=True, g=False)
    wait_for(lambda: run.snapshot().step == step + 2, "a manual D-only step")
    assert run.step(d=False, g=True)
    wait_for(lambda: run.snapshot().step == step + 3, "a manual G-only step")


@pytest.mark.parametrize("then", ["resume", "step"])
def test_after_ds_phase_the_step_ends_with_gs_update_only(runs, tiny_cfg, then):
    """Resuming (or a plain Step) right after D's phase ends that step: D's updates are not
    made a second time in it."""
    run = _paused(runs, tiny_cfg(steps=1 if then == "resume" else 100, d_steps=2))
    slowmo.play(run, "d")
    if then == "resume":
        run.resume()
        assert run.join(TIMEOUT)
        assert run.snapshot().status == "finished"
    else:
        assert run.step()
        wait_for(lambda: run.snapshot().step == 1, "the step to end")
    assert run.snapshot().step == 1
    assert _adam_steps(run.trainer.D, run.trainer.opt_d) == 2, "D's phase ran twice"
    assert _adam_steps(run.trainer.G, run.trainer.opt_g) == 1


def test_the_g_phase_moves_gs_samples_and_leaves_ds_map(runs, tiny_cfg):
    run = _paused(runs, tiny_cfg(steps=100))
    result = slowmo.play(run, "g")
    assert np.abs(result.displacement).max() > 0
    assert np.array_equal(result.after.decision, result.before.decision)
    assert _adam_steps(run.trainer.G, run.trainer.opt_g) == 1
    assert _adam_steps(run.trainer.D, run.trainer.opt_d) == 0


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_the_samples_move_along_their_arrows(runs, tiny_cfg, loss):
    # Plain SGD: G's parameter step is −lr·∂L/∂θ = −lr·Jᵀ∂L/∂x, so each sample moves by
    # −lr·J·Jᵀ∂L/∂x, which leans along its arrow −∂L/∂x (JJᵀ is positive semi-definite).
    run = _paused(runs, tiny_cfg(steps=100, loss=loss, optimizer="sgd", lr_g=1e-2, lr_d=1e-2,
                                 batch_size=256, hidden=64))
    slowmo.play(run, "d")
    result = slowmo.play(run, "g")
    assert result.arrow_cosine() > 0.5


def test_a_running_run_must_be_paused_first(runs, tiny_cfg):
    run = runs(tiny_cfg(steps=10**7))
    run.start()
    wait_for(lambda: run.snapshot().status == "running", "the run to train")
    with pytest.raises(slowmo.SlowMotionError, match="pause"):
        slowmo.play(run, "d")


def test_slow_motion_is_for_2d_runs(runs, tiny_image_cfg):
    run = _paused(runs, tiny_image_cfg(steps=100))
    with pytest.raises(slowmo.SlowMotionError, match="2D"):
        slowmo.play(run, "g")
    with pytest.raises(ValueError, match="phase"):
        slowmo.play(run, "both")


def test_frame_now_is_the_picture_now_and_is_not_kept(runs, tiny_cfg):
    run = _paused(runs, tiny_cfg(steps=100))
    frames = run.snapshot().frames
    frame = run.frame_now()
    assert frame.step == run.snapshot().step
    assert np.array_equal(frame.samples, run.trainer.fixed_samples())
    assert frame.manifold is not None and frame.arrows is not None
    assert run.snapshot().frames == frames


def test_the_movement_is_magnified_to_the_arrows_share_of_the_window():
    moves = np.zeros((100, 2))
    moves[:, 0] = np.linspace(0.0, 1e-3, 100)
    factor = slowmo.magnification(moves, (-2.0, 2.0, -1.0, 3.0))
    assert np.quantile(np.linalg.norm(moves * factor, axis=1), 0.95) == pytest.approx(
        ARROW_SHARE * 4.0
    )
    assert slowmo.magnification(np.zeros((5, 2)), (0.0, 1.0, 0.0, 1.0)) == 1.0
    # Long movements are drawn at their true size, never shrunk.
    assert slowmo.magnification(moves * 1e4, (-2.0, 2.0, -1.0, 3.0)) == 1.0


# ---------------------------------------------------------------------- formulas and sentences
def _boxed(tex: str) -> list[str]:
    """The contents of each \\boxed{…} in `tex` (brace-matched)."""
    out = []
    for found in re.finditer(r"\\boxed\{", tex):
        depth, i = 1, found.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(tex[i], 0)
            i += 1
        out.append(tex[found.end() : i - 1])
    return out


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_highlights_one_part_per_phase(loss):
    d, g = slowmo.formula(loss, "d"), slowmo.formula(loss, "g")
    for tex in (d, g):
        assert tex.count("{") == tex.count("}")
        assert len(_boxed(tex)) == 1 and slowmo.HIGHLIGHT in tex
    assert d != g
    # G's highlighted part is about the fakes; D's reaches the real data too.
    assert "G(z)" in _boxed(g)[0]
    assert "D(x)" in _boxed(d)[0]
    assert slowmo.sentence(loss, "d") and slowmo.sentence(loss, "g")


def test_the_highlighted_parts_are_the_players_own():
    assert _boxed(slowmo.formula("nonsaturating", "d"))[0].endswith(
        r"L_D = -\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1 - D(G(z)))]}"
    )
    assert r"L_G = -\mathbb{E}[\log D(G(z))]" in _boxed(slowmo.formula("nonsaturating", "g"))[0]
    # Minimax's G minimises only the term through G(z); D maximises all of it.
    g_part = _boxed(slowmo.formula("minimax", "g"))[0]
    assert "G(z)" in g_part and r"\log D(x)" not in g_part
    assert r"\max_D" in _boxed(slowmo.formula("minimax", "d"))[0]
    # WGAN-GP's registry formula holds only L_D: G's is the one it shares with hinge.
    assert r"L_G = -\mathbb{E}[D(G(z))]" in _boxed(slowmo.formula("wgan-gp", "g"))[0]
    with pytest.raises(ValueError, match="phase"):
        slowmo.formula("hinge", "x")


def test_the_d_sentence_counts_the_critic_steps():
    assert "5 updates" in slowmo.sentence("wgan-gp", "d", d_steps=5)
    assert "one update" in slowmo.sentence("nonsaturating", "d")
    assert "vanishes" in slowmo.sentence("minimax", "g")
