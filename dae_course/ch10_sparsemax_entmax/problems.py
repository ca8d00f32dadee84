"""Chapter 10's algorithms, as the page writes them, for the tests and the checkers.

Each function here is a copy of a cell of ``chapters/10_sparsemax_entmax.ipynb``
(``tests/test_page_sources.py`` checks that the sources agree): sparsemax by sorting,
alpha-entmax by bisection on its threshold, 1.5-entmax by sorting (Peters, Niculae &
Martins 2019), and the temperature below which an entry of alpha-entmax is exactly zero.
Needs only torch.
"""

from __future__ import annotations

import torch

__all__ = ["sparsemax_by_sorting", "entmax_bisect", "entmax15_by_sorting", "zero_temperature"]


def sparsemax_by_sorting(x, temperature=1.0):
    """sparsemax(x/T) along the last dimension: sort, cumulative sum, threshold, clip.

    The Euclidean projection of ``x / temperature`` onto the probability simplex
    (Martins & Astudillo 2016): ``[z - tau]_+`` with ``z = x / T`` and the threshold
    ``tau = (sum of the k largest z - 1) / k``, ``k`` the largest size with
    ``1 + k z_(k) > z_(1) + ... + z_(k)``. Shape and dtype of ``x``.

    Defined on the page: chapters/10_sparsemax_entmax.ipynb
    """
    z = x / temperature
    z_sorted = torch.sort(z, dim=-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    cumulative = z_sorted.cumsum(-1)
    support_size = (1 + k * z_sorted > cumulative).sum(-1, keepdim=True)  # the k largest
    tau = (cumulative.gather(-1, support_size - 1) - 1) / support_size
    return torch.clamp(z - tau, min=0)


def entmax_bisect(x, alpha, temperature=1.0, n_iter=60):
    """alpha-entmax of x/T along the last dimension (alpha > 1), by bisection on tau.

    ``p_i = [(alpha - 1) z_i - tau]_+ ** (1 / (alpha - 1))`` with ``z = x / T`` and ``tau``
    found by halving an interval on which the sum of ``p`` crosses 1 (Peters, Niculae &
    Martins 2019); ``alpha = 2`` is sparsemax, ``alpha -> 1`` tends to softmax.

    Defined on the page: chapters/10_sparsemax_entmax.ipynb
    """
    z = (alpha - 1) * x / temperature
    hi = z.max(-1, keepdim=True).values  # at tau = max(z) every p_i is 0: the sum is 0
    lo = hi - 1  # at tau = max(z) - 1 the largest p_i alone is 1: the sum is >= 1
    for _ in range(n_iter):
        tau = (lo + hi) / 2
        total = torch.clamp(z - tau, min=0).pow(1 / (alpha - 1)).sum(-1, keepdim=True)
        lo, hi = torch.where(total >= 1, tau, lo), torch.where(total >= 1, hi, tau)
    p = torch.clamp(z - lo, min=0).pow(1 / (alpha - 1))
    return p / p.sum(-1, keepdim=True)


def entmax15_by_sorting(x, temperature=1.0):
    """1.5-entmax of x/T along the last dimension, exactly: Peters et al.'s sort-based tau.

    With ``z = x / (2T)`` sorted in decreasing order, a support of the ``k`` largest
    entries needs ``sum_j (z_j - tau)^2 = 1``, a quadratic whose smaller root is
    ``tau_k = mean_k - sqrt((1 - k * var_k) / k)``; the support is the largest ``k`` with
    ``tau_k <= z_(k)``, and ``p = [z - tau]_+ ** 2``.

    Defined on the page: chapters/10_sparsemax_entmax.ipynb
    """
    z = x / (2 * temperature)
    z_sorted = torch.sort(z, dim=-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    mean = z_sorted.cumsum(-1) / k
    variance = (z_sorted**2).cumsum(-1) / k - mean**2
    tau = mean - torch.sqrt(torch.clamp((1 - k * variance) / k, min=0))
    support_size = (tau <= z_sorted).sum(-1, keepdim=True)
    return torch.clamp(z - tau.gather(-1, support_size - 1), min=0) ** 2


def zero_temperature(x, i, alpha):
    """The temperature at and below which alpha-entmax(x/T)_i is exactly 0 (alpha > 1).

    ``(alpha - 1)`` times the ``1/(alpha - 1)``-norm of the gaps ``x_j - x_i`` of the
    entries above ``x_i``: their sum for sparsemax (alpha = 2), half their Euclidean norm
    for 1.5-entmax; 0 for the largest entry, which never drops out. ``x`` is 1-d.

    Defined on the page: chapters/10_sparsemax_entmax.ipynb
    """
    gaps = (x - x[i])[x > x[i]]  # how far each larger entry lies above x_i
    if gaps.numel() == 0:
        return 0.0  # the largest entry never drops out
    return (alpha - 1) * torch.linalg.vector_norm(gaps, ord=1 / (alpha - 1)).item()
