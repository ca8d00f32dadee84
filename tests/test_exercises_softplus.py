"""Chapter 2's checkers accept correct answers and name each common mistake specifically.

Every wrong answer below is written out as a small function, the way a student might
write it, independently of the mistake models inside the checker.
"""

from __future__ import annotations

import math

import pytest
import torch

import relaxlib as rl
from dae_course import checking as ex
from dae_course.ch02_softplus import checks as sx


def stub(*args):
    raise NotImplementedError


# --------------------------------------------------------------------------------------
# Exercise 1: softplus_beta, stable
# --------------------------------------------------------------------------------------


def good_maximum(x, beta=1.0):
    bx = beta * x
    return (torch.maximum(bx, torch.zeros_like(bx)) + torch.log1p(torch.exp(-bx.abs()))) / beta


def good_logaddexp(x, beta=1.0):
    return torch.logaddexp(beta * x, torch.zeros_like(x)) / beta


def good_half_sum(x, beta=1.0):  # max(x, 0) written as (x + |x|) / 2: slope 1/2 at 0
    return (x + x.abs()) / 2 + torch.log1p(torch.exp(-beta * x.abs())) / beta


def _tail(x, beta):
    return torch.log1p(torch.exp(-beta * x.abs())) / beta


SOFTPLUS_MISTAKES = {
    # name: (student's function, expected status, expected mistake, phrase in the message)
    "stub": (stub, ex.NOT_ATTEMPTED, None, "not attempted yet"),
    "returns None": (lambda x, b=1.0: None, ex.NOT_ATTEMPTED, None, "returns None"),
    "textbook formula": (
        lambda x, b=1.0: torch.log(1 + torch.exp(b * x)) / b,
        ex.INCORRECT,
        "naive overflow",
        "overflows",
    ),
    "log1p but still exp(bx)": (
        lambda x, b=1.0: torch.log1p(torch.exp(b * x)) / b,
        ex.INCORRECT,
        "naive overflow",
        "returns inf",
    ),
    "naive in float64 then cast": (
        lambda x, b=1.0: (torch.log1p(torch.exp(b * x.double())) / b).to(x.dtype),
        ex.INCORRECT,
        "naive overflow",
        "float64 batch",
    ),
    "identity for positive x everywhere": (
        lambda x, b=1.0: x + torch.log1p(torch.exp(-b * x)) / b,
        ex.INCORRECT,
        "overflow for negative x",
        "large negative x",
    ),
    "returned the sigmoid": (
        lambda x, b=1.0: 1 / (1 + torch.exp(-b * x)),
        ex.INCORRECT,
        "sigmoid",
        "derivative",
    ),
    "returned relu": (lambda x, b=1.0: x.clamp(min=0), ex.INCORRECT, "relu", "limit β"),
    "forgot 1/beta": (
        lambda x, b=1.0: good_maximum(x, b) * b,
        ex.INCORRECT,
        "forgot 1/β",
        "1/β in front is missing",
    ),
    "beta ignored": (
        lambda x, b=1.0: torch.logaddexp(x, torch.zeros_like(x)),
        ex.INCORRECT,
        "ignored β",
        "β is ignored",
    ),
    "beta only in front": (
        lambda x, b=1.0: torch.logaddexp(x, torch.zeros_like(x)) / b,
        ex.INCORRECT,
        "β only in front",
        "left it out of the exponential",
    ),
    "x divided by beta inside": (
        lambda x, b=1.0: torch.logaddexp(x / b, torch.zeros_like(x)) / b,
        ex.INCORRECT,
        "x/β inside",
        "divided x by β inside",
    ),
    "beta and 1/beta swapped": (
        lambda x, b=1.0: b * torch.logaddexp(x / b, torch.zeros_like(x)),
        ex.INCORRECT,
        "β and 1/β swapped",
        "swapped",
    ),
    "times beta in front": (
        lambda x, b=1.0: b * torch.logaddexp(b * x, torch.zeros_like(x)),
        ex.INCORRECT,
        "times β in front",
        "multiplied by β in front",
    ),
    "stable form without max term": (
        lambda x, b=1.0: _tail(x, b),
        ex.INCORRECT,
        "missing max term",
        "max(x, 0) term is missing",
    ),
    "max(bx, 0) not divided": (
        lambda x, b=1.0: torch.maximum(b * x, torch.zeros_like(x)) + _tail(x, b),
        ex.INCORRECT,
        "max term not divided",
        "divide both terms by β",
    ),
    "log term not divided": (
        lambda x, b=1.0: torch.maximum(x, torch.zeros_like(x)) + _tail(x, b) * b,
        ex.INCORRECT,
        "log term not divided",
        "log1p term is not divided",
    ),
    "beta missing in exp(-|x|)": (
        lambda x, b=1.0: torch.maximum(x, torch.zeros_like(x)) + _tail(x, 1.0) / b,
        ex.INCORRECT,
        "β missing in |x|",
        "exp(-|x|) instead of exp(-β|x|)",
    ),
    "torch.where shortcut": (
        lambda x, b=1.0: torch.where(b * x > 20, x, torch.log1p(torch.exp(b * x)) / b),
        ex.INCORRECT,
        "nan gradient (where)",
        "torch.where trap",
    ),
    "stable form with relu: slope 0 at 0": (
        lambda x, b=1.0: torch.relu(x) + _tail(x, b),
        ex.INCORRECT,
        "kink at 0",
        "autograd gives 0 instead of σ(0) = 0.5",
    ),
    "stable form with clamp: slope 1 at 0": (
        lambda x, b=1.0: torch.clamp(x, min=0) + _tail(x, b),
        ex.INCORRECT,
        "kink at 0",
        "autograd gives 1 instead of σ(0) = 0.5",
    ),
    "detached": (
        lambda x, b=1.0: good_maximum(x.detach(), b),
        ex.INCORRECT,
        "no gradient",
        "no gradient flows",
    ),
    "in place": (
        lambda x, b=1.0: good_maximum(x.mul_(b), 1.0) / b,  # right values, input changed
        ex.INCORRECT,
        "modified input",
        "changed its input in place",
    ),
    "python float": (
        lambda x, b=1.0: float(good_maximum(x, b).sum()),
        ex.INCORRECT,
        "not a tensor",
        "return a torch.Tensor",
    ),
}


@pytest.mark.parametrize("fn", [good_maximum, good_logaddexp, good_half_sum, rl.softplus])
def test_softplus_correct_answers_pass(fn):
    feedback = sx.check_softplus_beta(fn)
    assert feedback.passed, feedback
    assert feedback.status == ex.CORRECT and "4 checks passed" in feedback.message


@pytest.mark.parametrize("name", sorted(SOFTPLUS_MISTAKES))
def test_softplus_mistake_named(name):
    fn, status, mistake, phrase = SOFTPLUS_MISTAKES[name]
    feedback = sx.check_softplus_beta(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_softplus_unrecognised_overflow_gets_generic_overflow_message():
    def overflow_somewhere(x, beta=1.0):  # right, except nan where beta * x > 50
        out = good_maximum(x, beta)
        return torch.where(beta * x > 50, torch.full_like(out, math.nan), out)

    feedback = sx.check_softplus_beta(overflow_somewhere)
    assert feedback.mistake == "overflow", feedback
    assert "inf or nan" in feedback.message


def test_softplus_plain_wrong_values_get_expected_and_got():
    feedback = sx.check_softplus_beta(lambda x, beta=1.0: good_maximum(x, beta) + 0.1)
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message and "got" in feedback.message


def test_softplus_cases_cover_overflow_in_both_dtypes():
    cases = sx.softplus_cases()
    dtypes = {c.args[0].dtype for c in cases}
    assert dtypes == {torch.float32, torch.float64}
    overflow32 = [
        c
        for c in cases
        if c.args[0].dtype == torch.float32 and torch.isinf(torch.exp(c.args[1] * c.args[0])).any()
    ]
    overflow64 = [
        c
        for c in cases
        if c.args[0].dtype == torch.float64 and torch.isinf(torch.exp(c.args[1] * c.args[0])).any()
    ]
    assert overflow32 and overflow64
    assert any(bool((c.args[0] == 0).any()) for c in cases)  # the kink is probed
    assert any(c.args[1] != 1.0 for c in cases)  # a beta that exposes misplaced betas


# --------------------------------------------------------------------------------------
# Exercise 2: the derivative sigma(beta x)
# --------------------------------------------------------------------------------------


def slope_sigmoid(x, beta=1.0):
    return torch.sigmoid(beta * x)


def slope_manual(x, beta=1.0):
    return 1 / (1 + torch.exp(-beta * x))


def slope_autograd(x, beta=1.0):
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(rl.softplus(x, beta).sum(), x)
    return g


SLOPE_MISTAKES = {
    "stub": (stub, ex.NOT_ATTEMPTED, None),
    "forgot beta in sigmoid": (lambda x, b=1.0: torch.sigmoid(x), ex.INCORRECT, "forgot β"),
    "kept the beta from the chain rule": (
        lambda x, b=1.0: b * torch.sigmoid(b * x),
        ex.INCORRECT,
        "extra factor β",
    ),
    "kept the 1/beta in front": (
        lambda x, b=1.0: torch.sigmoid(b * x) / b,
        ex.INCORRECT,
        "extra factor 1/β",
    ),
    "sigma(x / beta)": (lambda x, b=1.0: torch.sigmoid(x / b), ex.INCORRECT, "σ(x/β)"),
    "sign flipped": (lambda x, b=1.0: 1 - torch.sigmoid(b * x), ex.INCORRECT, "wrong sign"),
    "relu step": (lambda x, b=1.0: torch.heaviside(x, torch.zeros_like(x)), ex.INCORRECT, "step"),
    "the function itself": (
        lambda x, b=1.0: torch.logaddexp(b * x, torch.zeros_like(x)) / b,
        ex.INCORRECT,
        "returned softplus",
    ),
    "second derivative": (
        lambda x, b=1.0: b * torch.exp(-b * x) / (1 + torch.exp(-b * x)) ** 2,
        ex.INCORRECT,
        "second derivative",
    ),
    "exp(bx) / (1 + exp(bx))": (
        lambda x, b=1.0: torch.exp(b * x) / (1 + torch.exp(b * x)),
        ex.INCORRECT,
        "overflow",
    ),
}


@pytest.mark.parametrize("fn", [slope_sigmoid, slope_manual, slope_autograd])
def test_slope_correct_answers_pass(fn):
    feedback = sx.check_softplus_derivative(fn)
    assert feedback.passed, feedback
    assert "4 checks passed" in feedback.message


@pytest.mark.parametrize("name", sorted(SLOPE_MISTAKES))
def test_slope_mistake_named(name):
    fn, status, mistake = SLOPE_MISTAKES[name]
    feedback = sx.check_softplus_derivative(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback


def test_slope_overflow_message_names_the_fix():
    feedback = sx.check_softplus_derivative(SLOPE_MISTAKES["exp(bx) / (1 + exp(bx))"][0])
    assert "inf/inf = nan" in feedback.message and "torch.sigmoid" in feedback.message


# --------------------------------------------------------------------------------------
# Exercise 3: beta for a tolerance
# --------------------------------------------------------------------------------------


def beta_by_bisection(tol):
    """Bisection on log beta using only the value softplus_beta(0) (the largest gap)."""
    lo, hi = math.log(1e-6), math.log(1e6)
    zero = torch.zeros((), dtype=torch.float64)
    for _ in range(100):
        mid = (lo + hi) / 2
        if rl.softplus(zero, math.exp(mid)).item() <= tol:
            hi = mid
        else:
            lo = mid
    return math.exp(hi)


@pytest.mark.parametrize(
    "fn",
    [
        lambda tol: math.log(2) / tol,
        beta_by_bisection,
        lambda tol: torch.tensor(math.log(2) / tol),
        lambda tol: 1.005 * math.log(2) / tol,  # within the 1% allowed
    ],
)
def test_beta_correct_answers_pass(fn):
    feedback = sx.check_beta_for_gap(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (stub, ex.NOT_ATTEMPTED, None),
        (lambda tol: None, ex.NOT_ATTEMPTED, None),
        (lambda tol: 1 / tol, ex.INCORRECT, "forgot log 2"),
        (lambda tol: tol / math.log(2), ex.INCORRECT, "inverted"),
        (lambda tol: math.log(2) * tol, ex.INCORRECT, "times tol"),
        (lambda tol: math.log10(2) / tol, ex.INCORRECT, "log10"),
        (lambda tol: tol, ex.INCORRECT, "returned tol"),
        (lambda tol: 0.9 * math.log(2) / tol, ex.INCORRECT, "too soft"),
        (lambda tol: 1.5 * math.log(2) / tol, ex.INCORRECT, "too sharp"),
        (lambda tol: -math.log(2) / tol, ex.INCORRECT, "not positive"),
        (lambda tol: math.inf, ex.INCORRECT, "not positive"),
        (lambda tol: [1.0, 2.0], ex.INCORRECT, "not a number"),
    ],
)
def test_beta_mistakes(fn, status, mistake):
    feedback = sx.check_beta_for_gap(fn)
    assert feedback.status == status, feedback
    if mistake is not None:
        assert feedback.mistake == mistake, feedback


def test_reference_beta_meets_tolerance_exactly():
    for tol in [0.5, 0.01, 1e-4]:
        beta = sx.reference_beta_for_gap(tol)
        x = torch.arange(-50000, 50001, dtype=torch.float64) / 10000  # 0 is on the grid
        gap = (torch.logaddexp(beta * x, torch.zeros_like(x)) / beta - torch.relu(x)).max()
        assert abs(gap.item() - tol) < 1e-12 * max(1.0, tol)
        slightly_softer = 0.99 * beta
        assert math.log(2) / slightly_softer > tol
    with pytest.raises(ValueError):
        sx.reference_beta_for_gap(0.0)


# --------------------------------------------------------------------------------------
# Exercise 4: the curvature of softplus_beta at 0 (a short derivation)
# --------------------------------------------------------------------------------------
# By hand: d/dx sigma(beta x) = beta sigma(beta x) (1 - sigma(beta x)); at 0, beta / 4.


@pytest.mark.parametrize(
    "fn",
    [
        lambda beta: beta / 4,
        lambda beta: torch.tensor(beta / 4, dtype=torch.float64),  # a 0-d tensor
        lambda beta: beta * torch.sigmoid(torch.zeros(())) * torch.sigmoid(-torch.zeros(())),
    ],
)
def test_curvature_right_answers_pass(fn):
    feedback = sx.check_curvature_at_zero(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize(
    "fn, mistake, needle",
    [
        (lambda beta: 0.5, "slope, not curvature", "the slope σ(0)"),
        (lambda beta: 0.25, "forgot β", "plain softplus"),
        (lambda beta: beta**2 / 4, "β squared", "one β too many"),
        (lambda beta: 1 / (4 * beta), "divided by β", "grows with β"),
        (lambda beta: beta / 2, "σ'(0) = 1/2", "= 1/4, not 1/2"),
        (lambda beta: math.log(2) / beta, "the gap", "largest gap"),
        (lambda beta: 0.0, "ReLU's second derivative", "ReLU's second derivative"),
    ],
)
def test_curvature_mistakes_named(fn, mistake, needle):
    feedback = sx.check_curvature_at_zero(fn)
    assert feedback.status == ex.INCORRECT
    assert feedback.mistake == mistake
    assert needle in feedback.message


def test_curvature_unrecognised_and_bad_answers():
    feedback = sx.check_curvature_at_zero(lambda beta: beta)
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "for β = 3 autograd finds the curvature 0.75 at 0, you returned 3" in feedback.message
    assert sx.check_curvature_at_zero(stub).status == ex.NOT_ATTEMPTED
    assert sx.check_curvature_at_zero(lambda beta: None).status == ex.NOT_ATTEMPTED
    assert sx.check_curvature_at_zero(lambda beta: [1.0]).mistake == "not a number"
    assert sx.check_curvature_at_zero(lambda beta: 1 / 0).status == ex.ERROR
