"""Deterministic relaxations: softplus, tempered softmax, soft arg max, soft max, Huber.

Each function here replaces a piecewise or discrete operation (ReLU, arg max, max, |x|) by
a smooth one whose sharpness is controlled by a single parameter (``beta``, ``temperature``,
``delta``). As the parameter goes to its limit the relaxation recovers the original.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validation import (
    Scalar,
    check_dim,
    check_floating,
    check_positive,
    check_reduction,
    compute_dtype,
)

__all__ = [
    "softplus",
    "softmax",
    "soft_argmax",
    "soft_max",
    "one_hot_argmax",
    "huber",
    "smooth_l1",
]


def softplus(x: torch.Tensor, beta: Scalar = 1.0) -> torch.Tensor:
    r"""Softplus with sharpness ``beta``: a smooth relaxation of ReLU.

    .. math:: \operatorname{softplus}_\beta(x) = \frac{1}{\beta}\log\bigl(1 + e^{\beta x}\bigr)

    Its derivative is the logistic sigmoid :math:`\sigma(\beta x)`; it lies above
    :math:`\max(0, x)` by at most :math:`\log(2)/\beta` (at :math:`x = 0`), so it tends to ReLU
    as :math:`\beta \to \infty`. Computed in the overflow-safe form of
    :func:`torch.nn.functional.softplus` (which returns ``x`` where :math:`\beta x > 20`, a
    relative error below :math:`10^{-9}`), so the values equal ``F.softplus(x, beta)``.

    Args:
        x: floating tensor of any shape.
        beta: sharpness, a finite number > 0 (or a tensor of them broadcastable to ``x``).

    Returns:
        Tensor of the shape and dtype of ``x``.

    Reference: Dugas et al., "Incorporating second-order functional knowledge for better
    option pricing", NeurIPS 2000; Glorot, Bordes & Bengio, AISTATS 2011.
    """
    check_floating(x, "x")
    beta = check_positive(beta, "beta")
    if isinstance(beta, float):
        return F.softplus(x, beta=beta)
    # log(1 + e^{bx}) = logaddexp(bx, 0): overflow-safe, and its derivative at bx = 0 is the
    # sigmoid's 1/2 (a clamp_min(bx, 0) + log1p(...) form would give 1 there).
    bx = x * beta
    return torch.logaddexp(bx, torch.zeros_like(bx)) / beta


def _tempered_probs(x: torch.Tensor, temperature: Scalar, dim: int) -> torch.Tensor:
    """softmax(x / T) along ``dim`` in the compute dtype (float32 for half types)."""
    cdt = compute_dtype(x.dtype)
    if cdt != x.dtype:
        x = x.to(cdt)
    if isinstance(temperature, float) and temperature == 1.0:
        return torch.softmax(x, dim)
    return torch.softmax(x / temperature, dim)


def softmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Softmax with temperature: a relaxation of the one-hot arg max.

    .. math:: \operatorname{softmax}(\mathbf{x}/T)_i = \frac{e^{x_i/T}}{\sum_j e^{x_j/T}}

    As :math:`T \to 0` the output tends to the one-hot vector of :math:`\arg\max_i x_i`
    (when the maximum is unique); as :math:`T \to \infty` it tends to the uniform
    distribution :math:`1/N`. float16 and bfloat16 inputs are computed in float32 (``x/T``
    would overflow float16 for :math:`|x| = 10^4, T = 10^{-3}`) and the result is cast back.

    Args:
        x: floating tensor of logits, any shape; ``N = x.shape[dim]`` categories.
        temperature: :math:`T`, a finite number > 0 (or a positive tensor broadcastable to
            ``x``, e.g. one temperature per row).
        dim: the dimension that indexes the categories.

    Returns:
        Tensor of the shape and dtype of ``x``, non-negative, summing to 1 along ``dim``.

    Reference: Bridle, "Probabilistic interpretation of feedforward classification network
    outputs", 1990; Goodfellow, Bengio & Courville, *Deep Learning*, 2016, sec. 6.2.2.3.
    """
    check_floating(x, "x")
    temperature = check_positive(temperature, "temperature")
    dim = check_dim(x, dim)
    return _tempered_probs(x, temperature, dim).to(x.dtype)


def _index_vector(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(n, dtype=like.dtype, device=like.device)


def soft_argmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Soft arg max: the expected index under :math:`\operatorname{softmax}(\mathbf{x}/T)`.

    .. math:: \operatorname{soft\,arg\,max}_T(\mathbf{x}) = \sum_{i=0}^{N-1}
              i\,\operatorname{softmax}(\mathbf{x}/T)_i
              = \operatorname{softmax}(\mathbf{x}/T)^\top [0, 1, \dots, N-1]

    A float, not an integer: it tends to :math:`\arg\max_i x_i` as :math:`T \to 0` (unique
    maximum) and to :math:`(N-1)/2` as :math:`T \to \infty`. Unlike ``torch.argmax`` it has
    a useful gradient with respect to ``x``. Indices start at 0, as in PyTorch.

    Args:
        x: floating tensor, any shape; ``dim`` indexes the ``N`` candidates.
        temperature: :math:`T > 0`, finite.
        dim: the dimension to reduce.

    Returns:
        Tensor of ``x``'s dtype with ``dim`` removed (a 0-d tensor for a vector ``x``).

    Reference: Chapelle & Wu, "Gradient descent optimization of smoothed information
    retrieval metrics", 2010; Goodfellow et al., *Deep Learning*, 2016.
    """
    check_floating(x, "x")
    temperature = check_positive(temperature, "temperature")
    dim = check_dim(x, dim)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension to take a soft arg max over")
    p = _tempered_probs(x, temperature, dim)
    idx = _index_vector(x.shape[dim], p)
    return torch.matmul(p.movedim(dim, -1), idx).to(x.dtype)


def soft_max(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Soft maximum value: :math:`\operatorname{softmax}(\mathbf{x}/T)^\top \mathbf{x}`.

    The average of the entries of ``x`` weighted by the tempered softmax. It tends to
    :math:`\max_i x_i` as :math:`T \to 0` and to the mean of ``x`` as :math:`T \to \infty`;
    it is always at most the maximum. (Not to be confused with ``softmax``, the distribution,
    nor with :math:`T\log\sum e^{x_i/T}`, the log-sum-exp relaxation of max.)

    Args:
        x: floating tensor, any shape; ``dim`` indexes the candidates.
        temperature: :math:`T > 0`, finite.
        dim: the dimension to reduce.

    Returns:
        Tensor of ``x``'s dtype with ``dim`` removed.

    Reference: Goodfellow et al., *Deep Learning*, 2016; Hare, "Differentiable Relaxations
    and Reparameterisations" (lecture), University of Southampton.
    """
    check_floating(x, "x")
    temperature = check_positive(temperature, "temperature")
    dim = check_dim(x, dim)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension to take a soft max over")
    p = _tempered_probs(x, temperature, dim)
    return (p * x.to(p.dtype)).sum(dim).to(x.dtype)


def one_hot_argmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""The hard one-hot encoding of :math:`\arg\max` along ``dim``, in the dtype of ``x``.

    Ties go to the first maximal index (as ``torch.argmax``). Piecewise constant in ``x``:
    its gradient is zero wherever it exists, so the result carries no gradient.

    Args:
        x: floating tensor, any shape with at least one dimension.
        dim: the dimension that indexes the categories.

    Returns:
        Tensor of the shape and dtype of ``x`` with a single 1 along ``dim``, zeros elsewhere.
    """
    check_floating(x, "x")
    dim = check_dim(x, dim)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension to take an arg max over")
    x = x.detach()
    index = x.argmax(dim, keepdim=True)
    return torch.zeros_like(x).scatter_(dim, index, 1.0)


def _check_loss_args(input: torch.Tensor, target: torch.Tensor, reduction: str) -> str:
    check_floating(input, "input")
    check_floating(target, "target")
    return check_reduction(reduction)


def huber(
    input: torch.Tensor, target: torch.Tensor, delta: Scalar = 1.0, reduction: str = "none"
) -> torch.Tensor:
    r"""Huber loss: quadratic for small errors, linear (L1-like) for large ones.

    With :math:`r = x - y`:

    .. math:: \ell_\delta(r) = \begin{cases} \tfrac12 r^2 & |r| < \delta \\
              \delta\,(|r| - \tfrac12\delta) & \text{otherwise} \end{cases}

    Its gradient is :math:`r` near 0 and :math:`\delta\,\operatorname{sign}(r)` far away, so it
    shrinks smoothly to 0 at the minimum instead of flipping between :math:`\pm 1` like
    :math:`|r|`. For :math:`\delta = 1` this is the lecture's formula, and in general
    :math:`\ell_\delta = \delta \cdot \mathrm{smooth\_l1}_{\beta=\delta}`. As
    :math:`\delta \to 0` it vanishes (divide by :math:`\delta` to get L1); as
    :math:`\delta \to \infty` it becomes :math:`\tfrac12 r^2`. Same values as
    :func:`torch.nn.functional.huber_loss`.

    Args:
        input, target: floating tensors of the same (or broadcastable) shape.
        delta: the threshold :math:`\delta > 0`.
        reduction: ``'none'`` (elementwise), ``'mean'`` or ``'sum'``.

    Returns:
        The elementwise loss (``'none'``) or a 0-d tensor.

    Reference: Huber, "Robust estimation of a location parameter", Ann. Math. Statist. 1964.
    """
    reduction = _check_loss_args(input, target, reduction)
    delta = check_positive(delta, "delta")
    if not isinstance(delta, float):
        raise TypeError(
            "delta must be a number or a 0-d tensor without gradient (F.huber_loss takes a float)"
        )
    return F.huber_loss(input, target, reduction=reduction, delta=delta)


def smooth_l1(
    input: torch.Tensor, target: torch.Tensor, beta: Scalar = 1.0, reduction: str = "none"
) -> torch.Tensor:
    r"""Smooth L1 loss: L1 with its kink rounded off by a parabola of width :math:`\beta`.

    With :math:`r = x - y`:

    .. math:: \mathrm{smooth\_l1}_\beta(r) = \begin{cases} \tfrac{1}{2\beta} r^2 & |r| < \beta \\
              |r| - \tfrac12\beta & \text{otherwise} \end{cases}

    Unlike Huber, the linear part always has slope 1, so as :math:`\beta \to 0` it tends to
    :math:`|r|` (L1) and as :math:`\beta \to \infty` it tends to 0 (its quadratic part flattens).
    For :math:`\beta = 1` it coincides with Huber at :math:`\delta = 1` (the lecture's formula).
    Same values as :func:`torch.nn.functional.smooth_l1_loss`.

    Args:
        input, target: floating tensors of the same (or broadcastable) shape.
        beta: the width :math:`\beta > 0` of the quadratic zone.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.

    Returns:
        The elementwise loss (``'none'``) or a 0-d tensor.

    Reference: Girshick, "Fast R-CNN", ICCV 2015.
    """
    reduction = _check_loss_args(input, target, reduction)
    beta = check_positive(beta, "beta")
    if not isinstance(beta, float):
        raise TypeError(
            "beta must be a number or a 0-d tensor without gradient (F.smooth_l1_loss takes floats)"
        )
    return F.smooth_l1_loss(input, target, reduction=reduction, beta=beta)
