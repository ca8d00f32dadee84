"""Toy problems of chapter 1 (differentiable almost everywhere), with exact answers.

* :func:`rounding_hit_probability`: the exact probability that a Gaussian value, rounded to
  a floating-point format, lands exactly on a given point (a kink).
* :class:`MaxAffine`, :func:`make_max_affine`: a convex piecewise-linear objective whose
  exact minimum is known, for the page's subgradient descent.
* :func:`subgradient_descent`: the copy of the algorithm the page defines (the tests use it).
* :func:`w_target`, :func:`make_relu_regression`: the data the page's minibatch SGD fits.

The chapter's algorithms (the continuity probe, autograd at a kink, subgradient descent, the
ReLU network and its SGD loop) are written on the page, ``chapters/01_almost_everywhere.ipynb``.
Needs only torch. Every random draw takes a ``generator`` (draw on the CPU generator, then
move to ``device``, so results do not depend on the device).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Optional

import torch

__all__ = [
    "rounding_hit_probability",
    "MaxAffine",
    "make_max_affine",
    "subgradient_descent",
    "w_target",
    "make_relu_regression",
]


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def rounding_hit_probability(
    point: float, dtype: torch.dtype, mean: float = 0.0, std: float = 1.0
) -> float:
    r"""Probability that a Gaussian value rounded to ``dtype`` lands exactly on ``point``.

    The value is :math:`z \sim N(\mathrm{mean}, \mathrm{std}^2)`.

    Rounding to nearest sends every real number of the interval between the midpoints to
    ``point``'s two floating-point neighbours onto ``point``, so the probability is the
    Gaussian mass of that interval,

    .. math:: \Phi\Bigl(\tfrac{p + p^{+}}{2}\Bigr) - \Phi\Bigl(\tfrac{p + p^{-}}{2}\Bigr),

    where :math:`p^{\pm}` are the next representable numbers above and below ``point``
    (``torch.nextafter``). It is tiny at 0, where floats are dense, and grows with the
    spacing of the format: about :math:`\varphi(1) \cdot 3 \cdot 2^{-12}` at 1 in float16.
    (Ties exactly at a midpoint have probability 0 and are ignored.)

    Args:
        point: a number representable in ``dtype`` (e.g. a kink at 0 or 1).
        dtype: the floating-point format, e.g. ``torch.float16``.
        mean, std: of the Gaussian, ``std > 0``.

    Returns:
        The probability, a Python float (computed in float64).

    Reference: IEEE 754-2019, round to nearest; N. J. Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., SIAM 2002, chapter 2.
    """
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    p = torch.tensor(point, dtype=dtype)
    if float(p) != point:
        raise ValueError(f"{point} is not representable in {dtype}")
    up = torch.nextafter(p, torch.tensor(math.inf, dtype=dtype)).double()
    down = torch.nextafter(p, torch.tensor(-math.inf, dtype=dtype)).double()
    p = p.double()
    hi = ((p + up) / 2 - mean) / std
    lo = ((p + down) / 2 - mean) / std
    if float(lo) >= 0:  # upper tail: subtract survival functions to keep precision
        return float(_normal_cdf(-lo) - _normal_cdf(-hi))
    if float(hi) <= 0:
        return float(_normal_cdf(hi) - _normal_cdf(lo))
    return float(0.5 * (torch.erf(hi / math.sqrt(2.0)) - torch.erf(lo / math.sqrt(2.0))))


# --------------------------------------------------------------------------------------
# A max of affine functions, minimised by subgradient descent
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaxAffine:
    r"""The convex, piecewise-linear function :math:`f(w) = \max_i (a_i^\top w + b_i)`.

    Attributes:
        A: the slopes, shape ``(m, d)`` (row ``i`` is :math:`a_i`).
        b: the offsets, shape ``(m,)``.

    ``f(w)`` accepts ``w`` of shape ``(..., d)`` and returns shape ``(...)``. It is
    differentiable except where two or more pieces tie for the maximum, a set of measure
    zero; there ``torch.amax`` hands autograd an average of the tied slopes, which is still a
    subgradient. :meth:`minimum` gives the exact minimum, :meth:`count_ties` counts the
    iterates of a path that land exactly on a crease.
    """

    A: torch.Tensor
    b: torch.Tensor

    def pieces(self, w: torch.Tensor) -> torch.Tensor:
        """The values of every piece, :math:`a_i^\\top w + b_i`, shape ``(..., m)``.

        Computed as an elementwise product and a sum rather than a matrix product, so that
        CPU and GPU round identically (no fused multiply-add, and for ``d = 2`` a sum of two
        terms does not depend on the order): subgradient descent, which bounces across the
        creases, then follows the same path on every device.
        """
        return (w[..., None, :] * self.A).sum(dim=-1) + self.b

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return self.pieces(w).amax(dim=-1)

    def count_ties(self, path: torch.Tensor) -> int:
        """How many of the points ``path`` (shape ``(k, d)``) lie exactly on a crease.

        A point is on a crease when two or more pieces tie exactly for the maximum: there
        ``f`` has no gradient and autograd has to choose (``torch.amax`` averages the tied
        slopes).
        """
        p = self.pieces(path)
        return int(((p == p.amax(dim=-1, keepdim=True)).sum(dim=-1) > 1).sum())

    def minimum(self) -> tuple:
        """The exact minimiser and minimum value, by enumerating vertices.

        A bounded-below max of affine functions in :math:`\\mathbb{R}^d` (whose slopes span
        :math:`\\mathbb{R}^d`) attains its minimum at a vertex where ``d + 1`` pieces are
        equal. Each choice of ``d + 1`` pieces gives a linear system
        :math:`a_i^\\top w - t = -b_i`; a solution is the minimum when no piece lies above
        ``t`` there and 0 is a convex combination of the chosen slopes (then 0 is a
        subgradient at that vertex: the optimality condition). A linear program solved by
        brute force, fine for a handful of pieces.

        Returns:
            ``(w_star, f_star)``: a tensor of shape ``(d,)`` and a Python float.

        Raises:
            ValueError: no vertex passes (the function is unbounded below, or its slopes do
                not span :math:`\\mathbb{R}^d`).
        """
        A, b = self.A.double().cpu(), self.b.double().cpu()
        m, d = A.shape
        ones = torch.ones(d + 1, 1, dtype=A.dtype)
        for rows in itertools.combinations(range(m), d + 1):
            idx = list(rows)
            M = torch.cat([A[idx], -ones], dim=1)
            if abs(float(torch.linalg.det(M))) < 1e-12:
                continue
            sol = torch.linalg.solve(M, -b[idx])
            w, t = sol[:d], float(sol[d])
            if float((A @ w + b).max()) > t + 1e-9:
                continue  # another piece is higher: not a vertex of the graph
            # weights lambda >= 0, sum 1, with sum lambda_i a_i = 0: 0 is a subgradient
            lam = torch.linalg.solve(M.T, torch.cat([torch.zeros(d), -torch.ones(1)]).double())
            if float(lam.min()) >= -1e-12:
                return w.to(dtype=self.A.dtype, device=self.A.device), t
        raise ValueError("no optimal vertex: the function is unbounded below")


def make_max_affine(
    m: int = 7,
    d: int = 2,
    *,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> MaxAffine:
    """A random :class:`MaxAffine` with ``m`` pieces in ``d`` dimensions, bounded below.

    The slopes :math:`a_i` are Gaussian, then shifted so that they average to zero; the
    origin then lies inside their convex hull, which makes the maximum bounded below and
    its minimum attained. The offsets are standard Gaussian.

    Args:
        m: number of pieces (``m >= d + 1``).
        d: dimension of ``w``.
        generator: a CPU ``torch.Generator`` for the draws.
        dtype, device: of the returned tensors.

    Returns:
        A :class:`MaxAffine`.
    """
    if m < d + 1:
        raise ValueError(f"need at least d + 1 = {d + 1} pieces, got m = {m}")
    A = torch.randn(m, d, generator=generator, dtype=torch.float64)
    A = A - A.mean(dim=0, keepdim=True)
    b = torch.randn(m, generator=generator, dtype=torch.float64)
    return MaxAffine(A.to(dtype=dtype, device=device), b.to(dtype=dtype, device=device))


def subgradient_descent(f, w0, steps, step_size):
    r"""Minimise ``f`` by :math:`w_{k+1} = w_k - \alpha_k g_k`, with :math:`g_k` from autograd.

    Defined on the page: chapters/01_almost_everywhere.ipynb

    Where ``f`` is differentiable :math:`g_k` is the gradient; at a kink it is whatever
    autograd returns (a subgradient for the operations of :class:`MaxAffine`). The method
    is not a descent method: ``f`` may go up from one step to the next, so the best value
    so far is what converges. With a constant step it ends up circling the minimum in a
    band whose width grows with the step; with steps that shrink to zero but whose sum
    diverges (e.g. :math:`\alpha_0/\sqrt{k+1}`) the best value converges to the minimum.

    Args:
        f: the objective, a scalar function of ``w``.
        w0: the start, a floating tensor of shape ``(d,)`` (not modified).
        steps: number of updates.
        step_size: a constant, or a function ``k -> alpha_k``.

    Returns:
        ``(path, values)``: every iterate, a tensor of shape ``(steps + 1, d)``, and the
        list of ``f(w_k)`` for ``k = 0..steps`` as Python floats.

    Reference: N. Z. Shor, *Minimization Methods for Non-Differentiable Functions*,
    Springer 1985; S. Boyd, L. Xiao and A. Mutapcic, "Subgradient methods", lecture notes,
    Stanford University, 2003.
    """
    rule = step_size if callable(step_size) else (lambda k: step_size)
    w, path, values = w0.clone(), [], []
    for k in range(steps + 1):
        w.requires_grad_(True)
        value = f(w)
        path.append(w.detach())
        values.append(value.item())
        if k < steps:
            (g,) = torch.autograd.grad(value, w)  # a subgradient where f has a kink
            w = w.detach() - rule(k) * g
    return torch.stack(path), values


# --------------------------------------------------------------------------------------
# The data of the page's minibatch SGD
# --------------------------------------------------------------------------------------


def w_target(x: torch.Tensor) -> torch.Tensor:
    """The regression target of chapter 1: a "W", ``|x| - 2 relu(|x| - 1)``.

    Piecewise linear with kinks at -1, 0 and 1 (values 1, 0, 1 there, and 0 at ±2), so a
    ReLU network with a few hidden units can represent it exactly.
    """
    return x.abs() - 2 * torch.relu(x.abs() - 1)


def make_relu_regression(
    n: int = 256,
    noise: float = 0.05,
    *,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> tuple:
    """Inputs ``x`` evenly spaced in ``[-2, 2]`` and targets ``w_target(x)`` plus Gaussian noise.

    Args:
        n: number of examples.
        noise: standard deviation of the added noise (the best mean squared error any model
            can reach is about ``noise**2``).
        generator: CPU generator for the noise.
        dtype, device: of the returned tensors.

    Returns:
        ``(x, y)``, each of shape ``(n, 1)``.
    """
    x = torch.linspace(-2, 2, n, dtype=torch.float64)[:, None]
    y = w_target(x) + noise * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)
