"""Chapter 12 (smoothing by noise): its course code.

* the Plackett–Luce law (the package copy of the page's function), the exact perturbed arg
  max under normal noise and the subset-selection task;
* the figures and the drawing function the page's explorer and slider share;
* the exercise checkers: reference answers pass, each named mistake, written here as a
  small wrong function, is caught with its own message.

Expected values come from hand derivations, enumeration written out here, closed forms or
Monte Carlo with stated standard errors; never from the function under test.
"""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from dae_course.ch12_smoothing_by_noise import checks, figures, problems  # noqa: E402
from dae_course.checking import ERROR, INCORRECT, NOT_ATTEMPTED  # noqa: E402

D = torch.float64


# --------------------------------------------------------------------------------------
# problems
# --------------------------------------------------------------------------------------


def test_plackett_luce_by_hand():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2], dtype=D))  # w = (0.5, 0.3, 0.2)
    p = problems.plackett_luce_probability(logits, torch.tensor([1, 0]))
    assert p.item() == pytest.approx(0.3 * 0.5 / 0.7)
    p = problems.plackett_luce_probability(logits, torch.tensor([2, 1, 0]))
    assert p.item() == pytest.approx(0.2 * 0.3 / 0.8 * 1.0)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_plackett_luce_sums_to_one(k):
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0], dtype=D)
    total = sum(
        problems.plackett_luce_probability(logits, torch.tensor(o)).item()
        for o in itertools.permutations(range(4), k)
    )
    assert total == pytest.approx(1.0, abs=1e-12)


def test_plackett_luce_first_draw_is_softmax():
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0], dtype=D)
    for i in range(4):
        p = problems.plackett_luce_probability(logits, torch.tensor([i]))
        assert p.item() == pytest.approx(torch.softmax(logits, -1)[i].item())


def test_normal_perturbed_argmax_two_items_is_probit():
    # Two items: P(1 wins) = Phi((theta_1 - theta_0) / (sigma sqrt 2)).
    for gap, sigma in [(0.0, 1.0), (1.0, 1.0), (-2.0, 0.5), (3.0, 2.0)]:
        p = problems.normal_perturbed_argmax_exact(torch.tensor([0.0, gap], dtype=D), sigma)
        expected = 0.5 * math.erfc(-gap / (sigma * math.sqrt(2)) / math.sqrt(2))
        assert p[1].item() == pytest.approx(expected, abs=1e-9)
        assert p.sum().item() == pytest.approx(1.0, abs=1e-9)


def test_normal_perturbed_argmax_equal_scores_uniform_and_monte_carlo():
    p = problems.normal_perturbed_argmax_exact(torch.zeros(5, dtype=D), 1.0)
    assert torch.allclose(p, torch.full((5,), 0.2, dtype=D), atol=1e-9)
    theta = torch.tensor([1.1, 4.0, -0.1, 2.3], dtype=D)
    n = 100_000
    z = torch.randn(n, 4, generator=torch.Generator().manual_seed(0), dtype=D)
    share = torch.bincount((theta + 2.0 * z).argmax(-1), minlength=4).double() / n
    exact = problems.normal_perturbed_argmax_exact(theta, 2.0)
    se = torch.sqrt(exact * (1 - exact) / n)
    assert ((share - exact).abs() < 5 * se).all()


def test_topk_task_shapes_and_target():
    gen = torch.Generator().manual_seed(3)
    features, target, w_true = problems.topk_task(7, n_items=6, n_features=4, k=2, generator=gen)
    assert features.shape == (7, 6, 4) and target.shape == (7, 6) and w_true.shape == (4,)
    assert w_true.norm().item() == pytest.approx(1.0)
    assert torch.equal(target.sum(-1), torch.full((7,), 2.0, dtype=D))
    utility = features @ w_true
    chosen = utility.masked_fill(target == 0, math.inf).min(-1).values
    others = utility.masked_fill(target == 1, -math.inf).max(-1).values
    assert (chosen > others).all()


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def test_smoothed_relu_figure():
    xs = torch.linspace(-2, 2, 21, dtype=D)
    at = torch.tensor([-1.0, 0.0, 1.0], dtype=D)
    fig = figures.smoothed_relu_figure(xs, {1.0: F.softplus(xs)}, at, {1.0: F.softplus(at)})
    assert len(fig.axes) == 1 and fig.axes[0].get_legend() is not None
    plt.close(fig)


def test_draw_perturbed_panel_caption():
    gen = torch.Generator().manual_seed(1)
    theta = torch.tensor([0.0, 2.0, 1.0], dtype=D)
    gz = -torch.log(-torch.log(torch.rand(500, 3, generator=gen, dtype=D)))
    nz = torch.randn(500, 3, generator=gen, dtype=D)
    fig = plt.figure()
    caption = figures.draw_perturbed_panel(fig, 0.5, theta, gz, nz)
    assert caption.startswith("σ = 0.5: ")
    assert len(fig.axes[0].patches) == 9  # three bars per item
    plt.close(fig)


def test_training_figure():
    fig = figures.training_figure([0, 10, 20], {"a": [0.3, 0.6, 0.9]})
    assert len(fig.axes[0].lines) == 1
    plt.close(fig)


# --------------------------------------------------------------------------------------
# exercise 1: inclusion probabilities
# --------------------------------------------------------------------------------------


def inclusion_by_enumeration(logits, k):
    n = logits.shape[-1]
    total = torch.zeros_like(logits)
    for order in itertools.permutations(range(n), k):
        member = torch.zeros_like(logits)
        member[list(order)] = 1.0
        total = total + problems.plackett_luce_probability(logits, torch.tensor(order)) * member
    return total


def test_reference_inclusion_properties():
    logits = torch.tensor([1.0, 0.5, 0.0, -0.5, -1.5], dtype=D)
    for k in range(1, 6):
        pi = checks.reference_inclusion_probabilities(logits, k)
        assert pi.sum().item() == pytest.approx(k)
        assert (pi <= 1 + 1e-12).all()
    assert torch.allclose(
        checks.reference_inclusion_probabilities(logits, 1), torch.softmax(logits, -1)
    )
    assert torch.allclose(
        checks.reference_inclusion_probabilities(logits, 5), torch.ones(5, dtype=D)
    )


def test_reference_inclusion_by_hand_two_of_three():
    # w = (0.5, 0.3, 0.2), k = 2: item 2 is left out with probability
    # P(0, 1) + P(1, 0) = 0.5 * 0.3 / 0.5 + 0.3 * 0.5 / 0.7.
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2], dtype=D))
    pi = checks.reference_inclusion_probabilities(logits, 2)
    assert pi[2].item() == pytest.approx(1 - (0.3 + 0.5 * 0.3 / 0.7))


@pytest.mark.parametrize("fn", [inclusion_by_enumeration, checks.reference_inclusion_probabilities])
def test_inclusion_correct_passes(fn):
    feedback = checks.check_inclusion_probabilities(fn)
    assert feedback.passed, feedback


def _raise(*args):
    raise NotImplementedError


INCLUSION_MISTAKES = {
    "stub": (_raise, NOT_ATTEMPTED, None, "not attempted"),
    "crash": (lambda x, k: x[k + 10], ERROR, None, "IndexError"),
    "k times softmax": (
        lambda x, k: k * torch.softmax(x, -1),
        INCORRECT,
        "k times softmax",
        "with replacement",
    ),
    "softmax": (lambda x, k: torch.softmax(x, -1), INCORRECT, "softmax", "FIRST"),
    "hard top-k": (
        lambda x, k: torch.zeros_like(x).scatter(-1, x.topk(k).indices, 1.0),
        INCORRECT,
        "hard top-k",
        "without noise",
    ),
    "last draw only": (
        lambda x, k: sum(
            problems.plackett_luce_probability(x, torch.tensor(o))
            * F.one_hot(torch.tensor(o[-1]), x.shape[-1]).to(x.dtype)
            for o in itertools.permutations(range(x.shape[-1]), k)
        ),
        INCORRECT,
        "last draw only",
        "k-th item drawn",
    ),
}


@pytest.mark.parametrize("name", sorted(INCLUSION_MISTAKES))
def test_inclusion_mistake_named(name):
    fn, status, mistake, phrase = INCLUSION_MISTAKES[name]
    feedback = checks.check_inclusion_probabilities(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_inclusion_monte_carlo_agrees():
    logits = torch.tensor([1.0, 0.5, 0.0, -0.5], dtype=D)
    n = 100_000
    u = torch.rand(n, 4, generator=torch.Generator().manual_seed(5), dtype=D)
    drawn = (logits - torch.log(-torch.log(u))).topk(2, dim=-1).indices
    share = torch.bincount(drawn.flatten(), minlength=4).double() / n
    pi = checks.reference_inclusion_probabilities(logits, 2)
    assert ((share - pi).abs() < 5 * torch.sqrt(pi * (1 - pi) / n)).all()


# --------------------------------------------------------------------------------------
# exercise 2: Gaussian-smoothed ReLU
# --------------------------------------------------------------------------------------


def smoothed_relu_by_hand(x, sigma):
    s = x / sigma
    return x * torch.special.ndtr(s) + sigma * torch.exp(-(s**2) / 2) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("fn", [smoothed_relu_by_hand, checks.reference_gaussian_smoothed_relu])
def test_gaussian_relu_correct_passes(fn):
    feedback = checks.check_gaussian_smoothed_relu(fn)
    assert feedback.passed, feedback


def test_gaussian_relu_reference_by_quadrature_and_limits():
    z = torch.linspace(-12, 12, 200_001, dtype=D)
    density = torch.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
    for x, sigma in [(-1.0, 0.5), (0.0, 1.0), (0.7, 2.0)]:
        integral = torch.trapezoid(torch.relu(x + sigma * z) * density, z).item()
        expected = checks.reference_gaussian_smoothed_relu(torch.tensor(x, dtype=D), sigma)
        assert expected.item() == pytest.approx(integral, abs=1e-7)
    far = torch.tensor([-5.0, 5.0], dtype=D)
    assert torch.allclose(checks.reference_gaussian_smoothed_relu(far, 0.1), torch.relu(far))


NORMAL = torch.distributions.Normal(0.0, 1.0)
RELU_MISTAKES = {
    "stub": (_raise, NOT_ATTEMPTED, None, "not attempted"),
    "sigma missing": (
        lambda x, s: x * NORMAL.cdf(x / s) + NORMAL.log_prob(x / s).exp(),
        INCORRECT,
        "sigma missing",
        "factor σ",
    ),
    "first term only": (
        lambda x, s: x * NORMAL.cdf(x / s),
        INCORRECT,
        "first term only",
        "second term",
    ),
    "minus sign": (
        lambda x, s: x * NORMAL.cdf(x / s) - s * NORMAL.log_prob(x / s).exp(),
        INCORRECT,
        "minus sign",
        "wrong sign",
    ),
    "logistic noise": (
        lambda x, s: s * F.softplus(x / s),
        INCORRECT,
        "logistic noise",
        "LOGISTIC",
    ),
    "variance for scale": (
        lambda x, s: x * NORMAL.cdf(x / s**2) + s**2 * NORMAL.log_prob(x / s**2).exp(),
        INCORRECT,
        "variance for scale",
        "σ²",
    ),
    "detached": (
        lambda x, s: smoothed_relu_by_hand(x, s).detach(),
        INCORRECT,
        "no gradient",
        "no gradient",
    ),
}


@pytest.mark.parametrize("name", sorted(RELU_MISTAKES))
def test_gaussian_relu_mistake_named(name):
    fn, status, mistake, phrase = RELU_MISTAKES[name]
    feedback = checks.check_gaussian_smoothed_relu(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback
