"""Chapter 8's checkers accept the reference answers and name each common mistake."""

from __future__ import annotations

import math

import pytest
import torch

import relaxlib as rl
from dae_course import checking as core
from dae_course.ch08_summary import checks as ex
from dae_course.ch08_summary import model as dv

# --------------------------------------------------------------------------------------
# Exercise 1: KL to a uniform prior
# --------------------------------------------------------------------------------------


def kl_good(logits):
    log_q = torch.log_softmax(logits, dim=-1)
    return (log_q.exp() * (log_q + math.log(logits.shape[-1]))).sum(dim=(-1, -2))


def kl_good_entropy_form(logits):
    q = torch.softmax(logits, -1)
    entropy = -(q * torch.log_softmax(logits, -1)).sum(-1)
    return (math.log(logits.shape[-1]) - entropy).sum(-1)


def kl_distributions(logits):
    q = torch.distributions.Categorical(logits=logits)
    u = torch.distributions.Categorical(logits=torch.zeros_like(logits))
    return torch.distributions.kl_divergence(q, u).sum(-1)


@pytest.mark.parametrize("fn", [kl_good, kl_good_entropy_form, dv.kl_to_uniform, kl_distributions])
def test_kl_correct_answers_pass(fn):
    feedback = ex.check_kl_to_uniform(fn)
    assert feedback.passed and feedback.status == core.CORRECT, feedback


def _lq(x):
    return torch.log_softmax(x, -1)


KL_MISTAKES = {
    "wrong sign": (lambda x: -kl_good(x), "wrong sign"),
    "entropy": (lambda x: -(_lq(x).exp() * _lq(x)).sum((-1, -2)), "that is the entropy"),
    "forgot log K": (lambda x: (_lq(x).exp() * _lq(x)).sum((-1, -2)), "forgot the log K term"),
    "log K once": (
        lambda x: (_lq(x).exp() * _lq(x)).sum((-1, -2)) + math.log(x.shape[-1]),
        "only once per image",
    ),
    "reversed KL": (
        lambda x: (-math.log(x.shape[-1]) - _lq(x)).sum((-1, -2)) / x.shape[-1],
        "reversed divergence",
    ),
    "logits not log-probabilities": (
        lambda x: (torch.softmax(x, -1) * (x + math.log(x.shape[-1]))).sum((-1, -2)),
        "raw logits",
    ),
    "softmax over latents": (
        lambda x: (torch.softmax(x, 1) * (torch.log_softmax(x, 1) + math.log(x.shape[-1]))).sum(
            (1, 2)
        ),
        "over the latents (dim=-2)",
    ),
    "mean over latents": (
        lambda x: (_lq(x).exp() * (_lq(x) + math.log(x.shape[-1]))).sum(-1).mean(-1),
        "averaged over the L latents",
    ),
    "summed over categories only": (
        lambda x: (_lq(x).exp() * (_lq(x) + math.log(x.shape[-1]))).sum(-1),
        "one KL per latent",
    ),
    "summed over the batch": (
        lambda x: (_lq(x).exp() * (_lq(x) + math.log(x.shape[-1]))).sum((0, 2)),
        "summed over the batch",
    ),
    "summed everything": (
        lambda x: (_lq(x).exp() * (_lq(x) + math.log(x.shape[-1]))).sum(),
        "summed over everything",
    ),
}


@pytest.mark.parametrize("name", list(KL_MISTAKES))
def test_kl_mistakes_are_named(name):
    fn, phrase = KL_MISTAKES[name]
    feedback = ex.check_kl_to_uniform(fn)
    assert feedback.status == core.INCORRECT
    assert feedback.mistake == name
    assert phrase in feedback.message


def test_kl_nan_when_saturated():
    def log_of_softmax(x):
        q = torch.softmax(x, -1)
        return (q * (torch.log(q) + math.log(x.shape[-1]))).sum((-1, -2))

    feedback = ex.check_kl_to_uniform(log_of_softmax)
    assert feedback.mistake == "NaN when saturated" and "log_softmax" in feedback.message


def test_kl_detached_and_stubs():
    feedback = ex.check_kl_to_uniform(lambda x: kl_good(x).detach())
    assert feedback.mistake == "no gradient"

    def stub(x):
        raise NotImplementedError

    assert ex.check_kl_to_uniform(stub).status == core.NOT_ATTEMPTED
    assert ex.check_kl_to_uniform(lambda x: None).status == core.NOT_ATTEMPTED
    assert ex.check_kl_to_uniform(lambda x: 1 / 0).status == core.ERROR


def test_kl_unrecognised_wrong_answer_shows_values():
    feedback = ex.check_kl_to_uniform(lambda x: kl_good(x) + 0.1)
    assert feedback.status == core.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message


# --------------------------------------------------------------------------------------
# Exercise 2: the leave-one-out REINFORCE loss
# --------------------------------------------------------------------------------------


def loo_good(log_q, recon):
    m = recon.shape[0]
    b = (recon.sum(0, keepdim=True) - recon) / (m - 1)
    s = ((recon - b).detach() * log_q).mean()
    return recon.mean() + s - s.detach()


def loo_relaxlib(log_q, recon):
    return rl.reinforce_surrogate(log_q, recon, baseline="loo")


def loo_loop(log_q, recon):  # written sample by sample
    m, n = recon.shape
    total = 0.0
    for i in range(m):
        others = torch.cat([recon[:i], recon[i + 1 :]]).mean(0)
        w = (recon[i] - others).detach()
        total = total + (recon[i] + w * log_q[i] - (w * log_q[i]).detach()).sum()
    return total / (m * n)


@pytest.mark.parametrize("fn", [loo_good, loo_relaxlib, loo_loop])
def test_loo_correct_answers_pass(fn):
    feedback = ex.check_loo_loss(fn)
    assert feedback.passed, feedback


def _score_loss(baseline_fn, detach=True):
    def fn(log_q, recon):
        b = baseline_fn(recon)
        w = (recon - b).detach() if detach else recon - b
        s = (w * log_q).mean()
        return recon.mean() + s - s.detach()

    return fn


LOO_MISTAKES = {
    "includes own sample": (_score_loss(lambda r: r.mean(0, keepdim=True).detach()), "own loss"),
    "baseline over images": (
        _score_loss(lambda r: ((r.sum(1, keepdim=True) - r) / (r.shape[1] - 1)).detach()),
        "over the images",
    ),
    "divided by m": (
        _score_loss(lambda r: ((r.sum(0, keepdim=True) - r) / r.shape[0]).detach()),
        "divide by m - 1",
    ),
    "no baseline": (_score_loss(lambda r: torch.zeros_like(r)), "no baseline"),
    "sign flipped": (
        lambda lq, r: loo_good(-lq, r),
        "wrong sign",
    ),
    "baseline not detached": (
        _score_loss(lambda r: (r.sum(0, keepdim=True) - r) / (r.shape[0] - 1), detach=False),
        "must be a constant",
    ),
    "only baseline detached": (
        _score_loss(lambda r: ((r.sum(0, keepdim=True) - r) / (r.shape[0] - 1)).detach(), False),
        "not L_i",
    ),
    "no pathwise term": (
        lambda lq, r: loo_good(lq, r.detach()),
        "decoder gets no gradient",
    ),
    "summed": (lambda lq, r: loo_good(lq, r) * r.numel(), "instead of averaging"),
}


@pytest.mark.parametrize("name", list(LOO_MISTAKES))
def test_loo_mistakes_are_named(name):
    fn, phrase = LOO_MISTAKES[name]
    feedback = ex.check_loo_loss(fn)
    assert feedback.status == core.INCORRECT, feedback
    assert feedback.mistake == name, feedback
    assert phrase in feedback.message


def test_loo_value_not_the_mean_loss():
    def plain_sum(log_q, recon):
        b = (recon.sum(0, keepdim=True) - recon) / (recon.shape[0] - 1)
        return (recon + (recon - b).detach() * log_q).mean()

    feedback = ex.check_loo_loss(plain_sum)
    assert feedback.mistake == "value not the mean loss" and "s.detach()" in feedback.message


def test_loo_other_failures():
    assert ex.check_loo_loss(lambda lq, r: loo_good(lq, r).detach()).mistake == "no gradient"
    assert ex.check_loo_loss(lambda lq, r: r.mean(0)).mistake == "not a scalar"
    assert ex.check_loo_loss(lambda lq, r: r.mean()).mistake == "no score term"

    def stub(lq, r):
        raise NotImplementedError

    assert ex.check_loo_loss(stub).status == core.NOT_ATTEMPTED
    assert ex.check_loo_loss(lambda lq, r: None).status == core.NOT_ATTEMPTED
    assert ex.check_loo_loss(lambda lq, r: lq @ r).status == core.ERROR
    odd = ex.check_loo_loss(lambda lq, r: loo_good(lq, r) + 0.5 * (lq.mean() - lq.mean().detach()))
    assert odd.status == core.INCORRECT and odd.mistake is None


def test_reference_matches_relaxlib():
    g = torch.Generator().manual_seed(0)
    lq = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    r = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.autograd.grad(ex.reference_loo_loss(lq, r), (lq, r))
    b = torch.autograd.grad(rl.reinforce_surrogate(lq, r, baseline="loo"), (lq, r))
    assert all(torch.allclose(x, y) for x, y in zip(a, b))
    assert ex.reference_loo_loss(lq, r).item() == pytest.approx(r.mean().item())
