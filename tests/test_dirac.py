"""The Dirac-GAN (playground.lessons.dirac) against the analytic facts of Mescheder et al. 2018."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.lessons import dirac
from playground.lessons.dirac import DiracSetup, distances, trajectory, vector_field, verdict


def test_wasserstein_field_is_the_pure_rotation():
    # L_D = ψθ − 0, L_G = −ψθ: v = (−∂L_G/∂θ, −∂L_D/∂ψ) = (ψ, −θ).
    theta, psi, v_theta, v_psi = vector_field(DiracSetup(loss="wgan"), span=2.0, resolution=5)
    np.testing.assert_allclose(v_theta, psi, atol=1e-12)
    np.testing.assert_allclose(v_psi, -theta, atol=1e-12)


def test_gan_field_matches_the_hand_derivative():
    # Non-saturating: L_G = softplus(−ψθ) so −∂/∂θ = σ(−ψθ)ψ; L_D = softplus(0) + softplus(ψθ)
    # so −∂/∂ψ = −σ(ψθ)θ.
    theta, psi, v_theta, v_psi = vector_field(DiracSetup(), span=1.5, resolution=7)
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    np.testing.assert_allclose(v_theta, sig(-psi * theta) * psi, atol=1e-12)
    np.testing.assert_allclose(v_psi, -sig(psi * theta) * theta, atol=1e-12)


@pytest.mark.parametrize("loss", dirac.DIRAC_LOSSES)
def test_the_equilibrium_is_a_rest_point_for_every_loss(loss):
    g_theta, g_psi = dirac.gradients(
        DiracSetup(loss=loss), torch.zeros(1, dtype=torch.float64), torch.zeros(1)
    )
    if loss == "lsgan":  # LSGAN pulls D(G(z)) = ψθ to 1: at (0, 0) G still feels ψ = 0
        assert float(g_psi) == 0.0
    else:
        assert float(g_theta) == 0.0 and float(g_psi) == 0.0


def test_unregularised_simultaneous_steps_spiral_out_exactly_as_predicted():
    # Wasserstein, simultaneous: each step multiplies the distance by √(1 + h²).
    setup = DiracSetup(loss="wgan", lr=0.1, steps=300)
    dist = distances(trajectory(setup))
    assert np.all(np.diff(dist) > 0)
    assert dist[-1] == pytest.approx(dist[0] * math.sqrt(1 + 0.1**2) ** 300, rel=1e-9)
    assert verdict(trajectory(setup)) == "spirals out"


def test_unregularised_minimax_simultaneous_distance_grows():
    dist = distances(trajectory(DiracSetup(loss="minimax", steps=500)))
    assert dist[-1] > 1.4 * dist[0]
    assert np.all(np.diff(dist) > -1e-12)  # it never comes any closer


def test_unregularised_non_saturating_game_only_creeps_towards_the_equilibrium():
    # Not zero-sum, so its flow loses energy, but only at fourth order near (0, 0): where R1
    # arrives within 500 steps, the unregularised game is still far away after 2,000.
    for mode in dirac.MODES:
        path = trajectory(DiracSetup(mode=mode, steps=2000))
        assert distances(path)[-1] > 0.15, mode


@pytest.mark.parametrize("loss", ["minimax", "wgan"])
def test_unregularised_alternating_steps_circle_without_arriving(loss):
    path = trajectory(DiracSetup(loss=loss, mode="alternating", steps=2000))
    dist = distances(path)
    assert dist.min() > 0.25  # never near the equilibrium
    angle = np.unwrap(np.arctan2(path[:, 1], path[:, 0]))
    assert abs(angle[-1] - angle[0]) > 4 * math.pi  # and goes round it, more than twice


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "wgan", "hinge"])
@pytest.mark.parametrize("mode", dirac.MODES)
def test_r1_converges(loss, mode):
    path = trajectory(DiracSetup(loss=loss, regulariser="r1", strength=1.0, mode=mode))
    assert distances(path)[-1] < 1e-3
    assert verdict(path) == "converges"


def test_r1_of_zero_strength_is_no_regulariser():
    plain = trajectory(DiracSetup(loss="wgan", steps=50))
    zero = trajectory(DiracSetup(loss="wgan", regulariser="r1", strength=0.0, steps=50))
    np.testing.assert_allclose(plain, zero)


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating"])
def test_instance_noise_converges_for_the_log_loss_games(loss):
    path = trajectory(DiracSetup(loss=loss, regulariser="noise", strength=1.0, steps=1000))
    assert distances(path)[-1] < 1e-3


def test_instance_noise_does_nothing_to_the_linear_wasserstein_game():
    plain = trajectory(DiracSetup(loss="wgan", steps=100))
    noisy = trajectory(DiracSetup(loss="wgan", regulariser="noise", strength=1.0, steps=100))
    np.testing.assert_allclose(plain, noisy, atol=1e-9)


def test_wgan_gp_holds_the_critic_at_slope_one_and_never_converges():
    path = trajectory(DiracSetup(loss="wgan", regulariser="gp", strength=1.0, steps=2000))
    assert verdict(path) != "converges"
    assert distances(path).min() > 1.0


@pytest.mark.parametrize(
    "changes, setting",
    [
        (dict(loss="softmax"), "loss"),
        (dict(regulariser="dropout"), "regulariser"),
        (dict(mode="random"), "mode"),
        (dict(lr=0.0), "lr"),
        (dict(steps=0), "steps"),
        (dict(strength=-1.0), "strength"),
    ],
)
def test_bad_setups_are_refused_naming_the_setting(changes, setting):
    with pytest.raises(ValueError, match=f"^{setting}:"):
        trajectory(DiracSetup(**changes))


def test_the_loss_help_names_the_clipped_losses_from_the_registry():
    from playground.objectives.losses import LOSSES

    clipped = [n for n in dirac.DIRAC_LOSSES if LOSSES[n].lipschitz == "weight clipping"]
    assert clipped  # the registry has a weight-clipped loss, which the lesson plays unclipped
    assert dirac.loss_help().endswith(f"({', '.join(clipped)}: unclipped).")
