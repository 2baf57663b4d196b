"""The tape: every declared derivative through the framework against float64 finite
differences (generated from the declarations: the glue is under test, the kernels are
tested elsewhere), a hand-derived MLP gradient, accumulation, clear_grad, no_grad,
retain_graph, views and Paddle's arithmetic promotion."""
from __future__ import annotations

import numpy as np
import pytest

import hakl.framework as paddle
from hakl.framework import tensor as T
from hakl.op import FUNCTIONS

DIFFERENTIABLE = [f for f in FUNCTIONS.values() if f.derivative is not None]
SAMPLES_PER_FUNCTION = 1  # the glue is under test: test_functions checks every sample


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == np.float64


def _float_parts(out):
    parts = list(out) if isinstance(out, (tuple, list)) else [out]
    return [p if p is not None and np.asarray(p).dtype.kind == "f" else None for p in parts]


def _weighted(out, weights) -> float:
    return sum(float((np.asarray(o, np.float64) * w).sum()) for o, w in zip(_float_parts(out), weights)
               if o is not None)


@pytest.mark.parametrize("function", DIFFERENTIABLE, ids=lambda f: f.name)
def test_derivative_through_the_tape_matches_finite_differences(function):
    rng = np.random.default_rng(0)
    wrt = function.derivative.wrt
    for k, sample in enumerate(function.samples("float64", rng)):
        if k == SAMPLES_PER_FUNCTION:
            break
        args = [a.copy() if isinstance(a, np.ndarray) else [x.copy() for x in a] if isinstance(a, list) else a
                for a in sample.args]
        host_out = function.fn(*args, **sample.kwargs)
        weights = [None if o is None else rng.standard_normal(np.shape(o)) for o in _float_parts(host_out)]
        leaves = {}
        framework_args = list(args)
        for p in wrt:
            if p < len(args) and _is_float(args[p]):
                leaves[p] = framework_args[p] = paddle.to_tensor(args[p], stop_gradient=False)
            elif p < len(args) and isinstance(args[p], list) and all(_is_float(a) for a in args[p]):
                leaves[p] = framework_args[p] = [paddle.to_tensor(a, stop_gradient=False) for a in args[p]]
        assert leaves, f"{function.name}: no float64 array at the derivative's positions {wrt}"
        out = T.apply(function, *framework_args, **sample.kwargs)
        loss = None
        for o, w in zip(out if isinstance(out, (tuple, list)) else [out], weights):
            if w is None:
                continue
            term = T.call("sum", T.call("multiply", o, paddle.to_tensor(w)))
            loss = term if loss is None else T.call("add", loss, term)
        loss.backward()
        magnitude = sum(float(np.abs(np.asarray(o, np.float64) * w).sum())
                        for o, w in zip(_float_parts(host_out), weights) if o is not None)
        atol = 1e-8 + 10 * np.finfo(np.float64).eps * magnitude / 2e-6
        for p, leaf in leaves.items():
            arrays = args[p] if isinstance(args[p], list) else [args[p]]
            tensors = leaf if isinstance(leaf, list) else [leaf]
            for a, t in zip(arrays, tensors):
                numeric = np.zeros_like(a)
                for i in np.ndindex(a.shape):
                    v = a[i]
                    sides = []
                    for step in (1e-6, -1e-6):
                        a[i] = v + step
                        sides.append(_weighted(function.fn(*args, **sample.kwargs), weights))
                    a[i] = v
                    numeric[i] = (sides[0] - sides[1]) / 2e-6
                np.testing.assert_allclose(t.grad, numeric, rtol=1e-6, atol=atol,
                                           err_msg=f"{function.name} arg {p} {sample.kwargs}")


def test_mlp_gradients_equal_a_hand_derived_numpy_computation():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((4, 6), (6,), (6, 3), (3,)))
    params = [paddle.to_tensor(a, stop_gradient=False) for a in (w1, b1, w2, b2)]
    h = paddle.nn.functional.tanh(paddle.matmul(paddle.to_tensor(x), params[0]) + params[1])
    loss = paddle.nn.functional.cross_entropy(paddle.matmul(h, params[2]) + params[3], paddle.to_tensor(y))
    loss.backward()
    # by hand: softmax cross entropy, mean over the batch
    hn = np.tanh(x @ w1 + b1)
    z = hn @ w2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want_loss = -np.log(p[np.arange(5), y]).mean()
    dz = (p - np.eye(3)[y]) / 5
    dh = dz @ w2.T * (1 - hn ** 2)
    for t, want in zip(params, (x.T @ dh, dh.sum(0), hn.T @ dz, dz.sum(0))):
        np.testing.assert_allclose(t.grad, want, rtol=1e-10, atol=1e-12)
    assert abs(loss.item() - want_loss) < 1e-12


def test_gradients_accumulate_until_cleared():
    x = paddle.to_tensor(np.array([1.0, 2.0, 3.0]), stop_gradient=False)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * 2 * np.array([1.0, 2.0, 3.0]))
    x.clear_gradient()
    np.testing.assert_array_equal(x.grad, np.zeros(3))  # 2.0 keeps a zeroed gradient
    (x * 2.0).sum().backward()  # replaces the zeros (no add of a zero)
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 2.0])
    (x * 3.0).sum().backward()  # and the next one adds to it again
    np.testing.assert_allclose(x.grad, [5.0, 5.0, 5.0])
    assert isinstance(x.grad, np.ndarray)  # 2.0.x returns NumPy
    # a tensor used twice in one graph gets both paths
    y = paddle.to_tensor(np.array([2.0]), stop_gradient=False)
    (y * y + y).backward()
    np.testing.assert_allclose(y.grad, [5.0])


def test_second_backward_needs_retain_graph():
    x = paddle.to_tensor(np.array([1.0, 2.0]), stop_gradient=False)
    loss = paddle.exp(x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_no_grad_records_nothing_and_stop_gradient_propagates():
    x = paddle.to_tensor(np.ones(3), stop_gradient=False)
    with paddle.no_grad():
        y = x * 2.0
    assert y.stop_gradient and y.is_leaf

    @paddle.no_grad()
    def f(t):
        return t + 1.0

    assert f(x).stop_gradient
    c = paddle.to_tensor(np.ones(3))
    assert (c * c).stop_gradient and not (c * x).stop_gradient
    with pytest.raises(RuntimeError, match="stop_gradient"):
        (c * c).sum().backward()
    z = (x.detach() * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad, np.ones(3))  # the detached factor is a constant


def test_views_and_indexing_have_gradients():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    x = paddle.to_tensor(a, stop_gradient=False)
    y = paddle.transpose(x, [2, 0, 1]).reshape([4, 6])[1:3, ::2]
    assert y.shape == [2, 3]
    np.testing.assert_array_equal(y.numpy(), a.transpose(2, 0, 1).reshape(4, 6)[1:3, ::2])
    (y * 2.0).sum().backward()
    want = np.zeros((4, 6))
    want[1:3, ::2] = 2.0
    np.testing.assert_array_equal(x.grad, want.reshape(4, 2, 3).transpose(1, 2, 0))
    z = paddle.to_tensor(np.array([1.0, 2.0, 3.0]), stop_gradient=False)
    z[paddle.to_tensor(np.array([0, 0, 2]))].sum().backward()  # a repeated index adds up
    np.testing.assert_array_equal(z.grad, [2.0, 0.0, 1.0])
    w = paddle.to_tensor(np.ones((2, 3)), stop_gradient=False)
    paddle.unsqueeze(paddle.flatten(w), [0]).squeeze().sum().backward()
    np.testing.assert_array_equal(w.grad, np.ones((2, 3)))


def test_paddle_arithmetic_promotion_and_broadcasting():
    i = paddle.to_tensor([1, 2, 3])
    assert i.dtype == paddle.int64 and paddle.to_tensor([1.5]).dtype == paddle.float32
    assert (i + 1).dtype == paddle.int64 and (i * 2.0).dtype == paddle.int64  # integral float: kept
    with pytest.raises(TypeError, match="not an integer"):
        i + 0.5
    assert (i / 2).dtype == paddle.float32  # integer division casts to float32
    np.testing.assert_allclose((i / 2).numpy(), [0.5, 1.0, 1.5])
    f = paddle.to_tensor(np.ones((2, 3), np.float32), stop_gradient=False)
    d = paddle.to_tensor(np.arange(3.0))  # float64 on the right: cast to the left's float32
    out = f * d
    assert out.dtype == paddle.float32 and out.shape == [2, 3]
    (2.0 - out / 4.0).sum().backward()
    np.testing.assert_allclose(f.grad, -np.broadcast_to(np.arange(3.0) / 4, (2, 3)))
    np.testing.assert_array_equal((i > 1).numpy(), [False, True, True])
    np.testing.assert_array_equal((i == paddle.to_tensor([1, 0, 3])).numpy(), [True, False, True])
    assert float(paddle.to_tensor(2.5)) == 2.5 and paddle.to_tensor([[7]]).item() == 7


def test_paddle_grad_leaves_accumulated_gradients_alone():
    x = paddle.to_tensor(np.array([1.0, 2.0]), stop_gradient=False)
    y = (x * x * x).sum()
    (g,) = paddle.grad(y, x)
    np.testing.assert_allclose(g.numpy(), 3 * np.array([1.0, 4.0]))
    assert x.grad is None
