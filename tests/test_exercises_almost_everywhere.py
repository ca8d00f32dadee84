"""Chapter 1's checkers accept right answers and name each common mistake.

Every wrong answer below is a small function written the way a student might write it;
the expected values are worked out by hand (ReLU's one-sided slopes at 0 are 0 and 1,
|x|'s are -1 and 1, ...), never taken from the code under test.
"""

from __future__ import annotations

import pytest
import torch

from dae_course import checking as ex
from dae_course.ch01_almost_everywhere import checks as ae

# --------------------------------------------------------------------------------------
# Exercise 1: one-sided difference quotients
# --------------------------------------------------------------------------------------


def good_quotients(f, x, h):
    fx = f(x)
    return (fx - f(x - h)) / h, (f(x + h) - fx) / h


def good_quotients_as_floats(f, x, h):
    left, right = good_quotients(f, x, h)
    return [left.item(), right.item()]


def good_quotients_as_tensor(f, x, h):
    return torch.stack(good_quotients(f, x, h))


def _autograd(f, x):
    t = x.clone().requires_grad_(True)
    f(t).backward()
    return t.grad


QUOTIENT_MISTAKES = {
    "swapped": (lambda f, x, h: good_quotients(f, x, h)[::-1], "sides swapped", "swapped"),
    "central": (
        lambda f, x, h: ((f(x + h) - f(x - h)) / (2 * h),) * 2,
        "central difference",
        "central difference",
    ),
    "left sign": (
        lambda f, x, h: ((f(x - h) - f(x)) / h, (f(x + h) - f(x)) / h),
        "left sign flipped",
        "wrong sign",
    ),
    "2h": (
        lambda f, x, h: ((f(x) - f(x - h)) / (2 * h), (f(x + h) - f(x)) / (2 * h)),
        "divided by 2h",
        "not 2h",
    ),
    "forward twice": (
        lambda f, x, h: ((f(x + h) - f(x)) / h,) * 2,
        "both right",
        "forward",
    ),
    "backward twice": (
        lambda f, x, h: ((f(x) - f(x - h)) / h,) * 2,
        "both left",
        "backward",
    ),
    "autograd": (lambda f, x, h: (_autograd(f, x), _autograd(f, x)), "autograd", "autograd"),
    "at zero": (
        lambda f, x, h: ((f(0 * x) - f(0 * x - h)) / h, (f(0 * x + h) - f(0 * x)) / h),
        "ignores x",
        "taken at 0",
    ),
}


@pytest.mark.parametrize(
    "fn",
    [good_quotients, good_quotients_as_floats, good_quotients_as_tensor, ae.one_sided_quotients],
)
def test_quotients_reference_passes(fn):
    feedback = ae.check_one_sided_quotients(fn)
    assert feedback.passed, feedback
    assert "passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(QUOTIENT_MISTAKES))
def test_quotients_mistake_named(name):
    fn, mistake, phrase = QUOTIENT_MISTAKES[name]
    feedback = ae.check_one_sided_quotients(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_quotients_central_message_shows_numbers():
    feedback = ae.check_one_sided_quotients(QUOTIENT_MISTAKES["central"][0])
    # first case max(2x, -x/2) at 0: one-sided slopes -1/2 and 2, central (2 - 1/2)/2 = 0.75
    assert "(0.75, 0.75)" in feedback.message and "(-0.5, 2)" in feedback.message


def test_quotients_stub_and_none_not_attempted():
    def stub(f, x, h):
        raise NotImplementedError

    assert ae.check_one_sided_quotients(stub).status == ex.NOT_ATTEMPTED
    assert ae.check_one_sided_quotients(lambda f, x, h: None).status == ex.NOT_ATTEMPTED


def test_quotients_not_a_pair_and_errors():
    single = ae.check_one_sided_quotients(lambda f, x, h: (f(x + h) - f(x)) / h)
    assert single.mistake == "not a pair" and "two numbers" in single.message
    broken = ae.check_one_sided_quotients(lambda f, x, h: 1 / 0)
    assert broken.status == ex.ERROR and "ZeroDivisionError" in broken.message


def test_quotients_unrecognised_wrong_answer():
    feedback = ae.check_one_sided_quotients(lambda f, x, h: (1.0, 2.0))
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message and "(-0.5, 2)" in feedback.message


def test_reference_quotients_by_hand():
    x = torch.tensor(0.0, dtype=torch.float64)
    for h in (1.0, 1e-3, 1e-8):
        assert [v.item() for v in ae.one_sided_quotients(torch.relu, x, h)] == [0.0, 1.0]
        assert [v.item() for v in ae.one_sided_quotients(torch.abs, x, h)] == [-1.0, 1.0]
    # relu at 0.1 with a step that straddles the kink: left (0.1 - 0) / 1 = 0.1
    left, right = ae.one_sided_quotients(torch.relu, torch.tensor(0.1, dtype=torch.float64), 1.0)
    assert left.item() == pytest.approx(0.1) and right.item() == pytest.approx(1.0)


# --------------------------------------------------------------------------------------
# Exercise 2: the subgradient test
# --------------------------------------------------------------------------------------


def good_is_subgradient(f, x0, g, xs):
    return bool(torch.all(f(xs) >= f(x0) + g * (xs - x0) - 1e-9))


def good_is_subgradient_tensor(f, x0, g, xs):
    return (f(xs) - f(x0) - g * (xs - x0)).min() >= 0


SUBGRADIENT_MISTAKES = {
    "strict everywhere": (
        lambda f, x0, g, xs: bool(torch.all(f(xs) > f(x0) + g * (xs - x0))),
        "strict inequality",
        "nothing ever passes",
    ),
    "strict, skipping x0": (
        lambda f, x0, g, xs: bool(torch.all((f(xs) > f(x0) + g * (xs - x0))[xs != x0])),
        "open interval",
        "ends of the interval are missing",
    ),
    "reversed": (
        lambda f, x0, g, xs: bool(torch.all(f(xs) <= f(x0) + g * (xs - x0))),
        "reversed inequality",
        "reversed",
    ),
    "any": (
        lambda f, x0, g, xs: bool(torch.any(f(xs) >= f(x0) + g * (xs - x0))),
        "any instead of all",
        "torch.all",
    ),
    "no f(x0)": (
        lambda f, x0, g, xs: bool(torch.all(f(xs) >= g * (xs - x0))),
        "forgot f(x0)",
        "f(x0) term is missing",
    ),
    "no x0": (
        lambda f, x0, g, xs: bool(torch.all(f(xs) >= f(x0) + g * xs)),
        "forgot x0",
        "g (x - x0)",
    ),
    "only the two derivatives": (
        lambda f, x0, g, xs: (
            g
            in {
                round(((f(x0) - f(x0 - 1e-7)) / 1e-7).item(), 3),
                round(((f(x0 + 1e-7) - f(x0)) / 1e-7).item(), 3),
            }
        ),
        "one-sided derivatives only",
        "BETWEEN",
    ),
    "relu's interval always": (
        lambda f, x0, g, xs: 0 <= g <= 1,
        "relu interval hard-coded",
        "whatever f and x0 are",
    ),
}


@pytest.mark.parametrize("fn", [good_is_subgradient, good_is_subgradient_tensor, ae.is_subgradient])
def test_subgradient_reference_passes(fn):
    feedback = ae.check_is_subgradient(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize("name", sorted(SUBGRADIENT_MISTAKES))
def test_subgradient_mistake_named(name):
    fn, mistake, phrase = SUBGRADIENT_MISTAKES[name]
    feedback = ae.check_is_subgradient(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_subgradient_stub_and_bad_returns():
    def stub(f, x0, g, xs):
        raise NotImplementedError

    assert ae.check_is_subgradient(stub).status == ex.NOT_ATTEMPTED
    assert ae.check_is_subgradient(lambda f, x0, g, xs: None).status == ex.NOT_ATTEMPTED
    many = ae.check_is_subgradient(lambda f, x0, g, xs: f(xs) >= f(x0) + g * (xs - x0))
    assert many.mistake == "not a bool" and "True or False" in many.message


def test_subgradient_unrecognised_wrong_answer():
    def off_by_a_bit(f, x0, g, xs):  # accepts slopes up to 1.3 as well
        return good_is_subgradient(f, x0, g, xs) or (
            good_is_subgradient(f, x0, g - 0.3, xs) and g > 1
        )

    feedback = ae.check_is_subgradient(off_by_a_bit)
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "g = 1.25" in feedback.message and "answer is False" in feedback.message


def test_reference_subgradient_intervals_by_hand():
    xs = torch.linspace(-2, 2, 401, dtype=torch.float64)
    zero = torch.tensor(0.0, dtype=torch.float64)
    slopes = [k / 100 for k in range(-150, 151)]
    relu_ok = [g for g in slopes if ae.is_subgradient(torch.relu, zero, g, xs)]
    abs_ok = [g for g in slopes if ae.is_subgradient(torch.abs, zero, g, xs)]
    assert (min(relu_ok), max(relu_ok), len(relu_ok)) == (0.0, 1.0, 101)
    assert (min(abs_ok), max(abs_ok), len(abs_ok)) == (-1.0, 1.0, 201)
    one = torch.tensor(1.0, dtype=torch.float64)
    assert [g for g in slopes if ae.is_subgradient(torch.relu, one, g, xs)] == [1.0]


# --------------------------------------------------------------------------------------
# Exercise 3: predict, then run (what autograd returns at a kink)
# --------------------------------------------------------------------------------------

# By hand: torch.minimum splits a tie evenly (1/2); clamp's backward passes the gradient on
# min <= x <= max, bounds included (1 at x = 1); relu'(0) * 1 + relu'(0) * (-1) = 0.
RIGHT = {"minimum": 0.5, "clamp": 1.0, "relu + relu": 0.0}


@pytest.mark.parametrize(
    "answer",
    [
        RIGHT,
        {"minimum": 0.5, "clamp": 1, "relu + relu": 0},  # ints
        {"minimum": torch.tensor(0.5), "clamp": 1.004, "relu + relu": -0.003},  # within 0.01
        {**RIGHT, "extra": 3.0},
    ],
)
def test_kink_predictions_right_answers_pass(answer):
    feedback = ae.check_kink_predictions(lambda: answer)
    assert feedback.passed, feedback


def test_kink_questions_are_what_autograd_returns():
    for key, (_, f, x0) in ae.KINK_QUESTIONS.items():
        t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        f(t).backward()
        assert float(t.grad) == RIGHT[key], key


@pytest.mark.parametrize(
    "answer, mistake, needle",
    [
        ({"minimum": 0, "clamp": 0, "relu + relu": 0}, "always zero", "torch.relu's rule"),
        ({"minimum": 0.5, "clamp": 0, "relu + relu": 0}, "hardtanh's rule for clamp", "hardtanh"),
        (
            {"minimum": 0.5, "clamp": 0.5, "relu + relu": 0},
            "midpoint of the one-sided derivatives",
            "midpoint",
        ),
    ],
)
def test_kink_predictions_mistake_named(answer, mistake, needle):
    feedback = ae.check_kink_predictions(lambda: answer)
    assert not feedback.passed
    assert feedback.mistake == mistake
    assert needle in feedback.message


def test_kink_predictions_unrecognised_wrong_answer_explains_each():
    feedback = ae.check_kink_predictions(lambda: {"minimum": 0.5, "clamp": 1, "relu + relu": 1})
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert feedback.message.startswith("1 of 3 predictions differs")
    assert "autograd returns 0 (you predicted 1)" in feedback.message
    assert "relu'(0) * 1 + relu'(0) * (-1)" in feedback.message
    two = ae.check_kink_predictions(lambda: {"minimum": 1, "clamp": 1, "relu + relu": 1})
    assert two.message.startswith("2 of 3 predictions differ.")
    assert "splits a tie evenly" in two.message


def test_kink_predictions_stub_and_bad_returns():
    def stub():
        raise NotImplementedError

    assert ae.check_kink_predictions(stub).status == ex.NOT_ATTEMPTED
    assert ae.check_kink_predictions(lambda: None).status == ex.NOT_ATTEMPTED
    assert ae.check_kink_predictions(lambda: [0.5, 1, 0]).mistake == "not a dict"
    missing = ae.check_kink_predictions(lambda: {"minimum": 0.5, "clamp": 1})
    assert missing.mistake == "missing prediction" and "'relu + relu'" in missing.message
    assert ae.check_kink_predictions(lambda: {**RIGHT, "clamp": "one"}).mistake == (
        "missing prediction"
    )
    assert ae.check_kink_predictions(lambda: {**RIGHT, "clamp": True}).mistake == (
        "missing prediction"
    )
    broken = ae.check_kink_predictions(lambda: 1 / 0)
    assert broken.status == ex.ERROR and "ZeroDivisionError" in broken.message
