"""cumsum: every variant against the float64 reference, the precision bound, every
tunable configuration, the public API's axes / flags / dtypes / layouts / errors, the
gradient (a reverse cumsum) checked numerically, and the CUDA sources through nvcc."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import hakl
from hakl.kernels.cumsum import CUMSUM, DTYPES, cumsum, cumsum_grad
from hakl.kernels.cumsum.reference import error_ratio
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params, variant_params


def _flags(exclusive, reverse):
    return (("exclusive", exclusive), ("reverse", reverse))


# Scans long enough for several segments / chunks / tiles of every variant.
PRECISION_SHAPES = [(1, 300007, 1), (16, 20011, 1), (2000, 70, 1), (1, 4001, 96), (3, 2003, 5)]


@pytest.mark.parametrize("op, variant, dtype", [p for p in variant_params(CUMSUM, ("float16", "float32"))
                                                 if not p.values[1].baseline])
def test_precision_bound_on_positive_data(op, variant, dtype):
    """|y - y64| <= 8 eps cumsum(|x|) on positive data, where a scan that accumulates
    sequentially in the dtype drifts by ~sqrt(n) eps (the baselines do: NumPy reaches
    ~300 eps at 4M elements). Float16 data is scaled so the sums stay finite."""
    backend = hakl.backends.get(variant.backend)
    rng = np.random.default_rng(1)
    checked = 0
    for shape in PRECISION_SHAPES:
        for exclusive, reverse in [(False, False), (True, True)]:
            problem = Problem("cumsum", variant.backend, dtype, shape, _flags(exclusive, reverse))
            if not variant.supports(problem):
                continue
            scale = min(1.0, 3e4 / shape[1]) if dtype == "float16" else 1.0
            x = (scale * rng.random(shape)).astype(dtype)
            launcher = dispatch.force(CUMSUM, problem, variant).launcher
            y = backend.to_numpy(launcher(backend.asarray(x)))
            ratio = error_ratio(problem, x, y)
            assert ratio <= 8, f"{shape} {dict(problem.flags)}: error {ratio:.1f} eps * cumsum|x|"
            checked += 1
    assert checked


@pytest.mark.parametrize("op, variant, dtype", [p for p in variant_params(CUMSUM, ("float32", "int32"))
                                                 if p.values[1].space and p.values[1].backend != "cuda"])
def test_every_configuration(op, variant, dtype):
    """Each point of the tuning space on shapes that cross its segment / chunk sizes."""
    backend = hakl.backends.get(variant.backend)
    rng = np.random.default_rng(2)
    for shape in [(1, 70001, 1), (5, 3001, 1), (1, 3001, 7), (2, 600, 130)]:
        problem = Problem("cumsum", variant.backend, dtype, shape, _flags(True, True))
        if not variant.supports(problem):
            continue
        (x,) = CUMSUM.sample(problem, rng)
        expected = CUMSUM.reference(problem, x)
        for config in variant.configs(problem):
            y = backend.to_numpy(problem.launch(variant.build(problem, config), backend.asarray(x)))
            error = CUMSUM.check(problem, y, expected)
            assert error is None, f"{shape} {config}: {error}"


def _numpy_cumsum(x, axis, dtype, exclusive, reverse):
    x = np.asarray(x).astype(dtype or x.dtype)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if x.ndim == 0:
        return x.copy()
    if reverse:
        x = np.flip(x, axis)
    acc = np.float64 if x.dtype.kind == "f" else np.int64
    y = np.cumsum(x.astype(acc), axis=axis)
    if exclusive:
        y = y - x
    if reverse:
        y = np.flip(y, axis)
    return y


@pytest.mark.parametrize("device", backend_params())
def test_public_api_axes_flags_and_layouts(device, rng):
    base = rng.standard_normal((6, 10, 12)).astype(np.float32)
    cases = [(base, None), (base, 0), (base, 1), (base, -1), (base[:, ::2, 3:], -1), (base[:, ::2, 3:], 0),
             (base.transpose(2, 0, 1), 2), (base.transpose(2, 0, 1), None), (base[0], 0)]
    for x, axis in cases:
        for exclusive, reverse in [(False, False), (True, False), (False, True), (True, True)]:
            y = hakl.to_numpy(cumsum(hakl.asarray(x, device=device), axis, exclusive=exclusive, reverse=reverse))
            want = _numpy_cumsum(x, axis, None, exclusive, reverse)
            assert y.shape == want.shape and y.dtype == x.dtype
            np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", backend_params())
def test_dtypes_follow_paddle(device):
    """The output has x's dtype (integers included: no promotion to int64 as in NumPy),
    or `dtype`'s when given; int32 wraps on overflow; float16 sums in float32."""
    ints = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    y = hakl.to_numpy(cumsum(hakl.asarray(ints, device=device), axis=1))
    assert y.dtype == np.int32 and y.tolist() == [[1, 3, 6], [4, 9, 15]]
    y = hakl.to_numpy(cumsum(hakl.asarray(ints, device=device), dtype="float64"))
    assert y.dtype == np.float64 and y.tolist() == [1, 3, 6, 10, 15, 21]
    big = np.full(3, 2 ** 30, np.int32)
    assert hakl.to_numpy(cumsum(hakl.asarray(big, device=device))).tolist() == [2 ** 30, -2 ** 31, -2 ** 30]
    ones = np.ones(4096, np.float16)  # 2048 + 1 is not a float16: a float16 sum would stop at 2048
    assert hakl.to_numpy(cumsum(hakl.asarray(ones, device=device)))[-1] == 4096


@pytest.mark.parametrize("device", backend_params())
def test_empty_and_zero_d_inputs(device):
    for shape, axis in [((0,), None), ((0, 5), 1), ((5, 0), 0), ((2, 0, 3), -1)]:
        x = hakl.asarray(np.empty(shape, np.float32), device=device)
        want = (0,) if axis is None else shape
        assert hakl.to_numpy(cumsum(x, axis)).shape == want
    if device == "cpu":  # pyopencl makes 0-d NumPy arrays 1-d
        assert cumsum(np.array(3.0), 0).shape == () and cumsum(np.array(3.0), 0) == 3.0
        assert cumsum(np.array(3.0)).shape == (1,)
        assert cumsum(np.array(3.0), -1, exclusive=True) == 0.0


@pytest.mark.parametrize("device", backend_params())
def test_gradient_matches_finite_differences(device, rng):
    x = rng.standard_normal((3, 4, 5))
    for axis in (None, 0, 1, -1):
        for exclusive, reverse in [(False, False), (True, False), (False, True), (True, True)]:
            y = cumsum(hakl.asarray(x, device=device), axis, exclusive=exclusive, reverse=reverse)
            w = rng.standard_normal(hakl.to_numpy(y).shape)
            dx = hakl.to_numpy(cumsum_grad(hakl.asarray(w, device=device), axis, exclusive, reverse, x.shape))
            numeric = np.zeros_like(x)
            h = 1e-6
            for i in np.ndindex(x.shape):
                xp, xm = x.copy(), x.copy()
                xp[i] += h
                xm[i] -= h
                fp = (_numpy_cumsum(xp, axis, None, exclusive, reverse) * w).sum()
                fm = (_numpy_cumsum(xm, axis, None, exclusive, reverse) * w).sum()
                numeric[i] = (fp - fm) / (2 * h)
            # the difference quotient's own rounding: ulps of the summed terms over 2h (1.2e-8
            # of a 0.002 element was seen in CI against a fixed 1e-8)
            rounding = 8 * np.finfo(np.float64).eps * float(np.abs(_numpy_cumsum(x, axis, None, exclusive, reverse)
                                                                   * w).sum()) / (2 * h)
            np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=max(1e-8, rounding))


def test_errors_name_the_op_and_argument():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"cumsum: argument 'axis' = 2 is out of range \[-2, 1\] for a 2-d input"):
        cumsum(x, axis=2)
    with pytest.raises(TypeError, match=r"cumsum: argument 'axis' must be an int or None, got float"):
        cumsum(x, axis=1.0)
    with pytest.raises(TypeError, match=r"cumsum: argument 'x' has dtype int8; supported: .* \(pass dtype="):
        cumsum(np.ones(3, np.int8))
    with pytest.raises(TypeError, match=r"cumsum: argument 'dtype' must be one of .* got bool"):
        cumsum(x, dtype=bool)
    with pytest.raises(TypeError, match=r"cumsum: argument 'dtype' = 'floaty' is not a dtype"):
        cumsum(x, dtype="floaty")
    with pytest.raises(TypeError, match=r"cumsum: argument 'exclusive' must be a bool, got int"):
        cumsum(x, exclusive=1)
    with pytest.raises(TypeError, match=r"cumsum: argument 'x' must be a NumPy, CuPy or pyopencl array, got list"):
        cumsum([1.0, 2.0])
    assert cumsum(np.ones(3, np.int8), dtype="int64").tolist() == [1, 2, 3]


def test_backward_errors_name_the_backward_and_its_arguments():
    dy = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"^cumsum_grad: argument 'axis' = 2 is out of range"):
        cumsum_grad(dy, axis=2)
    with pytest.raises(TypeError, match=r"^cumsum_grad: argument 'dy' has dtype int8"):
        cumsum_grad(np.ones(3, np.int8))
    with pytest.raises(TypeError, match=r"^cumsum_grad: argument 'dy' must be a NumPy, CuPy or pyopencl array"):
        cumsum_grad([1.0])
    with pytest.raises(TypeError, match=r"^cumsum_grad: argument 'reverse' must be a bool"):
        cumsum_grad(dy, reverse="yes")
    with pytest.raises(ValueError, match=r"^cumsum_grad: argument 'x_shape' = \(4, 2\) does not hold the 6"):
        cumsum_grad(dy, x_shape=(4, 2))
    assert cumsum_grad(dy.reshape(-1), x_shape=(2, 3)).shape == (2, 3)


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((8, 100)).astype(np.float32)
    before = x.copy()
    cumsum(x, 1, exclusive=True, reverse=True)
    np.testing.assert_array_equal(x, before)


NVCC = shutil.which("nvcc")


@pytest.mark.big_memory
def test_more_than_2_to_the_31_elements_on_cpu():
    """A float16 scan over 2**31 + 16 elements (4 GiB in and out) through the numba row
    kernel: ones at 0, 2**31 - 1 and 2**31, so a 32-bit index (wrapping to negative)
    or a segment offset that lost its high bits shows as a wrong count past the mark."""
    n = (1 << 31) + 16
    x = np.zeros(n, np.float16)
    x[[0, (1 << 31) - 1, 1 << 31]] = 1
    rows = CUMSUM.variant("cpu", "rows")
    problem = Problem("cumsum", "cpu", "float16", (1, n, 1), (("exclusive", False), ("reverse", False)))
    y = rows.build(problem, rows.default_config(problem))(x.reshape(1, n, 1)).reshape(n)
    del x
    assert y[(1 << 31) - 2] == 1 and y[(1 << 31) - 1] == 2 and y[1 << 31] == 3 and y[-1] == 3
    assert y.dtype == np.float16 and not (y[1:(1 << 31) - 1] != 1).any()


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
@pytest.mark.xdist_group("nvcc")
def test_cuda_units_compile_for_every_dtype():
    """cumsum.cu as the launchers build it where the generic source test (every
    configuration, float dtypes, vector width of aligned data) does not reach: the
    integer dtypes, and the V=1 modules built for unaligned data."""
    from .test_cuda_sources import compile_all

    units = []
    for dtype in [d for d in DTYPES if not d.startswith("float")] + ["float32"]:  # V=1: one float type shows it
        for shape in [(1, 100000, 1), (64, 1000, 1), (4, 1000, 64)]:
            problem = Problem("cumsum", "cuda", dtype, shape, _flags(False, False))
            for variant in CUMSUM.for_backend("cuda"):
                if variant.compile_unit is None or not variant.supports(problem):
                    continue
                config = variant.default_config(problem)
                for vec in ({"vec": 1},) if dtype.startswith("float") else ({}, {"vec": 1}):
                    units.append((f"cumsum {dtype} {shape} {vec}", *variant.compile_unit(problem, {**config, **vec})))
    failures = compile_all(units)
    assert not failures, "\n\n".join(failures[:5])
