"""Checkers of chapter 6: correct answers pass; each named mistake, written as a small wrong
function, is caught with its own message."""

from __future__ import annotations

import pytest
import torch

import relaxlib as rl
from dae_course import checking as ex
from dae_course.ch06_reinforce import checks as rex

# --------------------------------------------------------------------------------------
# Exercise 1: the REINFORCE surrogate
# --------------------------------------------------------------------------------------


def classic(probs, loss):
    return (loss.detach() * torch.log(probs)).mean() + loss.mean()


def value_is_loss(probs, loss):
    score = (loss.detach() * torch.log(probs)).mean()
    return loss.mean() + score - score.detach()


def with_library(probs, loss):
    return rl.reinforce_surrogate(torch.log(probs), loss)


@pytest.mark.parametrize("fn", [classic, value_is_loss, with_library, rex.reference_surrogate])
def test_surrogate_correct_answers_pass(fn):
    feedback = rex.check_reinforce_surrogate(fn)
    assert feedback.passed, feedback
    assert "REINFORCE" in feedback.message


def test_surrogate_value_note():
    assert "value is also the mean loss" in rex.check_reinforce_surrogate(value_is_loss).message
    assert "not the mean loss" in rex.check_reinforce_surrogate(classic).message


SURROGATE_MISTAKES = {
    "p instead of log p": (
        lambda p, L: (L.detach() * p).mean() + L.mean(),
        "forgot log",
        "LOG-probability",
    ),
    "wrong sign": (
        lambda p, L: -(L.detach() * torch.log(p)).mean() + L.mean(),
        "wrong sign",
        "wrong sign",
    ),
    "everything negated": (lambda p, L: -classic(p, L), "wrong sign", "wrong sign"),
    "sum": (
        lambda p, L: (L.detach() * torch.log(p)).sum() + L.mean(),
        "sum instead of mean",
        "m times too large",
    ),
    "only the mean loss": (
        lambda p, L: L.mean(),
        "no score term",
        "no gradient reaches the probabilities",
    ),
    "log p unweighted": (
        lambda p, L: torch.log(p).mean() + L.mean(),
        "log prob not weighted",
        "not multiplied by the losses",
    ),
    "not detached, with mean loss": (
        lambda p, L: (L * torch.log(p)).mean() + L.mean(),
        "loss not detached",
        "not detached",
    ),
    "not detached, classic": (
        lambda p, L: (L * torch.log(p)).mean(),
        "loss not detached",
        "not detached",
    ),
    "no pathwise term": (
        lambda p, L: (L.detach() * torch.log(p)).mean(),
        "no pathwise term",
        "add loss.mean()",
    ),
    "vector": (lambda p, L: L.detach() * torch.log(p), "not a scalar", "0-d tensor"),
    "python float": (lambda p, L: classic(p, L).item(), "not a tensor", "torch.Tensor"),
    "detached": (lambda p, L: classic(p, L).detach(), "no gradient", "no gradient flows"),
}


@pytest.mark.parametrize("name", sorted(SURROGATE_MISTAKES))
def test_surrogate_mistakes_named(name):
    fn, mistake, phrase = SURROGATE_MISTAKES[name]
    feedback = rex.check_reinforce_surrogate(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_surrogate_unknown_wrong_gradient():
    feedback = rex.check_reinforce_surrogate(lambda p, L: 3 * classic(p, L))
    assert feedback.status == ex.INCORRECT
    assert feedback.mistake == "wrong gradient (probs)"
    assert "should be" in feedback.message


def test_surrogate_not_attempted_and_error():
    def stub(probs, loss):
        raise NotImplementedError

    assert rex.check_reinforce_surrogate(stub).status == ex.NOT_ATTEMPTED
    assert rex.check_reinforce_surrogate(lambda p, L: None).status == ex.NOT_ATTEMPTED
    fb = rex.check_reinforce_surrogate(lambda p, L: p @ torch.ones(3))
    assert fb.status == ex.ERROR


# --------------------------------------------------------------------------------------
# Exercise 2: the leave-one-out baseline
# --------------------------------------------------------------------------------------


def loo_loop(loss):
    m = loss.shape[0]
    rows = [torch.cat([loss[:i], loss[i + 1 :]]).mean(0) for i in range(m)]
    return torch.stack(rows)


@pytest.mark.parametrize("fn", [loo_loop, rex.reference_loo_baseline])
def test_loo_correct_answers_pass(fn):
    feedback = rex.check_loo_baseline(fn)
    assert feedback.passed, feedback


def test_loo_reference_by_hand_and_agrees_with_library():
    loss = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    torch.testing.assert_close(
        rex.reference_loo_baseline(loss),
        torch.tensor([11 / 3, 10 / 3, 3.0, 2.0], dtype=torch.float64),
    )
    theta = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    b = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)

    def grad(baseline):
        logp = b * torch.log(theta) + (1 - b) * torch.log1p(-theta)
        return torch.autograd.grad(rl.reinforce_surrogate(logp, loss, baseline), theta)[0]

    g1, g2 = grad("loo"), grad(rex.reference_loo_baseline(loss))
    torch.testing.assert_close(g1, g2)


LOO_MISTAKES = {
    "mean of all, broadcast": (lambda L: L.mean(0, keepdim=True).expand_as(L), "includes itself"),
    "mean of all, scalar": (lambda L: L.mean(0), "includes itself"),
    "divide by m": (lambda L: (L.sum(0, keepdim=True) - L) / L.shape[0], "divided by m"),
    "sum of others": (lambda L: L.sum(0, keepdim=True) - L, "not divided"),
    "wrong dim": (lambda L: (L.sum(-1, keepdim=True) - L) / (L.shape[-1] - 1), "wrong dim"),
    "centred": (lambda L: L - rex.reference_loo_baseline(L), "centred loss"),
    "own loss": (lambda L: L * 1.0, "own loss"),
}


@pytest.mark.parametrize("name", sorted(LOO_MISTAKES))
def test_loo_mistakes_named(name):
    fn, mistake = LOO_MISTAKES[name]
    feedback = rex.check_loo_baseline(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_loo_includes_itself_message_says_biased():
    fb = rex.check_loo_baseline(lambda L: L.mean(0, keepdim=True).expand_as(L))
    assert "biased" in fb.message


# --------------------------------------------------------------------------------------
# Exercise 3: the exact variance with a constant baseline
# --------------------------------------------------------------------------------------


def variance_expanded(theta, t, c):
    a, z = (1 - t) ** 2 - c, t**2 - c
    return a**2 / theta + z**2 / (1 - theta) - (1 - 2 * t) ** 2


def test_variance_correct_answers_pass():
    assert rex.check_baseline_variance(variance_expanded).passed
    assert rex.check_baseline_variance(rex.reference_baseline_variance).passed


def test_variance_reference_by_hand():
    f = torch.float64
    v = rex.reference_baseline_variance(
        torch.tensor(0.3, dtype=f), torch.tensor(0.45, dtype=f), torch.tensor(0.0, dtype=f)
    )
    assert v.item() == pytest.approx(0.3025**2 / 0.3 + 0.2025**2 / 0.7 - 0.01)


def _g(theta, t, c):
    return ((1 - t) ** 2 - c) / theta, -(t**2 - c) / (1 - theta)


VARIANCE_MISTAKES = {
    "second moment": (
        lambda th, t, c: th * _g(th, t, c)[0] ** 2 + (1 - th) * _g(th, t, c)[1] ** 2,
        "second moment",
    ),
    "ignores c": (lambda th, t, c: variance_expanded(th, t, 0.0 * c), "baseline ignored"),
    "adds c": (lambda th, t, c: variance_expanded(th, t, -c), "baseline added"),
    "equal weights": (
        lambda th, t, c: ((_g(th, t, c)[0] - _g(th, t, c)[1]) / 2) ** 2,
        "unweighted outcomes",
    ),
    "unweighted squares": (
        lambda th, t, c: _g(th, t, c)[0] ** 2 + _g(th, t, c)[1] ** 2 - (1 - 2 * t) ** 2,
        "score squared twice",
    ),
    "variance of loss": (
        lambda th, t, c: th * (1 - th) * (1 - 2 * t) ** 2 + 0 * c,
        "variance of the loss",
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANCE_MISTAKES))
def test_variance_mistakes_named(name):
    fn, mistake = VARIANCE_MISTAKES[name]
    feedback = rex.check_baseline_variance(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
