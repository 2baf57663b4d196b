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
SHAPES = [((3, 4), (3, 4)), ((4096 // 64, 64), (64,)), ((5, 1, 3), (1, 4, 1)), ((2, 0, 3), (3,)), ((), (5,)), ((), ()),
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
    # A number's call has a plan by the number's type (call_key), its value checked every time.
    for value in (2.0, 0.5, -3.25):
        np.testing.assert_allclose(hakl.to_numpy(ew.multiply(d, value)), x * np.float32(value), rtol=1e-6)
    for value in (1, 2):
        assert hakl.to_numpy(ew.add(i, value)).tolist() == (np.arange(-3, 4) + value).tolist()
    for _ in range(2):
        with pytest.raises(TypeError, match=r"^add: argument 'y' = 0.5 is not an integer"):
            ew.add(i, 0.5)
        with pytest.raises(TypeError, match=r"^add: argument 'y' = .* does not fit in int32"):
            ew.add(i, 1 << 40)
    with np.errstate(over="raise"):  # a float past float32's range is inf, without a warning
        assert np.isinf(hakl.to_numpy(ew.multiply(d, 1e300))).all()


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


COMPARE = {"equal": np.equal, "not_equal": np.not_equal, "greater_than": np.greater,
           "greater_equal": np.greater_equal, "less_than": np.less, "less_equal": np.less_equal}


@pytest.mark.parametrize("device", backend_params())
def test_comparisons_are_bool_and_match_numpy_with_nan_ties_and_broadcasting(device, rng):
    """Ties (half the values repeat), NaN and ±inf on both sides, signed zeros (equal),
    broadcast shapes, a scalar on either side, integers; the result is bool."""
    backend = backends.get(device)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], np.float32)
    for dtype in ("float32", "float16", "int32", "int64"):
        if np.dtype(dtype) not in backend.dtypes():
            continue
        for xs, ys in [((6, 7), (6, 7)), ((3, 6, 7), (7,)), ((6, 1), (1, 7)), ((2, 0, 7), (7,)), ((), ()),
                       ((2, 1, 3, 1, 5, 1), (1, 4, 1, 2, 1, 3))]:  # the last: expanded first (> MAXD axes)
            x = rng.choice(special, xs) if dtype.startswith("float") else rng.integers(-2, 3, xs)
            y = rng.choice(special, ys) if dtype.startswith("float") else rng.integers(-2, 3, ys)
            x, y = x.astype(dtype), y.astype(dtype)
            for name, ref in COMPARE.items():
                got = hakl.to_numpy(getattr(hakl, name)(backend.asarray(x), backend.asarray(y)))
                want = ref(x, y)
                assert got.dtype == np.bool_ and got.shape == want.shape, (name, dtype, xs, ys)
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {dtype} {xs} {ys}")
    d = backend.asarray(np.array([-1.0, 0.0, np.nan, 2.0], np.float32))
    assert hakl.to_numpy(hakl.greater_than(d, 0)).tolist() == [False, False, False, True]
    assert hakl.to_numpy(hakl.less_equal(0, d)).tolist() == [False, True, False, True]
    assert hakl.to_numpy(hakl.not_equal(d, d)).tolist() == [False, False, True, False]


def test_comparison_errors_name_the_function():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"^less_than: shapes \(2, 3\) of 'x' and \(4,\) of 'y' do not broadcast"):
        hakl.less_than(x, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match=r"^equal: argument 'y' has dtype float64 but 'x' has float32"):
        hakl.equal(x, np.zeros(3))
    with pytest.raises(TypeError, match=r"^greater_equal: argument 'y' = 0.5 is not an integer"):
        hakl.greater_equal(np.zeros(3, np.int32), 0.5)


def test_repeated_pairs_are_checked_each_time_and_computed_afresh(rng):
    """A pair of arrays seen before reuses its validated plan (the framework's small calls):
    new values still give new results, a bad pair fails every time, and an arithmetic op and
    a comparison of the same pair keep their own output dtypes."""
    x, y = rng.standard_normal((2, 3)).astype(np.float32), np.arange(3, dtype=np.float32)
    for _ in range(2):
        np.testing.assert_array_equal(hakl.add(x, y), x + y)
    np.testing.assert_array_equal(hakl.add(x, 2 * y), x + 2 * y)
    for _ in range(2):
        with pytest.raises(TypeError, match=r"^add: argument 'y' has dtype int32 but 'x' has float32"):
            hakl.add(x, y.astype(np.int32))
        with pytest.raises(ValueError, match=r"^multiply: shapes \(2, 3\) of 'x' and \(4,\) of 'y' do not broadcast"):
            hakl.multiply(x, np.ones(4, np.float32))
    assert hakl.less_than(x, y).dtype == np.bool_ and hakl.subtract(x, y).dtype == np.float32
    np.testing.assert_array_equal(hakl.less_than(x, y), x < y)


@pytest.mark.parallel_builds
def test_untuned_cpu_calls_take_numpy_below_the_serial_threshold_and_numba_above():
    """A ufunc on a few elements costs a third of a numba launch; many elements gain from threads."""
    from hakl.backends.cpu_kernels import serial_below
    from hakl.tuning import dispatch

    for size, wanted in ((32, "numpy"), (4 * serial_below(), "numba")):
        for op, name in ((ew.ELEMENTWISE, "add"), (ew.COMPARE, "less_than")):
            a = np.ones(size, np.float32)
            with dispatch.capture() as seen:
                ew._binary(op, name, a, a)
            (_, problem), = seen
            selection = dispatch.select(op, problem)
            assert (selection.variant.name, selection.source) == (wanted, "heuristic"), (size, name)
