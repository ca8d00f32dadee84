"""relaxlib.toys.reinforce: the Bernoulli toy of REBAR/RELAX, its exact answers and estimators.

Expected values are computed here independently: by hand (numbers written out), by brute-force
enumeration of every outcome of m samples, or with torch.distributions.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import relaxlib as rl
from dae_course import stats
from dae_course.ch06_reinforce import problems as toy

F64 = torch.float64


def enumerate_estimates(theta, t, m, baseline=None):
    """Every outcome of m Bernoulli samples with its probability and its estimate (brute force)."""
    out = []
    for bits in itertools.product([0.0, 1.0], repeat=m):
        b = torch.tensor(bits, dtype=F64)
        prob = math.prod(theta if x else 1 - theta for x in bits)
        L = (b - t) ** 2
        s = b / theta - (1 - b) / (1 - theta)
        if baseline == "loo":
            base = (L.sum() - L) / (m - 1)
        elif baseline == "mean":
            base = L.mean().expand(m)
        elif baseline is None:
            base = torch.zeros(m, dtype=F64)
        else:
            base = torch.full((m,), float(baseline), dtype=F64)
        out.append((prob, float(((L - base) * s).mean())))
    return out


def moments(pairs):
    mean = sum(p * v for p, v in pairs)
    var = sum(p * (v - mean) ** 2 for p, v in pairs)
    return mean, var


# --------------------------------------------------------------------------------------
# exact values
# --------------------------------------------------------------------------------------


def test_expected_loss_and_gradient_by_hand():
    assert toy.expected_loss(0.3, 0.45) == pytest.approx(0.3 * 0.3025 + 0.7 * 0.2025)
    assert toy.exact_gradient(0.3, 0.45) == pytest.approx(0.1)
    assert toy.exact_gradient(0.9, 0.499) == pytest.approx(0.002)
    theta = torch.tensor(0.37, dtype=F64, requires_grad=True)
    toy.expected_loss(theta, 0.45).backward()
    assert theta.grad.item() == pytest.approx(0.1, abs=1e-12)


def test_bernoulli_step_values_and_zero_gradient():
    g = torch.Generator().manual_seed(0)
    u = torch.rand(10_000, generator=g, dtype=F64)
    theta = torch.full((10_000,), 0.3, dtype=F64, requires_grad=True)
    b = toy.bernoulli_step(u, theta)
    assert torch.equal(b.detach(), (u < 0.3).to(F64))
    assert abs(b.mean().item() - 0.3) < 5 * math.sqrt(0.21 / 10_000)
    b.sum().backward()
    assert torch.equal(theta.grad, torch.zeros_like(theta))


def test_log_prob_and_score():
    b = torch.tensor([1.0, 0.0, 1.0], dtype=F64)
    theta = torch.tensor(0.3, dtype=F64, requires_grad=True)
    lp = toy.log_prob(b, theta)
    ref = torch.distributions.Bernoulli(probs=torch.tensor(0.3, dtype=F64)).log_prob(b)
    torch.testing.assert_close(lp.detach(), ref)
    lp.sum().backward()
    assert theta.grad.item() == pytest.approx(2 / 0.3 - 1 / 0.7)
    torch.testing.assert_close(
        toy.score(b, 0.3), torch.tensor([1 / 0.3, -1 / 0.7, 1 / 0.3], dtype=F64)
    )
    assert toy.loss(torch.tensor(1.0), 0.45).item() == pytest.approx(0.3025)


def test_estimator_values_by_hand():
    g1, g0 = toy.estimator_values(0.3, 0.45)
    assert g1 == pytest.approx(0.3025 / 0.3) and g0 == pytest.approx(-0.2025 / 0.7)
    assert 0.3 * g1 + 0.7 * g0 == pytest.approx(0.1)
    g1, g0 = toy.estimator_values(0.3, 0.45, 0.2)
    assert g1 == pytest.approx(0.1025 / 0.3) and g0 == pytest.approx(-0.0025 / 0.7)


@pytest.mark.parametrize("theta, t, c", [(0.3, 0.45, 0.0), (0.3, 0.499, 0.1), (0.8, 0.2, 0.5)])
def test_per_sample_variance_matches_enumeration(theta, t, c):
    mean, var = moments(enumerate_estimates(theta, t, 1, c))
    assert mean == pytest.approx(1 - 2 * t)
    assert toy.per_sample_variance(theta, t, c) == pytest.approx(var)
    cstar = toy.optimal_baseline(theta, t)
    assert toy.per_sample_variance(theta, t, c) == pytest.approx(
        (c - cstar) ** 2 / (theta * (1 - theta))
    )


def test_plain_variance_numbers():
    # (1-t)^4/theta + t^4/(1-theta) - (1-2t)^2 at theta = 0.3, t = 0.45, written out
    assert toy.per_sample_variance(0.3, 0.45) == pytest.approx(
        0.3025**2 / 0.3 + 0.2025**2 / 0.7 - 0.01
    )


def test_optimal_baseline_minimises_and_zeroes_the_variance():
    theta, t = 0.3, 0.45
    cstar = toy.optimal_baseline(theta, t)
    assert cstar == pytest.approx(0.7 * 0.3025 + 0.3 * 0.2025)
    grid = torch.linspace(0, 0.6, 601, dtype=F64)
    var = toy.per_sample_variance(theta, t, grid)
    assert abs(grid[var.argmin()].item() - cstar) <= 0.001
    assert toy.per_sample_variance(theta, t, cstar) == pytest.approx(0, abs=1e-14)
    assert toy.optimal_baseline(0.5, t) == pytest.approx(toy.expected_loss(0.5, t))


@pytest.mark.parametrize("m", [2, 3, 4, 6])
@pytest.mark.parametrize("theta, t", [(0.3, 0.45), (0.6, 0.1)])
def test_loo_variance_matches_enumeration(m, theta, t):
    mean, var = moments(enumerate_estimates(theta, t, m, "loo"))
    assert mean == pytest.approx(1 - 2 * t)
    assert toy.loo_variance(theta, t, m) == pytest.approx(var, rel=1e-10)


def test_loo_variance_limit_and_errors():
    theta, t, m = 0.3, 0.45, 10_000
    limit = toy.per_sample_variance(theta, t, toy.expected_loss(theta, t))
    assert m * toy.loo_variance(theta, t, m) == pytest.approx(limit, rel=1e-3)
    with pytest.raises(ValueError):
        toy.loo_variance(theta, t, 1)


@pytest.mark.parametrize("baseline", [None, 0.2, "loo", "mean"])
@pytest.mark.parametrize("m", [2, 5])
def test_estimate_distribution_matches_enumeration(baseline, m):
    theta, t = 0.3, 0.45
    values, probs = toy.estimate_distribution(theta, t, m, baseline)
    assert probs.sum().item() == pytest.approx(1.0)
    brute = {}
    for p, v in enumerate_estimates(theta, t, m, baseline):
        key = round(v, 12)
        brute[key] = brute.get(key, 0.0) + p
    mine = {}
    for v, p in zip(values.tolist(), probs.tolist()):
        key = round(v, 12)
        mine[key] = mine.get(key, 0.0) + p
    assert mine.keys() == brute.keys()
    for key in mine:
        assert mine[key] == pytest.approx(brute[key])


def test_estimate_distribution_moments_and_bias():
    theta, t = 0.3, 0.45
    for m in (1, 7, 100):
        mean, var, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, m))
        assert mean == pytest.approx(0.1) and var == pytest.approx(
            toy.per_sample_variance(theta, t) / m
        )
    mean, var, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, 100, "loo"))
    assert mean == pytest.approx(0.1) and var == pytest.approx(toy.loo_variance(theta, t, 100))
    mean, _, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, 4, "mean"))
    assert mean == pytest.approx(0.075) == toy.mean_baseline_expectation(theta, t, 4)
    values, _ = toy.estimate_distribution(theta, t, 4, "self")
    assert torch.equal(values, torch.zeros(5, dtype=F64))
    with pytest.raises(ValueError):
        toy.estimate_distribution(theta, t, 1, "loo")
    with pytest.raises(ValueError):
        toy.estimate_distribution(theta, t, 3, "other")


def test_distribution_moments_fourth():
    values = torch.tensor([-1.0, 1.0], dtype=F64)
    probs = torch.tensor([0.5, 0.5], dtype=F64)
    assert toy.distribution_moments(values, probs) == pytest.approx((0.0, 1.0, 1.0))


def test_sign_probability_by_hand():
    # m = 1: the estimate is positive exactly when b = 1 (probability theta)
    assert toy.sign_probability(0.3, 0.45, 1) == pytest.approx(0.3)
    # leave-one-out, m = 2: nonzero (and of the right sign) unless both samples agree
    assert toy.sign_probability(0.3, 0.45, 2, "loo") == pytest.approx(1 - 0.09 - 0.49)
    # t > 1/2: the true gradient is negative, m = 1 gets it right when b = 0
    assert toy.sign_probability(0.3, 0.6, 1) == pytest.approx(0.7)


def test_samples_for_sign():
    # z_0.95 = 1.6448536..., sigma^2 = 0.3536011904..., mu = 0.1
    z = 1.6448536269514722
    assert toy.samples_for_sign(0.3, 0.45) == math.ceil(z**2 * 0.35360119047619 / 0.01)
    m = toy.samples_for_sign(0.3, 0.499)
    assert 190_000 < m < 210_000
    assert 0.94 < toy.sign_probability(0.3, 0.499, m) < 0.96


def test_sample_variance_standard_error_normal_case():
    # for normal draws mu4 = 3 sigma^4 and the standard error is sigma^2 sqrt(2/(n-1))
    assert stats.sample_variance_standard_error(2.0, 12.0, 101) == pytest.approx(
        2.0 * math.sqrt(2 / 100)
    )


# --------------------------------------------------------------------------------------
# Monte Carlo with reinforce_surrogate
# --------------------------------------------------------------------------------------


def test_reinforce_estimates_single_sample_values():
    g = torch.Generator().manual_seed(3)
    est = toy.reinforce_estimates(0.3, 0.45, 1, 1000, generator=g)
    u = torch.rand((1, 1000), generator=torch.Generator().manual_seed(3), dtype=F64)[0]
    b = (u < 0.3).to(F64)
    hand = (b - 0.45) ** 2 * (b / 0.3 - (1 - b) / 0.7)
    torch.testing.assert_close(est, hand)


def test_reinforce_estimates_loo_mean_self_by_formula():
    m, R = 5, 400
    est = {}
    for kind in ("loo", "mean", "self"):
        est[kind] = toy.reinforce_estimates(
            0.3, 0.45, m, R, baseline=kind, generator=torch.Generator().manual_seed(4)
        )
    u = torch.rand((m, R), generator=torch.Generator().manual_seed(4), dtype=F64)
    k = (u < 0.3).to(F64).sum(0)
    loo = k * (m - k) * 0.1 / (m * (m - 1) * 0.21)
    torch.testing.assert_close(est["loo"], loo)
    torch.testing.assert_close(est["mean"], loo * (m - 1) / m)
    assert torch.equal(est["self"], torch.zeros(R, dtype=F64))
    with pytest.raises(ValueError):
        toy.reinforce_estimates(0.3, 0.45, 2, 3, baseline="median")


@pytest.mark.parametrize("baseline", [None, 0.25, "loo"])
def test_reinforce_estimates_unbiased(baseline):
    theta, t, m, R = 0.3, 0.45, 4, 50_000
    est = toy.reinforce_estimates(
        theta, t, m, R, baseline=baseline, generator=torch.Generator().manual_seed(5)
    )
    _, var, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, m, baseline))
    assert abs(est.mean().item() - 0.1) < 5 * math.sqrt(var / R)


def test_reinforce_estimates_float32_and_surrogate_value():
    est = toy.reinforce_estimates(
        0.3, 0.45, 3, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float32
    )
    assert est.dtype == torch.float32 and est.shape == (10,)
    # the library surrogate these estimates come from has the mean loss as its value
    b = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=F64)
    theta = torch.tensor(0.3, dtype=F64, requires_grad=True)
    s = rl.reinforce_surrogate(toy.log_prob(b, theta), toy.loss(b, 0.45))
    assert s.item() == pytest.approx(0.2525)
    s.backward()
    assert theta.grad.item() == pytest.approx((2 * 0.3025 / 0.3 - 2 * 0.2025 / 0.7) / 4)


# --------------------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------------------


def test_sgd_exact_path_by_hand():
    path = toy.sgd(0.45, 2.0, 3, 2, exact=True, w0=0.5)
    w = 0.5
    expected = [1 / (1 + math.exp(-w))]
    for _ in range(3):
        th = 1 / (1 + math.exp(-w))
        w -= 2.0 * 0.1 * th * (1 - th)
        expected.append(1 / (1 + math.exp(-w)))
    assert path.shape == (4, 2)
    torch.testing.assert_close(path[:, 0], torch.tensor(expected, dtype=F64))
    torch.testing.assert_close(path[:, 1], path[:, 0])


def test_sgd_first_step_by_hand_and_reproducible():
    runs, lr, t = 50, 3.0, 0.45
    path = toy.sgd(t, lr, 1, runs, generator=torch.Generator().manual_seed(8))
    u = torch.rand((1, runs), generator=torch.Generator().manual_seed(8), dtype=F64)[0]
    b = (u < 0.5).to(F64)
    grad_w = (b - t) ** 2 * (b - 0.5)  # score of b w.r.t. the logit w is b - sigmoid(w)
    torch.testing.assert_close(path[1], torch.sigmoid(-lr * grad_w))
    again = toy.sgd(t, lr, 1, runs, generator=torch.Generator().manual_seed(8))
    assert torch.equal(path, again)


def test_sgd_small_steps_follow_the_exact_path_on_average():
    runs = 300
    noisy = toy.sgd(0.45, 0.5, 300, runs, generator=torch.Generator().manual_seed(9))
    exact = toy.sgd(0.45, 0.5, 300, 1, exact=True)
    final = noisy[-1]
    assert (final < 0.5).all()
    assert abs(final.mean().item() - exact[-1, 0].item()) < 5 * final.std().item() / math.sqrt(runs)
