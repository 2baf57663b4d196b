"""RNN layers on the CPU: the NumPy composition (baseline: two GEMMs and elementwise calls
per gate per step, reference.py's code in the input dtype) and the fused variant
(fused.py: one GEMM for every step's input projection, per step one GEMM into a
preallocated buffer and one numba kernel for the gate math and the state update; the GEMMs
are the matmul family's choices, matmul.cpu.gemm).

One numba kernel per direction of the pass (forward, backward), compiled once per dtype;
the mode is a run-time code (fused.CODES), so four modes cost no extra compilation. The
kernels compute in the arrays' dtype with vecmath's vectorisable sigmoid and tanh, a batch
row per parallel task. Beside MKL's or oneDNN's GEMMs, whose threads are numba's GNU
OpenMP pool (backends/mkl.py), that took rnn_train LSTM (64, 32, 256, 256) from 63.3 to
56.7 ms (median, Ice Lake Xeon, the two builds alternating in one process); beside
OpenBLAS's threads, which spin after a call, a parallel region oversubscribed the two cores
(10x slower), so a pass on OpenBLAS runs the serial twins. One range of batch rows per
thread for the whole sequence, each with single-threaded BLAS, measured slower (every thread
streams all of W_hh per step).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ...backends import onednn, vecmath as vm
from ...backends.cpu_kernels import parallel_kernel
from ...op import Problem, Variant
from ..matmul import cpu as matmul_cpu
from . import fused, reference
from .reference import GATES


class _CpuLib(fused.ArrayLib):
    """NumPy's arrays, the products on one of the matmul family's CPU libraries (OpenBLAS
    "numpy", "onednn" or "mkl"; matmul.cpu.gemm, verified like hakl.matmul's)."""

    def __init__(self, library: str):
        super().__init__("numpy")
        self.library = library

    def gemm(self, a, b, ta=False, tb=False, out=None):
        return matmul_cpu.gemm(a, b, ta, tb, out, self.library)

    def step_weights(self, w_hh):
        # W_hh^T copied once a call (1 MB at H=256): MKL's (32, 256) @ (256, 1024) took 115-120
        # us where reading the transpose in place took 304, oneDNN 185, OpenBLAS 241 (Ice Lake)
        return np.ascontiguousarray(w_hh.T), False


# One GEMM library for every product of a pass, tuned with the pass itself (config "gemm"):
# tuned per product alone, the Ice Lake Xeon's choices mixed OpenBLAS, oneDNN and MKL, whose
# threads keep spinning after a call, and rnn_train LSTM T64 B32 H256 took 129-255 ms against
# 64-67 on MKL alone (and 75-84 on OpenBLAS alone, which one product's timing had picked).
_GEMMS = {"gemm": ("numpy", "onednn", "mkl")}


def _default_gemm(problem: Problem) -> dict:
    """Untuned: the matmul family's choice for the per-step product (B, H) @ (H, G*H)."""
    t, b, n_in, h = problem.shape
    return {"gemm": matmul_cpu.gemm_variant(b, GATES[problem.flag("mode")] * h, h, problem.np_dtype)}


_OPTS = dict(cache=True, error_model="numpy")  # numpy's: no zero-division branch to stop the vectoriser


@numba.njit(**_OPTS)
def _one(a):
    """1 in a's dtype: a literal 1 would promote float32 arithmetic to float64."""
    return a.dtype.type(1)


@numba.njit(**_OPTS)
def _activate(a, tanh):
    """a = tanh(a) or sigmoid(a), in place."""
    for j in range(a.size):
        a[j] = vm.tanh(a[j]) if tanh else vm.sigmoid(a[j])


@parallel_kernel(size_arg=9, error_model="numpy")  # gates: the step's (B, G*H) rows
def _step(code, xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y, lengths, s):
    b, h = h_prev.shape
    one = _one(h_prev)
    zero = one - one
    # Loops of few arrays each, over views that start at 0: LLVM vectorised none of the loops
    # that touched seven arrays (too many run-time alias checks) or started at an offset.
    for i in prange(b):
        valid = s < lengths[i]
        row, hp, hn, yi = gates[i], h_prev[i], h_new[i], y[i]
        if code == 3:  # GRU: r, z, c with the reset applied after the hidden GEMM
            for j in range(2 * h):
                row[j] = xa[i, j] + b_ih[j] + ha[i, j] + b_hh[j]
            _activate(row[:2 * h], False)
            r, z, c, hc = row[:h], row[h:2 * h], row[2 * h:3 * h], row[3 * h:]
            hai, xai, bi, bh = ha[i, 2 * h:], xa[i, 2 * h:], b_ih[2 * h:], b_hh[2 * h:]
            for j in range(h):
                hc[j] = hai[j] + bh[j]
                c[j] = xai[j] + bi[j] + r[j] * hc[j]
            _activate(c, True)
            for j in range(h):
                out = z[j] * hp[j] + (one - z[j]) * c[j]
                hn[j] = out if valid else hp[j]
                yi[j] = out if valid else zero
            continue
        width = 4 * h if code == 2 else h
        for j in range(width):
            row[j] = xa[i, j] + b_ih[j] + ha[i, j] + b_hh[j]
        if code == 2:  # LSTM: gates i, f, g, o
            _activate(row[:2 * h], False)
            _activate(row[2 * h:3 * h], True)
            _activate(row[3 * h:], False)
            gi, gf, gg, go, cp, cn = row[:h], row[h:2 * h], row[2 * h:3 * h], row[3 * h:], c_prev[i], c_new[i]
            for j in range(h):
                cn[j] = gf[j] * cp[j] + gi[j] * gg[j] if valid else cp[j]
            for j in range(h):
                out = go[j] * vm.tanh(cn[j])
                hn[j] = out if valid else hp[j]
                yi[j] = out if valid else zero
            continue
        if code == 0:
            _activate(row, True)
        else:
            for j in range(h):
                row[j] = row[j] if (row[j] > zero or row[j] != row[j]) else zero
        for j in range(h):
            hn[j] = row[j] if valid else hp[j]
            yi[j] = row[j] if valid else zero


@parallel_kernel(size_arg=1, error_model="numpy")  # gates
def _step_grad(code, gates, h_prev, c_prev, c_new, dy, dh, dc, lengths, s, d_in, d_hid):
    b, h = h_prev.shape
    one = _one(dy)
    for i in prange(b):
        di, dhi = d_in[i], dh[i]
        if not s < lengths[i]:  # a padding step: the state passed through unchanged
            di[:] = 0
            d_hid[i, :] = 0
            continue
        dyi = dy[i]
        for j in range(h):
            dhi[j] += dyi[j]  # the gradient of the new state
        row = gates[i]
        if code == 2:
            gi, gf, gg, go = row[:h], row[h:2 * h], row[2 * h:3 * h], row[3 * h:]
            cp, tc, dci = c_prev[i], c_new[i], dc[i]
            di_i, di_f, di_g, di_o = di[:h], di[h:2 * h], di[2 * h:3 * h], di[3 * h:]
            for j in range(h):
                t = vm.tanh(tc[j])
                di_o[j] = dhi[j] * t * go[j] * (one - go[j])
                dci[j] += dhi[j] * go[j] * (one - t * t)  # the cell's gradient
            for j in range(h):
                di_i[j] = dci[j] * gg[j] * gi[j] * (one - gi[j])
                di_g[j] = dci[j] * gi[j] * (one - gg[j] * gg[j])
            for j in range(h):
                di_f[j] = dci[j] * cp[j] * gf[j] * (one - gf[j])
                dci[j] *= gf[j]
            dhi[:] = 0
        elif code == 3:
            r, z, c, hc, hp, dhid = row[:h], row[h:2 * h], row[2 * h:3 * h], row[3 * h:], h_prev[i], d_hid[i]
            di_r, di_z, di_c = di[:h], di[h:2 * h], di[2 * h:3 * h]
            for j in range(h):
                di_c[j] = dhi[j] * (one - z[j]) * (one - c[j] * c[j])
            for j in range(h):
                di_r[j] = di_c[j] * hc[j] * r[j] * (one - r[j])
            for j in range(h):
                di_z[j] = dhi[j] * (hp[j] - c[j]) * z[j] * (one - z[j])
            dhid[:2 * h] = di[:2 * h]
            dhc = dhid[2 * h:3 * h]
            for j in range(h):
                dhc[j] = di_c[j] * r[j]
            for j in range(h):
                dhi[j] *= z[j]
        else:
            for j in range(h):
                di[j] = dhi[j] * (one - row[j] * row[j]) if code == 0 else (dhi[j] if row[j] > 0 else 0)
            dhi[:] = 0


def _baseline_forward(problem: Problem, config: dict):
    return reference.baseline_forward(np, problem)


def _baseline_backward(problem: Problem, config: dict):
    return reference.baseline_backward(np, problem)


def _kernel(kernel, config: dict):
    """The parallel kernel, or its serial twin for a pass on OpenBLAS (see the docstring)."""
    return kernel.serial if config["gemm"] == "numpy" else kernel


def _fused_forward(problem: Problem, config: dict):
    return fused.forward_launcher(problem, _CpuLib(config["gemm"]), _kernel(_step, config))


def _fused_backward(problem: Problem, config: dict):
    return fused.backward_launcher(problem, _CpuLib(config["gemm"]), _kernel(_step_grad, config))


# ---- oneDNN's RNN primitives (inference) ----------------------------------------

_CELLS = {"LSTM": "lstm", "GRU": "lbr_gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}


def _onednn_supported(problem: Problem) -> bool:
    # hakl.rnn's forward only: oneDNN's training workspace is not hakl's layout, so
    # rnn_train (and its backward) stay with the fused kernels; no per-sample lengths
    return (bool(problem.flag("inference")) and not problem.flag("lengths") and problem.dtype == "float32"
            and onednn.available())


def _onednn_weights(mode: str, w_ih, w_hh, b_ih, b_hh):
    """PaddlePaddle's (G*H, I) / (G*H, H) weights and two biases as oneDNN's ldigo weights and
    ldgo bias: GRU's gates in oneDNN's order (update, reset, candidate: Paddle's z, r, c), its
    candidate's hidden bias as a fourth bias gate (linear-before-reset GRU, Paddle's cell);
    one bias b_ih + b_hh elsewhere."""
    g = GATES[mode]
    h = w_hh.shape[1]
    if mode == "GRU":  # copies in oneDNN's gate order; the reorder reads the transposed views in place
        w_ih, w_hh, b_ih, b_hh = (a.reshape(g, -1)[[1, 0, 2]] for a in (w_ih, w_hh, b_ih, b_hh))
    layer = w_ih.reshape(g, h, -1).transpose(2, 0, 1)[None, None]
    hidden = w_hh.reshape(g, h, h).transpose(2, 0, 1)[None, None]
    bi, bh = b_ih.reshape(g, h), b_hh.reshape(g, h)
    bias = np.concatenate([bi[:2] + bh[:2], bi[2:], bh[2:]]) if mode == "GRU" else bi + bh
    return layer, hidden, np.ascontiguousarray(bias[None, None])


def _onednn_forward(problem: Problem, config: dict):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")
    lib = onednn.library()
    lstm = mode == "LSTM"

    def launch(x, w_ih, w_hh, b_ih, b_hh, h0, *rest, out=None):  # out: the workspace, which inference skips
        (t, b, n_in), h = x.shape, h0.shape[1]  # the launcher serves a bucket of shapes
        prim = lib.rnn_forward(_CELLS[mode], t, b, n_in, h, x.dtype, reverse)
        layer, hidden, bias = _onednn_weights(mode, w_ih, w_hh, b_ih, b_hh)
        y, hn = np.empty((t, b, h), x.dtype), np.empty((1, 1, b, h), x.dtype)
        args = {onednn.ARG_SRC: np.ascontiguousarray(x), onednn.ARG_SRC_ITER: np.ascontiguousarray(h0)[None, None],
                onednn.ARG_WEIGHTS_LAYER: lib.reorder_into(prim, onednn.ARG_WEIGHTS_LAYER, layer),
                onednn.ARG_WEIGHTS_ITER: lib.reorder_into(prim, onednn.ARG_WEIGHTS_ITER, hidden),
                onednn.ARG_BIAS: bias, onednn.ARG_DST: y, onednn.ARG_DST_ITER: hn}
        if lstm:
            cn = np.empty_like(hn)
            args.update({onednn.ARG_SRC_ITER_C: np.ascontiguousarray(rest[0])[None, None],
                         onednn.ARG_DST_ITER_C: cn})
        lib.execute(prim, args)
        return (y, hn[0, 0]) + ((cn[0, 0],) if lstm else ())

    return launch


def forward_variants() -> list[Variant]:
    # oneDNN first where it serves: its brgemm cell (weights packed by a reorder) ran the LSTM
    # T64 B32 I256 H256 forward in 24 ms where the fused kernels took 73 (torch 49, same run)
    return [Variant("onednn", "cpu", _onednn_forward, supports=_onednn_supported, accepts_out=True,
                    sources=(onednn.__file__,)),
            Variant("fused", "cpu", _fused_forward, accepts_out=True, space=_GEMMS, default=_default_gemm),
            Variant("numpy", "cpu", _baseline_forward, baseline=True, accepts_out=True)]


def backward_variants() -> list[Variant]:
    return [Variant("fused", "cpu", _fused_backward, space=_GEMMS, default=_default_gemm),
            Variant("numpy", "cpu", _baseline_backward, baseline=True)]
