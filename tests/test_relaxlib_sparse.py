"""sparsemax and 1.5-entmax (relaxlib/sparse.py), issues 17 and 18.

* values and gradients agree with the ``entmax`` package (its authors' implementation, a test
  dependency only) in all four dtypes, along any ``dim``, with batch dimensions;
* hand-worked cases: exact zeros, two categories (sparsemax is a clipped line), the closed-form
  Jacobians; ``gradcheck`` in float64, in ``x`` and in a tensor temperature;
* the limits T -> 0 (one-hot, ties split evenly) and T -> infinity (uniform over the unmasked
  entries) at extreme temperatures, logits near the dtype's maximum, -inf masks.
"""

import math

import entmax
import pytest
import torch
from shared_helpers import TOL

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
NINF = float("-inf")
FNS = {"sparsemax": (rl.sparsemax, entmax.sparsemax), "entmax15": (rl.entmax15, entmax.entmax15)}


def _x(shape, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _rows(t, dim):
    """The 1-d slices of ``t`` along ``dim``, as rows of a 2-d tensor."""
    return t.movedim(dim, -1).reshape(-1, t.shape[dim])


# --------------------------------------------------------------------------------------
# agreement with the entmax package
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("shape,dim", [((6, 7), -1), ((2, 3, 5), 0), ((2, 3, 5), 1), ((9,), 0)])
@pytest.mark.parametrize("name", FNS)
def test_values_and_gradients_agree_with_the_entmax_package(name, shape, dim, dtype):
    ours, oracle = FNS[name]
    x = _x(shape, seed=len(shape) + dim).to(dtype).requires_grad_(True)
    w = _x(shape, seed=7, scale=1.0).to(dtype)
    p = ours(x, dim=dim)
    assert p.dtype == dtype and p.shape == x.shape
    # the oracle on the same (rounded) inputs, in float64
    xo = x.detach().double().requires_grad_(True)
    po = oracle(xo, dim=dim)
    torch.testing.assert_close(p.detach().double(), po.detach(), **TOL[dtype])
    (g,) = torch.autograd.grad((p * w).sum(), x)
    (go,) = torch.autograd.grad((po * w.double()).sum(), xo)
    assert g.dtype == dtype
    torch.testing.assert_close(g.double(), go, **TOL[dtype])
    if dtype == torch.float32:  # and the oracle run in float32 itself
        torch.testing.assert_close(p.detach(), oracle(x.detach(), dim=dim), **TOL[dtype])


@pytest.mark.parametrize("name", FNS)
@pytest.mark.parametrize("t", [0.25, 1.0, 3.0])
def test_temperature_divides_the_scores(name, t):
    ours, oracle = FNS[name]
    x = _x((5, 6), seed=3)
    torch.testing.assert_close(ours(x, t), oracle(x / t, dim=-1), **TOL[torch.float64])


@pytest.mark.parametrize("name", FNS)
@pytest.mark.parametrize("dim", [-1, 0])
def test_gradcheck_float64_in_x_and_in_a_tensor_temperature(name, dim):
    fn = FNS[name][0]
    x = _x((4, 5), seed=11).requires_grad_(True)
    shape = (4, 1) if dim == -1 else (1, 5)
    t = 0.5 + torch.rand(shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    t.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: fn(a, b, dim=dim), (x, t))
    assert torch.autograd.gradcheck(lambda a: fn(a, 0.7, dim=dim), (x,))


# --------------------------------------------------------------------------------------
# hand-worked cases
# --------------------------------------------------------------------------------------


def _entmax15_two(a, b):
    """1.5-entmax of (a, b) with a >= b by hand: p = (a/2 - tau)^2 on both entries while
    |a - b| < 2, so with u = a/2 - tau: u^2 + (u - (a - b)/2)^2 = 1."""
    h = (a - b) / 2
    u = (h + math.sqrt(2 - h * h)) / 2
    return [u * u, (u - h) ** 2]


def test_worked_examples_with_exact_zeros():
    x = torch.tensor([1.0, 0.8, -1.0], dtype=torch.float64)
    # sparsemax: tau = (1 + 0.8 - 1) / 2 = -0.1, so p = [0.6, 0.4, 0] (-1 < tau)
    p = rl.sparsemax(x)
    torch.testing.assert_close(p, torch.tensor([0.6, 0.4, 0.0], dtype=torch.float64))
    assert p[2] == 0
    q = rl.entmax15(x)
    expected = torch.tensor(_entmax15_two(1.0, 0.8) + [0.0], dtype=torch.float64)
    torch.testing.assert_close(q, expected)
    assert q[2] == 0
    # softmax gives every entry weight; entmax15 is less sparse than sparsemax
    y = torch.tensor([2.0, 1.0, 0.5, -0.2], dtype=torch.float64)
    assert (rl.softmax(y) > 0).all()
    assert int((rl.entmax15(y) > 0).sum()) >= int((rl.sparsemax(y) > 0).sum())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_sparsemax_of_two_categories_is_a_clipped_line(dtype):
    d = torch.linspace(-3, 3, 25, dtype=torch.float64)
    t = 0.5
    x = torch.stack([d, torch.zeros_like(d)], -1).to(dtype)
    p = rl.sparsemax(x, t)
    expected = (d / (2 * t) + 0.5).clamp(0, 1)  # the "hard sigmoid" of (x1 - x2) / T
    torch.testing.assert_close(p[:, 0].double(), expected, **TOL[dtype])
    assert ((p == 0) | (p == 1)).sum() >= 2 * 12  # |d| >= T: exactly 0 and 1


@pytest.mark.parametrize("name", FNS)
def test_jacobian_is_the_closed_form(name):
    fn = FNS[name][0]
    x = torch.tensor([1.0, 0.7, 0.2, -2.0], dtype=torch.float64)
    t = 0.8
    jac = torch.autograd.functional.jacobian(lambda z: fn(z, t), x)
    p = fn(x, t)
    if name == "sparsemax":
        s = (p > 0).double()
        expected = (torch.diag(s) - torch.outer(s, s) / s.sum()) / t
    else:
        g = p.sqrt()
        expected = (torch.diag(g) - torch.outer(g, g) / g.sum()) / t
    torch.testing.assert_close(jac, expected)
    assert p[3] == 0 and (jac[3] == 0).all() and (jac[:, 3] == 0).all()


@pytest.mark.parametrize("name", FNS)
def test_one_category_and_empty_batches(name):
    fn = FNS[name][0]
    x = torch.tensor(3.0, requires_grad=True)
    p = fn(x)
    assert p.shape == () and p.item() == 1.0
    p.backward()
    assert x.grad.item() == 0.0
    assert fn(torch.zeros(4, 0), dim=0).shape == (4, 0)


# --------------------------------------------------------------------------------------
# masks, limits, extreme logits
# --------------------------------------------------------------------------------------

X_MASKED = [[0.5, NINF, 2.0, -1.0, 1.5], [NINF, NINF, -3.0, 0.0, 0.25], [1.5, 0.5, 1.0, 2.0, NINF]]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", FNS)
def test_masked_entries_weight_zero_and_the_rest_as_if_they_were_absent(name, dim, dtype):
    ours, oracle = FNS[name]
    rows = torch.tensor(X_MASKED, dtype=torch.float64)
    x = (rows if dim == -1 else rows.t()).to(dtype).requires_grad_(True)
    w = torch.linspace(-1, 1, x.numel(), dtype=torch.float64).reshape(x.shape).to(dtype)
    p = ours(x, 0.5, dim=dim)
    (g,) = torch.autograd.grad((p * w).sum(), x)
    masked = torch.isinf(x.detach())
    assert torch.isfinite(p).all() and torch.isfinite(g).all()
    assert (p[masked] == 0).all() and (g[masked] == 0).all()
    for xr, pr, gr, wr in zip(*(_rows(t, dim) for t in (x.detach(), p, g, w))):
        keep = torch.isfinite(xr)
        xi = xr[keep].double().requires_grad_(True)
        pi = oracle(xi / 0.5, dim=-1)
        (gi,) = torch.autograd.grad((pi * wr[keep].double()).sum(), xi)
        torch.testing.assert_close(pr[keep].double(), pi.detach(), **TOL[dtype])
        torch.testing.assert_close(gr[keep].double(), gi, **TOL[dtype])


# a unique maximum; a tie (0, 2) beside a mask; a tie (1, 3) beside a mask (exact in all dtypes)
X_LIMIT = [[1.0, 4.0, -2.0, 3.0], [0.5, NINF, 0.5, 0.25], [-3.0, -1.0, NINF, -1.0]]
W_LIMIT = [[0.25, 0.5, -0.5, 1.0], [1.0, 0.5, -1.0, 0.25], [0.5, -0.25, 1.0, 0.75]]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", FNS)
def test_zero_temperature_limit_is_one_hot_with_ties_split(name, dim, dtype):
    fn = FNS[name][0]
    rows = torch.tensor(X_LIMIT, dtype=torch.float64)
    x = (rows if dim == -1 else rows.t()).to(dtype).requires_grad_(True)
    w = torch.tensor(W_LIMIT, dtype=torch.float64)
    w = (w if dim == -1 else w.t()).to(dtype)
    top = rows == rows.max(-1, keepdim=True).values
    p_rows = top.double() / top.sum(-1, keepdim=True)
    expected = p_rows if dim == -1 else p_rows.t()
    for t in (torch.finfo(dtype).tiny, 1e-38, 1e-300, 5e-324):
        p = fn(x, t, dim=dim)
        assert p.dtype == dtype and torch.equal(p.detach().double(), expected)
    # the gradient at T = tiny: on the support S (the tied maxima), J w = c (w - mean_S w) / T
    # with c = 1 (sparsemax) or sqrt(1/|S|) (entmax15); a unique maximum gets 0
    t = torch.finfo(dtype).tiny
    (g,) = torch.autograd.grad((fn(x, t, dim=dim) * w).sum(), x)
    wr = torch.tensor(W_LIMIT, dtype=torch.float64)
    s = top.double()
    c = 1.0 if name == "sparsemax" else (1 / s.sum(-1, keepdim=True)).sqrt()
    g_rows = c * s * (wr - (s * wr).sum(-1, keepdim=True) / s.sum(-1, keepdim=True)) / t
    g_rows[0] = 0.0  # |S| = 1
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g.double(), g_rows if dim == -1 else g_rows.t(), **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", FNS)
def test_infinite_temperature_limit_is_uniform_over_unmasked(name, dim, dtype):
    fn = FNS[name][0]
    rows = torch.tensor(X_LIMIT, dtype=torch.float64)
    x = (rows if dim == -1 else rows.t()).to(dtype).requires_grad_(True)
    keep = torch.isfinite(x.detach()).double()
    expected = keep / keep.sum(dim, keepdim=True)
    for t in (1e38, 1e300, torch.finfo(torch.float64).max):
        p = fn(x, t, dim=dim)
        torch.testing.assert_close(p.detach().double(), expected, **TOL[dtype])
        (g,) = torch.autograd.grad((p * torch.ones_like(p)).sum() + p.select(dim, 0).sum(), x)
        assert torch.isfinite(g).all() and (g[keep == 0] == 0).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", FNS)
def test_extreme_tensor_temperatures_give_finite_gradients_in_x_and_t(name, dtype):
    fn = FNS[name][0]
    x = torch.tensor(X_LIMIT, dtype=dtype, requires_grad=True)
    for tdt in (torch.float32, torch.float64):
        t = torch.tensor([[1e-38], [1.0], [1e38]], dtype=tdt, requires_grad=True)
        p = fn(x, t)
        assert p.dtype == dtype
        gx, gt = torch.autograd.grad((p * torch.tensor(W_LIMIT, dtype=dtype)).sum(), (x, t))
        assert gt.dtype == tdt and torch.isfinite(gx).all() and torch.isfinite(gt).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", FNS)
def test_logits_near_the_dtype_maximum(name, dtype):
    fn = FNS[name][0]
    big = torch.finfo(dtype).max
    x = torch.tensor([[big, -big, big / 2, NINF], [big / 2, big / 2, -big, 0.0]], dtype=dtype)
    x.requires_grad_(True)
    for t in (1.0, 1e-38, 1e38):
        p = fn(x, t)
        (g,) = torch.autograd.grad((p * torch.tensor([1.0, -1.0, 0.5, 0.25], dtype=dtype)).sum(), x)
        assert torch.isfinite(p).all() and torch.isfinite(g).all()
        sums = p.detach().double().sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), **TOL[dtype])
    p = fn(x.detach(), 1.0)
    assert torch.equal(p[0].double(), torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64))
    assert torch.equal(p[1].double(), torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("name", FNS)
def test_bad_input_refused(name):
    fn = FNS[name][0]
    with pytest.raises(ValueError, match="x contains NaN"):
        fn(torch.tensor([0.0, math.nan]))
    with pytest.raises(ValueError, match="x contains NaN"):
        fn(torch.tensor(math.nan))
    with pytest.raises(ValueError, match="temperature"):
        fn(torch.zeros(3), 0.0)
    with pytest.raises(TypeError, match="x"):
        fn(torch.zeros(3, dtype=torch.long))
