"""G's manifold and the gradient arrows (playground.view2d) against constructed G and D whose
answers are known by hand, and from a live trainer and run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import wait_for
from torch import nn

from playground.objectives.losses import minimax_g_loss, nonsaturating_g_loss, wasserstein_g_loss
from playground.training.trainer import Trainer
from playground.views import view2d


class Linear(nn.Module):
    """x -> x @ A.T + b: a G whose image of a grid is known exactly."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor | None = None):
        super().__init__()
        self.a = nn.Parameter(a.float())
        self.b = nn.Parameter(torch.zeros(a.shape[0]) if b is None else b.float())

    def forward(self, z, labels=None):
        return z @ self.a.T + self.b


class LinearCritic(nn.Module):
    """D(x) = w·x: a critic whose score gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32))

    def forward(self, x, labels=None):
        return x @ self.w


EXTENT = (-2.0, 2.0, -2.0, 2.0)


def test_manifold_of_a_2d_latent_is_g_of_the_regular_grid():
    a = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    mesh = view2d.manifold(Linear(a, torch.tensor([0.5, -1.0])), 2, lines=5)
    ticks = np.linspace(-view2d.LATENT_SPAN, view2d.LATENT_SPAN, 5)
    za, zb = np.meshgrid(ticks, ticks, indexing="ij")
    expected = np.stack([2 * za + 0.5, za + zb - 1.0], axis=-1)
    assert mesh.plane == "latent"
    np.testing.assert_allclose(mesh.points, expected, atol=1e-5)


def test_manifold_of_a_1d_latent_is_a_curve():
    mesh = view2d.manifold(Linear(torch.tensor([[1.0], [3.0]])), 1, lines=5)
    assert mesh.points.shape == (1, 20, 2)
    np.testing.assert_allclose(mesh.points[0, :, 1], 3 * mesh.points[0, :, 0], atol=1e-5)


def test_random_plane_is_orthonormal_and_fixed():
    basis = view2d.latent_plane(64, seed=3)
    np.testing.assert_allclose((basis @ basis.T).numpy(), np.eye(2), atol=1e-5)
    assert torch.equal(basis, view2d.latent_plane(64, seed=3))
    assert not torch.equal(basis, view2d.latent_plane(64, seed=4))


def test_principal_plane_finds_the_directions_g_stretches():
    # G reads only latent coordinates 3 and 7 (stretching 3 the most): its principal plane is
    # spanned by those two axes, in that order, whatever the other 14 dimensions hold.
    a = torch.zeros(2, 16)
    a[0, 3], a[1, 7] = 5.0, 2.0
    z = torch.randn(200, 16, generator=torch.Generator().manual_seed(0))
    basis = view2d.principal_plane(Linear(a), z)
    assert abs(float(basis[0, 3])) == pytest.approx(1.0, abs=1e-5)
    assert abs(float(basis[1, 7])) == pytest.approx(1.0, abs=1e-5)
    mesh = view2d.manifold(Linear(a), 16, "principal", z_for_principal=z, lines=4)
    assert mesh.plane == "principal" and mesh.points.shape == (4, 4, 2)
    # On that plane the grid is G's full stretch: 5 × the span along x, 2 × along y, where the
    # span grows with the latent's size (±2.5·√(16/2)), so the grid reaches typical |z| ≈ 4.
    span = 2 * view2d.LATENT_SPAN * 8**0.5
    assert np.ptp(mesh.points[..., 0]) == pytest.approx(5 * span, rel=1e-4)
    assert np.ptp(mesh.points[..., 1]) == pytest.approx(2 * span, rel=1e-4)


def test_unknown_plane_is_refused():
    with pytest.raises(ValueError, match="plane"):
        view2d.manifold(Linear(torch.eye(2, 4)), 4, "diagonal")


def test_arrows_point_where_the_critic_scores_higher():
    # Wasserstein G loss −E[D(x)] with D(x) = w·x: −∂L/∂x = w for every sample.
    samples = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    push = view2d.arrows(LinearCritic([3.0, -4.0]), wasserstein_g_loss, samples, EXTENT)
    assert push.median_norm == pytest.approx(5.0, rel=1e-5)
    directions = push.vectors / np.linalg.norm(push.vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(directions, np.tile([0.6, -0.8], (50, 1)), atol=1e-5)
    # Scaled so the longest arrows are a readable share of the window.
    longest = np.quantile(np.linalg.norm(push.vectors, axis=1), 0.95)
    assert longest == pytest.approx(view2d.ARROW_SHARE * 4.0, rel=1e-4)
    np.testing.assert_allclose(push.starts, samples.numpy())


def test_minimax_arrows_vanish_where_d_rejects_fakes_and_nonsaturating_ones_do_not():
    # The vanishing-gradient lesson in one number: D(x) = 10·x₁ rejects samples at x₁ = −1 with
    # score −10; the minimax G loss' gradient there is σ(−10)·10 ≈ 5e-4, the non-saturating
    # one's (1 − σ(−10))·10 ≈ 10.
    samples = torch.tensor([[-1.0, 0.0]] * 8)
    critic = LinearCritic([10.0, 0.0])
    saturating = view2d.arrows(critic, minimax_g_loss, samples, EXTENT).median_norm
    strong = view2d.arrows(critic, nonsaturating_g_loss, samples, EXTENT).median_norm
    assert saturating == pytest.approx(10 * torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-3)
    assert strong == pytest.approx(10 * torch.sigmoid(torch.tensor(10.0)).item(), rel=1e-3)


def test_arrows_under_packing_sum_over_the_pack_copies():
    samples = torch.zeros(4, 2)
    critic = LinearCritic([1.0, 0.0, 0.0, 2.0])  # D judges 2 points: (x, x) for the view
    push = view2d.arrows(critic, wasserstein_g_loss, samples, EXTENT, pack=2)
    np.testing.assert_allclose(push.vectors[0] / push.scale, [1.0, 2.0], atol=1e-6)


def test_layers_for_a_trainer_leave_its_weights_and_gradients_alone(tiny_cfg):
    trainer = Trainer(tiny_cfg(latent_dim=8))
    trainer.train_step()
    before = [
        p.detach().clone() for p in list(trainer.G.parameters()) + list(trainer.D.parameters())
    ]
    grads = [p.grad for p in trainer.D.parameters()]
    mesh, push = view2d.layers_for(trainer)
    after = list(trainer.G.parameters()) + list(trainer.D.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(p.grad is g for p, g in zip(trainer.D.parameters(), grads, strict=True))
    assert mesh.plane == "random" and mesh.points.shape == (view2d.GRID_LINES,) * 2 + (2,)
    assert push.starts.shape == (128, 2) and np.isfinite(push.vectors).all()
    # The arrows start at the frame's own samples (the same fixed noise).
    np.testing.assert_allclose(push.starts, trainer.fixed_samples()[:128], atol=1e-5)


def test_layers_for_image_data_are_refused(make_trainer, tiny_image_cfg):
    with pytest.raises(ValueError, match="2D"):
        view2d.layers_for(make_trainer(tiny_image_cfg()))


def test_run_frames_carry_the_layers_and_view_layers_takes_any_plane(runs, tiny_cfg):
    run = runs(tiny_cfg(latent_dim=4, steps=6, sample_every=3))
    run.start()
    wait_for(lambda: not run.alive, "the run to finish")
    snap = run.snapshot()
    assert snap.status == "finished", snap.error
    for frame in snap.frames:
        assert frame.manifold is not None and frame.manifold.plane == "random"
        assert frame.arrows is not None and frame.arrows.vectors.shape == (128, 2)
    mesh, push = run.view_layers("principal")
    assert mesh.plane == "principal" and np.isfinite(mesh.points).all()


def test_image_runs_frames_have_no_layers(runs, tiny_image_cfg, make_trainer):
    run = runs(tiny_image_cfg(steps=2), make_trainer=make_trainer)
    run.start()
    wait_for(lambda: not run.alive, "the run to finish")
    assert all(f.manifold is None and f.arrows is None for f in run.snapshot().frames)
    assert run.view_layers() is None
