"""relaxlib.plotting.gumbel: the simplex drawings and the bias/variance figures of chapter 7."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import sliders  # noqa: E402
from dae_course.ch07_gumbel_straight_through import figures as gplt  # noqa: E402
from dae_course.ch07_gumbel_straight_through import problems as toy  # noqa: E402

X3 = torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))
NOISE = rl.gumbel_noise((300, 3), generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_simplex_coordinates_vertices_and_centre():
    xy = gplt.simplex_coordinates(torch.eye(3))
    assert xy.reshape(-1).tolist() == pytest.approx([0, 0, 1, 0, 0.5, math.sqrt(3) / 2])
    centre = gplt.simplex_coordinates([1 / 3, 1 / 3, 1 / 3])
    assert centre.tolist() == pytest.approx([0.5, math.sqrt(3) / 6])
    with pytest.raises(ValueError):
        gplt.simplex_coordinates(torch.ones(4) / 4)


def test_draw_simplex_panel_caption_and_contents():
    fig = plt.figure()
    caption = gplt.draw_simplex_panel(fig, 0.5, X3, NOISE)
    y = torch.softmax((X3 + NOISE) / 0.5, -1)
    expected = (1 - y.max(-1).values).mean().item()
    assert caption == f"T = 0.5: mean of 1 - max_k y_k = {expected:.3f}"
    ax1, ax2 = fig.axes
    points = ax1.collections[0].get_offsets()
    assert len(points) == 300
    # every dot lies inside the triangle: y >= 0 <=> inside
    assert (points[:, 1] >= -1e-12).all()
    bars = [p.get_height() for p in ax2.patches]
    assert len(bars) == 9
    freq = torch.bincount((X3 + NOISE).argmax(-1), minlength=3) / 300
    assert bars[3:6] == pytest.approx(freq.tolist())  # arg max shares (any T)
    assert bars[0:3] == pytest.approx([0.2, 0.3, 0.5])
    plt.close(fig)


def test_draw_simplex_panel_cold_and_hot():
    fig = plt.figure()
    cold = gplt.draw_simplex_panel(fig, 0.01, X3, NOISE)
    fig.clear()
    hot = gplt.draw_simplex_panel(fig, 1000.0, X3, NOISE)
    cold_value, hot_value = float(cold.split("= ")[-1]), float(hot.split("= ")[-1])
    assert cold_value < 0.01  # near the vertices
    assert hot_value == pytest.approx(2 / 3, abs=1e-3)  # at the centre
    with pytest.raises(ValueError):
        gplt.draw_simplex_panel(fig, 1.0, torch.zeros(4), NOISE)
    plt.close(fig)


def test_simplex_figure_panels():
    fig = gplt.simplex_figure(X3, NOISE[:50], [0.1, 1.0, 10.0])
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["T = 0.1", "T = 1", "T = 10"]
    assert all(len(ax.collections[0].get_offsets()) == 50 for ax in fig.axes)
    plt.close(fig)


def test_simplex_slider_is_offline_and_light():
    from functools import partial

    draw = partial(gplt.draw_simplex_panel, logits=X3, noise=NOISE)
    temps = [10.0, 1.0, 0.1, 0.03]
    html = sliders.jshtml(lambda: sliders.scrub_animation(draw, temps)).data
    assert sliders.jshtml_frame_count(html) == 4
    assert "http" not in html
    assert len(html.encode()) / 4 < 60_000  # per frame: 20 frames stay near 1 MB


def test_bias_variance_figure():
    problem = toy.CategoricalToy(
        torch.tensor([0.5, -0.5, 1.0], dtype=torch.float64),
        torch.tensor([0.6, 0.1, 0.3], dtype=torch.float64),
    )
    sweep = {
        "soft": toy.temperature_sweep(problem, "gumbel-softmax", [0.5, 1.0], n_estimates=50, m=2)
    }
    refs = {"A": {"bias": 0.1, "variance": 0.5}, "B": {"bias": None, "variance": 0.2}}
    fig = gplt.bias_variance_figure(sweep, refs)
    ax1, ax2 = fig.axes
    assert ax1.get_xscale() == ax2.get_yscale() == "log"
    assert [line.get_ydata()[0] for line in ax2.get_lines()[1:]] == [0.5, 0.2]
    assert list(ax2.get_lines()[0].get_xdata()) == [0.5, 1.0]
    assert len(ax1.get_lines()) >= 2  # the sweep and reference A (B has no bias line)
    plt.close(fig)


def test_many_choices_figure():
    fig = gplt.many_choices_figure([1, 4], {"a": [1.0, 4.0], "b": [2.0, 2.0]}, {"a": [1.0, 4.0]})
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 3
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close(fig)
