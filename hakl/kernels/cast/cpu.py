"""cast on the CPU: NumPy's astype (the baseline), a numba kernel and oneDNN's reorder.

Bytes moved at minimum: size * (source itemsize + destination itemsize).

The numba kernel is one loop, `dst[i] = convert(src[i])`, specialised per
(source, destination) pair: 64 of them (a bool source is read as uint8, a
same-dtype cast is a copy). A `parallel=True` (prange) kernel costs ~0.6 s of
compile per specialisation, a plain `nogil` one ~0.2 s, so the kernel
is plain and backends.cpu_kernels.parallel_for runs it on each thread's contiguous part
of the flat array (its prange driver, a few lines, compiles once per kernel and signature, cached). float16
travels as uint16 bits (numba has no float16): no integer dtype of hakl's set is
uint16, so the type tells the two apart. Indices are int64 throughout.

oneDNN's reorder converts with its jit kernels (F16C for float16), but rounds
float -> int to nearest and saturates integer destinations where NumPy truncates
and wraps: it serves only the pairs where both give the same bits (see
ONEDNN_PAIRS).
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core.extending import overload

from ...backends import onednn
from ...backends import output_pool
from ...backends.cpu_kernels import parallel_for
from ...backends.cpu import quietly
from ...op import BFLOAT16, Problem, Variant
from .halfbits import bf16_to_f32, f32_to_bf16, f32_to_half, f64_to_bf16, f64_to_half, half_to_f32, int_to_bf16

# ---- NumPy baseline -----------------------------------------------------------


def _numpy(problem: Problem, config: dict):
    to = np.dtype(problem.flag("to"))
    # ml_dtypes' bfloat16 -> int is C's undefined conversion (NaN and 1e10 give 0); through
    # float32, which holds every bfloat16, it is NumPy's rule like every other float's.
    via = np.float32 if problem.dtype == "bfloat16" and to.kind in "iu" else None

    @quietly  # NaN and out-of-range values convert as C does, without NumPy's warnings
    def launch(x: np.ndarray) -> np.ndarray:
        return (x if via is None else x.astype(via)).astype(to)

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


def _to_bf16(v):
    """v rounded once to bfloat16 bits (typed by the overload below)."""


@overload(_to_bf16, jit_options=dict(cache=True))
def _to_bf16_typed(v):
    if v == types.float32:
        return lambda v: f32_to_bf16(v)
    if v == types.float64:
        return lambda v: f64_to_bf16(v)
    if v == types.uint16:  # float16 bits: widening to float32 is exact
        return lambda v: f32_to_bf16(half_to_f32(v))
    if v == types.int64:
        return lambda v: int_to_bf16(v)
    return lambda v: f64_to_bf16(np.float64(v))  # int32 and narrower: exact in float64


@njit(nogil=True, cache=True)
def _cast_range_from_bf16(src, dst, lo, hi):
    s, d = src[lo:hi], dst[lo:hi]
    for i in range(s.size):
        _store(d, i, bf16_to_f32(s[i]))


@njit(nogil=True, cache=True)
def _cast_range_to_bf16(src, dst, lo, hi):
    s, d = src[lo:hi], dst[lo:hi]
    for i in range(s.size):
        d[i] = _to_bf16(s[i])


def _bits(a: np.ndarray) -> np.ndarray:
    """What the kernel sees: float16 and bfloat16 as their bits; a bool source as uint8
    (0 / 1 convert alike), which saves the bool row of specialisations."""
    if a.dtype == np.float16 or a.dtype == BFLOAT16:
        return a.view(np.uint16)
    return a.view(np.uint8) if a.dtype == np.bool_ else a


def round_to_bfloat16(src: np.ndarray, out: np.ndarray, grain: int = 1 << 18) -> np.ndarray:
    """out[...] = src rounded to bfloat16 (C-contiguous, same shape), on the numba kernel's
    threads: for a product that another library summed in float32 (MKL's bfloat16 GEMM)."""
    parallel_for(_cast_range_to_bf16, src.size, grain, src.reshape(-1), out.reshape(-1).view(np.uint16), align=64)
    return out


def _copy_range(src, dst, lo, hi):
    np.copyto(dst[lo:hi], src[lo:hi])


def _numba(problem: Problem, config: dict):
    to = np.dtype(problem.flag("to"))
    grain = config["grain"]

    def launch(x: np.ndarray) -> np.ndarray:
        out = output_pool.empty(x.shape, to)
        if x.size:
            src, dst = x.reshape(-1), out.reshape(-1)
            if x.dtype == to:  # a copy (memcpy releases the GIL too)
                parallel_for(_copy_range, x.size, grain, src, dst, align=64)
            else:
                kernel = _cast_range_from_bf16 if x.dtype == BFLOAT16 else \
                    _cast_range_to_bf16 if to == BFLOAT16 else _cast_range
                parallel_for(kernel, x.size, grain, _bits(src), dst if to == np.bool_ else _bits(dst), align=64)
        return out

    return launch


# ---- oneDNN reorder ---------------------------------------------------------------

# (source, destination) pairs whose oneDNN conversion is NumPy's bit for bit: between
# the floats oneDNN has (round to nearest even, overflow to inf, NaN kept), and from
# small integers, whose values every destination holds exactly. A bool source goes in
# as its uint8 bytes. Not float -> int (oneDNN rounds and saturates), not narrowing
# int -> int (saturates), not int32 -> float16 (rounds twice, through float32), not
# float32 -> bfloat16 (on the AMX Xeon, 1018 of 65536 float32s near each bfloat16 gave
# other bits than NumPy's round to nearest even, and NaN kept its payload).
_SMALL_INTS = ("bool", "int8", "uint8")
ONEDNN_PAIRS = frozenset(
    [("float16", "float32"), ("float32", "float16"), ("int32", "float32"), ("bfloat16", "float32")]
    + [(s, d) for s in _SMALL_INTS for d in ("int32", "float16", "float32")])


def _onednn_type(dtype: str) -> str:
    return "uint8" if dtype == "bool" else dtype


def _onednn_supported(problem: Problem) -> bool:
    src, dst = problem.dtype, problem.flag("to")
    return (src, dst) in ONEDNN_PAIRS and onednn.available() and \
        onednn.library().reorder_supports(_onednn_type(src), dst)


def _onednn(problem: Problem, config: dict):
    lib, to = onednn.library(), np.dtype(problem.flag("to"))
    src_type = _onednn_type(problem.dtype)
    primitives: dict[int, onednn.Primitive] = {}

    def launch(x: np.ndarray) -> np.ndarray:
        n = x.size
        prim = primitives.get(n)
        if prim is None:
            prim = primitives[n] = lib.reorder((n,), src_type, (n,), to.name)
        out = output_pool.empty(x.shape, to)
        lib.execute(prim, {onednn.ARG_FROM: x.reshape(n).view(src_type), onednn.ARG_TO: out.reshape(n)})
        return out

    return launch


def variants() -> list[Variant]:
    return [
        Variant("numba", "cpu", _numba, space={"grain": (1 << 16, 1 << 18, 1 << 20)}),
        Variant("numpy", "cpu", _numpy, baseline=True),
        Variant("onednn", "cpu", _onednn, supports=_onednn_supported, sources=(__file__, onednn.__file__)),
    ]
