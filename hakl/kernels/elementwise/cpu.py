"""elementwise on the CPU: NumPy's arithmetic and comparisons (the baselines) and one numba
kernel for both (a bool output makes the op a comparison, `_result`).

The numba kernel walks the output (its merged shape, at most MAXD axes) in runs
along the last axis: a run is a contiguous stretch of the output whose inputs are
each contiguous (stride 1) or one repeated value (stride 0, a broadcast last
axis), so the inner loop is a unit-stride loop LLVM vectorises. Same-shape inputs
are one run of n elements; (4096, 4096) + (4096,) is 4096 runs of 4096; a scalar
operand is a run with one stride 0. The op is a run-time code: LLVM hoists the
switch out of each inner loop (measured: as fast as a loop per op, and one
specialisation per dtype instead of one per dtype and op).

Parallelism: backends.cpu_kernels.parallel_for hands each thread a contiguous range
of the flat output; a call below `grain` elements (the framework's 4x8 adds) runs
on the calling thread with no parallel region. A plain nogil kernel compiles in a
fraction of a prange one (cast's measurement) and is cached on disk.

float16 travels as uint16 bits and computes in float32 (cast's halfbits). Bytes moved
at minimum: the output and each input once (nbytes in __init__).
"""
from __future__ import annotations

import functools

import numpy as np
from numba import literal_unroll, njit, types
from numba.core.extending import overload

from ...backends import output_pool
from ...op import AFTER_BASELINE, Problem, Variant
from ...backends.cpu_kernels import parallel_for, serial_below
from ..cast.halfbits import f32_to_half, half_to_f32
from . import baseline, kernel_code, output_dtype

# error_model="numpy": x / 0 is ±inf or NaN, as in IEEE, not a ZeroDivisionError.
_OPTS = dict(cache=True, nogil=True, error_model="numpy")
_JIT = dict(cache=True, error_model="numpy")


def _load(a, i):
    """a[i] in the compute type (float16 bits -> float32)."""


@overload(_load, jit_options=_JIT)
def _load_impl(a, i):
    if a.dtype == types.uint16:
        return lambda a, i: half_to_f32(a[i])
    return lambda a, i: a[i]


def _store(out, i, v):
    """out[i] = v in out's dtype (float32 -> float16 bits)."""


@overload(_store, jit_options=_JIT)
def _store_impl(out, i, v):
    if out.dtype == types.uint16:
        def store(out, i, v):
            out[i] = f32_to_half(np.float32(v))
        return store

    def plain(out, i, v):
        out[i] = v
    return plain


def _divide(a, b):
    pass


@overload(_divide, jit_options=_JIT)
def _divide_impl(a, b):
    if isinstance(a, types.Integer):  # never called: divide takes floats (the branch must type)
        return lambda a, b: a
    return lambda a, b: a / b


def _power(a, b):
    pass


@overload(_power, jit_options=_JIT)
def _power_impl(a, b):
    if isinstance(a, types.Integer):
        return lambda a, b: a
    return lambda a, b: a ** b


def _log(a):
    pass


@overload(_log, jit_options=_JIT)
def _log_impl(a):
    if isinstance(a, types.Integer):
        return lambda a: a
    return lambda a: np.log(a)


def _const(a, v):
    """v in a's type."""


@overload(_const, jit_options=_JIT)
def _const_impl(a, v):
    if isinstance(a, types.Float) and a.bitwidth == 32:
        return lambda a, v: np.float32(v)
    if isinstance(a, types.Float):
        return lambda a, v: np.float64(v)
    if a.bitwidth == 32:
        return lambda a, v: np.int32(v)
    return lambda a, v: np.int64(v)


@njit(inline="always", **_OPTS)
def _apply(op, a, b):
    zero, one = _const(a, 0), _const(a, 1)
    if op == 0:
        return a + b
    if op == 1:
        return a - b
    if op == 2:
        return a * b
    if op == 3:
        return _divide(a, b)
    if op == 4:
        return a if (a >= b or a != a) else b
    if op == 5:
        return a if (a <= b or a != a) else b
    if op == 6:
        return _power(a, b)
    if op == 7:
        return -(a * b)
    if op == 8:
        return one if a > b else zero
    if op == 9:
        return one if a <= b else zero
    if op == 10:
        return one if a < b else zero
    if op == 11:
        return one if a >= b else zero
    if op == 12:
        return zero if b == 0 else b * _power(a, b - one)
    if b >= 0 and a == 0:
        return zero
    return _power(a, b) * _log(a)


@njit(inline="always", **_OPTS)
def _compare(op, a, b):
    """A comparison's truth (codes as COMPARISONS): a switch of its own, so the
    arithmetic switch keeps LLVM unswitching every case."""
    if op == 0:
        return a == b
    if op == 1:
        return a != b
    if op == 2:
        return a > b
    if op == 3:
        return a >= b
    if op == 4:
        return a < b
    return a <= b


def _result(out, op, a, b):
    """op(a, b) as out holds it: a comparison into a bool output, else the arithmetic."""


@overload(_result, jit_options=_JIT)
def _result_impl(out, op, a, b):
    if out.dtype == types.boolean:
        return lambda out, op, a, b: _compare(op, a, b)
    return lambda out, op, a, b: _apply(op, a, b)


# The codes that get a loop each, their code a constant (literal_unroll): 0-5 are add,
# subtract, multiply, divide, maximum, minimum and every comparison. In one loop shared by
# all codes LLVM did not unswitch the switch and left scalar code: a 4M float32 add took
# 7.1 ms on one Xeon core against NumPy's 2.6. The other codes (pow and the gradients'
# helpers) share one loop.
_OWN_LOOP = tuple(range(6))


@njit(inline="always", **_OPTS)
def _both(o, op, a, b):
    """o = op(a, b), elementwise (a and b unit-stride spans)."""
    done = False
    for code in literal_unroll(_OWN_LOOP):
        if op == code:
            for j in range(o.size):
                _store(o, j, _result(o, code, _load(a, j), _load(b, j)))
            done = True
    if not done:
        for j in range(o.size):
            _store(o, j, _result(o, op, _load(a, j), _load(b, j)))


@njit(inline="always", **_OPTS)
def _with_value(o, op, a, v, value_first):
    """o = op(a, v) or, value_first, op(v, a): one operand a single value."""
    done = False
    for code in literal_unroll(_OWN_LOOP):
        if op == code:
            if value_first:
                for j in range(o.size):
                    _store(o, j, _result(o, code, v, _load(a, j)))
            else:
                for j in range(o.size):
                    _store(o, j, _result(o, code, _load(a, j), v))
            done = True
    if not done:
        for j in range(o.size):
            _store(o, j, _result(o, op, v, _load(a, j)) if value_first else _result(o, op, _load(a, j), v))


@njit(**_OPTS)
def _run(x, y, out, op, shape, xst, yst, lo, hi):
    """out[lo:hi] (flat) = op(x, y) over the merged shape; x, y flat with element strides
    xst, yst per axis (0 where broadcast). A bool out makes op a comparison's code."""
    nd = shape.size
    inner = shape[nd - 1]
    sx, sy = xst[nd - 1], yst[nd - 1]
    pos = lo
    while pos < hi:
        row, off = pos // inner, pos % inner
        m = min(inner - off, hi - pos)
        xo, yo, r = off * sx, off * sy, row
        for k in range(nd - 2, -1, -1):
            i = r % shape[k]
            r //= shape[k]
            xo += i * xst[k]
            yo += i * yst[k]
        o = out[pos:pos + m]
        if sx == 1 and sy == 1:
            _both(o, op, x[xo:xo + m], y[yo:yo + m])
        elif sy == 0 and sx == 1:
            _with_value(o, op, x[xo:xo + m], _load(y, yo), False)
        elif sx == 0 and sy == 1:
            _with_value(o, op, y[yo:yo + m], _load(x, xo), True)
        else:
            v = _result(o, op, _load(x, xo), _load(y, yo))
            for j in range(m):
                _store(o, j, v)
        pos += m


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == np.float16 else a


def strides(shape: tuple[int, ...], full: tuple[int, ...]) -> np.ndarray:
    """Element strides of a contiguous array of `shape` read along `full` (0 where it is 1)."""
    st, acc = [0] * len(shape), 1
    for k in range(len(shape) - 1, -1, -1):
        st[k] = acc if shape[k] != 1 or full[k] == 1 else 0
        acc *= shape[k]
    return np.array(st, np.int64)


@functools.lru_cache(maxsize=1024)
def _geometry(xs: tuple[int, ...], ys: tuple[int, ...]):
    """(out shape, its array, x's and y's strides) per pair of shapes: the framework repeats
    its shapes, and three small arrays per call were a fifth of a 4x8 add's cost. The
    arrays are only read."""
    shape = tuple(max(a, b) for a, b in zip(xs, ys))
    return shape, np.array(shape, np.int64), strides(xs, shape), strides(ys, shape)


def _numba(problem: Problem, config: dict):
    op, grain, out_dtype = np.int64(kernel_code(problem)), config["grain"], output_dtype(problem)
    half = problem.dtype == "float16"  # as uint16 bits (the output too, unless bool)

    def launch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        shape, full, xst, yst = _geometry(x.shape, y.shape)
        out = output_pool.empty(shape, out_dtype)
        n = out.size
        if n:
            flat = out
            if half:
                x, y, flat = _bits(x), _bits(y), _bits(out)
            parallel_for(_run, n, grain, x.reshape(-1), y.reshape(-1), flat.reshape(-1), op, full, xst, yst,
                         align=64)
        return out

    return launch


def _numba_variant() -> Variant:
    # Untuned, NumPy first below the serial threshold: a ufunc on 32 elements took 0.9 us on
    # the Xeon, this launch 2.7 (8192: 3.0 against 3.6; 32768: 8.5 against 6.1).
    return Variant("numba", "cpu", _numba, space={"grain": (1 << 15, 1 << 17, 1 << 19)},
                   default=lambda p: {"grain": 1 << 17},
                   rank=lambda p: AFTER_BASELINE if p.size < serial_below() else 0)


def variants() -> list[Variant]:
    return [_numba_variant(), Variant("numpy", "cpu", baseline.arithmetic("numpy"), baseline=True)]


def compare_variants() -> list[Variant]:
    return [_numba_variant(), Variant("numpy", "cpu", baseline.comparison("numpy"), baseline=True)]
