r"""Exercise checkers of chapter 5 (backpropagation through random operations).

* :func:`check_gaussian_rsample`: a reparameterised Gaussian sampler parameterised, as in a
  VAE encoder, by the mean and the log-variance.
* :func:`check_exponential_icdf`: the exponential's inverse CDF :math:`f(u, \lambda)`, fed a
  :math:`u` of exactly 0 (which ``torch.rand`` can return).
* :func:`check_score_function_estimator`: the per-draw score-function estimator of the
  chapter's Gaussian toy, as a closed-form expression.
* :func:`check_score_variance`: a derivation, the variance of that estimator for any
  :math:`\sigma`, typed as a function of :math:`d = \mu - k` and :math:`\sigma`.

A sampler's output is random, so :func:`check_gaussian_rsample` does not compare values with
a reference. It checks what must hold whatever noise the student draws: the shape; that a
gradient flows; the sample mean and standard deviation, each within 5 standard errors of the
exact value (with ``n = 20000`` draws); the exact per-sample gradient that the
reparameterisation implies (:math:`\partial y/\partial\mu = 1`, :math:`\partial y/\partial
\log\sigma^2 = (y - \mu)/2`); and that the samples are reproducible with a seeded generator
and change with its seed. The other checkers are deterministic (:func:`dae_course.checking.
check_function` with a declarative list of named mistakes). A wrong answer is matched against
the known mistakes (the variance used as the standard deviation, the noise computed from the
parameters, ``.sample()``, the mirrored inverse CDF, the second moment for the variance, ...)
to name it.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Tuple

import torch

from ..checking import (
    CORRECT,
    INCORRECT,
    Case,
    CheckContext,
    Feedback,
    Mistake,
    call_safely,
    check_function,
    fmt,
)
from . import problems as toy

__all__ = [
    "reference_gaussian_rsample",
    "check_gaussian_rsample",
    "check_exponential_icdf",
    "check_score_function_estimator",
    "check_score_variance",
]

#: Number of draws the sampler checkers ask for.
N_DRAWS = 20_000
#: How many standard errors a sample statistic may be off.
N_SE = 5.0

_GAUSS_MU = (0.5, -1.0, 2.0)
_GAUSS_VAR = (4.0, 0.25, 2.25)  # sigma = 2, 0.5, 1.5: variance and std differ
_GAUSS_LABEL = "mu = [0.5, -1, 2], log_var = log([4, 0.25, 2.25]) (sigma = [2, 0.5, 1.5])"


# --------------------------------------------------------------------------------------
# Shared machinery of the sampler checkers
# --------------------------------------------------------------------------------------


def _noise(shape, generator, like: torch.Tensor) -> torch.Tensor:
    device = generator.device if generator is not None else like.device
    out = torch.randn(tuple(shape), generator=generator, dtype=like.dtype, device=device)
    return out.to(like.device)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _draw(
    fn: Callable, params: Sequence[torch.Tensor], n: int, seed: int, ctx: CheckContext, label: str
):
    """Call ``fn(*params, n, generator)`` on fresh leaf copies of ``params``."""
    args = tuple(p.detach().clone().requires_grad_(True) for p in params)
    out, verdict = call_safely(fn, args + (n, _generator(seed)), ctx, f"{label}, n = {n}")
    return args, out, verdict


def _basic_checks(
    exercise: str, out, args, params, shape: Tuple[int, ...], label: str
) -> Optional[Feedback]:
    for before, after in zip(params, args):
        if not torch.equal(before, after.detach()):
            return Feedback(
                exercise,
                INCORRECT,
                "your function changed its input in place; use out-of-place operations.",
                "modified input",
            )
    if not isinstance(out, torch.Tensor):
        return Feedback(
            exercise,
            INCORRECT,
            f"return a torch.Tensor of samples, not {type(out).__name__}; a Python number "
            "cannot carry a gradient.",
            "not a tensor",
        )
    if not out.is_floating_point():
        return Feedback(
            exercise,
            INCORRECT,
            f"your samples have dtype {out.dtype}; a continuous sample is a float tensor.",
            "integer output",
        )
    if tuple(out.shape) != shape:
        n = shape[0]
        hint = (
            f" You returned one sample per parameter; draw n = {n} of them: noise of shape "
            "(n,) + the parameters' shape."
            if tuple(out.shape) == shape[1:]
            else " The sample dimension comes first: shape (n,) + the parameters' shape."
        )
        return Feedback(
            exercise,
            INCORRECT,
            f"for {label} and n = {n} the samples should have shape {shape}, yours have "
            f"shape {tuple(out.shape)}.{hint}",
            "wrong shape",
        )
    if not bool(torch.isfinite(out.detach()).all()):
        return Feedback(
            exercise,
            INCORRECT,
            "some of your samples are inf or NaN: a sample is mu + sigma * z, finite for "
            "every finite z.",
            "not finite",
        )
    if not out.requires_grad:
        return Feedback(
            exercise,
            INCORRECT,
            "no gradient flows back to the parameters: the samples are cut off from the "
            "graph. That is what .sample() (of torch.distributions), torch.no_grad() or "
            ".detach() do. Draw parameter-free noise with the generator and transform it "
            "with differentiable torch operations.",
            "no gradient",
        )
    return None


def _matches(stat: torch.Tensor, target: torch.Tensor, se: torch.Tensor) -> bool:
    return bool(((stat - target).abs() <= N_SE * se).all())


def _generator_checks(
    fn, params, n, ctx: CheckContext, first: torch.Tensor, label: str
) -> Optional[Feedback]:
    _, again, verdict = _draw(fn, params, n, 0, ctx, label)
    if verdict is not None:
        return verdict
    if not isinstance(again, torch.Tensor) or not torch.equal(again.detach(), first.detach()):
        return Feedback(
            ctx.exercise,
            INCORRECT,
            "two calls with identically seeded generators gave different samples: your "
            "function ignores its `generator`. Pass generator=generator to the torch.randn "
            "/ torch.rand call that draws the noise.",
            "ignores generator",
        )
    _, other, verdict = _draw(fn, params, n, 1, ctx, label)
    if verdict is not None:
        return verdict
    if isinstance(other, torch.Tensor) and torch.equal(other.detach(), first.detach()):
        return Feedback(
            ctx.exercise,
            INCORRECT,
            "generators with different seeds gave identical samples: the noise does not "
            "come from `generator` (is there a torch.manual_seed inside your function?).",
            "ignores generator",
        )
    return None


def _grad_weights(shape) -> torch.Tensor:
    return torch.rand(shape, generator=_generator(12345), dtype=torch.float64) + 0.5


# --------------------------------------------------------------------------------------
# Exercise: a reparameterised Gaussian from (mu, log_var)
# --------------------------------------------------------------------------------------


def reference_gaussian_rsample(
    mu: torch.Tensor,
    log_var: torch.Tensor,
    n: int,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""``n`` reparameterised samples of :math:`\mathcal N(\mu, e^{\log\sigma^2})`.

    :math:`y = \mu + e^{\frac12 \log\sigma^2} z` with :math:`z \sim \mathcal N(0, 1)` drawn
    from ``generator``: the parameterisation of a VAE encoder, whose log-variance output is
    unconstrained while :math:`\sigma` must be positive.

    Args:
        mu: means, a floating tensor.
        log_var: log-variances :math:`\log\sigma^2`, same shape.
        n: number of draws.
        generator: optional ``torch.Generator`` (the noise is drawn on its device).

    Returns:
        Tensor of shape ``(n,) + mu.shape``, differentiable with respect to both inputs.

    Reference: Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """
    z = _noise((n,) + tuple(mu.shape), generator, mu)
    return mu + torch.exp(0.5 * log_var) * z


def check_gaussian_rsample(fn: Callable) -> Feedback:
    r"""Check ``fn(mu, log_var, n, generator)``: ``n`` reparameterised samples of
    :math:`\mathcal N(\mu, \sigma^2)` with :math:`\sigma^2 = e^{\texttt{log\_var}}`.

    Checks, in order: the shape ``(n,) + mu.shape``; that a gradient flows; per column, the
    sample mean within 5 standard errors (:math:`\sigma/\sqrt n`) of :math:`\mu` and the
    sample standard deviation within 5 standard errors (:math:`\sigma/\sqrt{2n}`) of
    :math:`\sigma`; the per-sample gradients :math:`\partial y/\partial\mu = 1` and
    :math:`\partial y/\partial \log\sigma^2 = (y - \mu)/2`; reproducibility with the generator.
    Named mistakes: ``.sample()`` / detached (no gradient), the variance used as the standard
    deviation, the log-variance used as the standard deviation, the square root taken twice,
    the mean left out, one noise draw shared by all samples, noise that depends on the
    parameters (``torch.normal``, or :math:`z = (y - \mu)/\sigma` recovered from a sample),
    the generator ignored.

    Args:
        fn: the student's function ``fn(mu, log_var, n, generator) -> tensor``.

    Returns:
        A :class:`Feedback`.

    Reference: Kingma & Welling, ICLR 2014; Hare, "Differentiable Relaxations and
    Reparameterisations" (lecture), slides "Differentiable Sampling".
    """
    exercise = "reparameterised Gaussian"
    ctx = CheckContext(exercise, 0.0, 0.0)
    n = N_DRAWS
    mu = torch.tensor(_GAUSS_MU, dtype=torch.float64)
    var = torch.tensor(_GAUSS_VAR, dtype=torch.float64)
    log_var = var.log()
    sigma = var.sqrt()
    args, out, verdict = _draw(fn, (mu, log_var), n, 0, ctx, _GAUSS_LABEL)
    if verdict is not None:
        return verdict
    shape = (n,) + tuple(mu.shape)
    basic = _basic_checks(exercise, out, args, (mu, log_var), shape, _GAUSS_LABEL)
    if basic is not None:
        return basic

    y = out.detach().double()
    mean, std = y.mean(0), y.std(0)
    if bool((std < 1e-9).all()):
        return Feedback(
            exercise,
            INCORRECT,
            "all your samples are equal, so there is no randomness in them. Draw one "
            "z ~ N(0, 1) per sample and entry (noise of shape (n,) + mu.shape), not one z "
            "expanded, and multiply it by the standard deviation.",
            "shared noise",
        )
    mean_se, std_se = sigma / math.sqrt(n), sigma / math.sqrt(2 * n)
    if not _matches(mean, mu, mean_se):
        if _matches(mean, torch.zeros_like(mu), mean_se):
            return Feedback(
                exercise,
                INCORRECT,
                f"your samples have mean about 0 instead of mu (sample means {fmt(mean)} "
                f"for {_GAUSS_LABEL}): add the mean, y = mu + sigma * z.",
                "forgot mean",
            )
        return Feedback(
            exercise,
            INCORRECT,
            f"the sample means {fmt(mean)} are not mu = {fmt(mu)} (more than 5 standard "
            f"errors off, for {_GAUSS_LABEL}).",
            "wrong mean",
        )
    if not _matches(std, sigma, std_se):
        candidates = [
            (
                "variance as std",
                var,
                "your samples spread with standard deviation sigma**2 (sample std "
                "{std}): exp(log_var) is the variance. Scale z by the standard deviation, "
                "exp(0.5 * log_var) = sqrt(exp(log_var)).",
            ),
            (
                "log-variance as std",
                log_var.abs(),
                "your samples spread with standard deviation |log_var| (sample std {std}): "
                "log_var is a logarithm. The standard deviation is exp(0.5 * log_var).",
            ),
            (
                "square root twice",
                var.pow(0.25),
                "your samples spread with standard deviation sigma**0.5 (sample std {std}): "
                "exp(0.5 * log_var) is already the square root of the variance, do not "
                "take another one.",
            ),
            (
                "no scale",
                torch.ones_like(var),
                "your samples all have standard deviation 1 (sample std {std}): multiply z "
                "by the standard deviation exp(0.5 * log_var).",
            ),
            (
                "divided by std",
                1 / sigma,
                "your samples spread with standard deviation 1/sigma (sample std {std}): "
                "multiply z by sigma instead of dividing by it.",
            ),
        ]
        for name, target, message in candidates:
            if _matches(std, target, target / math.sqrt(2 * n)):
                return Feedback(exercise, INCORRECT, message.format(std=fmt(std)), name)
        return Feedback(
            exercise,
            INCORRECT,
            f"the sample standard deviations {fmt(std)} are not sigma = {fmt(sigma)} "
            f"(more than 5 standard errors off, for {_GAUSS_LABEL}).",
            "wrong spread",
        )

    corr = torch.corrcoef(y.T)
    off_diagonal = corr[~torch.eye(len(mu), dtype=torch.bool)]
    if bool((off_diagonal.abs() > N_SE / math.sqrt(n)).any()):
        return Feedback(
            exercise,
            INCORRECT,
            "the entries of each sample are correlated (largest correlation "
            f"{float(off_diagonal.abs().max()):.3g}), but they should be independent: draw "
            "noise of the full shape (n,) + mu.shape, not one z per sample broadcast across "
            "the entries.",
            "correlated noise",
        )

    # Per-sample gradients, with random positive weights so no error can cancel in a sum.
    w = _grad_weights(shape).to(out.dtype)
    g_mu, g_lv = torch.autograd.grad(out, args, grad_outputs=w, allow_unused=True)
    g_mu = torch.zeros_like(mu) if g_mu is None else g_mu.double()
    g_lv = torch.zeros_like(mu) if g_lv is None else g_lv.double()
    exp_mu = w.double().sum(0)
    exp_lv = (w.double() * 0.5 * (y - mu)).sum(0)
    zero_mu = bool((g_mu.abs() < 1e-6 * exp_mu.abs()).all())
    zero_lv = bool((g_lv.abs() < 1e-6 * exp_lv.abs().clamp(min=1.0)).all())
    if zero_mu and zero_lv:
        return Feedback(
            exercise,
            INCORRECT,
            "the samples are right but every gradient is zero: the noise depends on the "
            "parameters. torch.normal(mu, std) does this (its gradient is defined as zero), "
            "and so does recovering z = (y - mu) / std from a sample y, after which "
            "mu + std * z is just y. Draw z with torch.randn(..., generator=generator), "
            "independently of mu and log_var.",
            "noise depends on parameters",
        )
    if zero_mu:
        return Feedback(
            exercise,
            INCORRECT,
            "the gradient with respect to mu is zero: your z depends on mu (for example "
            "z = (y - mu) / std from a sample y), so mu cancels. z must not be a function of "
            "the parameters: draw it with torch.randn(..., generator=generator).",
            "noise depends on mu",
        )
    if zero_lv:
        return Feedback(
            exercise,
            INCORRECT,
            "the gradient with respect to log_var is zero: the standard deviation is "
            "detached, or z was divided by it after the fact. Keep exp(0.5 * log_var) in "
            "the graph.",
            "no gradient to log_var",
        )
    if not torch.allclose(g_mu, exp_mu, rtol=1e-4, atol=1e-6):
        return Feedback(
            exercise,
            INCORRECT,
            "the gradient with respect to mu is wrong: each sample y = mu + sigma * z "
            "should have dy/dmu = 1.",
            "wrong gradient",
        )
    if not torch.allclose(g_lv, exp_lv, rtol=1e-4, atol=1e-6):
        return Feedback(
            exercise,
            INCORRECT,
            "the gradient with respect to log_var is wrong: with sigma = exp(0.5 * log_var), "
            "dy/dlog_var = 0.5 * sigma * z = (y - mu) / 2 for each sample.",
            "wrong gradient",
        )
    verdict = _generator_checks(fn, (mu, log_var), n, ctx, out, _GAUSS_LABEL)
    if verdict is not None:
        return verdict
    return Feedback(
        exercise,
        CORRECT,
        f"all checks passed: shape, mean and standard deviation (within 5 standard errors, "
        f"n = {n}), dy/dmu = 1 and dy/dlog_var = (y - mu)/2 for every sample, and "
        "reproducible with a seeded generator. Well done!",
    )


# --------------------------------------------------------------------------------------
# Exercise: the exponential's inverse CDF, safe at u = 0
# --------------------------------------------------------------------------------------

_TINY_GAP = 2.0**-53  # 1 - _TINY_GAP is the largest float64 below 1


def _exp_icdf_mistakes() -> list:
    return [
        Mistake(
            "mirrored",
            lambda u, rate: -torch.log(u) / rate,
            "you returned -log(u) / rate, the mirror image F^-1(1 - u) ({case}). For a uniform "
            "u it has the right distribution, but it is infinite at u = 0, which torch.rand "
            "can return (it draws from [0, 1)), and a clamp only hides that. Apply the inverse "
            "CDF itself: -log(1 - u) / rate, best written -torch.log1p(-u) / rate, since 1 - u "
            "lies in (0, 1].",
        ),
        Mistake(
            "CDF, not inverse",
            lambda u, rate: 1 - torch.exp(-rate * u),
            "you applied the CDF F(y) = 1 - exp(-rate * y) to u; a sampler applies its "
            "inverse, F^-1(u) = -log(1 - u) / rate.",
        ),
        Mistake(
            "wrong sign",
            lambda u, rate: torch.log1p(-u) / rate,
            "your values are negative, but an exponential variable is >= 0: log(1 - u) < 0, "
            "so F^-1(u) = -log(1 - u) / rate (mind the minus sign).",
        ),
        Mistake(
            "log1p(u)",
            lambda u, rate: -torch.log1p(u) / rate,
            "you computed -log(1 + u) / rate: torch.log1p(v) is log(1 + v), so log(1 - u) is "
            "torch.log1p(-u).",
        ),
        Mistake(
            "rate as scale",
            lambda u, rate: -torch.log1p(-u) * rate,
            "you multiplied by the rate ({case}); the rate is 1 / mean, so divide: "
            "-log(1 - u) / rate.",
        ),
        Mistake(
            "no log",
            lambda u, rate: u / rate,
            "u / rate is a uniform variable, not an exponential one: apply the inverse CDF, "
            "-log(1 - u) / rate.",
        ),
        Mistake(
            "forgot rate",
            lambda u, rate: -torch.log1p(-u) + 0 * rate,
            "your values do not depend on the rate ({case}): -log(1 - u) is Exp(1); divide by "
            "the rate.",
        ),
    ]


def check_exponential_icdf(fn: Callable) -> Feedback:
    r"""Check ``fn(u, rate)`` = the exponential's inverse CDF :math:`-\log(1 - u)/\lambda`.

    Compared, values and gradients with respect to ``u`` and ``rate``, with
    :func:`~dae_course.ch05_reparameterisation.problems.exponential_icdf` on: a column of
    :math:`u` against three rates (broadcasting), a :math:`u` holding exactly :math:`0` and the
    largest float64 below 1, and the same in float32. Named mistakes: the mirrored
    :math:`-\log(u)/\lambda` (infinite at :math:`u = 0`; recognised on the first case, which
    has no zero, so that a clamped version is named too), the CDF instead of its inverse, the
    sign, ``log1p(u)``, the rate used as a scale, the logarithm left out, the rate left out.

    Args:
        fn: the student's function ``fn(u, rate) -> tensor``.

    Returns:
        A :class:`Feedback`.

    Reference: Devroye, *Non-Uniform Random Variate Generation*, 1986 (inversion); Hare,
    "Differentiable Relaxations and Reparameterisations" (lecture), the general form
    y = f(z, omega).
    """
    f64 = torch.float64
    u_edges = [0.0, 0.25, 0.5, 1.0 - _TINY_GAP]
    cases = [
        Case(
            (
                torch.tensor([[0.1], [0.5], [0.9]], dtype=f64),
                torch.tensor([0.5, 2.0, 4.0], dtype=f64),
            ),
            "u = [0.1, 0.5, 0.9] as a column, rate = [0.5, 2, 4]",
        ),
        Case(
            (torch.tensor(u_edges, dtype=f64), torch.tensor(2.0, dtype=f64)),
            "u = [0, 0.25, 0.5, 1 - 2**-53] (torch.rand can return 0), rate = 2",
        ),
        Case(
            (torch.tensor([0.0, 0.25, 0.5], dtype=torch.float32), torch.tensor(2.0)),
            "float32 u = [0, 0.25, 0.5], rate = 2",
        ),
    ]
    feedback = check_function(
        fn,
        exercise="exponential inverse CDF",
        reference=toy.exponential_icdf,
        cases=cases,
        mistakes=_exp_icdf_mistakes(),
        atol=1e-6,
        rtol=1e-5,
        no_grad_message="the values are right but no gradient flows back to rate (or u): "
        "keep every step a differentiable torch operation (no .item(), .detach() or numpy).",
    )
    if feedback.passed:
        return Feedback(
            feedback.exercise,
            CORRECT,
            f"all {len(cases)} checks passed: -log(1 - u) / rate, finite at u = 0, broadcast "
            "against the rates, in float64 and float32, with the right gradients "
            "(dy/drate = -y/rate). Well done!",
        )
    if feedback.status == INCORRECT and feedback.mistake is None:
        zero_case = cases[1]
        args = tuple(a.detach().clone() for a in zero_case.args)
        out, _ = call_safely(fn, args, CheckContext(feedback.exercise, 0.0, 0.0), "")
        if isinstance(out, torch.Tensor) and not bool(torch.isfinite(out.detach()).all()):
            return Feedback(
                feedback.exercise,
                INCORRECT,
                f"some of your values are not finite for {zero_case.label}: "
                f"{fmt(out.detach().reshape(-1))}. 1 - u lies in (0, 1], so "
                "-torch.log1p(-u) / rate is finite for every u in [0, 1).",
                "not finite",
            )
    return feedback


# --------------------------------------------------------------------------------------
# Exercise: the score-function estimator of the Gaussian toy
# --------------------------------------------------------------------------------------


def _normal_log_prob(x, mu, sigma):
    return -((x - mu) ** 2) / (2 * sigma**2) - math.log(sigma) - 0.5 * math.log(2 * math.pi)


def check_score_function_estimator(fn: Callable) -> Feedback:
    r"""Check ``fn(x, mu, sigma, k)`` = the per-sample score-function estimates
    :math:`(x - k)^2 (x - \mu)/\sigma^2` (``sigma`` the standard deviation).

    Compared with
    :func:`~dae_course.ch05_reparameterisation.problems.score_function_estimates` on a vector
    with
    :math:`\sigma = 2` (where :math:`\sigma`, :math:`\sigma^2` and :math:`\sigma^4` differ),
    the chapter's toy (:math:`\mu = \sigma = 1`) and a batch. Named mistakes: the score
    factor left out, the pathwise estimator instead, the sign flipped, divided by
    :math:`\sigma` or :math:`\sigma^4` or not at all, the score with respect to
    :math:`\sigma`, :math:`\log p` instead of its derivative, :math:`\mu` and :math:`k`
    swapped, the samples averaged.

    Args:
        fn: the student's function ``fn(x, mu, sigma, k) -> tensor``.

    Returns:
        A :class:`Feedback`.

    Reference: Williams 1992; Mohamed et al., JMLR 2020.
    """
    g = _generator(7)
    x1 = torch.tensor([0.3, 1.7, -0.4, 2.5, 4.0], dtype=torch.float64)
    x2 = 1.0 + torch.randn(6, generator=g, dtype=torch.float64)
    x3 = 0.5 + 0.5 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    cases = [
        Case(
            (x1, 1.0, 2.0, -1.0),
            "x = [0.3, 1.7, -0.4, 2.5, 4], mu = 1, sigma = 2, k = -1",
            grad=False,
        ),
        Case((x2, 1.0, 1.0, 3.0), "6 samples of N(1, 1), mu = 1, sigma = 1, k = 3", grad=False),
        Case((x3, 0.5, 0.5, 0.0), "a (4, 3) batch, mu = 0.5, sigma = 0.5, k = 0", grad=False),
    ]
    mistakes = [
        Mistake(
            "forgot score",
            lambda x, m, s, k: (x - k) ** 2,
            "you returned the cost (x - k)**2 alone. The estimator multiplies it by the "
            "score d/dmu log N(x; mu, sigma^2) = (x - mu) / sigma**2.",
        ),
        Mistake(
            "pathwise",
            lambda x, m, s, k: 2 * (x - k),
            "that is the pathwise estimator 2(x - k), the derivative of the cost. The score "
            "function estimator never differentiates the cost: (x - k)**2 * (x - mu) / "
            "sigma**2.",
        ),
        Mistake(
            "wrong sign",
            lambda x, m, s, k: -((x - k) ** 2) * (x - m) / s**2,
            "the sign is flipped: the score d/dmu log p = (x - mu) / sigma**2 is positive "
            "when x > mu (you used (mu - x)).",
        ),
        Mistake(
            "divided by sigma",
            lambda x, m, s, k: (x - k) ** 2 * (x - m) / s,
            "you divided by sigma ({case}); the score of the mean divides by the variance, "
            "sigma**2.",
        ),
        Mistake(
            "divided by sigma^4",
            lambda x, m, s, k: (x - k) ** 2 * (x - m) / s**4,
            "you divided by sigma**4 ({case}): sigma is the standard deviation, so the "
            "variance is sigma**2. Did you square a variance?",
        ),
        Mistake(
            "no variance",
            lambda x, m, s, k: (x - k) ** 2 * (x - m),
            "the division by sigma**2 is missing ({case}): the score is (x - mu) / sigma**2 "
            "(right only when sigma = 1).",
        ),
        Mistake(
            "score of sigma",
            lambda x, m, s, k: (x - k) ** 2 * ((x - m) ** 2 / s**3 - 1 / s),
            "that is the score with respect to sigma, ((x - mu)**2 / sigma**3 - 1/sigma). "
            "The gradient asked for is with respect to mu: (x - mu) / sigma**2.",
        ),
        Mistake(
            "log prob",
            lambda x, m, s, k: (x - k) ** 2 * _normal_log_prob(x, m, s),
            "you multiplied the cost by log p(x) itself; the estimator uses its derivative "
            "with respect to mu, (x - mu) / sigma**2.",
        ),
        Mistake(
            "mu and k swapped",
            lambda x, m, s, k: (x - m) ** 2 * (x - k) / s**2,
            "mu and k are swapped: the cost is (x - k)**2 and the score (x - mu) / sigma**2.",
        ),
        Mistake(
            "averaged",
            lambda x, m, s, k: ((x - k) ** 2 * (x - m) / s**2).mean(),
            "you returned the average over the samples; return one estimate per sample "
            "(the shape of x), so that its mean and variance can be measured.",
        ),
    ]
    feedback = check_function(
        fn,
        exercise="score-function estimator",
        reference=toy.score_function_estimates,
        cases=cases,
        mistakes=mistakes,
        atol=1e-8,
        rtol=1e-6,
    )
    if feedback.passed:  # no gradient is compared here: say what was checked
        return Feedback(
            feedback.exercise,
            CORRECT,
            f"all {len(cases)} checks passed: one estimate per sample, right for sigma = 2, "
            "for the chapter's toy and for a batch. Well done!",
        )
    return feedback


# --------------------------------------------------------------------------------------
# Exercise: the score-function variance for any sigma (a derivation)
# --------------------------------------------------------------------------------------


def _score_variance(d, sigma):
    return toy.score_function_variance(d, sigma, 0.0)  # mu = d, k = 0


def check_score_variance(fn: Callable) -> Feedback:
    r"""Check ``fn(d, sigma)`` = the variance of the per-draw score-function estimate
    :math:`(x - k)^2 (x - \mu)/\sigma^2`, :math:`x \sim \mathcal N(\mu, \sigma^2)`, as a
    function of :math:`d = \mu - k` and :math:`\sigma`: :math:`d^4/\sigma^2 + 14d^2 +
    15\sigma^2`.

    Evaluated on :math:`d \in \{0, 1, -2, 3\}` for :math:`\sigma = 1`, :math:`2` and
    :math:`0.5` (tensors in, a tensor out). Named mistakes: the second moment
    :math:`\mathbb E[S^2]` instead of the variance, the :math:`\sigma = 1` answer, the
    cross term :math:`2\,\mathbb E[(d^2 z/\sigma)(\sigma z^3)] = 6d^2` dropped, the estimator
    without the division by :math:`\sigma^2`, the pathwise variance.

    Args:
        fn: the student's function ``fn(d, sigma) -> tensor``.

    Returns:
        A :class:`Feedback`.

    Reference: Mohamed et al., JMLR 2020 (the Gaussian example).
    """
    d = torch.tensor([0.0, 1.0, -2.0, 3.0], dtype=torch.float64)
    cases = [
        Case((d, torch.tensor(s, dtype=torch.float64)), f"d = [0, 1, -2, 3], sigma = {s:g}", False)
        for s in (1.0, 2.0, 0.5)
    ]
    mistakes = [
        Mistake(
            "second moment",
            lambda d, s: d**4 / s**2 + 18 * d**2 + 15 * s**2,
            "that is the second moment E[S^2] ({case}). The variance subtracts the squared "
            "mean: E[S] = 2d, so Var S = E[S^2] - 4 d^2.",
        ),
        Mistake(
            "sigma = 1 only",
            lambda d, s: d**4 + 14 * d**2 + 15 + 0 * s,
            "right at sigma = 1 only ({case}): carry sigma through. With x = mu + sigma z, "
            "S = (d + sigma z)^2 z / sigma = (d^2 / sigma) z + 2 d z^2 + sigma z^3.",
        ),
        Mistake(
            "cross term dropped",
            lambda d, s: d**4 / s**2 + 8 * d**2 + 15 * s**2,
            "a cross term is missing ({case}): squaring S = (d^2 / sigma) z + 2 d z^2 + "
            "sigma z^3 gives 2 (d^2 / sigma) z * sigma z^3 = 2 d^2 z^4, whose mean is 6 d^2.",
        ),
        Mistake(
            "no division by sigma^2",
            lambda d, s: s**2 * d**4 + 14 * d**2 * s**4 + 15 * s**6,
            "that is the variance of (x - k)^2 (x - mu), without the division by sigma^2 "
            "({case}): the score of the mean is (x - mu) / sigma^2.",
        ),
        Mistake(
            "pathwise",
            lambda d, s: 4 * s**2 + 0 * d,
            "4 sigma^2 is the pathwise estimator's variance; the score-function estimator "
            "depends on d too.",
        ),
    ]
    feedback = check_function(
        fn,
        exercise="score-function variance",
        reference=_score_variance,
        cases=cases,
        mistakes=mistakes,
        atol=1e-9,
        rtol=1e-9,
    )
    if feedback.passed:
        return Feedback(
            feedback.exercise,
            CORRECT,
            "right for every d and sigma tried: Var S = d^4 / sigma^2 + 14 d^2 + 15 sigma^2. "
            "Well done!",
        )
    return feedback
