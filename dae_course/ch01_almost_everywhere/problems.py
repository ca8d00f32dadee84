"""Small problems of chapter 1 (differentiable almost everywhere), with exact answers.

* :func:`largest_change`: a numerical probe of continuity (how much ``f`` can move when its
  input moves by at most ``delta``).
* :func:`autograd_derivative`: the number autograd returns for ``f'(x)``, at kinks included.
* :func:`rounding_hit_probability`: the exact probability that a Gaussian value, rounded to
  a floating-point format, lands exactly on a given point (a kink).
* :class:`MaxAffine`, :func:`make_max_affine`, :func:`subgradient_descent`: a convex
  piecewise-linear objective whose exact minimum is known, minimised by subgradient descent.
* :func:`make_relu_regression`, :func:`train_relu_net`: a one-hidden-layer ReLU network fitted
  by minibatch SGD, recording how noisy each step's direction is.

Needs only torch. Every random draw takes a ``generator`` (draw on the CPU generator, then
move to ``device``, so results do not depend on the device).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import torch

__all__ = [
    "largest_change",
    "autograd_derivative",
    "rounding_hit_probability",
    "MaxAffine",
    "make_max_affine",
    "subgradient_descent",
    "w_target",
    "make_relu_regression",
    "init_relu_net",
    "relu_net",
    "train_relu_net",
]

Fn = Callable[[torch.Tensor], torch.Tensor]


def largest_change(f: Fn, xs: torch.Tensor, delta: float, n_offsets: int = 21) -> float:
    r"""The largest change of ``f`` over the points ``xs`` when the input moves by <= ``delta``.

    .. math:: \max_{x \in xs,\ |d| \le \delta} |f(x + d) - f(x)|

    with ``d`` on ``n_offsets`` evenly spaced values in ``[-delta, delta]``. For a continuous
    ``f`` this goes to 0 with ``delta``; for a 1-Lipschitz function such as ReLU or ``|x|`` it
    is at most ``delta``; at a jump it stays at the jump's height however small ``delta`` is.

    Args:
        f: a function of a tensor, applied elementwise.
        xs: 1-d tensor of points.
        delta: the largest perturbation, >= 0.
        n_offsets: how many perturbations ``d`` to try (odd, so that ``d = 0`` is one).

    Returns:
        The largest absolute change, a Python float.

    Reference: the epsilon-delta definition of continuity, e.g. W. Rudin, *Principles of
    Mathematical Analysis*, 3rd ed., McGraw-Hill 1976, definition 4.5.
    """
    d = torch.linspace(-delta, delta, n_offsets, dtype=xs.dtype, device=xs.device)
    moved = f(xs[:, None] + d[None, :])
    return float((moved - f(xs)[:, None]).abs().max())


def autograd_derivative(f: Fn, x: float, dtype: torch.dtype = torch.float64, device=None) -> float:
    """What autograd returns as the derivative of ``f`` at the point ``x``.

    Where ``f`` is differentiable this is ``f'(x)``. At a kink there is no derivative and the
    result is whatever the backward formulas of the operations used in ``f`` produce: for
    ``torch.relu`` at 0 it is 0, for ``x.clamp(min=0)`` at 0 it is 1, for
    ``torch.maximum(x, 0)`` at 0 it is 1/2, and for ``torch.sqrt(x * x)`` at 0 it is NaN.

    Args:
        f: a scalar function built from torch operations.
        x: the point.
        dtype, device: of the 0-d input tensor.

    Returns:
        ``d f / d x`` as computed by ``backward()``, a Python float.

    Reference: A. Griewank and A. Walther, *Evaluating Derivatives*, 2nd ed., SIAM 2008
    (automatic differentiation differentiates the program, not the function).
    """
    t = torch.tensor(x, dtype=dtype, device=device, requires_grad=True)
    f(t).backward()
    return float(t.grad)


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
    subgradient. :meth:`minimum` gives the exact minimum.
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


def subgradient_descent(
    f: Callable[[torch.Tensor], torch.Tensor],
    w0: torch.Tensor,
    steps: int,
    step_size: Union[float, Callable[[int], float]],
    *,
    pieces: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
) -> dict:
    r"""Minimise ``f`` by :math:`w_{k+1} = w_k - \alpha_k g_k`, with :math:`g_k` from autograd.

    Where ``f`` is differentiable :math:`g_k` is the gradient; at a kink it is whatever
    autograd returns (a subgradient for the operations of :class:`MaxAffine`). The method
    is not a descent method: ``f`` may go up from one step to the next, so the best value
    so far is what converges. With a constant step it ends up circling the minimum in a
    band whose width grows with the step; with steps that shrink to zero but whose sum
    diverges (e.g. :math:`\alpha_0/\sqrt{k+1}`) the best value converges to the minimum.

    Args:
        f: the objective, a scalar function of ``w``.
        w0: the start, a floating tensor (not modified).
        steps: number of updates.
        step_size: a constant, or a function ``k -> alpha_k``.
        pieces: optionally, a function returning the values of the pieces of ``f`` (as
            :meth:`MaxAffine.pieces`); then exact ties for the maximum are counted.

    Returns:
        A dict with ``"values"`` (``f(w_k)`` for ``k = 0..steps``), ``"best"`` (running
        minimum of the values), ``"w"`` (the final iterate), ``"path"`` (every iterate,
        shape ``(steps + 1, d)``), ``"increases"`` (how many
        steps raised ``f``) and ``"ties"`` (iterates where two pieces tied exactly, or
        ``None`` without ``pieces``).

    Reference: N. Z. Shor, *Minimization Methods for Non-Differentiable Functions*,
    Springer 1985; S. Boyd, L. Xiao and A. Mutapcic, "Subgradient methods", lecture notes,
    Stanford University, 2003.
    """
    rule = step_size if callable(step_size) else (lambda k: float(step_size))
    w = w0.detach().clone()
    values, path, ties = [], [], 0
    for k in range(steps + 1):
        path.append(w.detach().clone())
        w.requires_grad_(True)
        value = f(w)
        values.append(float(value.detach()))
        if pieces is not None:
            p = pieces(w.detach())
            ties += int((p == p.max()).sum() > 1)
        if k == steps:
            break
        (g,) = torch.autograd.grad(value, w)
        w = (w.detach() - rule(k) * g).detach()
    best = list(itertools.accumulate(values, min))
    increases = sum(b > a for a, b in zip(values, values[1:]))
    return {
        "values": values,
        "best": best,
        "w": w.detach(),
        "path": torch.stack(path),
        "increases": increases,
        "ties": ties if pieces is not None else None,
    }


# --------------------------------------------------------------------------------------
# A small ReLU network trained by minibatch SGD
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


def init_relu_net(
    hidden: int = 16,
    *,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> list:
    """Parameters ``[W1 (1, H), b1 (H,), W2 (H, 1), b2 (1,)]`` of a 1-H-1 ReLU network.

    He initialisation for the first layer (variance 2/fan-in), fan-in scaling for the
    second, small Gaussian biases; all drawn from ``generator``, all with
    ``requires_grad=True``.

    Reference: K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers", ICCV 2015.
    """
    shapes = [(1, hidden), (hidden,), (hidden, 1), (1,)]
    scales = [math.sqrt(2.0), 0.5, math.sqrt(1.0 / hidden), 0.0]
    params = []
    for shape, scale in zip(shapes, scales):
        p = scale * torch.randn(*shape, generator=generator, dtype=torch.float64)
        params.append(p.to(dtype=dtype, device=device).requires_grad_(True))
    return params


def relu_net(params: Sequence[torch.Tensor], x: torch.Tensor, return_pre: bool = False):
    """The network ``relu(x W1 + b1) W2 + b2``; optionally also its pre-activations ``x W1 + b1``.

    Args:
        params: ``[W1, b1, W2, b2]`` as from :func:`init_relu_net`.
        x: inputs of shape ``(n, 1)``.
        return_pre: also return the hidden pre-activations, shape ``(n, H)``.

    Returns:
        The outputs, shape ``(n, 1)`` (and the pre-activations).
    """
    W1, b1, W2, b2 = params
    pre = x @ W1 + b1
    out = torch.relu(pre) @ W2 + b2
    return (out, pre) if return_pre else out


def train_relu_net(
    params: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 1500,
    batch_size: int = 16,
    lr: float = 0.05,
    generator: Optional[torch.Generator] = None,
) -> dict:
    """Minibatch SGD on the mean squared error, recording how noisy every step is.

    Each step draws ``batch_size`` examples without replacement (from ``generator``),
    takes the gradient of the minibatch loss and updates ``params`` in place. Before the
    update it also computes the full-data loss and gradient, only to measure the step.

    Args:
        params: as returned by :func:`init_relu_net` (updated in place).
        x, y: the data, shape ``(n, 1)``.
        steps, batch_size, lr: the SGD settings.
        generator: CPU generator for the minibatch draws.

    Returns:
        A dict of lists, one entry per step: ``"batch_loss"`` (the minibatch loss the step
        used), ``"full_loss"`` (the full-data loss at the same parameters), ``"cosine"``
        (cosine between the minibatch gradient and the full gradient: > 0 means the step
        goes downhill for the full loss, for a small enough learning rate), and the integer
        ``"exact_zeros"`` (how many hidden pre-activations were exactly 0, i.e. on ReLU's
        kink, over all minibatches).

    Reference: L. Bottou, F. E. Curtis and J. Nocedal, "Optimization methods for large-scale
    machine learning", SIAM Review 60(2), 2018.
    """
    n = x.shape[0]
    history = {"batch_loss": [], "full_loss": [], "cosine": [], "exact_zeros": 0}
    for _ in range(steps):
        full = torch.mean((relu_net(params, x) - y) ** 2)
        g_full = torch.autograd.grad(full, params)
        idx = torch.randperm(n, generator=generator)[:batch_size].to(x.device)
        out, pre = relu_net(params, x[idx], return_pre=True)
        batch = torch.mean((out - y[idx]) ** 2)
        g_batch = torch.autograd.grad(batch, params)
        flat_full = torch.cat([g.reshape(-1) for g in g_full])
        flat_batch = torch.cat([g.reshape(-1) for g in g_batch])
        cos = torch.dot(flat_full, flat_batch) / (flat_full.norm() * flat_batch.norm())
        history["batch_loss"].append(float(batch.detach()))
        history["full_loss"].append(float(full.detach()))
        history["cosine"].append(float(cos))
        history["exact_zeros"] += int((pre == 0).sum())
        with torch.no_grad():
            for p, g in zip(params, g_batch):
                p -= lr * g
    return history
