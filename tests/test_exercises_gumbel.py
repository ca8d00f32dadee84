"""relaxlib.exercises.gumbel: reference answers pass; each named mistake, written here as a
small wrong function, is caught with its own message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import relaxlib as rl
from dae_course.ch07_gumbel_straight_through import checks as gex
from dae_course.ch07_gumbel_straight_through import problems as toy
from dae_course.checking import CORRECT, ERROR, INCORRECT, NOT_ATTEMPTED


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


@pytest.mark.parametrize("fn", [good_noise, good_noise_where, gex.reference_gumbel_noise])
def test_gumbel_noise_reference_passes(fn):
    feedback = gex.check_gumbel_noise(fn)
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
    feedback = gex.check_gumbel_noise(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_reference_gumbel_noise_values():
    u = torch.tensor([0.0, 0.5, 1.0])
    g = gex.reference_gumbel_noise(u)
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
    feedback = gex.check_st_argmax(fn)
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
    feedback = gex.check_st_argmax(fn)
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
    feedback = gex.check_st_gumbel_softmax(fn)
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
        lambda x, g, t: toy.torch_st_rsample(x, one_hot(x + g)),
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
    feedback = gex.check_st_gumbel_softmax(fn)
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
    assert gex.check_st_gumbel_softmax(good_st_gumbel).status == CORRECT
