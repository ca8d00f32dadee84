"""The exercise checkers accept the reference answers and name each common mistake."""

from __future__ import annotations

import math

import pytest
import torch

import relaxlib as rl
from dae_course import checking as ex
from dae_course.ch03_softmax import checks as ch3

# --------------------------------------------------------------------------------------
# soft arg max: the reference, then one small wrong function per named mistake
# --------------------------------------------------------------------------------------


def good_soft_argmax(x, temperature=1.0):
    p = torch.softmax(x / temperature, dim=-1)
    return p @ torch.arange(x.shape[-1], dtype=x.dtype)


def good_soft_argmax_manual(x, temperature=1.0):
    z = x / temperature
    w = torch.exp(z - z.max(-1, keepdim=True).values)
    return (w / w.sum(-1, keepdim=True) * torch.arange(x.shape[-1], dtype=x.dtype)).sum(-1)


def idx(x, start=0):
    return torch.arange(start, start + x.shape[-1], dtype=x.dtype)


SOFT_ARGMAX_MISTAKES = {
    "stub raises": (
        lambda x, t=1.0: (_ for _ in ()).throw(NotImplementedError()),
        ex.NOT_ATTEMPTED,
        None,
        "not attempted yet",
    ),
    "stub returns None": (lambda x, t=1.0: None, ex.NOT_ATTEMPTED, None, "returns None"),
    "forgot temperature": (
        lambda x, t=1.0: torch.softmax(x, -1) @ idx(x),
        ex.INCORRECT,
        "ignored temperature",
        "temperature is ignored",
    ),
    "multiplied by temperature": (
        lambda x, t=1.0: torch.softmax(x * t, -1) @ idx(x),
        ex.INCORRECT,
        "multiplied by temperature",
        "multiplied the logits by T",
    ),
    "divided after softmax": (
        lambda x, t=1.0: (torch.softmax(x, -1) / t) @ idx(x),
        ex.INCORRECT,
        "divided after softmax",
        "after the softmax",
    ),
    "indices 1..N": (
        lambda x, t=1.0: torch.softmax(x / t, -1) @ idx(x, 1),
        ex.INCORRECT,
        "indices from 1",
        "indices start at 0",
    ),
    "returned probabilities": (
        lambda x, t=1.0: torch.softmax(x / t, -1),
        ex.INCORRECT,
        "probabilities",
        "you returned the probabilities",
    ),
    "softmax over dim 0": (
        lambda x, t=1.0: torch.softmax(x / t, 0) @ idx(x),
        ex.INCORRECT,
        "softmax over wrong dim",
        "softmax is taken over the wrong dimension",
    ),
    "sum over dim 0": (
        lambda x, t=1.0: (torch.softmax(x / t, -1) * idx(x)).sum(0),
        ex.INCORRECT,
        "sum over wrong dim",
        "weighted sum runs over the wrong dimension",
    ),
    "not normalised": (
        lambda x, t=1.0: torch.exp(x / t) @ idx(x),
        ex.INCORRECT,
        "not normalised",
        "not normalised",
    ),
    "hard argmax (integer)": (
        lambda x, t=1.0: torch.argmax(x, -1),
        ex.INCORRECT,
        "hard argmax",
        "integer indices",
    ),
    "hard argmax (as float)": (
        lambda x, t=1.0: torch.argmax(x, -1).float(),
        ex.INCORRECT,
        "hard argmax",
        "no gradient",
    ),
    "detached": (
        lambda x, t=1.0: good_soft_argmax(x.detach(), t),
        ex.INCORRECT,
        "no gradient",
        "no gradient flows",
    ),
    "python float": (
        lambda x, t=1.0: float(good_soft_argmax(x, t).sum()),
        ex.INCORRECT,
        "not a tensor",
        "return a torch.Tensor",
    ),
    "in place": (
        lambda x, t=1.0: good_soft_argmax(x.div_(t), 1.0),
        ex.INCORRECT,
        "modified input",
        "changed its input in place",
    ),
    "integer index vector": (
        lambda x, t=1.0: torch.softmax(x / t, -1) @ torch.arange(x.shape[-1]),
        ex.ERROR,
        None,
        "torch.arange(N, dtype=x.dtype)",
    ),
}


@pytest.mark.parametrize("fn", [good_soft_argmax, good_soft_argmax_manual, rl.soft_argmax])
def test_soft_argmax_reference_passes(fn):
    feedback = ch3.check_soft_argmax(fn)
    assert feedback.passed, feedback
    assert feedback
    assert "passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(SOFT_ARGMAX_MISTAKES))
def test_soft_argmax_mistake_named(name):
    fn, status, mistake, phrase = SOFT_ARGMAX_MISTAKES[name]
    feedback = ch3.check_soft_argmax(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_other_exception_reported():
    def broken(x, t=1.0):
        raise ValueError("oops")

    feedback = ch3.check_soft_argmax(broken)
    assert feedback.status == ex.ERROR
    assert "ValueError" in feedback.message and "oops" in feedback.message


def test_wrong_values_generic_message():
    feedback = ch3.check_soft_argmax(lambda x, t=1.0: good_soft_argmax(x, t) * 1.5)
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message and "got" in feedback.message


def test_wrong_gradient_detected():
    def half_detached(x, t=1.0):
        p = torch.softmax(x / t, -1)
        return p.detach() @ idx(x) + 0.0 * x.sum(-1)  # right value, gradient zero

    def partly(x, t=1.0):
        v = good_soft_argmax(x, t)
        return v.detach() + (x - x.detach()).sum(-1)  # right value, wrong gradient

    assert ch3.check_soft_argmax(half_detached).mistake == "no gradient"
    assert ch3.check_soft_argmax(partly).mistake == "wrong gradient"


# --------------------------------------------------------------------------------------
# soft max
# --------------------------------------------------------------------------------------


def good_soft_max(x, temperature=1.0):
    return (torch.softmax(x / temperature, dim=-1) * x).sum(-1)


SOFT_MAX_MISTAKES = {
    "forgot temperature": (
        lambda x, t=1.0: (torch.softmax(x, -1) * x).sum(-1),
        "ignored temperature",
    ),
    "multiplied": (
        lambda x, t=1.0: (torch.softmax(x * t, -1) * x).sum(-1),
        "multiplied by temperature",
    ),
    "probabilities": (lambda x, t=1.0: torch.softmax(x / t, -1), "probabilities"),
    "soft argmax": (lambda x, t=1.0: good_soft_argmax(x, t), "soft argmax"),
    "hard max": (lambda x, t=1.0: x.max(-1).values, "hard max"),
    "logsumexp": (lambda x, t=1.0: t * torch.logsumexp(x / t, -1), "logsumexp"),
    "dot with x/T": (lambda x, t=1.0: (torch.softmax(x / t, -1) * x / t).sum(-1), "dot with x/T"),
    "softmax dim 0": (
        lambda x, t=1.0: (torch.softmax(x / t, 0) * x).sum(-1),
        "softmax over wrong dim",
    ),
    "sum dim 0": (lambda x, t=1.0: (torch.softmax(x / t, -1) * x).sum(0), "sum over wrong dim"),
    "not normalised": (lambda x, t=1.0: (torch.exp(x / t) * x).sum(-1), "not normalised"),
    "detached": (lambda x, t=1.0: good_soft_max(x.detach(), t), "no gradient"),
}


@pytest.mark.parametrize("fn", [good_soft_max, rl.soft_max])
def test_soft_max_reference_passes(fn):
    assert ch3.check_soft_max(fn).passed


@pytest.mark.parametrize("name", sorted(SOFT_MAX_MISTAKES))
def test_soft_max_mistake_named(name):
    fn, mistake = SOFT_MAX_MISTAKES[name]
    feedback = ch3.check_soft_max(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_soft_max_stub_not_attempted():
    def stub(x, temperature=1.0):
        raise NotImplementedError

    feedback = ch3.check_soft_max(stub)
    assert feedback.status == ex.NOT_ATTEMPTED
    assert "not attempted" in str(feedback)


# --------------------------------------------------------------------------------------
# temperature for a tolerance
# --------------------------------------------------------------------------------------


def good_temperature(x, tol):
    lo, hi = math.log(1e-3), math.log(1e3)
    target = float(x.argmax())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if abs(float(rl.soft_argmax(x.double(), math.exp(mid))) - target) <= tol:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


def test_temperature_reference_passes():
    assert ch3.check_temperature_for_tolerance(good_temperature).passed
    assert ch3.check_temperature_for_tolerance(ch3.reference_temperature_for_tolerance).passed


def test_reference_temperature_meets_tolerance_and_is_largest():
    x = torch.tensor([1.1, 4.0, -0.1, 2.3])
    t = ch3.reference_temperature_for_tolerance(x, 0.01)
    err = abs(float(rl.soft_argmax(x.double(), t)) - 1.0)
    err_warmer = abs(float(rl.soft_argmax(x.double(), 1.01 * t)) - 1.0)
    assert err <= 0.01 < err_warmer
    assert 0.3 < t < 0.35


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (lambda x, tol: (_ for _ in ()).throw(NotImplementedError()), ex.NOT_ATTEMPTED, None),
        (lambda x, tol: None, ex.NOT_ATTEMPTED, None),
        (lambda x, tol: 1.0, ex.INCORRECT, "too warm"),
        (lambda x, tol: 1e-3, ex.INCORRECT, "too cold"),
        (lambda x, tol: 0.8 * good_temperature(x, tol), ex.INCORRECT, "too cold"),
        (lambda x, tol: 1.2 * good_temperature(x, tol), ex.INCORRECT, "too warm"),
        (lambda x, tol: -1.0, ex.INCORRECT, "not positive"),
        (lambda x, tol: math.log(good_temperature(x, tol)), ex.INCORRECT, "not positive"),
        (lambda x, tol: tol, ex.INCORRECT, "returned error"),
        (lambda x, tol: [0.3], ex.INCORRECT, "not a number"),
    ],
)
def test_temperature_mistakes(fn, status, mistake):
    feedback = ch3.check_temperature_for_tolerance(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback


def test_tensor_answer_accepted():
    assert ch3.check_temperature_for_tolerance(
        lambda x, tol: torch.tensor(good_temperature(x, tol))
    )


# --------------------------------------------------------------------------------------
# the framework itself
# --------------------------------------------------------------------------------------


def test_feedback_repr_is_message_and_bool():
    fb = ex.Feedback("demo", ex.CORRECT, "fine")
    assert repr(fb) == str(fb) == "[correct] demo: fine"
    long = ex.Feedback("demo", ex.INCORRECT, "word " * 40)
    assert max(len(line) for line in str(long).splitlines()) <= 88
    assert fb and fb.passed
    assert not ex.Feedback("demo", ex.INCORRECT, "no")


def test_check_function_generic():
    cases = [ex.Case((torch.tensor([1.0, -2.0]),), "x = [1, -2]")]
    mistakes = [ex.Mistake("relu", torch.relu, "that is ReLU, not softplus ({case})")]
    assert ex.check_function(
        torch.nn.functional.softplus,
        exercise="softplus",
        reference=torch.nn.functional.softplus,
        cases=cases,
    )
    fb = ex.check_function(
        torch.relu,
        exercise="softplus",
        reference=torch.nn.functional.softplus,
        cases=cases,
        mistakes=mistakes,
    )
    assert fb.mistake == "relu" and "x = [1, -2]" in fb.message
