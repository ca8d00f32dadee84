"""Chapter 1's problems (dae_course.ch01_almost_everywhere.problems): rounding onto a kink,
the max-of-affine toy with its exact minimum and its creases, the page's subgradient descent
(the package's copy, which tests/test_page_sources.py keeps equal to the page's), and the
data of the page's minibatch SGD.

Expected values are worked out by hand (or by an independent computation: a brute-force
grid, a Monte Carlo count), never read off the code under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from dae_course.ch01_almost_everywhere import problems as T

F64 = torch.float64


def _phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_rounding_hit_probability_by_hand():
    # float16 around 1: neighbours 1 - 2**-11 and 1 + 2**-10, midpoints 1 - 2**-12, 1 + 2**-11
    p16 = _phi(1 + 2**-11) - _phi(1 - 2**-12)
    assert T.rounding_hit_probability(1.0, torch.float16) == pytest.approx(p16, rel=1e-6)
    # bfloat16: 8 significant bits, neighbours 1 - 2**-8 and 1 + 2**-7
    pbf = _phi(1 + 2**-8) - _phi(1 - 2**-9)
    assert T.rounding_hit_probability(1.0, torch.bfloat16) == pytest.approx(pbf, rel=1e-6)
    # float16 at 0: the smallest subnormal is 2**-24, so |z| < 2**-25 rounds to 0
    p0 = 2 * 2**-25 / math.sqrt(2 * math.pi)
    assert T.rounding_hit_probability(0.0, torch.float16) == pytest.approx(p0, rel=1e-6)
    assert T.rounding_hit_probability(0.0, torch.float64) < 1e-300
    # shifting the Gaussian onto the point: density 1/sqrt(2 pi) times the cell width
    width = 3 * 2**-12
    assert T.rounding_hit_probability(1.0, torch.float16, mean=1.0) == pytest.approx(
        width / math.sqrt(2 * math.pi), rel=1e-5
    )


def test_rounding_hit_probability_matches_a_count():
    g = torch.Generator().manual_seed(0)
    n = 400_000
    z = torch.randn(n, generator=g, dtype=F64)
    for dtype in (torch.float16, torch.bfloat16):
        hits = int((z.to(dtype) == 1).sum())
        expected = n * T.rounding_hit_probability(1.0, dtype)
        assert abs(hits - expected) < 5 * math.sqrt(expected), (dtype, hits, expected)


def test_rounding_hit_probability_validates():
    with pytest.raises(ValueError, match="representable"):
        T.rounding_hit_probability(0.1, torch.float16)
    with pytest.raises(ValueError, match="std"):
        T.rounding_hit_probability(0.0, torch.float32, std=0.0)


# --------------------------------------------------------------------------------------
# max of affine functions and subgradient descent
# --------------------------------------------------------------------------------------


def test_max_affine_minimum_by_hand():
    # max(w1 - 1, 1 - w1, w2 + 2, -w2 - 2) = max(|w1 - 1|, |w2 + 2|): minimum 0 at (1, -2)
    A = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=F64)
    b = torch.tensor([-1.0, 1.0, 2.0, -2.0], dtype=F64)
    w, f = T.MaxAffine(A, b).minimum()
    assert f == pytest.approx(0.0, abs=1e-12)
    assert float(T.MaxAffine(A, b)(w)) == pytest.approx(0.0, abs=1e-12)
    assert abs(float(w[0]) - 1.0) < 1e-12
    assert abs(float(w[1]) + 2.0) < 1e-12


def test_max_affine_unbounded_raises():
    A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=F64)
    with pytest.raises(ValueError, match="unbounded"):
        T.MaxAffine(A, torch.zeros(3, dtype=F64)).minimum()


def test_random_max_affine_minimum_beats_a_grid():
    g = torch.Generator().manual_seed(1)
    problem = T.make_max_affine(7, 2, generator=g)
    assert torch.allclose(problem.A.mean(0), torch.zeros(2, dtype=F64), atol=1e-12)
    w, f = problem.minimum()
    ax = torch.linspace(-6, 6, 601, dtype=F64)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1)
    grid_min = float(problem(grid).min())
    lipschitz = float(problem.A.norm(dim=1).max())
    assert f <= grid_min + 1e-12
    assert grid_min - f <= lipschitz * 0.02 * math.sqrt(2) / 2  # within one grid cell
    again = T.make_max_affine(7, 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.A, problem.A) and torch.equal(again.b, problem.b)
    with pytest.raises(ValueError):
        T.make_max_affine(2, 2)


def test_subgradient_descent_on_abs_oscillates_with_constant_step():
    w0 = torch.tensor([1.125], dtype=F64)  # dyadic numbers: every step is exact
    path, values = T.subgradient_descent(lambda w: w.abs().sum(), w0, 8, 0.25)
    # 1.125, 0.875, 0.625, 0.375, 0.125, then -0.125, 0.125, -0.125, 0.125 for ever
    assert values == [1.125, 0.875, 0.625, 0.375, 0.125, 0.125, 0.125, 0.125, 0.125]
    assert path.shape == (9, 1)
    assert path[:, 0].tolist()[4:] == [0.125, -0.125, 0.125, -0.125, 0.125]
    assert not path.requires_grad
    assert torch.equal(w0, torch.tensor([1.125], dtype=F64))  # input untouched
    assert not w0.requires_grad


def test_subgradient_descent_can_go_up_and_takes_a_step_rule():
    w0 = torch.tensor([0.3], dtype=F64)
    # |w| with steps 0.5: 0.3 -> -0.2 -> 0.3 -> -0.2: f goes 0.3, 0.2, 0.3, 0.2
    _, values = T.subgradient_descent(lambda w: w.abs().sum(), w0, 3, 0.5)
    assert values == pytest.approx([0.3, 0.2, 0.3, 0.2])
    # alpha_k = 1 / (k + 1) on |w| from 2: 2 -> 1 -> 0.5 -> 0 (steps 1, 1/2, 1/3 ... )
    path, _ = T.subgradient_descent(lambda w: w.abs().sum(), w0 * 0 + 2, 2, lambda k: 1 / (k + 1))
    assert path[:, 0].tolist() == pytest.approx([2.0, 1.0, 0.5])


def test_count_ties_by_hand():
    A = torch.tensor([[1.0], [-1.0]], dtype=F64)
    problem = T.MaxAffine(A, torch.zeros(2, dtype=F64))  # |w| as a max of two pieces
    path = torch.tensor([[0.0], [0.5], [0.0], [-0.25]], dtype=F64)
    assert problem.count_ties(path) == 2  # w = 0 twice: both pieces tie
    # at w = 0 amax splits the gradient: (1 - 1) / 2 = 0, so subgradient descent stays put
    stay, values = T.subgradient_descent(problem, torch.tensor([0.0], dtype=F64), 2, 0.1)
    assert problem.count_ties(stay) == 3 and values == [0.0, 0.0, 0.0]


def test_diminishing_steps_converge_on_the_toy():
    problem = T.make_max_affine(7, 2, generator=torch.Generator().manual_seed(1))
    w_star, f_star = problem.minimum()
    w0 = torch.tensor([3.0, -3.0], dtype=F64)
    path, values = T.subgradient_descent(problem, w0, 1500, lambda k: 1 / math.sqrt(k + 1))
    assert min(values) - f_star < 5e-3
    assert min(values) >= f_star - 1e-12  # never below the exact minimum
    assert problem.count_ties(path) == 0


# --------------------------------------------------------------------------------------
# the ReLU network
# --------------------------------------------------------------------------------------


def test_w_target_by_hand():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0], dtype=F64)
    assert T.w_target(x).tolist() == [0.0, 1.0, 0.5, 0.0, 0.5, 1.0, 0.5, 0.0]


def test_make_relu_regression():
    x, y = T.make_relu_regression(n=9, noise=0.0)
    assert x.shape == y.shape == (9, 1)
    assert x[0, 0] == -2 and x[-1, 0] == 2
    assert torch.equal(y, T.w_target(x))
    _, y1 = T.make_relu_regression(generator=torch.Generator().manual_seed(3))
    _, y2 = T.make_relu_regression(generator=torch.Generator().manual_seed(3))
    assert torch.equal(y1, y2)
