"""relaxlib.toys.gumbel: the categorical toy, its exact gradient, the estimators, the exact
references (reversed Gumbel-max, REINFORCE moments) and the chi-square helpers.

Expected values come from hand derivations, finite differences, enumeration written out
here, or published tables; never from the function under test.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.distributions import OneHotCategoricalStraightThrough

import relaxlib as rl
from dae_course import stats
from dae_course.ch07_gumbel_straight_through import problems as toy

D = torch.float64
THETA = torch.tensor([0.5, -0.5, 1.0, 0.0], dtype=D)
TARGET = torch.tensor([0.6, 0.1, 0.2, 0.1], dtype=D)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def problem():
    return toy.CategoricalToy(THETA.clone(), TARGET.clone())


def expected_loss_by_hand(theta, target):
    """sum_k p_k ||e_k - t||^2 with explicit loops."""
    p = torch.softmax(theta, -1)
    total = 0.0
    for k in range(theta.numel()):
        f = sum((float(j == k) - float(target[j])) ** 2 for j in range(theta.numel()))
        total += float(p[k]) * f
    return total


# --------------------------------------------------------------------------------------
# the toy and its exact gradient
# --------------------------------------------------------------------------------------


def test_outcome_losses_and_expected_loss(problem):
    # f(e_k) = ||e_k - t||^2 = 1 - 2 t_k + ||t||^2
    sq = float((TARGET**2).sum())
    expected = [1 - 2 * float(t) + sq for t in TARGET]
    assert problem.outcome_losses().tolist() == pytest.approx(expected, abs=1e-12)
    assert float(problem.expected_loss()) == pytest.approx(
        expected_loss_by_hand(THETA, TARGET), abs=1e-12
    )


def test_exact_gradient_matches_finite_differences(problem):
    h = 1e-6
    fd = []
    for j in range(4):
        e = torch.zeros(4, dtype=D)
        e[j] = h
        fd.append(
            (expected_loss_by_hand(THETA + e, TARGET) - expected_loss_by_hand(THETA - e, TARGET))
            / (2 * h)
        )
    assert problem.exact_gradient().tolist() == pytest.approx(fd, abs=1e-8)
    assert torch.allclose(problem.exact_gradient(), problem.exact_gradient_autograd())
    assert abs(float(problem.exact_gradient().sum())) < 1e-12  # softmax: shift invariance


def test_two_categories_reduce_to_the_bernoulli_toy():
    # K = 2: p1 = sigmoid(theta1 - theta0), F = f0 + p1 (f1 - f0), dF/dtheta1 = p1(1-p1)(f1-f0)
    theta = torch.tensor([0.3, -0.4], dtype=D)
    target = torch.tensor([0.55, 0.45], dtype=D)
    t2 = toy.CategoricalToy(theta, target)
    f0 = (1 - 0.55) ** 2 + 0.45**2
    f1 = 0.55**2 + (1 - 0.45) ** 2
    p1 = 1 / (1 + math.exp(-(-0.4 - 0.3)))
    g1 = p1 * (1 - p1) * (f1 - f0)
    assert t2.exact_gradient().tolist() == pytest.approx([-g1, g1], abs=1e-12)


@pytest.mark.parametrize(
    "logits, target, error",
    [
        (torch.tensor([1.0]), torch.tensor([1.0]), ValueError),
        (torch.zeros(2, 3), torch.zeros(2, 3), ValueError),
        (torch.zeros(3), torch.zeros(4), ValueError),
        (torch.zeros(3, dtype=torch.long), torch.zeros(3), TypeError),
    ],
)
def test_toy_validation(logits, target, error):
    with pytest.raises(error):
        toy.CategoricalToy(logits, target)


# --------------------------------------------------------------------------------------
# per-sample gradients against formulas written out here
# --------------------------------------------------------------------------------------


def softmax_jacobian_times(y, v, temperature=1.0):
    """(diag(y) - y y^T) v / T, row by row."""
    return (y * v - y * (y * v).sum(-1, keepdim=True)) / temperature


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_estimates_match_the_chain_rule(problem, hard):
    m, n, temperature = 2, 50, 0.7
    est = toy.gradient_estimates(
        problem,
        "st-gumbel-softmax" if hard else "gumbel-softmax",
        n_estimates=n,
        m=m,
        temperature=temperature,
        generator=gen(3),
    )
    g = rl.gumbel_noise((m, n, 4), generator=gen(3), dtype=D)  # the same draw
    soft = torch.softmax((THETA + g) / temperature, -1)
    y = torch.nn.functional.one_hot(soft.argmax(-1), 4).to(D) if hard else soft
    per_sample = softmax_jacobian_times(soft, 2 * (y - TARGET), temperature)
    assert torch.allclose(est, per_sample.mean(0), atol=1e-12)


def test_reinforce_estimates_match_the_score_formula(problem):
    m, n = 3, 40
    est = toy.gradient_estimates(problem, "reinforce", n_estimates=n, m=m, generator=gen(4))
    idx = rl.gumbel_max_sample(THETA.expand(m, n, 4), generator=gen(4))
    y = torch.nn.functional.one_hot(idx, 4).to(D)
    p = torch.softmax(THETA, -1)
    loss = ((y - TARGET) ** 2).sum(-1, keepdim=True)
    assert torch.allclose(est, (loss * (y - p)).mean(0), atol=1e-12)

    loo = toy.gradient_estimates(problem, "reinforce-loo", n_estimates=n, m=m, generator=gen(4))
    baseline = (loss.sum(0, keepdim=True) - loss) / (m - 1)
    assert torch.allclose(loo, ((loss - baseline) * (y - p)).mean(0), atol=1e-12)


def test_torch_st_estimates_use_the_noise_free_jacobian(problem):
    est = toy.gradient_estimates(problem, "torch-st", n_estimates=30, m=1, generator=gen(5))
    idx = rl.gumbel_max_sample(THETA.expand(1, 30, 4), generator=gen(5))
    y = torch.nn.functional.one_hot(idx, 4).to(D)
    p = torch.softmax(THETA, -1).expand_as(y)
    assert torch.allclose(est, softmax_jacobian_times(p, 2 * (y - TARGET)).mean(0))


def test_torch_st_rsample_is_pytorchs_rsample():
    logits = torch.tensor([0.2, -1.0, 0.7], dtype=D, requires_grad=True)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=D)
    one_hot = torch.tensor([0.0, 1.0, 0.0], dtype=D)
    y = toy.torch_st_rsample(logits, one_hot)
    assert torch.equal(y.detach(), one_hot)
    (y @ w).backward()
    p = torch.softmax(logits.detach(), -1)
    assert torch.allclose(logits.grad, softmax_jacobian_times(p, w))
    # PyTorch's own rsample (its own draw, global RNG isolated) has that same gradient.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        logits2 = logits.detach().clone().requires_grad_(True)
        y2 = OneHotCategoricalStraightThrough(logits=logits2).rsample()
        (y2 @ w).backward()
    assert torch.allclose(logits2.grad, logits.grad)


def test_gradient_estimates_validation(problem):
    with pytest.raises(ValueError):
        toy.gradient_estimates(problem, "rebar", n_estimates=2)
    with pytest.raises(ValueError):
        toy.gradient_estimates(problem, "reinforce-loo", n_estimates=2, m=1)


# --------------------------------------------------------------------------------------
# bias and variance: statistical claims
# --------------------------------------------------------------------------------------


def test_reinforce_unbiased_and_straight_through_biased(problem):
    exact = problem.exact_gradient()
    results = toy.compare_estimators(
        problem,
        [
            ("rf", "reinforce", 1.0),
            ("loo", "reinforce-loo", 1.0),
            ("st", "st-gumbel-softmax", 1.0),
        ],
        n_estimates=5000,
        m=4,
        seed=100,
    )
    rf, loo, st = results
    assert rf.max_abs_z < 5 and loo.max_abs_z < 5
    assert st.max_abs_z > 10 and st.bias_norm > 0.2 * float(exact.norm())
    assert st.variance_per_sample < rf.variance_per_sample
    assert [r.name for r in results] == ["rf", "loo", "st"]


def exact_moments_by_loops(p, f, m, loo):
    k = p.numel()
    mean = torch.zeros(k, dtype=D)
    second = 0.0
    for tup in itertools.product(range(k), repeat=m):
        prob = math.prod(float(p[i]) for i in tup)
        est = torch.zeros(k, dtype=D)
        for i, yi in enumerate(tup):
            b = sum(float(f[yj]) for j, yj in enumerate(tup) if j != i) / (m - 1) if loo else 0.0
            score = -p.clone()
            score[yi] += 1
            est += (float(f[yi]) - b) * score / m
        mean += prob * est
        second += prob * float((est**2).sum())
    return mean, second - float((mean**2).sum())


@pytest.mark.parametrize("m, baseline", [(1, None), (3, None), (2, "loo"), (3, "loo")])
def test_exact_reinforce_moments_against_loops(problem, m, baseline):
    mean, trace = toy.exact_reinforce_moments(problem, m, baseline)
    ref_mean, ref_trace = exact_moments_by_loops(
        problem.probs(), problem.outcome_losses(), m, baseline == "loo"
    )
    assert torch.allclose(mean, ref_mean) and torch.allclose(mean, problem.exact_gradient())
    assert trace == pytest.approx(ref_trace, rel=1e-10)


def test_exact_reinforce_moments_single_sample_closed_form(problem):
    p, f = problem.probs(), problem.outcome_losses()
    s2 = ((torch.eye(4, dtype=D) - p) ** 2).sum(-1)
    closed = float(p @ (f**2 * s2)) - float((problem.exact_gradient() ** 2).sum())
    _, trace1 = toy.exact_reinforce_moments(problem, 1)
    _, trace4 = toy.exact_reinforce_moments(problem, 4)
    assert trace1 == pytest.approx(closed, rel=1e-12)
    assert trace4 == pytest.approx(closed / 4, rel=1e-10)  # i.i.d. average of 4


def test_measured_variance_matches_exact(problem):
    _, trace = toy.exact_reinforce_moments(problem, 4, "loo")
    est = toy.gradient_estimates(problem, "reinforce-loo", n_estimates=8000, m=4, generator=gen(8))
    s = toy.summarise(est, problem.exact_gradient(), 4)
    assert s.variance_per_sample == pytest.approx(4 * trace, rel=0.08)


def test_exact_reinforce_variance_many(problem):
    _, trace1 = toy.exact_reinforce_moments(problem, 1)
    assert toy.exact_reinforce_variance_many(problem, 1) == pytest.approx(trace1, rel=1e-12)
    # D = 2 by brute force over the 16 outcome pairs: L = f(y1) + f(y2), score of y1.
    p, f = problem.probs(), problem.outcome_losses()
    mean = torch.zeros(4, dtype=D)
    second = 0.0
    for a, b in itertools.product(range(4), repeat=2):
        score = -p.clone()
        score[a] += 1
        est = (f[a] + f[b]) * score
        mean += p[a] * p[b] * est
        second += float(p[a] * p[b] * (est**2).sum())
    assert torch.allclose(mean, problem.exact_gradient())
    brute = second - float((mean**2).sum())
    assert toy.exact_reinforce_variance_many(problem, 2) == pytest.approx(brute, rel=1e-12)
    with pytest.raises(ValueError):
        toy.exact_reinforce_variance_many(problem, 0)


def test_many_choices_variance(problem):
    v4 = toy.many_choices_variance(problem, 4, "reinforce", n_estimates=3000, generator=gen(9))
    assert v4 == pytest.approx(toy.exact_reinforce_variance_many(problem, 4), rel=0.1)
    st = [
        toy.many_choices_variance(
            problem, d, "st-gumbel-softmax", n_estimates=2000, m=2, generator=gen(10 + d)
        )
        for d in (1, 8)
    ]
    assert st[1] == pytest.approx(st[0], rel=0.1)  # pathwise: no cross-talk between choices
    loo = toy.many_choices_variance(
        problem, 8, "reinforce-loo", n_estimates=2000, m=2, generator=gen(11)
    )
    assert loo > 3 * st[1]


def test_summarise_on_known_numbers():
    est = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0], [2.0, -3.0]], dtype=D)
    s = toy.summarise(est, torch.tensor([1.0, 0.0], dtype=D), m=2, name="x")
    # mean (2, 0): bias (1, 0); sample variances (2/3, 6): trace 20/3
    assert s.bias.tolist() == pytest.approx([1.0, 0.0])
    assert s.bias_norm == pytest.approx(1.0)
    assert s.variance_per_sample == pytest.approx(2 * 20 / 3)
    assert s.mse == pytest.approx(1 + 20 / 3)
    assert s.noise_norm == pytest.approx(math.sqrt(20 / 3 / 4))
    assert s.max_abs_z == pytest.approx(1.0 / math.sqrt(2 / 3 / 4))
    table = toy.format_summaries([s])
    assert table.splitlines()[2].startswith("x") and "1.00" not in table.splitlines()[0]
    with pytest.raises(ValueError):
        toy.summarise(est[:1], torch.zeros(2, dtype=D))


# --------------------------------------------------------------------------------------
# Gumbel-max with reversed noise; chi-square
# --------------------------------------------------------------------------------------


def test_reversed_gumbel_two_categories_is_still_softmax():
    # the difference of two i.i.d. Gumbels is logistic, symmetric: the sign does not matter
    x = torch.tensor([0.9, -0.3], dtype=D)
    assert torch.allclose(toy.reversed_gumbel_max_probs(x), torch.softmax(x, -1))


def test_reversed_gumbel_three_categories_by_integration():
    # P(k) = integral of (1/w_k) e^{-s/w_k} prod_{j!=k} (1 - e^{-s/w_j}) ds, trapezoid rule
    x = torch.tensor([1.0, 0.0, -1.5], dtype=D)
    w = torch.softmax(x, -1)
    s = torch.linspace(0, 60, 600_001, dtype=D)
    expected = []
    for k in range(3):
        integrand = torch.exp(-s / w[k]) / w[k]
        for j in range(3):
            if j != k:
                integrand = integrand * (1 - torch.exp(-s / w[j]))
        expected.append(float(torch.trapezoid(integrand, s)))
    got = toy.reversed_gumbel_max_probs(x)
    assert got.tolist() == pytest.approx(expected, abs=1e-6)
    assert float(got.sum()) == pytest.approx(1.0, abs=1e-12)
    assert not torch.allclose(got, w, atol=1e-2)  # the wrong law


def test_reversed_gumbel_matches_sampling():
    x = torch.tensor([1.1, 4.0, -0.1, 2.3], dtype=D)
    n = 200_000
    u = torch.rand(n, 4, generator=gen(12), dtype=D)
    idx = (x + torch.log(-torch.log(u))).argmax(-1)
    counts = torch.bincount(idx, minlength=4)
    assert stats.chi2_statistic(counts, toy.reversed_gumbel_max_probs(x)) < 21.1  # df 3, 1e-4
    assert stats.chi2_statistic(counts, torch.softmax(x, -1)) > 1000


def test_reversed_gumbel_uniform_and_validation():
    assert torch.allclose(
        toy.reversed_gumbel_max_probs(torch.zeros(5, dtype=D)), torch.full((5,), 0.2, dtype=D)
    )
    with pytest.raises(ValueError):
        toy.reversed_gumbel_max_probs(torch.zeros(21))
    with pytest.raises(ValueError):
        toy.reversed_gumbel_max_probs(torch.zeros(2, 2))


@pytest.mark.parametrize(
    "df, alpha, table",
    # NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.4
    [(1, 0.05, 3.841), (3, 0.05, 7.815), (3, 0.001, 16.266), (10, 0.01, 23.209), (4, 0.1, 7.779)],
)
def test_chi2_critical_against_tables(df, alpha, table):
    assert stats.chi2_critical(df, alpha) == pytest.approx(table, abs=1e-3)


def test_chi2_critical_df2_closed_form_and_validation():
    assert stats.chi2_critical(2, 1e-6) == pytest.approx(-2 * math.log(1e-6), rel=1e-9)
    for bad in [(0, 0.05), (2, 0.0), (2, 1.0), (True, 0.05), (2.5, 0.05)]:
        with pytest.raises(ValueError):
            stats.chi2_critical(*bad)


def test_chi2_statistic_by_hand():
    counts = torch.tensor([30, 50, 20])
    probs = torch.tensor([0.25, 0.5, 0.25], dtype=D)
    # E = (25, 50, 25): (25 + 0 + 25) / 25 = 2
    assert stats.chi2_statistic(counts, probs) == pytest.approx(2.0)
