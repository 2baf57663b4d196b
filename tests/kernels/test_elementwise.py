"""elementwise: what the generated tests (test_ops, test_functions) do not cover —
broadcasting and its errors, scalar operands, dtype rules, size-0 and 0-d, more merged
axes than the kernels index, and gradients reduced over broadcast axes."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.kernels import elementwise as ew

from ..conftest import backend_params

OPS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
       "maximum": np.maximum, "minimum": np.minimum, "pow": np.power}
SHAPES = [((3, 4), (3, 4)), ((4096 // 64, 64), (64,)), ((5, 1, 3), (1, 4, 1)), ((2, 0, 3), (3,)), ((), (5,)),
          ((1,), ()), ((2, 1, 3, 1, 5, 1), (1, 4, 1, 2, 1, 3))]  # the last: 6 alternating axes


@pytest.mark.parametrize("device", backend_params())
@pytest.mark.parametrize("name", sorted(OPS))
def test_broadcast_shapes_match_numpy(device, name, rng):
    backend = backends.get(device)
    for xs, ys in SHAPES:
        x = rng.uniform(0.5, 2, xs).astype(np.float32)
        y = rng.uniform(0.5, 2, ys).astype(np.float32)
        got = hakl.to_numpy(getattr(ew, name)(backend.asarray(x), backend.asarray(y)))
        want = OPS[name](x, y)
        assert got.shape == want.shape and got.dtype == want.dtype, (xs, ys)
        np.testing.assert_allclose(got, want, rtol=2e-6, err_msg=f"{name} {xs} {ys}")


@pytest.mark.parametrize("device", backend_params())
def test_scalar_operands_take_the_array_dtype(device, rng):
    backend = backends.get(device)
    x = rng.uniform(0.5, 2, (7, 3)).astype(np.float32)
    d = backend.asarray(x)
    np.testing.assert_allclose(hakl.to_numpy(ew.subtract(2.5, d)), 2.5 - x, rtol=1e-6)
    np.testing.assert_allclose(hakl.to_numpy(ew.pow(d, 2)), x ** 2, rtol=1e-6)
    np.testing.assert_allclose(hakl.to_numpy(ew.divide(1, d)), np.float32(1) / x, rtol=1e-6)
    i = backend.asarray(np.arange(-3, 4, dtype=np.int32))
    got = hakl.to_numpy(ew.maximum(i, 0))
    assert got.dtype == np.int32 and got.tolist() == [0, 0, 0, 0, 1, 2, 3]
    with pytest.raises(TypeError, match=r"^add: argument 'y' = 0.5 is not an integer"):
        ew.add(i, 0.5)
    with pytest.raises(TypeError, match=r"^add: argument 'y' = .* does not fit in int32"):
        ew.add(i, 1 << 40)


@pytest.mark.parametrize("device", backend_params())
def test_errors_name_the_function_and_arguments(device):
    backend = backends.get(device)
    x, y = backend.asarray(np.ones((2, 3), np.float32)), backend.asarray(np.ones((4,), np.float32))
    with pytest.raises(ValueError, match=r"^add: shapes \(2, 3\) of 'x' and \(4,\) of 'y' do not broadcast"):
        ew.add(x, y)
    with pytest.raises(TypeError, match=r"^multiply: argument 'y' has dtype float16 but 'x' has float32"):
        ew.multiply(x, backend.asarray(np.ones((2, 3), np.float16)))
    with pytest.raises(TypeError, match=r"^divide: argument 'x' must have a dtype of float"):
        ew.divide(backend.asarray(np.ones(3, np.int32)), backend.asarray(np.ones(3, np.int32)))
    with pytest.raises(ValueError, match=r"^add_grad: argument 'dout' has shape \(3,\) but the output has \(2, 3\)"):
        ew.add_grad(x, backend.asarray(np.ones(3, np.float32)), backend.asarray(np.ones(3, np.float32)))


@pytest.mark.parametrize("device", backend_params())
def test_special_values_follow_numpy(device):
    backend = backends.get(device)
    v = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 3e38], np.float32)
    x, y = np.meshgrid(v, v)
    dx, dy = backend.asarray(x), backend.asarray(y)
    with np.errstate(all="ignore"):
        for name, fn in OPS.items():
            got = hakl.to_numpy(getattr(ew, name)(dx, dy))
            np.testing.assert_array_equal(got, fn(x, y), err_msg=name)  # NaN matches NaN


@pytest.mark.parametrize("device", backend_params())
def test_gradients_reduce_over_broadcast_axes(device, rng):
    backend = backends.get(device)
    x = rng.uniform(0.5, 2, (4, 1, 3)).astype(np.float32)
    y = rng.uniform(0.5, 2, (5, 1)).astype(np.float32)
    d = rng.standard_normal((4, 5, 3)).astype(np.float32)
    args = [backend.asarray(a) for a in (x, y, d)]
    want = {"add": (d.sum(1, keepdims=True), d.sum((0, 2))[:, None]),
            "multiply": ((d * y).sum(1, keepdims=True), (d * x).sum((0, 2))[:, None]),
            "maximum": ((d * (x > y)).sum(1, keepdims=True), (d * (x <= y)).sum((0, 2))[:, None]),
            "pow": ((d * y * x ** (y - 1)).sum(1, keepdims=True), (d * x ** y * np.log(x)).sum((0, 2))[:, None])}
    for name, (wx, wy) in want.items():
        gx, gy = getattr(ew, f"{name}_grad")(*args)
        np.testing.assert_allclose(hakl.to_numpy(gx), wx, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(hakl.to_numpy(gy), wy, rtol=1e-5, atol=1e-5, err_msg=name)
    gx, gy = ew.subtract_grad(args[0], 2.0, ew.subtract(args[0], 2.0))
    assert gy is None and hakl.to_numpy(gx).shape == x.shape


def test_collapse_merges_axes_that_broadcast_alike():
    assert ew.collapse((4096, 4096), (4096,)) == ("xb", (4096, 4096), (4096, 4096), (1, 4096))
    assert ew.collapse((8, 4, 5), (8, 4, 5)) == ("b", (160,), (160,), (160,))
    assert ew.collapse((3, 1), (1, 5)) == ("xy", (3, 5), (3, 1), (1, 5))
    assert ew.collapse((), (7,)) == ("y", (7,), (1,), (7,))
