"""Deterministic relaxations of relaxlib against PyTorch's own functions.

Everything here is checked against an independent reference (a PyTorch function, or a
pure-Python computation), never against output of relaxlib itself.  The contract is the
section "relaxlib: the public API" of DESIGN.md.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from shared_helpers import TOL

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _randn(*shape, dtype=torch.float64, seed=0, scale=3.0):
    return (torch.randn(*shape, generator=_gen(seed), dtype=torch.float64) * scale).to(dtype)


def _close(actual, expected, dtype=None, **kw):
    tol = dict(TOL[dtype if dtype is not None else expected.dtype])
    tol.update(kw)
    torch.testing.assert_close(actual, expected, **tol)


# --------------------------------------------------------------------------------------
# softplus
# --------------------------------------------------------------------------------------

SOFTPLUS_X = [-1e4, -300.0, -100.0, -30.0, -5.0, -1.0, -0.1, 0.0, 0.1, 1.0, 5.0, 19.0, 21.0]
SOFTPLUS_X += [30.0, 100.0, 300.0, 1e4]
BETAS = [0.25, 0.5, 1.0, 2.0, 10.0]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("beta", BETAS)
def test_softplus_matches_torch(dtype, beta):
    # large |x| makes exp(beta * x) overflow in every dtype (float16 from x*beta > 11,
    # float32 from > 88, float64 from > 709): the relaxation must be overflow-safe.
    x = torch.tensor(SOFTPLUS_X, dtype=dtype)
    # F.softplus switches to the identity above `threshold` (20 by default); the exact
    # value differs from x by log1p(exp(-20))/beta < 2.1e-9/beta, far below every tolerance.
    expected = F.softplus(x.double(), beta=beta).to(dtype)
    out = rl.softplus(x, beta=beta)
    assert out.dtype == dtype
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    _close(out, expected, dtype)


def test_softplus_default_beta_is_one():
    x = _randn(7, 3, dtype=torch.float64)
    _close(rl.softplus(x), F.softplus(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beta", BETAS)
def test_softplus_gradient_matches_torch(dtype, beta):
    x0 = torch.tensor(SOFTPLUS_X, dtype=dtype)
    w = torch.linspace(-1.0, 2.0, len(SOFTPLUS_X), dtype=dtype)
    x1 = x0.clone().requires_grad_(True)
    x2 = x0.clone().requires_grad_(True)
    (rl.softplus(x1, beta=beta) * w).sum().backward()
    (F.softplus(x2, beta=beta) * w).sum().backward()
    assert torch.isfinite(x1.grad).all()
    _close(x1.grad, x2.grad)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softplus_no_overflow_near_dtype_max(dtype):
    # beta * x overflows to inf here although softplus(x) = x is representable.
    big = torch.finfo(dtype).max / 4
    x = torch.tensor([big, -big], dtype=dtype, requires_grad=True)
    out = rl.softplus(x, beta=10.0)
    assert torch.isfinite(out).all()
    _close(out.detach(), torch.tensor([big, 0.0], dtype=dtype), dtype)
    out.sum().backward()
    _close(x.grad, torch.tensor([1.0, 0.0], dtype=dtype), dtype)


def test_softplus_derivative_is_sigmoid():
    x = _randn(50, dtype=torch.float64).requires_grad_(True)
    for beta in BETAS:
        (g,) = torch.autograd.grad(rl.softplus(x, beta=beta).sum(), x)
        _close(g, torch.sigmoid(beta * x.detach()))


# --------------------------------------------------------------------------------------
# softmax, soft_argmax, soft_max
# --------------------------------------------------------------------------------------

TEMPERATURES = [0.05, 0.2, 0.8, 1.0, 3.7]
DIMS_3D = [0, 1, 2, -1, -2, -3]


def _ref_softmax(x, t, dim):
    return torch.softmax(x.double() / t, dim=dim)


def _ref_soft_argmax(x, t, dim):
    p = _ref_softmax(x, t, dim).movedim(dim, -1)
    idx = torch.arange(p.shape[-1], dtype=torch.float64)
    return (p * idx).sum(-1)


def _ref_soft_max(x, t, dim):
    return (_ref_softmax(x, t, dim) * x.double()).sum(dim)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("t", TEMPERATURES)
@pytest.mark.parametrize("dim", DIMS_3D)
def test_softmax_matches_torch(dtype, t, dim):
    x = _randn(3, 4, 5, dtype=dtype, seed=1)
    out = rl.softmax(x, temperature=t, dim=dim)
    assert out.dtype == dtype and out.shape == x.shape
    _close(out, _ref_softmax(x, t, dim).to(dtype), dtype)


def test_softmax_defaults_are_temperature_one_last_dim():
    x = _randn(3, 4, 5, seed=2)
    _close(rl.softmax(x), torch.softmax(x, dim=-1))
    _close(rl.soft_argmax(x), _ref_soft_argmax(x, 1.0, -1))
    _close(rl.soft_max(x), _ref_soft_max(x, 1.0, -1))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("t", TEMPERATURES)
@pytest.mark.parametrize("dim", DIMS_3D)
def test_soft_argmax_matches_reference(dtype, t, dim):
    x = _randn(3, 4, 5, dtype=dtype, seed=3)
    out = rl.soft_argmax(x, temperature=t, dim=dim)
    expected_shape = list(x.shape)
    del expected_shape[dim]
    assert out.dtype == dtype
    assert list(out.shape) == expected_shape
    _close(out, _ref_soft_argmax(x, t, dim).to(dtype), dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("t", TEMPERATURES)
@pytest.mark.parametrize("dim", DIMS_3D)
def test_soft_max_matches_reference(dtype, t, dim):
    x = _randn(3, 4, 5, dtype=dtype, seed=4)
    out = rl.soft_max(x, temperature=t, dim=dim)
    expected_shape = list(x.shape)
    del expected_shape[dim]
    assert out.dtype == dtype
    assert list(out.shape) == expected_shape
    _close(out, _ref_soft_max(x, t, dim).to(dtype), dtype)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_soft_argmax_dim_is_reduced_not_softmax_axis_of_other_dim(dim):
    # Non-square input so that reducing/indexing along the wrong axis cannot pass.
    x = _randn(2, 7, seed=5)
    out = rl.soft_argmax(x, temperature=0.5, dim=dim)
    n = x.shape[dim]
    assert torch.all(out >= 0) and torch.all(out <= n - 1)
    _close(out, _ref_soft_argmax(x, 0.5, dim))


LECTURE_X = [1.1, 4.0, -0.1, 2.3]


def _py_softmax(xs, t):
    m = max(xs)
    e = [math.exp((v - m) / t) for v in xs]
    s = sum(e)
    return [v / s for v in e]


@pytest.mark.parametrize("t", [1.0, 0.8, 0.6, 0.4, 0.2])
def test_lecture_vector_against_pure_python(t):
    # Pure-Python float64 reference for the lecture's example x = [1.1, 4.0, -0.1, 2.3].
    p = _py_softmax(LECTURE_X, t)
    x = torch.tensor(LECTURE_X, dtype=torch.float64)
    _close(rl.softmax(x, temperature=t), torch.tensor(p, dtype=torch.float64))
    idx = sum(i * pi for i, pi in enumerate(p))
    val = sum(xi * pi for xi, pi in zip(LECTURE_X, p))
    assert rl.soft_argmax(x, temperature=t).item() == pytest.approx(idx, rel=1e-12)
    assert rl.soft_max(x, temperature=t).item() == pytest.approx(val, rel=1e-12)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_low_temperature_limit_is_argmax_and_max(dtype):
    x = torch.tensor(LECTURE_X, dtype=dtype)
    tol = {"abs": 0.05} if dtype in (torch.float16, torch.bfloat16) else {"abs": 1e-5}
    assert rl.soft_argmax(x, temperature=1e-3).item() == pytest.approx(1.0, **tol)
    assert rl.soft_max(x, temperature=1e-3).item() == pytest.approx(x.max().item(), **tol)
    p = rl.softmax(x, temperature=1e-3)
    assert torch.isfinite(p).all()
    assert p[1].item() == pytest.approx(1.0, **tol)


def test_high_temperature_limit_is_uniform():
    x = torch.tensor(LECTURE_X, dtype=torch.float64)
    p = rl.softmax(x, temperature=1e6)
    _close(p, torch.full((4,), 0.25, dtype=torch.float64), rtol=0, atol=1e-5)
    assert rl.soft_argmax(x, temperature=1e6).item() == pytest.approx(1.5, abs=1e-5)
    assert rl.soft_max(x, temperature=1e6).item() == pytest.approx(sum(LECTURE_X) / 4, abs=1e-5)


@pytest.mark.parametrize("fn", ["softmax", "soft_argmax", "soft_max"])
def test_temperature_gradients_match_reference(fn):
    # Gradients w.r.t. x of the relaxations equal those of the reference formulas.
    refs = {"softmax": _ref_softmax, "soft_argmax": _ref_soft_argmax, "soft_max": _ref_soft_max}
    x = _randn(4, 6, seed=6)
    for dim in (0, -1):
        x1 = x.clone().requires_grad_(True)
        x2 = x.clone().requires_grad_(True)
        o1 = getattr(rl, fn)(x1, temperature=0.7, dim=dim)
        o2 = refs[fn](x2, 0.7, dim)
        w = _randn(*o1.shape, seed=7)
        (g1,) = torch.autograd.grad((o1 * w).sum(), x1)
        (g2,) = torch.autograd.grad((o2 * w).sum(), x2)
        _close(g1, g2)


# --------------------------------------------------------------------------------------
# one_hot_argmax
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dim", DIMS_3D)
def test_one_hot_argmax_matches_torch(dtype, dim):
    x = _randn(3, 4, 5, dtype=torch.float64, seed=8)
    # argmax in the reduced dtype could differ only on rounding ties; take the argmax of the
    # rounded tensor itself.
    x = x.to(dtype)
    n = x.shape[dim]
    expected = F.one_hot(x.argmax(dim=dim), n).movedim(-1, dim).to(dtype)
    out = rl.one_hot_argmax(x, dim=dim)
    assert out.dtype == dtype
    assert out.shape == x.shape
    assert torch.equal(out, expected)


def test_one_hot_argmax_default_dim_is_last():
    x = _randn(3, 4, 5, seed=9)
    assert torch.equal(rl.one_hot_argmax(x), F.one_hot(x.argmax(-1), 5).double())


def test_one_hot_argmax_ties_give_exactly_one_one():
    # A "one-hot" vector has exactly one 1, even when several entries share the maximum.
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 3.0, 3.0], [2.0, -1.0, 2.0]])
    out = rl.one_hot_argmax(x)
    assert torch.equal(out.sum(-1), torch.ones(3))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    picked = (out * x).sum(-1)
    assert torch.equal(picked, x.max(-1).values)


# --------------------------------------------------------------------------------------
# huber and smooth_l1
# --------------------------------------------------------------------------------------

REDUCTIONS = ["none", "mean", "sum"]
DELTAS = [0.1, 0.5, 1.0, 2.5]


def _huber_pair(dtype=torch.float64, seed=10):
    inp = _randn(4, 9, dtype=dtype, seed=seed, scale=2.0)
    tgt = _randn(4, 9, dtype=dtype, seed=seed + 1, scale=2.0)
    return inp, tgt


def _check_loss_against_torch(ours, theirs, param_name, param, reduction, dtype):
    inp0, tgt0 = _huber_pair(dtype)
    i1, t1 = inp0.clone().requires_grad_(True), tgt0.clone().requires_grad_(True)
    i2, t2 = inp0.clone().requires_grad_(True), tgt0.clone().requires_grad_(True)
    o1 = ours(i1, t1, **{param_name: param, "reduction": reduction})
    o2 = theirs(i2, t2, **{param_name: param, "reduction": reduction})
    assert o1.dtype == dtype
    assert o1.shape == o2.shape
    _close(o1, o2)
    w = _randn(*o1.shape, dtype=dtype, seed=12) if o1.dim() else torch.tensor(1.7, dtype=dtype)
    g1 = torch.autograd.grad((o1 * w).sum(), (i1, t1))
    g2 = torch.autograd.grad((o2 * w).sum(), (i2, t2))
    _close(g1[0], g2[0])
    _close(g1[1], g2[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", DELTAS)
def test_huber_matches_torch(dtype, reduction, delta):
    _check_loss_against_torch(rl.huber, F.huber_loss, "delta", delta, reduction, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", DELTAS)
def test_smooth_l1_matches_torch(dtype, reduction, beta):
    _check_loss_against_torch(rl.smooth_l1, F.smooth_l1_loss, "beta", beta, reduction, dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("param", [0.5, 2.0])
def test_huber_and_smooth_l1_half_precision(dtype, reduction, param):
    inp, tgt = _huber_pair(dtype)
    ref = F.huber_loss(inp.double(), tgt.double(), reduction=reduction, delta=param)
    out = rl.huber(inp, tgt, delta=param, reduction=reduction)
    assert out.dtype == dtype
    _close(out, ref.to(dtype), dtype)
    ref = F.smooth_l1_loss(inp.double(), tgt.double(), reduction=reduction, beta=param)
    out = rl.smooth_l1(inp, tgt, beta=param, reduction=reduction)
    assert out.dtype == dtype
    _close(out, ref.to(dtype), dtype)


def test_huber_and_smooth_l1_defaults():
    inp, tgt = _huber_pair()
    # defaults: delta = beta = 1.0 and reduction = "none" (not PyTorch's "mean")
    _close(rl.huber(inp, tgt), F.huber_loss(inp, tgt, reduction="none", delta=1.0))
    _close(rl.smooth_l1(inp, tgt), F.smooth_l1_loss(inp, tgt, reduction="none", beta=1.0))
    assert rl.huber(inp, tgt).shape == inp.shape


def test_huber_values_at_and_around_the_kink():
    # |d| <= delta: d^2/2 ; |d| > delta: delta (|d| - delta/2)   (Huber 1964)
    delta = 1.5
    d = torch.tensor([-4.0, -1.5, -1.0, 0.0, 0.5, 1.5, 1.6, 10.0], dtype=torch.float64)
    expected = torch.where(d.abs() <= delta, 0.5 * d**2, delta * (d.abs() - 0.5 * delta))
    _close(rl.huber(d, torch.zeros_like(d), delta=delta), expected)
    # smooth L1: |d| < beta: d^2 / (2 beta) ; else |d| - beta/2
    expected_sl1 = torch.where(d.abs() < delta, 0.5 * d**2 / delta, d.abs() - 0.5 * delta)
    _close(rl.smooth_l1(d, torch.zeros_like(d), beta=delta), expected_sl1)


@pytest.mark.parametrize("delta", DELTAS + [7.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_equals_delta_times_smooth_l1(delta, reduction):
    inp, tgt = _huber_pair(seed=13)
    lhs = rl.huber(inp, tgt, delta=delta, reduction=reduction)
    rhs = delta * rl.smooth_l1(inp, tgt, beta=delta, reduction=reduction)
    _close(lhs, rhs)
    # and the two are genuinely different functions unless delta == 1
    if delta != 1.0:
        assert not torch.allclose(lhs, rl.smooth_l1(inp, tgt, beta=delta, reduction=reduction))


# --------------------------------------------------------------------------------------
# gradcheck in float64
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_gradcheck_softplus(beta):
    x = torch.tensor([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 25.0], dtype=torch.float64)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: rl.softplus(z, beta=beta), (x,))
    assert torch.autograd.gradgradcheck(lambda z: rl.softplus(z, beta=beta), (x,))


@pytest.mark.parametrize("fn", ["softmax", "soft_argmax", "soft_max"])
@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gradcheck_tempered_functions(fn, t, dim):
    x = _randn(2, 3, 4, seed=20, scale=1.0).requires_grad_(True)
    f = getattr(rl, fn)
    assert torch.autograd.gradcheck(lambda z: f(z, temperature=t, dim=dim), (x,))


@pytest.mark.parametrize("fn", ["softmax", "soft_argmax", "soft_max"])
def test_gradcheck_with_respect_to_a_tensor_temperature(fn):
    # "differentiable wherever the math is": a learnable temperature given as a 0-d tensor.
    x = _randn(3, 4, seed=21)
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    f = getattr(rl, fn)
    assert torch.autograd.gradcheck(lambda tt: f(x, temperature=tt), (t,))
    # and d/dT of softmax(x/T) is the reference's
    (g,) = torch.autograd.grad(f(x, temperature=t).sum(), t)
    t2 = t.detach().clone().requires_grad_(True)
    ref = {"softmax": _ref_softmax, "soft_argmax": _ref_soft_argmax, "soft_max": _ref_soft_max}
    (g2,) = torch.autograd.grad(ref[fn](x, t2, -1).sum(), t2)
    _close(g, g2)


def test_gradcheck_softplus_tensor_beta():
    x = _randn(6, seed=22)
    beta = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b: rl.softplus(x, beta=b), (beta,))


def _away_from_kink(delta, seed):
    # residuals r = input - target with | |r| - delta | >= 0.05, so finite differences
    # (eps = 1e-6) never straddle the kink at |r| = delta.
    g = _gen(seed)
    inside = torch.rand(6, generator=g) * (delta - 0.05)
    outside = delta + 0.05 + torch.rand(6, generator=g) * 2.0
    mag = torch.cat([inside, outside])
    sign = torch.where(torch.rand(12, generator=g) < 0.5, -1.0, 1.0)
    r = (mag * sign).double().reshape(3, 4)
    target = _randn(3, 4, seed=seed + 1)
    return (target + r).requires_grad_(True), target.requires_grad_(True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_gradcheck_huber(reduction, delta):
    inp, tgt = _away_from_kink(delta, seed=23)
    assert torch.autograd.gradcheck(
        lambda a, b: rl.huber(a, b, delta=delta, reduction=reduction), (inp, tgt)
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_gradcheck_smooth_l1(reduction, beta):
    inp, tgt = _away_from_kink(beta, seed=24)
    assert torch.autograd.gradcheck(
        lambda a, b: rl.smooth_l1(a, b, beta=beta, reduction=reduction), (inp, tgt)
    )


def test_softplus_tensor_beta_has_the_sigmoid_slope_at_zero():
    # Found by chapter 2: the tensor-beta path once gave slope 1 at x = 0 (a clamp's kink).
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    rl.softplus(x, beta).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), 0.5, dtype=torch.float64))
    xs = torch.linspace(-30, 30, 61, dtype=torch.float64)
    for b in (0.5, 2.0):
        expected = F.softplus(xs, beta=b)
        assert torch.allclose(rl.softplus(xs, torch.tensor([b], dtype=torch.float64)), expected)
