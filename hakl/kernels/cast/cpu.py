"""cast on the CPU: NumPy's astype (the baseline) and a numba kernel.

Bytes moved at minimum: size * (source itemsize + destination itemsize).

The numba kernel is one loop, `dst[i] = convert(src[i])`, specialised per
(source, destination) pair: 64 of them (a bool source is read as uint8, a
same-dtype cast is a copy). A `parallel=True` (prange) kernel costs ~0.6 s of
compile per specialisation, a plain `nogil` one ~0.2 s, so the kernel
is plain and the parallelism comes from a thread pool that hands each thread one
contiguous part of the flat array (numba releases the GIL inside). float16
travels as uint16 bits (numba has no float16): no integer dtype of hakl's set is
uint16, so the type tells the two apart. Indices are int64 throughout.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, types
from numba.core.extending import overload

from ...op import Problem, Variant
from .halfbits import f32_to_half, f64_to_half, half_to_f32

# ---- NumPy baseline -----------------------------------------------------------


def _numpy(problem: Problem, config: dict):
    to = np.dtype(problem.flag("to"))

    def launch(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            return x.astype(to)

    return launch


# ---- numba ----------------------------------------------------------------------

_INT32_MIN = np.int32(-(1 << 31))
_INT64_MIN = np.int64(-(1 << 63))


def _store(out, i, v):
    """out[i] = v converted to out's dtype by hakl's rules (typed by the overload below)."""


@overload(_store, jit_options=dict(cache=True))
def _store_typed(out, i, v):
    dst = out.dtype
    half = types.uint16  # float16 bits, on either side
    if v == half and dst != half:  # decode, then convert the float32 like any float
        def from_half(out, i, v):
            _store(out, i, half_to_f32(v))
        return from_half
    if dst == half:
        if v == half:
            def same(out, i, v):
                out[i] = v
            return same
        if v == types.float64:
            def from_f64(out, i, v):
                out[i] = f64_to_half(v)
            return from_f64
        if v == types.float32:
            def from_f32(out, i, v):
                out[i] = f32_to_half(v)
            return from_f32

        def from_int(out, i, v):  # |v| >= 65520 is inf either way; inside, float32 is exact
            out[i] = f32_to_half(np.float32(min(max(np.int64(v), -65520), 65520)))
        return from_int
    if isinstance(dst, types.Boolean):
        def to_bool(out, i, v):
            out[i] = v != 0
        return to_bool
    if isinstance(dst, types.Integer) and isinstance(v, types.Float):
        # x86-64's truncating conversions: out of range or NaN gives the minimum;
        # narrower targets keep the low bits of the int32 result.
        if dst.bitwidth == 64:
            def to_int64(out, i, v):
                out[i] = np.int64(v) if (v >= -9.223372036854775808e18 and v < 9.223372036854775808e18) \
                    else _INT64_MIN
            return to_int64

        def to_int32(out, i, v):
            out[i] = np.int32(v) if (v >= -2147483648.0 and v < 2147483648.0) else _INT32_MIN
        return to_int32

    def plain(out, i, v):  # int -> int wraps, -> float rounds to nearest even
        out[i] = v
    return plain


@njit(nogil=True, cache=True)
def _cast_range(src, dst, lo, hi):
    # Slices indexed from 0: with range(lo, hi) numba cannot prove i >= 0 and its
    # negative-index wraparound stops LLVM from vectorising (3x slower).
    s, d = src[lo:hi], dst[lo:hi]
    for i in range(s.size):
        _store(d, i, s[i])


def _bits(a: np.ndarray) -> np.ndarray:
    """What the kernel sees: float16 as its bits; a bool source as uint8 (0 / 1 convert
    alike), which saves the bool row of specialisations."""
    if a.dtype == np.float16:
        return a.view(np.uint16)
    return a.view(np.uint8) if a.dtype == np.bool_ else a


def _copy_range(src, dst, lo, hi):
    np.copyto(dst[lo:hi], src[lo:hi])


_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def parallel_for(fn, n: int, grain: int, *args) -> None:
    """fn(*args, lo, hi) over [0, n) in one contiguous part per thread (numba's thread
    count; parts of at least `grain` elements, on 64-element boundaries), on a shared pool."""
    global _pool, _pool_size
    parts = max(1, min(numba.get_num_threads(), n // max(grain, 1)))
    if parts == 1:
        fn(*args, 0, n)
        return
    if parts > _pool_size:
        _pool, _pool_size = ThreadPoolExecutor(max_workers=parts, thread_name_prefix="hakl-cpu"), parts
    step = -(-n // parts)
    step = -(-step // 64) * 64
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
    for future in [_pool.submit(fn, *args, lo, hi) for lo, hi in bounds]:
        future.result()


def _numba(problem: Problem, config: dict):
    to = np.dtype(problem.flag("to"))
    grain = config["grain"]

    def launch(x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape, to)
        if x.size:
            src, dst = x.reshape(-1), out.reshape(-1)
            if x.dtype == to:  # a copy (memcpy releases the GIL too)
                parallel_for(_copy_range, x.size, grain, src, dst)
            else:
                parallel_for(_cast_range, x.size, grain, _bits(src), dst if to == np.bool_ else _bits(dst))
        return out

    return launch


def variants() -> list[Variant]:
    return [
        Variant("numba", "cpu", _numba, space={"grain": (1 << 16, 1 << 18, 1 << 20)}),
        Variant("numpy", "cpu", _numpy, baseline=True),
    ]
