"""Chapter 6 (discrete outputs and REINFORCE): the toy's exact answers, the figures, and the
exercise checkers of ``dae_course.ch06_reinforce``.

The estimators themselves (surrogate, baselines, SGD) are written on the page,
chapters/06_reinforce.ipynb, and checked there by nbval. Expected values here are computed
independently: by hand (numbers written out), by brute-force enumeration of every outcome of
m samples, or from the formulas. Checkers: correct answers pass; each named mistake, written
as a small wrong function, is caught with its own message.
"""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import checking as ex  # noqa: E402
from dae_course import sliders, stats  # noqa: E402
from dae_course.ch06_reinforce import checks as rex  # noqa: E402
from dae_course.ch06_reinforce import figures as rplot  # noqa: E402
from dae_course.ch06_reinforce import problems as toy  # noqa: E402

F64 = torch.float64


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------
# problems: exact values
# --------------------------------------------------------------------------------------


def enumerate_estimates(theta, t, m, baseline=None):
    """Every outcome of m Bernoulli samples with its probability and its estimate (brute force)."""
    out = []
    for bits in itertools.product([0.0, 1.0], repeat=m):
        b = torch.tensor(bits, dtype=F64)
        prob = math.prod(theta if x else 1 - theta for x in bits)
        L = (b - t) ** 2
        s = b / theta - (1 - b) / (1 - theta)
        if baseline == "loo":
            base = (L.sum() - L) / (m - 1)
        elif baseline == "mean":
            base = L.mean().expand(m)
        elif baseline is None:
            base = torch.zeros(m, dtype=F64)
        else:
            base = torch.full((m,), float(baseline), dtype=F64)
        out.append((prob, float(((L - base) * s).mean())))
    return out


def moments(pairs):
    mean = sum(p * v for p, v in pairs)
    var = sum(p * (v - mean) ** 2 for p, v in pairs)
    return mean, var


# --------------------------------------------------------------------------------------
# exact values
# --------------------------------------------------------------------------------------


def test_expected_loss_and_gradient_by_hand():
    assert toy.expected_loss(0.3, 0.45) == pytest.approx(0.3 * 0.3025 + 0.7 * 0.2025)
    assert toy.exact_gradient(0.3, 0.45) == pytest.approx(0.1)
    assert toy.exact_gradient(0.9, 0.499) == pytest.approx(0.002)
    theta = torch.tensor(0.37, dtype=F64, requires_grad=True)
    toy.expected_loss(theta, 0.45).backward()
    assert theta.grad.item() == pytest.approx(0.1, abs=1e-12)


def test_estimator_values_by_hand():
    g1, g0 = toy.estimator_values(0.3, 0.45)
    assert g1 == pytest.approx(0.3025 / 0.3) and g0 == pytest.approx(-0.2025 / 0.7)
    assert 0.3 * g1 + 0.7 * g0 == pytest.approx(0.1)
    g1, g0 = toy.estimator_values(0.3, 0.45, 0.2)
    assert g1 == pytest.approx(0.1025 / 0.3) and g0 == pytest.approx(-0.0025 / 0.7)


@pytest.mark.parametrize("theta, t, c", [(0.3, 0.45, 0.0), (0.3, 0.499, 0.1), (0.8, 0.2, 0.5)])
def test_per_sample_variance_matches_enumeration(theta, t, c):
    mean, var = moments(enumerate_estimates(theta, t, 1, c))
    assert mean == pytest.approx(1 - 2 * t)
    assert toy.per_sample_variance(theta, t, c) == pytest.approx(var)
    cstar = toy.optimal_baseline(theta, t)
    assert toy.per_sample_variance(theta, t, c) == pytest.approx(
        (c - cstar) ** 2 / (theta * (1 - theta))
    )


def test_plain_variance_numbers():
    # (1-t)^4/theta + t^4/(1-theta) - (1-2t)^2 at theta = 0.3, t = 0.45, written out
    assert toy.per_sample_variance(0.3, 0.45) == pytest.approx(
        0.3025**2 / 0.3 + 0.2025**2 / 0.7 - 0.01
    )


def test_optimal_baseline_minimises_and_zeroes_the_variance():
    theta, t = 0.3, 0.45
    cstar = toy.optimal_baseline(theta, t)
    assert cstar == pytest.approx(0.7 * 0.3025 + 0.3 * 0.2025)
    grid = torch.linspace(0, 0.6, 601, dtype=F64)
    var = toy.per_sample_variance(theta, t, grid)
    assert abs(grid[var.argmin()].item() - cstar) <= 0.001
    assert toy.per_sample_variance(theta, t, cstar) == pytest.approx(0, abs=1e-14)
    assert toy.optimal_baseline(0.5, t) == pytest.approx(toy.expected_loss(0.5, t))


@pytest.mark.parametrize("m", [2, 3, 4, 6])
@pytest.mark.parametrize("theta, t", [(0.3, 0.45), (0.6, 0.1)])
def test_loo_variance_matches_enumeration(m, theta, t):
    mean, var = moments(enumerate_estimates(theta, t, m, "loo"))
    assert mean == pytest.approx(1 - 2 * t)
    assert toy.loo_variance(theta, t, m) == pytest.approx(var, rel=1e-10)


def test_loo_variance_limit_and_errors():
    theta, t, m = 0.3, 0.45, 10_000
    limit = toy.per_sample_variance(theta, t, toy.expected_loss(theta, t))
    assert m * toy.loo_variance(theta, t, m) == pytest.approx(limit, rel=1e-3)
    with pytest.raises(ValueError):
        toy.loo_variance(theta, t, 1)


@pytest.mark.parametrize("baseline", [None, 0.2, "loo", "mean"])
@pytest.mark.parametrize("m", [2, 5])
def test_estimate_distribution_matches_enumeration(baseline, m):
    theta, t = 0.3, 0.45
    values, probs = toy.estimate_distribution(theta, t, m, baseline)
    assert probs.sum().item() == pytest.approx(1.0)
    brute = {}
    for p, v in enumerate_estimates(theta, t, m, baseline):
        key = round(v, 12)
        brute[key] = brute.get(key, 0.0) + p
    mine = {}
    for v, p in zip(values.tolist(), probs.tolist()):
        key = round(v, 12)
        mine[key] = mine.get(key, 0.0) + p
    assert mine.keys() == brute.keys()
    for key in mine:
        assert mine[key] == pytest.approx(brute[key])


def test_estimate_distribution_moments_and_bias():
    theta, t = 0.3, 0.45
    for m in (1, 7, 100):
        mean, var, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, m))
        assert mean == pytest.approx(0.1) and var == pytest.approx(
            toy.per_sample_variance(theta, t) / m
        )
    mean, var, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, 100, "loo"))
    assert mean == pytest.approx(0.1) and var == pytest.approx(toy.loo_variance(theta, t, 100))
    mean, _, _ = toy.distribution_moments(*toy.estimate_distribution(theta, t, 4, "mean"))
    assert mean == pytest.approx(0.075) == toy.mean_baseline_expectation(theta, t, 4)
    values, _ = toy.estimate_distribution(theta, t, 4, "self")
    assert torch.equal(values, torch.zeros(5, dtype=F64))
    with pytest.raises(ValueError):
        toy.estimate_distribution(theta, t, 1, "loo")
    with pytest.raises(ValueError):
        toy.estimate_distribution(theta, t, 3, "other")


def test_distribution_moments_fourth():
    values = torch.tensor([-1.0, 1.0], dtype=F64)
    probs = torch.tensor([0.5, 0.5], dtype=F64)
    assert toy.distribution_moments(values, probs) == pytest.approx((0.0, 1.0, 1.0))


def test_sign_probability_by_hand():
    # m = 1: the estimate is positive exactly when b = 1 (probability theta)
    assert toy.sign_probability(0.3, 0.45, 1) == pytest.approx(0.3)
    # leave-one-out, m = 2: nonzero (and of the right sign) unless both samples agree
    assert toy.sign_probability(0.3, 0.45, 2, "loo") == pytest.approx(1 - 0.09 - 0.49)
    # t > 1/2: the true gradient is negative, m = 1 gets it right when b = 0
    assert toy.sign_probability(0.3, 0.6, 1) == pytest.approx(0.7)


def test_samples_for_sign():
    # z_0.95 = 1.6448536..., sigma^2 = 0.3536011904..., mu = 0.1
    z = 1.6448536269514722
    assert toy.samples_for_sign(0.3, 0.45) == math.ceil(z**2 * 0.35360119047619 / 0.01)
    m = toy.samples_for_sign(0.3, 0.499)
    assert 190_000 < m < 210_000
    assert 0.94 < toy.sign_probability(0.3, 0.499, m) < 0.96


@pytest.mark.parametrize("m, baseline", [(1, None), (1, 0.25), (4, None), (4, "loo")])
def test_variance_standard_error_from_the_exact_moments(m, baseline):
    theta, t, n = 0.3, 0.45, 500
    pairs = enumerate_estimates(theta, t, m, baseline)
    mean, var = moments(pairs)
    mu4 = sum(p * (v - mean) ** 4 for p, v in pairs)
    assert toy.variance_standard_error(theta, t, m, n, baseline) == pytest.approx(
        stats.sample_variance_standard_error(var, mu4, n)
    )


def test_variance_standard_error_two_point_by_hand():
    # one sample's estimate: g1 = 0.3025/0.3 w.p. 0.3, g0 = -0.2025/0.7 w.p. 0.7; a two-point
    # variable with gap d has variance p(1-p) d^2 and mu4 = p(1-p)(1 - 3p(1-p)) d^4
    d = 0.3025 / 0.3 + 0.2025 / 0.7
    q = 0.3 * 0.7
    var, mu4 = q * d**2, q * (1 - 3 * q) * d**4
    expected = math.sqrt((mu4 - var**2 * (1000 - 3) / 999) / 1000)
    assert toy.variance_standard_error(0.3, 0.45, 1, 1000) == pytest.approx(expected)


# --------------------------------------------------------------------------------------
# figures: they draw what they claim (expected curves from the formulas)
# --------------------------------------------------------------------------------------


def test_sample_loss_figure_draws_the_given_curves():
    t = 0.45
    grid = torch.linspace(0.01, 0.99, 99, dtype=F64)
    average = 0.2 + 0.1 * grid
    slope = torch.zeros_like(grid)
    fig = rplot.sample_loss_figure(t, [0.3, 0.6], grid, average, slope)
    ax1, ax2 = fig.axes
    lines = ax1.get_lines()
    assert len(lines) == 2 + 1 + 1  # two single samples, the average, the expectation
    theta = np.asarray(lines[0].get_xdata())
    np.testing.assert_allclose(lines[0].get_ydata(), np.where(theta > 0.3, 0.55**2, 0.45**2))
    np.testing.assert_allclose(lines[2].get_ydata(), average.numpy())
    np.testing.assert_allclose(lines[3].get_ydata(), theta * 0.3025 + (1 - theta) * 0.2025)
    drawn_slope, exact = ax2.get_lines()
    assert np.all(np.asarray(drawn_slope.get_ydata()) == 0)
    np.testing.assert_allclose(exact.get_ydata(), 0.1)


def test_sample_loss_figure_accepts_tensors_with_gradients():
    grid = torch.linspace(0.01, 0.99, 11, dtype=F64, requires_grad=True)
    fig = rplot.sample_loss_figure(0.45, [0.5], grid, grid * 0.1, torch.zeros(11))
    assert len(fig.axes) == 2


def test_variance_vs_samples_figure():
    ms = [1, 2, 4]
    fig = rplot.variance_vs_samples_figure(
        {"a": (ms, [1.0, 0.5, 0.26])}, {"a": (ms, [1.0, 0.5, 0.25])}, title="demo"
    )
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    exact, measured = ax.get_lines()
    assert measured.get_marker() == "o" and exact.get_linestyle() == "-"
    assert ax.get_title() == "demo"


def test_sgd_figure():
    runs = torch.rand(11, 30, generator=torch.Generator().manual_seed(0))
    exact = torch.linspace(0.5, 0.1, 11)
    fig = rplot.sgd_figure([("a", runs, exact), ("b", runs, exact[:, None])], show=5)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(ax.get_lines()) == 5 + 1 + 1  # runs, exact path, the line at 1/2
        np.testing.assert_allclose(ax.get_lines()[5].get_ydata(), exact.numpy())


def test_baseline_variance_figure():
    theta, t = 0.3, 0.45
    fig = rplot.baseline_variance_figure(theta, t, [0.0, 0.1], [0.35, 0.14], {2: 0.03, 4: 0.015})
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    curve = ax.get_lines()[0]
    c = np.asarray(curve.get_xdata())
    cstar = 0.7 * 0.3025 + 0.3 * 0.2025
    np.testing.assert_allclose(curve.get_ydata(), (c - cstar) ** 2 / 0.21, atol=1e-12)
    hlines = [
        line for line in ax.get_lines() if list(line.get_ydata()) in ([0.03, 0.03], [0.015, 0.015])
    ]
    assert len(hlines) == 2
    vlines = [float(line.get_xdata()[0]) for line in ax.get_lines()[2:4]]
    assert vlines == pytest.approx([0.3 * 0.3025 + 0.7 * 0.2025, cstar])


def test_draw_estimate_distribution_m1():
    fig = plt.figure(figsize=(7.0, 3.6))
    caption = rplot.draw_estimate_distribution(fig, 1)
    sd45 = math.sqrt(0.3025**2 / 0.3 + 0.2025**2 / 0.7 - 0.01)
    assert caption.startswith(f"m = 1: sd without baseline {sd45:.3g} (t = 0.45)")
    left, right = fig.axes
    # one sample: the estimate is positive exactly when b = 1, probability theta = 0.3
    # the title breaks after "P(right sign)" to fit its panel
    assert left.get_title().replace("\n", " ") == "t = 0.45: P(right sign) = 0.30"
    assert right.get_title().replace("\n", " ") == "t = 0.499: P(right sign) = 0.30"
    heights = left.patches[0].get_path().vertices[:, 1]
    assert heights.max() == pytest.approx(0.7)  # the b = 0 spike


def test_draw_estimate_distribution_loo_and_rounding():
    fig = plt.figure(figsize=(7.0, 3.6))
    caption = rplot.draw_estimate_distribution(fig, 2.4)  # rounded to m = 2
    assert caption.startswith("m = 2:")
    left, _ = fig.axes
    # plain, m = 2: positive unless both samples are 0 -> 1 - 0.49; LOO: 1 - 0.09 - 0.49
    assert left.get_title().replace("\n", " ") == "t = 0.45: P(right sign) = 0.51 / 0.42"
    assert len(left.patches) == 2


def test_explorer_redraws_for_the_chapter_settings():
    # the settings of the chapter's explorer cell (its checks moved here from the page)
    explorers = pytest.importorskip("dae_course.explorers")
    options = dict(min=1, max=1024, log=True, steps=50, readout_format=".0f", figsize=(7.0, 3.6))
    explorer = explorers.parameter_explorer(
        rplot.draw_estimate_distribution, value=1, description="samples m", **options
    )
    explorer.slider.value = 64
    assert explorer.redraws == 2 and "m = 64" in explorer.caption.value


def test_kernel_free_slider_frames_and_no_external_urls():
    # the chapter's slider, with fewer frames: one frame per m, nothing from another host,
    # and the same HTML on a second run (its id is given, so nbval can compare it)
    def html():
        animation = sliders.scrub_animation(
            rplot.draw_estimate_distribution, [1, 8, 64], figsize=(7.0, 3.6)
        )
        return sliders.jshtml(animation, alt="demo", html_id="ch06_samples").data

    first = html()
    assert sliders.jshtml_frame_count(first) == 3
    assert not sliders.external_urls(first)
    assert 'id="_anim_imgch06_samples"' in first
    assert first == html()


# --------------------------------------------------------------------------------------
# Exercise 1: the REINFORCE surrogate, from logits
# --------------------------------------------------------------------------------------


def log_p(logits, y):
    return torch.log_softmax(logits, dim=-1)[y]


def classic(logits, y, loss):
    return (loss.detach() * log_p(logits, y)).mean() + loss.mean()


def value_is_loss(logits, y, loss):
    score = (loss.detach() * log_p(logits, y)).mean()
    return loss.mean() + score - score.detach()


def with_library(logits, y, loss):
    return rl.reinforce_surrogate(log_p(logits, y), loss)


def with_distribution(logits, y, loss):
    lp = torch.distributions.Categorical(logits=logits).log_prob(y)
    return (loss.detach() * lp).mean() + loss.mean()


@pytest.mark.parametrize(
    "fn", [classic, value_is_loss, with_library, with_distribution, rex.reference_surrogate]
)
def test_surrogate_correct_answers_pass(fn):
    feedback = rex.check_reinforce_surrogate(fn)
    assert feedback.passed, feedback
    assert "REINFORCE" in feedback.message


def test_surrogate_value_note():
    assert "value is also the mean loss" in rex.check_reinforce_surrogate(value_is_loss).message
    assert "not the mean loss" in rex.check_reinforce_surrogate(classic).message


def test_surrogate_reference_gradient_by_hand():
    # d/dlogits of (1/m) sum_i L_i log softmax(z)[y_i] is (1/m) sum_i L_i (e_{y_i} - p)
    z = torch.tensor([0.5, -1.0, 1.5], dtype=F64, requires_grad=True)
    y = torch.tensor([2, 0])
    loss = torch.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
    rex.reference_surrogate(z, y, loss).backward()
    p = torch.softmax(z.detach(), -1)
    eye = torch.eye(3, dtype=F64)
    expected = (1.0 * (eye[2] - p) - 2.0 * (eye[0] - p)) / 2
    torch.testing.assert_close(z.grad, expected)
    torch.testing.assert_close(loss.grad, torch.full((2,), 0.5, dtype=F64))


SURROGATE_MISTAKES = {
    "log of softmax": (
        lambda z, y, L: (L.detach() * torch.log(torch.softmax(z, -1))[y]).mean() + L.mean(),
        "log of softmax",
        "log_softmax",
    ),
    "log after indexing": (
        lambda z, y, L: (L.detach() * torch.log(torch.softmax(z, -1)[y])).mean() + L.mean(),
        "log of softmax",
        "not finite",
    ),
    "logits as log p": (
        lambda z, y, L: (L.detach() * z[y]).mean() + L.mean(),
        "logits as log-probabilities",
        "logsumexp",
    ),
    "p instead of log p": (
        lambda z, y, L: (L.detach() * torch.softmax(z, -1)[y]).mean() + L.mean(),
        "forgot log",
        "LOG-probability",
    ),
    "wrong sign": (
        lambda z, y, L: -(L.detach() * log_p(z, y)).mean() + L.mean(),
        "wrong sign",
        "wrong sign",
    ),
    "everything negated": (lambda z, y, L: -classic(z, y, L), "wrong sign", "wrong sign"),
    "sum": (
        lambda z, y, L: (L.detach() * log_p(z, y)).sum() + L.mean(),
        "sum instead of mean",
        "m times too large",
    ),
    "only the mean loss": (
        lambda z, y, L: L.mean(),
        "no score term",
        "no gradient reaches the logits",
    ),
    "log p unweighted": (
        lambda z, y, L: log_p(z, y).mean() + L.mean(),
        "log prob not weighted",
        "not multiplied by the losses",
    ),
    "not detached, with mean loss": (
        lambda z, y, L: (L * log_p(z, y)).mean() + L.mean(),
        "loss not detached",
        "not detached",
    ),
    "not detached, classic": (
        lambda z, y, L: (L * log_p(z, y)).mean(),
        "loss not detached",
        "not detached",
    ),
    "no pathwise term": (
        lambda z, y, L: (L.detach() * log_p(z, y)).mean(),
        "no pathwise term",
        "add loss.mean()",
    ),
    "vector": (lambda z, y, L: L.detach() * log_p(z, y), "not a scalar", "0-d tensor"),
    "python float": (lambda z, y, L: classic(z, y, L).item(), "not a tensor", "torch.Tensor"),
    "detached": (lambda z, y, L: classic(z, y, L).detach(), "no gradient", "no gradient flows"),
}


@pytest.mark.parametrize("name", sorted(SURROGATE_MISTAKES))
def test_surrogate_mistakes_named(name):
    fn, mistake, phrase = SURROGATE_MISTAKES[name]
    feedback = rex.check_reinforce_surrogate(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_surrogate_log_of_softmax_passes_tame_cases_and_fails_float32():
    # the slip is invisible on the first two (float64, tame) cases: only the confident
    # float32 case catches it, and the message names that case
    fb = rex.check_reinforce_surrogate(SURROGATE_MISTAKES["log of softmax"][0])
    assert "float32" in fb.message and "[100, 0, -20]" in fb.message


def test_surrogate_backward_failure_is_an_error():
    def in_place(z, y, L):
        p = torch.softmax(z, -1)
        out = (L.detach() * torch.log(p)[y]).mean() + L.mean()
        p.mul_(2)  # softmax's output is needed by backward: modified in place
        return out

    fb = rex.check_reinforce_surrogate(in_place)
    assert fb.status == ex.ERROR and "backward" in fb.message, fb


def test_surrogate_unknown_wrong_gradient():
    feedback = rex.check_reinforce_surrogate(lambda z, y, L: 3 * classic(z, y, L))
    assert feedback.status == ex.INCORRECT
    assert feedback.mistake == "wrong gradient (logits)"
    assert "should be" in feedback.message


def test_surrogate_not_attempted_and_error():
    def stub(logits, y, loss):
        raise NotImplementedError

    assert rex.check_reinforce_surrogate(stub).status == ex.NOT_ATTEMPTED
    assert rex.check_reinforce_surrogate(lambda z, y, L: None).status == ex.NOT_ATTEMPTED
    fb = rex.check_reinforce_surrogate(lambda z, y, L: z @ torch.ones(7, dtype=z.dtype))
    assert fb.status == ex.ERROR


# --------------------------------------------------------------------------------------
# Exercise 2: the leave-one-out baseline
# --------------------------------------------------------------------------------------


def loo_loop(loss):
    m = loss.shape[0]
    rows = [torch.cat([loss[:i], loss[i + 1 :]]).mean(0) for i in range(m)]
    return torch.stack(rows)


def test_loo_correct_answer_passes():
    feedback = rex.check_loo_baseline(rex.reference_loo_baseline)
    assert feedback.passed, feedback


def test_loo_reference_by_hand_and_agrees_with_library():
    loss = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    torch.testing.assert_close(
        rex.reference_loo_baseline(loss),
        torch.tensor([11 / 3, 10 / 3, 3.0, 2.0], dtype=torch.float64),
    )
    theta = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    b = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)

    def grad(baseline):
        logp = b * torch.log(theta) + (1 - b) * torch.log1p(-theta)
        return torch.autograd.grad(rl.reinforce_surrogate(logp, loss, baseline), theta)[0]

    g1, g2 = grad("loo"), grad(rex.reference_loo_baseline(loss))
    torch.testing.assert_close(g1, g2)


LOO_MISTAKES = {
    "mean of all, broadcast": (lambda L: L.mean(0, keepdim=True).expand_as(L), "includes itself"),
    "mean of all, scalar": (lambda L: L.mean(0), "includes itself"),
    "divide by m": (lambda L: (L.sum(0, keepdim=True) - L) / L.shape[0], "divided by m"),
    "sum of others": (lambda L: L.sum(0, keepdim=True) - L, "not divided"),
    "wrong dim": (lambda L: (L.sum(-1, keepdim=True) - L) / (L.shape[-1] - 1), "wrong dim"),
    "centred": (lambda L: L - rex.reference_loo_baseline(L), "centred loss"),
    "own loss": (lambda L: L * 1.0, "own loss"),
}


@pytest.mark.parametrize("name", sorted(LOO_MISTAKES))
def test_loo_mistakes_named(name):
    fn, mistake = LOO_MISTAKES[name]
    feedback = rex.check_loo_baseline(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_loo_loop_is_caught_after_the_values():
    fb = rex.check_loo_baseline(loo_loop)
    assert fb.status == ex.INCORRECT and fb.mistake == "loops over samples", fb
    assert "(loss.sum(0) - loss) / (m - 1)" in fb.message


def test_loo_vectorised_variants_pass():
    def via_mean(loss):
        m = loss.shape[0]
        return (m * loss.mean(0) - loss) / (m - 1)

    for fn in (rex.reference_loo_baseline, via_mean):
        fb = rex.check_loo_baseline(fn)
        assert fb.passed, fb
        assert "no loop" in fb.message


def test_loo_includes_itself_message_says_biased():
    fb = rex.check_loo_baseline(lambda L: L.mean(0, keepdim=True).expand_as(L))
    assert "biased" in fb.message


# --------------------------------------------------------------------------------------
# Exercise 3: the exact variance with a constant baseline
# --------------------------------------------------------------------------------------


def variance_expanded(theta, t, c):
    a, z = (1 - t) ** 2 - c, t**2 - c
    return a**2 / theta + z**2 / (1 - theta) - (1 - 2 * t) ** 2


def test_variance_correct_answers_pass():
    assert rex.check_baseline_variance(variance_expanded).passed
    assert rex.check_baseline_variance(rex.reference_baseline_variance).passed


def test_variance_reference_by_hand():
    f = torch.float64
    v = rex.reference_baseline_variance(
        torch.tensor(0.3, dtype=f), torch.tensor(0.45, dtype=f), torch.tensor(0.0, dtype=f)
    )
    assert v.item() == pytest.approx(0.3025**2 / 0.3 + 0.2025**2 / 0.7 - 0.01)


def _g(theta, t, c):
    return ((1 - t) ** 2 - c) / theta, -(t**2 - c) / (1 - theta)


VARIANCE_MISTAKES = {
    "second moment": (
        lambda th, t, c: th * _g(th, t, c)[0] ** 2 + (1 - th) * _g(th, t, c)[1] ** 2,
        "second moment",
    ),
    "ignores c": (lambda th, t, c: variance_expanded(th, t, 0.0 * c), "baseline ignored"),
    "adds c": (lambda th, t, c: variance_expanded(th, t, -c), "baseline added"),
    "equal weights": (
        lambda th, t, c: ((_g(th, t, c)[0] - _g(th, t, c)[1]) / 2) ** 2,
        "unweighted outcomes",
    ),
    "unweighted squares": (
        lambda th, t, c: _g(th, t, c)[0] ** 2 + _g(th, t, c)[1] ** 2 - (1 - 2 * t) ** 2,
        "score squared twice",
    ),
    "variance of loss": (
        lambda th, t, c: th * (1 - th) * (1 - 2 * t) ** 2 + 0 * c,
        "variance of the loss",
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANCE_MISTAKES))
def test_variance_mistakes_named(name):
    fn, mistake = VARIANCE_MISTAKES[name]
    feedback = rex.check_baseline_variance(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


# --------------------------------------------------------------------------------------
# Exercise 4: predict, then run
# --------------------------------------------------------------------------------------

EXACT_RATIO = ((1 + 0.2725) / 0.2725) ** 2  # c* = 0.7 * 0.3025 + 0.3 * 0.2025 = 0.2725


def test_shift_setting_and_exact_ratio_by_hand():
    assert (rex.SHIFT_THETA, rex.SHIFT_TARGET, rex.SHIFT) == (0.3, 0.45, 1.0)
    assert toy.optimal_baseline(0.3, 0.45) == pytest.approx(0.2725)
    ratio = toy.per_sample_variance(0.3, 0.45, -1.0) / toy.per_sample_variance(0.3, 0.45)
    assert ratio == pytest.approx(EXACT_RATIO) and ratio == pytest.approx(21.807, abs=1e-3)


@pytest.mark.parametrize("guess", [EXACT_RATIO, 12.0, 40.0, 22])
def test_shift_prediction_within_a_factor_of_two_passes(guess):
    fb = rex.check_shift_prediction(lambda: guess, 21.5)
    assert fb.passed, fb
    assert "21.5" in fb.message and "21.8" in fb.message  # measured and exact revealed


@pytest.mark.parametrize(
    "guess, mistake",
    [
        (0.0, "not positive"),
        (-3.0, "not positive"),
        (1.0, "unchanged"),
        (1.05, "unchanged"),
        (0.5, "decrease"),
        (math.sqrt(EXACT_RATIO), "standard deviations"),
        (5.0, "standard deviations"),
        (2.0, "wrong size"),
        (100.0, "wrong size"),
    ],
)
def test_shift_prediction_mistakes_named(guess, mistake):
    fb = rex.check_shift_prediction(lambda: guess, 21.5)
    assert fb.status == ex.INCORRECT and fb.mistake == mistake, fb
    assert "c = -1" in fb.message  # every verdict explains why


def test_shift_prediction_not_attempted_hides_the_measurement():
    def stub():
        raise NotImplementedError

    fb = rex.check_shift_prediction(stub, 21.5)
    assert fb.status == ex.NOT_ATTEMPTED and "21.5" not in fb.message


@pytest.mark.parametrize("value", ["a lot", float("nan"), float("inf"), [2.0]])
def test_shift_prediction_not_a_number(value):
    fb = rex.check_shift_prediction(lambda: value, 21.5)
    assert fb.status == ex.ERROR, fb
