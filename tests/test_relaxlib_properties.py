"""Hypothesis property tests: finite values and finite gradients for logits up to +-1e4 and
temperatures down to 1e-3, in all four floating dtypes, plus the invariants that hold for
every input (a softmax is a distribution, a soft arg max lies in [0, N-1], a soft max lies
between the min and the max, a hard sample is exactly one-hot, ...).

Example counts are modest (50 per test, derandomized so CI is reproducible).
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# absolute tolerance for "sums to one" / "inside an interval" at each dtype (a few epsilons
# times the number of terms, at most 8 here)
EPS = {
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
    torch.float32: 1e-5,
    torch.float64: 1e-12,
}

LOGIT = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    st.sampled_from([-1e4, 1e4, 0.0, -1e4 + 1.0, 9999.0]),
)
TEMPERATURE = st.one_of(
    st.sampled_from([1e-3, 1.0, 1e3]),
    st.floats(-3.0, 3.0).map(lambda e: 10.0**e),
)


@st.composite
def logits_cases(draw):
    rows = draw(st.integers(1, 3))
    n = draw(st.integers(1, 8))
    vals = draw(st.lists(LOGIT, min_size=rows * n, max_size=rows * n))
    x = torch.tensor(vals, dtype=torch.float64).reshape(rows, n)
    return x, draw(TEMPERATURE), draw(st.sampled_from([0, 1, -1])), draw(st.integers(0, 2**31))


def _prepare(x, dtype, seed, out_shape):
    x = x.to(dtype).requires_grad_(True)
    w = torch.randn(out_shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return x, w


def _finite_grad(out, x, w):
    (g,) = torch.autograd.grad((out * w).sum(), x)
    assert g.dtype == x.dtype
    assert torch.isfinite(g).all(), g
    return g


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_softmax_finite_and_a_distribution(dtype, case):
    x0, t, dim, seed = case
    x, w = _prepare(x0, dtype, seed, x0.shape)
    p = rl.softmax(x, temperature=t, dim=dim)
    assert p.dtype == dtype and p.shape == x.shape
    assert torch.isfinite(p).all(), p
    assert (p >= 0).all() and (p <= 1).all()
    sums = p.detach().double().sum(dim)
    assert torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=EPS[dtype])
    _finite_grad(p, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_soft_argmax_finite_and_in_range(dtype, case):
    x0, t, dim, seed = case
    n = x0.shape[dim]
    out_shape = x0.sum(dim).shape
    x, w = _prepare(x0, dtype, seed, out_shape)
    i = rl.soft_argmax(x, temperature=t, dim=dim)
    assert i.dtype == dtype and i.shape == out_shape
    assert torch.isfinite(i).all(), i
    tol = EPS[dtype] * max(n, 1)
    assert (i >= -tol).all() and (i <= n - 1 + tol).all()
    _finite_grad(i, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_soft_max_finite_and_between_min_and_max(dtype, case):
    x0, t, dim, seed = case
    out_shape = x0.sum(dim).shape
    x, w = _prepare(x0, dtype, seed, out_shape)
    v = rl.soft_max(x, temperature=t, dim=dim)
    assert v.dtype == dtype and v.shape == out_shape
    assert torch.isfinite(v).all(), v
    xd = x.detach().double()
    lo, hi = xd.min(dim).values, xd.max(dim).values
    tol = EPS[dtype] * (xd.abs().max(dim).values + 1) * 2
    vd = v.detach().double()
    assert (vd >= lo - tol).all() and (vd <= hi + tol).all()
    _finite_grad(v, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases(), beta=TEMPERATURE)
def test_softplus_finite_and_above_relu(dtype, case, beta):
    # beta (sharpness) spans 1e-3 .. 1e3, i.e. beta * x up to 1e7 (inf in float16).
    x0, _, _, seed = case
    x, w = _prepare(x0, dtype, seed, x0.shape)
    y = rl.softplus(x, beta=beta)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.isfinite(y).all(), y
    yd, xd = y.detach().double(), x.detach().double()
    assert (yd >= 0).all()
    assert (yd >= xd - EPS[dtype] * (xd.abs() + 1)).all()
    g = _finite_grad(y, x, torch.ones_like(w))
    # d softplus / dx = sigmoid(beta x) in [0, 1]
    assert (g >= 0).all() and (g <= 1).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_gumbel_softmax_soft_finite(dtype, case):
    x0, t, dim, seed = case
    x, w = _prepare(x0, dtype, seed, x0.shape)
    gen = torch.Generator().manual_seed(seed)
    y = rl.gumbel_softmax(x, temperature=t, dim=dim, generator=gen)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.isfinite(y).all(), y
    assert (y >= 0).all() and (y <= 1).all()
    sums = y.detach().double().sum(dim)
    assert torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=EPS[dtype])
    _finite_grad(y, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_gumbel_softmax_hard_finite_and_one_hot(dtype, case):
    x0, t, dim, seed = case
    x, w = _prepare(x0, dtype, seed, x0.shape)
    gen = torch.Generator().manual_seed(seed)
    y = rl.gumbel_softmax(x, temperature=t, hard=True, dim=dim, generator=gen)
    assert y.dtype == dtype and y.shape == x.shape
    yd = y.detach()
    assert torch.isfinite(yd).all()
    assert ((yd == 0) | (yd == 1)).all(), yd
    assert (yd.sum(dim) == 1).all(), yd
    _finite_grad(y, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_st_argmax_finite_and_exact_index(dtype, case):
    x0, t, dim, seed = case
    out_shape = x0.sum(dim).shape
    x, w = _prepare(x0, dtype, seed, out_shape)
    i = rl.st_argmax(x, temperature=t, dim=dim)
    assert i.dtype == dtype and i.shape == out_shape
    assert torch.isfinite(i).all()
    # the value is an index of a maximal entry (ties in the rounded dtype may pick any)
    idx = i.detach().long()
    assert torch.equal(idx.to(dtype), i.detach())
    xd = x.detach()
    picked = xd.gather(dim, idx.unsqueeze(dim)).squeeze(dim)
    assert torch.equal(picked, xd.max(dim).values)
    _finite_grad(i, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_st_one_hot_argmax_finite_and_one_hot(dtype, case):
    x0, t, dim, seed = case
    x, w = _prepare(x0, dtype, seed, x0.shape)
    y = rl.st_one_hot_argmax(x, temperature=t, dim=dim)
    yd = y.detach()
    assert ((yd == 0) | (yd == 1)).all() and (yd.sum(dim) == 1).all()
    _finite_grad(y, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(case=logits_cases())
def test_gumbel_max_sample_is_a_valid_index(dtype, case):
    x0, _, dim, seed = case
    idx = rl.gumbel_max_sample(x0.to(dtype), dim=dim, generator=torch.Generator().manual_seed(seed))
    assert idx.dtype == torch.long
    assert (idx >= 0).all() and (idx < x0.shape[dim]).all()
