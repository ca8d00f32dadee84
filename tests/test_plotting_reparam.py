"""relaxlib.plotting.reparam: chapter 5's figures and the explorer's drawing function."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dae_course.ch05_reparameterisation import figures as pr  # noqa: E402


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


@pytest.mark.parametrize("k, exact_score", [(1.0, "15"), (3.0, "87"), (-2.0, "222")])
def test_draw_estimator_panel(k, exact_score):
    fig = Figure()
    caption = pr.draw_estimator_panel(fig, k, n=5000)
    assert f"exact {exact_score})" in caption and "pathwise" in caption and "exact 4)" in caption
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    vline = ax.get_lines()[0]
    assert vline.get_xdata()[0] == pytest.approx(2 * (1.0 - k))
    # the same seed gives the same caption
    assert pr.draw_estimator_panel(Figure(), k, n=5000) == caption
