"""Chapter 5's checkers accept correct answers and name each common mistake."""

from __future__ import annotations

import math

import pytest
import torch

import relaxlib as rl
from dae_course import checking as ex
from dae_course.ch05_reparameterisation import checks as rx
from dae_course.ch05_reparameterisation import problems as toy

# --------------------------------------------------------------------------------------
# Exercise: reparameterised Gaussian from (mu, log_var)
# --------------------------------------------------------------------------------------


def _z(mu, n, generator):
    return torch.randn((n,) + tuple(mu.shape), generator=generator, dtype=mu.dtype)


def good_gauss(mu, log_var, n, generator):
    return mu + torch.exp(0.5 * log_var) * _z(mu, n, generator)


def good_gauss_sqrt(mu, log_var, n, generator):
    return mu + torch.sqrt(torch.exp(log_var)) * _z(mu, n, generator)


def good_gauss_rl(mu, log_var, n, generator):
    return rl.normal_rsample(mu, torch.exp(0.5 * log_var), (n,), generator=generator)


def good_gauss_float32_noise(mu, log_var, n, generator):
    z = torch.randn((n,) + tuple(mu.shape), generator=generator)  # float32 noise
    return mu + (0.5 * log_var).exp() * z


def _std(log_var):
    return torch.exp(0.5 * log_var)


def sample_method(mu, log_var, n, generator):
    return torch.distributions.Normal(mu, _std(log_var)).sample((n,))


def detached(mu, log_var, n, generator):
    return mu.detach() + _std(log_var).detach() * _z(mu, n, generator)


def torch_normal(mu, log_var, n, generator):
    shape = (n,) + tuple(mu.shape)
    return torch.normal(mu.expand(shape), _std(log_var).expand(shape), generator=generator)


def recovered_z(mu, log_var, n, generator):
    std = _std(log_var)
    y = torch.normal(mu.detach().expand(n, -1), std.detach().expand(n, -1), generator=generator)
    z = (y - mu) / std  # z now depends on mu and sigma
    return mu + std * z


def z_depends_on_mu(mu, log_var, n, generator):
    std = _std(log_var)
    y = mu.detach() + std.detach() * _z(mu, n, generator)
    z = (y - mu) / std.detach()
    return mu + std * z


def std_detached(mu, log_var, n, generator):
    return mu + _std(log_var).detach() * _z(mu, n, generator)


def variance_as_std(mu, log_var, n, generator):
    return mu + torch.exp(log_var) * _z(mu, n, generator)


def log_var_as_std(mu, log_var, n, generator):
    return mu + log_var * _z(mu, n, generator)


def sqrt_twice(mu, log_var, n, generator):
    return mu + torch.sqrt(torch.exp(0.5 * log_var)) * _z(mu, n, generator)


def no_scale(mu, log_var, n, generator):
    return mu + _z(mu, n, generator) + 0 * log_var


def divided(mu, log_var, n, generator):
    return mu + _z(mu, n, generator) / _std(log_var)


def forgot_mean(mu, log_var, n, generator):
    return _std(log_var) * _z(mu, n, generator) + 0 * mu


def one_z_for_all_samples(mu, log_var, n, generator):
    z = torch.randn(tuple(mu.shape), generator=generator, dtype=mu.dtype)
    return mu + _std(log_var) * z.expand((n,) + tuple(mu.shape))


def one_z_for_all_entries(mu, log_var, n, generator):
    z = torch.randn((n, 1), generator=generator, dtype=mu.dtype)
    return mu + _std(log_var) * z


def one_sample(mu, log_var, n, generator):
    return good_gauss(mu, log_var, 1, generator)[0]


def transposed(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator).T


def global_rng(mu, log_var, n, generator):
    return mu + _std(log_var) * torch.randn((n,) + tuple(mu.shape), dtype=mu.dtype)


def own_seed(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, torch.Generator().manual_seed(0))


def doubled_mu_gradient(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator) + (mu - mu.detach())


def halved_log_var_gradient(mu, log_var, n, generator):
    std = torch.exp(0.25 * log_var) * torch.exp(0.25 * log_var.detach())
    return mu + std * _z(mu, n, generator)


def python_float(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator).mean().item()


def integer(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator).round().long()


def nan_samples(mu, log_var, n, generator):
    y = good_gauss(mu, log_var, n, generator)
    return y * torch.where(torch.arange(n)[:, None] == 3, math.nan, 1.0)


def stub(*args):
    raise NotImplementedError


GAUSS_MISTAKES = {
    "stub": (stub, ex.NOT_ATTEMPTED, None, "not attempted yet"),
    "returns None": (lambda *a: None, ex.NOT_ATTEMPTED, None, "returns None"),
    ".sample()": (sample_method, ex.INCORRECT, "no gradient", ".sample()"),
    "detached": (detached, ex.INCORRECT, "no gradient", "no gradient flows"),
    "torch.normal": (
        torch_normal,
        ex.INCORRECT,
        "noise depends on parameters",
        "torch.normal",
    ),
    "z recovered from a sample": (
        recovered_z,
        ex.INCORRECT,
        "noise depends on parameters",
        "z = (y - mu) / std",
    ),
    "z depends on mu": (z_depends_on_mu, ex.INCORRECT, "noise depends on mu", "depends on mu"),
    "std detached": (std_detached, ex.INCORRECT, "no gradient to log_var", "log_var is zero"),
    "variance as std": (variance_as_std, ex.INCORRECT, "variance as std", "is the variance"),
    "log_var as std": (log_var_as_std, ex.INCORRECT, "log-variance as std", "logarithm"),
    "square root twice": (sqrt_twice, ex.INCORRECT, "square root twice", "another one"),
    "no scale": (no_scale, ex.INCORRECT, "no scale", "standard deviation 1"),
    "divided by std": (divided, ex.INCORRECT, "divided by std", "instead of dividing"),
    "forgot mean": (forgot_mean, ex.INCORRECT, "forgot mean", "add the mean"),
    "one z for all samples": (one_z_for_all_samples, ex.INCORRECT, "shared noise", "are equal"),
    "one z for all entries": (
        one_z_for_all_entries,
        ex.INCORRECT,
        "correlated noise",
        "correlated",
    ),
    "one sample": (one_sample, ex.INCORRECT, "wrong shape", "one sample per parameter"),
    "transposed": (transposed, ex.INCORRECT, "wrong shape", "comes first"),
    "global RNG": (global_rng, ex.INCORRECT, "ignores generator", "ignores its `generator`"),
    "own seed": (own_seed, ex.INCORRECT, "ignores generator", "different seeds"),
    "wrong mu gradient": (doubled_mu_gradient, ex.INCORRECT, "wrong gradient", "dy/dmu = 1"),
    "wrong log_var gradient": (
        halved_log_var_gradient,
        ex.INCORRECT,
        "wrong gradient",
        "(y - mu) / 2",
    ),
    "python float": (python_float, ex.INCORRECT, "not a tensor", "torch.Tensor"),
    "integer": (integer, ex.INCORRECT, "integer output", "float tensor"),
    "nan": (nan_samples, ex.INCORRECT, "not finite", "inf or NaN"),
}


@pytest.mark.parametrize(
    "fn",
    [
        good_gauss,
        good_gauss_sqrt,
        good_gauss_rl,
        good_gauss_float32_noise,
        rx.reference_gaussian_rsample,
    ],
)
def test_gaussian_rsample_correct_answers_pass(fn):
    feedback = rx.check_gaussian_rsample(fn)
    assert feedback.passed, feedback
    assert "all checks passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(GAUSS_MISTAKES))
def test_gaussian_rsample_mistake_named(name):
    fn, status, mistake, phrase = GAUSS_MISTAKES[name]
    feedback = rx.check_gaussian_rsample(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_gaussian_rsample_error_reported():
    def broken(mu, log_var, n, generator):
        raise ValueError("oops")

    feedback = rx.check_gaussian_rsample(broken)
    assert feedback.status == ex.ERROR and "oops" in feedback.message


def test_reference_gaussian_rsample_statistics_and_gradients():
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    log_var = torch.tensor([math.log(9.0), 0.0], dtype=torch.float64, requires_grad=True)
    y = rx.reference_gaussian_rsample(mu, log_var, 50_000, torch.Generator().manual_seed(3))
    assert y.shape == (50_000, 2)
    assert torch.allclose(y.mean(0), torch.tensor([1.0, -2.0], dtype=torch.float64), atol=0.07)
    assert torch.allclose(y.std(0), torch.tensor([3.0, 1.0], dtype=torch.float64), atol=0.05)
    y.sum().backward()
    assert torch.allclose(mu.grad, torch.full((2,), 50_000.0, dtype=torch.float64))
    assert torch.allclose(log_var.grad, 0.5 * (y.detach() - mu.detach()).sum(0))


# --------------------------------------------------------------------------------------
# Exercise: exponential by the inverse CDF
# --------------------------------------------------------------------------------------


def _u(rate, n, generator):
    return torch.rand((n,) + tuple(rate.shape), generator=generator, dtype=rate.dtype)


def good_exp(rate, n, generator):
    return -torch.log(1 - _u(rate, n, generator)) / rate


def good_exp_u(rate, n, generator):
    return -torch.log(_u(rate, n, generator).clamp(min=1e-300)) / rate


def good_exp_toy(rate, n, generator):
    return toy.exponential_rsample(rate, (n,), generator=generator)


def exp_sample(rate, n, generator):
    return torch.distributions.Exponential(rate).sample((n,))


def exp_rsample_global(rate, n, generator):
    return torch.distributions.Exponential(rate).rsample((n,))


def exp_sign(rate, n, generator):
    return torch.log(1 - _u(rate, n, generator)) / rate


def exp_rate_as_scale(rate, n, generator):
    return -torch.log(1 - _u(rate, n, generator)) * rate


def exp_no_log(rate, n, generator):
    return _u(rate, n, generator) / rate


def exp_log_zero(rate, n, generator):
    u = _u(rate, n, generator)
    u[0, 0] = 0.0
    return -torch.log(u) / rate


def exp_recovered(rate, n, generator):
    y0 = -torch.log(1 - _u(rate, n, generator)) / rate.detach()
    u = torch.exp(-rate * y0)  # U recovered from the sample: depends on the rate
    return -torch.log(u) / rate


def exp_gamma(rate, n, generator):
    u1, u2 = _u(rate, n, generator), _u(rate, n, generator)
    return -(torch.log(1 - u1) + torch.log(1 - u2)) / (2 * rate)


def exp_wrong_gradient(rate, n, generator):
    return good_exp(rate, n, generator).detach() + (rate - rate.detach())


EXP_MISTAKES = {
    "stub": (stub, ex.NOT_ATTEMPTED, None),
    ".sample()": (exp_sample, ex.INCORRECT, "no gradient"),
    "rsample with the global RNG": (exp_rsample_global, ex.INCORRECT, "ignores generator"),
    "sign": (exp_sign, ex.INCORRECT, "wrong sign"),
    "rate as scale": (exp_rate_as_scale, ex.INCORRECT, "rate as scale"),
    "no log": (exp_no_log, ex.INCORRECT, "no log"),
    "log 0": (exp_log_zero, ex.INCORRECT, "not finite"),
    "U recovered from the sample": (exp_recovered, ex.INCORRECT, "noise depends on parameters"),
    "gamma, not exponential": (exp_gamma, ex.INCORRECT, "wrong spread"),
    "wrong gradient": (exp_wrong_gradient, ex.INCORRECT, "wrong gradient"),
    "wrong shape": (lambda r, n, g: good_exp(r, n, g)[0], ex.INCORRECT, "wrong shape"),
}


@pytest.mark.parametrize(
    "fn", [good_exp, good_exp_u, good_exp_toy, rx.reference_exponential_rsample]
)
def test_exponential_correct_answers_pass(fn):
    feedback = rx.check_exponential_rsample(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize("name", sorted(EXP_MISTAKES))
def test_exponential_mistake_named(name):
    fn, status, mistake = EXP_MISTAKES[name]
    feedback = rx.check_exponential_rsample(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback


# --------------------------------------------------------------------------------------
# Exercise: the score-function estimator
# --------------------------------------------------------------------------------------


def good_score(x, mu, sigma, k):
    return (x - k) ** 2 * (x - mu) / sigma**2


def good_score_autograd(x, mu, sigma, k):
    m = torch.full_like(x, mu, requires_grad=True)
    log_p = torch.distributions.Normal(m, sigma).log_prob(x)
    (grad,) = torch.autograd.grad(log_p.sum(), m)
    return (x - k) ** 2 * grad


SCORE_MISTAKES = {
    "no score factor": (lambda x, m, s, k: (x - k) ** 2, "forgot score"),
    "pathwise": (lambda x, m, s, k: 2 * (x - k), "pathwise"),
    "sign": (lambda x, m, s, k: (x - k) ** 2 * (m - x) / s**2, "wrong sign"),
    "divided by sigma": (lambda x, m, s, k: (x - k) ** 2 * (x - m) / s, "divided by sigma"),
    "divided by sigma^4": (
        lambda x, m, s, k: (x - k) ** 2 * (x - m) / (s**2) ** 2,
        "divided by sigma^4",
    ),
    "no division": (lambda x, m, s, k: (x - k) ** 2 * (x - m), "no variance"),
    "score of sigma": (
        lambda x, m, s, k: (x - k) ** 2 * ((x - m) ** 2 - s**2) / s**3,
        "score of sigma",
    ),
    "log p": (
        lambda x, m, s, k: (x - k) ** 2 * torch.distributions.Normal(m, s).log_prob(x),
        "log prob",
    ),
    "mu and k swapped": (lambda x, m, s, k: (x - m) ** 2 * (x - k) / s**2, "mu and k swapped"),
    "averaged": (lambda x, m, s, k: good_score(x, m, s, k).mean(), "averaged"),
}


@pytest.mark.parametrize(
    "fn", [good_score, good_score_autograd, rx.reference_score_function_estimator]
)
def test_score_correct_answers_pass(fn):
    feedback = rx.check_score_function_estimator(fn)
    assert feedback.passed, feedback


def test_toy_estimator_passes_the_checker():
    assert rx.check_score_function_estimator(toy.score_function_estimates)


@pytest.mark.parametrize("name", sorted(SCORE_MISTAKES))
def test_score_mistake_named(name):
    fn, mistake = SCORE_MISTAKES[name]
    feedback = rx.check_score_function_estimator(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_score_stub_and_generic_wrong():
    assert rx.check_score_function_estimator(stub).status == ex.NOT_ATTEMPTED
    feedback = rx.check_score_function_estimator(lambda x, m, s, k: 1.5 * good_score(x, m, s, k))
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message
