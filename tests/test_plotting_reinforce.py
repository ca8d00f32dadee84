"""relaxlib.plotting.reinforce: the drawings of chapter 6 show what they claim to show.

Expected curves are computed here from the formulas, not taken from relaxlib.toys.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dae_course import sliders  # noqa: E402
from dae_course.ch06_reinforce import figures as rplot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_sample_loss_figure():
    t = 0.45
    us = torch.tensor([0.1, 0.4, 0.7, 0.9], dtype=torch.float64)
    fig = rplot.sample_loss_figure(t, [0.3, 0.6], us, points=201)
    ax1, ax2 = fig.axes
    lines = ax1.get_lines()
    assert len(lines) == 2 + 1 + 1  # two single samples, the average, the expectation
    theta = np.asarray(lines[0].get_xdata())
    step = np.asarray(lines[0].get_ydata())
    np.testing.assert_allclose(step, np.where(theta > 0.3, 0.55**2, 0.45**2))
    average = np.asarray(lines[2].get_ydata())
    hand = sum(np.where(theta > u, 0.3025, 0.2025) for u in (0.1, 0.4, 0.7, 0.9)) / 4
    np.testing.assert_allclose(average, hand)
    np.testing.assert_allclose(lines[3].get_ydata(), theta * 0.3025 + (1 - theta) * 0.2025)
    slope, exact = ax2.get_lines()
    assert np.all(np.asarray(slope.get_ydata()) == 0)  # autograd through the steps
    np.testing.assert_allclose(exact.get_ydata(), 0.1)


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
    fig = plt.figure(figsize=(9, 3.2))
    caption = rplot.draw_estimate_distribution(fig, 1)
    sd45 = math.sqrt(0.3025**2 / 0.3 + 0.2025**2 / 0.7 - 0.01)
    assert caption.startswith(f"m = 1: sd without baseline {sd45:.3g} (t = 0.45)")
    left, right = fig.axes
    # one sample: the estimate is positive exactly when b = 1, probability theta = 0.3
    assert left.get_title() == "t = 0.45: P(right sign) = 0.30"
    assert right.get_title() == "t = 0.499: P(right sign) = 0.30"
    heights = left.patches[0].get_path().vertices[:, 1]
    assert heights.max() == pytest.approx(0.7)  # the b = 0 spike


def test_draw_estimate_distribution_loo_and_rounding():
    fig = plt.figure(figsize=(9, 3.2))
    caption = rplot.draw_estimate_distribution(fig, 2.4)  # rounded to m = 2
    assert caption.startswith("m = 2:")
    left, _ = fig.axes
    # plain, m = 2: positive unless both samples are 0 -> 1 - 0.49; LOO: 1 - 0.09 - 0.49
    assert left.get_title() == "t = 0.45: P(right sign) = 0.51 / 0.42"
    assert len(left.patches) == 2


def test_explorer_and_kernel_free_slider():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.parameter_explorer(
        rplot.draw_estimate_distribution, value=1, min=1, max=1024, description="m"
    )
    explorer.slider.value = 64
    assert explorer.redraws == 2 and "m = 64" in explorer.caption.value
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(rplot.draw_estimate_distribution, [1, 8], figsize=(6, 2))
    ).data
    assert sliders.jshtml_frame_count(html) == 2 and "http" not in html
