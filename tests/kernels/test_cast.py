"""cast: every (backend, variant, source dtype) against NumPy's astype for every
destination, hakl's out-of-range rule on every backend, the public API, errors,
the gradient, 64-bit indexing, and the CUDA sources through nvcc."""
from __future__ import annotations

import math
import platform
import shutil

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.kernels.cast import CAST, cast, cast_grad, dtypes
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params, free_memory

DEVICES = backend_params()


# ---- out of range and NaN ------------------------------------------------------

SPECIALS = [np.nan, np.inf, -np.inf, 300.7, -300.7, 1e10, -1e10, 3e9, 1e19, -1e19, 127.9, -128.9, 255.5,
            -0.9, 2147483520.0, -2147483648.0, 65504.0, -3.5]


def _x86_rule(v: float, to: str) -> int:
    """hakl's float -> int answer, written from the rule (not from NumPy): truncate;
    out of range or NaN gives INT64_MIN (int64) or INT32_MIN, whose low bits the
    narrower targets keep."""
    if to == "int64":
        return math.trunc(v) if v == v and -2.0**63 <= v < 2.0**63 else -(2**63)
    i32 = math.trunc(v) if v == v and -2.0**31 <= v < 2.0**31 else -(2**31)
    bits = np.iinfo(to).bits
    low = i32 & ((1 << bits) - 1)
    return low - (1 << bits) if np.iinfo(to).min < 0 and low >= 1 << (bits - 1) else low


@pytest.mark.parametrize("device", DEVICES)
def test_out_of_range_float_to_int_rule(device):
    """The same documented answer from every variant of every backend (the NumPy
    baseline inherits it from an x86-64 host only)."""
    for src in ("float16", "float32", "float64", "bfloat16"):
        if src not in dtypes(device):
            continue
        with np.errstate(over="ignore"):
            x = np.array(SPECIALS, np.float64).astype(src)
        for to in ("int8", "uint8", "int16", "int32", "int64"):
            want = np.array([_x86_rule(float(v), to) for v in x], to)
            problem = Problem("cast", device, src, x.shape, (("to", to),))
            for variant in CAST.for_backend(device):
                if not variant.supports(problem) or \
                        variant.name == "numpy" and platform.machine() not in ("x86_64", "AMD64"):
                    continue
                launcher = dispatch.force(CAST, problem, variant).launcher
                got = backends.get(device).to_numpy(launcher(hakl.asarray(x, device=device)))
                assert np.array_equal(got, want), (device, variant.name, src, to, x, got, want)


# ---- public API ----------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_public_api_layouts_and_dtype_arguments(device, rng):
    base = rng.uniform(-100, 100, (6, 10, 12)).astype(np.float32)
    on_device = hakl.asarray(base, device=device)
    views = [(base, on_device), (base[:, ::2, 1:], on_device[:, ::2, 1:]), (base[2], on_device[2])]
    for host, view in views:
        for to in ("int16", "float16", "bool", "float64" if "float64" in dtypes(device) else "uint8"):
            got = hakl.to_numpy(cast(view, to))
            assert got.dtype == np.dtype(to) and np.array_equal(got, host.astype(to))
    for arg, want in [(np.float16, np.float16), (np.dtype("int8"), np.int8), (bool, np.bool_), ("uint8", np.uint8)]:
        assert hakl.to_numpy(cast(on_device, arg)).dtype == want
    for shape in [(0,), (3, 0), (0, 2, 5)]:
        out = cast(hakl.asarray(np.empty(shape, np.int32), device=device), "float16")
        assert hakl.to_numpy(out).shape == shape and out.dtype == np.float16
    if device == "cpu":
        y = cast(np.array(3.9), "int32")
        assert y.shape == () and y == 3


def test_input_is_not_modified_and_output_is_new(rng):
    x = rng.standard_normal(1000).astype(np.float32)
    before = x.copy()
    y = cast(x, "float32")
    y[:] = 0
    np.testing.assert_array_equal(x, before)


def test_errors_name_the_op_and_argument():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match=r"cast: argument 'dtype' = 'floaty' is not a dtype"):
        cast(x, "floaty")
    with pytest.raises(TypeError, match=r"cast: argument 'dtype' = complex64 is not supported on cpu; expected"):
        cast(x, np.complex64)
    with pytest.raises(TypeError, match=r"cast: argument 'x' has dtype uint16, not supported on cpu"):
        cast(np.ones(3, np.uint16), "float32")
    with pytest.raises(TypeError, match=r"cast: argument 'x' must be a NumPy, CuPy or pyopencl array, got list"):
        cast([1.0], "float32")
    with pytest.raises(TypeError, match=r"cast_grad: a gradient flows between floating dtypes only"):
        cast_grad(x, "int32")
    with pytest.raises(TypeError, match=r"cast_grad: a gradient flows between floating dtypes only"):
        cast_grad(np.ones(4, np.int32), "float32")
    if backends.get("opencl").available:  # bfloat16 is the CPU's
        on_cl = hakl.asarray(x, device="opencl")
        with pytest.raises(TypeError, match=r"cast: argument 'dtype' = bfloat16 is not supported on opencl"):
            cast(on_cl, "bfloat16")


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_is_the_cast_back(device, rng):
    """d sum(w * cast(x, float32)) / dx for float64 x is w cast to float64 (up to
    float32's rounding of x, which the identity's derivative ignores)."""
    x = rng.standard_normal(50)
    w = rng.standard_normal(50).astype(np.float32)
    dx = hakl.to_numpy(cast_grad(hakl.asarray(w, device=device), x.dtype))
    assert dx.dtype == np.float64 and np.array_equal(dx, w.astype(np.float64))
    h = 1e-3  # a step float32 resolves, so the finite difference sees the cast
    numeric = np.array([(float((cast(x + h * e, "float32") * w).astype(np.float64).sum())
                         - float((cast(x - h * e, "float32") * w).astype(np.float64).sum())) / (2 * h)
                        for e in np.eye(50)])
    np.testing.assert_allclose(dx, numeric, rtol=1e-3, atol=1e-3)


# ---- half conversions ----------------------------------------------------------


def _float32_near_every_half() -> np.ndarray:
    """Every half as float32, its float32 neighbours and the midpoints between halves
    (ties to even), beyond 65504 (overflow) and below the subnormals (underflow)."""
    halves = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    finite = np.sort(halves[np.isfinite(halves)])
    with np.errstate(invalid="ignore"):
        mids = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)
        around = [np.nextafter(finite, np.float32(np.inf)), np.nextafter(finite, np.float32(-np.inf))]
    extra = np.array([np.nan, -np.nan, np.inf, -np.inf, 65519.996, 65520.0, 1e-9, -1e-9, 3e38], np.float32)
    return np.concatenate([halves, finite, mids, *around, extra])


@pytest.mark.parametrize("way", ["bit arithmetic", "this host's choice"])
def test_half_conversions_are_numpys(way):
    """float32 <-> half bits in numba kernels, both ways: NumPy's bits for every half and
    every float32 rounding case (ties, subnormals, overflow), NaN to NaN. The host picks
    F16C's instructions where it has them; the bit arithmetic serves elsewhere, so it is
    checked here on every host."""
    from numba import njit

    from hakl.kernels.cast import halfbits

    down, up = ((halfbits._f32_to_half_bits, halfbits._half_to_f32_bits) if way == "bit arithmetic"
                else (halfbits.f32_to_half, halfbits.half_to_f32))

    @njit
    def convert(x, h, back):
        for i in range(x.size):
            h[i] = down(x[i])
            back[i] = up(h[i])

    x = _float32_near_every_half()
    h, back = np.empty(x.size, np.uint16), np.empty(x.size, np.float32)
    convert(x, h, back)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    nan = np.isnan(x)
    np.testing.assert_array_equal(h[~nan], want.view(np.uint16)[~nan])
    assert np.isnan(h.view(np.float16)[nan]).all()
    np.testing.assert_array_equal(back.view(np.uint32)[~nan], want.astype(np.float32).view(np.uint32)[~nan])
    assert np.isnan(back[nan]).all()


def _near_every_bfloat16() -> tuple[np.ndarray, np.ndarray]:
    """float32 and float64 values at, between and just beside every bfloat16: exact ties
    (which round to even), a float32 tie plus a float64 hair (rounding through float32
    would meet the tie and round to even: the wrong way), and the specials."""
    every = np.arange(1 << 16, dtype=np.uint16).view(hakl.op.BFLOAT16).astype(np.float32)
    finite = every[np.isfinite(every)]
    bits = finite.view(np.uint32)
    f32 = np.concatenate([finite, *((bits + d).view(np.float32) for d in (0x7FFF, 0x8000, 0x8001)),
                          np.array([np.nan, -np.nan, np.inf, -np.inf, 3.3961e38, 3.3963e38, 1e-45], np.float32)])
    ties = (bits + 0x8000).view(np.float32).astype(np.float64)
    ulp = np.abs(ties) * 2.0 ** -40
    f64 = np.concatenate([f32.astype(np.float64), ties + ulp, ties - ulp, [1e300, -1e-300, 2.0 ** -140]])
    return f32, f64


def _same_floats(got: np.ndarray, want: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):  # ml_dtypes warns on widening a NaN
        g, w = got.astype(np.float64), want.astype(np.float64)
    nan = np.isnan(w)
    assert np.array_equal(np.isnan(g), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan] if got.itemsize == 2 else g[~nan],
                                  want.view(np.uint16)[~nan] if want.itemsize == 2 else w[~nan])


def test_bfloat16_conversions_are_ml_dtypes():
    """float32 / float64 / integers -> bfloat16 bits round once to nearest even, as ml_dtypes
    does (float64 not through float32, int64 past 2**53 not through float64's rounding), and
    every bfloat16 widens exactly; through the numba kernel and through cast() itself."""
    bf16 = hakl.op.BFLOAT16
    f32, f64 = _near_every_bfloat16()
    big = 2 ** 40 + 2 ** 32  # a bfloat16 tie at 2**40: +1 must round up, -1 down
    ints = np.array([big + 1, big - 1, big, -(big + 1), -(2 ** 63), 2 ** 63 - 1, 2 ** 53 + 1, 3, 0], np.int64)
    with np.errstate(over="ignore"):
        cases = [(f32, f32.astype(bf16)), (f64, f64.astype(bf16)), (ints, ints.astype(bf16)),
                 (ints.astype(np.int32), ints.astype(np.int32).astype(bf16)),
                 (f32.astype(np.float16), f32.astype(np.float16).astype(bf16))]
    for x, want in cases:
        for variant in ("numba", "numpy"):
            problem = Problem("cast", "cpu", x.dtype.name, x.shape, (("to", "bfloat16"),))
            _same_floats(dispatch.force(CAST, problem, CAST.variant("cpu", variant)).launcher(x), want)
        _same_floats(cast(x, "bfloat16"), want)
    every = np.arange(1 << 16, dtype=np.uint16).view(bf16)
    for to in ("float32", "float64", "float16"):
        problem = Problem("cast", "cpu", "bfloat16", every.shape, (("to", to),))
        for variant in CAST.for_backend("cpu"):
            if variant.supports(problem):
                with np.errstate(over="ignore", invalid="ignore"):
                    _same_floats(dispatch.force(CAST, problem, variant).launcher(every),
                                 every.astype(np.float32).astype(to))


def test_bfloat16_to_int_follows_the_float32_rule():
    """ml_dtypes' own bfloat16 -> int gives 0 for NaN and 1e10; hakl's answer is float32's."""
    x = np.array([np.nan, 1e10, -3.75, 300.0, -1.0], np.float32)
    got = cast(x.astype(hakl.op.BFLOAT16), "int32")
    assert got.tolist() == [-(2 ** 31), -(2 ** 31), -3, 300, -1]
    assert cast(x.astype(hakl.op.BFLOAT16), "uint8").tolist() == [0, 0, 253, 44, 255]


@pytest.mark.big_memory
@pytest.mark.skipif(free_memory() < 8 << 30, reason="needs 8 GiB of free memory")
def test_numba_kernel_indexes_past_2_31_elements():
    """int8 -> uint8 over 2**31 + 16 elements (4 GiB in and out) through the numba kernel:
    32-bit indices would wrap before the end."""
    n = (1 << 31) + 16
    x = np.full(n, -3, np.int8)
    marks = {0: -128, (1 << 31) - 1: -1, 1 << 31: 1, n - 1: 127}
    for i, v in marks.items():
        x[i] = v
    problem = Problem("cast", "cpu", "int8", (n,), (("to", "uint8"),))
    out = dispatch.force(CAST, problem, CAST.variant("cpu", "numba")).launcher(x)
    del x
    for i, v in marks.items():
        assert out[i] == np.uint8(v & 0xFF), i
    step = 1 << 28
    others = sum(int(np.count_nonzero(out[lo:lo + step] != 253)) for lo in range(0, n, step))
    assert others == len(marks)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.xdist_group("nvcc")
def test_every_cuda_unit_compiles():
    """The CUDA compile units through the local nvcc (sm_90): a module per source dtype
    holds the kernels of every destination, so the baseline's unit of each source
    compiles every pair's code; ITEMS (a loop's trip count) in every value for one
    source, which keeps this at 12 units (~0.5 s each) rather than 36."""
    from .test_cuda_sources import compile_all

    units = []
    for variant in CAST.for_backend("cuda"):
        for src in dtypes("cuda"):
            for to in dtypes("cuda"):
                problem = Problem("cast", "cuda", src, (1 << 20,), (("to", to),))
                for config in variant.configs(problem) if src == "float32" else [{}]:
                    units.append((f"cast {src}->{to} {config}", *variant.compile_unit(problem, config)))
    failures = compile_all(units)
    assert not failures, "\n\n".join(failures[:5])
