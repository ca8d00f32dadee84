"""Sparse relaxations of arg max: sparsemax and 1.5-entmax, exact sort-based algorithms.

Both map scores to the probability simplex like softmax, but can give categories exactly
zero probability. Both are computed from ``z = (x - max x) / T`` with entries below -4 raised
to -4 (no entry below -2 is ever in the support of either map), so every valid temperature
and every logit, -inf included, gives finite values. The backward passes are the closed-form
Jacobians, exact and symmetric; a tensor temperature gets its gradient from them too.
"""

from __future__ import annotations

import torch

from ._validation import Scalar, check_row_max
from .relaxations import _check_tempered, _tempered_dtype

__all__ = ["sparsemax", "entmax15"]


def _threshold(zs: torch.Tensor, entmax: bool) -> torch.Tensor:
    """The threshold tau of rows ``zs`` sorted in decreasing order along the last dimension
    (Martins & Astudillo 2016, Algorithm 1; Peters, Niculae & Martins 2019, Algorithm 2)."""
    k = torch.arange(1, zs.shape[-1] + 1, dtype=zs.dtype, device=zs.device)
    if not entmax:  # support: 1 + k z_(k) > sum_{j <= k} z_(j); tau = (sum over it - 1) / |S|
        c = zs.cumsum(-1) - 1
        size = (k * zs > c).sum(-1, keepdim=True)
        return c.gather(-1, size - 1) / size.to(zs.dtype)
    mean = zs.cumsum(-1) / k  # 1.5-entmax of 2 zs: tau_k = mean_k - sqrt((1 - k var_k) / k)
    var = (zs * zs).cumsum(-1) / k - mean * mean
    tau = mean - ((1 - k * var) / k).clamp_min(0).sqrt()
    return tau.gather(-1, (tau <= zs).sum(-1, keepdim=True) - 1)


class _SparseMap(torch.autograd.Function):
    """p = map(x / T) along ``dim``, computed in ``cdt``; backward: the map's Jacobian J
    (symmetric, J 1 = 0), so dx = J v / T and dT = -(J v) . z / T summed to T's shape."""

    @staticmethod
    def forward(ctx, x, t, dim, entmax, cdt):
        xc = x.detach().to(cdt)
        m = xc.amax(dim, keepdim=True)
        t_dtype = t.dtype if isinstance(t, torch.Tensor) else None
        t = t.detach().to(cdt) if isinstance(t, torch.Tensor) else t
        z = ((xc - m) / t).clamp_min_(-4.0)  # -inf (masked) and overflow: -4, never chosen
        zs = z.movedim(dim, -1).sort(-1, descending=True).values
        zs = zs / 2 if entmax else zs
        tau = _threshold(zs, entmax).movedim(-1, dim)
        if entmax:  # renormalised: tau's square root leaves the sum an ulp or two off 1
            p = (z / 2 - tau).clamp_min(0).square()
            p = p / p.sum(dim, keepdim=True)
        else:
            p = (z - tau).clamp_min(0)
        ctx.dim, ctx.entmax, ctx.t, ctx.dtypes = dim, entmax, t, (x.dtype, t_dtype)
        ctx.save_for_backward(p, z)
        return p.to(x.dtype)

    @staticmethod
    def backward(ctx, v):
        p, z = ctx.saved_tensors
        dim, t = ctx.dim, ctx.t
        v = v.to(p.dtype)
        if ctx.entmax:  # J v = g o v - (g . v / sum g) g, g = sqrt(p)
            g = p.sqrt()
            u = g * v
            u = u - g * (u.sum(dim, keepdim=True) / g.sum(dim, keepdim=True))
        else:  # J v = v - mean of v over the support S, on S; 0 off S
            s = (p > 0).to(p.dtype)
            u = s * (v - (s * v).sum(dim, keepdim=True) / s.sum(dim, keepdim=True))
        grad_t = None  # at a tie |dx| ~ 1/T: saturated at the dtype's largest number, never inf
        if ctx.needs_input_grad[1]:
            top = torch.finfo(ctx.dtypes[1]).max
            grad_t = (-(u * z) / t).sum_to_size(t.shape).clamp(-top, top).to(ctx.dtypes[1])
        top = torch.finfo(ctx.dtypes[0]).max
        return (u / t).clamp(-top, top).to(ctx.dtypes[0]), grad_t, None, None, None


def _sparse(x, temperature, dim, entmax):
    t, low, high, dim = _check_tempered(x, temperature, dim, "x", scalar_ok=True)
    check_row_max(x.detach().amax(dim) if x.dim() else x.detach(), "x")
    cdt = _tempered_dtype(x, t, low, high)
    if x.dim() == 0:  # one category
        return _SparseMap.apply(x.unsqueeze(0), t, 0, entmax, cdt).squeeze(0)
    return _SparseMap.apply(x, t, dim, entmax, cdt)


def sparsemax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Sparsemax with temperature: the Euclidean projection of :math:`\mathbf{x}/T` onto the
    probability simplex.

    .. math:: \operatorname{sparsemax}(\mathbf{z}) = \arg\min_{\mathbf p \in \Delta}
              \lVert \mathbf p - \mathbf z \rVert^2 = [\mathbf z - \tau]_+ ,
              \qquad \mathbf z = \mathbf x / T,

    where the threshold :math:`\tau` makes the entries sum to 1 (found exactly by sorting).
    Entries more than :math:`\tau` below the top get probability exactly 0. It equals
    :math:`\arg\max_{\mathbf p \in \Delta} \mathbf p^\top \mathbf z - \tfrac12\lVert\mathbf p
    \rVert^2`: arg max regularised by a squared norm where softmax has the negative entropy.
    As :math:`T \to 0` it tends to the one-hot of the arg max (tied maxima share the mass
    equally), as :math:`T \to \infty` to the uniform distribution over the unmasked entries;
    both limits are reached finitely at extreme temperatures. A logit of :math:`-\infty` masks
    its category (probability 0, gradient 0). The Jacobian is :math:`(\operatorname{diag}(\mathbf
    s) - \mathbf s \mathbf s^\top/|S|)/T`, :math:`\mathbf s` the indicator of the support
    :math:`S`; float16 and bfloat16 are computed in float32.

    Args:
        x: floating tensor of scores, any shape; ``dim`` indexes the ``N`` categories.
        temperature: :math:`T`, a finite number > 0, or a tensor of them that broadcasts to
            ``x`` (it may require a gradient).
        dim: the category dimension.

    Returns:
        Tensor of the shape and dtype of ``x``, non-negative, summing to 1 along ``dim``.

    Raises:
        TypeError, ValueError: as :func:`relaxlib.softmax`.

    Reference: Martins & Astudillo, "From softmax to sparsemax: a sparse model of attention
    and multi-label classification", ICML 2016.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.sparsemax(torch.tensor([1.0, 0.8, -1.0]))
        tensor([0.6000, 0.4000, 0.0000])
        >>> rl.sparsemax(torch.tensor([1.0, 0.8, -1.0]), temperature=10.0)
        tensor([0.4067, 0.3867, 0.2067])
    """
    return _sparse(x, temperature, dim, entmax=False)


def entmax15(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""1.5-entmax with temperature: between softmax and sparsemax, sparse and smooth.

    .. math:: \operatorname{entmax}_{1.5}(\mathbf z) = \arg\max_{\mathbf p \in \Delta}
              \mathbf p^\top \mathbf z + \tfrac{4}{3}\Bigl(1 - \sum_i p_i^{3/2}\Bigr)
              = \bigl[\tfrac12 \mathbf z - \tau\bigr]_+^2 ,
              \qquad \mathbf z = \mathbf x / T,

    the arg max regularised by the Tsallis entropy with :math:`\alpha = 1.5` (softmax is
    :math:`\alpha = 1`, sparsemax :math:`\alpha = 2`). The threshold :math:`\tau` is found
    exactly by sorting. Entries can get probability exactly 0, but less readily than under
    sparsemax. Limits, masks and dtypes as :func:`sparsemax`. The Jacobian is
    :math:`(\operatorname{diag}(\mathbf g) - \mathbf g \mathbf g^\top / \sum_i g_i)/T` with
    :math:`\mathbf g = \sqrt{\mathbf p}`.

    Args:
        x: floating tensor of scores, any shape; ``dim`` indexes the ``N`` categories.
        temperature: :math:`T`, a finite number > 0, or a tensor of them that broadcasts to
            ``x`` (it may require a gradient).
        dim: the category dimension.

    Returns:
        Tensor of the shape and dtype of ``x``, non-negative, summing to 1 along ``dim``.

    Raises:
        TypeError, ValueError: as :func:`relaxlib.softmax`.

    Reference: Peters, Niculae & Martins, "Sparse sequence-to-sequence models", ACL 2019.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.entmax15(torch.tensor([1.0, 0.8, -1.0]))
        tensor([0.5705, 0.4295, 0.0000])
    """
    return _sparse(x, temperature, dim, entmax=True)
