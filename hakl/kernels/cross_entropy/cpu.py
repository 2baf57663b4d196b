"""cross_entropy on the CPU: the NumPy baseline and fused numba kernels.

Every launcher sees the canonical inputs (see reference.py). The numba kernels read a
row of logits once: per block of 1024 elements (which stays in L1) the block max, a
rescale of the running sum when the max grows, then the block's exponentials — the
online softmax of Milakov & Gimelshein — while the same loop gathers x[label] (hard
labels) or accumulates sum(label), sum(label * x) and sum(label * weight) (soft labels).
The gradient pass writes coef * (softmax - onehot) (soft: coef * (sum(label) * softmax -
label)) in one more sweep of the row, which is still in L1/L2; given the forward's lse
it is the only sweep. The output may be the logits' own buffer (in-place gradient):
each element is read before it is written, and x[label] is read first.

Bytes: the forward reads x and the labels once (one pass over memory); backward and
train read x once more only when a row outgrows the cache. The reduction ("sum",
"mean") adds per-task partial sums in float64 (tasks are fixed blocks of rows, so the
result does not depend on the thread count) and the host adds the partials in order.

float16 is read and written as its bits (uint16) and converted with LLVM's half type
(vcvtph2ps with F16C), computed in float32. Labels are checked in the kernel: a bad one
sets its task's flag and value, and the launcher raises ValueError after the kernel.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core.extending import intrinsic, overload

from ...backends import output_pool
from ...backends import vecmath as vm
from ...backends.cpu_kernels import parallel_kernel, serial_below
from ...op import Problem, Variant
from ..softmax.cpu import _FAST
from . import baseline, reference

_KERNEL = dict(fastmath=_FAST, error_model="numpy")
_HELPER = dict(cache=True, fastmath=_FAST, error_model="numpy", inline="always")
_BLOCK = 1024  # elements of a row per online step: the block is in L1 for its second read
TOLERABLE = reference.TOLERABLE

# ---------------------------------------------------------------------------
# float16 as bits, and storage <-> accumulator conversions
# ---------------------------------------------------------------------------


@intrinsic
def _h2f(typingctx, h):
    """The float32 value of IEEE half bits (LLVM fpext half -> float)."""
    if h != types.uint16:
        return None

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(h), codegen


@intrinsic
def _f2h(typingctx, f):
    """IEEE half bits of a float32, rounded to nearest even (LLVM fptrunc)."""
    if f != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), ir.IntType(16))

    return types.uint16(f), codegen


def _ld(v):
    """A stored element as the accumulator type (float16 bits -> float32)."""


def _acc(a, v):
    """`v` in the accumulator type of array `a`."""


def _st(a, v):
    """`v` in the storage type of array `a`."""


@overload(_ld, inline="always")
def _ld_overload(v):
    if v == types.uint16:
        return lambda v: _h2f(v)
    if isinstance(v, types.Float):
        return lambda v: v
    return None


@overload(_acc, inline="always")
def _acc_overload(a, v):
    if a.dtype == types.float64:
        return lambda a, v: np.float64(v)
    return lambda a, v: np.float32(v)


@overload(_st, inline="always")
def _st_overload(a, v):
    if a.dtype == types.uint16:
        return lambda a, v: _f2h(np.float32(v))
    if a.dtype == types.float32:
        return lambda a, v: np.float32(v)
    return lambda a, v: np.float64(v)


@njit(**_HELPER)
def _clamp_log(a, v):
    """log(v) clamped to ±1e20 (PaddlePaddle's TolerableValue), in a's accumulator type."""
    lv = np.log(v)  # probabilities given (use_softmax=False): math's log, one loop less to vectorise
    lv = _acc(a, -TOLERABLE) if lv < -TOLERABLE else lv
    return _acc(a, TOLERABLE) if lv > TOLERABLE else lv


# fastmath explicit (a callee inherits an unset one); forceinline: LLVM inlines it keeping these
# flags, so a loop that calls it still vectorises
@njit(cache=True, fastmath=False, error_model="numpy", forceinline=True)
def _shifted(v, sh, sl):
    """(v - sh) - sl in this order, compiled without fastmath: with reassociation LLVM turns it
    into v - (sh + sl), reusing lse = m + log(s), whose rounding (half an ulp of |m|) then
    swamps softmax - 1 = expm1(...) and the loss log(s) of a nearly one-hot row."""
    return (v - sh) - sl


# ---------------------------------------------------------------------------
# row statistics
# ---------------------------------------------------------------------------


@njit(**_HELPER)
def _row_stats(x, xr):
    """(m, s): the row max and sum(exp(xr - m)) (float64) in one read of the row."""
    n = xr.size
    if n <= _BLOCK:  # a short row: one block, no rescaling (most of the time at C = 10)
        m = _acc(x, -np.inf)
        for i in range(n):
            m = vm.maximum(m, _ld(xr[i]))
        bs = _acc(x, 0.0)
        if m != -np.inf:
            for i in range(n):
                bs += vm.exp_nonpositive(_ld(xr[i]) - m)
        return m, np.float64(bs)
    m = _acc(x, -np.inf)
    s = 0.0
    for b0 in range(0, n, _BLOCK):
        # A block's loops index its slice from 0: over range(b0, b1) numba cannot prove
        # i >= 0, and its negative-index wraparound kept LLVM from vectorising the exp
        # loop (a row of 37007 float32 on the Zen 5 EPYC: 17 us against 4.7).
        block = xr[b0:min(n, b0 + _BLOCK)]
        bm = _acc(x, -np.inf)
        for i in range(block.size):
            bm = vm.maximum(bm, _ld(block[i]))
        if bm == -np.inf:  # an all -inf block adds 0 (and exp(-inf - -inf) would be NaN)
            continue
        if bm > m:  # false for NaN: the NaN reaches s through the sum below
            s = s * vm.exp_nonpositive(m - bm)
            m = bm
        bs = _acc(x, 0.0)
        for i in range(block.size):
            bs += vm.exp_nonpositive(_ld(block[i]) - m)
        s += bs
    return m, s


@njit(**_HELPER)
def _soft_stats(x, xr, lr, weight, has_weight, need_exp):
    """(m, s, sum l, sum l*x, sum l*weight) of a row and its soft labels in one read of each
    (m, s as _row_stats when need_exp, else -inf, 0)."""
    m = _acc(x, -np.inf)
    s, ls, lx, lw = 0.0, 0.0, 0.0, 0.0
    n = xr.size
    for b0 in range(0, n, _BLOCK):
        b1 = min(n, b0 + _BLOCK)
        xb, lb = xr[b0:b1], lr[b0:b1]  # indexed from 0, as in _row_stats
        bl, blx, blw = _acc(x, 0.0), _acc(x, 0.0), _acc(x, 0.0)
        for i in range(xb.size):
            li = _ld(lb[i])
            bl += li
            blx += li * _ld(xb[i])
        if has_weight:
            wb = weight[b0:b1]
            for i in range(xb.size):
                blw += _ld(lb[i]) * _ld(wb[i])
        ls += bl
        lx += blx
        lw += blw
        if need_exp:
            bm = _acc(x, -np.inf)
            for i in range(xb.size):
                bm = vm.maximum(bm, _ld(xb[i]))
            if bm == -np.inf:
                continue
            if bm > m:
                s = s * vm.exp_nonpositive(m - bm)
                m = bm
            bs = _acc(x, 0.0)
            for i in range(xb.size):
                bs += vm.exp_nonpositive(_ld(xb[i]) - m)
            s += bs
    return m, s, ls, lx, lw


@njit(**_HELPER)
def _lse(x, m, log_s):
    """m + log(s) given log(s) in float64 (a log per row, not two); NaN for an all -inf row
    (m = -inf), as the reference."""
    if m == -np.inf:
        return _acc(x, np.nan)
    return _acc(x, m + log_s)


# ---------------------------------------------------------------------------
# rows (class axis last): x (n, C); hard label (n,), soft label (n, C)
# Outputs: loss (n,) when per_row, lse_out (n,) when non-empty, part (tasks, 2): per task
# sum(loss) and sum(w) in float64; dx (n, C) when write_dx (may be x itself).
# g: the upstream gradient factor, g[r * gstride] (stride 0: one value for every row).
# The bodies below are compiled once per dtype; the parallel kernels (and their serial
# twins) are thin loops over tasks that call them, so the twin costs little to compile.
# ---------------------------------------------------------------------------

_BODY = dict(cache=True, fastmath=_FAST, error_model="numpy")


@njit(**_BODY)
def _hard_rows(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, ignore, use_softmax, has_weight,
               has_lse, per_row, write_dx, r0, r1):
    """Rows [r0, r1): (sum of losses, sum of element weights, bad label seen, its value)."""
    classes = x.shape[1]
    if classes <= _TRANSPOSE_UP_TO:
        return _hard_rows_transposed(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, ignore,
                                     use_softmax, has_weight, has_lse, per_row, write_dx, r0, r1)
    sum_loss, sum_w, bad, bad_value = 0.0, 0.0, False, 0
    for r in range(r0, r1):
        xr = x[r]
        lab = label[r]
        valid = lab != ignore
        if valid and (lab < 0 or lab >= classes):
            if not bad:
                bad, bad_value = True, lab
            valid = False
        w = _acc(x, 1.0) if valid else _acc(x, 0.0)
        if has_weight and valid:
            w = _ld(weight[lab])  # an ignored label never indexes weight
        xl = _ld(xr[lab]) if valid else _acc(x, 1.0)
        # softmax_i = exp((x_i - sh) - sl): (m, log s) when computed here (x_i - m is exact),
        # (lse, 0) when the forward's lse is given
        sh, sl = _acc(x, 0.0), _acc(x, 0.0)
        if use_softmax:
            if has_lse:
                big = lse_in[r]
                sh = big
                li = w * (big - xl)
            else:
                m, s = _row_stats(x, xr)
                log_s = math.log(s)
                big = _lse(x, m, log_s)
                sh, sl = m, _acc(x, log_s)
                li = -w * _shifted(xl, m, sl)  # (m - xl) + log(s): no cancellation of large logits
        else:
            big = _acc(x, 0.0)
            li = -w * _clamp_log(x, xl)
        if not valid:
            li = _acc(x, 0.0)
        if per_row:
            loss[r] = li
        if lse_out.size:
            lse_out[r] = big
        sum_loss += li
        sum_w += w
        if write_dx:
            dr = dx[r]
            coef = _acc(x, _ld(g[r * gstride])) * w
            if not valid:
                for i in range(classes):
                    dr[i] = _st(dx, 0.0)
            elif use_softmax:
                for i in range(classes):
                    dr[i] = _st(dx, coef * vm.exp((_ld(xr[i]) - sh) - sl))
                dr[lab] = _st(dx, coef * _acc(x, math.expm1(_shifted(xl, sh, sl))))  # softmax - 1 without cancelling
            else:
                for i in range(classes):
                    dr[i] = _st(dx, 0.0)
                dr[lab] = _st(dx, -coef / xl)
    return sum_loss, sum_w, bad, bad_value


@njit(**_BODY)
def _soft_rows(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, use_softmax, has_weight, has_lse,
               per_row, write_dx, r0, r1):
    classes = x.shape[1]
    sum_loss, sum_w = 0.0, 0.0
    for r in range(r0, r1):
        xr, lr = x[r], label[r]
        m, s, ls, lx, lw = _soft_stats(x, xr, lr, weight, has_weight, use_softmax and not has_lse)
        w = _acc(x, lw) if has_weight else _acc(x, 1.0)
        big = _acc(x, 0.0)
        if use_softmax:
            if has_lse:
                big = lse_in[r]
                li = w * _acc(x, ls * big - lx)
            else:
                log_s = math.log(s)
                big = _lse(x, m, log_s)
                li = w * _acc(x, ls * (m + log_s) - lx)
        else:
            acc = _acc(x, 0.0)
            for i in range(classes):
                li_ = _ld(lr[i])
                if li_ != 0:  # 0 * log(0) = 0, as PaddlePaddle's 0 * (-1e20)
                    acc += li_ * _clamp_log(x, _ld(xr[i]))
            li = -w * acc
        if per_row:
            loss[r] = li
        if lse_out.size:
            lse_out[r] = big
        sum_loss += li
        sum_w += w
        if write_dx:
            dr = dx[r]
            coef = _acc(x, _ld(g[r * gstride])) * w
            if use_softmax:
                cl = coef * _acc(x, ls)
                for i in range(classes):
                    dr[i] = _st(dx, cl * vm.exp(_ld(xr[i]) - big) - coef * _ld(lr[i]))
            else:
                for i in range(classes):
                    li_ = _ld(lr[i])
                    dr[i] = _st(dx, -coef * li_ / _ld(xr[i]) if li_ != 0 else _acc(x, 0.0))
    return sum_loss, sum_w


@parallel_kernel(**_KERNEL)
def _rows_hard(x, label, weight, lse_in, g, gstride, loss, lse_out, part, dx, badv, badf,
               ignore, use_softmax, has_weight, has_lse, per_row, write_dx, rows):
    n = x.shape[0]
    for t in prange((n + rows - 1) // rows):
        a, b, bad, value = _hard_rows(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, ignore,
                                      use_softmax, has_weight, has_lse, per_row, write_dx,
                                      t * rows, min(n, (t + 1) * rows))
        part[t, 0], part[t, 1] = a, b
        if bad:
            badf[t], badv[t] = 1, value


@parallel_kernel(**_KERNEL)
def _rows_soft(x, label, weight, lse_in, g, gstride, loss, lse_out, part, dx,
               use_softmax, has_weight, has_lse, per_row, write_dx, rows):
    n = x.shape[0]
    for t in prange((n + rows - 1) // rows):
        a, b = _soft_rows(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, use_softmax, has_weight,
                          has_lse, per_row, write_dx, t * rows, min(n, (t + 1) * rows))
        part[t, 0], part[t, 1] = a, b


# ---------------------------------------------------------------------------
# columns (class axis not last): x (outer, C, inner), hard label (outer, inner). A task
# takes `cols` contiguous columns of one outer index and walks down C, vectorised across
# them; the C x cols block stays in cache between its passes (max; sum; gradient).
# ---------------------------------------------------------------------------


@njit(**_HELPER)
def _column_max(x, o, c0, k, a, b):
    """max over the class axis of each column j of x[o, :, c0:c0 + k] (NaN-propagating), in
    a or b, which is returned. Each class writes the other one: the in-place
    m[j] = max(m[j], v) became a masked store (vmaskmovps), 10x slower on AMD's Zen 3."""
    classes = x.shape[1]
    src = a
    xc = x[o, 0, c0:c0 + k]
    for j in range(k):
        src[j] = _ld(xc[j])
    for c in range(1, classes):
        xc, dst = x[o, c, c0:c0 + k], (b if c & 1 else a)
        for j in range(k):
            dst[j] = vm.maximum(src[j], _ld(xc[j]))
        src = dst
    return src


_WORK_ROWS = 12  # _hard_cols' scratch rows: big, sh, sl, inv_s, max (2), bs, w, xl, li, coef, a sink; then e


@njit(**_HELPER)
def _cols_work(x, classes, k, keep):
    """Scratch for _hard_cols over at most k columns, allocated once by its caller and reused
    by every block (an allocation costs ~50 ns; each block made 13): the
    accumulator rows (with the kept exponentials, C more rows, when `keep`), float64 sums,
    label indices."""
    rows = _WORK_ROWS + (classes if keep else 0)
    return np.empty((rows, k), type(_acc(x, 0.0))), np.empty(k, np.float64), np.empty(k, np.int64)


@njit(**_BODY)
def _hard_cols(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, ignore, use_softmax, has_weight,
               has_lse, per_row, write_dx, o, c0, c1, work, s, hit):
    """Columns [c0, c1) of x[o]: (sum of losses, sum of element weights, bad label seen, its
    value). work, s, hit: scratch from _cols_work."""
    outer, classes, inner = x.shape
    k = c1 - c0
    z = _acc(x, 0.0)
    big, sh, sl, inv_s = work[0], work[1], work[2], work[3]  # whole rows: C-contiguous views
    bs, w, xl, li, coef = work[6], work[7], work[8], work[9], work[10]
    # softmax = exp((x - sh) - sl), as in _hard_rows; with the exponentials of the sum pass kept
    # for the gradient, e / s: no second exp
    keep = write_dx and use_softmax and not has_lse
    if use_softmax and not has_lse:
        m = _column_max(x, o, c0, k, work[4], work[5])
        for j in range(k):  # an all -inf column shifts by 0: its exponentials are 0, not NaN
            sh[j] = m[j] if m[j] != -np.inf else z
            s[j], bs[j] = 0.0, z
        for c in range(classes):
            xc = x[o, c, c0:c1]  # a 1-D view: the loops over j vectorise (3-D indexing: 3x slower)
            ec = work[_WORK_ROWS + c] if keep else work[_WORK_ROWS - 1]  # kept, or a sink row: one
            for j in range(k):                                             # loop to compile, not two
                v = vm.exp_nonpositive(_ld(xc[j]) - sh[j])
                ec[j] = v
                bs[j] += v
            if c % 256 == 255 or c == classes - 1:  # a column adds its terms one by one: flush
                for j in range(k):                  # every 256 into float64
                    s[j] += bs[j]
                    bs[j] = 0
        for j in range(k):
            sa = _acc(x, s[j])
            log_s = vm.log(sa)
            big[j] = _lse(x, m[j], log_s)
            sh[j], sl[j] = m[j], log_s
            inv_s[j] = _acc(x, 1.0) / sa
    elif use_softmax:
        for j in range(k):
            big[j] = sh[j] = lse_in[o, c0 + j]
            sl[j] = z
    else:
        for j in range(k):
            big[j] = sh[j] = sl[j] = z
    # labels, branch-free: hit is the label, -1 where ignored or out of range (reported below);
    # the gather in a loop of its own, 3x faster than inside this one
    lab_row, x_cols = label[o, c0:c1], x[o, :, c0:c1]
    nbad = 0
    for j in range(k):
        lab = lab_row[j]
        ok = (lab >= 0) & (lab < classes) & (lab != ignore)  # `&`: `and` would branch
        hit[j] = lab if ok else -1
        nbad += (lab != ignore) & (not ok)
        # an ignored label never indexes weight
        w[j] = (_ld(weight[lab if ok else 0]) if has_weight else _acc(x, 1.0)) if ok else z
    for j in range(k):
        at = hit[j]
        xl[j] = _ld(x_cols[at if at >= 0 else 0, j])
    bad, bad_value = nbad > 0, 0
    for j in range(k if bad else 0):
        if hit[j] < 0 and lab_row[j] != ignore:
            bad_value = lab_row[j]
            break
    sum_loss, sum_w = 0.0, 0.0
    for j in range(k):
        if use_softmax:
            v = -w[j] * _shifted(xl[j], sh[j], sl[j])  # (m - xl) + log(s), or lse - xl when given
        else:
            v = -w[j] * _clamp_log(x, xl[j])
        v = v if hit[j] >= 0 else z
        li[j] = v
        sum_loss += v
        sum_w += w[j]
    if write_dx:
        gr = g[(o * inner + c0) * gstride:]
        if gstride == 0:  # one factor for every element (a reduction's): a broadcast, not a gather
            for j in range(k):
                coef[j] = _acc(x, _ld(gr[0])) * w[j]
        else:
            for j in range(k):
                coef[j] = _acc(x, _ld(gr[j * gstride])) * w[j]
    if per_row:
        lo = loss[o, c0:c1]
        for j in range(k):
            lo[j] = li[j]
    if lse_out.size:
        lo = lse_out[o, c0:c1]
        for j in range(k):
            lo[j] = big[j]
    if write_dx:
        if keep:
            for j in range(k):
                inv_s[j] *= coef[j]
        for c in range(classes):
            xc, dxc = x[o, c, c0:c1], dx[o, c, c0:c1]
            if keep:
                ec = work[_WORK_ROWS + c]
                for j in range(k):
                    dxc[j] = _st(dx, inv_s[j] * ec[j])
            elif use_softmax:
                for j in range(k):
                    dxc[j] = _st(dx, coef[j] * vm.exp((_ld(xc[j]) - sh[j]) - sl[j]))
            else:
                for j in range(k):
                    dxc[j] = _st(dx, 0.0)
        for j in range(k):  # the label's term (li as scratch): softmax - 1 without cancelling
            li[j] = coef[j] * _acc(x, vm.expm1(_shifted(xl[j], sh[j], sl[j]))) if use_softmax else -coef[j] / xl[j]
        for j in range(k):
            if hit[j] >= 0:
                dx[o, hit[j], c0 + j] = _st(dx, li[j])
            else:
                for c in range(classes):
                    dx[o, c, c0 + j] = _st(dx, 0.0)
    return sum_loss, sum_w, bad, bad_value


_TBLOCK = 512  # rows per transposed block: C x 512 stays in L1 (256: 5% slower)
# Rows of at most this many classes take the transposed blocks. Measured on 2 AMD EPYC cores
# (2.6M logits, forward / forward+backward, ms): C = 4 21.4 / 48.4 -> 16.3 / 30.2, C = 10
# 11.8 / 22.8 -> 9.7 / 15.3; C = 16 6.4 / 11.4 -> 7.4 / 12.7 (slower).
_TRANSPOSE_UP_TO = 12


@njit(**_BODY)
def _hard_rows_transposed(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, ignore, use_softmax,
                          has_weight, has_lse, per_row, write_dx, r0, r1):
    """_hard_rows for short rows: blocks of rows transposed into (1, C, rows) scratch and run
    by the columns body, whose loops then vectorise across rows (a row of 10 classes leaves a
    vector loop little but its epilogue)."""
    classes = x.shape[1]
    xt = np.empty((1, classes, _TBLOCK), x.dtype)
    dt = np.empty((1, classes, _TBLOCK) if write_dx else (1, 0, 0), dx.dtype)
    none_acc = np.empty((0, 0), loss.dtype)
    work, s, hit = _cols_work(x, classes, _TBLOCK, write_dx and use_softmax and not has_lse)
    sum_loss, sum_w, bad, bad_value = 0.0, 0.0, False, 0
    for b0 in range(r0, r1, _TBLOCK):
        b1 = min(r1, b0 + _TBLOCK)
        k = b1 - b0
        xf = x[b0:b1].reshape(k * classes)
        for c in range(classes):  # strided loads, contiguous stores: faster than the other order
            xc = xt[0, c]
            for j in range(k):
                xc[j] = xf[j * classes + c]
        lb = label[b0:b1].reshape(1, k)
        ls = loss[b0:b1].reshape(1, k) if per_row else none_acc
        lo = lse_out[b0:b1].reshape(1, k) if lse_out.size else none_acc
        li = lse_in[b0:b1].reshape(1, k) if has_lse else none_acc
        a, b, bd, value = _hard_cols(xt, lb, weight, li, g[b0 * gstride:], gstride, ls, lo, dt, ignore,
                                     use_softmax, has_weight, has_lse, per_row, write_dx, 0, 0, k, work, s, hit)
        sum_loss += a
        sum_w += b
        if bd and not bad:
            bad, bad_value = True, value
        if write_dx:
            df = dx[b0:b1].reshape(k * classes)
            for j in range(k):
                for c in range(classes):
                    df[j * classes + c] = dt[0, c, j]
    return sum_loss, sum_w, bad, bad_value


@parallel_kernel(**_KERNEL)
def _cols_hard(x, label, weight, lse_in, g, gstride, loss, lse_out, part, dx, badv, badf,
               ignore, use_softmax, has_weight, has_lse, per_row, write_dx, cols):
    outer, classes, inner = x.shape
    blocks = (inner + cols - 1) // cols
    keep = write_dx and use_softmax and not has_lse
    for t in prange(outer * blocks):
        o, c0 = t // blocks, (t % blocks) * cols
        work, s, hit = _cols_work(x, classes, cols, keep)
        a, b, bad, value = _hard_cols(x, label, weight, lse_in, g, gstride, loss, lse_out, dx, ignore,
                                      use_softmax, has_weight, has_lse, per_row, write_dx, o, c0,
                                      min(inner, c0 + cols), work, s, hit)
        part[t, 0], part[t, 1] = a, b
        if bad:
            badf[t], badv[t] = 1, value


@njit(cache=True, **_KERNEL)
def _den_hard(label, weight, ignore, classes, has_weight, part, badv, badf, rows):
    """Per block of `rows` labels: sum of the element weights (valid count without weight).
    Serial: one read of the labels, a small fraction of the pass over the logits."""
    n = label.size
    tasks = (n + rows - 1) // rows
    for t in range(tasks):
        acc = 0.0
        for r in range(t * rows, min(n, (t + 1) * rows)):
            lab = label[r]
            if lab == ignore:
                continue
            if lab < 0 or lab >= classes:
                if badf[t] == 0:
                    badf[t] = 1
                    badv[t] = lab
                continue
            acc += _ld(weight[lab]) if has_weight else 1.0
        part[t] = acc


# ---------------------------------------------------------------------------
# launchers
# ---------------------------------------------------------------------------

_CHUNKS = (1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 18)  # elements per parallel task (rows)
_COLS = (8, 16, 32, 64, 128, 256)


def _acc_dtype(problem: Problem):
    return np.float64 if problem.dtype == "float64" else np.float32


def _bits(a: np.ndarray) -> np.ndarray:
    """float16 arrays as their bits: numba computes in float32 after _h2f."""
    return a.view(np.uint16) if a.dtype == np.float16 else a


def _raise_bad(badf: np.ndarray, badv: np.ndarray, classes: int, ignore: int) -> None:
    if badf.any():
        raise ValueError(reference.label_error(int(badv[int(np.argmax(badf))]), classes, ignore))


def _mean_divisor(problem: Problem, label, weight, classes: int, ignore: int, rows: int, acc) -> float:
    """The mean's denominator before the gradient pass (backward, train): the element
    weights' sum from the labels alone (for hard labels one read of them, checked)."""
    n = label.shape[0] * (label.shape[-1] if label.ndim == 3 else (label.shape[1] if label.ndim == 2 else 1))
    has_weight = bool(problem.flag("weight"))
    if problem.flag("soft"):
        outer, _, inner = label.shape
        n = outer * inner
        if not has_weight:
            return reference.divisor(float(n), n, False, ignore)
        total = float(np.einsum("ocj,c->", label.astype(acc), weight.astype(acc), dtype=np.float64))
        return reference.divisor(total, n, True, ignore)
    flat = label.reshape(-1)
    n = flat.size
    tasks = -(-n // rows)
    part = np.zeros(tasks)
    badv, badf = np.zeros(tasks, np.int64), np.zeros(tasks, np.uint8)
    _den_hard(flat, _bits(weight), ignore, classes, has_weight, part, badv, badf, rows)
    _raise_bad(badf, badv, classes, ignore)
    return reference.divisor(float(part.sum()), n, has_weight, ignore)


def _launcher(problem: Problem, config: dict, mode: str):
    """mode: "forward" -> (loss, lse); "backward" -> dx; "train" -> (loss, dx)."""
    soft, use_softmax = bool(problem.flag("soft")), bool(problem.flag("use_softmax"))
    has_weight, reduction = bool(problem.flag("weight")), problem.flag("reduction")
    has_lse = bool(problem.flag("lse")) and mode == "backward" and use_softmax
    columns = problem.shape[2] > 1
    acc = _acc_dtype(problem)
    store = np.uint16 if problem.dtype == "float16" else problem.np_dtype
    # Zero-size stand-ins for the arrays a mode does not use, and the unit upstream gradient:
    # made once (never written), not per call.
    empty_acc, empty_x = np.empty(0, acc), np.empty(0, store)
    empty_acc2, empty_dk = np.empty((0, 0), acc), np.empty((0,) * (3 if columns else 2), store)
    unit = np.ones(1, acc)
    write_dx = mode != "forward"
    per_row = reduction == "none" and mode != "backward"

    def launch(x, label, *rest, ignore_index=reference.DEFAULT_IGNORE, out=None):
        rest = list(rest)
        dloss = rest.pop(0) if mode == "backward" else None
        lse_in = rest.pop(0) if mode == "backward" and problem.flag("lse") else empty_acc
        weight = rest.pop(0) if has_weight else empty_x
        if not has_lse:
            lse_in = empty_acc
        outer, classes, inner = x.shape
        n = outer * inner
        if not soft and label.dtype != np.int64:
            label = label.astype(np.int64)  # one kernel specialisation fewer to compile
        if columns:
            cols = int(config["cols"])
            tasks = outer * -(-inner // cols)
            xk, lk, lse_k = _bits(x), label, lse_in.reshape(outer, inner) if has_lse else empty_acc2
        else:
            rows = max(1, int(config["chunk"]) // max(classes, 1))
            tasks = -(-n // rows)
            xk = _bits(x).reshape(n, classes)
            lk = _bits(label).reshape(n, classes) if soft else label.reshape(n)
            lse_k = lse_in.reshape(n) if has_lse else empty_acc
        wk = _bits(weight)
        g, gstride = unit, 0
        if write_dx:
            if mode == "backward":
                g = dloss.reshape(-1).astype(acc)
                gstride = 1 if reduction == "none" else 0
            if reduction == "mean":
                g = g / acc(_mean_divisor(problem, label, weight, classes, ignore_index,
                                          max(1, int(config.get("chunk", 1 << 15)) // 4), acc))
        dx = (out if out is not None else output_pool.empty_like(x)) if write_dx else None
        dk = empty_dk if dx is None else _bits(dx).reshape(xk.shape)
        nothing = empty_acc2 if columns else empty_acc
        loss = np.empty((outer, inner) if columns else n, acc) if per_row else nothing
        lse_out = np.empty((outer, inner) if columns else n, acc) if mode == "forward" else nothing
        serial = xk.size < serial_below()  # the body on this thread: no parallel region to wake
        args = (xk, lk, wk, lse_k, g, gstride, loss, lse_out)
        flags = (ignore_index, use_softmax, has_weight, has_lse, per_row, write_dx)
        # Serial: the sums and the first bad label as the kernel returns them (a small call's
        # three arrays, their reductions and the any() had cost more than its kernel).
        if serial and soft:
            a, b = _soft_rows(*args, dk, use_softmax, has_weight, has_lse, per_row, write_dx, 0, n)
        elif serial:
            if columns:
                a, b, bad, value = 0.0, 0.0, False, 0
                work = _cols_work(xk, classes, inner, write_dx and use_softmax and not has_lse)
                for o in range(outer):
                    a_, b_, bad_, value_ = _hard_cols(*args, dk, *flags, o, 0, inner, *work)
                    a, b = a + a_, b + b_
                    if bad_ and not bad:
                        bad, value = True, value_
            else:
                a, b, bad, value = _hard_rows(*args, dk, *flags, 0, n)
            if bad:
                raise ValueError(reference.label_error(int(value), classes, ignore_index))
        else:
            part = np.zeros((tasks, 2))
            badv, badf = np.zeros(tasks, np.int64), np.zeros(tasks, np.uint8)
            if soft:
                _rows_soft.parallel(*args, part, dk, use_softmax, has_weight, has_lse, per_row, write_dx, rows)
            elif columns:
                _cols_hard.parallel(*args, part, dk, badv, badf, *flags, cols)
            else:
                _rows_hard.parallel(*args, part, dk, badv, badf, *flags, rows)
            _raise_bad(badf, badv, classes, ignore_index)
            a, b = part[:, 0].sum(), part[:, 1].sum()
        if mode == "backward":
            return dx
        if reduction == "none":
            value = loss.reshape(outer, inner).astype(x.dtype, copy=False)
        else:
            total = float(a)
            if reduction == "mean":
                total /= reference.divisor(float(b), n, has_weight, ignore_index)
            value = np.asarray(total, dtype=x.dtype)
        if mode == "forward":
            return value, lse_out.reshape(outer, inner)
        return value, dx

    return launch


def _rows_supported(problem: Problem) -> bool:
    return problem.shape[2] == 1


def _cols_supported(problem: Problem) -> bool:
    return problem.shape[2] > 1 and not problem.flag("soft")


def _cols_default(problem: Problem) -> dict:
    # as softmax's column kernel: long inner loops while the C x cols block stays in ~2 MiB
    outer, classes, inner = problem.shape
    cols = 8
    while (cols < 256 and cols < inner and 2 * cols * classes * 4 <= (2 << 20)
           and outer * -(-inner // (2 * cols)) >= 4):
        cols *= 2
    return {"cols": cols}


def _variants(mode: str, baseline_build) -> list[Variant]:
    def bind(problem: Problem, config: dict):
        return _launcher(problem, config, mode)

    return [
        Variant("numba_rows", "cpu", bind, space={"chunk": _CHUNKS}, supports=_rows_supported,
                default=lambda p: {"chunk": 1 << 15}, sources=(__file__,), accepts_out=mode != "forward"),
        Variant("numba_cols", "cpu", bind, space={"cols": _COLS}, supports=_cols_supported,
                default=_cols_default, sources=(__file__,), accepts_out=mode != "forward"),
        Variant("numpy", "cpu", baseline_build, baseline=True, accepts_out=mode != "forward"),
    ]


def forward_variants() -> list[Variant]:
    return _variants("forward", baseline.forward("numpy"))


def backward_variants() -> list[Variant]:
    return _variants("backward", baseline.backward("numpy"))


def train_variants() -> list[Variant]:
    return _variants("train", baseline.train("numpy"))
