"""Deterministic relaxations: softplus, tempered softmax, soft arg max, soft max, Huber.

Each replaces a piecewise or discrete operation (ReLU, arg max, max, |x|) by a smooth one
whose sharpness is one parameter (``beta``, ``temperature``, ``delta``); at its limit the
original comes back, and an extreme but valid value (a temperature of 1e-38) gives that limit.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from ._validation import (
    Scalar,
    check_broadcasts_to,
    check_categories,
    check_dim,
    check_floating,
    check_reduction,
    check_row_max,
    check_scale,
    compute_dtype,
    scale_dtype,
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
    as :math:`\beta \to \infty`. A number ``beta`` uses :func:`torch.nn.functional.softplus`
    (the identity where :math:`\beta x > 20`, a relative error below :math:`10^{-9}`), so the
    values equal ``F.softplus(x, beta)``; a tensor ``beta``, or one beyond the range of the
    compute dtype (``beta=1e39`` with float32 ``x``), uses the overflow-safe
    :math:`\tfrac12 x + \tfrac12|x| + \log(1 + e^{-\beta|x|})/\beta` (in float64 when needed).

    Args:
        x: floating tensor of any shape.
        beta: sharpness, a finite number > 0, or a tensor of them that broadcasts to ``x``.

    Returns:
        Tensor of the shape and dtype of ``x`` (whatever the dtype of ``beta``).

    Raises:
        TypeError: ``x`` is not a floating tensor; ``beta`` is not a number or floating tensor.
        ValueError: ``beta`` is not finite and > 0, does not broadcast to ``x``, or is so small
            that :math:`\log(2)/\beta` overflows ``x``'s dtype (the limit :math:`\beta \to 0`
            is :math:`+\infty`).

    Reference: Dugas et al., "Incorporating second-order functional knowledge for better
    option pricing", NeurIPS 2000; Glorot, Bordes & Bengio, AISTATS 2011.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.softplus(torch.tensor([-1.0, 0.0, 2.0]), beta=2.0)
        tensor([0.0635, 0.3466, 2.0091])
        >>> rl.softplus(torch.tensor([-1.0, 0.0, 2.0]), beta=1e39)  # ReLU, plus log(2)/beta at 0
        tensor([0.0000e+00, 6.9315e-40, 2.0000e+00])
    """
    check_floating(x, "x")
    beta, low, high = check_scale(beta, "beta")
    check_broadcasts_to(beta, x.shape, "beta", "x")
    if math.log(2) / low > torch.finfo(x.dtype).max:
        raise ValueError(f"beta={low:g} is too small for {x.dtype}: log(2)/beta overflows")
    cdt = compute_dtype(x.dtype)
    if isinstance(beta, torch.Tensor):
        cdt = torch.promote_types(cdt, beta.dtype)
    cdt = scale_dtype(cdt, low, high)
    if isinstance(beta, float) and cdt == compute_dtype(x.dtype):
        return F.softplus(x, beta=beta)
    # relu(x) as x/2 + |x|/2: slope 1/2 at x = 0 (abs' is 0 there); exp(-beta |x|) <= 1.
    b = beta.to(cdt) if isinstance(beta, torch.Tensor) else beta
    xc = x.to(cdt).clamp_min(torch.finfo(cdt).min)  # -inf: -max/2 + max/2 = 0, not NaN
    a = xc.abs()
    return (0.5 * xc + 0.5 * a + torch.log1p(torch.exp(-b * a)) / b).to(x.dtype)


def _check_tempered(x: torch.Tensor, temperature: Scalar, dim: int, name: str, scalar_ok: bool):
    """The checks of every tempered-softmax function. Returns (temperature, low, high, dim)."""
    check_floating(x, name)
    temperature, low, high = check_scale(temperature, "temperature")
    dim = check_dim(x, dim)
    check_categories(x, dim, name, scalar_ok)
    check_broadcasts_to(temperature, x.shape, "temperature", name)
    return temperature, low, high, dim


def _tempered_dtype(x: torch.Tensor, t: Scalar, low: float, high: float) -> torch.dtype:
    """:func:`compute_dtype` of ``x``, promoted with a tensor T's, float64 if T is beyond it."""
    cdt = compute_dtype(x.dtype)
    cdt = torch.promote_types(cdt, t.dtype) if isinstance(t, torch.Tensor) else cdt
    return scale_dtype(cdt, low, high)


def _tempered_probs(
    x: torch.Tensor, t: Scalar, low: float, high: float, dim: int, name: str, own: bool = False
) -> torch.Tensor:
    """softmax(x / T) along ``dim`` in :func:`compute_dtype` (with T's; float64 if T is beyond
    it), finite for every valid T. PyTorch's ``softmax(x / T)`` fails (NaN, +inf, -inf rows,
    overflow) only in whole rows of NaN: one entry per row tells (``own``: ``x`` may be
    overwritten, checked first). Then row maxima ``m`` name the fault or give ``(x - m) / T``."""
    cdt = _tempered_dtype(x, t, low, high)
    grad_t = isinstance(t, torch.Tensor) and t.requires_grad
    unit = isinstance(t, float) and t == 1.0
    limit = torch.finfo(cdt).max / 4
    if own and not grad_t:  # x is divided in place: check it first (one cheap pass)
        lo, hi = (v.item() for v in torch.aminmax(x.detach())) if x.numel() else (0.0, 0.0)
        if -limit < lo and hi < limit and max(-lo, hi) / low < limit:  # False for NaN
            x = x.to(cdt)
            return torch.softmax(x if unit else x.div_(t), dim)
    elif not grad_t:
        xc = x.to(cdt)
        p = torch.softmax(xc if unit else xc / t, dim)
        if not bool(torch.isnan(p.detach().select(dim, 0) if p.dim() else p).any()):
            return p
    m = x.detach().amax(dim, keepdim=True) if x.dim() else x.detach()
    largest = check_row_max(m, name)
    x = x.to(cdt)
    if own and not grad_t and largest / low < limit:  # masked entries, a moderate T
        return torch.softmax(x if unit else x.div_(t), dim)
    d = x.sub_(m) if own else x - m.to(cdt)
    if not grad_t:
        return torch.softmax(d.div_(t), dim)
    # A learned T: d / T's gradient in T, -(d / T) / T, is NaN (0 * inf) where d / T = -inf.
    # Clamp d / T at -2 log(max) (exp is 0 there too); T's gradient via a factor T0 / T = 1.
    t = t.to(cdt)
    t0 = t.detach()
    d = torch.maximum(d, (-2 * math.log(torch.finfo(cdt).max)) * t0)
    return torch.softmax(d / t0 * (t0 / t), dim)


def softmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Softmax with temperature: a relaxation of the one-hot arg max.

    .. math:: \operatorname{softmax}(\mathbf{x}/T)_i = \frac{e^{x_i/T}}{\sum_j e^{x_j/T}}
              = \frac{e^{(x_i - \max_j x_j)/T}}{\sum_j e^{(x_j - \max_k x_k)/T}}

    As :math:`T \to 0` it tends to the one-hot vector of :math:`\arg\max_i x_i` (tied maxima
    share the mass equally), as :math:`T \to \infty` to the uniform distribution over the
    unmasked categories, both without overflow (``temperature=1e-38`` gives the one-hot
    vector, not NaN; at a tie the gradient grows like :math:`1/T`, beyond float16's range from
    :math:`T < 10^{-5}`). A logit of :math:`-\infty` masks its category: probability 0,
    gradient 0. float16 and bfloat16 are computed in float32.

    Args:
        x: floating tensor of logits, any shape; ``N = x.shape[dim]`` categories (a 0-d ``x``
            is one category).
        temperature: :math:`T`, a finite number > 0, or a tensor of them that broadcasts to
            ``x`` (e.g. shape ``(B, 1)`` for one temperature per row of a ``(B, N)`` batch).
        dim: the dimension that indexes the categories.

    Returns:
        Tensor of the shape and dtype of ``x``, non-negative, summing to 1 along ``dim``.

    Raises:
        TypeError: ``x`` is not a floating tensor, or ``dim`` is not an int.
        ValueError: ``temperature`` is not finite and > 0 or does not broadcast to ``x``;
            ``dim`` is out of range; ``x`` has no categories (size 0 along ``dim``), holds NaN
            or +inf, or a row of -inf only (every category masked: no distribution).

    Reference: Bridle, "Probabilistic interpretation of feedforward classification network
    outputs", 1990; Goodfellow, Bengio & Courville, *Deep Learning*, 2016, sec. 6.2.2.3.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.softmax(torch.tensor([1.0, 2.0]), 0.5)
        tensor([0.1192, 0.8808])
        >>> rl.softmax(torch.tensor([1.0, 4.0, 4.0, float("-inf")]), 1e-38)  # tie; masked
        tensor([0.0000, 0.5000, 0.5000, 0.0000])
    """
    t, low, high, dim = _check_tempered(x, temperature, dim, "x", scalar_ok=True)
    return _tempered_probs(x, t, low, high, dim, "x").to(x.dtype)


def soft_argmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Soft arg max: the expected index under :math:`\operatorname{softmax}(\mathbf{x}/T)`.

    .. math:: \operatorname{soft\,arg\,max}_T(\mathbf{x}) = \sum_{i=0}^{N-1}
              i\,\operatorname{softmax}(\mathbf{x}/T)_i
              = \operatorname{softmax}(\mathbf{x}/T)^\top [0, 1, \dots, N-1]

    A float, not an integer: it tends to :math:`\arg\max_i x_i` as :math:`T \to 0` (to the
    mean of the tied indices if the maximum is tied) and to :math:`(N-1)/2` as
    :math:`T \to \infty` (the mean index of the unmasked categories). Unlike ``torch.argmax``
    it has a useful gradient with respect to ``x``. Indices start at 0, as in PyTorch.

    Args:
        x: floating tensor with at least one dimension; ``dim`` indexes the ``N`` candidates.
        temperature: :math:`T > 0`, finite; a number or a tensor that broadcasts to ``x``.
        dim: the dimension to reduce.

    Returns:
        Tensor of ``x``'s dtype with ``dim`` removed (a 0-d tensor for a vector ``x``).

    Raises:
        TypeError, ValueError: as :func:`softmax`; also ``ValueError`` for a 0-d ``x``.

    Reference: Chapelle & Wu, "Gradient descent optimization of smoothed information
    retrieval metrics", 2010; Goodfellow et al., *Deep Learning*, 2016.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.soft_argmax(torch.tensor([1.1, 4.0, -0.1, 2.3]), 0.2)
        tensor(1.0004)
        >>> rl.soft_argmax(torch.tensor([[0.0, 1.0, 0.0], [5.0, 0.0, 5.0]]), 1e-30)
        tensor([1., 1.])
    """
    t, low, high, dim = _check_tempered(x, temperature, dim, "x", scalar_ok=False)
    p = _tempered_probs(x, t, low, high, dim, "x")
    idx = torch.arange(x.shape[dim], dtype=p.dtype, device=p.device)
    return torch.matmul(p.movedim(dim, -1), idx).to(x.dtype)


def soft_max(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Soft maximum value: :math:`\operatorname{softmax}(\mathbf{x}/T)^\top \mathbf{x}`.

    The average of the entries of ``x`` weighted by the tempered softmax: it tends to
    :math:`\max_i x_i` as :math:`T \to 0`, to the mean of the unmasked entries as
    :math:`T \to \infty`, and is at most the maximum. A masked entry (:math:`-\infty`)
    contributes 0, not :math:`0 \cdot (-\infty)`. (Not ``softmax``, the distribution, nor
    :math:`T\log\sum e^{x_i/T}`, the log-sum-exp relaxation of max.)

    Args:
        x: floating tensor with at least one dimension; ``dim`` indexes the candidates.
        temperature: :math:`T > 0`, finite; a number or a tensor that broadcasts to ``x``.
        dim: the dimension to reduce.

    Returns:
        Tensor of ``x``'s dtype with ``dim`` removed.

    Raises:
        TypeError, ValueError: as :func:`softmax`; also ``ValueError`` for a 0-d ``x``.

    Reference: Goodfellow et al., *Deep Learning*, 2016; Hare, "Differentiable Relaxations
    and Reparameterisations" (lecture), University of Southampton.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.soft_max(torch.tensor([1.1, 4.0, -0.1, 2.3]), 1.0)
        tensor(3.5710)
        >>> rl.soft_max(torch.tensor([0.0, float("-inf")]))
        tensor(0.)
    """
    t, low, high, dim = _check_tempered(x, temperature, dim, "x", scalar_ok=False)
    p = _tempered_probs(x, t, low, high, dim, "x")
    xc = x.to(p.dtype)
    v = (p * xc).sum(dim)
    # The only NaN possible here is 0 * (-inf) (masked entries): then they are replaced by 0.
    if v.numel() and bool(torch.isnan(v.detach()).any()):
        v = (p * xc.masked_fill(torch.isneginf(xc.detach()), 0.0)).sum(dim)
    return v.to(x.dtype)


def _one_hot_max(x: torch.Tensor, dim: int, name: Optional[str]) -> torch.Tensor:
    """One-hot of the first maximum along ``dim``; with ``name``, its row maxima are checked."""
    values, index = x.detach().max(dim, keepdim=True)
    if name is not None:
        check_row_max(values, name)
    return torch.zeros_like(x).scatter_(dim, index, 1.0)


def one_hot_argmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""The hard one-hot encoding of :math:`\arg\max` along ``dim``, in the dtype of ``x``.

    .. math:: \operatorname{one\_hot}(\mathbf{x})_i = [\,i = \min\arg\max_j x_j\,]

    Ties go to the first maximal index (as ``torch.argmax``); masked entries (-inf) are
    never chosen. Piecewise constant in ``x``: its gradient is zero wherever it exists, so
    the result carries no gradient.

    Args:
        x: floating tensor, any shape with at least one dimension.
        dim: the dimension that indexes the categories.

    Returns:
        Tensor of the shape and dtype of ``x`` with a single 1 along ``dim``, zeros elsewhere.

    Raises:
        TypeError: ``x`` is not a floating tensor, or ``dim`` is not an int.
        ValueError: ``x`` is 0-d or has no categories; ``dim`` is out of range; ``x``
            contains NaN or +inf, or a row of -inf only (no arg max).

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.one_hot_argmax(torch.tensor([[0.5, 2.0, 2.0], [3.0, float("-inf"), 1.0]]))
        tensor([[0., 1., 0.],
                [1., 0., 0.]])
    """
    check_floating(x, "x")
    dim = check_dim(x, dim)
    check_categories(x, dim, "x")
    return _one_hot_max(x, dim, "x")


def _check_loss(input, target, param, name, reduction):
    """The checks of huber and smooth_l1; returns (param, compute dtype, reduction)."""
    check_floating(input, "input")
    check_floating(target, "target")
    reduction = check_reduction(reduction)
    param, low, high = check_scale(param, name)
    check_broadcasts_to(target, input.shape, "target", "input")
    check_broadcasts_to(param, input.shape, name, "input")
    if reduction == "mean" and input.numel() == 0:
        raise ValueError("input is empty: its mean loss is undefined (use reduction='sum')")
    cdt = compute_dtype(input.dtype)
    if isinstance(param, torch.Tensor):
        cdt = torch.promote_types(cdt, param.dtype)
    return param, scale_dtype(cdt, low, high), reduction


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


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
    :math:`\delta \to \infty` it becomes :math:`\tfrac12 r^2`. A number ``delta`` gives the
    values of :func:`torch.nn.functional.huber_loss` (float16 and bfloat16 computed in
    float32); a tensor ``delta`` uses the formula above.

    Args:
        input: floating tensor, any shape: the prediction :math:`x`.
        target: floating tensor that broadcasts to ``input``'s shape: :math:`y`.
        delta: the threshold :math:`\delta > 0`, finite; a number or a tensor that broadcasts
            to ``input``.
        reduction: ``'none'`` (elementwise), ``'mean'`` or ``'sum'``.

    Returns:
        The elementwise loss (``'none'``, ``input``'s shape) or a 0-d tensor; ``input``'s dtype.

    Raises:
        TypeError: ``input`` or ``target`` is not a floating tensor; ``delta`` is not a number
            or floating tensor.
        ValueError: ``delta`` is not finite and > 0; ``target`` or ``delta`` does not
            broadcast to ``input``; an unknown ``reduction``; ``'mean'`` of an empty ``input``.

    Reference: Huber, "Robust estimation of a location parameter", Ann. Math. Statist. 1964.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.huber(torch.tensor([-3.0, 0.5, 1.0, 2.0]), torch.tensor(0.0))
        tensor([2.5000, 0.1250, 0.5000, 1.5000])
    """
    delta, cdt, reduction = _check_loss(input, target, delta, "delta", reduction)
    x, y = input.to(cdt), target.to(cdt).expand_as(input)
    if isinstance(delta, float):
        return F.huber_loss(x, y, reduction=reduction, delta=delta).to(input.dtype)
    d = delta.to(cdt)
    a = (x - y).abs()
    inside = a < d
    q = torch.where(inside, a, 0.0)  # so that neither branch's gradient is 0 * inf
    return _reduce(torch.where(inside, 0.5 * q * q, d * (a - 0.5 * d)), reduction).to(input.dtype)


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
    A number ``beta`` up to :math:`\sqrt{\max}` of the compute dtype gives the values of
    :func:`torch.nn.functional.smooth_l1_loss` (whose :math:`r^2` would overflow beyond it);
    a larger or tensor ``beta`` uses the formula above as :math:`\tfrac12 |r|\,(|r|/\beta)`.

    Args:
        input: floating tensor, any shape: the prediction :math:`x`.
        target: floating tensor that broadcasts to ``input``'s shape: :math:`y`.
        beta: the width :math:`\beta > 0` of the quadratic zone, finite; a number or a tensor
            that broadcasts to ``input``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.

    Returns:
        The elementwise loss (``'none'``, ``input``'s shape) or a 0-d tensor; ``input``'s dtype.

    Raises:
        TypeError, ValueError: as :func:`huber`, for ``beta``.

    Reference: Girshick, "Fast R-CNN", ICCV 2015.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.smooth_l1(torch.tensor([-3.0, 0.5, 1.0, 2.0]), torch.tensor(0.0), beta=2.0)
        tensor([2.0000, 0.0625, 0.2500, 1.0000])
    """
    beta, cdt, reduction = _check_loss(input, target, beta, "beta", reduction)
    x, y = input.to(cdt), target.to(cdt).expand_as(input)
    if isinstance(beta, float) and beta * beta < torch.finfo(cdt).max:
        return F.smooth_l1_loss(x, y, reduction=reduction, beta=beta).to(input.dtype)
    b = beta.to(cdt) if isinstance(beta, torch.Tensor) else beta
    a = (x - y).abs()
    inside = a < b
    q = torch.where(inside, a, 0.0)  # q (q / b) / 2: q^2 could overflow where the loss does not
    return _reduce(torch.where(inside, 0.5 * q * (q / b), a - 0.5 * b), reduction).to(input.dtype)
