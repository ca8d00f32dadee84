"""Hypothesis property tests: finite values and finite gradients over the whole valid range of
each dtype -- logits up to +-(dtype max)/2, -inf masks, temperatures from the dtype's smallest
normal number (``torch.finfo(dtype).tiny``) up to 1e38 -- in all four floating dtypes, plus
the invariants that hold for every input (a softmax is a distribution with masked entries 0, a
soft arg max lies in [0, N-1], a soft max between the min and the max of the unmasked
entries, a hard sample is exactly one-hot and never picks a masked category, ...).

Upstream gradient weights lie in [-1, 1]: at a tie and T = tiny the true gradient is about
1/(2T), which the dtype holds (float16: 2^13) only with weights of that size.

A row that is masked everywhere must be refused (ValueError). Example counts are modest (30
per test and dtype, derandomized so CI is reproducible).
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SETTINGS = settings(
    max_examples=30,
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
NINF = float("-inf")


def _logit(dtype):
    half_max = torch.finfo(dtype).max / 2
    return st.one_of(
        st.floats(-half_max, half_max, allow_nan=False, allow_infinity=False),
        st.floats(-10.0, 10.0),
        st.sampled_from([-half_max, half_max, 0.0, 1e4, -1e4, torch.finfo(dtype).tiny, NINF]),
    )


def _temperature(dtype):
    tiny = torch.finfo(dtype).tiny
    return st.one_of(
        st.sampled_from([tiny, 2 * tiny, 1e-3, 1.0, 1e3, 1e38]),
        st.floats(math.log10(tiny), 38.0).map(lambda e: 10.0**e),
    )


@st.composite
def logits_cases(draw, dtype):
    rows = draw(st.integers(1, 3))
    n = draw(st.integers(1, 8))
    vals = draw(st.lists(_logit(dtype), min_size=rows * n, max_size=rows * n))
    x = torch.tensor(vals, dtype=torch.float64).reshape(rows, n).to(dtype)
    dim = draw(st.sampled_from([0, 1, -1]))
    return x, draw(_temperature(dtype)), dim, draw(st.integers(0, 2**31))


def _prepare(x, seed, out_shape):
    w = torch.rand(out_shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.clone().requires_grad_(True), (2 * w - 1).to(x.dtype)


def _all_masked(x, dim):
    return bool(torch.isneginf(x).all(dim).any())


def _finite_grad(out, x, w):
    (g,) = torch.autograd.grad((out * w).sum(), x)
    assert g.dtype == x.dtype
    assert torch.isfinite(g).all(), g
    assert (g[torch.isneginf(x.detach())] == 0).all(), g  # a masked entry gets no gradient
    return g


def _refused_if_all_masked(fn, x, dim):
    if _all_masked(x, dim):
        with pytest.raises(ValueError, match="-inf for every category"):
            fn(x)
        return True
    return False


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_softmax_finite_and_a_distribution(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    if _refused_if_all_masked(lambda z: rl.softmax(z, t, dim), x0, dim):
        return
    x, w = _prepare(x0, seed, x0.shape)
    p = rl.softmax(x, temperature=t, dim=dim)
    assert p.dtype == dtype and p.shape == x.shape
    assert torch.isfinite(p).all(), p
    assert (p >= 0).all() and (p <= 1).all()
    assert (p[torch.isneginf(x0)] == 0).all()
    sums = p.detach().double().sum(dim)
    assert torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=EPS[dtype])
    _finite_grad(p, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_soft_argmax_finite_and_in_range(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    if _refused_if_all_masked(lambda z: rl.soft_argmax(z, t, dim), x0, dim):
        return
    n = x0.shape[dim]
    out_shape = x0.sum(dim).shape
    x, w = _prepare(x0, seed, out_shape)
    i = rl.soft_argmax(x, temperature=t, dim=dim)
    assert i.dtype == dtype and i.shape == out_shape
    assert torch.isfinite(i).all(), i
    tol = EPS[dtype] * max(n, 1)
    assert (i >= -tol).all() and (i <= n - 1 + tol).all()
    _finite_grad(i, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_soft_max_finite_and_between_min_and_max(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    if _refused_if_all_masked(lambda z: rl.soft_max(z, t, dim), x0, dim):
        return
    out_shape = x0.sum(dim).shape
    x, w = _prepare(x0, seed, out_shape)
    v = rl.soft_max(x, temperature=t, dim=dim)
    assert v.dtype == dtype and v.shape == out_shape
    assert torch.isfinite(v).all(), v
    xd = x0.double()
    finite = torch.isfinite(xd)
    lo = torch.where(finite, xd, math.inf).min(dim).values
    hi = xd.max(dim).values
    tol = EPS[dtype] * (torch.where(finite, xd, 0.0).abs().max(dim).values + 1) * 2
    vd = v.detach().double()
    assert (vd >= lo - tol).all() and (vd <= hi + tol).all()
    _finite_grad(v, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_softplus_finite_and_above_relu(dtype, data):
    x0, _, _, seed = data.draw(logits_cases(dtype))
    # beta from 4 log(2) / max (softplus(0) = log(2)/beta = max/4) up to 1e38
    lowest = math.log10(4 * math.log(2) / torch.finfo(dtype).max)
    beta = data.draw(st.floats(lowest, 38.0).map(lambda e: 10.0**e))
    x, w = _prepare(x0, seed, x0.shape)
    y = rl.softplus(x, beta=beta)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.isfinite(y).all(), y
    yd, xd = y.detach().double(), x0.double()
    assert (yd >= 0).all()
    assert (yd >= xd - EPS[dtype] * (xd.abs().nan_to_num(0.0, 0.0, 0.0) + 1)).all()
    g = _finite_grad(y, x, torch.ones_like(w))
    # d softplus / dx = sigmoid(beta x) in [0, 1]
    assert (g >= 0).all() and (g <= 1).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_gumbel_softmax_soft_finite(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    gen = torch.Generator().manual_seed(seed)
    if _refused_if_all_masked(lambda z: rl.gumbel_softmax(z, t, dim=dim, generator=gen), x0, dim):
        return
    x, w = _prepare(x0, seed, x0.shape)
    y = rl.gumbel_softmax(x, temperature=t, dim=dim, generator=gen)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.isfinite(y).all(), y
    assert (y >= 0).all() and (y <= 1).all()
    assert (y[torch.isneginf(x0)] == 0).all()
    sums = y.detach().double().sum(dim)
    assert torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=EPS[dtype])
    _finite_grad(y, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_gumbel_softmax_hard_finite_and_one_hot(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    gen = torch.Generator().manual_seed(seed)

    def hard(z):
        return rl.gumbel_softmax(z, temperature=t, hard=True, dim=dim, generator=gen)

    if _refused_if_all_masked(hard, x0, dim):
        return
    x, w = _prepare(x0, seed, x0.shape)
    y = hard(x)
    assert y.dtype == dtype and y.shape == x.shape
    yd = y.detach()
    assert torch.isfinite(yd).all()
    assert ((yd == 0) | (yd == 1)).all(), yd
    assert (yd.sum(dim) == 1).all(), yd
    assert (yd[torch.isneginf(x0)] == 0).all()
    _finite_grad(y, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_st_argmax_finite_and_exact_index(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    if _refused_if_all_masked(lambda z: rl.st_argmax(z, t, dim), x0, dim):
        return
    out_shape = x0.sum(dim).shape
    x, w = _prepare(x0, seed, out_shape)
    i = rl.st_argmax(x, temperature=t, dim=dim)
    assert i.dtype == dtype and i.shape == out_shape
    assert torch.isfinite(i).all()
    # the value is an index of a maximal entry (ties in the rounded dtype may pick any)
    idx = i.detach().long()
    assert torch.equal(idx.to(dtype), i.detach())
    picked = x0.gather(dim, idx.unsqueeze(dim)).squeeze(dim)
    assert torch.equal(picked, x0.max(dim).values)
    _finite_grad(i, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_st_one_hot_argmax_finite_and_one_hot(dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    if _refused_if_all_masked(lambda z: rl.st_one_hot_argmax(z, t, dim), x0, dim):
        return
    x, w = _prepare(x0, seed, x0.shape)
    y = rl.st_one_hot_argmax(x, temperature=t, dim=dim)
    yd = y.detach()
    assert ((yd == 0) | (yd == 1)).all() and (yd.sum(dim) == 1).all()
    assert (yd[torch.isneginf(x0)] == 0).all()
    _finite_grad(y, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_gumbel_max_sample_is_a_valid_unmasked_index(dtype, data):
    x0, _, dim, seed = data.draw(logits_cases(dtype))
    gen = torch.Generator().manual_seed(seed)
    if _refused_if_all_masked(lambda z: rl.gumbel_max_sample(z, dim=dim, generator=gen), x0, dim):
        return
    idx = rl.gumbel_max_sample(x0, dim=dim, generator=gen)
    assert idx.dtype == torch.long
    assert (idx >= 0).all() and (idx < x0.shape[dim]).all()
    picked = x0.gather(dim, idx.unsqueeze(dim))
    assert not torch.isneginf(picked).any()


# --------------------------------------------------------------------------------------
# the fifth part: sparsemax, entmax15, relaxed Bernoulli, Gumbel-top-k, perturbed arg max
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sparsemax", "entmax15"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_sparse_maps_finite_and_a_distribution(name, dtype, data):
    x0, t, dim, seed = data.draw(logits_cases(dtype))
    fn = getattr(rl, name)
    if _refused_if_all_masked(lambda z: fn(z, t, dim), x0, dim):
        return
    x, w = _prepare(x0, seed, x0.shape)
    p = fn(x, temperature=t, dim=dim)
    assert p.dtype == dtype and p.shape == x.shape
    assert torch.isfinite(p).all() and (p >= 0).all() and (p <= 1).all(), p
    assert (p[torch.isneginf(x0)] == 0).all()
    sums = p.detach().double().sum(dim)
    assert torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=EPS[dtype])
    # the arg max always keeps weight: no entry outweighs it
    top = p.detach().gather(dim, x0.argmax(dim, keepdim=True))
    assert (top >= p.detach().amax(dim, keepdim=True)).all()
    _finite_grad(p, x, w)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data(), hard=st.booleans())
def test_relaxed_bernoulli_strictly_inside_the_unit_interval(dtype, data, hard):
    x0, t, _, seed = data.draw(logits_cases(dtype))
    gen = torch.Generator().manual_seed(seed)
    x, w = _prepare(x0, seed, (2, *x0.shape))
    y = rl.relaxed_bernoulli_rsample(x, t, (2,), hard=hard, generator=gen)
    assert y.dtype == dtype and y.shape == (2, *x0.shape)
    if hard:
        assert ((y == 0) | (y == 1)).all()
    else:
        assert ((y > 0) & (y < 1)).all(), y
    (g,) = torch.autograd.grad((y * w).sum(), x)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_gumbel_topk_distinct_unmasked_indices(dtype, data):
    x0, _, dim, seed = data.draw(logits_cases(dtype))
    gen = torch.Generator().manual_seed(seed)
    unmasked = int((~torch.isneginf(x0)).sum(dim).min()) if x0.numel() else 0
    k = data.draw(st.integers(1, x0.shape[dim]))
    if unmasked < k:  # every category masked, or fewer unmasked than k: refused
        with pytest.raises(ValueError):
            rl.gumbel_topk(x0, k, dim=dim, generator=gen)
        return
    idx = rl.gumbel_topk(x0, k, dim=dim, generator=gen)
    assert idx.dtype == torch.long and idx.shape[dim] == k
    assert not torch.isneginf(x0.gather(dim, idx)).any()
    s = idx.sort(dim).values
    assert (s.narrow(dim, 1, k - 1) > s.narrow(dim, 0, k - 1)).all()  # distinct


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@SETTINGS
@given(data=st.data(), noise=st.sampled_from(["gumbel", "normal"]))
def test_perturbed_argmax_finite_and_a_distribution(dtype, data, noise):
    x0, sigma, dim, seed = data.draw(logits_cases(dtype))
    gen = torch.Generator().manual_seed(seed)

    def call(z):
        return rl.perturbed_argmax(z, sigma, 16, noise=noise, dim=dim, generator=gen)

    if _refused_if_all_masked(call, x0, dim):
        return
    x, w = _prepare(x0, seed, x0.shape)
    y = call(x)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.isfinite(y).all() and (y >= 0).all()
    assert (y[torch.isneginf(x0)] == 0).all()
    assert (y.detach().double().sum(dim) == 1).all()  # k/16: exact in every dtype
    _finite_grad(y, x, w)
