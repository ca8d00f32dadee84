"""Chapter 9 (straight-through beyond arg max): its course code.

* the exercise checkers: the reference answers pass, and each named mistake, written here
  as a small wrong function, is caught with its own message;
* the exactness cases of exercise 2: their straight-through means and exact gradients,
  computed here by hand from the loss's values and slopes at 0 and 1;
* the figures draw without error and label what they show.

Expected values come from hand derivations written out here, never from the function under
test.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dae_course.ch09_straight_through_beyond import checks, figures  # noqa: E402
from dae_course.checking import CORRECT, ERROR, INCORRECT, NOT_ATTEMPTED  # noqa: E402

# --------------------------------------------------------------------------------------
# Exercise 1: stochastic rounding, straight through
# --------------------------------------------------------------------------------------


def good(x, u):
    low = torch.floor(x)
    hard = low + (u < x - low).to(x.dtype)
    return x + (hard - x).detach()


def test_reference_values_by_hand():
    x = torch.tensor([-1.7, -0.2, 0.3, 1.45, 2.9], dtype=torch.float64)
    u = torch.tensor([0.5, 0.9, 0.1, 0.3, 0.95], dtype=torch.float64)
    # floor: -2, -1, 0, 1, 2; fractional parts .3, .8, .3, .45, .9; up where u < frac
    expected = torch.tensor([-2.0, -1.0, 1.0, 2.0, 2.0], dtype=torch.float64)
    assert torch.equal(checks.reference_stochastic_round_ste(x, u), expected)


def test_reference_gradient_is_identity():
    x = torch.tensor([0.2, -3.7, 5.5], dtype=torch.float64, requires_grad=True)
    u = torch.tensor([0.1, 0.9, 0.4], dtype=torch.float64)
    (checks.reference_stochastic_round_ste(x, u) * torch.tensor([1.0, -2.0, 3.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))


def test_reference_is_unbiased():
    x = torch.full((200_000,), 0.3, dtype=torch.float64)
    u = torch.rand(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mean = checks.reference_stochastic_round_ste(x, u).mean().item()
    assert abs(mean - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 200_000)


def test_stochastic_round_correct_answers_pass():
    assert checks.check_stochastic_round_ste(good).status == CORRECT
    assert checks.check_stochastic_round_ste(checks.reference_stochastic_round_ste).passed

    def with_relaxlib(x, u):
        import relaxlib as rl

        low = torch.floor(x)
        return rl.straight_through(low + (u < x - low).to(x.dtype), x)

    assert checks.check_stochastic_round_ste(with_relaxlib).passed


def _not_attempted(x, u):
    raise NotImplementedError


MISTAKES = {
    "deterministic rounding": lambda x, u: x + (torch.round(x) - x).detach(),
    "reversed comparison": lambda x, u: (
        x + (torch.floor(x) + (u > x - torch.floor(x)).to(x.dtype) - x).detach()
    ),
    "floor only": lambda x, u: x + (torch.floor(x) - x).detach(),
    "truncation": lambda x, u: (
        x + (torch.trunc(x) + (u < x - torch.trunc(x)).to(x.dtype) - x).detach()
    ),
    "negated gradient": lambda x, u: (
        x.detach() + (torch.floor(x) + (u < x - torch.floor(x)).to(x.dtype) - x)
    ),
    "doubled gradient": lambda x, u: (
        2 * x + (torch.floor(x) + (u < x - torch.floor(x)).to(x.dtype) - 2 * x).detach()
    ),
    "zero gradient": lambda x, u: torch.floor(x) + (u < x - torch.floor(x)).to(x.dtype),
    "no gradient": lambda x, u: (torch.floor(x) + (u < x - torch.floor(x)).to(x.dtype)).detach(),
    "integer output": lambda x, u: (torch.floor(x) + (u < x - torch.floor(x))).long(),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_stochastic_round_mistakes_named(name):
    feedback = checks.check_stochastic_round_ste(MISTAKES[name])
    assert feedback.status == INCORRECT
    assert feedback.mistake == name, (name, feedback)


def test_stochastic_round_messages_say_what_to_do():
    reversed_ = checks.check_stochastic_round_ste(MISTAKES["reversed comparison"])
    assert "u < x - floor(x)" in reversed_.message
    zero = checks.check_stochastic_round_ste(MISTAKES["zero gradient"])
    assert "x + (hard - x).detach()" in zero.message


def test_stochastic_round_not_attempted_and_errors():
    assert checks.check_stochastic_round_ste(_not_attempted).status == NOT_ATTEMPTED

    def broken(x, u):
        return x @ u[:2]

    assert checks.check_stochastic_round_ste(broken).status == ERROR


# --------------------------------------------------------------------------------------
# Exercise 2: where straight-through is exact
# --------------------------------------------------------------------------------------

# (f(0), f(1), f'(0), f'(1), p) written out by hand for each case
BY_HAND = {
    "A": (-1.0, 1.0, 2.0, 2.0, 0.2),
    "B": (0.09, 0.49, -0.6, 1.4, 0.5),
    "C": (0.09, 0.49, -0.6, 1.4, 0.9),
    "D": (0.0, 1.0, 0.0, 3.0, 0.5),
    "E": (1.0, math.e, 1.0, math.e, 0.5),
    "F": (4.0, 3.0, -1.0, -1.0, 0.7),
}


@pytest.mark.parametrize("letter", list(BY_HAND))
def test_exactness_cases_by_hand(letter):
    f0, f1, d0, d1, p = BY_HAND[letter]
    st, exact = checks.st_mean_and_exact(letter)
    assert math.isclose(st, (1 - p) * d0 + p * d1, abs_tol=1e-12)
    assert math.isclose(exact, f1 - f0, abs_tol=1e-12)


def test_exact_cases_are_linear_and_quadratic_at_one_half():
    assert checks.exact_cases() == {"A", "B", "F"}


@pytest.mark.parametrize("answer", [{"A", "B", "F"}, ["f", "a", "b"], "A, B, F", "A B F"])
def test_exactness_correct_answers_pass(answer):
    assert checks.check_st_exactness(lambda: answer).passed


@pytest.mark.parametrize(
    "answer, mistake",
    [
        ({"A", "B", "C", "F"}, "quadratic away from 1/2"),
        ({"A", "B", "D", "F"}, "trapezoid taken for exact"),
        ({"A", "B", "E", "F"}, "trapezoid taken for exact"),
        ({"A", "B"}, "linear missed"),
        ({"B", "F"}, "linear missed"),
        ({"A", "F"}, "quadratic at one half missed"),
        ({"A", "B", "F", "Z"}, "unknown"),
        (42, "not letters"),
    ],
)
def test_exactness_mistakes_named(answer, mistake):
    feedback = checks.check_st_exactness(lambda: answer)
    assert feedback.status == INCORRECT
    assert feedback.mistake == mistake, feedback


def test_exactness_messages_quote_the_numbers():
    feedback = checks.check_st_exactness(lambda: {"A", "B", "C", "F"})
    assert "1.2 against 0.4" in feedback.message  # 0.1 * (-0.6) + 0.9 * 1.4; 0.49 - 0.09


def test_exactness_not_attempted():
    def stub():
        raise NotImplementedError

    assert checks.check_st_exactness(stub).status == NOT_ATTEMPTED


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def test_accuracy_figure_draws_both_series():
    fig = figures.accuracy_figure([1, 2, 4], [0.8, 0.85, 0.9], [0.5, 0.8, 0.88], 0.91)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["full precision", "trained quantised (ST)", "quantised after training"]
    plt.close(fig)


def test_vq_figure_two_panels():
    g = torch.Generator().manual_seed(0)
    z, codes = torch.randn(20, 2, generator=g), torch.randn(3, 2, generator=g)
    assignment = torch.cdist(z, codes).argmin(-1)
    fig = figures.vq_figure(z, (z, codes, assignment), (z, codes, assignment))
    assert [ax.get_title() for ax in fig.axes] == ["before training", "after training"]
    plt.close(fig)


def test_bias_panels_one_axis_per_loss_and_a_shared_legend():
    p = torch.linspace(0.1, 0.9, 5)
    flat = torch.ones(5)
    fig = plt.figure()
    figures.draw_bias_panels(fig, {"a": (p, (flat, flat, flat)), "b": (p, (flat, p, flat))})
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(figures.ESTIMATOR_LABELS)
    low, high = fig.axes[0].get_ylim()
    assert high - low >= 2.0  # equal curves are shown in a readable range
    plt.close(fig)


def test_draw_curvature_caption_from_the_curves():
    p = torch.tensor([0.25, 0.75])

    def fake_curves(f):  # exact 2, straight-through 1 and 3, Heun 2.5
        assert float(f(torch.tensor(0.0))) == 0.0  # (exp(0) - 1) / 2 at c = 2
        assert math.isclose(float(f(torch.tensor(1.0))), math.expm1(2.0) / 2, rel_tol=1e-6)
        return p, (torch.tensor([2.0, 2.0]), torch.tensor([1.0, 3.0]), torch.tensor([2.5, 2.5]))

    fig = plt.figure()
    caption = figures.draw_curvature(fig, 2.0, fake_curves)
    assert caption == "c = 2: off by up to 50% (straight-through), 25% (ReinMax)"
    assert fig.axes[0].get_title() == "$f(b) = (e^{2 b} - 1) / 2$"
    plt.close(fig)
