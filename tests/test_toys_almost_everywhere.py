"""relaxlib.toys.almost_everywhere: continuity probe, autograd at kinks, rounding onto a
kink, the max-of-affine toy with its exact minimum, subgradient descent, minibatch SGD.

Expected values are worked out by hand (or by an independent computation: a brute-force
grid, a Monte Carlo count), never read off the code under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from dae_course.ch01_almost_everywhere import problems as T

F64 = torch.float64


def test_largest_change_relu_is_delta_and_step_jumps():
    xs = torch.linspace(-1, 1, 41, dtype=F64)
    for delta in (0.1, 1e-3, 1e-6):
        # ReLU is 1-Lipschitz and has slope 1 for x > 0: the largest change is exactly delta
        assert T.largest_change(torch.relu, xs, delta) == pytest.approx(delta, rel=1e-9)
        # a step has a jump of height 1 at 0, whatever delta is (0 is a grid point)
        assert T.largest_change(lambda t: (t > 0).to(F64), xs, delta) == 1.0
    assert T.largest_change(torch.abs, xs, 0.0) == 0.0


def test_autograd_derivative_at_kinks():
    assert T.autograd_derivative(torch.relu, 0.0) == 0.0
    assert T.autograd_derivative(torch.relu, 2.0) == 1.0
    assert T.autograd_derivative(torch.relu, -2.0) == 0.0
    assert T.autograd_derivative(torch.abs, 0.0) == 0.0
    assert T.autograd_derivative(torch.abs, -3.0) == -1.0
    assert T.autograd_derivative(lambda t: t.clamp(min=0), 0.0) == 1.0
    assert T.autograd_derivative(lambda t: torch.maximum(t, torch.zeros_like(t)), 0.0) == 0.5
    assert math.isnan(T.autograd_derivative(lambda t: torch.sqrt(t * t), 0.0))
    assert T.autograd_derivative(lambda t: t**3, 2.0, dtype=torch.float32) == 12.0


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
    run = T.subgradient_descent(lambda w: w.abs().sum(), w0, 8, 0.25)
    # 1.125, 0.875, 0.625, 0.375, 0.125, then -0.125, 0.125, -0.125, 0.125 for ever
    assert run["values"] == [1.125, 0.875, 0.625, 0.375, 0.125, 0.125, 0.125, 0.125, 0.125]
    assert run["path"][:, 0].tolist()[4:] == [0.125, -0.125, 0.125, -0.125, 0.125]
    assert run["best"][-1] == 0.125
    assert run["increases"] == 0 and run["ties"] is None
    assert torch.equal(w0, torch.tensor([1.125], dtype=F64))  # input untouched


def test_subgradient_descent_counts_increases_and_ties():
    w0 = torch.tensor([0.3], dtype=F64)
    # |w| with steps 0.5: 0.3 -> -0.2 -> 0.3 -> -0.2: f goes 0.3, 0.2, 0.3, 0.2
    run = T.subgradient_descent(lambda w: w.abs().sum(), w0, 3, 0.5)
    assert run["values"] == pytest.approx([0.3, 0.2, 0.3, 0.2])
    assert run["increases"] == 1
    A = torch.tensor([[1.0], [-1.0]], dtype=F64)
    problem = T.MaxAffine(A, torch.zeros(2, dtype=F64))  # |w| as a max of two pieces
    tie = T.subgradient_descent(
        problem, torch.tensor([0.0], dtype=F64), 2, 0.1, pieces=problem.pieces
    )
    # at w = 0 both pieces tie and amax splits the gradient: (1 - 1) / 2 = 0, w stays
    assert tie["ties"] == 3 and tie["values"] == [0.0, 0.0, 0.0]


def test_diminishing_steps_converge_on_the_toy():
    problem = T.make_max_affine(7, 2, generator=torch.Generator().manual_seed(1))
    w_star, f_star = problem.minimum()
    w0 = torch.tensor([3.0, -3.0], dtype=F64)
    run = T.subgradient_descent(
        problem, w0, 1500, lambda k: 1 / math.sqrt(k + 1), pieces=problem.pieces
    )
    assert run["best"][-1] - f_star < 5e-3
    assert run["best"][-1] >= f_star - 1e-12  # never below the exact minimum
    assert run["ties"] == 0


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


def test_train_relu_net_learns_and_records():
    g = torch.Generator().manual_seed(0)
    x, y = T.make_relu_regression(generator=g)
    params = T.init_relu_net(16, generator=g)
    assert [tuple(p.shape) for p in params] == [(1, 16), (16,), (16, 1), (1,)]
    hist = T.train_relu_net(params, x, y, steps=800, lr=0.03, batch_size=32, generator=g)
    assert len(hist["full_loss"]) == len(hist["batch_loss"]) == len(hist["cosine"]) == 800
    assert hist["full_loss"][-1] < 0.05 * hist["full_loss"][0]
    assert all(-1 - 1e-9 <= c <= 1 + 1e-9 for c in hist["cosine"])
    assert hist["exact_zeros"] == 0


def test_train_relu_net_at_the_kink_gets_no_hidden_gradient():
    # all pre-activations exactly 0: PyTorch's relu'(0) = 0 passes no gradient to W1, b1
    x, y = T.make_relu_regression(n=32, noise=0.0)
    params = [
        torch.zeros(1, 4, dtype=F64, requires_grad=True),
        torch.zeros(4, dtype=F64, requires_grad=True),
        torch.ones(4, 1, dtype=F64, requires_grad=True),
        torch.zeros(1, dtype=F64, requires_grad=True),
    ]
    hist = T.train_relu_net(params, x, y, steps=5, batch_size=8, generator=torch.Generator())
    assert hist["exact_zeros"] == 5 * 8 * 4
    assert torch.equal(params[0], torch.zeros(1, 4, dtype=F64))
    assert torch.equal(params[1], torch.zeros(4, dtype=F64))
    assert float(params[3].detach()) != 0.0  # the output bias still learns
