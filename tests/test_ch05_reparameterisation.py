"""Chapter 5 (backpropagation through random operations): the Gaussian toy's closed forms and
the page's estimators, the reparameterised samplers, the figures and the explorer's drawing,
and the exercise checkers (correct answers pass, each common mistake is named).

Expected values come from hand derivations (the moments of polynomials in a standard normal,
the inverse CDF) or from simulations with seeded CPU generators, as each test says.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import checking as ex  # noqa: E402
from dae_course import explorers, sliders, stats  # noqa: E402
from dae_course.ch05_reparameterisation import checks as rx  # noqa: E402
from dae_course.ch05_reparameterisation import figures as pr  # noqa: E402
from dae_course.ch05_reparameterisation import problems as toy  # noqa: E402

# ======================================================================================
# Toys: closed forms, the page's estimators, samplers
# ======================================================================================

# --------------------------------------------------------------------------------------
# Exact moments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p, moment", [(0, 1), (1, 0), (2, 1), (3, 0), (4, 3), (6, 15), (8, 105), (12, 10395)]
)
def test_gaussian_moment(p, moment):
    assert toy.gaussian_moment(p) == moment


def test_gaussian_moment_rejects_bad_order():
    for p in (-1, 1.5, True):
        with pytest.raises(ValueError):
            toy.gaussian_moment(p)


def test_polynomial_moments_of_z_cubed_and_a_line():
    assert toy.polynomial_moments((0, 0, 0, 1)) == (0.0, 15.0, 10395.0)
    mean, var, mu4 = toy.polynomial_moments((3.0, 2.0))  # 3 + 2z ~ N(3, 4)
    assert (mean, var, mu4) == (3.0, 4.0, 48.0)


@pytest.mark.parametrize(
    "mu, sigma, k, variance",
    [
        (1.0, 1.0, 1.0, 15.0),  # d = 0
        (1.0, 1.0, 0.0, 30.0),  # d = 1: 1 + 14 + 15
        (1.0, 1.0, 3.0, 87.0),  # d = -2: 16 + 56 + 15
        (1.0, 1.0, -3.0, 495.0),  # d = 4: 256 + 224 + 15
        (2.0, 2.0, 0.0, 120.0),  # d = 2, sigma = 2: 16/4 + 56 + 60
    ],
)
def test_score_function_variance_hand_values(mu, sigma, k, variance):
    assert toy.score_function_variance(mu, sigma, k) == pytest.approx(variance)
    _, poly_var, _ = toy.polynomial_moments(toy.estimator_polynomial("score", mu, sigma, k))
    assert poly_var == pytest.approx(variance)


def test_pathwise_variance_and_exact_values():
    assert toy.pathwise_variance(1.0) == 4.0 and toy.pathwise_variance(2.0) == 16.0
    for k in (-2.0, 1.0, 4.0):
        _, var, _ = toy.polynomial_moments(toy.estimator_polynomial("pathwise", 1.0, 1.0, k))
        assert var == pytest.approx(4.0)
    assert toy.toy_gradient(1.0, 3.0) == -4.0
    assert toy.toy_loss(1.0, 2.0, 3.0) == 8.0


def test_estimator_polynomial_means_are_the_gradient():
    for kind in ("pathwise", "score"):
        for k in (-1.0, 0.5, 2.0):
            mean, _, _ = toy.polynomial_moments(toy.estimator_polynomial(kind, 1.0, 1.5, k))
            assert mean == pytest.approx(2 * (1.0 - k))
    with pytest.raises(ValueError):
        toy.estimator_polynomial("measure-valued", 1.0, 1.0, 0.0)
    with pytest.raises(ValueError):
        toy.estimator_polynomial("score", 1.0, 0.0, 0.0)


def test_polynomial_moments_feed_the_standard_error_of_a_variance():
    # the chapter's route: exact (var, mu4) of the estimator, then dae_course.stats
    _, var, mu4 = toy.polynomial_moments(toy.estimator_polynomial("score", 1.0, 1.0, 1.0))
    assert (var, mu4) == (15.0, 10395.0)
    se = stats.sample_variance_standard_error(var, mu4, 200)
    assert se == pytest.approx(math.sqrt((10395 - 225 * 197 / 199) / 200))


def test_sample_variance_standard_error_by_simulation():
    # 2000 batches of 200 draws of the score estimator at d = 1: the spread of the batch
    # variances must match the formula to within 10 %.
    coeffs = toy.estimator_polynomial("score", 1.0, 1.0, 0.0)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 200, generator=g, dtype=torch.float64)
    s = sum(c * z**j for j, c in enumerate(coeffs))
    measured = float(s.var(dim=1).std())
    _, var, mu4 = toy.polynomial_moments(coeffs)
    assert measured == pytest.approx(stats.sample_variance_standard_error(var, mu4, 200), rel=0.1)


# --------------------------------------------------------------------------------------
# The estimators
# --------------------------------------------------------------------------------------


def test_page_estimators_match_their_closed_forms():
    z = torch.randn(1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mu, sigma, k = 1.0, 0.7, 2.5
    x = mu + sigma * z
    path = toy.pathwise_gradients(mu, sigma, k, z)
    score = toy.score_function_gradients(mu, sigma, k, x)
    assert path.shape == score.shape == (1000,)
    assert torch.allclose(path, toy.pathwise_estimates(x, k))
    assert torch.allclose(score, toy.score_function_estimates(x, mu, sigma, k))
    assert torch.allclose(score, (x - k) ** 2 * (x - mu) / sigma**2)


def test_page_estimators_any_shape_and_dtype():
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))  # float32, 2-d
    path = toy.pathwise_gradients(0.5, 2.0, 1.0, z)
    score = toy.score_function_gradients(0.5, 2.0, 1.0, 0.5 + 2.0 * z)
    assert path.shape == score.shape == (4, 3) and path.dtype == score.dtype == torch.float32
    assert torch.allclose(path, 2 * (0.5 + 2.0 * z - 1.0), atol=1e-5)


def test_page_estimators_do_not_touch_their_inputs():
    z = torch.randn(50, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    before = z.clone()
    toy.pathwise_gradients(1.0, 1.0, 0.0, z)
    toy.score_function_gradients(1.0, 1.0, 0.0, 1.0 + z)
    assert torch.equal(z, before) and not z.requires_grad


def test_per_sample_gradients_match_formulas():
    g = torch.Generator().manual_seed(1)
    path, score = toy.per_sample_gradients(1.0, 0.7, 2.5, 1000, g)
    x = path / 2 + 2.5  # pathwise = 2 (x - k)
    assert path.shape == score.shape == (1000,)
    expected = (x - 2.5) ** 2 * (x - 1.0) / 0.7**2
    assert torch.allclose(score, expected)
    # x really are N(1, 0.7^2) draws
    assert abs(float(x.mean()) - 1.0) < 5 * 0.7 / math.sqrt(1000)


def test_per_sample_gradients_draw_what_normal_rsample_draws():
    path, _ = toy.per_sample_gradients(0.5, 2.0, 0.0, 20, torch.Generator().manual_seed(7))
    x = rl.normal_rsample(
        torch.full((20,), 0.5, dtype=torch.float64), 2.0, generator=torch.Generator().manual_seed(7)
    )
    assert torch.allclose(path, 2 * x)


def test_per_sample_gradients_reproducible_and_validated():
    a = toy.per_sample_gradients(1.0, 1.0, 0.0, 50, torch.Generator().manual_seed(4))
    b = toy.per_sample_gradients(1.0, 1.0, 0.0, 50, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n must be"):
            toy.per_sample_gradients(1.0, 1.0, 0.0, bad)


@pytest.mark.parametrize("k", [-2.0, 1.0, 3.0])
def test_estimators_unbiased_with_closed_form_variances(k):
    n = 400_000
    path, score = toy.per_sample_gradients(1.0, 1.0, k, n, torch.Generator().manual_seed(2))
    exact = 2 * (1.0 - k)
    for est, kind, var in (
        (path, "pathwise", 4.0),
        (score, "score", toy.score_function_variance(1.0, 1.0, k)),
    ):
        assert abs(float(est.mean()) - exact) < 5 * math.sqrt(var / n)
        _, poly_var, mu4 = toy.polynomial_moments(toy.estimator_polynomial(kind, 1.0, 1.0, k))
        se = stats.sample_variance_standard_error(poly_var, mu4, n)
        assert abs(float(est.var()) - var) < 5 * se


# --------------------------------------------------------------------------------------
# Exponential and Gumbel samplers
# --------------------------------------------------------------------------------------


def test_exponential_rsample_distribution_and_gradient():
    rate = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    y = toy.exponential_rsample(rate, 20_000, generator=torch.Generator().manual_seed(0))
    assert y.shape == (20_000,) and bool((y >= 0).all())

    def cdf(v):
        return 1 - torch.exp(-2.5 * v)

    n = y.numel()
    assert stats.ks_statistic(y, cdf) < stats.ks_critical_value(n)
    (grad,) = torch.autograd.grad(y.sum(), rate)
    assert float(grad) == pytest.approx(float((-y.detach() / 2.5).sum()))
    # a wrong rate is detected
    assert stats.ks_statistic(y, lambda v: 1 - torch.exp(-2.0 * v)) > stats.ks_critical_value(n)


def test_exponential_icdf_is_finite_at_zero_and_inverts_the_cdf():
    u = torch.tensor([0.0, 0.25, 0.5, 1.0 - 2.0**-53], dtype=torch.float64)
    y = toy.exponential_icdf(u, torch.tensor(2.0, dtype=torch.float64))
    assert bool(torch.isfinite(y).all()) and y[0] == 0.0
    assert torch.allclose(1 - torch.exp(-2.0 * y), u)  # F(F^-1(u)) = u
    assert y[-1] == pytest.approx(53 * math.log(2) / 2)


def test_exponential_rsample_is_the_icdf_of_the_generators_uniforms():
    rate = torch.tensor([1.0, 3.0], dtype=torch.float64)
    y = toy.exponential_rsample(rate, 5, generator=torch.Generator().manual_seed(9))
    u = torch.rand((5, 2), generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    assert torch.equal(y, -torch.log1p(-u) / rate)


def test_exponential_rsample_shapes_and_checks():
    rate = torch.tensor([1.0, 3.0])
    g = torch.Generator().manual_seed(0)
    assert toy.exponential_rsample(rate, (4, 5), generator=g).shape == (4, 5, 2)
    assert bool(torch.isfinite(toy.exponential_rsample(rate, 10_000, generator=g)).all())
    with pytest.raises(ValueError):
        toy.exponential_rsample(torch.tensor([1.0, 0.0]))
    with pytest.raises(TypeError):
        toy.exponential_rsample(torch.tensor([1, 2]))


def test_gumbel_rsample_distribution_and_gradients():
    loc = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    y = toy.gumbel_rsample(loc, scale, 20_000, generator=torch.Generator().manual_seed(0))
    n = y.numel()
    assert stats.ks_statistic(y, lambda v: torch.exp(-torch.exp(-(v - 0.5) / 2.0))) < (
        stats.ks_critical_value(n)
    )
    sd = math.pi * 2.0 / math.sqrt(6)
    assert abs(float(y.detach().mean()) - (0.5 + 2.0 * toy.EULER_GAMMA)) < 5 * sd / math.sqrt(n)
    g_loc, g_scale = torch.autograd.grad(y.sum(), (loc, scale))
    assert float(g_loc) == pytest.approx(n)
    assert float(g_scale) == pytest.approx(float(((y.detach() - 0.5) / 2.0).sum()))
    with pytest.raises(ValueError):
        toy.gumbel_rsample(loc, torch.tensor(-1.0))


# ======================================================================================
# Figures, the explorer's drawing and the slider
# ======================================================================================


def teardown_function():
    plt.close("all")


def test_sgd_fit_figure():
    fig = pr.sgd_fit_figure([0.0, 1.0, 1.9], [1.0, 0.7, 0.5], (2.0, 0.5))
    assert len(fig.axes) == 2
    dashed = [ln for ln in fig.axes[1].get_lines() if ln.get_linestyle() == "--"]
    assert dashed and dashed[0].get_ydata()[0] == 0.5
    with pytest.raises(ValueError):
        pr.sgd_fit_figure([0.0], [1.0, 2.0], (0.0, 1.0))


def test_density_check_figure():
    g = torch.Generator().manual_seed(0)
    y = -torch.log(torch.rand(5000, generator=g, dtype=torch.float64)) / 2.0
    dist = torch.distributions.Exponential(torch.tensor(2.0, dtype=torch.float64))
    fig = pr.density_check_figure([("Exp(2)", y, dist), ("Exp(2) again", y, dist)])
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title() == "Exp(2)"
    curve = fig.axes[0].get_lines()[0]
    # the curve is the exponential density 2 exp(-2 y)
    x0, d0 = curve.get_xdata()[0], curve.get_ydata()[0]
    assert d0 == pytest.approx(2.0 * torch.exp(torch.tensor(-2.0 * x0)).item(), rel=1e-6)
    with pytest.raises(ValueError):
        pr.density_check_figure([])


def test_estimator_variance_figure():
    ks = [-1.0, 1.0, 3.0]
    fig = pr.estimator_variance_figure(
        ks, [4.0, 4.1, 3.9], [80.0, 15.0, 87.0], pathwise_mean=[4, 0, -4], score_mean=[4, 0, -4]
    )
    assert len(fig.axes) == 2
    assert fig.axes[0].get_yscale() == "log"
    closed = fig.axes[0].get_lines()[0]  # the score-function closed form
    # at k = 1 (d = 0) the closed form is 15; the curve's minimum
    assert min(closed.get_ydata()) == pytest.approx(15.0, rel=1e-3)
    assert fig.axes[0].get_lines()[1].get_ydata()[0] == 4.0
    only_var = pr.estimator_variance_figure(ks, [4.0] * 3, [1.0] * 3)
    assert len(only_var.axes) == 1
    with pytest.raises(ValueError):
        pr.estimator_variance_figure(ks, [4.0], [1.0] * 3)


def _panel_draw(n=5000):
    """The chapter's draw(fig, k): the page's estimators on fixed draws, then the panel."""
    z = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def draw(fig, k, mu=1.0, sigma=1.0):
        path = toy.pathwise_gradients(mu, sigma, k, z)
        score = toy.score_function_gradients(mu, sigma, k, mu + sigma * z)
        return pr.estimator_panel(fig, k, path, score, mu=mu, sigma=sigma)

    return draw


@pytest.mark.parametrize("k, exact_score", [(1.0, "15"), (3.0, "87"), (-2.0, "222")])
def test_estimator_panel(k, exact_score):
    draw = _panel_draw()
    fig = Figure()
    caption = draw(fig, k)
    assert f"exact {exact_score})" in caption and "pathwise" in caption and "exact 4)" in caption
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "count (of 5000)"
    vline = ax.get_lines()[0]
    assert vline.get_xdata()[0] == pytest.approx(2 * (1.0 - k))
    assert draw(Figure(), k) == caption  # the same draws give the same caption


def test_estimator_panel_rejects_mismatched_estimates():
    with pytest.raises(ValueError, match="same number"):
        pr.estimator_panel(Figure(), 1.0, torch.zeros(5), torch.zeros(4))


def test_explorer_redraws_with_the_chapters_draw():
    explorer = explorers.parameter_explorer(
        _panel_draw(), value=1.0, min=-3.0, max=5.0, description="target k", log=False, steps=32
    )
    assert explorer.redraws == 1 and "(exact 15)" in explorer.caption.value
    explorer.slider.value = 3.0  # what dragging the slider does
    assert explorer.redraws == 2 and "(exact 87)" in explorer.caption.value
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_slider_has_one_frame_per_target_and_no_external_url():
    targets = [-3.0, 1.0, 5.0]
    html = sliders.jshtml(lambda: sliders.scrub_animation(_panel_draw(500), targets)).data
    assert sliders.jshtml_frame_count(html) == len(targets)
    assert not sliders.external_urls(html)


# ======================================================================================
# Exercise checkers
# ======================================================================================

# --------------------------------------------------------------------------------------
# Exercise: reparameterised Gaussian from (mu, log_var)
# --------------------------------------------------------------------------------------


def _z(mu, n, generator):
    return torch.randn((n,) + tuple(mu.shape), generator=generator, dtype=mu.dtype)


def good_gauss(mu, log_var, n, generator):
    return mu + torch.exp(0.5 * log_var) * _z(mu, n, generator)


def good_gauss_sqrt(mu, log_var, n, generator):
    return mu + torch.sqrt(torch.exp(log_var)) * _z(mu, n, generator)


def good_gauss_rl(mu, log_var, n, generator):
    return rl.normal_rsample(mu, torch.exp(0.5 * log_var), (n,), generator=generator)


def good_gauss_float32_noise(mu, log_var, n, generator):
    z = torch.randn((n,) + tuple(mu.shape), generator=generator)  # float32 noise
    return mu + (0.5 * log_var).exp() * z


def _std(log_var):
    return torch.exp(0.5 * log_var)


def sample_method(mu, log_var, n, generator):
    return torch.distributions.Normal(mu, _std(log_var)).sample((n,))


def detached(mu, log_var, n, generator):
    return mu.detach() + _std(log_var).detach() * _z(mu, n, generator)


def torch_normal(mu, log_var, n, generator):
    shape = (n,) + tuple(mu.shape)
    return torch.normal(mu.expand(shape), _std(log_var).expand(shape), generator=generator)


def recovered_z(mu, log_var, n, generator):
    std = _std(log_var)
    y = torch.normal(mu.detach().expand(n, -1), std.detach().expand(n, -1), generator=generator)
    z = (y - mu) / std  # z now depends on mu and sigma
    return mu + std * z


def z_depends_on_mu(mu, log_var, n, generator):
    std = _std(log_var)
    y = mu.detach() + std.detach() * _z(mu, n, generator)
    z = (y - mu) / std.detach()
    return mu + std * z


def std_detached(mu, log_var, n, generator):
    return mu + _std(log_var).detach() * _z(mu, n, generator)


def variance_as_std(mu, log_var, n, generator):
    return mu + torch.exp(log_var) * _z(mu, n, generator)


def log_var_as_std(mu, log_var, n, generator):
    return mu + log_var * _z(mu, n, generator)


def sqrt_twice(mu, log_var, n, generator):
    return mu + torch.sqrt(torch.exp(0.5 * log_var)) * _z(mu, n, generator)


def no_scale(mu, log_var, n, generator):
    return mu + _z(mu, n, generator) + 0 * log_var


def divided(mu, log_var, n, generator):
    return mu + _z(mu, n, generator) / _std(log_var)


def forgot_mean(mu, log_var, n, generator):
    return _std(log_var) * _z(mu, n, generator) + 0 * mu


def one_z_for_all_samples(mu, log_var, n, generator):
    z = torch.randn(tuple(mu.shape), generator=generator, dtype=mu.dtype)
    return mu + _std(log_var) * z.expand((n,) + tuple(mu.shape))


def one_z_for_all_entries(mu, log_var, n, generator):
    z = torch.randn((n, 1), generator=generator, dtype=mu.dtype)
    return mu + _std(log_var) * z


def one_sample(mu, log_var, n, generator):
    return good_gauss(mu, log_var, 1, generator)[0]


def transposed(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator).T


def global_rng(mu, log_var, n, generator):
    return mu + _std(log_var) * torch.randn((n,) + tuple(mu.shape), dtype=mu.dtype)


def own_seed(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, torch.Generator().manual_seed(0))


def doubled_mu_gradient(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator) + (mu - mu.detach())


def halved_log_var_gradient(mu, log_var, n, generator):
    std = torch.exp(0.25 * log_var) * torch.exp(0.25 * log_var.detach())
    return mu + std * _z(mu, n, generator)


def python_float(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator).mean().item()


def integer(mu, log_var, n, generator):
    return good_gauss(mu, log_var, n, generator).round().long()


def nan_samples(mu, log_var, n, generator):
    y = good_gauss(mu, log_var, n, generator)
    return y * torch.where(torch.arange(n)[:, None] == 3, math.nan, 1.0)


def stub(*args):
    raise NotImplementedError


GAUSS_MISTAKES = {
    "stub": (stub, ex.NOT_ATTEMPTED, None, "not attempted yet"),
    "returns None": (lambda *a: None, ex.NOT_ATTEMPTED, None, "returns None"),
    ".sample()": (sample_method, ex.INCORRECT, "no gradient", ".sample()"),
    "detached": (detached, ex.INCORRECT, "no gradient", "no gradient flows"),
    "torch.normal": (
        torch_normal,
        ex.INCORRECT,
        "noise depends on parameters",
        "torch.normal",
    ),
    "z recovered from a sample": (
        recovered_z,
        ex.INCORRECT,
        "noise depends on parameters",
        "z = (y - mu) / std",
    ),
    "z depends on mu": (z_depends_on_mu, ex.INCORRECT, "noise depends on mu", "depends on mu"),
    "std detached": (std_detached, ex.INCORRECT, "no gradient to log_var", "log_var is zero"),
    "variance as std": (variance_as_std, ex.INCORRECT, "variance as std", "is the variance"),
    "log_var as std": (log_var_as_std, ex.INCORRECT, "log-variance as std", "logarithm"),
    "square root twice": (sqrt_twice, ex.INCORRECT, "square root twice", "another one"),
    "no scale": (no_scale, ex.INCORRECT, "no scale", "standard deviation 1"),
    "divided by std": (divided, ex.INCORRECT, "divided by std", "instead of dividing"),
    "forgot mean": (forgot_mean, ex.INCORRECT, "forgot mean", "add the mean"),
    "one z for all samples": (one_z_for_all_samples, ex.INCORRECT, "shared noise", "are equal"),
    "one z for all entries": (
        one_z_for_all_entries,
        ex.INCORRECT,
        "correlated noise",
        "correlated",
    ),
    "one sample": (one_sample, ex.INCORRECT, "wrong shape", "one sample per parameter"),
    "transposed": (transposed, ex.INCORRECT, "wrong shape", "comes first"),
    "global RNG": (global_rng, ex.INCORRECT, "ignores generator", "ignores its `generator`"),
    "own seed": (own_seed, ex.INCORRECT, "ignores generator", "different seeds"),
    "wrong mu gradient": (doubled_mu_gradient, ex.INCORRECT, "wrong gradient", "dy/dmu = 1"),
    "wrong log_var gradient": (
        halved_log_var_gradient,
        ex.INCORRECT,
        "wrong gradient",
        "(y - mu) / 2",
    ),
    "python float": (python_float, ex.INCORRECT, "not a tensor", "torch.Tensor"),
    "integer": (integer, ex.INCORRECT, "integer output", "float tensor"),
    "nan": (nan_samples, ex.INCORRECT, "not finite", "inf or NaN"),
}


@pytest.mark.parametrize(
    "fn",
    [
        good_gauss,
        good_gauss_sqrt,
        good_gauss_rl,
        good_gauss_float32_noise,
        rx.reference_gaussian_rsample,
    ],
)
def test_gaussian_rsample_correct_answers_pass(fn):
    feedback = rx.check_gaussian_rsample(fn)
    assert feedback.passed, feedback
    assert "all checks passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(GAUSS_MISTAKES))
def test_gaussian_rsample_mistake_named(name):
    fn, status, mistake, phrase = GAUSS_MISTAKES[name]
    feedback = rx.check_gaussian_rsample(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_gaussian_rsample_error_reported():
    def broken(mu, log_var, n, generator):
        raise ValueError("oops")

    feedback = rx.check_gaussian_rsample(broken)
    assert feedback.status == ex.ERROR and "oops" in feedback.message


def test_reference_gaussian_rsample_statistics_and_gradients():
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    log_var = torch.tensor([math.log(9.0), 0.0], dtype=torch.float64, requires_grad=True)
    y = rx.reference_gaussian_rsample(mu, log_var, 50_000, torch.Generator().manual_seed(3))
    assert y.shape == (50_000, 2)
    assert torch.allclose(y.mean(0), torch.tensor([1.0, -2.0], dtype=torch.float64), atol=0.07)
    assert torch.allclose(y.std(0), torch.tensor([3.0, 1.0], dtype=torch.float64), atol=0.05)
    y.sum().backward()
    assert torch.allclose(mu.grad, torch.full((2,), 50_000.0, dtype=torch.float64))
    assert torch.allclose(log_var.grad, 0.5 * (y.detach() - mu.detach()).sum(0))


# --------------------------------------------------------------------------------------
# Exercise: the exponential's inverse CDF, safe at u = 0
# --------------------------------------------------------------------------------------


def good_icdf(u, rate):
    return -torch.log1p(-u) / rate


def good_icdf_one_minus(u, rate):
    return -torch.log(1 - u) / rate


def good_icdf_torch(u, rate):
    return torch.distributions.Exponential(rate).icdf(u)


def icdf_clamped_mirror(u, rate):
    return -torch.log(u.clamp(min=1e-300)) / rate


def icdf_nan_at_zero(u, rate):
    return good_icdf(u, rate) * torch.where(u == 0, math.nan, 1.0)


ICDF_MISTAKES = {
    "stub": (stub, ex.NOT_ATTEMPTED, None, "not attempted yet"),
    "returns None": (lambda *a: None, ex.NOT_ATTEMPTED, None, "returns None"),
    "mirrored": (lambda u, r: -torch.log(u) / r, ex.INCORRECT, "mirrored", "log1p(-u)"),
    "mirrored, clamped": (icdf_clamped_mirror, ex.INCORRECT, "mirrored", "infinite at u = 0"),
    "CDF": (lambda u, r: 1 - torch.exp(-r * u), ex.INCORRECT, "CDF, not inverse", "inverse"),
    "sign": (lambda u, r: torch.log1p(-u) / r, ex.INCORRECT, "wrong sign", "minus sign"),
    "log1p(u)": (lambda u, r: -torch.log1p(u) / r, ex.INCORRECT, "log1p(u)", "log1p(-u)"),
    "rate as scale": (
        lambda u, r: -torch.log1p(-u) * r,
        ex.INCORRECT,
        "rate as scale",
        "divide",
    ),
    "no log": (lambda u, r: u / r, ex.INCORRECT, "no log", "uniform variable"),
    "forgot rate": (
        lambda u, r: -torch.log1p(-u) + 0 * r,
        ex.INCORRECT,
        "forgot rate",
        "do not depend on the rate",
    ),
    "not finite at 0": (icdf_nan_at_zero, ex.INCORRECT, "not finite", "not finite"),
    "detached": (
        lambda u, r: good_icdf(u, r).detach(),
        ex.INCORRECT,
        "no gradient",
        "no gradient flows back to rate",
    ),
    "python float": (
        lambda u, r: float(good_icdf(u, r).sum()),
        ex.INCORRECT,
        "not a tensor",
        "torch.Tensor",
    ),
}


@pytest.mark.parametrize(
    "fn", [good_icdf, good_icdf_one_minus, good_icdf_torch, toy.exponential_icdf]
)
def test_exponential_icdf_correct_answers_pass(fn):
    feedback = rx.check_exponential_icdf(fn)
    assert feedback.passed, feedback
    assert "finite at u = 0" in feedback.message


@pytest.mark.parametrize("name", sorted(ICDF_MISTAKES))
def test_exponential_icdf_mistake_named(name):
    fn, status, mistake, phrase = ICDF_MISTAKES[name]
    feedback = rx.check_exponential_icdf(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_exponential_icdf_checker_feeds_an_exact_zero():
    seen = []

    def spy(u, rate):
        seen.append(u.detach().clone())
        return good_icdf(u, rate)

    assert rx.check_exponential_icdf(spy)
    assert any(bool((u == 0).any()) for u in seen)


# --------------------------------------------------------------------------------------
# Exercise: the score-function estimator
# --------------------------------------------------------------------------------------


def good_score(x, mu, sigma, k):
    return (x - k) ** 2 * (x - mu) / sigma**2


def page_score(x, mu, sigma, k):
    return toy.score_function_gradients(mu, sigma, k, x)  # the page's, by autograd


def good_score_autograd(x, mu, sigma, k):
    m = torch.full_like(x, mu, requires_grad=True)
    log_p = torch.distributions.Normal(m, sigma).log_prob(x)
    (grad,) = torch.autograd.grad(log_p.sum(), m)
    return (x - k) ** 2 * grad


SCORE_MISTAKES = {
    "no score factor": (lambda x, m, s, k: (x - k) ** 2, "forgot score"),
    "pathwise": (lambda x, m, s, k: 2 * (x - k), "pathwise"),
    "sign": (lambda x, m, s, k: (x - k) ** 2 * (m - x) / s**2, "wrong sign"),
    "divided by sigma": (lambda x, m, s, k: (x - k) ** 2 * (x - m) / s, "divided by sigma"),
    "divided by sigma^4": (
        lambda x, m, s, k: (x - k) ** 2 * (x - m) / (s**2) ** 2,
        "divided by sigma^4",
    ),
    "no division": (lambda x, m, s, k: (x - k) ** 2 * (x - m), "no variance"),
    "score of sigma": (
        lambda x, m, s, k: (x - k) ** 2 * ((x - m) ** 2 - s**2) / s**3,
        "score of sigma",
    ),
    "log p": (
        lambda x, m, s, k: (x - k) ** 2 * torch.distributions.Normal(m, s).log_prob(x),
        "log prob",
    ),
    "mu and k swapped": (lambda x, m, s, k: (x - m) ** 2 * (x - k) / s**2, "mu and k swapped"),
    "averaged": (lambda x, m, s, k: good_score(x, m, s, k).mean(), "averaged"),
}


@pytest.mark.parametrize(
    "fn",
    [good_score, good_score_autograd, toy.score_function_estimates, page_score],
)
def test_score_correct_answers_pass(fn):
    feedback = rx.check_score_function_estimator(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize("name", sorted(SCORE_MISTAKES))
def test_score_mistake_named(name):
    fn, mistake = SCORE_MISTAKES[name]
    feedback = rx.check_score_function_estimator(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_score_stub_and_generic_wrong():
    assert rx.check_score_function_estimator(stub).status == ex.NOT_ATTEMPTED
    feedback = rx.check_score_function_estimator(lambda x, m, s, k: 1.5 * good_score(x, m, s, k))
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message


# --------------------------------------------------------------------------------------
# Exercise: the score-function variance for any sigma (a derivation)
# --------------------------------------------------------------------------------------


def good_variance(d, sigma):
    return d**4 / sigma**2 + 14 * d**2 + 15 * sigma**2


def good_variance_expanded(d, sigma):
    second_moment = d**4 / sigma**2 + 18 * d**2 + 15 * sigma**2
    return second_moment - (2 * d) ** 2


VARIANCE_MISTAKES = {
    "second moment": (lambda d, s: d**4 / s**2 + 18 * d**2 + 15 * s**2, "subtracts"),
    "sigma = 1 only": (lambda d, s: d**4 + 14 * d**2 + 15 + 0 * s, "carry sigma"),
    "cross term dropped": (lambda d, s: d**4 / s**2 + 8 * d**2 + 15 * s**2, "6 d^2"),
    "no division by sigma^2": (
        lambda d, s: s**2 * d**4 + 14 * d**2 * s**4 + 15 * s**6,
        "without the division",
    ),
    "pathwise": (lambda d, s: 4 * s**2 + 0 * d, "pathwise"),
}


@pytest.mark.parametrize("fn", [good_variance, good_variance_expanded])
def test_score_variance_correct_answers_pass(fn):
    feedback = rx.check_score_variance(fn)
    assert feedback.passed, feedback


def test_score_variance_reference_is_the_chapters_closed_form():
    assert rx.check_score_variance(lambda d, s: toy.score_function_variance(d, s, 0.0))


@pytest.mark.parametrize("name", sorted(VARIANCE_MISTAKES))
def test_score_variance_mistake_named(name):
    fn, phrase = VARIANCE_MISTAKES[name]
    feedback = rx.check_score_variance(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == name, feedback
    assert phrase in feedback.message, feedback


def test_score_variance_stub_and_generic_wrong():
    assert rx.check_score_variance(stub).status == ex.NOT_ATTEMPTED
    feedback = rx.check_score_variance(lambda d, s: 1.1 * good_variance(d, s))
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message


def test_score_variance_matches_a_measurement():
    # the closed form the checker wants is what the page's estimator shows at sigma = 2
    z = torch.randn(400_000, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    mu, sigma, k = 1.0, 2.0, 2.0
    v = float(toy.score_function_gradients(mu, sigma, k, mu + sigma * z).var())
    _, var, mu4 = toy.polynomial_moments(toy.estimator_polynomial("score", mu, sigma, k))
    assert var == pytest.approx(74.25)
    assert abs(v - 74.25) < 5 * stats.sample_variance_standard_error(var, mu4, z.numel())
