r"""Toys of chapter 5 (backpropagation through random operations): the Gaussian toy on which
pathwise and score-function gradients are compared, and two reparameterised samplers.

The Gaussian toy (Mohamed et al., 2020): minimise :math:`F(\mu) = \mathbb E[(x - k)^2]` over
the mean of :math:`x \sim \mathcal N(\mu, \sigma^2)`. Exactly,
:math:`F = (\mu - k)^2 + \sigma^2` and :math:`F'(\mu) = 2(\mu - k)`. Writing
:math:`x = \mu + \sigma z`, :math:`z \sim \mathcal N(0, 1)`, and :math:`d = \mu - k`, the two
single-sample estimators of :math:`F'(\mu)` are polynomials in :math:`z`:

* pathwise (reparameterisation): :math:`\partial_\mu (x - k)^2 = 2(x - k) = 2d + 2\sigma z`,
  variance :math:`4\sigma^2`;
* score function (REINFORCE): :math:`(x - k)^2\,\partial_\mu \log \mathcal N(x; \mu, \sigma^2)
  = (x - k)^2 (x - \mu)/\sigma^2 = (d + \sigma z)^2 z/\sigma`, variance
  :math:`d^4/\sigma^2 + 14 d^2 + 15\sigma^2` (:math:`d^4 + 14d^2 + 15` at :math:`\sigma = 1`).

The chapter's page defines the two estimators as autograd computations
(:func:`pathwise_gradients`, :func:`score_function_gradients`); this module holds the copies
that tests and chapter 8 use, checked to be the page's source by ``tests/test_page_sources.py``.
Because both estimators are polynomials in a standard normal, every moment is exact (from
:math:`\mathbb E[z^{2m}] = (2m - 1)!!`), including the fourth central moment that the standard
error of a *sample* variance needs (:func:`dae_course.stats.sample_variance_standard_error`).

Needs only torch (and relaxlib). Reference: S. Mohamed, M. Rosca, M. Figurnov and A. Mnih,
"Monte Carlo gradient estimation in machine learning", JMLR 21(132), 2020.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
import torch.distributions as D

import relaxlib as rl

__all__ = [
    "toy_loss",
    "toy_gradient",
    "pathwise_gradients",
    "score_function_gradients",
    "per_sample_gradients",
    "pathwise_estimates",
    "score_function_estimates",
    "pathwise_variance",
    "score_function_variance",
    "estimator_polynomial",
    "gaussian_moment",
    "polynomial_moments",
    "exponential_icdf",
    "exponential_rsample",
    "gumbel_rsample",
    "EULER_GAMMA",
]

Number = Union[float, torch.Tensor]

#: The Euler–Mascheroni constant, the mean of a standard Gumbel variable.
EULER_GAMMA = 0.5772156649015329


# --------------------------------------------------------------------------------------
# The Gaussian toy: exact values
# --------------------------------------------------------------------------------------


def toy_loss(mu: Number, sigma: Number, k: Number) -> Number:
    r"""The exact expected loss :math:`\mathbb E_{x \sim \mathcal N(\mu, \sigma^2)}[(x - k)^2]
    = (\mu - k)^2 + \sigma^2`.

    Args:
        mu, sigma, k: numbers or broadcastable tensors (``sigma`` the standard deviation).

    Returns:
        The expected loss, of the broadcast shape (a number for numbers).

    Reference: Mohamed et al., JMLR 2020 (the quadratic cost of their Gaussian example).
    """
    return (mu - k) ** 2 + sigma**2


def toy_gradient(mu: Number, k: Number) -> Number:
    r"""The exact gradient :math:`\partial_\mu \mathbb E[(x - k)^2] = 2(\mu - k)` (any
    :math:`\sigma`).

    Args:
        mu, k: numbers or broadcastable tensors.

    Returns:
        :math:`2(\mu - k)`.

    Reference: Mohamed et al., JMLR 2020.
    """
    return 2 * (mu - k)


def pathwise_variance(sigma: Number = 1.0) -> Number:
    r"""Variance of the single-sample pathwise estimator :math:`2(x - k)`: :math:`4\sigma^2`.

    It depends neither on :math:`\mu` nor on :math:`k`: the estimator is
    :math:`2(\mu - k) + 2\sigma z`, a shifted copy of :math:`2\sigma z`.

    Args:
        sigma: the standard deviation of :math:`x` (number or tensor).

    Returns:
        :math:`4\sigma^2`.

    Reference: Mohamed et al., JMLR 2020.
    """
    return 4 * sigma**2


def score_function_variance(mu: Number, sigma: Number, k: Number) -> Number:
    r"""Variance of the single-sample score-function estimator of :math:`\partial_\mu
    \mathbb E[(x - k)^2]`.

    With :math:`d = \mu - k` the estimator is :math:`S = (d + \sigma z)^2 z / \sigma`, so
    :math:`\mathbb E[S^2] = (d^4 + 18 d^2\sigma^2 + 15\sigma^4)/\sigma^2`,
    :math:`\mathbb E[S] = 2d`, and

    .. math:: \operatorname{Var} S = \frac{d^4}{\sigma^2} + 14 d^2 + 15\sigma^2 ,

    which is :math:`d^4 + 14 d^2 + 15` at :math:`\sigma = 1`.

    Args:
        mu, sigma, k: numbers or broadcastable tensors.

    Returns:
        The variance, of the broadcast shape.

    Reference: Mohamed et al., JMLR 2020.
    """
    d = mu - k
    return d**4 / sigma**2 + 14 * d**2 + 15 * sigma**2


# --------------------------------------------------------------------------------------
# The Gaussian toy: the estimators (the page's, by autograd) and their closed forms
# --------------------------------------------------------------------------------------


def pathwise_gradients(mu, sigma, k, z):
    r"""Per-draw pathwise estimates of :math:`\partial_\mu \mathbb E[(x - k)^2]`, by autograd
    through the reparameterised draws :math:`x = \mu + \sigma z`.

    Every draw gets its own copy :math:`\mu_i` of the mean, so one backward pass of
    :math:`\sum_i (x_i - k)^2` gives all per-draw gradients :math:`2(x_i - k)`.

    Defined on the page: chapters/05_reparameterisation.ipynb

    Args:
        mu, sigma, k: the mean, standard deviation and target (numbers).
        z: standard normal noise, a floating tensor of any shape (its device and dtype are
            used).

    Returns:
        One unbiased estimate of :math:`2(\mu - k)` per entry of ``z``.

    Reference: Kingma & Welling, ICLR 2014; Mohamed et al., JMLR 2020, section 5.
    """
    mus = torch.full_like(z, mu, requires_grad=True)  # every draw gets its own copy of mu
    x = mus + sigma * z  # the reparameterised draws
    (grad,) = torch.autograd.grad(((x - k) ** 2).sum(), mus)
    return grad


def score_function_gradients(mu, sigma, k, x):
    r"""Per-draw score-function estimates of :math:`\partial_\mu \mathbb E[(x - k)^2]`: the
    cost :math:`(x - k)^2` times the score :math:`\partial_\mu \log \mathcal N(x; \mu,
    \sigma^2)`, by autograd through ``torch.distributions.Normal.log_prob``.

    The draws are data: no gradient flows through ``x``, so any sampler will do. The result
    equals :math:`(x - k)^2 (x - \mu)/\sigma^2` (:func:`score_function_estimates`).

    Defined on the page: chapters/05_reparameterisation.ipynb

    Args:
        mu, sigma, k: the mean, standard deviation and target (numbers).
        x: draws of :math:`\mathcal N(\mu, \sigma^2)`, a floating tensor of any shape.

    Returns:
        One unbiased estimate of :math:`2(\mu - k)` per draw.

    Reference: Williams, Machine Learning 1992; Mohamed et al., JMLR 2020, section 4.
    """
    mus = torch.full_like(x, mu, requires_grad=True)
    log_p = D.Normal(mus, sigma).log_prob(x)  # x is data: nothing flows through it
    (grad,) = torch.autograd.grad(((x - k) ** 2 * log_p).sum(), mus)
    return grad


def per_sample_gradients(
    mu: float,
    sigma: float,
    k: float,
    n: int,
    generator: Optional[torch.Generator] = None,
    *,
    device: Optional[Union[str, torch.device]] = None,
    dtype: torch.dtype = torch.float64,
) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Both estimators for the same ``n`` draws :math:`x = \mu + \sigma z`.

    Draws :math:`z` (on the generator's device, then moved to ``device``) and returns
    ``(pathwise_gradients(mu, sigma, k, z), score_function_gradients(mu, sigma, k, x))``.

    Args:
        mu, sigma, k: the toy's mean, standard deviation (> 0) and target.
        n: number of draws, a positive int.
        generator: optional ``torch.Generator`` for the noise (a CPU generator gives the same
            draws on every device).
        device: where the tensors live (default: the CPU).
        dtype: floating dtype (default float64, so sample variances are accurate).

    Returns:
        ``(pathwise, score)``, two tensors of shape ``(n,)``.

    Reference: Mohamed et al., JMLR 2020, sections 4 and 5.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    device = torch.device("cpu") if device is None else torch.device(device)
    noise_device = generator.device if generator is not None else device
    z = torch.randn(n, generator=generator, dtype=dtype, device=noise_device).to(device)
    x = mu + sigma * z
    return pathwise_gradients(mu, sigma, k, z), score_function_gradients(mu, sigma, k, x)


def pathwise_estimates(x: torch.Tensor, k: Number) -> torch.Tensor:
    r"""The closed form of :func:`pathwise_gradients`: :math:`2(x - k)` per draw.

    Args:
        x: draws of :math:`\mathcal N(\mu, \sigma^2)`, any shape.
        k: the target (number or broadcastable tensor).

    Returns:
        A tensor of the shape of ``x``.

    Reference: Mohamed et al., JMLR 2020, section 5.
    """
    return 2 * (x - k)


def score_function_estimates(x: torch.Tensor, mu: Number, sigma: Number, k: Number) -> torch.Tensor:
    r"""The closed form of :func:`score_function_gradients`:
    :math:`(x - k)^2\,(x - \mu)/\sigma^2` per draw (also the reference of exercise 3).

    Args:
        x: draws of :math:`\mathcal N(\mu, \sigma^2)`, any shape.
        mu, sigma, k: numbers or tensors broadcastable with ``x`` (``sigma`` the standard
            deviation).

    Returns:
        A tensor of the broadcast shape.

    Reference: Williams 1992; Mohamed et al., JMLR 2020, section 4.
    """
    return (x - k) ** 2 * (x - mu) / sigma**2


# --------------------------------------------------------------------------------------
# Exact moments of polynomials in a standard normal
# --------------------------------------------------------------------------------------


def estimator_polynomial(kind: str, mu: float, sigma: float, k: float) -> Tuple[float, ...]:
    r"""Coefficients :math:`(c_0, c_1, \dots)` of a toy estimator as a polynomial
    :math:`\sum_j c_j z^j` in the standard normal :math:`z` (:math:`x = \mu + \sigma z`).

    With :math:`d = \mu - k`: pathwise :math:`2d + 2\sigma z`, i.e. ``(2d, 2σ)``; score
    function :math:`(d + \sigma z)^2 z/\sigma = (d^2/\sigma) z + 2d z^2 + \sigma z^3`, i.e.
    ``(0, d²/σ, 2d, σ)``.

    Args:
        kind: ``"pathwise"`` or ``"score"``.
        mu, sigma, k: the toy's parameters (``sigma`` > 0).

    Returns:
        A tuple of Python floats, lowest degree first.

    Reference: Mohamed et al., JMLR 2020.
    """
    d, s = float(mu) - float(k), float(sigma)
    if not s > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if kind == "pathwise":
        return (2 * d, 2 * s)
    if kind == "score":
        return (0.0, d * d / s, 2 * d, s)
    raise ValueError(f"kind must be 'pathwise' or 'score', got {kind!r}")


def gaussian_moment(p: int) -> int:
    r""":math:`\mathbb E[z^p]` for :math:`z \sim \mathcal N(0, 1)`: :math:`0` for odd
    :math:`p`, :math:`(p - 1)!! = 1 \cdot 3 \cdots (p - 1)` for even :math:`p`.

    Args:
        p: a non-negative integer.

    Returns:
        The moment, an exact integer.
    """
    if isinstance(p, bool) or not isinstance(p, int) or p < 0:
        raise ValueError(f"p must be a non-negative int, got {p!r}")
    if p % 2:
        return 0
    out = 1
    for j in range(p - 1, 0, -2):
        out *= j
    return out


def _poly_mul(a: Sequence[float], b: Sequence[float]) -> list:
    out = [0.0] * (len(a) + len(b) - 1)
    for i, ai in enumerate(a):
        for j, bj in enumerate(b):
            out[i + j] += ai * bj
    return out


def _expect(coeffs: Sequence[float]) -> float:
    return sum(c * gaussian_moment(j) for j, c in enumerate(coeffs))


def polynomial_moments(coeffs: Sequence[float]) -> Tuple[float, float, float]:
    r"""Mean, variance and fourth central moment of :math:`S = \sum_j c_j z^j`,
    :math:`z \sim \mathcal N(0, 1)`, exactly.

    Args:
        coeffs: the coefficients, lowest degree first (e.g. from
            :func:`estimator_polynomial`).

    Returns:
        ``(mean, variance, mu4)`` with ``mu4`` :math:`= \mathbb E[(S - \mathbb E S)^4]`.
    """
    coeffs = [float(c) for c in coeffs]
    if not coeffs:
        raise ValueError("coeffs must not be empty")
    mean = _expect(coeffs)
    centred = [coeffs[0] - mean] + coeffs[1:]
    sq = _poly_mul(centred, centred)
    return mean, _expect(sq), _expect(_poly_mul(sq, sq))


# --------------------------------------------------------------------------------------
# Two more reparameterised samplers, and a distribution check
# --------------------------------------------------------------------------------------


def _shape(sample_shape) -> torch.Size:
    if isinstance(sample_shape, int):
        return torch.Size((sample_shape,))
    return torch.Size(tuple(sample_shape))


def exponential_icdf(u: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    r"""The exponential's inverse CDF :math:`F_\lambda^{-1}(u) = -\log(1 - u)/\lambda`, computed
    as ``-log1p(-u) / rate``.

    ``torch.rand`` draws :math:`u` from :math:`[0, 1)`, zero included, so :math:`1 - u` lies in
    :math:`(0, 1]` and the result is finite (``log1p`` keeps the precision of small
    :math:`u`). The mirrored :math:`-\log(u)/\lambda` has the same distribution for uniform
    :math:`u` but is infinite at :math:`u = 0`. Also the reference of exercise 2.

    Args:
        u: values in :math:`[0, 1)`, a floating tensor.
        rate: :math:`\lambda > 0`, a floating tensor broadcastable with ``u``.

    Returns:
        Tensor of the broadcast shape; :math:`\partial y/\partial\lambda = -y/\lambda`.

    Reference: Devroye, *Non-Uniform Random Variate Generation*, 1986, section II.2.
    """
    return -torch.log1p(-u) / rate


def exponential_rsample(
    rate: torch.Tensor,
    sample_shape: Union[int, Sequence[int]] = (),
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""A reparameterised exponential sample by the inverse CDF: :math:`y = -\log(1 - U)/\lambda`.

    :math:`U \sim \mathcal U[0, 1)` (``torch.rand``) involves no parameter, so
    :math:`\partial y/\partial\lambda = \log(1 - U)/\lambda^2 = -y/\lambda`; see
    :func:`exponential_icdf` for why :math:`1 - U`, not :math:`U`.

    Args:
        rate: :math:`\lambda > 0`, a floating tensor (may require grad).
        sample_shape: leading shape of independent draws.
        generator: optional ``torch.Generator``; :math:`U` is drawn on its device and moved.

    Returns:
        Tensor of shape ``sample_shape + rate.shape`` on ``rate``'s device and dtype.

    Reference: Devroye, *Non-Uniform Random Variate Generation*, 1986, section II.2 (the
    inversion method); Kingma & Welling, ICLR 2014.
    """
    if not isinstance(rate, torch.Tensor) or not rate.is_floating_point():
        raise TypeError("rate must be a floating torch.Tensor")
    if not bool((rate.detach() > 0).all()):
        raise ValueError("rate must be > 0")
    shape = _shape(sample_shape) + rate.shape
    noise_device = generator.device if generator is not None else rate.device
    u = torch.rand(shape, generator=generator, dtype=rate.dtype, device=noise_device)
    return exponential_icdf(u.to(rate.device), rate)


def gumbel_rsample(
    loc: torch.Tensor,
    scale: torch.Tensor,
    sample_shape: Union[int, Sequence[int]] = (),
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""A reparameterised Gumbel sample by location and scale: :math:`y = \mu + \beta g`.

    :math:`g \sim \mathrm{Gumbel}(0, 1)` comes from :func:`relaxlib.gumbel_noise`, so
    :math:`\partial y/\partial\mu = 1` and :math:`\partial y/\partial\beta = g`;
    :math:`\mathbb E[y] = \mu + \gamma\beta` (:math:`\gamma` the Euler–Mascheroni constant)
    and :math:`\operatorname{Var} y = \pi^2\beta^2/6`.

    Args:
        loc: :math:`\mu`, a floating tensor.
        scale: :math:`\beta > 0`, a floating tensor broadcastable with ``loc``.
        sample_shape: leading shape of independent draws.
        generator: optional ``torch.Generator``.

    Returns:
        Tensor of shape ``sample_shape + broadcast(loc.shape, scale.shape)``.

    Reference: Gumbel, *Statistical Theory of Extreme Values*, 1954.
    """
    for name, t in (("loc", loc), ("scale", scale)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating torch.Tensor")
    if not bool((scale.detach() > 0).all()):
        raise ValueError("scale must be > 0")
    shape = _shape(sample_shape) + torch.broadcast_shapes(loc.shape, scale.shape)
    g = rl.gumbel_noise(shape, generator=generator, device=loc.device, dtype=loc.dtype)
    return loc + scale * g
