"""relaxlib under the inputs people actually send (issue 13), one section per kind of fault:

A. a valid but extreme parameter (temperature, beta, delta, sigma) gives the mathematical
   limit, finite, or is refused with a ValueError naming it -- never NaN;
B. a tensor parameter may broadcast *to* the main input; one that would change the result's
   shape is refused, naming it and both shapes; the result keeps the input's dtype;
C. a logit of -inf masks its category (weight 0, finite value, zero gradient); NaN, +inf and
   rows of -inf only are refused, naming the argument;
D. empty or non-finite secondary inputs and invalid ``dim`` are refused, naming the argument.

Each function in all four floating dtypes, with ``dim`` other than -1, batched, with
gradients. Expected values come from the mathematics: limits written down by hand, or float64
computations by another route (the masked categories dropped, one row at a time).
"""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from shared_helpers import TOL

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
NINF = float("-inf")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _compute(dtype):
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _gumbel_like(x, seed):
    """The noise gumbel_softmax(x, generator=_gen(seed)) adds: the library's documented
    Gumbel stream, drawn in the compute dtype (float32 for half types)."""
    return rl.gumbel_noise(x.shape, generator=_gen(seed), dtype=_compute(x.dtype)).double()


# Rows of logits along the last dim: a unique maximum; a tie (0, 2) beside a masked entry;
# a tie (1, 3) beside a masked entry. Every value is exact in bfloat16 and float16.
X_LIMIT = [[1.0, 4.0, -2.0, 3.0], [0.5, NINF, 0.5, 0.25], [-3.0, -1.0, NINF, -1.0]]
# Upstream weights for the gradient checks, exact in every dtype.
W_LIMIT = [[0.25, 0.5, -0.5, 1.0], [1.0, 0.5, -1.0, 0.25], [0.5, -0.25, 1.0, 0.75]]
U_LIMIT = [1.0, -0.5, 0.25]  # for the functions that reduce a row to one number


def _oriented(rows, dim, dtype):
    """``rows`` (categories along the last axis) as a tensor whose categories are on ``dim``."""
    t = torch.tensor(rows, dtype=torch.float64)
    return (t if dim == -1 else t.t().contiguous()).to(dtype)


# --------------------------------------------------------------------------------------
# A. extreme temperatures: the limits T -> 0 and T -> infinity
# --------------------------------------------------------------------------------------

FAMILY = ["softmax", "soft_argmax", "soft_max", "st_argmax", "st_one_hot_argmax"]


def _limit_zero(xd, dim):
    """The T -> 0 limit of softmax(x / T): mass split equally among the maxima."""
    top = xd == xd.max(dim, keepdim=True).values
    return top.double() / top.sum(dim, keepdim=True)


def _expected_family(name, p, xd, dim):
    """Value of a family function given its limiting distribution ``p`` (float64)."""
    n = xd.shape[dim]
    shape = [1] * xd.dim()
    shape[dim] = n
    idx = torch.arange(n, dtype=torch.float64).reshape(shape)
    if name == "softmax":
        return p
    if name == "soft_argmax":
        return (p * idx).sum(dim)
    if name == "soft_max":
        return (p * torch.where(p > 0, xd, 0.0)).sum(dim)
    if name == "st_argmax":  # the first maximal index
        return xd.argmax(dim).double()
    return F.one_hot(xd.argmax(dim), n).movedim(-1, dim).double()  # st_one_hot_argmax


def _expected_grad(name, p, xd, t, dim):
    """d/dx of (f(x) * w).sum() at the distribution p, from the softmax Jacobian
    d p_k / d x_j = p_k (delta_kj - p_j) / T (float64; exact when p is 0, 1/2 or 1 and T is a
    power of two)."""
    n = xd.shape[dim]
    if name in ("softmax", "st_one_hot_argmax"):
        w = _oriented(W_LIMIT, dim, torch.float64)
        return p * (w - (p * w).sum(dim, keepdim=True)) / t
    u = torch.tensor(U_LIMIT, dtype=torch.float64).unsqueeze(dim)
    shape = [1] * xd.dim()
    shape[dim] = n
    idx = torch.arange(n, dtype=torch.float64).reshape(shape)
    if name in ("soft_argmax", "st_argmax"):
        return u * p * (idx - (p * idx).sum(dim, keepdim=True)) / t
    x0 = torch.where(p > 0, xd, 0.0)  # soft_max: p_k + p_k (x_k - soft_max) / T
    return u * (p + p * (x0 - (p * x0).sum(dim, keepdim=True)) / t)


def _weights(name, dim, dtype):
    if name in ("softmax", "st_one_hot_argmax"):
        return _oriented(W_LIMIT, dim, dtype)
    return torch.tensor(U_LIMIT, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", FAMILY)
def test_zero_temperature_limit_with_ties_and_masks(name, dim, dtype):
    # T = the dtype's smallest normal number: every gap of 0.25 is then >= 2^12 T, so the
    # limit is reached exactly; at the ties the gradient is its exact 1/T-sized value.
    t = torch.finfo(dtype).tiny
    x = _oriented(X_LIMIT, dim, dtype).requires_grad_(True)
    xd = x.detach().double()
    p = _limit_zero(xd, dim)
    out = getattr(rl, name)(x, t, dim=dim)
    assert out.dtype == dtype
    assert torch.equal(out.detach().double(), _expected_family(name, p, xd, dim))
    (g,) = torch.autograd.grad((out * _weights(name, dim, dtype)).sum(), x)
    expected = _expected_grad(name, p, xd, t, dim)
    assert torch.isfinite(g).all()
    assert torch.equal(g.double(), expected), (g, expected)
    # and far below the dtype's range (1e-38 is 0 in float16, 2^-126 in float32): the value
    # is the same limit, the issue's example  softmax([1, 4], 1e-38) = [0, 1]  among them
    for tiny in (1e-38, 1e-300, 5e-324):
        out = getattr(rl, name)(x.detach(), tiny, dim=dim)
        assert torch.equal(out.double(), _expected_family(name, p, xd, dim))
    assert torch.equal(
        rl.softmax(torch.tensor([1.0, 4.0], dtype=dtype), 1e-38).double(),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", ["softmax", "soft_argmax", "soft_max"])
def test_infinite_temperature_limit_is_uniform_over_unmasked(name, dim, dtype):
    x = _oriented(X_LIMIT, dim, dtype).requires_grad_(True)
    xd = x.detach().double()
    keep = torch.isfinite(xd).double()
    p = keep / keep.sum(dim, keepdim=True)
    for t in (1e38, 1e300, torch.finfo(torch.float64).max):
        out = getattr(rl, name)(x, t, dim=dim)
        assert out.dtype == dtype
        torch.testing.assert_close(
            out.detach().double(), _expected_family(name, p, xd, dim), **TOL[dtype]
        )
        (g,) = torch.autograd.grad((out * _weights(name, dim, dtype)).sum(), x)
        assert torch.isfinite(g).all()
        assert (g[torch.isinf(xd)] == 0).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dim", [-1, 0])
def test_gumbel_softmax_zero_temperature_limit(hard, dim, dtype):
    x = _oriented(X_LIMIT, dim, dtype).requires_grad_(True)
    noisy = x.detach().to(_compute(dtype)).double() + _gumbel_like(x, seed=3)
    expected = F.one_hot(noisy.argmax(dim), x.shape[dim]).movedim(-1, dim).double()
    for t in (torch.finfo(dtype).tiny, 1e-38, 1e-300):
        y = rl.gumbel_softmax(x, t, hard=hard, dim=dim, generator=_gen(3))
        assert y.dtype == dtype
        assert torch.equal(y.detach().double(), expected)
        (g,) = torch.autograd.grad((y * _weights("softmax", dim, dtype)).sum(), x)
        assert torch.equal(g, torch.zeros_like(g))  # the Jacobian of a one-hot softmax is 0


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_softplus_huge_beta_is_relu(dtype):
    x = torch.tensor([[-2.0, -0.5, 0.0], [0.25, 3.0, -1e-3]], dtype=dtype, requires_grad=True)
    xd = x.detach().double()
    for beta in (
        1e39,
        1e300,
        torch.tensor(1e300, dtype=torch.float64),
        torch.full((2, 1), 1e39, dtype=torch.float64),
    ):
        y = rl.softplus(x, beta)
        assert y.dtype == dtype
        b = float(beta.max()) if isinstance(beta, torch.Tensor) else beta
        # relu(x), and log(2)/beta at x = 0 (rounded to the dtype: subnormal or 0)
        expected = torch.where(xd == 0, math.log(2) / b, xd.clamp_min(0)).to(dtype)
        assert torch.equal(y.detach(), expected), (y, expected)
        (g,) = torch.autograd.grad(y.sum(), x)  # sigmoid(beta x): 0, 1/2 at 0, 1
        expected_g = torch.where(xd == 0, 0.5, (xd > 0).double()).to(dtype)
        assert torch.equal(g, expected_g), g


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_softplus_tiny_beta_refused_when_log2_over_beta_overflows(dtype):
    big = torch.finfo(dtype).max
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=dtype)
    too_small = math.log(2) / big / 2
    for beta in (too_small, torch.tensor([too_small, 1.0], dtype=torch.float64)[:1]):
        with pytest.raises(ValueError, match="beta"):
            rl.softplus(x, beta)
    # just inside: log(2)/beta is about max / 2, finite; softplus(x) = log(2)/beta + x/2 + ...
    beta = 2 * math.log(2) / big
    y = rl.softplus(x, beta)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(
        y.double(), torch.full((3,), big / 2, dtype=torch.float64), rtol=TOL[dtype]["rtol"], atol=0
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("fn", ["huber", "smooth_l1"])
def test_losses_at_extreme_delta_and_beta(fn, dtype):
    inp = torch.tensor([[-3.0, -0.5, 0.0], [0.25, 2.0, 100.0]], dtype=dtype, requires_grad=True)
    tgt = torch.tensor([0.5, 0.0, -1.0], dtype=dtype)
    r = (inp.detach().double() - tgt.double()).to(dtype).double()  # the dtype's residual
    a = r.abs()
    f = getattr(rl, fn)
    # results below the dtype's smallest normal number are subnormal: an absolute error of a
    # few of its smallest steps; elsewhere a few units in the last place
    info = torch.finfo(dtype)
    tol = {"rtol": 2 * info.eps, "atol": 4 * info.tiny * info.eps}
    for p in (1e-38, 1e-300, 1e38, 1e300, torch.tensor([[1e-300], [1e300]], dtype=torch.float64)):
        pd = p.double() if isinstance(p, torch.Tensor) else torch.tensor(p, dtype=torch.float64)
        if fn == "huber":  # delta -> 0: delta (|r| - delta/2) -> 0;  delta -> inf: r^2 / 2
            val = torch.where(a < pd, 0.5 * a * a, pd * (a - pd / 2))
            grad = torch.where(a < pd, r, pd * r.sign())
        else:  # beta -> 0: |r|;  beta -> inf: r^2 / (2 beta) -> 0
            val = torch.where(a < pd, 0.5 * a * (a / pd), a - pd / 2)
            grad = torch.where(a < pd, r / pd, r.sign())
        y = f(inp, tgt, p)
        assert y.dtype == dtype and torch.isfinite(y).all()
        torch.testing.assert_close(y.detach().double(), val.to(dtype).double(), **tol)
        (g,) = torch.autograd.grad(y.sum(), inp)
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g.double(), grad.to(dtype).double(), **tol)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_smooth_l1_large_beta_does_not_overflow_in_r_squared(dtype):
    # r^2 overflows the dtype although r^2 / (2 beta) does not: F.smooth_l1_loss gives inf.
    big = torch.finfo(dtype).max
    r = math.sqrt(big) * 4
    beta = r * 8
    out = rl.smooth_l1(torch.tensor([r], dtype=dtype), torch.zeros(1, dtype=dtype), beta)
    assert torch.isfinite(out).all()
    expected = torch.tensor([r * (r / beta) / 2], dtype=torch.float64)  # r^2 / (2 beta)
    torch.testing.assert_close(out.double(), expected, **TOL[dtype])
    x = torch.tensor([500.0], dtype=dtype)  # float16: 0.5 * 500^2 overflows, / 1000 would not
    assert rl.smooth_l1(x, torch.zeros_like(x), 1000.0).item() == 125.0


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_normal_rsample_extreme_sigma(dtype):
    mu = torch.tensor([[-1.0, 0.75], [2.0, 0.5]], dtype=dtype)
    for sigma in (1e-300, torch.full((2, 1), 1e-300, dtype=torch.float64)):
        y = rl.normal_rsample(mu, sigma, generator=_gen(1))
        assert y.dtype == dtype and torch.equal(y, mu)  # sigma z underflows: the limit is mu
    top = torch.finfo(dtype).max
    with pytest.raises(ValueError, match="sigma"):
        rl.normal_rsample(mu, top / 8, generator=_gen(1))
    y = rl.normal_rsample(mu, top / 32, sample_shape=(1000,), generator=_gen(1))
    assert torch.isfinite(y).all()


# --------------------------------------------------------------------------------------
# B. tensor parameters broadcast *to* the main input, never *with* it
# --------------------------------------------------------------------------------------

WIDE = torch.full((2, 1), 0.5, dtype=torch.float64)  # broadcasts with (3,), not to it
BROADCAST_CASES = [
    ("softmax", "temperature", lambda x, p: rl.softmax(x, p)),
    ("soft_argmax", "temperature", lambda x, p: rl.soft_argmax(x, p)),
    ("soft_max", "temperature", lambda x, p: rl.soft_max(x, p)),
    ("st_argmax", "temperature", lambda x, p: rl.st_argmax(x, p)),
    ("st_one_hot_argmax", "temperature", lambda x, p: rl.st_one_hot_argmax(x, p)),
    ("gumbel_softmax", "temperature", lambda x, p: rl.gumbel_softmax(x, p, generator=_gen())),
    ("softplus", "beta", lambda x, p: rl.softplus(x, p)),
    ("huber", "delta", lambda x, p: rl.huber(x, torch.zeros(3), p)),
    ("huber_target", "target", lambda x, p: rl.huber(x, p)),
    ("smooth_l1", "beta", lambda x, p: rl.smooth_l1(x, torch.zeros(3), p)),
    ("smooth_l1_target", "target", lambda x, p: rl.smooth_l1(x, p)),
    ("normal_rsample", "sigma", lambda x, p: rl.normal_rsample(x, p, generator=_gen())),
    ("reinforce_surrogate", "baseline", lambda x, p: rl.reinforce_surrogate(x, x * 2, p)),
    ("sparsemax", "temperature", lambda x, p: rl.sparsemax(x, p)),
    ("entmax15", "temperature", lambda x, p: rl.entmax15(x, p)),
    (
        "relaxed_bernoulli_rsample",
        "temperature",
        lambda x, p: rl.relaxed_bernoulli_rsample(x, p, generator=_gen()),
    ),
    ("perturbed_argmax", "sigma", lambda x, p: rl.perturbed_argmax(x, p, 16, generator=_gen())),
]


@pytest.mark.parametrize("name,param,call", BROADCAST_CASES, ids=[c[0] for c in BROADCAST_CASES])
def test_parameter_that_would_enlarge_the_result_is_refused(name, param, call):
    x = torch.tensor([0.5, -1.0, 2.0])
    with pytest.raises(ValueError, match=rf"{param} of shape \(2, 1\).*\(3,\)"):
        call(x, WIDE)
    with pytest.raises(ValueError, match=rf"{param} of shape \(1, 1\)"):
        call(x, WIDE[:1, :1])  # (1, 1) would also change the shape, to (1, 3)
    call(x, WIDE[0])  # shape (1,) broadcasts to (3,): fine


def test_issue_example_baseline_of_shape_m_1_is_refused():
    lp = torch.tensor([-0.5, -1.5], requires_grad=True)
    loss = torch.tensor([1.0, 3.0])
    with pytest.raises(ValueError, match=r"baseline of shape \(2, 1\).*\(2,\)"):
        rl.reinforce_surrogate(lp, loss, torch.tensor([[1.0], [2.0]]))
    # the same values of shape (2,): the gradient (1/m) sum (L_i - b_i) d log p_i
    (g,) = torch.autograd.grad(rl.reinforce_surrogate(lp, loss, torch.tensor([1.0, 2.0])), lp)
    assert torch.equal(g, torch.tensor([0.0, 0.5]))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", FAMILY + ["gumbel_softmax", "sparsemax", "entmax15"])
def test_per_row_temperature_equals_one_call_per_row(name, dim, dtype):
    rows = torch.tensor([[1.0, 4.0, -2.0, 3.0], [0.5, -1.0, 2.0, 0.25], [0.0, 1.0, 1.0, -3.0]])
    temps = [0.5, 2.0, 1e-30]
    t = torch.tensor(temps, dtype=torch.float64)  # float64: must not change the result dtype
    t = t[:, None] if dim == -1 else t[None, :]
    x = (rows if dim == -1 else rows.t()).to(dtype)

    def call(z, temperature, d):
        if name == "gumbel_softmax":
            return rl.gumbel_softmax(z, temperature, dim=d, generator=_gen(5))
        return getattr(rl, name)(z, temperature, dim=d)

    out = call(x, t, dim)
    assert out.dtype == dtype
    for i, ti in enumerate(temps):
        xi = x[i] if dim == -1 else x[:, i]
        if name == "gumbel_softmax":  # the noise of row i: draw the whole batch again
            ref = call(x, ti, dim)
            ref = ref[i] if dim == -1 else ref[:, i]
        else:
            ref = call(xi, ti, -1)
        got = out[i] if dim == -1 or out.dim() < 2 else out[:, i]
        torch.testing.assert_close(got.double(), ref.double(), **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_softplus_tensor_beta_per_row_and_dtype(dtype):
    x = torch.linspace(-4, 4, 9, dtype=torch.float64).to(dtype).expand(3, 9)
    betas = [0.5, 2.0, 40.0]
    y = rl.softplus(x, torch.tensor(betas, dtype=torch.float64)[:, None])
    assert y.dtype == dtype and y.shape == x.shape
    for i, b in enumerate(betas):
        ref = F.softplus(x[i].double(), beta=b).to(dtype)
        torch.testing.assert_close(y[i], ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("fn,ref", [("huber", F.huber_loss), ("smooth_l1", F.smooth_l1_loss)])
def test_loss_tensor_parameter_and_target_broadcast_to_input(fn, ref, dtype):
    kw = "delta" if fn == "huber" else "beta"
    inp = torch.tensor([[-3.0, 0.25, 1.5, 4.0], [0.5, -0.75, 2.0, 0.0]], dtype=dtype)
    inp.requires_grad_(True)
    tgt = torch.tensor([0.0, 0.5, -1.0, 1.0], dtype=torch.float64)  # (4,): to (2, 4)
    params = torch.tensor([[0.5], [2.0]], dtype=torch.float64)
    f = getattr(rl, fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "target size different to input size" warning
        out = f(inp, tgt, params)
    assert out.dtype == dtype and out.shape == inp.shape
    (g,) = torch.autograd.grad(out.sum(), inp)
    for i in range(2):
        xi = inp[i].detach().double().requires_grad_(True)
        expected = ref(xi, tgt, reduction="none", **{kw: float(params[i])})
        (gi,) = torch.autograd.grad(expected.sum(), xi)
        torch.testing.assert_close(out[i].detach(), expected.detach().to(dtype), **TOL[dtype])
        torch.testing.assert_close(g[i], gi.to(dtype), **TOL[dtype])
    # a learned delta / beta gets a finite gradient
    p = params.clone().requires_grad_(True)
    (gp,) = torch.autograd.grad(f(inp.detach(), tgt, p, reduction="mean"), p)
    assert torch.isfinite(gp).all() and gp.dtype == torch.float64


def test_normal_rsample_main_input_sets_dtype_and_shape():
    mu = torch.zeros(2, 3, dtype=torch.float16)
    y = rl.normal_rsample(mu, torch.tensor([[1.0], [2.0]], dtype=torch.float64), generator=_gen())
    assert y.dtype == torch.float16 and y.shape == (2, 3)
    sigma = torch.tensor([1.0, 2.0], dtype=torch.float64)
    y = rl.normal_rsample(0.5, sigma, (4,), generator=_gen())  # mu a number: sigma leads
    assert y.dtype == torch.float64 and y.shape == (4, 2)


# --------------------------------------------------------------------------------------
# C. -inf masks a category; NaN, +inf and rows of -inf only are refused
# --------------------------------------------------------------------------------------

# (categories along the last axis) three rows with masks in different places
X_MASKED = [[0.5, NINF, 2.0, -1.0, 1.0], [NINF, NINF, -3.0, 0.0, 0.25], [1.5, 0.5, 1.0, 2.0, NINF]]


def _masked_reference(name, x, t, dim, w, noise=None):
    """float64 value and gradient of ``name`` computed row by row on the unmasked entries only
    (the masked ones dropped), the gradient scattered back with 0 at the masked entries."""
    xr = x.double() if dim == -1 else x.double().t()
    wr = w.double() if (w.dim() < 2 or dim == -1) else w.double().t()
    nr = None if noise is None else (noise if dim == -1 else noise.t())
    vals, grads = [], torch.zeros_like(xr)
    for i in range(xr.shape[0]):
        keep = torch.isfinite(xr[i])
        xi = xr[i][keep].clone().requires_grad_(True)
        z = xi if nr is None else xi + nr[i][keep]
        p = torch.softmax(z / t, 0)
        idx = torch.arange(xr.shape[1], dtype=torch.float64)[keep]
        if name in ("softmax", "gumbel_softmax", "st_one_hot_argmax"):
            full = torch.zeros(xr.shape[1], dtype=torch.float64).masked_scatter(keep, p)
            v, obj = full, (p * wr[i][keep]).sum()
        elif name in ("soft_argmax", "st_argmax"):
            v = (p * idx).sum()
            obj = v * wr[i]
        else:
            v = (p * xi).sum()
            obj = v * wr[i]
        (gi,) = torch.autograd.grad(obj, xi)
        grads[i][keep] = gi
        vals.append(v.detach())
    vals = torch.stack(vals)
    if vals.dim() == 2 and dim == 0:
        vals = vals.t()
    return vals, (grads if dim == -1 else grads.t())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("t", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("name", FAMILY + ["gumbel_softmax"])
def test_masked_entries_weight_zero_finite_value_zero_gradient(name, t, dim, dtype):
    x = _oriented(X_MASKED, dim, dtype).requires_grad_(True)
    masked = torch.isinf(x.detach())
    reduces = name in ("soft_argmax", "soft_max", "st_argmax")
    w = torch.tensor([0.75, -0.5, 1.0], dtype=dtype)
    if not reduces:
        w = _oriented([[0.5, -1.0, 0.25, 1.0, -0.75]] * 3, dim, dtype)
    noise = None
    if name == "gumbel_softmax":
        noise = _gumbel_like(x, seed=9)
        out = rl.gumbel_softmax(x, t, dim=dim, generator=_gen(9))
    else:
        out = getattr(rl, name)(x, t, dim=dim)
    assert out.dtype == dtype and torch.isfinite(out).all()
    (g,) = torch.autograd.grad((out * w).sum(), x)
    assert torch.isfinite(g).all()
    assert (g[masked] == 0).all()
    xin = x.detach().to(_compute(dtype)) if noise is not None else x.detach()
    ref_v, ref_g = _masked_reference(name, xin, t, dim, w, noise)
    if name == "st_argmax":
        ref_v = x.detach().double().argmax(dim).double()
    if name == "st_one_hot_argmax":
        ref_v = F.one_hot(x.detach().argmax(dim), 5).movedim(-1, dim).double()
    if name == "softmax" or name == "gumbel_softmax":
        assert (out[masked] == 0).all()
    torch.testing.assert_close(out.detach().double(), ref_v, **TOL[dtype])
    torch.testing.assert_close(g.double(), ref_g, **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_issue_example_soft_max_with_a_masked_category(dtype):
    x = torch.tensor([0.0, NINF], dtype=dtype, requires_grad=True)
    v = rl.soft_max(x)
    assert v.item() == 0.0
    v.backward()
    assert torch.equal(x.grad, torch.tensor([1.0, 0.0], dtype=dtype))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_masked_categories_are_never_chosen(dtype):
    x = _oriented(X_MASKED, 0, dtype)  # categories along dim 0
    masked = torch.isinf(x)
    oh = rl.one_hot_argmax(x, dim=0)
    assert (oh[masked] == 0).all()
    assert torch.equal(oh, F.one_hot(x.double().argmax(0), 5).t().to(dtype))
    idx = rl.gumbel_max_sample(x.t().expand(2000, 3, 5), generator=_gen(4))  # (2000, 3)
    for row in range(3):
        drawn = torch.bincount(idx[:, row], minlength=5)
        assert (drawn[masked[:, row]] == 0).all()
        assert drawn[~masked[:, row]].sum() == 2000
    hard = rl.gumbel_softmax(x, 0.5, hard=True, dim=0, generator=_gen(4))
    assert (hard[masked] == 0).all() and (hard.sum(0) == 1).all()


FAMILY_CALLS = [
    ("softmax", "x", lambda x: rl.softmax(x, 0.5, dim=0)),
    ("soft_argmax", "x", lambda x: rl.soft_argmax(x, 0.5, dim=0)),
    ("soft_max", "x", lambda x: rl.soft_max(x, dim=0)),
    ("st_argmax", "x", lambda x: rl.st_argmax(x, 2.0, dim=0)),
    ("st_one_hot_argmax", "x", lambda x: rl.st_one_hot_argmax(x, dim=0)),
    ("one_hot_argmax", "x", lambda x: rl.one_hot_argmax(x, dim=0)),
    ("gumbel_softmax", "logits", lambda x: rl.gumbel_softmax(x, dim=0, generator=_gen())),
    (
        "gumbel_softmax_hard",
        "logits",
        lambda x: rl.gumbel_softmax(x, 1e-38, hard=True, dim=0, generator=_gen()),
    ),
    ("gumbel_max_sample", "logits", lambda x: rl.gumbel_max_sample(x, dim=0, generator=_gen())),
    ("sparsemax", "x", lambda x: rl.sparsemax(x, 0.5, dim=0)),
    ("entmax15", "x", lambda x: rl.entmax15(x, 1e-38, dim=0)),
    ("gumbel_topk", "logits", lambda x: rl.gumbel_topk(x, 2, dim=0, generator=_gen())),
    ("perturbed_argmax", "x", lambda x: rl.perturbed_argmax(x, 1.0, 8, dim=0, generator=_gen())),
]
FAMILY_IDS = [c[0] for c in FAMILY_CALLS]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name,arg,call", FAMILY_CALLS, ids=FAMILY_IDS)
def test_bad_logits_are_refused_naming_the_argument(name, arg, call, dtype):
    base = torch.tensor([[0.5, 1.0], [NINF, 2.0], [1.0, NINF]], dtype=dtype)  # (3, 2), dim 0
    call(base)  # masks alone are fine
    for bad, what in ((math.nan, "NaN"), (math.inf, r"\+inf")):
        x = base.clone()
        x[1, 1] = bad
        with pytest.raises(ValueError, match=rf"{arg} contains {what}"):
            call(x)
    x = base.clone()
    x[:, 0] = NINF  # column 0: every category masked
    with pytest.raises(ValueError, match=rf"{arg} is -inf for every category"):
        call(x)


# --------------------------------------------------------------------------------------
# D. empty and non-finite secondary inputs, invalid dim
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,arg,call", FAMILY_CALLS, ids=FAMILY_IDS)
def test_no_categories_refused_empty_batch_fine(name, arg, call):
    with pytest.raises(ValueError, match=rf"{arg} has no categories"):
        call(torch.zeros(0, 3))  # dim 0 has size 0
    out = call(torch.zeros(4, 0))  # four categories, no rows: an empty result
    assert out.numel() == 0


DIM_CALLS = [c for c in FAMILY_CALLS if c[0] not in ("gumbel_softmax_hard", "gumbel_topk")]


@pytest.mark.parametrize("name,arg,call", DIM_CALLS, ids=[c[0] for c in DIM_CALLS])
@pytest.mark.parametrize("dim", [2, -3, 1.0, None])
def test_invalid_dim_refused_naming_dim(name, arg, call, dim):
    fn = getattr(rl, name)
    x = torch.zeros(2, 3)
    kw = {"generator": _gen()} if "gumbel" in name else {}
    error = ValueError if isinstance(dim, int) else TypeError
    with pytest.raises(error, match="dim"):
        fn(x, dim=dim, **kw)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_baseline_refused(bad):
    lp = torch.tensor([-0.5, -1.0, -2.0], requires_grad=True)
    loss = torch.tensor([1.0, 2.0, 3.0])
    for baseline in (bad, torch.tensor([0.0, bad, 1.0]), torch.tensor(bad, dtype=torch.float64)):
        with pytest.raises(ValueError, match="baseline must be finite"):
            rl.reinforce_surrogate(lp, loss, baseline)


def test_reinforce_surrogate_empty_or_mismatched_samples_refused():
    with pytest.raises(ValueError, match="log_prob and loss are empty"):
        rl.reinforce_surrogate(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match=r"log_prob and loss.*\(3,\) and \(2,\)"):
        rl.reinforce_surrogate(torch.zeros(3), torch.zeros(2))
    baseline = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)  # dtype follows loss
    s = rl.reinforce_surrogate(torch.zeros(3, requires_grad=True), torch.ones(3), baseline)
    assert s.dtype == torch.float32


@pytest.mark.parametrize("fn", [rl.huber, rl.smooth_l1], ids=["huber", "smooth_l1"])
def test_mean_loss_of_empty_input_refused(fn):
    with pytest.raises(ValueError, match="input is empty"):
        fn(torch.zeros(0), torch.zeros(0), reduction="mean")
    assert fn(torch.zeros(0), torch.zeros(0), reduction="sum").item() == 0.0
    assert fn(torch.zeros(0, 2), torch.zeros(2)).shape == (0, 2)
