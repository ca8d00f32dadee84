"""Chapter 11 (relaxed Bernoulli, REBAR and RELAX): its course code.

* the exact references: the binary Concrete CDF, the Bernoulli KL and the relaxed KL at one
  temperature;
* the density drawings, the variance and trajectory figures, and the page's explorer and
  slider;
* the exercise checkers: reference answers pass, each named mistake, written here as a small
  wrong function, is caught with its own message.

Expected values come from PyTorch's distributions, numerical integration or Monte Carlo
written out here, never from the function under test.
"""

from __future__ import annotations

import math
from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.distributions import Bernoulli, RelaxedBernoulli, kl_divergence  # noqa: E402
from torch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli  # noqa: E402

from dae_course import explorers, sliders  # noqa: E402
from dae_course.ch11_relaxed_bernoulli import checks, figures, problems  # noqa: E402
from dae_course.checking import CORRECT, ERROR, INCORRECT, NOT_ATTEMPTED  # noqa: E402

D = torch.float64


def torch_log_density(x, logits, temperature):
    """The binary Concrete log-density from PyTorch, with the page's signature."""
    return RelaxedBernoulli(torch.tensor(float(temperature), dtype=D), logits=logits).log_prob(x)


# --------------------------------------------------------------------------------------
# exact references
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, T", [(-0.8, 0.5), (0.0, 1.0), (1.5, 2.0)])
def test_cdf_is_the_integral_of_torchs_density(a, T):
    # integrate torch's density in logit space from far left up to logit(x)
    for x in [0.1, 0.5, 0.8]:
        y = torch.linspace(-40.0, math.log(x / (1 - x)), 200_001, dtype=D)
        s = torch.sigmoid(y)
        density = torch_log_density(s, torch.tensor(a, dtype=D), T).exp() * s * (1 - s)
        by_quadrature = float(torch.trapezoid(density, y))
        cdf = float(problems.binary_concrete_cdf(torch.tensor(x, dtype=D), a, T))
        assert cdf == pytest.approx(by_quadrature, abs=1e-6)


def test_bernoulli_kl_matches_torch():
    a_q = torch.tensor([-2.0, 0.0, 1.0, 3.0], dtype=D)
    a_p = torch.tensor([0.5, -1.0, 1.0, -3.0], dtype=D)
    expected = kl_divergence(Bernoulli(logits=a_q), Bernoulli(logits=a_p))
    assert torch.allclose(problems.bernoulli_kl(a_q, a_p), expected, atol=1e-12)


def test_relaxed_kl_is_zero_for_equal_logits_and_positive_otherwise():
    assert problems.relaxed_kl_same_temperature(0.7, 0.7) == pytest.approx(0.0, abs=1e-12)
    assert problems.relaxed_kl_same_temperature(2.0, 0.0) > float(problems.bernoulli_kl(2.0, 0.0))


@pytest.mark.parametrize("T", [0.3, 1.0, 3.0])
def test_relaxed_kl_matches_monte_carlo_at_every_temperature(T):
    a_q, a_p, n = math.log(9.0), 0.0, 400_000
    q = LogitRelaxedBernoulli(torch.tensor(T, dtype=D), logits=torch.tensor(a_q, dtype=D))
    p = LogitRelaxedBernoulli(torch.tensor(T, dtype=D), logits=torch.tensor(a_p, dtype=D))
    u = torch.rand(n, generator=torch.Generator().manual_seed(1), dtype=D)  # seeded, by hand
    y = (a_q + torch.log(u) - torch.log1p(-u)) / T
    ratio = q.log_prob(y) - p.log_prob(y)
    se = float(ratio.std()) / math.sqrt(n)
    assert abs(float(ratio.mean()) - problems.relaxed_kl_same_temperature(a_q, a_p)) < 5 * se


# --------------------------------------------------------------------------------------
# figures, explorer and slider
# --------------------------------------------------------------------------------------


def test_density_panel_caption_and_mass():
    fig = plt.figure()
    a = math.log(0.3 / 0.7)
    caption = figures.draw_density_panel(fig, 1.0, log_density=torch_log_density, logits=a)
    assert caption.startswith("T = 1:")
    mass = float(caption.rsplit("=", 1)[1])
    assert mass == pytest.approx(0.3, abs=1e-3)  # P(X > 1/2) = sigma(a), closed form
    assert len(fig.axes) == 1
    plt.close(fig)


def test_static_figures_have_one_series_per_item():
    fig = figures.density_figure(torch_log_density, 0.0, [0.2, 1.0, 2.0])
    assert len(fig.axes[0].get_lines()) == 3
    plt.close(fig)
    variances = {0.45: {"A": 0.3, "B": 1e-3}, 0.499: {"A": 0.2, "B": 1e-5}}
    fig = figures.variance_figure(variances)
    assert len(fig.axes) == 2 and all(len(ax.patches) == 2 for ax in fig.axes)
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)
    fig = figures.trajectories_figure({"x": [0.5, 0.4], "y": [0.5, 0.6]}, 0.499)
    assert len(fig.axes[0].get_lines()) == 3  # two paths and the line at 1/2
    plt.close(fig)


def test_explorer_and_slider_redraw():
    draw = partial(figures.draw_density_panel, log_density=torch_log_density, logits=0.0)
    explorer = explorers.temperature_explorer(draw, value=0.5, min=0.05, max=10.0)
    assert "T = 0.5:" in explorer.caption.value
    explorer.slider.value = 2.0
    assert "T = 2:" in explorer.caption.value and explorer.redraws == 2
    html = sliders.jshtml(lambda: sliders.scrub_animation(draw, [0.1, 1.0, 5.0]), alt="test")
    assert sliders.jshtml_frame_count(html.data) == 3


# --------------------------------------------------------------------------------------
# exercise 1: predict the noisiest estimator
# --------------------------------------------------------------------------------------

MEASURED = {
    "REINFORCE": 0.3,
    "REINFORCE + baseline": 3e-6,
    "REBAR": 0.45,
    "REBAR, tuned": 0.3,
    "RELAX": 3e-5,
}


def test_prediction_right_and_each_wrong_name():
    verdict = checks.check_highest_variance(lambda: "REBAR", MEASURED)
    assert verdict.status == CORRECT and "0.45" in verdict.message
    for name in MEASURED:
        if name == "REBAR":
            continue
        verdict = checks.check_highest_variance(lambda name=name: name, MEASURED)
        assert verdict.status == INCORRECT and verdict.mistake == name
        assert "The highest is REBAR" in verdict.message


def test_prediction_not_attempted_and_unknown_name():
    def stub():
        raise NotImplementedError

    assert checks.check_highest_variance(stub, MEASURED).status == NOT_ATTEMPTED
    verdict = checks.check_highest_variance(lambda: "Gumbel", MEASURED)
    assert verdict.status == ERROR and "'RELAX'" in verdict.message
    assert set(checks.ESTIMATORS) == set(MEASURED)


# --------------------------------------------------------------------------------------
# exercise 2: the conditional uniform
# --------------------------------------------------------------------------------------


def test_reference_has_the_conditional_law():
    # u ~ U(0, 1), b = 1[u < theta]: u | b and the reference's u' agree in distribution
    gen = torch.Generator().manual_seed(3)
    theta, n = 0.3, 200_000
    u = torch.rand(n, generator=gen, dtype=D)
    b = (u < theta).to(D)
    v = torch.rand(n, generator=gen, dtype=D)
    u_prime = checks.reference_conditional_uniform(v, torch.tensor(theta, dtype=D), b)
    assert torch.equal(u_prime < theta, b == 1)  # on the side that b says
    for side in (0.0, 1.0):
        a, c = u[b == side].sort().values, u_prime[b == side].sort().values
        m = min(len(a), len(c))
        assert (a[:m] - c[:m]).abs().max() < 0.01  # quantiles agree


def test_reference_solution_passes():
    def solution(v, theta, b):
        return torch.where(b == 1, v * theta, theta + v * (1 - theta))

    assert checks.check_conditional_uniform(solution).status == CORRECT


@pytest.mark.parametrize(
    "wrong, mistake",
    [
        (lambda v, th, b: b * (1 - th + v * th) + (1 - b) * v * (1 - th), "page coupling"),
        (lambda v, th, b: (1 - b) * v * th + b * (th + v * (1 - th)), "swapped"),
        (lambda v, th, b: v * 1.0, "ignores b"),
        (lambda v, th, b: b * v * th + (1 - b) * (th + v), "not rescaled"),
    ],
)
def test_each_named_mistake_gets_its_message(wrong, mistake):
    verdict = checks.check_conditional_uniform(wrong)
    assert verdict.status == INCORRECT and verdict.mistake == mistake


def test_detached_theta_and_not_attempted():
    def detached(v, theta, b):
        theta = theta.detach()
        return b * v * theta + (1 - b) * (theta + v * (1 - theta))

    assert checks.check_conditional_uniform(detached).mistake == "no gradient"

    def stub(v, theta, b):
        raise NotImplementedError

    assert checks.check_conditional_uniform(stub).status == NOT_ATTEMPTED
