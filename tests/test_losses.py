"""Each loss against its formula evaluated by hand with `math`, the saturation story of the two
generator losses, the gradient penalty on critics whose gradient is known, and the registry."""

from __future__ import annotations

import math

import pytest
import torch

from playground.objectives.losses import (
    LIPSCHITZ,
    LOSSES,
    bce_d_loss,
    hinge_d_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    minimax_g_loss,
    nonsaturating_g_loss,
    ragan_d_loss,
    ragan_g_loss,
    wasserstein_d_loss,
    wasserstein_g_loss,
)
from playground.objectives.regularisers import gradient_penalty
from playground.settings import config, fields
from playground.settings.config import GANConfig

# Scores chosen to land on both sides of 0 and of the hinge margins ±1.
R = [0.5, -1.0, 1.5]
F = [2.0, -0.3, -1.2]


def t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def close(tensor: torch.Tensor, expected: float) -> None:
    assert tensor.dim() == 0, "a loss is one number"
    assert float(tensor.detach()) == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------------- values
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_bce_d_loss_is_cross_entropy_with_smoothed_real_target(smoothing):
    target = 1.0 - smoothing
    real_term = mean(
        -(target * math.log(sigmoid(r)) + (1 - target) * math.log(1 - sigmoid(r))) for r in R
    )
    fake_term = mean(-math.log(1 - sigmoid(f)) for f in F)
    close(bce_d_loss(t(R), t(F), smoothing), real_term + fake_term)


def test_bce_d_loss_smoothing_changes_the_value():
    assert float(bce_d_loss(t(R), t(F), 0.2)) != pytest.approx(float(bce_d_loss(t(R), t(F))))


def test_minimax_g_loss_is_mean_log_one_minus_d():
    close(minimax_g_loss(t(F)), mean(math.log(1 - sigmoid(f)) for f in F))


def test_nonsaturating_g_loss_is_minus_mean_log_d():
    close(nonsaturating_g_loss(t(F)), mean(-math.log(sigmoid(f)) for f in F))


@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_lsgan_d_loss(smoothing):
    target = 1.0 - smoothing
    expected = 0.5 * mean((r - target) ** 2 for r in R) + 0.5 * mean(f**2 for f in F)
    close(lsgan_d_loss(t(R), t(F), smoothing), expected)


def test_lsgan_g_loss():
    close(lsgan_g_loss(t(F)), 0.5 * mean((f - 1) ** 2 for f in F))


def test_wasserstein_d_loss_is_fake_mean_minus_real_mean():
    close(wasserstein_d_loss(t(R), t(F)), mean(F) - mean(R))


def test_wasserstein_g_loss_is_minus_fake_mean():
    close(wasserstein_g_loss(t(F)), -mean(F))


def test_hinge_d_loss():
    expected = mean(max(0.0, 1 - r) for r in R) + mean(max(0.0, 1 + f) for f in F)
    close(hinge_d_loss(t(R), t(F)), expected)
    # Scores beyond the margins contribute nothing at all.
    close(hinge_d_loss(t([1.5, 3.0]), t([-1.2, -7.0])), 0.0)


def test_log_losses_stay_finite_for_huge_scores():
    # A confident D produces scores of ±1000; log σ written naively would give -inf or nan.
    r, f = t([-1000.0]), t([1000.0])
    close(bce_d_loss(r, f), 2000.0)
    close(nonsaturating_g_loss(t([-1000.0])), 1000.0)
    close(minimax_g_loss(t([1000.0])), -1000.0)


# ---------------------------------------------------------------------- saturation
def g_grad(loss_fn, scores: list[float]) -> list[float]:
    f = t(scores).requires_grad_(True)
    loss_fn(f).backward()
    return f.grad.tolist()


def test_minimax_and_nonsaturating_push_fakes_the_same_way():
    scores = [-30.0, -5.0, -0.5, 0.0, 0.5, 4.0]
    n = len(scores)
    mm, ns = g_grad(minimax_g_loss, scores), g_grad(nonsaturating_g_loss, scores)
    for s, a, b in zip(scores, mm, ns, strict=True):
        assert a < 0 and b < 0, f"both must raise D(G(z)) at f={s}"
        # By hand: d/df of -softplus(f)/n is -σ(f)/n; of softplus(-f)/n it is -(1-σ(f))/n.
        assert a == pytest.approx(-sigmoid(s) / n, abs=1e-12)
        assert b == pytest.approx(-(1 - sigmoid(s)) / n, abs=1e-12)


def test_minimax_gradient_vanishes_when_d_rejects_fakes_but_nonsaturating_does_not():
    scores = [-5.0, -10.0, -20.0, -40.0]
    mm, ns = g_grad(minimax_g_loss, scores), g_grad(nonsaturating_g_loss, scores)
    n = len(scores)
    mm_sizes = [abs(g) for g in mm]
    assert mm_sizes == sorted(mm_sizes, reverse=True), "minimax shrinks as f → -inf"
    assert mm_sizes[-1] < 1e-17
    for g in ns:
        assert abs(g) > 0.99 / n, "non-saturating keeps a full-size gradient"


# ---------------------------------------------------------------------- gradient penalty
def linear_critic(w: torch.Tensor):
    return lambda x: (x.flatten(1) * w.flatten()).sum(dim=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared(seed):
    # ∇_x (w·x) = w everywhere, so the penalty is (|w| - 1)² whatever the interpolation.
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(16, 2, generator=gen, dtype=torch.float64)
    fake = 5 * torch.randn(16, 2, generator=gen, dtype=torch.float64)
    penalty = gradient_penalty(linear_critic(w), real, fake, gen)
    close(penalty, (5.0 - 1.0) ** 2)


def test_gradient_penalty_is_zero_for_a_unit_norm_critic_on_images():
    w = torch.randn(3, 4, 4, dtype=torch.float64)
    w = w / w.norm()
    real = torch.randn(8, 3, 4, 4, dtype=torch.float64)
    fake = torch.randn(8, 3, 4, 4, dtype=torch.float64)
    close(gradient_penalty(linear_critic(w), real, fake), 0.0)
    close(gradient_penalty(linear_critic(2 * w), real, fake), 1.0)


def test_gradient_penalty_evaluates_the_gradient_at_the_interpolate():
    # D(x) = ½|x|² has gradient x. With real == fake every interpolate is that point, so the
    # penalty is the batch mean of (|x| - 1)².
    x = torch.tensor([[3.0, 4.0], [0.6, 0.8], [0.0, 2.0]], dtype=torch.float64)
    penalty = gradient_penalty(lambda v: 0.5 * (v**2).sum(dim=1), x, x.clone())
    close(penalty, mean([(5 - 1) ** 2, 0.0, (2 - 1) ** 2]))


def test_gradient_penalty_interpolates_uniformly_per_sample():
    # D(x) = ½|x|² with real = 0 and fake = a unit vector: at x̂ = (1 - ε)·fake the gradient norm
    # is 1 - ε, so the penalty is E[ε²] = 1/3 for ε ~ U[0, 1] drawn per sample. (A fixed ε, one ε
    # per batch, or the gradient taken at the real or fake points would all give another value.)
    n = 20_000
    real = torch.zeros(n, 2, dtype=torch.float64)
    fake = torch.tensor([[0.6, 0.8]], dtype=torch.float64).repeat(n, 1)
    gen = torch.Generator().manual_seed(0)
    penalty = gradient_penalty(lambda v: 0.5 * (v**2).sum(dim=1), real, fake, gen)
    assert float(penalty.detach()) == pytest.approx(1 / 3, abs=0.01)


def test_gradient_penalty_is_differentiable_wrt_the_critic():
    # WGAN-GP trains the critic through the penalty: d/dw (|w| - 1)² = 2(|w| - 1) w/|w|.
    w = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    x = torch.randn(8, 2, dtype=torch.float64)
    gradient_penalty(linear_critic(w), x, torch.randn(8, 2, dtype=torch.float64)).backward()
    assert w.grad.tolist() == pytest.approx([2 * 4 * 0.6, 2 * 4 * 0.8], abs=1e-9)


# ---------------------------------------------------------------------- relativistic average
def softplus(a: float) -> float:
    return math.log1p(math.exp(a))


def test_ragan_d_loss_is_the_relativistic_average_formula_by_hand():
    # L_D = −E_r[log σ(r − mean f)] − E_f[log(1 − σ(f − mean r))] (Jolicoeur-Martineau 2018).
    mr, mf = mean(R), mean(F)
    expected = -mean(math.log(sigmoid(r - mf)) for r in R) - mean(
        math.log(1 - sigmoid(f - mr)) for f in F
    )
    close(ragan_d_loss(t(R), t(F)), expected)
    close(ragan_d_loss(t(R), t(F), 0.2), expected)  # no target to smooth


def test_ragan_g_loss_swaps_the_roles_of_real_and_fake():
    mr, mf = mean(R), mean(F)
    expected = -mean(math.log(sigmoid(f - mr)) for f in F) - mean(
        math.log(1 - sigmoid(r - mf)) for r in R
    )
    close(ragan_g_loss(t(F), t(R)), expected)
    close(ragan_g_loss(t(F), t(R)), float(ragan_d_loss(t(F), t(R))))


def test_ragan_g_gradient_also_flows_through_the_mean_of_the_fakes():
    # ∂L_G/∂f_j = −σ(−(f_j − mean r))/n + Σ_i σ(r_i − mean f)·(−1/n)/n, by hand.
    f = t(F).requires_grad_(True)
    ragan_g_loss(f, t(R)).backward()
    n, mr, mf = len(F), mean(R), mean(F)
    second = sum(sigmoid(r - mf) for r in R) / n / n
    expected = [-sigmoid(-(fj - mr)) / n - second for fj in F]
    assert f.grad.tolist() == pytest.approx(expected, abs=1e-12)


def test_ragan_is_per_run_on_stacked_scores():
    # Scores of k runs stacked as (k, B): each row's means are its own.
    r = torch.stack([t(R), t(R) + 1.0])
    f = torch.stack([t(F), t(F) - 2.0])
    both = ragan_d_loss(r, f)
    close(both[0], float(ragan_d_loss(t(R), t(F))))
    close(both[1], float(ragan_d_loss(t(R) + 1.0, t(F) - 2.0)))
    assert ragan_g_loss(f, r).shape == (2,)


def test_ragan_stays_finite_for_huge_scores():
    big = t([1e4, -1e4, 3e3])
    for value in (ragan_d_loss(big, -big), ragan_g_loss(-big, big)):
        assert math.isfinite(float(value))


# ---------------------------------------------------------------------- the registry
def test_config_allows_exactly_the_registry_losses():
    assert fields.LOSSES == tuple(LOSSES)
    assert set(config.TARGET_LOSSES) == {n for n, e in LOSSES.items() if e.smoothable}


def test_every_loss_has_a_formula_an_explanation_and_facts():
    for name, entry in LOSSES.items():
        assert entry.name == name
        assert entry.formula.strip() and entry.sentence.strip() and entry.source.strip(), name
        assert entry.lipschitz in LIPSCHITZ


@pytest.mark.parametrize("name", fields.LOSSES)
def test_every_entry_computes_finite_scalar_losses(name):
    entry = LOSSES[name]
    g = entry.g_loss(t(F), t(R)) if entry.g_needs_real else entry.g_loss(t(F))
    for value in (entry.d_loss(t(R), t(F), 0.0), g):
        assert value.dim() == 0 and math.isfinite(float(value))


@pytest.mark.parametrize("name", fields.LOSSES)
def test_every_recommended_setting_is_a_valid_config(name):
    entry = LOSSES[name]
    assert entry.recommended, name
    cfg = GANConfig(dataset="ring8", loss=name).replace(**entry.recommended)
    assert all(getattr(cfg, k) == v for k, v in entry.recommended.items())


def test_registry_pairs_the_published_objectives_and_facts():
    def pair(name):
        return LOSSES[name].d_loss, LOSSES[name].g_loss

    assert pair("minimax") == (bce_d_loss, minimax_g_loss)
    assert pair("nonsaturating") == (bce_d_loss, nonsaturating_g_loss)
    assert pair("lsgan") == (lsgan_d_loss, lsgan_g_loss)
    assert pair("wgan") == pair("wgan-gp") == (wasserstein_d_loss, wasserstein_g_loss)
    assert pair("hinge") == (hinge_d_loss, wasserstein_g_loss)
    assert pair("ragan") == (ragan_d_loss, ragan_g_loss)
    assert {n for n, e in LOSSES.items() if e.probability} == {"minimax", "nonsaturating"}
    assert {n for n, e in LOSSES.items() if e.g_needs_real} == {"ragan"}
    assert LOSSES["wgan"].lipschitz == "weight clipping"
    assert LOSSES["wgan-gp"].lipschitz == "gradient penalty"
    assert LOSSES["wgan-gp"].recommended["d_steps"] > 1
    assert LOSSES["wgan-gp"].recommended["beta2"] == 0.9


def test_registry_entries_are_read_only():
    with pytest.raises(TypeError):
        LOSSES["wgan-gp"].recommended["d_steps"] = 1  # type: ignore[index]
