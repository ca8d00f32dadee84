"""Straight-through operators: value of the hard function, gradient of the soft one.

Contract (DESIGN.md): stop_gradient(x) has the value of x and no gradient;
straight_through(hard, soft) = soft + stop_gradient(hard - soft); st_argmax has the value of
the arg max index (as a float) and the gradient of soft_argmax; st_one_hot_argmax has the
value of one_hot_argmax and the gradient of softmax(x, temperature).
"""

import pytest
import torch
import torch.nn.functional as F

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
DIMS_3D = [0, 1, 2, -1, -2, -3]

# Gradients of a softmax are differences of products (cancellation), so the absolute
# tolerance is a few epsilons of the dtype times the gradient's scale (~1).
GRAD_TOL = {
    torch.float16: {"rtol": 1e-2, "atol": 1e-2},
    torch.bfloat16: {"rtol": 5e-2, "atol": 5e-2},
    torch.float32: {"rtol": 1e-5, "atol": 1e-5},
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
}


def _randn(*shape, dtype=torch.float64, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def _grad(fn, x, w):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad((fn(x) * w).sum(), x)
    return g


# --------------------------------------------------------------------------------------
# stop_gradient
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_stop_gradient_value_and_no_gradient(dtype):
    x = _randn(3, 4, dtype=dtype).requires_grad_(True)
    y = rl.stop_gradient(x)
    assert torch.equal(y, x.detach())
    assert y.dtype == dtype and y.shape == x.shape
    assert not y.requires_grad
    assert y.grad_fn is None
    # d/dx [x * stop_gradient(x)] = stop_gradient(x): nothing flows through the second factor
    (g,) = torch.autograd.grad((x * y).sum(), x)
    assert torch.equal(g, x.detach())


def test_stop_gradient_in_a_chain_blocks_gradient():
    x = _randn(5).requires_grad_(True)
    out = (rl.stop_gradient(x * 3.0) ** 2).sum() + x.sum()
    (g,) = torch.autograd.grad(out, x)
    assert torch.equal(g, torch.ones_like(x))


# --------------------------------------------------------------------------------------
# straight_through
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_straight_through_value_is_hard_gradient_is_soft(dtype):
    soft0 = torch.softmax(_randn(6, 5, seed=1), -1).to(dtype)
    hard0 = F.one_hot(soft0.argmax(-1), 5).to(dtype)
    soft = soft0.clone().requires_grad_(True)
    hard = hard0.clone().requires_grad_(True)
    out = rl.straight_through(hard, soft)
    assert out.dtype == dtype and out.shape == soft.shape
    assert torch.equal(out.detach(), hard0)  # exactly one-hot, not soft + (hard - soft) ~ hard
    w = _randn(6, 5, dtype=dtype, seed=2)
    g_hard, g_soft = torch.autograd.grad((out * w).sum(), (hard, soft), allow_unused=True)
    assert torch.equal(g_soft, w)  # identity Jacobian w.r.t. soft
    assert g_hard is None or torch.count_nonzero(g_hard) == 0  # nothing flows to hard


def test_straight_through_value_equals_hard_for_general_values():
    # Value of hard, for arbitrary (not only 0/1) hard values.
    soft = _randn(2000, dtype=torch.float32, seed=3, scale=100.0)
    hard = torch.round(_randn(2000, dtype=torch.float32, seed=4, scale=1000.0))
    assert torch.equal(rl.straight_through(hard, soft), hard)


def test_straight_through_gradient_through_soft_function():
    # Gradient of the soft branch composes with whatever produced it.
    x = _randn(4, 3, seed=5).requires_grad_(True)
    soft = torch.sigmoid(x)
    hard = (x > 0).to(x.dtype)
    out = rl.straight_through(hard, soft)
    (g,) = torch.autograd.grad(out.sum(), x)
    s = torch.sigmoid(x.detach())
    torch.testing.assert_close(g, s * (1 - s))
    assert torch.equal(out.detach(), hard)


def test_straight_through_does_not_modify_inputs():
    soft = _randn(3, 4, seed=6)
    hard = (soft > 0).double()
    s0, h0 = soft.clone(), hard.clone()
    rl.straight_through(hard, soft)
    assert torch.equal(soft, s0) and torch.equal(hard, h0)


# --------------------------------------------------------------------------------------
# st_argmax
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dim", DIMS_3D)
@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
def test_st_argmax_value_and_gradient(dtype, dim, t):
    x = _randn(3, 4, 5, dtype=dtype, seed=7)
    out = rl.st_argmax(x, temperature=t, dim=dim)
    expected = x.argmax(dim=dim).to(dtype)
    assert out.dtype == dtype
    assert out.shape == expected.shape
    assert torch.equal(out.detach(), expected)
    w = _randn(*expected.shape, dtype=dtype, seed=8)
    g_st = _grad(lambda z: rl.st_argmax(z, temperature=t, dim=dim), x, w)
    g_soft = _grad(lambda z: rl.soft_argmax(z, temperature=t, dim=dim), x, w)
    torch.testing.assert_close(g_st, g_soft, **GRAD_TOL[dtype])
    # and soft_argmax's gradient is not trivially zero here
    assert torch.count_nonzero(g_soft) > 0


def test_st_argmax_defaults():
    x = _randn(4, 6, seed=9)
    assert torch.equal(rl.st_argmax(x), x.argmax(-1).double())
    w = _randn(4, seed=10)
    torch.testing.assert_close(
        _grad(rl.st_argmax, x, w), _grad(lambda z: rl.soft_argmax(z, 1.0, -1), x, w)
    )


def test_st_argmax_value_exact_for_long_rows():
    # The index must be exact (so .long() recovers it), also for many categories and a soft
    # arg max far from the hard one.
    x = _randn(500, 1000, dtype=torch.float32, seed=11)
    out = rl.st_argmax(x, temperature=50.0)
    assert torch.equal(out, x.argmax(-1).float())
    assert torch.equal(out.long(), x.argmax(-1))


# --------------------------------------------------------------------------------------
# st_one_hot_argmax
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dim", DIMS_3D)
@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
def test_st_one_hot_argmax_value_and_gradient(dtype, dim, t):
    x = _randn(3, 4, 5, dtype=dtype, seed=12)
    out = rl.st_one_hot_argmax(x, temperature=t, dim=dim)
    expected = F.one_hot(x.argmax(dim=dim), x.shape[dim]).movedim(-1, dim).to(dtype)
    assert out.dtype == dtype and out.shape == x.shape
    assert torch.equal(out.detach(), expected)
    assert torch.equal(out.detach(), rl.one_hot_argmax(x, dim=dim))
    w = _randn(*x.shape, dtype=dtype, seed=13)
    g_st = _grad(lambda z: rl.st_one_hot_argmax(z, temperature=t, dim=dim), x, w)
    g_ref = _grad(lambda z: torch.softmax(z.double() / t, dim=dim), x, w.double())
    torch.testing.assert_close(g_st, g_ref.to(dtype), **GRAD_TOL[dtype])
    assert torch.count_nonzero(g_ref) > 0


def test_st_one_hot_argmax_defaults():
    x = _randn(4, 6, seed=14)
    w = _randn(4, 6, seed=15)
    assert torch.equal(rl.st_one_hot_argmax(x), F.one_hot(x.argmax(-1), 6).double())
    torch.testing.assert_close(
        _grad(rl.st_one_hot_argmax, x, w), _grad(lambda z: torch.softmax(z, -1), x, w)
    )


# --------------------------------------------------------------------------------------
# gradcheck (float64).  A straight-through function's forward value does not depend smoothly
# on its input, so finite differences of it cannot match its gradient.  We therefore check
#     f(x) = ST(x) - stop(ST(x)) + stop(SOFT(x)),
# whose forward value is exactly SOFT(x) and whose backward is exactly ST's backward:
# gradcheck then compares ST's analytical gradient with finite differences of SOFT.
# --------------------------------------------------------------------------------------


def _st_probe(st_fn, soft_fn):
    def f(x):
        y = st_fn(x)
        return y - y.detach() + soft_fn(x).detach()

    return f


@pytest.mark.parametrize("dim", [0, -1])
def test_gradcheck_st_argmax(dim):
    x = _randn(3, 5, seed=16).requires_grad_(True)
    f = _st_probe(
        lambda z: rl.st_argmax(z, temperature=0.7, dim=dim),
        lambda z: torch.sum(
            torch.softmax(z / 0.7, dim).movedim(dim, -1)
            * torch.arange(z.shape[dim], dtype=z.dtype),
            -1,
        ),
    )
    assert torch.autograd.gradcheck(f, (x,))


@pytest.mark.parametrize("dim", [0, -1])
def test_gradcheck_st_one_hot_argmax(dim):
    x = _randn(3, 5, seed=17).requires_grad_(True)
    f = _st_probe(
        lambda z: rl.st_one_hot_argmax(z, temperature=0.7, dim=dim),
        lambda z: torch.softmax(z / 0.7, dim),
    )
    assert torch.autograd.gradcheck(f, (x,))


def test_gradcheck_straight_through_soft_argument():
    hard = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    x = _randn(2, 3, seed=18).requires_grad_(True)
    # soft = tanh(x): gradient of straight_through(hard, tanh(x)) must be 1 - tanh(x)^2
    f = _st_probe(lambda z: rl.straight_through(hard, torch.tanh(z)), torch.tanh)
    assert torch.autograd.gradcheck(f, (x,))


def test_st_probe_is_able_to_fail():
    # Sanity check of the probe above: a wrong backward (argmax's zero gradient) is detected.
    x = _randn(3, 5, seed=19).requires_grad_(True)

    def wrong_st(z):
        return z.argmax(-1).to(z.dtype) + 0.0 * z.sum(-1)

    f = _st_probe(wrong_st, lambda z: torch.softmax(z, -1) @ torch.arange(5.0).double())
    assert not torch.autograd.gradcheck(f, (x,), raise_exception=False)
