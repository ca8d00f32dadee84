"""The random functions of the book's fifth part (issues 17 and 18): relaxed_bernoulli_rsample,
gumbel_topk and perturbed_argmax.

* relaxed Bernoulli: the sampler's formula on the seeded uniform stream; the law of the samples
  (KS test against the closed-form CDF, which is checked against
  ``torch.distributions.RelaxedBernoulli``'s density); P(hard = 1) = sigmoid(logits); strictly
  inside (0, 1) and finite gradients in every dtype at extreme logits and temperatures;
* Gumbel-top-k: ordered samples follow Plackett-Luce (chi-square over every ordered tuple, N = 4,
  k = 2 and 3); masks, k validation, int64, shapes, ``dim``; k = 1 is gumbel_max_sample;
* perturbed arg max: value and Jacobian against softmax(x / sigma) and its Jacobian within
  5 Monte Carlo standard errors (computed from the same draws, reconstructed); normal noise
  against the closed form for two categories; masks, extremes, validation, dtypes.
"""

import math

import pytest
import torch

import relaxlib as rl
from dae_course.stats import chi2_critical, chi2_statistic, ks_critical_value, ks_statistic

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
NINF = float("-inf")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _gen(seed=0, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


def _compute(dtype):
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


# --------------------------------------------------------------------------------------
# relaxed_bernoulli_rsample
# --------------------------------------------------------------------------------------


def _concrete_cdf(logit, t):
    """P(Y <= y) for Y = sigmoid((logit + L) / T): P(L <= T logit(y) - logit)."""
    return lambda y: torch.sigmoid(t * torch.logit(y.double()) - logit)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_relaxed_bernoulli_is_the_formula_on_the_seeded_uniforms(dtype):
    logits = torch.tensor([[-1.5, 0.0, 0.5], [2.0, -0.25, 1.0]], dtype=dtype)
    y = rl.relaxed_bernoulli_rsample(logits, 0.7, sample_shape=(4,), generator=_gen(3))
    cdt = _compute(dtype)
    u = torch.rand((4, 2, 3), generator=_gen(3), dtype=cdt).clamp(min=torch.finfo(cdt).tiny)
    expected = torch.sigmoid((logits.to(cdt) + (u.log() - (-u).log1p())) / 0.7).to(dtype)
    info = torch.finfo(dtype)  # kept strictly inside (0, 1) in the result's dtype
    expected = expected.clamp(info.tiny, 1 - info.eps / 2)
    assert y.shape == (4, 2, 3) and y.dtype == dtype
    assert torch.equal(y, expected)


def test_closed_form_cdf_is_that_of_torch_relaxed_bernoulli():
    # its derivative is RelaxedBernoulli's density, on a grid inside (0, 1)
    for logit, t in ((0.3, 0.5), (-1.0, 2.0), (2.0, 0.1)):
        y = torch.linspace(0.01, 0.99, 41, dtype=torch.float64).requires_grad_(True)
        (density,) = torch.autograd.grad(_concrete_cdf(logit, t)(y).sum(), y)
        dist = torch.distributions.RelaxedBernoulli(
            torch.tensor(t, dtype=torch.float64), logits=torch.tensor(logit, dtype=torch.float64)
        )
        torch.testing.assert_close(density, dist.log_prob(y.detach()).exp())


_INT = {torch.float16: torch.int16, torch.bfloat16: torch.int16}
_INT.update({torch.float32: torch.int32, torch.float64: torch.int64})


def _ks_on_the_dtype_grid(y, cdf):
    """Kolmogorov-Smirnov statistic of samples ``y`` (in (0, 1), of a floating dtype) against
    the law of a continuous Y with CDF ``cdf`` rounded to nearest in y's dtype and clamped to
    [tiny, 1 - eps/2]: P(round(Y) <= v) = F(midpoint of v and the next number up), and 1 at
    the top; P(round(Y) < v) = F(midpoint of v and the next number down), and 0 at tiny. (The
    plain statistic is off wherever the dtype's grid is coarse, as float16 is near 1.)"""
    info = torch.finfo(y.dtype)
    y = y.detach().cpu().reshape(-1).sort().values
    bits = y.view(_INT[y.dtype])
    up, down = (bits + 1).view(y.dtype).double(), (bits - 1).view(y.dtype).double()
    yd = y.double()
    n = yd.numel()
    at_or_below = torch.where(yd >= 1 - info.eps / 2, 1.0, cdf((yd + up) / 2))
    below = torch.where(yd <= info.tiny, 0.0, cdf((yd + down) / 2))
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(torch.maximum(i / n - at_or_below, below - (i - 1) / n).max())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("logit,t", [(0.3, 0.5), (-1.0, 2.0), (2.0, 1.0)])
def test_relaxed_bernoulli_samples_follow_the_concrete_law(logit, t, dtype):
    # (At T = 0.1 most of the mass lies within a few units in the last place of 0 and 1, where
    # the float32 sigmoid's own rounding decides: no dtype can show that law.)
    n = 20000
    y = rl.relaxed_bernoulli_rsample(
        torch.tensor(logit, dtype=dtype), t, sample_shape=(n,), generator=_gen(5)
    )
    assert y.shape == (n,) and y.dtype == dtype
    assert _ks_on_the_dtype_grid(y, _concrete_cdf(logit, t)) < ks_critical_value(n, 0.001)
    # and torch.distributions' own sampler passes the same test
    dist = torch.distributions.RelaxedBernoulli(torch.tensor(t), logits=torch.tensor(logit))
    torch.manual_seed(0)
    assert ks_statistic(dist.sample((n,)), _concrete_cdf(logit, t)) < ks_critical_value(n, 0.001)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_relaxed_bernoulli_hard_is_one_with_probability_sigmoid_logits(dtype):
    n = 20000
    logits = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0], dtype=dtype)
    hard = rl.relaxed_bernoulli_rsample(logits, 0.5, (n,), hard=True, generator=_gen(1))
    soft = rl.relaxed_bernoulli_rsample(logits, 0.5, (n,), generator=_gen(1))
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    # the same draws: hard is 1 exactly where the soft sample is above 1/2 (up to rounding)
    assert (hard == (soft.double() > 0.5)).double().mean() > 0.999
    p = torch.sigmoid(logits.double())
    freq = hard.double().mean(0)
    assert ((freq - p).abs() <= 5 * (p * (1 - p) / n).sqrt()).all(), (freq, p)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_relaxed_bernoulli_strictly_inside_the_unit_interval_with_finite_gradients(dtype):
    info = torch.finfo(dtype)
    # the log-odds of a sure 0 and a sure 1 (-inf, +inf) are valid too
    x = [NINF, -info.max, -info.max / 2, -1e4, 0.0, 3.0, info.max / 2, info.max, -NINF]
    x = torch.tensor(x, dtype=dtype)
    temps = [info.tiny, 1e-38, 1e-300, 0.1, 1.0, 1e38, 1e300]
    temps += [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1e-300, 1e300)]
    temps += [torch.full((9,), 1e-38, requires_grad=True), torch.full((9,), 1e38)]
    for t in temps:
        for hard in (False, True):
            xg = x.clone().requires_grad_(True)
            y = rl.relaxed_bernoulli_rsample(xg, t, (64,), hard=hard, generator=_gen(2))
            assert y.dtype == dtype and y.shape == (64, 9)
            if hard:
                assert ((y == 0) | (y == 1)).all()
            else:
                assert ((y > 0) & (y < 1)).all(), (t, y)
            inputs = (xg, t) if isinstance(t, torch.Tensor) and t.requires_grad else (xg,)
            grads = torch.autograd.grad(y.sum(), inputs)
            assert all(torch.isfinite(g).all() for g in grads), (t, grads)
    # the T -> 0 limit: the hard sample, kept inside (0, 1)
    soft = rl.relaxed_bernoulli_rsample(x, 1e-38, (64,), generator=_gen(2))
    hard = rl.relaxed_bernoulli_rsample(x, 1e-38, (64,), hard=True, generator=_gen(2))
    top, tiny = (torch.tensor(v, dtype=dtype) for v in (1 - info.eps / 2, info.tiny))
    assert torch.equal(soft, torch.where(hard == 1, top, tiny))


def test_relaxed_bernoulli_gradients():
    x = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: rl.relaxed_bernoulli_rsample(a, b, (3,), generator=_gen(4)), (x, t)
    )
    # reparameterised: dy/dlogit = y (1 - y) / T for fixed noise
    y = rl.relaxed_bernoulli_rsample(x, 0.6, (3,), generator=_gen(4))
    (g,) = torch.autograd.grad(y.sum(), x, retain_graph=True)
    yd = y.detach()
    torch.testing.assert_close(g, (yd * (1 - yd) / 0.6).sum(0))
    # hard: the gradient of the soft sample
    h = rl.relaxed_bernoulli_rsample(x, 0.6, (3,), hard=True, generator=_gen(4))
    (gh,) = torch.autograd.grad((h * torch.tensor([1.0, -2.0, 0.5, 3.0])).sum(), x)
    (gs,) = torch.autograd.grad((y * torch.tensor([1.0, -2.0, 0.5, 3.0])).sum(), x)
    torch.testing.assert_close(gh, gs)


def test_relaxed_bernoulli_seeding_shapes_and_validation():
    logits = torch.zeros(2, 3)
    a = rl.relaxed_bernoulli_rsample(logits, 0.5, (4,), generator=_gen(8))
    assert torch.equal(a, rl.relaxed_bernoulli_rsample(logits, 0.5, (4,), generator=_gen(8)))
    gen = _gen(8)
    b1 = rl.relaxed_bernoulli_rsample(logits, 0.5, generator=gen)
    b2 = rl.relaxed_bernoulli_rsample(logits, 0.5, generator=gen)
    assert not torch.equal(b1, b2)  # the generator advances
    assert rl.relaxed_bernoulli_rsample(torch.tensor(0.0), 1.0, 5, generator=gen).shape == (5,)
    t = torch.tensor([[0.5], [2.0]], dtype=torch.float64)  # per row: keeps logits' dtype
    assert rl.relaxed_bernoulli_rsample(logits, t, generator=gen).dtype == torch.float32
    with pytest.raises(TypeError, match="hard"):
        rl.relaxed_bernoulli_rsample(logits, 0.5, hard=1)
    with pytest.raises(ValueError, match="logits contains NaN"):
        rl.relaxed_bernoulli_rsample(torch.tensor([0.0, math.nan]), 0.5)
    with pytest.raises(ValueError, match="sample_shape"):
        rl.relaxed_bernoulli_rsample(logits, 0.5, (-1,))


# --------------------------------------------------------------------------------------
# gumbel_topk
# --------------------------------------------------------------------------------------


def _plackett_luce(logits, k):
    """Every ordered k-tuple of distinct categories and its Plackett-Luce probability."""
    import itertools

    w = logits.double().exp()
    tuples, probs = [], []
    for tup in itertools.permutations(range(len(w)), k):
        p, left = 1.0, float(w.sum())
        for i in tup:
            p *= float(w[i]) / left
            left -= float(w[i])
        tuples.append(tup)
        probs.append(p)
    return tuples, torch.tensor(probs, dtype=torch.float64)


@pytest.mark.parametrize("k", [2, 3])
def test_gumbel_topk_ordered_samples_follow_plackett_luce(k):
    logits = torch.tensor([0.5, -0.3, 1.2, 0.0])
    n = 40000
    idx = rl.gumbel_topk(logits.expand(n, 4), k, generator=_gen(11))
    tuples, probs = _plackett_luce(logits, k)
    code = {t: i for i, t in enumerate(tuples)}
    counts = torch.bincount(
        torch.tensor([code[tuple(r)] for r in idx.tolist()]), minlength=len(tuples)
    )
    assert (n * probs >= 5).all()
    assert chi2_statistic(counts, probs) < chi2_critical(len(tuples) - 1, 0.001)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_gumbel_topk_shape_dtype_order_and_noise(dim, dtype):
    x = torch.randn(3, 5, 4, generator=_gen(2), dtype=torch.float64).to(dtype)
    idx = rl.gumbel_topk(x, 2, dim=dim, generator=_gen(6))
    shape = list(x.shape)
    shape[dim] = 2
    assert idx.dtype == torch.int64 and list(idx.shape) == shape
    # the k largest of logits + the library's Gumbel noise (in the compute dtype), largest first
    noisy = x.to(_compute(dtype)) + rl.gumbel_noise(x.shape, _gen(6), dtype=_compute(dtype))
    assert torch.equal(idx, noisy.topk(2, dim).indices)
    picked = noisy.gather(dim, idx)
    assert (picked.select(dim, 0) >= picked.select(dim, 1)).all()


def test_gumbel_topk_with_k_one_is_gumbel_max_sample():
    x = torch.randn(50, 6, generator=_gen(3))
    top1 = rl.gumbel_topk(x, 1, generator=_gen(9))
    assert torch.equal(top1.squeeze(-1), rl.gumbel_max_sample(x, generator=_gen(9)))


def test_gumbel_topk_distinct_indices_and_k_equal_n_is_a_permutation():
    x = torch.randn(200, 5, generator=_gen(4))
    idx = rl.gumbel_topk(x, 5, generator=_gen(4))
    assert torch.equal(idx.sort(-1).values, torch.arange(5).expand(200, 5))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_gumbel_topk_masks(dtype):
    x = torch.tensor([[0.5, NINF, 2.0, -1.0], [NINF, NINF, 0.0, 0.25]], dtype=dtype)
    idx = rl.gumbel_topk(x.repeat(500, 1), 2, generator=_gen(5))
    masked = torch.isinf(x.repeat(500, 1)).gather(-1, idx)
    assert not masked.any()  # row 2 has exactly two unmasked categories: both drawn
    with pytest.raises(ValueError, match=r"k=3 is larger than the number of unmasked"):
        rl.gumbel_topk(x, 3, generator=_gen(5))
    assert rl.gumbel_topk(x[:1], 3, generator=_gen(5)).shape == (1, 3)


@pytest.mark.parametrize("k", [0, -1, 5, 100])
def test_gumbel_topk_k_outside_one_to_n_refused(k):
    with pytest.raises(ValueError, match=rf"k={k} is outside 1\.\.4"):
        rl.gumbel_topk(torch.zeros(3, 4), k)


@pytest.mark.parametrize("k", [2.0, True, "2", None])
def test_gumbel_topk_k_not_an_int_refused(k):
    with pytest.raises(TypeError, match="k must be an int"):
        rl.gumbel_topk(torch.zeros(3, 4), k)


def test_gumbel_topk_refuses_0d_and_integer_logits():
    with pytest.raises(ValueError, match="logits"):
        rl.gumbel_topk(torch.tensor(1.0), 1)
    with pytest.raises(TypeError, match="logits"):
        rl.gumbel_topk(torch.zeros(3, dtype=torch.long), 1)


# --------------------------------------------------------------------------------------
# perturbed_argmax
# --------------------------------------------------------------------------------------


def _per_sample_terms(x, sigma, n, seed, noise="gumbel"):
    """The draws perturbed_argmax(x, sigma, n, generator=_gen(seed)) makes, reconstructed from
    the same seed: the one-hot of each sample's arg max and grad nu of its noise, shape
    (n, N), float64 (x is a float32 or float64 vector)."""
    size = (n, x.shape[-1])
    if noise == "gumbel":
        z = rl.gumbel_noise(size, generator=_gen(seed), dtype=x.dtype)
        nu = 1 - torch.exp(-z.double())
    else:
        z = torch.randn(size, generator=_gen(seed), dtype=x.dtype)
        nu = z.double()
    i = ((x - x.max()) / sigma + z).argmax(-1)
    return torch.nn.functional.one_hot(i, x.shape[-1]).double(), nu


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_perturbed_argmax_value_and_jacobian_match_softmax_within_5_se(sigma, dtype):
    x = torch.tensor([1.0, 2.0, 0.5, -1.0], dtype=dtype, requires_grad=True)
    n = 20000
    y = rl.perturbed_argmax(x, sigma, n, generator=_gen(7))
    p = torch.softmax(x.detach().double() / sigma, 0)
    se = (p * (1 - p) / n).sqrt()
    assert ((y.detach().double() - p).abs() <= 5 * se + 1e-12).all(), (y, p)
    onehot, nu = _per_sample_terms(x.detach(), sigma, n, seed=7)
    torch.testing.assert_close(y.detach().double(), onehot.mean(0), rtol=0, atol=1e-6)
    jac = torch.stack([torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(4)])
    terms = onehot[:, :, None] * nu[:, None, :] / sigma  # (n, i, j): the estimator's terms
    torch.testing.assert_close(jac.double(), terms.mean(0), rtol=1e-4, atol=1e-5)
    jac_se = terms.std(0) / math.sqrt(n)
    exact = (torch.diag(p) - torch.outer(p, p)) / sigma
    assert ((jac.double() - exact).abs() <= 5 * jac_se + 1e-6).all(), (jac, exact)


def test_perturbed_argmax_normal_noise_two_categories_closed_form():
    # P(x1 + s Z1 > x2 + s Z2) = Phi((x1 - x2) / (s sqrt 2)); its derivative phi(.) / (s sqrt 2)
    x = torch.tensor([0.7, 0.0], dtype=torch.float64, requires_grad=True)
    s, n = 1.5, 20000
    y = rl.perturbed_argmax(x, s, n, noise="normal", generator=_gen(3))
    a = 0.7 / (s * math.sqrt(2))
    p = 0.5 * (1 + math.erf(a / math.sqrt(2)))
    assert abs(float(y[0].detach()) - p) <= 5 * math.sqrt(p * (1 - p) / n)
    (g,) = torch.autograd.grad(y[0], x)
    onehot, nu = _per_sample_terms(x.detach(), s, n, seed=3, noise="normal")
    terms = onehot[:, :1] * nu / s
    torch.testing.assert_close(g, terms.mean(0))
    dens = math.exp(-a * a / 2) / math.sqrt(2 * math.pi) / (s * math.sqrt(2))
    se = terms.std(0) / math.sqrt(n)
    assert ((g - torch.tensor([dens, -dens], dtype=torch.float64)).abs() <= 5 * se).all()


def test_perturbed_argmax_sigma_gradient_matches_softmax_within_5_se():
    x = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    w = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    sigma = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    n = 20000
    (gs,) = torch.autograd.grad(
        (rl.perturbed_argmax(x, sigma, n, generator=_gen(2)) * w).sum(), sigma
    )
    s = sigma.detach().clone().requires_grad_(True)
    (exact,) = torch.autograd.grad((torch.softmax(x / s, 0) * w).sum(), s)
    onehot, nu = _per_sample_terms(x, 0.8, n, seed=2)
    d = x - x.max()
    terms = -(onehot @ w)[:, None] * (nu @ d)[:, None] / 0.8**2
    torch.testing.assert_close(gs, terms.mean(), rtol=1e-8, atol=1e-10)
    assert abs(float(gs - exact)) <= 5 * float(terms.std()) / math.sqrt(n)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("noise", ["gumbel", "normal"])
def test_perturbed_argmax_masks_extremes_and_dtypes(noise, dtype):
    info = torch.finfo(dtype)
    x = torch.tensor(
        [[1.0, 4.0, 4.0, NINF], [info.max / 2, -info.max / 2, 0.0, info.max / 2]], dtype=dtype
    )
    w = torch.tensor([1.0, -1.0, 0.5, 0.25], dtype=dtype)
    n = 400
    sigmas = [1e-38, 1e-300, 1.0, 1e38, 1e300]
    sigmas += [torch.tensor([[1e-300], [1e300]], dtype=torch.float64, requires_grad=True)]
    sigmas += [torch.tensor([[1e-38], [1e38]], requires_grad=True)]
    for sigma in sigmas:
        xg = x.clone().requires_grad_(True)
        y = rl.perturbed_argmax(xg, sigma, n, noise=noise, generator=_gen(1))
        assert y.dtype == dtype and y.shape == x.shape
        assert torch.isfinite(y).all() and (y[:, 3] == 0).any() and y[0, 3] == 0
        sums = y.detach().double().sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0, atol=4 * info.eps)
        inputs = (xg, sigma) if isinstance(sigma, torch.Tensor) else (xg,)
        grads = torch.autograd.grad((y * w).sum(), inputs)
        assert all(torch.isfinite(g).all() for g in grads)
        assert all(g.dtype == i.dtype for g, i in zip(grads, inputs))
        assert grads[0][0, 3] == 0  # masked: no gradient
    # sigma -> 0: the tie (1, 2) is split by the noise, the rest get nothing
    y = rl.perturbed_argmax(x[:1], 1e-30, 2000, noise=noise, generator=_gen(1)).double()
    assert y[0, 0] == 0 and y[0, 3] == 0 and abs(float(y[0, 1]) - 0.5) <= 5 * math.sqrt(0.25 / 2000)
    # sigma -> infinity: uniform over the three unmasked categories
    y = rl.perturbed_argmax(x[:1], 1e300, 3000, noise=noise, generator=_gen(1)).double()
    assert y[0, 3] == 0 and ((y[0, :3] - 1 / 3).abs() <= 5 * math.sqrt(2 / 9 / 3000) + 0.01).all()


def test_perturbed_argmax_gradient_flows_and_seeding():
    x = torch.tensor([[0.2, 0.1, -0.3], [1.0, 0.0, 0.5]], requires_grad=True)
    y = rl.perturbed_argmax(x, 0.5, 100, dim=0, generator=_gen(4))
    assert torch.equal(y.sum(0), torch.ones(3))
    y[0].sum().backward()
    assert x.grad is not None and (x.grad != 0).any()
    assert torch.equal(y, rl.perturbed_argmax(x, 0.5, 100, dim=0, generator=_gen(4)))
    assert (y * 100 == (y * 100).round()).all()  # multiples of 1 / n_samples


@pytest.mark.parametrize("n", [0, -3])
def test_perturbed_argmax_n_samples_below_one_refused(n):
    with pytest.raises(ValueError, match="n_samples"):
        rl.perturbed_argmax(torch.zeros(3), n_samples=n)


@pytest.mark.parametrize("n", [2.5, True, "10", None])
def test_perturbed_argmax_n_samples_not_an_int_refused(n):
    with pytest.raises(TypeError, match="n_samples"):
        rl.perturbed_argmax(torch.zeros(3), n_samples=n)


@pytest.mark.parametrize("noise", ["uniform", "Gumbel", None, 1])
def test_perturbed_argmax_unknown_noise_refused(noise):
    with pytest.raises(ValueError, match="noise"):
        rl.perturbed_argmax(torch.zeros(3), noise=noise)


def test_perturbed_argmax_refuses_0d_x():
    with pytest.raises(ValueError, match="x"):
        rl.perturbed_argmax(torch.tensor(1.0))


# --------------------------------------------------------------------------------------
# the generator rule: a CPU generator gives the same draws on the GPU
# --------------------------------------------------------------------------------------


@CUDA
def test_cuda_results_from_a_cpu_generator_match_cpu():
    x = torch.randn(6, 5, generator=_gen(1))
    calls = [
        lambda z: rl.relaxed_bernoulli_rsample(z, 0.5, (3,), generator=_gen(2)),
        lambda z: rl.relaxed_bernoulli_rsample(z, 0.5, (3,), hard=True, generator=_gen(2)),
        lambda z: rl.gumbel_topk(z, 3, generator=_gen(2)),
        lambda z: rl.perturbed_argmax(z, 0.7, 64, generator=_gen(2)),
        lambda z: rl.perturbed_argmax(z, 0.7, 64, noise="normal", generator=_gen(2)),
    ]
    for call in calls:
        cpu, gpu = call(x), call(x.cuda())
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-6)
    g = _gen(2, "cuda")
    assert rl.gumbel_topk(x.cuda(), 2, generator=g).device.type == "cuda"
    assert rl.perturbed_argmax(x, 1.0, 8, generator=_gen(2, "cuda")).device.type == "cpu"


RANDOM_CALLS = [
    ("relaxed_bernoulli_rsample", lambda x, g: rl.relaxed_bernoulli_rsample(x, 0.5, generator=g)),
    ("gumbel_topk", lambda x, g: rl.gumbel_topk(x, 2, generator=g)),
    ("perturbed_argmax", lambda x, g: rl.perturbed_argmax(x, 1.0, 8, generator=g)),
]


@pytest.mark.parametrize("name,call", RANDOM_CALLS, ids=[c[0] for c in RANDOM_CALLS])
@pytest.mark.parametrize("bad", [0, "seed", torch.zeros(1)], ids=["int", "str", "tensor"])
def test_a_generator_that_is_not_one_is_refused(name, call, bad):
    with pytest.raises(TypeError, match="generator"):
        call(torch.zeros(2, 3), bad)
    call(torch.zeros(2, 3), None)  # the global generator
