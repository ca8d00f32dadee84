"""Smoothing by noise: the perturbed arg max and its Monte Carlo gradient (Berthet et al. 2020).

The value is the average one-hot arg max of ``x + sigma Z`` over ``n_samples`` draws of the
noise ``Z``; the backward pass reuses the same draws: for noise with density proportional to
``exp(-nu(z))``, the Jacobian of ``E[one_hot(argmax(x + sigma Z))]`` in ``x`` is
``E[one_hot(argmax(x + sigma Z)) grad nu(Z)^T] / sigma``, so no derivative of arg max is taken.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._exponential import exponential
from ._validation import (
    Scalar,
    check_broadcasts_to,
    check_categories,
    check_dim,
    check_floating,
    check_row_max,
    check_scale,
    compute_dtype,
)
from .relaxations import _tempered_dtype
from .sampling import _check_generator, _noise_device

__all__ = ["perturbed_argmax"]

_NOISES = ("gumbel", "normal")


class _PerturbedArgmax(torch.autograd.Function):
    """value: mean_s one_hot(i_s); backward: dx = mean_s v[i_s] grad nu(Z_s) / sigma, with 0 at
    masked entries; d sigma = -(dx . x) / sigma (the value depends on x / sigma only)."""

    @staticmethod
    def forward(ctx, x, sigma, d, nu, z, dim):
        s = sigma.detach().to(d.dtype) if isinstance(sigma, torch.Tensor) else sigma
        ctx.s_dtype = sigma.dtype if isinstance(sigma, torch.Tensor) else None
        # arg max (x + sigma Z) = arg max ((x - max x) / sigma + Z): no overflow for any sigma
        index = ((d / s).unsqueeze(0) + z).argmax(dim + 1, keepdim=True)  # (n, ..., 1, ...)
        hits = torch.zeros_like(z).scatter_(dim + 1, index, 1.0)
        ctx.dim, ctx.sigma, ctx.x_dtype = dim, s, x.dtype
        ctx.save_for_backward(d, index, nu)
        return hits.mean(0).to(x.dtype)

    @staticmethod
    def backward(ctx, v):
        d, index, nu = ctx.saved_tensors
        s = ctx.sigma
        v = v.to(nu.dtype).unsqueeze(0).expand_as(nu)
        c = v.gather(ctx.dim + 1, index)  # v at each sample's arg max
        top = torch.finfo(ctx.x_dtype).max  # |dx| ~ 1/sigma: saturate, never inf
        g = ((c * nu).mean(0) / s).clamp(-top, top)
        masked = torch.isneginf(d)  # (and entries so far below the top that x - max overflows)
        g = g.masked_fill(masked, 0.0)
        grad_s = None
        if ctx.needs_input_grad[1]:  # with x - max x: also unbiased, less variance than with x
            grad_s = (-(g * d.masked_fill(masked, 0.0)) / s).sum_to_size(s.shape)
            top = torch.finfo(ctx.s_dtype).max
            grad_s = grad_s.clamp(-top, top).to(ctx.s_dtype)
        return g.to(ctx.x_dtype), grad_s, None, None, None, None


def perturbed_argmax(
    x: torch.Tensor,
    sigma: Scalar = 1.0,
    n_samples: int = 1000,
    noise: str = "gumbel",
    dim: int = -1,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""The perturbed arg max: a Monte Carlo estimate of a smoothed one-hot arg max.

    .. math:: \hat{\mathbf y}(\mathbf x) = \frac1n \sum_{s=1}^{n}
              \operatorname{one\_hot}\bigl(\arg\max(\mathbf x + \sigma \mathbf Z_s)\bigr),
              \qquad
              \widehat{\nabla_{\mathbf x}} = \frac{1}{n\sigma} \sum_{s=1}^{n}
              \operatorname{one\_hot}\bigl(\arg\max(\mathbf x + \sigma\mathbf Z_s)\bigr)\,
              \nabla\nu(\mathbf Z_s)^\top

    for noise :math:`\mathbf Z` with density :math:`\propto e^{-\nu(\mathbf z)}`: Gumbel(0, 1)
    (:math:`\nabla\nu(z) = 1 - e^{-z}`) or standard normal (:math:`\nabla\nu(z) = z`). Both are
    unbiased for :math:`E[\operatorname{one\_hot}(\arg\max(\mathbf x + \sigma\mathbf Z))]` and
    its Jacobian (the backward pass reuses the forward pass's draws, as a vector-Jacobian
    product). With Gumbel noise that expectation is :math:`\operatorname{softmax}(\mathbf
    x/\sigma)`; with normal noise it has no closed form for :math:`N > 2`. As :math:`\sigma \to 0`
    the value tends to the one-hot arg max (tied maxima share the mass), as
    :math:`\sigma \to \infty` to uniform over the unmasked entries; the gradient grows like
    :math:`1/\sigma` (saturated at the dtype's largest number, never inf). A logit of -inf
    masks its category: value and gradient 0. The noise is drawn in float32 for float16 and
    bfloat16; memory is ``n_samples`` times that of ``x``.

    Args:
        x: floating tensor of scores with at least one dimension; ``dim`` indexes categories.
        sigma: noise scale :math:`\sigma > 0`, finite; a number or a tensor that broadcasts
            to ``x`` (it may require a gradient: the value depends on :math:`\mathbf x/\sigma`).
        n_samples: number of noise draws :math:`n`, a positive int.
        noise: ``"gumbel"`` or ``"normal"``.
        dim: the category dimension.
        generator: optional ``torch.Generator``; the noise is drawn on its device.

    Returns:
        Tensor of the shape and dtype of ``x``: entries in ``{0, 1/n, …, 1}`` summing to 1.

    Raises:
        TypeError: ``x`` is not a floating tensor; ``n_samples`` or ``dim`` is not an int; a
            bad ``sigma`` or ``generator``.
        ValueError: ``sigma`` is not finite and > 0 or does not broadcast to ``x``;
            ``n_samples < 1``; an unknown ``noise``; ``x`` is 0-d, has no categories, holds
            NaN or +inf, or a row of -inf only.

    Reference: Berthet, Blondel, Teboul, Cuturi, Vert & Bach, "Learning with differentiable
    perturbed optimizers", NeurIPS 2020.

    Examples:
        >>> import torch, relaxlib as rl
        >>> x = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
        >>> y = rl.perturbed_argmax(x, 1.0, 10000, generator=torch.Generator().manual_seed(0))
        >>> y  # softmax(x) = [0.2312, 0.6285, 0.1402]
        tensor([0.2228, 0.6345, 0.1427], grad_fn=<_PerturbedArgmaxBackward>)
        >>> y[1].backward(); x.grad  # softmax's: [-0.1453, 0.2335, -0.0881]
        tensor([-0.1518,  0.2312, -0.0885])
    """
    check_floating(x, "x")
    sigma, low, high = check_scale(sigma, "sigma")
    dim = check_dim(x, dim)
    check_categories(x, dim, "x")
    check_broadcasts_to(sigma, x.shape, "sigma", "x")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int):
        raise TypeError(f"n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if noise not in _NOISES:
        raise ValueError(f"noise must be one of {_NOISES}, got {noise!r}")
    generator = _check_generator(generator)
    m = x.detach().amax(dim, keepdim=True)
    check_row_max(m, "x")
    draw = compute_dtype(x.dtype)
    size = torch.Size((n_samples,)) + x.shape
    where = _noise_device(generator, x.device)
    if noise == "gumbel":  # Z = -log E, E ~ Exp(1): grad nu(Z) = 1 - e^{-Z} = 1 - E
        info = torch.finfo(draw)
        e = exponential(size, generator, where, draw).clamp_(min=info.tiny, max=info.max)
        z, nu = e.log().neg_(), e.neg_().add_(1.0)
    else:
        z = torch.randn(size, generator=generator, dtype=draw, device=where)
        nu = z
    cdt = _tempered_dtype(x, sigma, low, high)
    d = x.detach().to(cdt) - m.to(cdt)
    z, nu = z.to(x.device, cdt), nu.to(x.device, cdt)
    return _PerturbedArgmax.apply(x, sigma, d, nu, z, dim)
