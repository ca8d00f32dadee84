"""relaxlib.toys.reparam: the Gaussian toy's closed forms, its estimators, and two more
reparameterised samplers, each checked against values derived by hand or by simulation."""

from __future__ import annotations

import math

import pytest
import torch

from dae_course import stats
from dae_course.ch05_reparameterisation import problems as toy

# --------------------------------------------------------------------------------------
# Exact moments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p, moment", [(0, 1), (1, 0), (2, 1), (3, 0), (4, 3), (6, 15), (8, 105), (12, 10395)]
)
def test_gaussian_moment(p, moment):
    assert toy.gaussian_moment(p) == moment


def test_gaussian_moment_rejects_bad_order():
    for p in (-1, 1.5, True):
        with pytest.raises(ValueError):
            toy.gaussian_moment(p)


def test_polynomial_moments_of_z_cubed_and_a_line():
    assert toy.polynomial_moments((0, 0, 0, 1)) == (0.0, 15.0, 10395.0)
    mean, var, mu4 = toy.polynomial_moments((3.0, 2.0))  # 3 + 2z ~ N(3, 4)
    assert (mean, var, mu4) == (3.0, 4.0, 48.0)


@pytest.mark.parametrize(
    "mu, sigma, k, variance",
    [
        (1.0, 1.0, 1.0, 15.0),  # d = 0
        (1.0, 1.0, 0.0, 30.0),  # d = 1: 1 + 14 + 15
        (1.0, 1.0, 3.0, 87.0),  # d = -2: 16 + 56 + 15
        (1.0, 1.0, -3.0, 495.0),  # d = 4: 256 + 224 + 15
        (2.0, 2.0, 0.0, 120.0),  # d = 2, sigma = 2: 16/4 + 56 + 60
    ],
)
def test_score_function_variance_hand_values(mu, sigma, k, variance):
    assert toy.score_function_variance(mu, sigma, k) == pytest.approx(variance)
    _, poly_var, _ = toy.polynomial_moments(toy.estimator_polynomial("score", mu, sigma, k))
    assert poly_var == pytest.approx(variance)


def test_pathwise_variance_and_exact_values():
    assert toy.pathwise_variance(1.0) == 4.0 and toy.pathwise_variance(2.0) == 16.0
    for k in (-2.0, 1.0, 4.0):
        _, var, _ = toy.polynomial_moments(toy.estimator_polynomial("pathwise", 1.0, 1.0, k))
        assert var == pytest.approx(4.0)
    assert toy.toy_gradient(1.0, 3.0) == -4.0
    assert toy.toy_loss(1.0, 2.0, 3.0) == 8.0


def test_estimator_polynomial_means_are_the_gradient():
    for kind in ("pathwise", "score"):
        for k in (-1.0, 0.5, 2.0):
            mean, _, _ = toy.polynomial_moments(toy.estimator_polynomial(kind, 1.0, 1.5, k))
            assert mean == pytest.approx(2 * (1.0 - k))
    with pytest.raises(ValueError):
        toy.estimator_polynomial("measure-valued", 1.0, 1.0, 0.0)
    with pytest.raises(ValueError):
        toy.estimator_polynomial("score", 1.0, 0.0, 0.0)


def test_sample_variance_standard_error_gaussian_case():
    # for Gaussian draws Var(s^2) = 2 sigma^4 / (n - 1)
    for n in (2, 10, 1000):
        se = toy.sample_variance_standard_error((0.0, 3.0), n)
        assert se == pytest.approx(9.0 * math.sqrt(2 / (n - 1)))
    with pytest.raises(ValueError):
        toy.sample_variance_standard_error((0.0, 1.0), 1)


def test_sample_variance_standard_error_by_simulation():
    # 2000 batches of 200 draws of the score estimator at d = 1: the spread of the batch
    # variances must match the formula to within 10 %.
    coeffs = toy.estimator_polynomial("score", 1.0, 1.0, 0.0)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 200, generator=g, dtype=torch.float64)
    s = sum(c * z**j for j, c in enumerate(coeffs))
    measured = float(s.var(dim=1).std())
    assert measured == pytest.approx(toy.sample_variance_standard_error(coeffs, 200), rel=0.1)


# --------------------------------------------------------------------------------------
# The estimators
# --------------------------------------------------------------------------------------


def test_per_sample_gradients_match_formulas():
    g = torch.Generator().manual_seed(1)
    path, score = toy.per_sample_gradients(1.0, 0.7, 2.5, 1000, g)
    x = path / 2 + 2.5  # pathwise = 2 (x - k)
    assert path.shape == score.shape == (1000,)
    expected = (x - 2.5) ** 2 * (x - 1.0) / 0.7**2
    assert torch.allclose(score, expected)
    assert torch.allclose(toy.score_function_estimates(x, 1.0, 0.7, 2.5), expected)
    assert torch.allclose(toy.pathwise_estimates(x, 2.5), path)
    # x really are N(1, 0.7^2) draws
    assert abs(float(x.mean()) - 1.0) < 5 * 0.7 / math.sqrt(1000)


def test_per_sample_gradients_reproducible_and_validated():
    a = toy.per_sample_gradients(1.0, 1.0, 0.0, 50, torch.Generator().manual_seed(4))
    b = toy.per_sample_gradients(1.0, 1.0, 0.0, 50, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError):
        toy.per_sample_gradients(1.0, 1.0, 0.0, 0)


@pytest.mark.parametrize("k", [-2.0, 1.0, 3.0])
def test_estimators_unbiased_with_closed_form_variances(k):
    n = 400_000
    path, score = toy.per_sample_gradients(1.0, 1.0, k, n, torch.Generator().manual_seed(2))
    exact = 2 * (1.0 - k)
    for est, kind, var in (
        (path, "pathwise", 4.0),
        (score, "score", toy.score_function_variance(1.0, 1.0, k)),
    ):
        assert abs(float(est.mean()) - exact) < 5 * math.sqrt(var / n)
        se = toy.sample_variance_standard_error(toy.estimator_polynomial(kind, 1.0, 1.0, k), n)
        assert abs(float(est.var()) - var) < 5 * se


# --------------------------------------------------------------------------------------
# Exponential and Gumbel samplers, KS statistic
# --------------------------------------------------------------------------------------


def test_ks_statistic_hand_values():
    def uniform(y):
        return y.clamp(0, 1)

    assert stats.ks_statistic(torch.tensor([0.5]), uniform) == pytest.approx(0.5)
    assert stats.ks_statistic(torch.tensor([0.75, 0.25]), uniform) == pytest.approx(0.25)
    assert stats.ks_statistic(torch.tensor([0.1, 0.2, 0.3]), uniform) == pytest.approx(0.7)


def test_ks_critical_values_match_the_tables():
    assert stats.ks_critical_value(100, 0.05) == pytest.approx(0.1358, abs=2e-4)
    assert stats.ks_critical_value(10_000, 0.001) == pytest.approx(0.01949, abs=1e-4)
    with pytest.raises(ValueError):
        stats.ks_critical_value(10, 0.0)


def test_exponential_rsample_distribution_and_gradient():
    rate = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    y = toy.exponential_rsample(rate, 20_000, generator=torch.Generator().manual_seed(0))
    assert y.shape == (20_000,) and bool((y >= 0).all())

    def cdf(v):
        return 1 - torch.exp(-2.5 * v)

    n = y.numel()
    assert stats.ks_statistic(y, cdf) < stats.ks_critical_value(n)
    (grad,) = torch.autograd.grad(y.sum(), rate)
    assert float(grad) == pytest.approx(float((-y.detach() / 2.5).sum()))
    # a wrong rate is detected
    assert stats.ks_statistic(y, lambda v: 1 - torch.exp(-2.0 * v)) > stats.ks_critical_value(n)


def test_exponential_rsample_shapes_and_checks():
    rate = torch.tensor([1.0, 3.0])
    g = torch.Generator().manual_seed(0)
    assert toy.exponential_rsample(rate, (4, 5), generator=g).shape == (4, 5, 2)
    assert bool(torch.isfinite(toy.exponential_rsample(rate, 10_000, generator=g)).all())
    with pytest.raises(ValueError):
        toy.exponential_rsample(torch.tensor([1.0, 0.0]))
    with pytest.raises(TypeError):
        toy.exponential_rsample(torch.tensor([1, 2]))


def test_gumbel_rsample_distribution_and_gradients():
    loc = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    y = toy.gumbel_rsample(loc, scale, 20_000, generator=torch.Generator().manual_seed(0))
    n = y.numel()
    assert stats.ks_statistic(y, lambda v: torch.exp(-torch.exp(-(v - 0.5) / 2.0))) < (
        stats.ks_critical_value(n)
    )
    sd = math.pi * 2.0 / math.sqrt(6)
    assert abs(float(y.detach().mean()) - (0.5 + 2.0 * toy.EULER_GAMMA)) < 5 * sd / math.sqrt(n)
    g_loc, g_scale = torch.autograd.grad(y.sum(), (loc, scale))
    assert float(g_loc) == pytest.approx(n)
    assert float(g_scale) == pytest.approx(float(((y.detach() - 0.5) / 2.0).sum()))
    with pytest.raises(ValueError):
        toy.gumbel_rsample(loc, torch.tensor(-1.0))
