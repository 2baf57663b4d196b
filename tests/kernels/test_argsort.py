"""argsort / sort / sort_grad: the public API against NumPy (stable orders exactly, NaN,
±inf and ±0.0 orders, ties), every axis and layout, 0-d and empty inputs, errors,
every tunable configuration, the int64 payload path, the scatter backward, and a
sort of more than 2^31 elements on the CPU."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl.kernels import argsort as family
from hakl.kernels.argsort import (ARGSORT, DTYPES, SORT, argsort, argsort_grad, reference, sort,
                                  sort_grad, sort_with_indices)
from hakl.kernels.argsort import cpu as cpu_kernels
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params

DEVICES = backend_params()


def _stable_desc(x: np.ndarray, axis: int) -> np.ndarray:
    """NumPy's stable argsort of the complemented key: descending, ties in input order."""
    moved = np.moveaxis(x, axis, -1)
    idx = np.argsort(reference.keys(np.ascontiguousarray(moved), descending=True), axis=-1, kind="stable")
    return np.moveaxis(idx, -1, axis)


def _x(dtype, shape, rng, kind="random"):
    return family.data(kind, (shape[0], int(np.prod(shape[1:])), 1), dtype, rng).reshape(shape)


@pytest.mark.parametrize("device", DEVICES)
def test_stable_orders_equal_numpys(device, rng):
    backend = hakl.backends.get(device)
    for dtype in ("float32", "int8", "float16", "bool"):  # 8-byte keys: test_ops checks their stable order
        for kind in ("random", "ties", "special", "sorted", "reversed", "equal"):
            x = _x(dtype, (6, 40, 3), rng, kind)
            for axis in (0, 1, -1):  # -1 is 2: the last axis once
                d = backend.asarray(x)
                got = hakl.to_numpy(argsort(d, axis=axis, stable=True))
                np.testing.assert_array_equal(got, np.argsort(x, axis=axis, kind="stable"), err_msg=f"{dtype} {kind}")
                got = hakl.to_numpy(argsort(d, axis=axis, descending=True, stable=True))
                np.testing.assert_array_equal(got, _stable_desc(x, axis), err_msg=f"desc {dtype} {kind}")
                values, idx = (hakl.to_numpy(a) for a in sort_with_indices(d, axis=axis, descending=True))
                np.testing.assert_array_equal(values, np.take_along_axis(x, _stable_desc(x, axis), axis))
                np.testing.assert_array_equal(np.take_along_axis(x, idx, axis), values)
                np.testing.assert_array_equal(hakl.to_numpy(sort(d, axis=axis)), np.sort(x, axis=axis))


@pytest.mark.parametrize("device", DEVICES)
def test_nan_inf_and_signed_zero_order(device):
    backend = hakl.backends.get(device)
    neg_nan = np.array([0xFFC00001], np.uint32).view(np.float32)[0]
    x = np.array([1.0, neg_nan, -np.inf, 0.0, np.nan, -0.0, np.inf, -1.0], np.float32)
    d = backend.asarray(x)
    np.testing.assert_array_equal(hakl.to_numpy(argsort(d, stable=True)), [2, 7, 3, 5, 0, 6, 1, 4])
    np.testing.assert_array_equal(hakl.to_numpy(argsort(d, descending=True, stable=True)), [1, 4, 6, 0, 3, 5, 7, 2])
    values = hakl.to_numpy(sort(d, stable=True))
    assert np.signbit(values[2]) == False and np.signbit(values[3]) == True  # noqa: E712  x's own zeros, in order
    assert np.isnan(values[-2:]).all() and values[-3] == np.inf


@pytest.mark.parametrize("variant", SORT.for_backend("cpu"), ids=lambda v: v.name)
def test_float16_negative_zero_and_subnormals_in_long_rows(variant, rng):
    """Rows of 70001 float16 values, 40% of them -0.0 or -6e-08 (the smallest negative
    subnormal): NumPy 2.4's float16 quicksort on AVX512_ICL without AVX512_SPR (Zen 5) put
    some -0.0 before -6e-08; every CPU sort variant, descending too, must not."""
    x = (3 * rng.standard_normal((8, 70001, 1))).astype(np.float16)
    pool = np.array([0x8000, 0x8001], np.uint16).view(np.float16)
    x = np.where(rng.random(x.shape) < 0.4, pool[rng.integers(0, 2, x.shape)], x)
    for descending in (False, True):
        problem = Problem("sort", "cpu", "float16", x.shape, family._flags(descending, False))
        if not variant.supports(problem):
            continue
        got = problem.launch(dispatch.force(SORT, problem, variant).launcher, x)
        want = np.sort(x.astype(np.float64), axis=1)[:, ::-1 if descending else 1]
        np.testing.assert_array_equal(got.astype(np.float64), want, err_msg=f"descending={descending}")


@pytest.mark.parametrize("device", DEVICES)
def test_zero_d_empty_and_errors(device):
    backend = hakl.backends.get(device)
    scalar = backend.asarray(np.array(2.5, np.float32))
    assert hakl.to_numpy(argsort(scalar)) == 0 and hakl.to_numpy(argsort(scalar)).dtype == np.int64
    assert hakl.to_numpy(sort(scalar)) == 2.5
    empty = backend.asarray(np.zeros((3, 0), np.int32))
    assert hakl.to_numpy(argsort(empty, axis=1)).shape == (3, 0)
    assert hakl.to_numpy(sort(empty, axis=0)).shape == (3, 0)
    x = backend.asarray(np.ones((2, 3), np.float32))
    for name in ("descending", "stable"):
        with pytest.raises(TypeError, match=rf"^argsort: argument '{name}' must be a bool"):
            argsort(x, **{name: 1})
        with pytest.raises(TypeError, match=rf"^sort: argument '{name}' must be a bool"):
            sort(x, **{name: "yes"})
    with pytest.raises(ValueError, match=r"^sort: argument 'axis' = 2 is out of range"):
        sort(x, axis=2)
    with pytest.raises(TypeError, match=r"^argsort: argument 'x' must have a dtype"):
        argsort(backend.asarray(np.ones(3, np.complex64)))
    with pytest.raises(TypeError, match=r"^sort_grad: argument 'indices' must have a dtype"):
        sort_grad(x, backend.asarray(np.zeros((2, 3), np.int32)))


@pytest.mark.parametrize("device", DEVICES)
def test_backward_is_the_scatter(device, rng):
    backend = hakl.backends.get(device)
    x = rng.standard_normal((5, 7, 9)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    for axis in (0, 1, 2):
        idx = np.argsort(x, axis=axis)
        want = np.zeros_like(dy)
        np.put_along_axis(want, idx, dy, axis)
        for fn in (sort_grad, argsort_grad):
            got = hakl.to_numpy(fn(backend.asarray(dy), backend.asarray(idx.astype(np.int64)), axis=axis))
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("variant", [v for op in (ARGSORT, SORT) for v in op.for_backend("cpu") if v.space]
                         + [v for op in (ARGSORT,) for v in op.for_backend("opencl") if v.space],
                         ids=lambda v: f"{v.backend}-{v.name}")
def test_every_configuration(variant, rng):
    backend = hakl.backends.get(variant.backend)
    if not backend.available:
        pytest.skip(backend.unavailable_reason)
    op = ARGSORT if variant in ARGSORT.variants else SORT
    for shape in [(3, 7, 1), (4, 40, 1), (3, 300, 1), (2, 2000, 1), (2, 50, 3)]:
        for flags in [family._flags(False, True), family._flags(True, True)]:
            problem = Problem(op.name, variant.backend, "float32", shape, flags)
            if not variant.supports(problem):
                continue
            x = family.data("ties", shape, "float32", rng)
            expected = op.reference(problem, x)
            for config in variant.configs(problem):
                out = backend.to_host(problem.launch(variant.build(problem, config), backend.asarray(x)))
                error = op.check(problem, out, expected, (x,))
                assert error is None, f"{shape} {config}: {error}"


def test_int64_payload_path(monkeypatch, rng):
    """The radix sort's int64 positions (above 2^31 elements), on small inputs."""
    monkeypatch.setattr(cpu_kernels, "INT32_PAYLOAD_BELOW", 0)
    variant = ARGSORT.variant("cpu", "radix")
    for shape, dtype in [((1, 100003, 1), "float32"), ((300, 70, 1), "int64"), ((2, 5000, 3), "int16")]:
        problem = Problem("argsort", "cpu", dtype, shape, family._flags(True, True))
        x = family.data("special", shape, dtype, rng)
        out = problem.launch(dispatch.force(ARGSORT, problem, variant).launcher, x)
        assert ARGSORT.check(problem, out, ARGSORT.reference(problem, x), (x,)) is None


@pytest.mark.parametrize("op", [ARGSORT, SORT], ids=lambda op: op.name)
def test_numpy_blocks_split_across_threads(monkeypatch, op, rng):
    """NumPy's sort on blocks in threads: blocks of outer, or of inner when outer is 1,
    with ties, NaN and ±0 under every flag; a grain of one element makes even these
    small inputs split."""
    monkeypatch.setattr(cpu_kernels, "_BLOCK_GRAIN", 1)
    variant = op.variant("cpu", "numpy_blocks")
    for shape, dtype in [((9, 33, 1), "float32"), ((1, 40, 7), "float16"), ((5, 20, 3), "int64")]:
        for descending in (False, True):
            for stable in (False, True):
                problem = Problem(op.name, "cpu", dtype, shape, family._flags(descending, stable))
                for kind in ("ties", "special"):
                    x = family.data(kind, shape, dtype, rng)
                    out = problem.launch(dispatch.force(op, problem, variant).launcher, x)
                    error = op.check(problem, out, op.reference(problem, x), (x,))
                    assert error is None, f"{shape} {dtype} {kind} desc={descending} stable={stable}: {error}"


def test_dtypes_on_cpu_take_every_declared_dtype(rng):
    for dtype in DTYPES:
        x = _x(dtype, (4, 33), rng, "ties")
        np.testing.assert_array_equal(argsort(x, stable=True), np.argsort(x, axis=-1, kind="stable"))


@pytest.mark.big_memory
def test_sort_past_2_31_elements_on_cpu():
    """int8 values past 2^31 elements (the counting path: int64 positions all the way);
    an argsort that large needs 16 GiB of indices, more than this machine lends a test:
    test_int64_payload_path covers the argsort's int64 positions."""
    n = (1 << 31) + 16
    x = np.zeros(n, np.int8)
    x[-1], x[-2], x[5], x[-3] = -7, 9, 9, -128
    y = sort(x)
    assert y.shape == (n,) and y[0] == -128 and y[1] == -7 and y[2] == 0 and y[-1] == 9 and y[-2] == 9
    assert y[-3] == 0 and y[n - 3] == 0
    del x
    y = sort(y, descending=True)
    assert y[0] == 9 and y[1] == 9 and y[-1] == -128 and y[-2] == -7
