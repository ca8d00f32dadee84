"""Chapter 4's exercise checkers accept correct answers and name each common mistake."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import relaxlib as rl
from dae_course import checking as ex
from dae_course.ch04_huber import checks as hx

# --------------------------------------------------------------------------------------
# Exercise 1: Huber with delta
# --------------------------------------------------------------------------------------


def good_huber(x, y, delta):
    r = x - y
    return torch.where(r.abs() < delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))


def good_huber_le(x, y, delta):  # `<=` puts |r| = delta in the quadratic branch: same values
    r = x - y
    return torch.where(r.abs() <= delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))


def good_huber_clamp(x, y, delta):  # 0.5 q^2 + delta (|r| - q), q = min(|r|, delta)
    a = (x - y).abs()
    q = torch.clamp(a, max=delta)
    return 0.5 * q**2 + delta * (a - q)


def good_huber_target_minus_input(x, y, delta):
    return good_huber(y, x, delta)


def _where(x, y, cond, inner, outer):
    r = x - y
    return torch.where(cond(r), inner(r), outer(r))


HUBER_MISTAKES = {
    # name: (wrong function, expected mistake name, phrase in the message)
    "smooth l1 instead": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2 / d, lambda r: r.abs() - d / 2
        ),
        "smooth l1",
        "Smooth L1",
    ),
    "linear branch missing delta": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2, lambda r: r.abs() - d / 2
        ),
        "linear branch not scaled",
        "missing its factor delta",
    ),
    "forgot offset": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2, lambda r: d * r.abs()
        ),
        "no offset",
        "jumps",
    ),
    "kept 0.5 offset": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2, lambda r: d * (r.abs() - 0.5)
        ),
        "lecture offset",
        "lecture's 0.5",
    ),
    "threshold 1": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < 1, lambda r: 0.5 * r**2, lambda r: r.abs() - 0.5
        ),
        "ignored delta",
        "delta is ignored",
    ),
    "r < delta": (
        lambda x, y, d: _where(
            x, y, lambda r: r < d, lambda r: 0.5 * r**2, lambda r: d * (r.abs() - d / 2)
        ),
        "r instead of |r|",
        "r.abs() < delta",
    ),
    "no half": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: r**2, lambda r: d * (r.abs() - d / 2)
        ),
        "missing half",
        "factor 1/2",
    ),
    "swapped": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: d * (r.abs() - d / 2), lambda r: 0.5 * r**2
        ),
        "swapped branches",
        "swapped",
    ),
    "mean": (lambda x, y, d: good_huber(x, y, d).mean(), "mean reduction", "mean"),
    "sum": (lambda x, y, d: good_huber(x, y, d).sum(), "sum reduction", "sum"),
    "detached": (lambda x, y, d: good_huber(x.detach(), y.detach(), d), "no gradient", "gradient"),
}


@pytest.mark.parametrize(
    "fn", [good_huber, good_huber_le, good_huber_clamp, good_huber_target_minus_input, rl.huber]
)
def test_huber_correct_answers_pass(fn):
    feedback = hx.check_huber(fn)
    assert feedback.passed, feedback
    assert "passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(HUBER_MISTAKES))
def test_huber_mistake_named(name):
    fn, mistake, phrase = HUBER_MISTAKES[name]
    feedback = hx.check_huber(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_huber_mistakes_are_wrong_where_claimed():
    # The checker's first case has delta = 2; the named discontinuities are real there.
    r = torch.tensor([2.0 - 1e-9, 2.0], dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    no_offset = HUBER_MISTAKES["forgot offset"][0](r, zero, 2.0)
    assert no_offset[1] - no_offset[0] == pytest.approx(2.0)  # jump of delta^2 / 2
    unscaled = HUBER_MISTAKES["linear branch missing delta"][0](r, zero, 2.0)
    assert unscaled[0] - unscaled[1] == pytest.approx(1.0)  # 2 at the left, 1 at the right
    good = good_huber(r, zero, 2.0)
    assert good[1] - good[0] == pytest.approx(0.0, abs=1e-8)


def test_huber_stub_and_errors():
    def stub(x, y, delta):
        raise NotImplementedError

    assert hx.check_huber(stub).status == ex.NOT_ATTEMPTED
    assert hx.check_huber(lambda x, y, d: None).status == ex.NOT_ATTEMPTED
    fb = hx.check_huber(lambda x, y, d: float(good_huber(x, y, d).sum()))
    assert fb.mistake == "not a tensor"
    fb = hx.check_huber(lambda x, y, d: good_huber(x, y, d) * 1.1)
    assert fb.status == ex.INCORRECT and fb.mistake is None and "expected" in fb.message


# --------------------------------------------------------------------------------------
# Exercise 2: Smooth L1 through F.huber_loss
# --------------------------------------------------------------------------------------


def good_smooth(x, y, beta):
    return F.huber_loss(x, y, delta=beta, reduction="none") / beta


def good_smooth_rescaled(x, y, beta):
    return beta * F.huber_loss(x / beta, y / beta, delta=1.0, reduction="none")


def good_smooth_by_hand(x, y, beta):
    r = (x - y).abs()
    return torch.where(r < beta, 0.5 * r**2 / beta, r - 0.5 * beta)


def hub(x, y, d):
    return F.huber_loss(x, y, delta=d, reduction="none")


SMOOTH_MISTAKES = {
    "times beta": (lambda x, y, b: b * hub(x, y, b), "multiplied by beta"),
    "huber itself": (lambda x, y, b: hub(x, y, b), "not divided"),
    "default delta then divide": (lambda x, y, b: hub(x, y, 1.0) / b, "default delta, divided"),
    "F.huber_loss(reduction=none)": (lambda x, y, b: hub(x, y, 1.0), "default delta"),
    "rescaled without beta": (lambda x, y, b: hub(x / b, y / b, 1.0), "divided by beta squared"),
    "beta squared": (lambda x, y, b: hub(x, y, b) / b**2, "divided by beta squared"),
    "default reduction": (lambda x, y, b: F.huber_loss(x, y, delta=b) / b, "mean reduction"),
}


@pytest.mark.parametrize(
    "fn",
    [
        good_smooth,
        good_smooth_rescaled,
        good_smooth_by_hand,
        lambda x, y, b: F.smooth_l1_loss(x, y, beta=b, reduction="none"),
    ],
)
def test_smooth_correct_answers_pass(fn):
    feedback = hx.check_smooth_l1_via_huber(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize("name", sorted(SMOOTH_MISTAKES))
def test_smooth_mistake_named(name):
    fn, mistake = SMOOTH_MISTAKES[name]
    feedback = hx.check_smooth_l1_via_huber(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_smooth_stub():
    def stub(x, y, beta):
        raise NotImplementedError

    assert hx.check_smooth_l1_via_huber(stub).status == ex.NOT_ATTEMPTED


# --------------------------------------------------------------------------------------
# Exercise 3: the L1 cycle
# --------------------------------------------------------------------------------------


def simulate_l1(x0, y, lr, steps=400):
    """Gradient descent on |x - y| with autograd, float64; the last two iterates, sorted."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    for _ in range(steps):
        (g,) = torch.autograd.grad((x - y).abs(), x)
        x = (x - lr * g).detach().requires_grad_(True)
    a = x.item()
    (g,) = torch.autograd.grad((x - y).abs(), x)
    b = (x - lr * g).item()
    return tuple(sorted((a, b)))


DYADIC = [
    (3.3125, 0.375, 0.25),
    (-1.375, 0.625, 0.75),
    (-1.375, 0.25, 0.5),
    (2.0, 0.5, 0.5),
    (0.75, 0.0, 2.0),
    (-5.0, -2.0, 0.75),
    (10.0, 1.0, 1.5),
    (-7.25, 3.5, 0.125),
    (0.5, 0.5, 0.25),
    (1.0, 0.0, 0.375),
]


@pytest.mark.parametrize("x0, y, lr", DYADIC)
def test_reference_cycle_matches_gradient_descent_exactly(x0, y, lr):
    assert hx.reference_l1_cycle(x0, y, lr) == simulate_l1(x0, y, lr)


@pytest.mark.parametrize("seed", range(5))
def test_reference_cycle_matches_gradient_descent_generic(seed):
    g = torch.Generator().manual_seed(seed)
    x0, y = (torch.rand(2, generator=g, dtype=torch.float64) * 20 - 10).tolist()
    lr = 0.05 + torch.rand(1, generator=g, dtype=torch.float64).item()
    low, high = hx.reference_l1_cycle(x0, y, lr)
    sim = simulate_l1(x0, y, lr, steps=int(abs(x0 - y) / lr) + 10)
    assert sim == pytest.approx((low, high), abs=1e-9)
    assert high - low == pytest.approx(lr)
    assert low < y < high and max(y - low, high - y) < lr


def sim_solution(x0, y, lr):
    return simulate_l1(x0, y, lr)


def closed_form(x0, y, lr):
    d = x0 - y
    n = math.floor(d / lr)
    rho = d - n * lr
    return torch.tensor([y + rho - lr, y + rho]) if rho else [y, y]


@pytest.mark.parametrize("fn", [hx.reference_l1_cycle, sim_solution, closed_form])
def test_l1_cycle_correct_answers_pass(fn):
    assert hx.check_l1_cycle(fn).passed


def _pts(y, rho, lr):
    return (y + rho - lr, y + rho) if rho else (y, y)


L1_MISTAKES = {
    "offsets": (
        lambda x0, y, lr: (((x0 - y) % lr) - lr, (x0 - y) % lr),
        "offsets",
    ),
    "symmetric": (lambda x0, y, lr: (y - lr / 2, y + lr / 2), "symmetric"),
    "mirrored": (lambda x0, y, lr: (y - abs(x0 - y) % lr, y + abs(x0 - y) % lr), "mirrored"),
    "x0 % lr": (lambda x0, y, lr: _pts(y, x0 % lr, lr), "ignores target"),
    "math.fmod": (lambda x0, y, lr: _pts(y, math.fmod(x0 - y, lr), lr), "fmod"),
    "abs": (lambda x0, y, lr: _pts(y, abs(x0 - y) % lr, lr), "abs remainder"),
    "no landing": (
        lambda x0, y, lr: (y + (x0 - y) % lr - lr, y + (x0 - y) % lr),
        "missed exact landing",
    ),
}


@pytest.mark.parametrize("name", sorted(L1_MISTAKES))
def test_l1_cycle_mistake_named(name):
    fn, mistake = L1_MISTAKES[name]
    feedback = hx.check_l1_cycle(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (lambda x0, y, lr: (_ for _ in ()).throw(NotImplementedError()), ex.NOT_ATTEMPTED, None),
        (lambda x0, y, lr: None, ex.NOT_ATTEMPTED, None),
        (lambda x0, y, lr: 0.5, ex.INCORRECT, "not a pair"),
        (lambda x0, y, lr: (1.0, 2.0, 3.0), ex.INCORRECT, "not a pair"),
        (lambda x0, y, lr: (float("nan"), 1.0), ex.INCORRECT, "not a pair"),
        (lambda x0, y, lr: (y - 3 * lr, y + 7 * lr), ex.INCORRECT, None),
    ],
)
def test_l1_cycle_other_answers(fn, status, mistake):
    feedback = hx.check_l1_cycle(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
