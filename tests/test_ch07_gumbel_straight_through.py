"""Chapter 7 (Gumbel-max, Gumbel-softmax and straight-through): its course code.

* the categorical toy, its exact gradient and the exact references (reversed Gumbel-max,
  REINFORCE moments), and the package copies of the page's estimators, measurement and
  cold limit;
* the simplex drawings, the bias/variance figures, and the page's explorer and slider
  (what the page used to assert about its widgets is checked here);
* the exercise checkers: reference answers pass, each named mistake, written here as a
  small wrong function, is caught with its own message.

Expected values come from hand derivations, finite differences, enumeration written out
here, or published tables; never from the function under test.
"""

from __future__ import annotations

import itertools
import math
from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.distributions import OneHotCategoricalStraightThrough  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import explorers, sliders, stats  # noqa: E402
from dae_course.ch07_gumbel_straight_through import checks, figures, problems  # noqa: E402
from dae_course.checking import CORRECT, ERROR, INCORRECT, NOT_ATTEMPTED  # noqa: E402

D = torch.float64
THETA = torch.tensor([0.5, -0.5, 1.0, 0.0], dtype=D)
TARGET = torch.tensor([0.6, 0.1, 0.2, 0.1], dtype=D)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def problem():
    return problems.CategoricalToy(THETA.clone(), TARGET.clone())


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
    t2 = problems.CategoricalToy(theta, target)
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
        problems.CategoricalToy(logits, target)


# --------------------------------------------------------------------------------------
# per-sample gradients against formulas written out here
# --------------------------------------------------------------------------------------


def softmax_jacobian_times(y, v, temperature=1.0):
    """(diag(y) - y y^T) v / T, row by row."""
    return (y * v - y * (y * v).sum(-1, keepdim=True)) / temperature


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_estimates_match_the_chain_rule(problem, hard):
    m, n, temperature = 2, 50, 0.7
    est = problems.gradient_estimates(
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
    est = problems.gradient_estimates(problem, "reinforce", n_estimates=n, m=m, generator=gen(4))
    idx = rl.gumbel_max_sample(THETA.expand(m, n, 4), generator=gen(4))
    y = torch.nn.functional.one_hot(idx, 4).to(D)
    p = torch.softmax(THETA, -1)
    loss = ((y - TARGET) ** 2).sum(-1, keepdim=True)
    assert torch.allclose(est, (loss * (y - p)).mean(0), atol=1e-12)

    loo = problems.gradient_estimates(
        problem, "reinforce-loo", n_estimates=n, m=m, generator=gen(4)
    )
    baseline = (loss.sum(0, keepdim=True) - loss) / (m - 1)
    assert torch.allclose(loo, ((loss - baseline) * (y - p)).mean(0), atol=1e-12)


def test_torch_st_rsample_batched_uses_the_noise_free_jacobian():
    # the page's deep dive measures PyTorch's estimator with one leaf row per sample
    theta = THETA.expand(1, 30, 4).clone().requires_grad_(True)
    idx = rl.gumbel_max_sample(theta, generator=gen(5))
    y = problems.torch_st_rsample(theta, torch.nn.functional.one_hot(idx, 4))
    ((y - TARGET) ** 2).sum().backward()
    one_hot = torch.nn.functional.one_hot(idx, 4).to(D)
    p = torch.softmax(THETA, -1).expand_as(one_hot)
    assert torch.equal(y.detach(), one_hot)
    assert torch.allclose(theta.grad, softmax_jacobian_times(p, 2 * (one_hot - TARGET)))


def test_torch_st_rsample_is_pytorchs_rsample():
    logits = torch.tensor([0.2, -1.0, 0.7], dtype=D, requires_grad=True)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=D)
    one_hot = torch.tensor([0.0, 1.0, 0.0], dtype=D)
    y = problems.torch_st_rsample(logits, one_hot)
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
    with pytest.raises(KeyError):
        problems.gradient_estimates(problem, "rebar", n_estimates=2)
    with pytest.raises(ValueError, match="loo"):
        problems.gradient_estimates(problem, "reinforce-loo", n_estimates=2, m=1)
    assert set(problems.METHODS) == {
        "gumbel-softmax",
        "st-gumbel-softmax",
        "reinforce",
        "reinforce-loo",
    }


def test_st_gumbel_softmax_is_the_librarys_hard_gumbel_softmax():
    for dtype in (torch.float32, torch.float64):
        logits = torch.randn(6, 5, generator=gen(21), dtype=dtype)
        mine, theirs = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
        w = torch.randn(6, 5, generator=gen(22), dtype=dtype)
        y = problems.st_gumbel_softmax(mine, 0.7, generator=gen(23))
        z = rl.gumbel_softmax(theirs, 0.7, hard=True, generator=gen(23))
        assert torch.equal(y.detach(), z.detach()) and y.dtype == dtype
        assert ((y.detach() == 0) | (y.detach() == 1)).all() and (y.detach().sum(-1) == 1).all()
        (y * w).sum().backward()
        (z * w).sum().backward()
        assert torch.allclose(mine.grad, theirs.grad)


def test_st_gumbel_softmax_gradient_is_the_soft_samples():
    # the soft sample with the same noise, written out: softmax((logits + g) / T)
    logits = torch.tensor([0.3, -0.2, 1.1], dtype=D, requires_grad=True)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=D)
    (problems.st_gumbel_softmax(logits, 0.5, generator=gen(24)) @ w).backward()
    g = rl.gumbel_noise((3,), generator=gen(24), dtype=D)
    soft = torch.softmax((logits.detach() + g) / 0.5, -1)
    assert torch.allclose(logits.grad, softmax_jacobian_times(soft, w, 0.5))


def test_gumbel_softmax_sample_is_softmax_of_noisy_logits():
    # what the page's simplex figure and its table rely on: the same seed, the same noise
    x3 = torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=D))
    g3 = rl.gumbel_noise((500, 3), generator=gen(6), dtype=D)
    for temperature in (0.05, 1.0, 100.0):
        y = rl.gumbel_softmax(x3.expand(500, 3), temperature, generator=gen(6))
        assert torch.allclose(y, torch.softmax((x3 + g3) / temperature, -1))
        assert torch.allclose(y.sum(-1), torch.ones(500, dtype=D))


# --------------------------------------------------------------------------------------
# bias and variance: statistical claims
# --------------------------------------------------------------------------------------


def test_reinforce_unbiased_and_straight_through_biased(problem):
    exact = problem.exact_gradient()
    rf, loo, st = (
        problems.measure(
            problems.gradient_estimates(problem, method, n_estimates=5000, m=4, generator=gen(s)),
            exact,
            4,
        )
        for s, method in [(100, "reinforce"), (101, "reinforce-loo"), (102, "st-gumbel-softmax")]
    )
    assert rf["max|z|"] < 5 and loo["max|z|"] < 5
    assert st["max|z|"] > 10 and st["|bias|"] > 0.2 * float(exact.norm())
    assert st["var/sample"] < rf["var/sample"]


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
    mean, trace = problems.exact_reinforce_moments(problem, m, baseline)
    ref_mean, ref_trace = exact_moments_by_loops(
        problem.probs(), problem.outcome_losses(), m, baseline == "loo"
    )
    assert torch.allclose(mean, ref_mean) and torch.allclose(mean, problem.exact_gradient())
    assert trace == pytest.approx(ref_trace, rel=1e-10)


def test_exact_reinforce_moments_single_sample_closed_form(problem):
    p, f = problem.probs(), problem.outcome_losses()
    s2 = ((torch.eye(4, dtype=D) - p) ** 2).sum(-1)
    closed = float(p @ (f**2 * s2)) - float((problem.exact_gradient() ** 2).sum())
    _, trace1 = problems.exact_reinforce_moments(problem, 1)
    _, trace4 = problems.exact_reinforce_moments(problem, 4)
    assert trace1 == pytest.approx(closed, rel=1e-12)
    assert trace4 == pytest.approx(closed / 4, rel=1e-10)  # i.i.d. average of 4


def test_measured_variance_matches_exact(problem):
    _, trace = problems.exact_reinforce_moments(problem, 4, "loo")
    est = problems.gradient_estimates(
        problem, "reinforce-loo", n_estimates=8000, m=4, generator=gen(8)
    )
    s = problems.measure(est, problem.exact_gradient(), 4)
    assert s["var/sample"] == pytest.approx(4 * trace, rel=0.08)


def test_exact_reinforce_variance_many(problem):
    _, trace1 = problems.exact_reinforce_moments(problem, 1)
    assert problems.exact_reinforce_variance_many(problem, 1) == pytest.approx(trace1, rel=1e-12)
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
    assert problems.exact_reinforce_variance_many(problem, 2) == pytest.approx(brute, rel=1e-12)
    with pytest.raises(ValueError):
        problems.exact_reinforce_variance_many(problem, 0)


def test_many_choices_variance(problem):
    v4 = problems.many_choices_variance(
        problem, 4, "reinforce", n_estimates=3000, m=1, generator=gen(9)
    )
    assert v4 == pytest.approx(problems.exact_reinforce_variance_many(problem, 4), rel=0.1)
    st = [
        problems.many_choices_variance(
            problem, d, "st-gumbel-softmax", n_estimates=2000, m=2, generator=gen(10 + d)
        )
        for d in (1, 8)
    ]
    assert st[1] == pytest.approx(st[0], rel=0.1)  # pathwise: no cross-talk between choices
    loo = problems.many_choices_variance(
        problem, 8, "reinforce-loo", n_estimates=2000, m=2, generator=gen(11)
    )
    assert loo > 3 * st[1]
    # scoring each choice by its own term: the single-choice variance, whatever D
    own = problems.many_choices_variance(
        problem, 8, "reinforce, own term", n_estimates=3000, m=1, generator=gen(12)
    )
    assert own == pytest.approx(problems.exact_reinforce_variance_many(problem, 1), rel=0.1)


def test_measure_on_known_numbers():
    est = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0], [2.0, -3.0]], dtype=D)
    s = problems.measure(est, torch.tensor([1.0, 0.0], dtype=D), m=2)
    # mean (2, 0): bias (1, 0); sample variances (2/3, 6): trace 20/3
    assert list(s) == ["|bias|", "noise", "max|z|", "var/sample", "MSE"]
    assert s["|bias|"] == pytest.approx(1.0)
    assert s["var/sample"] == pytest.approx(2 * 20 / 3)
    assert s["MSE"] == pytest.approx(1 + 20 / 3)
    assert s["noise"] == pytest.approx(math.sqrt(20 / 3 / 4))
    assert s["max|z|"] == pytest.approx(1.0 / math.sqrt(2 / 3 / 4))
    assert all(isinstance(v, float) for v in s.values())


# --------------------------------------------------------------------------------------
# the cold limit of the straight-through estimator
# --------------------------------------------------------------------------------------


class _CubeToy(problems.CategoricalToy):
    def loss(self, y):
        return y[..., 1] ** 3


class _SquaredToy(problems.CategoricalToy):
    def loss(self, y):
        return super().loss(y) ** 2


def test_st_cold_limit_is_exact_for_the_quadratic_toy(problem):
    assert torch.allclose(problems.st_cold_limit(problem), problem.exact_gradient())


@pytest.mark.parametrize("theta", [-1.5, 0.0, 0.8, 3.0])
def test_st_cold_limit_binary_cubic_is_the_trapezoid_rule(theta):
    # logits (0, theta), f(b) = b^3: sigma'(theta) (f'(0) + f'(1)) / 2 = 1.5 sigma'(theta)
    toy2 = _CubeToy(torch.tensor([0.0, theta], dtype=D), torch.zeros(2, dtype=D))
    s = 1 / (1 + math.exp(-theta))
    assert problems.st_cold_limit(toy2).tolist() == pytest.approx(
        [-1.5 * s * (1 - s), 1.5 * s * (1 - s)], abs=1e-12
    )
    assert toy2.exact_gradient()[1].item() == pytest.approx(s * (1 - s), abs=1e-12)


def test_st_cold_limit_is_what_a_cold_estimator_approaches(problem):
    # the squared loss: at T = 0.05 the measured mean is near the limit, far from the truth
    quartic = _SquaredToy(problem.logits, problem.target)
    est = problems.gradient_estimates(
        quartic, "st-gumbel-softmax", n_estimates=4000, m=5, temperature=0.05, generator=gen(31)
    )
    limit, exact = problems.st_cold_limit(quartic), quartic.exact_gradient()
    assert (est.mean(0) - limit).norm() < 0.25 * (limit - exact).norm()
    assert (limit - exact).norm() > 0.3


# --------------------------------------------------------------------------------------
# Gumbel-max with reversed noise; chi-square
# --------------------------------------------------------------------------------------


def test_reversed_gumbel_two_categories_is_still_softmax():
    # the difference of two i.i.d. Gumbels is logistic, symmetric: the sign does not matter
    x = torch.tensor([0.9, -0.3], dtype=D)
    assert torch.allclose(problems.reversed_gumbel_max_probs(x), torch.softmax(x, -1))


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
    got = problems.reversed_gumbel_max_probs(x)
    assert got.tolist() == pytest.approx(expected, abs=1e-6)
    assert float(got.sum()) == pytest.approx(1.0, abs=1e-12)
    assert not torch.allclose(got, w, atol=1e-2)  # the wrong law


def test_reversed_gumbel_matches_sampling():
    x = torch.tensor([1.1, 4.0, -0.1, 2.3], dtype=D)
    n = 200_000
    u = torch.rand(n, 4, generator=gen(12), dtype=D)
    idx = (x + torch.log(-torch.log(u))).argmax(-1)
    counts = torch.bincount(idx, minlength=4)
    assert stats.chi2_statistic(counts, problems.reversed_gumbel_max_probs(x)) < 21.1  # df 3, 1e-4
    assert stats.chi2_statistic(counts, torch.softmax(x, -1)) > 1000


def test_reversed_gumbel_uniform_and_validation():
    assert torch.allclose(
        problems.reversed_gumbel_max_probs(torch.zeros(5, dtype=D)), torch.full((5,), 0.2, dtype=D)
    )
    with pytest.raises(ValueError):
        problems.reversed_gumbel_max_probs(torch.zeros(21))
    with pytest.raises(ValueError):
        problems.reversed_gumbel_max_probs(torch.zeros(2, 2))


# --------------------------------------------------------------------------------------
# figures, explorer and slider
# --------------------------------------------------------------------------------------


X3 = torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))
NOISE = rl.gumbel_noise((300, 3), generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_simplex_coordinates_vertices_and_centre():
    xy = figures.simplex_coordinates(torch.eye(3))
    assert xy.reshape(-1).tolist() == pytest.approx([0, 0, 1, 0, 0.5, math.sqrt(3) / 2])
    centre = figures.simplex_coordinates([1 / 3, 1 / 3, 1 / 3])
    assert centre.tolist() == pytest.approx([0.5, math.sqrt(3) / 6])
    with pytest.raises(ValueError):
        figures.simplex_coordinates(torch.ones(4) / 4)


def test_draw_simplex_panel_caption_and_contents():
    fig = plt.figure()
    caption = figures.draw_simplex_panel(fig, 0.5, X3, NOISE)
    y = torch.softmax((X3 + NOISE) / 0.5, -1)
    expected = (1 - y.max(-1).values).mean().item()
    assert caption == f"T = 0.5: mean of 1 - max_k y_k = {expected:.3f}"
    ax1, ax2 = fig.axes
    points = ax1.collections[0].get_offsets()
    assert len(points) == 300
    # every dot lies inside the triangle: y >= 0 <=> inside
    assert (points[:, 1] >= -1e-12).all()
    bars = [p.get_height() for p in ax2.patches]
    assert len(bars) == 9
    freq = torch.bincount((X3 + NOISE).argmax(-1), minlength=3) / 300
    assert bars[3:6] == pytest.approx(freq.tolist())  # arg max shares (any T)
    assert bars[0:3] == pytest.approx([0.2, 0.3, 0.5])
    plt.close(fig)


def test_draw_simplex_panel_cold_and_hot():
    fig = plt.figure()
    cold = figures.draw_simplex_panel(fig, 0.01, X3, NOISE)
    fig.clear()
    hot = figures.draw_simplex_panel(fig, 1000.0, X3, NOISE)
    cold_value, hot_value = float(cold.split("= ")[-1]), float(hot.split("= ")[-1])
    assert cold_value < 0.01  # near the vertices
    assert hot_value == pytest.approx(2 / 3, abs=1e-3)  # at the centre
    with pytest.raises(ValueError):
        figures.draw_simplex_panel(fig, 1.0, torch.zeros(4), NOISE)
    plt.close(fig)


def test_simplex_figure_panels():
    fig = figures.simplex_figure(X3, NOISE[:50], [0.1, 1.0, 10.0])
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["T = 0.1", "T = 1", "T = 10"]
    assert all(len(ax.collections[0].get_offsets()) == 50 for ax in fig.axes)
    plt.close(fig)


def test_bias_variance_figure():
    def point(bias, var):
        return {"|bias|": bias, "noise": bias / 10, "max|z|": 10.0, "var/sample": var, "MSE": 0.0}

    sweep = {"soft": [(0.5, point(0.1, 2.0)), (1.0, point(0.2, 1.0))]}
    fig = figures.bias_variance_figure(sweep, {"A": 0.5, "B": 0.2})
    ax1, ax2 = fig.axes
    assert ax1.get_xscale() == ax2.get_yscale() == "log"
    assert [line.get_ydata()[0] for line in ax2.get_lines()[1:]] == [0.5, 0.2]
    assert list(ax2.get_lines()[0].get_xdata()) == [0.5, 1.0]
    assert list(ax2.get_lines()[0].get_ydata()) == [2.0, 1.0]
    assert list(ax1.get_lines()[0].get_ydata()) == [0.1, 0.2]
    plt.close(fig)
    fig = figures.bias_variance_figure(sweep)  # no reference lines
    assert len(fig.axes[1].get_lines()) == 1
    plt.close(fig)


def test_temperature_explorer_redraws_the_simplex():
    # the page's live explorer: dragging the slider redraws for the new T
    draw = partial(figures.draw_simplex_panel, logits=X3, noise=NOISE)
    explorer = explorers.temperature_explorer(draw, value=1.0, min=0.02, max=50.0)
    assert explorer.redraws == 1 and "T = 1:" in explorer.caption.value
    explorer.slider.value = 0.1
    assert explorer.redraws == 2 and "T = 0.1:" in explorer.caption.value
    plt.close("all")


def test_page_slider_is_offline_and_light():
    # the page's kernel-free slider: 18 temperatures from 32 down to 0.03, one frame each,
    # nothing loaded from another host, and light enough for a web page
    draw = partial(figures.draw_simplex_panel, logits=X3, noise=NOISE)
    temps = torch.logspace(1.5, -1.5, 18).tolist()
    html = sliders.jshtml(lambda: sliders.scrub_animation(draw, temps, figsize=(7.0, 3.0))).data
    assert sliders.jshtml_frame_count(html) == len(temps)
    assert not sliders.external_urls(html) and "http" not in html
    assert len(html.encode()) / len(temps) < 60_000  # per frame: 20 frames stay near 1 MB


def test_many_choices_figure():
    fig = figures.many_choices_figure([1, 4], {"a": [1.0, 4.0], "b": [2.0, 2.0]}, {"a": [1.0, 4.0]})
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 3
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close(fig)


# --------------------------------------------------------------------------------------
# exercise checkers
# --------------------------------------------------------------------------------------


def raises_not_implemented(*args):
    raise NotImplementedError


# --------------------------------------------------------------------------------------
# Gumbel noise
# --------------------------------------------------------------------------------------


def good_noise(u):
    info = torch.finfo(u.dtype)
    return -torch.log(-torch.log(u.clamp(info.tiny, 1 - info.eps)))


def good_noise_where(u):
    # another correct style: replace the two edges by the nearest safe values
    info = torch.finfo(u.dtype)
    safe = torch.where(u <= 0, torch.full_like(u, info.tiny), u)
    safe = torch.where(safe >= 1, torch.full_like(u, 1 - info.eps), safe)
    return -torch.log(-torch.log(safe))


@pytest.mark.parametrize("fn", [good_noise, good_noise_where, checks.reference_gumbel_noise])
def test_gumbel_noise_reference_passes(fn):
    feedback = checks.check_gumbel_noise(fn)
    assert feedback.passed, feedback
    assert "passed" in str(feedback)


NOISE_MISTAKES = {
    "stub": (raises_not_implemented, NOT_ATTEMPTED, None, "not attempted"),
    "returns None": (lambda u: None, NOT_ATTEMPTED, None, "returns None"),
    "sign error": (
        lambda u: -torch.log(-torch.log(-u)),
        INCORRECT,
        "sign error",
        "-log(-log(-u))",
    ),
    "sign error, clamped": (
        lambda u: -torch.log(-torch.log(-u.clamp(1e-30, 1 - 1e-7))),
        INCORRECT,
        "nan",
        "NaN",
    ),
    "log of log": (lambda u: -torch.log(torch.log(u)), INCORRECT, "log of log", "-log(log(u))"),
    "negated": (lambda u: torch.log(-torch.log(u)), INCORRECT, "negated", "reversed"),
    "exponential": (lambda u: -torch.log(u), INCORRECT, "exponential", "Exponential(1)"),
    "one minus u": (lambda u: good_noise(1 - u), INCORRECT, "one minus u", "1 - u"),
    "over-clamped": (
        lambda u: -torch.log(-torch.log(u.clamp(1e-3, 1 - 1e-3))),
        INCORRECT,
        "over-clamped",
        "too tight",
    ),
    "no clamping": (lambda u: -torch.log(-torch.log(u)), INCORRECT, "no clamping", "Clamp u"),
    "eps inside logs": (
        lambda u: -torch.log(-torch.log(u + 1e-10) + 1e-10),
        INCORRECT,
        "no clamping",
        "u = [0, 0.5, 1] (float64)",
    ),
    "nan_to_num": (
        lambda u: torch.nan_to_num(-torch.log(-torch.log(u))),
        INCORRECT,
        "huge values",
        "nan_to_num",
    ),
    "patched edges": (
        lambda u: torch.where((u > 0) & (u < 1), good_noise(u), torch.zeros_like(u)),
        INCORRECT,
        "not increasing",
        "increase with u",
    ),
    "float64 out": (lambda u: good_noise(u.double()), INCORRECT, "wrong dtype", "dtype of u"),
    "in place": (
        lambda u: -torch.log(-torch.log(u.clamp_(1e-30, 1 - 1e-7))),
        INCORRECT,
        "modified input",
        "in place",
    ),
    "python list": (lambda u: good_noise(u).tolist(), INCORRECT, "not a tensor", "torch.Tensor"),
    "flattened": (lambda u: good_noise(u).reshape(-1), INCORRECT, "wrong shape", "shape"),
    "integer": (lambda u: (u * 10).long(), INCORRECT, "integer output", "integer"),
    "off by a constant": (lambda u: good_noise(u) + 0.5, INCORRECT, None, "expected"),
    "raises": (lambda u: u.foo(), ERROR, None, "AttributeError"),
}


@pytest.mark.parametrize("name", sorted(NOISE_MISTAKES))
def test_gumbel_noise_mistake_named(name):
    fn, status, mistake, phrase = NOISE_MISTAKES[name]
    feedback = checks.check_gumbel_noise(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_reference_gumbel_noise_values():
    u = torch.tensor([0.0, 0.5, 1.0])
    g = checks.reference_gumbel_noise(u)
    assert torch.isfinite(g).all()
    assert g[1].item() == pytest.approx(-torch.log(torch.log(torch.tensor(2.0))).item())
    assert g[0].item() == pytest.approx(-torch.log(-torch.log(torch.tensor(1.1754944e-38))).item())


# --------------------------------------------------------------------------------------
# straight-through arg max
# --------------------------------------------------------------------------------------


def soft_index(y, t):
    return torch.softmax(y / t, -1) @ torch.arange(y.shape[-1], dtype=y.dtype)


def hard_index(y):
    return y.argmax(-1).to(y.dtype)


def good_st_argmax(y, t=1.0):
    s = soft_index(y, t)
    return s + (hard_index(y) - s).detach()


def good_st_argmax_rearranged(y, t=1.0):
    s = soft_index(y, t)
    return hard_index(y) + s - s.detach()


@pytest.mark.parametrize(
    "fn", [good_st_argmax, good_st_argmax_rearranged, lambda y, t: rl.st_argmax(y, t)]
)
def test_st_argmax_reference_passes(fn):
    feedback = checks.check_st_argmax(fn)
    assert feedback.passed, feedback


ST_ARGMAX_MISTAKES = {
    "stub": (raises_not_implemented, NOT_ATTEMPTED, None, "not attempted"),
    "soft value": (soft_index, INCORRECT, "soft value", "fractional index"),
    "rounded soft": (
        lambda y, t: torch.round(soft_index(y, t)),
        INCORRECT,
        "rounded soft",
        "cannot round",
    ),
    "one-hot": (lambda y, t: rl.st_one_hot_argmax(y, t), INCORRECT, "one-hot", "one-hot vector"),
    "indices from 1": (
        lambda y, t: good_st_argmax(y, t) + 1,
        INCORRECT,
        "indices from 1",
        "1 too large",
    ),
    "integer index": (lambda y, t: y.argmax(-1), INCORRECT, "integer index", "integer indices"),
    "hard only": (lambda y, t: hard_index(y), INCORRECT, "no gradient", "nothing flows back"),
    "forgot stop-gradient": (
        lambda y, t: soft_index(y, t) + (hard_index(y) - soft_index(y, t)),
        INCORRECT,
        "zero gradient",
        "exactly zero",
    ),
    "detach on the wrong term": (
        lambda y, t: soft_index(y, t).detach() + (hard_index(y) - soft_index(y, t)),
        INCORRECT,
        "negated gradient",
        "wrong term",
    ),
    "temperature ignored in soft part": (
        lambda y, t: good_st_argmax(y, 1.0),
        INCORRECT,
        "ignored temperature",
        "T = 1",
    ),
    "soft max gradient": (
        lambda y, t: (
            hard_index(y)
            + (torch.softmax(y / t, -1) * y).sum(-1)
            - (torch.softmax(y / t, -1) * y).sum(-1).detach()
        ),
        INCORRECT,
        "soft max gradient",
        "soft *arg* max",
    ),
    "twice the gradient": (
        lambda y, t: hard_index(y) + 2 * (soft_index(y, t) - soft_index(y, t).detach()),
        INCORRECT,
        "wrong gradient",
        "gradient differs",
    ),
    "raises under autograd": (
        lambda y, t: good_st_argmax(y, t) if not y.requires_grad else y.numpy(),
        ERROR,
        None,
        "run with gradients",
    ),
}


@pytest.mark.parametrize("name", sorted(ST_ARGMAX_MISTAKES))
def test_st_argmax_mistake_named(name):
    fn, status, mistake, phrase = ST_ARGMAX_MISTAKES[name]
    feedback = checks.check_st_argmax(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


# --------------------------------------------------------------------------------------
# straight-through Gumbel-softmax
# --------------------------------------------------------------------------------------


def soft_sample(x, g, t):
    return torch.softmax((x + g) / t, -1)


def one_hot(z):
    return F.one_hot(z.detach().argmax(-1), z.shape[-1]).to(z.dtype)


def good_st_gumbel(x, g, t=1.0):
    s = soft_sample(x, g, t)
    return s + (one_hot(x + g) - s).detach()


def like_f_gumbel_softmax(x, g, t=1.0):
    # F.gumbel_softmax(hard=True)'s formula: y_hard - y_soft.detach() + y_soft
    s = soft_sample(x, g, t)
    return one_hot(s) - s.detach() + s


@pytest.mark.parametrize(
    "fn", [good_st_gumbel, like_f_gumbel_softmax, lambda x, g, t: rl.st_one_hot_argmax(x + g, t)]
)
def test_st_gumbel_reference_passes(fn):
    feedback = checks.check_st_gumbel_softmax(fn)
    assert feedback.passed, feedback


def attach(hard, soft):
    return hard + soft - soft.detach()


ST_GUMBEL_MISTAKES = {
    "stub": (raises_not_implemented, NOT_ATTEMPTED, None, "not attempted"),
    "soft sample": (soft_sample, INCORRECT, "soft sample", "soft sample"),
    "noise ignored": (
        lambda x, g, t: attach(one_hot(x), soft_sample(x, g, t)),
        INCORRECT,
        "noise ignored",
        "the mode",
    ),
    "noise subtracted": (
        lambda x, g, t: attach(one_hot(x - g), soft_sample(x, g, t)),
        INCORRECT,
        "noise subtracted",
        "adds the noise",
    ),
    "index": (lambda x, g, t: (x + g).argmax(-1).to(x.dtype), INCORRECT, "index", "index"),
    "integer one-hot": (
        lambda x, g, t: F.one_hot((x + g).argmax(-1), x.shape[-1]),
        INCORRECT,
        "integer output",
        "float one-hot",
    ),
    "hard only": (lambda x, g, t: one_hot(x + g), INCORRECT, "no gradient", "nothing flows"),
    "forgot stop-gradient": (
        lambda x, g, t: soft_sample(x, g, t) + (one_hot(x + g) - soft_sample(x, g, t)),
        INCORRECT,
        "zero gradient",
        "exactly zero",
    ),
    "pytorch OneHotCategoricalStraightThrough": (
        lambda x, g, t: problems.torch_st_rsample(x, one_hot(x + g)),
        INCORRECT,
        "noise-free gradient",
        "OneHotCategoricalStraightThrough",
    ),
    "noise-free tempered": (
        lambda x, g, t: attach(one_hot(x + g), torch.softmax(x / t, -1)),
        INCORRECT,
        "noise-free tempered gradient",
        "without the noise",
    ),
    "temperature ignored": (
        lambda x, g, t: attach(one_hot(x + g), torch.softmax(x + g, -1)),
        INCORRECT,
        "ignored temperature",
        "T = 1",
    ),
    "detach on the wrong term": (
        lambda x, g, t: soft_sample(x, g, t).detach() + (one_hot(x + g) - soft_sample(x, g, t)),
        INCORRECT,
        "negated gradient",
        "wrong term",
    ),
    "gradient of the sum only": (
        lambda x, g, t: attach(one_hot(x + g), soft_sample(x, g, t) * 0 + x - x.detach()),
        INCORRECT,
        "wrong gradient",
        "gradient differs",
    ),
}


@pytest.mark.parametrize("name", sorted(ST_GUMBEL_MISTAKES))
def test_st_gumbel_mistake_named(name):
    fn, status, mistake, phrase = ST_GUMBEL_MISTAKES[name]
    feedback = checks.check_st_gumbel_softmax(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_gradient_weights_are_not_the_plain_sum():
    # the plain sum of a one-hot/softmax vector has zero gradient: a checker using it would
    # reject every correct answer. The correct answer must pass with a nonzero gradient.
    x = torch.tensor([1.0, 0.5, -0.5], dtype=torch.float64, requires_grad=True)
    good_st_gumbel(x, torch.zeros(3, dtype=torch.float64), 0.5).sum().backward()
    assert torch.allclose(x.grad, torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert checks.check_st_gumbel_softmax(good_st_gumbel).status == CORRECT


# --------------------------------------------------------------------------------------
# the cold limit of straight-through (a derivation)
# --------------------------------------------------------------------------------------


def sigma_prime(theta):
    return torch.sigmoid(theta) * (1 - torch.sigmoid(theta))


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: 1.5 * sigma_prime(t),
        lambda t: torch.sigmoid(t) * torch.sigmoid(-t) * (0 + 3) / 2,
        checks.reference_st_cold_limit,
    ],
)
def test_st_cold_limit_reference_passes(fn):
    feedback = checks.check_st_cold_limit(fn)
    assert feedback.passed, feedback
    assert "1.5 sigma'(theta)" in feedback.message


COLD_LIMIT_MISTAKES = {
    "stub": (raises_not_implemented, NOT_ATTEMPTED, None, "not attempted"),
    "true gradient": (sigma_prime, INCORRECT, "true gradient", "Average the two slopes"),
    "bias": (lambda t: 0.5 * sigma_prime(t), INCORRECT, "bias", "that is the bias"),
    "one slope": (lambda t: 3 * sigma_prime(t), INCORRECT, "one slope", "(0 + 3) / 2"),
    "zero": (torch.zeros_like, INCORRECT, "zero", "f'(0) = 0"),
    "sigmoid": (lambda t: 1.5 * torch.sigmoid(t), INCORRECT, "sigmoid", "density"),
    "no density": (lambda t: torch.full_like(t, 1.5), INCORRECT, "no density", "weighted"),
    "noise-free": (
        lambda t: 3 * torch.sigmoid(t) * sigma_prime(t),
        INCORRECT,
        "noise-free gradient",
        "OneHotCategoricalStraightThrough",
    ),
    "sign": (lambda t: -1.5 * sigma_prime(t), INCORRECT, "sign", "sign"),
    "float instead of tensor": (lambda t: 0.375, INCORRECT, "not a tensor", "torch.Tensor"),
    "other": (lambda t: 2.0 * sigma_prime(t), INCORRECT, None, "expected"),
    "raises": (lambda t: t.foo(), ERROR, None, "AttributeError"),
}


@pytest.mark.parametrize("name", sorted(COLD_LIMIT_MISTAKES))
def test_st_cold_limit_mistake_named(name):
    fn, status, mistake, phrase = COLD_LIMIT_MISTAKES[name]
    feedback = checks.check_st_cold_limit(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback
