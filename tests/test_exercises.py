"""The exercise-checking framework (dae_course.checking): feedback, cases, named mistakes,
errors, gradients. Each chapter's checkers are tested with their chapter."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dae_course import checking as ex

CASES = [ex.Case((torch.tensor([1.0, -2.0, 0.5]),), "x = [1, -2, 0.5]")]


def check(fn, mistakes=()):
    return ex.check_function(
        fn, exercise="softplus", reference=F.softplus, cases=CASES, mistakes=mistakes
    )


def test_other_exception_reported():
    def broken(x):
        raise ValueError("oops")

    feedback = check(broken)
    assert feedback.status == ex.ERROR
    assert "ValueError" in feedback.message and "oops" in feedback.message


def test_wrong_values_generic_message():
    feedback = check(lambda x: F.softplus(x) * 1.5)
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message and "got" in feedback.message


def test_wrong_gradient_detected():
    def detached(x):
        return F.softplus(x).detach() + 0.0 * x  # right value, gradient zero

    def partly(x):
        return F.softplus(x).detach() + (x - x.detach())  # right value, wrong gradient

    assert check(detached).mistake == "no gradient"
    assert check(partly).mistake == "wrong gradient"


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
