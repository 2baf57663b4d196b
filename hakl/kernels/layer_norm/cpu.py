"""layer_norm on the CPU: the NumPy baseline and numba row kernels (backends.cpu_kernels.parallel_for).

Forward, per row (a task is a contiguous range of rows): the mean m0 in one read, then in
a second read of the row (in L1/L2) sum(x - m0) and sum((x - m0)^2): the corrected
two-pass variance, whose mean m0 + sum(x - m0) / n keeps the precision of the
deviations (a plain float32 sum loses an offset of a few standard deviations), then a
third sweep writes y = (x - mean) * rstd * w + b. Backward, per row: sum(g) and sum(g *
xhat) (g = dout * w) in one read, dx in a second; the same read adds dout * xhat and dout
into the row block's partial dweight and dbias (blocks of BLOCK rows, fixed by the shape),
which the host adds in block order: the same bits whatever the thread count.

Absent weight / bias are ones / zeros of length n (one FMA per element, no branch in the
inner loops). float16 travels as its bits and computes in float32 (cross_entropy's
conversions), float32 in float32, float64 in float64. fastmath lets LLVM vectorise the
row sums (reassociation); NaN and inf keep their IEEE meaning (no nnan / ninf).
Bytes: see the op's nbytes (x read once from memory, y written once).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ...backends import output_pool
from ...op import Problem, Variant
from ...backends.cpu_kernels import parallel_for
from ..cross_entropy.cpu import _acc, _bits, _ld, _st
from ..softmax.cpu import _FAST
from . import baseline

_BODY = dict(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
# The backward without FMA contraction: g = dout * w must round the same in its two sweeps
# (a fused g - mean(g) would leave a row of n = 1 a rounding error instead of 0).
_EXACT_G = dict(_BODY, fastmath=_FAST - {"contract"})
BLOCK = 64  # rows per partial dweight / dbias row


@njit(**_BODY)
def _forward_rows(x, w, b, y, mean, rstd, eps, lo, hi):
    n = x.shape[1]
    nf = _acc(x, n)
    zero = _acc(x, 0.0)
    for r in range(lo, hi):
        xr, yr = x[r], y[r]
        s = zero
        for i in range(n):
            s += _ld(xr[i])
        m0 = s / nf
        c, q = zero, zero
        for i in range(n):
            d = _ld(xr[i]) - m0
            c += d
            q += d * d
        cn = c / nf
        mu = m0 + cn if abs(m0) < np.inf else m0  # a row with ±inf keeps NumPy's mean
        var = q / nf - cn * cn
        if var < zero:  # rounding; False for NaN
            var = zero
        rs = _acc(x, 1.0) / np.sqrt(var + _acc(x, eps))
        for i in range(n):
            yr[i] = _st(y, (_ld(xr[i]) - mu) * rs * _ld(w[i]) + _ld(b[i]))
        mean[r] = mu
        rstd[r] = rs


@njit(**_EXACT_G)
def _backward_rows(x, dout, mean, rstd, w, dx, dw_part, db_part, lo, hi):
    """Rows of the blocks that start in [lo, hi): every block is one task's, whatever split."""
    rows, n = x.shape
    nf = _acc(x, n)
    zero = _acc(x, 0.0)
    first = -(-lo // BLOCK)
    last = -(-hi // BLOCK)
    for blk in range(first, last):
        pw, pb = dw_part[blk], db_part[blk]
        for r in range(blk * BLOCK, min(rows, (blk + 1) * BLOCK)):
            xr, gr, dxr = x[r], dout[r], dx[r]
            mu, rs = _acc(x, mean[r]), _acc(x, rstd[r])
            sg, sgx = zero, zero
            for i in range(n):
                xh = (_ld(xr[i]) - mu) * rs
                d = _ld(gr[i])
                g = d * _ld(w[i])
                sg += g
                sgx += g * xh
                pw[i] += d * xh
                pb[i] += d
            a, bc = sg / nf, sgx / nf
            for i in range(n):
                xh = (_ld(xr[i]) - mu) * rs
                dxr[i] = _st(dx, rs * (_ld(gr[i]) * _ld(w[i]) - a - xh * bc))


def _stat(problem: Problem):
    return np.float64 if problem.dtype == "float64" else np.float32


def _grain_rows(config: dict, n: int) -> int:
    return max(1, int(config["grain"]) // max(n, 1))


def _forward(problem: Problem, config: dict):
    st, has_w, has_b = _stat(problem), bool(problem.flag("weight")), bool(problem.flag("bias"))

    def launch(x, *rest, epsilon=1e-5):
        rows, n = x.shape
        rest = list(rest)
        w = rest.pop(0) if has_w else np.ones(n, x.dtype)
        b = rest.pop(0) if has_b else np.zeros(n, x.dtype)
        y = output_pool.empty_like(x)
        mean, rstd = np.empty(rows, st), np.empty(rows, st)
        parallel_for(_forward_rows, rows, _grain_rows(config, n), _bits(x), _bits(w), _bits(b), _bits(y), mean, rstd,
                     float(epsilon))
        return y, mean, rstd

    return launch


def _backward(problem: Problem, config: dict):
    has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))
    acc = _stat(problem)

    def launch(x, dout, mean, rstd, *rest):
        rows, n = x.shape
        w = rest[0] if has_w else np.ones(n, x.dtype)
        dx = output_pool.empty_like(x)
        blocks = -(-rows // BLOCK)
        dw_part, db_part = np.zeros((blocks, n), acc), np.zeros((blocks, n), acc)
        parallel_for(_backward_rows, rows, _grain_rows(config, n), _bits(x), _bits(dout), mean, rstd, _bits(w),
                     _bits(dx), dw_part, db_part)
        out = (dx,)
        # the blocks' partials in block order, in float64: deterministic and exact enough
        if has_w:
            out += (dw_part.sum(axis=0, dtype=np.float64).astype(x.dtype),)
        if has_b:
            out += (db_part.sum(axis=0, dtype=np.float64).astype(x.dtype),)
        return out

    return launch


def _variants(build, baseline_build) -> list[Variant]:
    return [
        Variant("numba_rows", "cpu", build, space={"grain": (1 << 14, 1 << 16, 1 << 18)},
                default=lambda p: {"grain": 1 << 16}, sources=(__file__,)),
        Variant("numpy", "cpu", baseline_build, baseline=True),
    ]


def forward_variants() -> list[Variant]:
    return _variants(_forward, baseline.forward("numpy"))


def backward_variants() -> list[Variant]:
    return _variants(_backward, baseline.backward("numpy"))
