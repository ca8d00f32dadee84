"""Sampling and reparameterisation: gumbel_noise, gumbel_max_sample, gumbel_softmax,
normal_rsample.

Statistical tests use fixed seeds, so they are deterministic; each bound is stated with the
sample size it was computed from and is wide enough (6 standard errors, or a chi-square
quantile at alpha = 1e-6) that a correct implementation fails it with negligible probability
whatever the seed, while a wrong distribution (e.g. a misplaced temperature) fails by far.

Contract: noise is drawn from the caller's torch.Generator, on the generator's device, so a
CPU generator gives identical samples whatever device the result lives on.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
EULER_GAMMA = 0.5772156649015329
GUMBEL_VAR = math.pi**2 / 6  # 1.6449...
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _gen(seed=0, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


def _randn(*shape, dtype=torch.float64, seed=0, scale=1.0):
    return (torch.randn(*shape, generator=_gen(seed), dtype=torch.float64) * scale).to(dtype)


def chi2_critical_even_df(df, alpha):
    """Upper alpha-quantile of the chi-square distribution with an even number of degrees of
    freedom, from its closed-form survival function
        P(X > x) = exp(-x/2) * sum_{k < df/2} (x/2)^k / k!
    solved by bisection (no scipy needed).  E.g. df=4, alpha=1e-6 -> 33.377 (tables: 33.38)."""
    assert df % 2 == 0 and df > 0

    def sf(x):
        h = x / 2
        return math.exp(-h) * sum(h**k / math.factorial(k) for k in range(df // 2))

    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if sf(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def test_chi2_critical_values_against_tables():
    # Published table values (e.g. NIST/SEMATECH e-Handbook, or scipy.stats.chi2.isf).
    assert chi2_critical_even_df(2, 0.05) == pytest.approx(5.991, abs=1e-3)
    assert chi2_critical_even_df(4, 0.01) == pytest.approx(13.277, abs=1e-3)
    assert chi2_critical_even_df(4, 1e-6) == pytest.approx(33.377, abs=1e-3)
    assert chi2_critical_even_df(2, 1e-6) == pytest.approx(-2 * math.log(1e-6), abs=1e-9)


def chi2_statistic(counts, probs):
    n = counts.sum()
    expected = n * probs
    return float(((counts.double() - expected) ** 2 / expected).sum())


# --------------------------------------------------------------------------------------
# gumbel_noise
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gumbel_noise_shape_dtype_device(dtype):
    g = rl.gumbel_noise((3, 4), generator=_gen(), device="cpu", dtype=dtype)
    assert g.shape == (3, 4) and g.dtype == dtype and g.device.type == "cpu"
    g = rl.gumbel_noise(torch.Size([2, 5]), generator=_gen(), dtype=dtype)
    assert g.shape == (2, 5) and g.dtype == dtype


def test_gumbel_noise_default_dtype_is_floating_and_generator_optional():
    g = rl.gumbel_noise((100,))
    assert g.dtype.is_floating_point
    assert torch.isfinite(g).all()


def test_gumbel_noise_same_seed_same_samples_and_generator_advances():
    gen = _gen(123)
    a = rl.gumbel_noise((1000,), generator=gen)
    b = rl.gumbel_noise((1000,), generator=gen)
    c = rl.gumbel_noise((1000,), generator=_gen(123))
    assert torch.equal(a, c)
    assert not torch.equal(a, b)  # the caller's generator is consumed, not copied
    assert not torch.equal(a, rl.gumbel_noise((1000,), generator=_gen(124)))


def test_gumbel_noise_global_seed_when_no_generator():
    with torch.random.fork_rng(devices=[]):  # leave the global RNG as other tests found it
        torch.manual_seed(7)
        a = rl.gumbel_noise((50,))
        torch.manual_seed(7)
        b = rl.gumbel_noise((50,))
    assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gumbel_noise_mean_and_variance(dtype):
    n = 1_000_000
    g = rl.gumbel_noise((n,), generator=_gen(2024), dtype=dtype).double()
    # Gumbel(0,1): mean = Euler-Mascheroni gamma, variance = pi^2/6, excess kurtosis 12/5.
    # SE(mean) = sqrt(pi^2/6 / n) = 1.2825e-3  ->  6 SE = 7.7e-3
    assert abs(g.mean().item() - EULER_GAMMA) < 6 * math.sqrt(GUMBEL_VAR / n)
    # SE(sample variance) = sigma^2 * sqrt((kurtosis - 1)/n) = 1.6449 * sqrt(4.4/n) = 3.45e-3
    # ->  6 SE = 0.0207
    assert abs(g.var().item() - GUMBEL_VAR) < 6 * GUMBEL_VAR * math.sqrt(4.4 / n)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gumbel_noise_cdf(dtype):
    # P(G <= q) = exp(-exp(-q)).  Binomial SE <= sqrt(0.25 / n) = 5e-4 at n = 1e6; 6 SE = 3e-3.
    # (This also tells the Gumbel for the maximum, -log(-log U), from its mirror image.)
    n = 1_000_000
    g = rl.gumbel_noise((n,), generator=_gen(99), dtype=dtype)
    for q in (-1.5, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0):
        p = math.exp(-math.exp(-q))
        frac = (g <= q).double().mean().item()
        assert abs(frac - p) < 6 * math.sqrt(p * (1 - p) / n), q


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gumbel_noise_always_finite_many_samples(dtype):
    # 2^22 draws: a uniform with an 8- or 11-bit mantissa hits 0 or rounds to 1 many times
    # over in this many draws, which would give -inf/+inf without clamping.
    n = 1 << 22
    g = rl.gumbel_noise((n,), generator=_gen(5), dtype=dtype)
    assert g.dtype == dtype
    assert torch.isfinite(g).all()
    assert torch.isfinite(g.min()) and torch.isfinite(g.max())
    # Loose sanity of the distribution in reduced precision: 6 SE = 6 * 1.28 / 2048 = 0.004
    # plus up to ~0.03 bias from the quantisation of U and of the result at 8 mantissa bits.
    assert abs(g.double().mean().item() - EULER_GAMMA) < 0.04
    # the right tail must reach beyond 8 (P(G > 8) ~ 3.4e-4, ~1400 of 4M draws) unless the
    # dtype's uniform has too few bits near 1; the left tail must reach below -2.
    assert g.double().min().item() < -2.0


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gumbel_noise_finite_for_extreme_uniforms(dtype, monkeypatch):
    """Feed the noise the worst uniforms (exactly 0, exactly 1, the float just below 1, the
    smallest subnormal) through whichever torch primitive the implementation draws with,
    and check the result stays finite (contract: U kept strictly inside (0, 1))."""
    calls = []

    def extremes(like_dtype, numel):
        fi = torch.finfo(like_dtype)
        below_one = 1.0 - fi.eps / 2
        vals = torch.tensor([0.0, 1.0, below_one, fi.tiny, fi.smallest_normal / 4, 0.5])
        vals = vals.to(like_dtype)
        return vals.repeat(numel // vals.numel() + 1)[:numel]

    real_rand = torch.rand

    def fake_rand(*size, generator=None, dtype=None, device=None, **kw):
        calls.append("rand")
        out = real_rand(*size, generator=generator, dtype=dtype, device=device, **kw)
        return extremes(out.dtype, out.numel()).reshape(out.shape).to(out.device)

    real_uniform = torch.Tensor.uniform_

    def fake_uniform_(self, *args, **kw):
        calls.append("uniform_")
        real_uniform(self, *args, **kw)
        with torch.no_grad():
            self.copy_(extremes(self.dtype, self.numel()).reshape(self.shape))
        return self

    real_exponential = torch.Tensor.exponential_

    def fake_exponential_(self, *args, **kw):
        # Gumbel = -log(E), E ~ Exp(1): the extremes are E = 0 and E huge.
        calls.append("exponential_")
        real_exponential(self, *args, **kw)
        fi = torch.finfo(self.dtype)
        vals = torch.tensor([0.0, fi.tiny, fi.max, 1.0]).to(self.dtype)
        with torch.no_grad():
            self.copy_(vals.repeat(self.numel() // 4 + 1)[: self.numel()].reshape(self.shape))
        return self

    monkeypatch.setattr(torch, "rand", fake_rand)
    monkeypatch.setattr(torch.Tensor, "uniform_", fake_uniform_)
    monkeypatch.setattr(torch.Tensor, "exponential_", fake_exponential_)
    g = rl.gumbel_noise((64,), generator=_gen(0), dtype=dtype)
    monkeypatch.undo()
    if not calls:
        pytest.skip("gumbel_noise draws through none of torch.rand/uniform_/exponential_")
    assert g.dtype == dtype
    assert torch.isfinite(g).all(), g


# --------------------------------------------------------------------------------------
# gumbel_max_sample
# --------------------------------------------------------------------------------------

LOGITS5 = torch.tensor([1.0, -0.5, 2.0, 0.0, 0.3], dtype=torch.float64)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gumbel_max_sample_returns_long_indices_of_right_shape(dtype):
    logits = _randn(3, 4, 5, dtype=dtype, seed=1)
    for dim in (0, 1, 2, -1):
        idx = rl.gumbel_max_sample(logits, dim=dim, generator=_gen(dim + 10))
        expected_shape = list(logits.shape)
        del expected_shape[dim]
        assert idx.dtype == torch.long
        assert list(idx.shape) == expected_shape
        assert idx.min() >= 0 and idx.max() < logits.shape[dim]
    assert rl.gumbel_max_sample(logits).dtype == torch.long  # defaults: dim=-1, no generator


def test_gumbel_max_sample_frequencies_match_softmax():
    n = 200_000
    idx = rl.gumbel_max_sample(LOGITS5.expand(n, 5), generator=_gen(31))
    counts = torch.bincount(idx, minlength=5)
    probs = torch.softmax(LOGITS5, -1)
    # chi-square goodness of fit, df = 5 - 1 = 4, alpha = 1e-6: critical value 33.38
    assert chi2_statistic(counts, probs) < chi2_critical_even_df(4, 1e-6)


def test_gumbel_max_sample_frequencies_along_dim0_batched_float32():
    # logits of shape (K, n, 2): categories along dim 0, two different distributions.
    n = 100_000
    base = torch.tensor([[0.5, -1.0, 0.0], [3.0, 0.0, 1.0]])  # (2 rows, K=3)
    logits = base.t().unsqueeze(1).expand(3, n, 2)
    idx = rl.gumbel_max_sample(logits, dim=0, generator=_gen(32))
    assert idx.shape == (n, 2)
    stat = 0.0
    for row in range(2):
        counts = torch.bincount(idx[:, row], minlength=3)
        stat += chi2_statistic(counts, torch.softmax(base[row].double(), -1))
    # sum of two independent chi-square(2) = chi-square(4); alpha = 1e-6 -> 33.38
    assert stat < chi2_critical_even_df(4, 1e-6)


def test_gumbel_max_sample_same_seed_same_samples():
    logits = LOGITS5.expand(1000, 5)
    a = rl.gumbel_max_sample(logits, generator=_gen(8))
    b = rl.gumbel_max_sample(logits, generator=_gen(8))
    assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gumbel_max_sample_is_argmax_of_logits_plus_library_noise(dtype):
    # arg max(logits + g) with g the library's Gumbel noise drawn from the same generator.
    logits = _randn(200, 6, dtype=dtype, seed=2)
    idx = rl.gumbel_max_sample(logits, generator=_gen(9))
    g = rl.gumbel_noise(logits.shape, generator=_gen(9), device=logits.device, dtype=dtype)
    assert torch.equal(idx, (logits + g).argmax(-1))


def test_gumbel_max_sample_extreme_logits():
    logits = torch.tensor([[0.0, 1e4, -1e4], [-1e4, -1e4, 1e4]], dtype=torch.float16)
    idx = rl.gumbel_max_sample(logits.expand(1000, 2, 3), generator=_gen(3))
    assert (idx[:, 0] == 1).all() and (idx[:, 1] == 2).all()


# --------------------------------------------------------------------------------------
# gumbel_softmax
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gumbel_softmax_soft_is_a_distribution(dtype, dim):
    logits = _randn(4, 6, dtype=dtype, seed=3)
    y = rl.gumbel_softmax(logits, temperature=0.5, dim=dim, generator=_gen(1))
    assert y.dtype == dtype and y.shape == logits.shape
    assert (y >= 0).all()
    tol = {torch.float16: 1e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-5)
    torch.testing.assert_close(
        y.sum(dim).double(), torch.ones(y.sum(dim).shape).double(), rtol=0, atol=tol
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 2.0])
def test_gumbel_softmax_soft_equals_softmax_of_noisy_logits(dtype, dim, t):
    logits = _randn(5, 7, dtype=dtype, seed=4, scale=2.0)
    y = rl.gumbel_softmax(logits, temperature=t, dim=dim, generator=_gen(11))
    g = rl.gumbel_noise(logits.shape, generator=_gen(11), device=logits.device, dtype=dtype)
    expected = torch.softmax((logits + g) / t, dim=dim)
    torch.testing.assert_close(y, expected)
    # and the noise really is there (not softmax(logits / T))
    assert not torch.allclose(y, torch.softmax(logits / t, dim=dim))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("t", [0.5, 1.0, 2.0])
def test_gumbel_softmax_soft_equals_softmax_of_noisy_logits_half(dtype, t):
    # Same noise stream in half precision.  Rounding g to 11 (8) mantissa bits moves the
    # tempered logits by up to ~|g| 2^-11 / T (2^-8); a different noise draw moves them by O(1).
    logits = _randn(5, 7, dtype=dtype, seed=4, scale=2.0)
    y = rl.gumbel_softmax(logits, temperature=t, generator=_gen(11))
    g = rl.gumbel_noise(logits.shape, generator=_gen(11), device=logits.device, dtype=dtype)
    expected = torch.softmax((logits.double() + g.double()) / t, dim=-1)
    tol = 2e-2 if dtype == torch.float16 else 1e-1
    torch.testing.assert_close(y.double(), expected, rtol=0, atol=tol)


def test_gumbel_softmax_defaults():
    logits = _randn(3, 4, seed=5)
    y = rl.gumbel_softmax(logits, generator=_gen(12))  # temperature 1, soft, last dim
    g = rl.gumbel_noise(logits.shape, generator=_gen(12), dtype=logits.dtype)
    torch.testing.assert_close(y, torch.softmax(logits + g, -1))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("t", [0.1, 1.0, 5.0])
def test_gumbel_softmax_hard_value_and_gradient(dtype, dim, t):
    logits0 = _randn(6, 5, dtype=dtype, seed=6, scale=2.0)
    l_soft = logits0.clone().requires_grad_(True)
    l_hard = logits0.clone().requires_grad_(True)
    soft = rl.gumbel_softmax(l_soft, temperature=t, hard=False, dim=dim, generator=_gen(13))
    hard = rl.gumbel_softmax(l_hard, temperature=t, hard=True, dim=dim, generator=_gen(13))
    assert hard.dtype == dtype and hard.shape == logits0.shape
    # value: exactly one-hot, at the arg max of the soft sample drawn with the same noise
    h, sd = hard.detach(), soft.detach()
    assert set(h.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(h.sum(dim), torch.ones_like(h.sum(dim)))
    if dtype in (torch.float32, torch.float64):
        n = logits0.shape[dim]
        assert torch.equal(h, F.one_hot(sd.argmax(dim), n).movedim(-1, dim).to(dtype))
    else:
        # in half precision two probabilities may round to the same value: any maximal
        # entry of the rounded soft sample is accepted
        assert torch.equal((h * sd).sum(dim), sd.max(dim).values)
    # gradient: that of the soft sample with the same noise (straight-through)
    w = _randn(6, 5, dtype=dtype, seed=7)
    (g_soft,) = torch.autograd.grad((soft * w).sum(), l_soft)
    (g_hard,) = torch.autograd.grad((hard * w).sum(), l_hard)
    assert torch.equal(g_hard, g_soft) or torch.allclose(
        g_hard.double(), g_soft.double(), rtol=1e-2, atol=1e-3 if dtype.itemsize > 2 else 2e-2
    )
    assert torch.count_nonzero(g_soft) > 0


@pytest.mark.parametrize("t", [0.5, 3.0])
def test_gumbel_softmax_hard_frequencies_match_softmax_of_logits(t):
    # The arg max of softmax((l + g)/T) is arg max(l + g): Categorical(softmax(l)) for ANY T.
    # (Adding g to l/T instead would give Categorical(softmax(l/T)) and fail by far.)
    n = 100_000
    y = rl.gumbel_softmax(LOGITS5.expand(n, 5), temperature=t, hard=True, generator=_gen(33))
    counts = y.sum(0).round().long()
    assert int(counts.sum()) == n
    # chi-square goodness of fit, df = 4, alpha = 1e-6: critical value 33.38
    assert chi2_statistic(counts, torch.softmax(LOGITS5, -1)) < chi2_critical_even_df(4, 1e-6)


def test_gumbel_softmax_low_temperature_mean_is_softmax_of_logits():
    # E[soft sample] at T -> 0 approaches softmax(logits) (it is one-hot in the limit).
    n = 100_000
    y = rl.gumbel_softmax(LOGITS5.expand(n, 5), temperature=0.01, generator=_gen(34))
    p = torch.softmax(LOGITS5, -1)
    # per-category SE <= sqrt(0.25/n) = 1.6e-3; 6 SE = 9.5e-3 (+ the T=0.01 smoothing, ~1e-4)
    torch.testing.assert_close(y.mean(0), p, rtol=0, atol=6 * math.sqrt(0.25 / n) + 1e-3)


def test_gumbel_softmax_same_seed_same_sample_and_generator_advances():
    logits = _randn(3, 4, seed=8)
    gen = _gen(14)
    a = rl.gumbel_softmax(logits, generator=gen)
    b = rl.gumbel_softmax(logits, generator=gen)
    assert torch.equal(a, rl.gumbel_softmax(logits, generator=_gen(14)))
    assert not torch.equal(a, b)


def test_gradcheck_gumbel_softmax_soft():
    logits = _randn(3, 5, seed=9).requires_grad_(True)
    for t in (0.5, 2.0):
        for dim in (0, -1):
            assert torch.autograd.gradcheck(
                lambda z, t=t, dim=dim: rl.gumbel_softmax(
                    z, temperature=t, dim=dim, generator=_gen(15)
                ),
                (logits,),
            )


# --------------------------------------------------------------------------------------
# normal_rsample
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_normal_rsample_shape_dtype(dtype):
    mu = _randn(2, 3, dtype=dtype, seed=10)
    sigma = torch.rand(2, 1, generator=_gen(11)).to(dtype) + 0.5  # broadcasts to mu
    z = rl.normal_rsample(mu, sigma, sample_shape=(4,), generator=_gen(1))
    assert z.shape == (4, 2, 3) and z.dtype == dtype
    assert torch.isfinite(z).all()
    z = rl.normal_rsample(mu, sigma, generator=_gen(1))  # default sample_shape=()
    assert z.shape == (2, 3)
    mu = mu[0]
    z = rl.normal_rsample(mu, 0.5, sample_shape=torch.Size([2, 5]), generator=_gen(1))
    assert z.shape == (2, 5, 3) and z.dtype == dtype


def test_normal_rsample_is_a_reparameterisation():
    # Same seed => the same z; the sample is mu + sigma * z for any mu, sigma.
    shape = (1000,)
    mu1, s1 = torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    mu2 = torch.tensor(-3.0, dtype=torch.float64)
    s2 = torch.tensor(0.25, dtype=torch.float64)
    z = rl.normal_rsample(mu1, s1, sample_shape=shape, generator=_gen(5))
    y = rl.normal_rsample(mu2, s2, sample_shape=shape, generator=_gen(5))
    torch.testing.assert_close(y, mu2 + s2 * z)


def test_normal_rsample_gradients():
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor([2.0, 0.3], dtype=torch.float64, requires_grad=True)
    y = rl.normal_rsample(mu, sigma, sample_shape=(7,), generator=_gen(6))
    z = ((y - mu) / sigma).detach()
    g_mu, g_sigma = torch.autograd.grad(y.sum(), (mu, sigma))
    torch.testing.assert_close(g_mu, torch.full((2,), 7.0, dtype=torch.float64))
    torch.testing.assert_close(g_sigma, z.sum(0))


def test_normal_rsample_statistics():
    n = 1_000_000
    mu, sigma = 1.5, 0.5
    y = rl.normal_rsample(
        torch.tensor(mu, dtype=torch.float64),
        torch.tensor(sigma),
        sample_shape=(n,),
        generator=_gen(7),
    )
    # SE(mean) = sigma/sqrt(n) = 5e-4 -> 6 SE = 3e-3;  SE(std) ~ sigma/sqrt(2n) = 3.5e-4 -> 2.1e-3
    assert abs(y.mean().item() - mu) < 6 * sigma / math.sqrt(n)
    assert abs(y.std().item() - sigma) < 6 * sigma / math.sqrt(2 * n)
    # normality: P(Y <= mu + sigma) = Phi(1) = 0.841345; binomial 6 SE = 2.2e-3
    p = 0.8413447460685429
    frac = (y <= mu + sigma).double().mean().item()
    assert abs(frac - p) < 6 * math.sqrt(p * (1 - p) / n)


def test_normal_rsample_same_seed_same_sample_and_generator_advances():
    mu = torch.zeros(100)
    gen = _gen(8)
    a = rl.normal_rsample(mu, 1.0, generator=gen)
    b = rl.normal_rsample(mu, 1.0, generator=gen)
    assert torch.equal(a, rl.normal_rsample(mu, 1.0, generator=_gen(8)))
    assert not torch.equal(a, b)


def test_gradcheck_normal_rsample():
    mu = _randn(3, seed=12).requires_grad_(True)
    sigma = (torch.rand(3, generator=_gen(13), dtype=torch.float64) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda m, s: rl.normal_rsample(m, s, sample_shape=(2,), generator=_gen(16)), (mu, sigma)
    )


# --------------------------------------------------------------------------------------
# device: a CPU generator gives identical samples whatever the result's device
# --------------------------------------------------------------------------------------


def test_cpu_generator_with_cpu_device():
    a = rl.gumbel_noise((10,), generator=_gen(1), device="cpu")
    b = rl.gumbel_noise((10,), generator=_gen(1), device=torch.device("cpu"))
    assert torch.equal(a, b) and a.device.type == "cpu"


@cuda
def test_cuda_gumbel_noise_from_cpu_generator_matches_cpu():
    for dtype in FLOAT_DTYPES:
        a = rl.gumbel_noise((1000,), generator=_gen(1), device="cpu", dtype=dtype)
        b = rl.gumbel_noise((1000,), generator=_gen(1), device="cuda", dtype=dtype)
        assert b.device.type == "cuda" and b.dtype == dtype
        assert torch.equal(a, b.cpu())


@cuda
def test_cuda_gumbel_softmax_from_cpu_generator_matches_cpu():
    logits = _randn(50, 6, seed=2, dtype=torch.float32)
    for hard in (False, True):
        a = rl.gumbel_softmax(logits, temperature=0.5, hard=hard, generator=_gen(2))
        b = rl.gumbel_softmax(logits.cuda(), temperature=0.5, hard=hard, generator=_gen(2))
        assert b.device.type == "cuda"
        torch.testing.assert_close(a, b.cpu())
        if hard:
            assert torch.equal(a, b.cpu())


@cuda
def test_cuda_gumbel_max_sample_from_cpu_generator_matches_cpu():
    logits = _randn(500, 6, seed=3, dtype=torch.float32)
    a = rl.gumbel_max_sample(logits, generator=_gen(3))
    b = rl.gumbel_max_sample(logits.cuda(), generator=_gen(3))
    assert b.device.type == "cuda" and b.dtype == torch.long
    assert torch.equal(a, b.cpu())


@cuda
def test_cuda_normal_rsample_from_cpu_generator_matches_cpu():
    mu = _randn(5, seed=4, dtype=torch.float32)
    a = rl.normal_rsample(mu, 0.5, sample_shape=(3,), generator=_gen(4))
    b = rl.normal_rsample(mu.cuda(), 0.5, sample_shape=(3,), generator=_gen(4))
    assert b.device.type == "cuda"
    torch.testing.assert_close(a, b.cpu())


@cuda
def test_cuda_generator_on_cuda_inputs():
    logits = _randn(4, 6, seed=5, dtype=torch.float32).cuda()
    a = rl.gumbel_softmax(logits, generator=_gen(6, "cuda"))
    b = rl.gumbel_softmax(logits, generator=_gen(6, "cuda"))
    assert a.device.type == "cuda" and torch.equal(a, b)
    idx = rl.gumbel_max_sample(logits, generator=_gen(6, "cuda"))
    assert idx.device.type == "cuda"
    z = rl.normal_rsample(logits, 1.0, generator=_gen(6, "cuda"))
    assert z.device.type == "cuda"
    g = rl.gumbel_noise((3,), generator=_gen(6, "cuda"), device="cuda")
    assert g.device.type == "cuda" and torch.isfinite(g).all()


@cuda
def test_cuda_generator_with_cpu_inputs_gives_cpu_result():
    # noise drawn on the generator's device (CUDA), result on the input's device (CPU)
    logits = _randn(4, 6, seed=7, dtype=torch.float32)
    y = rl.gumbel_softmax(logits, generator=_gen(7, "cuda"))
    assert y.device.type == "cpu"
    idx = rl.gumbel_max_sample(logits, generator=_gen(7, "cuda"))
    assert idx.device.type == "cpu"
    z = rl.normal_rsample(logits, 1.0, generator=_gen(7, "cuda"))
    assert z.device.type == "cpu"


def test_gradcheck_gumbel_softmax_tensor_temperature():
    logits = _randn(3, 5, seed=17)
    t = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda tt: rl.gumbel_softmax(logits, temperature=tt, generator=_gen(18)), (t,)
    )
