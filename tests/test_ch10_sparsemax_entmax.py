"""Chapter 10 (sparsemax and entmax): its course code.

* the page's algorithms (sparsemax by sorting, alpha-entmax by bisection, 1.5-entmax by
  sorting, the temperature at which an entry reaches zero), against the `entmax` package
  of the papers' authors as an oracle, against hand-derived values, and against a scan
  of the temperature;
* the figures, the explorer and the kernel-free slider;
* the exercise checkers: reference answers pass, each named mistake, written here as a
  small wrong answer, is caught with its own message.

Expected values come from the `entmax` package (Peters, Niculae & Martins' implementation),
hand derivations written out here, or autograd; never from the function under test.
"""

from __future__ import annotations

import math
from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dae_course import explorers, sliders  # noqa: E402
from dae_course.ch10_sparsemax_entmax import checks, figures, problems  # noqa: E402
from dae_course.checking import CORRECT, INCORRECT, NOT_ATTEMPTED  # noqa: E402

entmax = pytest.importorskip("entmax")

D = torch.float64
X = torch.tensor([1.1, 4.0, -0.1, 2.3], dtype=D)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def random_rows(seed, shape=(200, 7), scale=3.0, dtype=D):
    return (scale * torch.randn(shape, generator=gen(seed), dtype=D)).to(dtype)


# --------------------------------------------------------------------------------------
# The page's algorithms
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.2, 1.0, 5.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sparsemax_by_sorting_matches_the_entmax_package(temperature, dtype):
    x = random_rows(1, dtype=dtype)
    mine = problems.sparsemax_by_sorting(x, temperature)
    oracle = entmax.sparsemax(x / temperature, dim=-1)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert mine.dtype == dtype
    assert torch.allclose(mine, oracle, atol=tol)
    assert torch.allclose(mine.sum(-1), torch.ones_like(mine[..., 0]), atol=tol)
    assert (mine == 0).any()  # exact zeros at these scales


def test_sparsemax_by_sorting_is_the_euclidean_projection():
    # The projection is closer to z than any other point of the simplex: compare with
    # 20 000 random points of the simplex, for a few z.
    points = -torch.log(torch.rand(20_000, 4, generator=gen(2), dtype=D))
    points = points / points.sum(-1, keepdim=True)
    for z in random_rows(3, shape=(5, 4)):
        p = problems.sparsemax_by_sorting(z)
        assert ((points - z) ** 2).sum(-1).min() >= ((p - z) ** 2).sum() - 1e-12


def test_sparsemax_by_sorting_by_hand():
    # Sorted [4, 2.3, 1.1, -0.1] / 2 = [2, 1.15, 0.55, -0.05]: k = 2 (1 + 2 * 1.15 = 3.3 >
    # 3.15; 1 + 3 * 0.55 = 2.65 < 3.7), tau = (3.15 - 1) / 2 = 1.075.
    p = problems.sparsemax_by_sorting(X, 2.0)
    assert torch.allclose(p, torch.tensor([0.0, 0.925, 0.0, 0.075], dtype=D))
    assert p[0] == 0 and p[2] == 0


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_entmax15_by_sorting_matches_the_entmax_package(temperature):
    x = random_rows(4)
    oracle = entmax.entmax15(x / temperature, dim=-1)
    assert torch.allclose(problems.entmax15_by_sorting(x, temperature), oracle, atol=1e-12)


@pytest.mark.parametrize("alpha, oracle", [(1.5, "entmax15"), (2.0, "sparsemax")])
def test_entmax_bisect_matches_the_exact_maps(alpha, oracle):
    x = random_rows(5)
    for temperature in (0.5, 2.0):
        expected = getattr(entmax, oracle)(x / temperature, dim=-1)
        assert torch.allclose(problems.entmax_bisect(x, alpha, temperature), expected, atol=1e-10)


def test_entmax_bisect_matches_the_entmax_package_for_other_alphas():
    x = random_rows(6, shape=(50, 6))
    for alpha in (1.25, 3.0):
        expected = entmax.entmax_bisect(x, alpha=alpha, dim=-1, n_iter=100)
        assert torch.allclose(problems.entmax_bisect(x, alpha), expected, atol=1e-8)


def test_entmax_bisect_tends_to_softmax_as_alpha_tends_to_1():
    x = random_rows(7, shape=(20, 5), scale=1.0)
    gaps = [
        (problems.entmax_bisect(x, a) - torch.softmax(x, -1)).abs().max().item()
        for a in (1.1, 1.01, 1.001)
    ]
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 2e-3


def test_zero_temperatures_by_hand():
    # Gaps above 2.3: [1.7]; above 1.1: [2.9, 1.2]; above -0.1: [4.1, 2.4, 1.2].
    sparse = [problems.zero_temperature(X, i, 2.0) for i in range(4)]
    ent = [problems.zero_temperature(X, i, 1.5) for i in range(4)]
    assert sparse == pytest.approx([4.1, 0.0, 7.7, 1.7])
    assert ent == pytest.approx(
        [math.hypot(2.9, 1.2) / 2, 0.0, math.sqrt(4.1**2 + 2.4**2 + 1.2**2) / 2, 0.85]
    )


@pytest.mark.parametrize("alpha, oracle", [(1.5, "entmax15"), (2.0, "sparsemax")])
def test_zero_temperature_is_where_the_entry_reaches_zero(alpha, oracle):
    f = getattr(entmax, oracle)
    for x in random_rows(8, shape=(6, 5)):
        for i in range(5):
            t0 = problems.zero_temperature(x, i, alpha)
            if t0 == 0:
                assert x[i] == x.max()
                continue
            assert f(x / (t0 * (1 - 1e-7)), dim=-1)[i] == 0
            assert f(x / (t0 * (1 + 1e-7)), dim=-1)[i] > 0


def test_zero_temperature_with_ties():
    x = torch.tensor([2.0, 2.0, 1.0, 0.0], dtype=D)
    assert problems.zero_temperature(x, 0, 2.0) == 0.0  # a tied maximum never drops out
    assert problems.zero_temperature(x, 2, 2.0) == pytest.approx(2.0)
    assert problems.zero_temperature(x, 3, 2.0) == pytest.approx(5.0)


# --------------------------------------------------------------------------------------
# Figures, explorer, slider
# --------------------------------------------------------------------------------------


def test_three_maps_and_the_panel_caption():
    maps = figures.three_maps(figures.LECTURE_X, 1.0)
    assert list(maps) == list(figures.MAPS)
    assert torch.allclose(maps["sparsemax"], entmax.sparsemax(X, dim=-1))
    fig = Figure(figsize=(7, 3))
    caption = figures.draw_maps_panel(fig, 1.0)
    assert caption == "T = 1: exact zeros: softmax 0, 1.5-entmax 2, sparsemax 3"
    assert len(fig.axes) == 3


def test_maps_against_temperature_figure_draws_the_thresholds():
    zero_at = {"sparsemax": [4.1, 0.0, 7.7, 1.7], "1.5-entmax": [1.57, 0.0, 2.45, 0.85]}
    fig = figures.maps_against_temperature_figure(X.tolist(), [0.1, 1.0, 10.0], zero_at)
    try:
        softmax_ax, ent_ax, sparse_ax = fig.axes
        assert len(softmax_ax.lines) == 4  # no thresholds for softmax
        assert len(ent_ax.lines) == 4 + 3 and len(sparse_ax.lines) == 4 + 3
        assert sparse_ax.get_xscale() == "log"
    finally:
        plt.close(fig)


def test_two_categories_figure():
    fig = figures.two_categories_figure([-1.0, 0.0, 1.0], {"a": [0, 0.5, 1], "b": [0.2, 0.5, 0.8]})
    try:
        assert len(fig.axes[0].lines) == 2
    finally:
        plt.close(fig)


def test_explorer_and_slider_of_the_page():
    draw = partial(figures.draw_maps_panel, x=X.tolist())
    explorer = explorers.temperature_explorer(draw, value=1.0, min=0.1, max=20.0)
    assert "T = 1:" in explorer.caption.value
    explorer.slider.value = 10.0
    assert "sparsemax 0" in explorer.caption.value and explorer.redraws == 2
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(draw, [10.0, 1.0, 0.1], figsize=(7.0, 3.0)), alt="t"
    )
    assert sliders.jshtml_frame_count(html.data) == 3
    assert "exact zeros: softmax 0, 1.5-entmax 3, sparsemax 3" in html.data


# --------------------------------------------------------------------------------------
# Exercise 1: predict the zeros
# --------------------------------------------------------------------------------------


def test_zero_entries_reference_is_what_sparsemax_gives():
    p = entmax.sparsemax(torch.tensor(checks.ZEROS_X, dtype=D), dim=-1)
    assert checks.reference_zero_entries() == {i for i, v in enumerate(p.tolist()) if v == 0}


@pytest.mark.parametrize(
    "answer",
    [{0, 3, 4, 5}, [5, 4, 3, 0], (0, 3, 4, 5), torch.tensor([0, 3, 4, 5])],
    ids=["set", "list", "tuple", "tensor"],
)
def test_zero_entries_correct_in_any_container(answer):
    feedback = checks.check_zero_entries(lambda: answer)
    assert feedback.status == CORRECT and "Running it" in feedback.message


def test_zero_entries_accepts_a_boolean_mask():
    mask = [v == 0 for v in entmax.sparsemax(torch.tensor(checks.ZEROS_X), dim=-1).tolist()]
    assert checks.check_zero_entries(lambda: mask).passed


def _entmax_zeros():
    p = entmax.entmax15(torch.tensor(checks.ZEROS_X, dtype=D), dim=-1)
    return {i for i, v in enumerate(p.tolist()) if v == 0}


@pytest.mark.parametrize(
    "answer, mistake, needle",
    [
        (set(), "softmax's answer", "no entry is zero under softmax"),
        ({3}, "threshold at 0", "negative entry only"),
        ({0, 3}, "threshold from all entries", "0.82"),
        (_entmax_zeros(), "threshold from all entries", "1.5-entmax"),
        ({0, 3, 5}, "one entry too many", "1.27"),
        ({0, 2, 3, 4, 5}, "arg max only", "only the arg max"),
    ],
)
def test_zero_entries_named_mistakes(answer, mistake, needle):
    feedback = checks.check_zero_entries(lambda: answer)
    assert feedback.status == INCORRECT and feedback.mistake == mistake
    assert needle in feedback.message


def test_zero_entries_other_answers():
    def stub():
        raise NotImplementedError

    assert checks.check_zero_entries(stub).status == NOT_ATTEMPTED
    assert checks.check_zero_entries(lambda: None).status == NOT_ATTEMPTED
    assert checks.check_zero_entries(lambda: {7}).mistake == "not indices"
    assert checks.check_zero_entries(lambda: "0, 3").mistake == "not indices"
    other = checks.check_zero_entries(lambda: {1})
    assert other.status == INCORRECT and other.mistake is None


# --------------------------------------------------------------------------------------
# Exercise 2: the sparsemax Jacobian-vector product
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.5, 2.0, 8.0])
def test_reference_jvp_is_autograd_through_the_entmax_package(temperature):
    x = random_rows(9, shape=(4, 6)).requires_grad_(True)
    v = random_rows(10, shape=(4, 6), scale=1.0)
    (entmax.sparsemax(x / temperature, dim=-1) * v).sum().backward()
    p = entmax.sparsemax(x.detach() / temperature, dim=-1)
    assert torch.allclose(checks.reference_sparsemax_jvp(p, v, temperature), x.grad)


def test_jvp_reference_passes():
    feedback = checks.check_sparsemax_jvp(checks.reference_sparsemax_jvp)
    assert feedback.status == CORRECT and "O(N)" in feedback.message


def _jvp(p, v, t=1.0):
    return checks.reference_sparsemax_jvp(p, v, t)


@pytest.mark.parametrize(
    "answer, mistake",
    [
        (lambda p, v, t=1.0: p * (v - (p * v).sum(-1, keepdim=True)) / t, "softmax's Jacobian"),
        (lambda p, v, t=1.0: p * (v - _mean_s(p, v)) / t, "p for s"),
        (
            lambda p, v, t=1.0: (p > 0).to(v.dtype) * (v - v.mean(-1, keepdim=True)) / t,
            "mean over all entries",
        ),
        (
            lambda p, v, t=1.0: _jvp(p, v, t) + (p == 0).to(v.dtype) * (v - _mean_s(p, v)) / t,
            "no mask",
        ),
        (lambda p, v, t=1.0: _jvp(p, v, t) * t, "no temperature"),
        (lambda p, v, t=1.0: _jvp(p, v, t) * t * t, "times the temperature"),
    ],
)
def test_jvp_named_mistakes(answer, mistake):
    feedback = checks.check_sparsemax_jvp(answer)
    assert feedback.status == INCORRECT and feedback.mistake == mistake, feedback


def _mean_s(p, v):
    s = (p > 0).to(v.dtype)
    return (s * v).sum(-1, keepdim=True) / s.sum(-1, keepdim=True)


def test_jvp_not_attempted_and_wrong_shape():
    def stub(p, v, temperature=1.0):
        raise NotImplementedError

    assert checks.check_sparsemax_jvp(stub).status == NOT_ATTEMPTED
    wrong = checks.check_sparsemax_jvp(lambda p, v, t=1.0: _jvp(p, v, t).sum(-1))
    assert wrong.status == INCORRECT and wrong.mistake == "wrong shape"
