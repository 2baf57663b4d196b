"""softmax on the CPU: the NumPy baseline, numba row and column kernels, and oneDNN.

Every launcher sees the contiguous (outer, n, inner) view and normalises over n.

Bytes: a forward moves at least 2 * size * itemsize (read x, write y), a backward
3 * size * itemsize (read y and dy, write dx). The numba row kernel keeps a row in
L1/L2 between its three passes (max; exp, store and sum; scale), so memory sees x
once and y once; its "fused" strategy (online max+sum, then exp and scale) reads a row
twice and writes it once without needing it to stay cached, for rows beyond the cache.
The column kernel (inner > 1) walks down n over a block of `cols` contiguous columns,
vectorised across them, with the block kept in cache between its passes.

numba's np.exp does not vectorise without SVML, so the kernels call vecmath's exp (a
branch-free Cody-Waite range reduction, a Taylor polynomial and exponent-bit scaling that
LLVM turns into AVX2 / AVX-512 code; NaN -> NaN, -inf -> 0, +inf -> inf, results below the
smallest normal flush to 0) and its NaN-propagating, vectorisable maximum.
numba cannot compute in float16, so only the NumPy baseline serves float16 here.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ...backends import output_pool
from ...backends import onednn, vecmath as vm
from ...backends.cpu_kernels import parallel_kernel
from ...op import Problem, Variant
from . import baseline

# ---------------------------------------------------------------------------
# numba building blocks
# ---------------------------------------------------------------------------

# Reassociation lets LLVM vectorise the sums; no nnan/ninf, because NaN and inf
# rows must come out as NaN exactly as in the reference.
_FAST = {"reassoc", "contract", "arcp", "nsz"}
_KERNEL = dict(fastmath=_FAST, error_model="numpy")  # for parallel_kernel: parallel, cached, serial twin
_HELPER = dict(cache=True, fastmath=_FAST, error_model="numpy", inline="always")


# ---------------------------------------------------------------------------
# numba forward, rows (inner == 1)
# ---------------------------------------------------------------------------


@njit(**_HELPER)
def _row_max(v):
    m = v.dtype.type(-np.inf)
    for i in range(v.size):
        m = vm.maximum(m, v[i])
    return m


@njit(**_HELPER)
def _exp_sum(v, m, out, store):
    """sum(exp(v - m)) in v's dtype (vector partial sums), writing the exponentials into
    `out` when `store`. Callers pass a block as a slice: indexed from 0, the loop
    vectorises (over range(b0, b1) numba's negative-index wraparound stopped it)."""
    s = v.dtype.type(0.0)
    if store:
        for i in range(v.size):
            e = vm.exp_nonpositive(v[i] - m)
            out[i] = e
            s += e
    else:
        for i in range(v.size):
            s += vm.exp_nonpositive(v[i] - m)
    return s


@njit(**_HELPER)
def _row_exp_sum(v, m, out, store):
    """_exp_sum over the row: blocks of 1024 (error <= 128 ulp), the blocks' sums in
    float64. Short rows skip the block loop, whose set-up costs as much as their work."""
    if v.size <= 1024:
        return np.float64(_exp_sum(v, m, out, store))
    s = 0.0
    for b0 in range(0, v.size, 1024):
        s += _exp_sum(v[b0:b0 + 1024], m, out[b0:b0 + 1024], store)
    return s


_ONLINE_BLOCK = 1024  # elements: a block stays in L1 between its max and its sum


@njit(**_HELPER)
def _online_max_sum(v):
    """Row max and sum(exp(v - max)) in one read of v: per block, take the block max,
    rescale the running sum when the max grows, then add the block's exponentials."""
    m, s = v.dtype.type(-np.inf), 0.0
    for b0 in range(0, v.size, _ONLINE_BLOCK):
        blk = v[b0:b0 + _ONLINE_BLOCK]
        bm = _row_max(blk)
        if bm == -np.inf:  # an all -inf block adds 0 (and exp(-inf - -inf) would be NaN)
            continue
        if bm > m:  # false for NaN: the NaN then reaches s through the sum below
            s = s * vm.exp_nonpositive(m - bm)
            m = bm
        s += _exp_sum(blk, m, blk, False)
    return m, s


@parallel_kernel(**_KERNEL)
def _forward_rows(x, y, log, fused, rows):
    """x, y: (nrows, n). `rows` rows per parallel task; `fused` streams x twice
    (online max+sum, then output), otherwise three passes over a cached row."""
    nrows = x.shape[0]
    for t in prange((nrows + rows - 1) // rows):
        for r in range(t * rows, min(nrows, (t + 1) * rows)):
            xr, yr = x[r], y[r]
            if fused:
                m, s = _online_max_sum(xr)
            else:
                m = _row_max(xr)
                s = _row_exp_sum(xr, m, yr, not log)
            if log:
                ls = math.log(s)
                for i in range(xr.size):
                    yr[i] = (xr[i] - m) - ls
            elif fused:
                inv = x.dtype.type(1 / s)
                for i in range(xr.size):
                    yr[i] = vm.exp_nonpositive(xr[i] - m) * inv
            else:
                inv = x.dtype.type(1 / s)
                for i in range(yr.size):
                    yr[i] *= inv


# ---------------------------------------------------------------------------
# numba forward, columns (inner > 1): rows of the inner dimension are contiguous, so
# each task takes a block of `cols` columns and walks down n, vectorised across them.
# ---------------------------------------------------------------------------


@parallel_kernel(**_KERNEL)
def _forward_cols(x, y, log, cols):
    outer, n, inner = x.shape
    nblocks = (inner + cols - 1) // cols
    for t in prange(outer * nblocks):
        o, c0 = t // nblocks, (t % nblocks) * cols
        c1 = min(inner, c0 + cols)
        # the column max written to the other of two rows each step: in place it became a
        # masked store (vecmath's note), 10x slower on AMD's Zen 3
        two = np.empty((2, c1 - c0), x.dtype)
        m = two[0]
        m[:] = x[o, 0, c0:c1]
        for i in range(1, n):
            xi, nxt = x[o, i, c0:c1], two[i & 1]
            for j in range(xi.size):
                nxt[j] = vm.maximum(m[j], xi[j])
            m = nxt
        s = np.zeros(c1 - c0, np.float64)
        bs = np.zeros(c1 - c0, x.dtype)
        for i in range(n):
            xi, yi = x[o, i, c0:c1], y[o, i, c0:c1]
            if log:
                for j in range(xi.size):
                    bs[j] += vm.exp_nonpositive(xi[j] - m[j])
            else:
                for j in range(xi.size):
                    e = vm.exp_nonpositive(xi[j] - m[j])
                    yi[j] = e
                    bs[j] += e
            if i % 256 == 255 or i == n - 1:  # a column adds its terms one by one: flush
                s += bs                         # every 256 rows into float64
                bs[:] = 0
        if log:
            ls = np.log(s)
            for i in range(n):
                xi, yi = x[o, i, c0:c1], y[o, i, c0:c1]
                for j in range(xi.size):
                    yi[j] = (xi[j] - m[j]) - ls[j]
        else:
            inv = (1 / s).astype(x.dtype)
            for i in range(n):
                yi = y[o, i, c0:c1]
                for j in range(yi.size):
                    yi[j] *= inv[j]


# ---------------------------------------------------------------------------
# numba backward: softmax dx = y * (dy - sum(dy * y)); log_softmax dx = dy - exp(y) * sum(dy)
# ---------------------------------------------------------------------------


@parallel_kernel(**_KERNEL)
def _backward_rows(y, dy, dx, log, rows):
    nrows = y.shape[0]
    for t in prange((nrows + rows - 1) // rows):
        for r in range(t * rows, min(nrows, (t + 1) * rows)):
            yr, dyr, dxr = y[r], dy[r], dx[r]
            s = 0.0  # float64 sums and arithmetic: dy - s cancels
            if log:
                for i in range(yr.size):
                    s += dyr[i]
                for i in range(yr.size):
                    dxr[i] = dyr[i] - vm.exp(yr[i]) * s
            else:
                for i in range(yr.size):
                    s += np.float64(dyr[i]) * yr[i]
                for i in range(yr.size):
                    dxr[i] = yr[i] * (dyr[i] - s)


@parallel_kernel(**_KERNEL)
def _backward_cols(y, dy, dx, log, cols):
    outer, n, inner = y.shape
    nblocks = (inner + cols - 1) // cols
    for t in prange(outer * nblocks):
        o, c0 = t // nblocks, (t % nblocks) * cols
        c1 = min(inner, c0 + cols)
        s = np.zeros(c1 - c0, np.float64)
        for i in range(n):
            yi, dyi = y[o, i, c0:c1], dy[o, i, c0:c1]
            for j in range(yi.size):
                s[j] += dyi[j] if log else np.float64(dyi[j]) * yi[j]
        for i in range(n):
            yi, dyi, dxi = y[o, i, c0:c1], dy[o, i, c0:c1], dx[o, i, c0:c1]
            for j in range(yi.size):
                if log:
                    dxi[j] = dyi[j] - vm.exp(yi[j]) * s[j]
                else:
                    dxi[j] = yi[j] * (dyi[j] - s[j])


# ---------------------------------------------------------------------------
# numba variants
# ---------------------------------------------------------------------------

_NUMBA_DTYPES = ("float32", "float64")  # numba has no float16 arithmetic: the baseline covers it


def _rows_supported(problem: Problem) -> bool:
    return problem.dtype in _NUMBA_DTYPES and problem.shape[2] == 1


def _cols_supported(problem: Problem) -> bool:
    return problem.dtype in _NUMBA_DTYPES and problem.shape[2] > 1


def _rows_default(problem: Problem) -> dict:
    # Measured on 2 AVX2 cores: three passes over a cached row win until a row outgrows
    # a core's share of the last-level cache (the fused strategy computes exp twice).
    return {"chunk": 1 << 15, "fused": problem.shape[1] * problem.np_dtype.itemsize > (16 << 20)}


def _cols_default(problem: Problem) -> dict:
    # Long inner loops (up to 256 columns) as long as the n x cols block stays within
    # ~2 MiB of cache between the passes; at least two blocks per thread.
    outer, n, inner = problem.shape
    cols = 8
    while (cols < 256 and cols < inner and 2 * cols * n * problem.np_dtype.itemsize <= (2 << 20)
           and outer * -(-inner // (2 * cols)) >= 4):
        cols *= 2
    return {"cols": cols}


def _numba_forward_rows(problem: Problem, config: dict):
    log, fused, chunk = bool(problem.flag("log")), bool(config["fused"]), int(config["chunk"])

    def launch(x: np.ndarray) -> np.ndarray:
        x2 = x.reshape(x.shape[0], x.shape[1])
        y = output_pool.empty_like(x2)
        _forward_rows(x2, y, log, fused, max(1, chunk // max(x2.shape[1], 1)))
        return y.reshape(x.shape)

    return launch


def _numba_forward_cols(problem: Problem, config: dict):
    log, cols = bool(problem.flag("log")), int(config["cols"])

    def launch(x: np.ndarray) -> np.ndarray:
        y = output_pool.empty_like(x)
        _forward_cols(x, y, log, cols)
        return y

    return launch


def _numba_backward_rows(problem: Problem, config: dict):
    log, chunk = bool(problem.flag("log")), int(config["chunk"])

    def launch(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        y2, dy2 = y.reshape(y.shape[0], y.shape[1]), dy.reshape(dy.shape[0], dy.shape[1])
        dx = output_pool.empty_like(y2)
        _backward_rows(y2, dy2, dx, log, max(1, chunk // max(y2.shape[1], 1)))
        return dx.reshape(y.shape)

    return launch


def _numba_backward_cols(problem: Problem, config: dict):
    log, cols = bool(problem.flag("log")), int(config["cols"])

    def launch(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        dx = output_pool.empty_like(y)
        _backward_cols(y, dy, dx, log, cols)
        return dx

    return launch


# ---------------------------------------------------------------------------
# oneDNN: its softmax primitive over the (outer, n, inner) view, axis 1. On AVX2 the
# last-axis forward is jit code; other axes and the backward run its reference code.
# The jit forward puts NaN only where the row had NaN or +inf (0 or -inf elsewhere):
# `_nan_rows` makes those whole rows NaN, as the op's semantics say.
# ---------------------------------------------------------------------------


@parallel_kernel(**_KERNEL)
def _nan_rows(y):
    for r in prange(y.shape[0]):
        s = y.dtype.type(0.0)
        for i in range(y.shape[1]):
            s += y[r, i]  # NaN anywhere makes the sum NaN (outputs are never +inf)
        if s != s:
            y[r, :] = np.nan


def _onednn_supported(problem: Problem) -> bool:
    return onednn.available() and onednn.library().softmax_supports(problem.dtype)


def _onednn_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:2] if shape[2] == 1 else shape  # 2-D rows: the layout its jit kernel takes


def _onednn_forward(problem: Problem, config: dict):
    lib, log, dtype = onednn.library(), bool(problem.flag("log")), problem.dtype
    primitives: dict[tuple, tuple[onednn.Primitive, bool]] = {}

    def launch(x: np.ndarray) -> np.ndarray:
        shape = _onednn_shape(x.shape)
        hit = primitives.get(shape)
        if hit is None:
            prim = lib.softmax_forward(shape, dtype, 1, log)
            hit = primitives[shape] = (prim, prim.impl.startswith("jit"))
        prim, jit = hit
        y = output_pool.empty_like(x)
        lib.execute(prim, {onednn.ARG_SRC: x.reshape(shape), onednn.ARG_DST: y.reshape(shape)})
        if jit:
            if len(shape) == 2 and dtype in _NUMBA_DTYPES:
                _nan_rows(y.reshape(shape))
            else:  # float16/bfloat16 on CPUs that have them: NumPy does it
                y.transpose(0, 2, 1)[np.isnan(y.sum(axis=1, dtype=np.float32))] = np.nan
        return y

    return launch


@parallel_kernel(**_KERNEL)
def _nan_grad(y, dy, dx, log):
    """NaN in dx wherever the reference has it, on (outer, n, inner): the whole column
    where its sum (of dy, or of y * dy) is NaN, and for log_softmax each element whose
    y is NaN (exp(NaN)). oneDNN's jit backward for some ISAs (AVX-512) returns -inf there."""
    outer, n, inner = y.shape
    for o in prange(outer):
        s = np.zeros(inner, np.float64)
        for i in range(n):
            for j in range(inner):
                s[j] += dy[o, i, j] if log else np.float64(dy[o, i, j]) * y[o, i, j]
        for i in range(n):
            for j in range(inner):
                if s[j] != s[j] or (log and y[o, i, j] != y[o, i, j]):
                    dx[o, i, j] = np.nan


def _nan_grad_numpy(y: np.ndarray, dy: np.ndarray, dx: np.ndarray, log: bool) -> None:
    """_nan_grad for dtypes numba cannot compute in (float16, bfloat16)."""
    y32, dy32 = y.astype(np.float32), dy.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        s = (dy32 if log else dy32 * y32).sum(axis=1, keepdims=True)
    nan = np.broadcast_to(np.isnan(s), y.shape)
    if log:
        nan = nan | np.isnan(y32)
    dx[nan] = np.nan


def _onednn_backward(problem: Problem, config: dict):
    lib, log, dtype = onednn.library(), bool(problem.flag("log")), problem.dtype
    primitives: dict[tuple, onednn.Primitive] = {}
    nan_grad = _nan_grad if dtype in _NUMBA_DTYPES else _nan_grad_numpy

    def launch(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        shape = _onednn_shape(y.shape)
        prim = primitives.get(shape)
        if prim is None:
            prim = primitives[shape] = lib.softmax_backward(shape, dtype, 1, log)
        dx = output_pool.empty_like(y)
        lib.execute(prim, {onednn.ARG_DST: y.reshape(shape), onednn.ARG_DIFF_DST: dy.reshape(shape),
                           onednn.ARG_DIFF_SRC: dx.reshape(shape)})
        nan_grad(y, dy, dx, log)
        return dx

    return launch


_CHUNKS = (1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 18)  # elements per parallel task
_COLS = (8, 16, 32, 64, 128, 256, 512)
_ONEDNN_SOURCES = (__file__, onednn.__file__)


def forward_variants() -> list[Variant]:
    return [
        Variant("numpy", "cpu", baseline.forward("numpy"), baseline=True),
        Variant("numba_rows", "cpu", _numba_forward_rows, space={"chunk": _CHUNKS, "fused": (False, True)},
                supports=_rows_supported, default=_rows_default, sources=(__file__,)),
        Variant("numba_cols", "cpu", _numba_forward_cols, space={"cols": _COLS},
                supports=_cols_supported, default=_cols_default, sources=(__file__,)),
        Variant("onednn", "cpu", _onednn_forward, supports=_onednn_supported, sources=_ONEDNN_SOURCES),
    ]


def backward_variants() -> list[Variant]:
    return [
        Variant("numpy", "cpu", baseline.backward("numpy"), baseline=True),
        Variant("numba_rows", "cpu", _numba_backward_rows, space={"chunk": _CHUNKS},
                supports=_rows_supported, default=lambda p: {"chunk": 1 << 15}, sources=(__file__,)),
        Variant("numba_cols", "cpu", _numba_backward_cols, space={"cols": _COLS},
                supports=_cols_supported, default=_cols_default, sources=(__file__,)),
        Variant("onednn", "cpu", _onednn_backward, supports=_onednn_supported, sources=_ONEDNN_SOURCES),
    ]
