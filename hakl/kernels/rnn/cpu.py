"""RNN layers on the CPU: the NumPy composition (baseline: two GEMMs and elementwise calls
per gate per step, reference.py's code in the input dtype) and the fused variant
(fused.py: one BLAS GEMM for every step's input projection, per step one BLAS GEMM into a
preallocated buffer and one numba kernel for the gate math and the state update).

One numba kernel per direction of the pass (forward, backward), compiled once per dtype;
the mode is a run-time code (fused.CODES), so four modes cost no extra compilation. The
kernels compute in the arrays' dtype (float32 exp and tanh for float32, not float64's) and
are serial: a numba parallel region beside OpenBLAS's threads oversubscribed the two cores
(measured 10x slower, not faster).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from ...op import Problem, Variant
from . import fused, reference

NUMPY = fused.ArrayLib("numpy")


@numba.njit(cache=True)
def _sigmoid(a, one):
    return one / (one + math.exp(-a))


@numba.njit(cache=True)
def _step(code, xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y, lengths, s, one):
    b, h = h_prev.shape
    zero = one - one
    for i in range(b):
        valid = s < lengths[i]
        for j in range(h):
            if code == 2:  # LSTM: gates i, f, g, o
                ai = xa[i, j] + b_ih[j] + ha[i, j] + b_hh[j]
                af = xa[i, h + j] + b_ih[h + j] + ha[i, h + j] + b_hh[h + j]
                ag = xa[i, 2 * h + j] + b_ih[2 * h + j] + ha[i, 2 * h + j] + b_hh[2 * h + j]
                ao = xa[i, 3 * h + j] + b_ih[3 * h + j] + ha[i, 3 * h + j] + b_hh[3 * h + j]
                gi, gf, gg, go = _sigmoid(ai, one), _sigmoid(af, one), math.tanh(ag), _sigmoid(ao, one)
                gates[i, j], gates[i, h + j], gates[i, 2 * h + j], gates[i, 3 * h + j] = gi, gf, gg, go
                c = gf * c_prev[i, j] + gi * gg
                out = go * math.tanh(c)
                c_new[i, j] = c if valid else c_prev[i, j]
            elif code == 3:  # GRU: r, z, c with the reset applied after the hidden GEMM
                r = _sigmoid(xa[i, j] + b_ih[j] + ha[i, j] + b_hh[j], one)
                z = _sigmoid(xa[i, h + j] + b_ih[h + j] + ha[i, h + j] + b_hh[h + j], one)
                hc = ha[i, 2 * h + j] + b_hh[2 * h + j]
                c = math.tanh(xa[i, 2 * h + j] + b_ih[2 * h + j] + r * hc)
                gates[i, j], gates[i, h + j], gates[i, 2 * h + j], gates[i, 3 * h + j] = r, z, c, hc
                out = z * h_prev[i, j] + (one - z) * c
            else:
                a = xa[i, j] + b_ih[j] + ha[i, j] + b_hh[j]
                out = math.tanh(a) if code == 0 else max(a, zero) if a == a else a
                gates[i, j] = out
            h_new[i, j] = out if valid else h_prev[i, j]
            y[i, j] = out if valid else zero


@numba.njit(cache=True)
def _step_grad(code, gates, h_prev, c_prev, c_new, dy, dh, dc, lengths, s, d_in, d_hid):
    b, h = h_prev.shape
    for i in range(b):
        valid = s < lengths[i]
        for j in range(h):
            if not valid:  # a padding step: the state passed through unchanged
                for k in range(d_in.shape[1] // h):
                    d_in[i, k * h + j] = 0.0
                    d_hid[i, k * h + j] = 0.0
                continue
            dnew = dy[i, j] + dh[i, j]
            if code == 2:
                gi, gf, gg, go = gates[i, j], gates[i, h + j], gates[i, 2 * h + j], gates[i, 3 * h + j]
                tc = math.tanh(c_new[i, j])
                dct = dc[i, j] + dnew * go * (1 - tc * tc)
                d_in[i, j] = dct * gg * gi * (1 - gi)
                d_in[i, h + j] = dct * c_prev[i, j] * gf * (1 - gf)
                d_in[i, 2 * h + j] = dct * gi * (1 - gg * gg)
                d_in[i, 3 * h + j] = dnew * tc * go * (1 - go)
                dc[i, j] = dct * gf
                dh[i, j] = 0.0
            elif code == 3:
                r, z, c, hc = gates[i, j], gates[i, h + j], gates[i, 2 * h + j], gates[i, 3 * h + j]
                dcp = dnew * (1 - z) * (1 - c * c)
                dr = dcp * hc * r * (1 - r)
                dz = dnew * (h_prev[i, j] - c) * z * (1 - z)
                d_in[i, j] = d_hid[i, j] = dr
                d_in[i, h + j] = d_hid[i, h + j] = dz
                d_in[i, 2 * h + j] = dcp
                d_hid[i, 2 * h + j] = dcp * r
                dh[i, j] = dnew * z
            else:
                act = gates[i, j]
                d_in[i, j] = dnew * (1 - act * act) if code == 0 else (dnew if act > 0 else 0.0)
                dh[i, j] = 0.0


def _baseline_forward(problem: Problem, config: dict):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs, out=None):
        with np.errstate(all="ignore"):
            y, hn, cn, ws = reference.forward(np, mode, *reference._unpack(problem, inputs), reverse)
        if out is not None:
            out[...] = ws
            ws = out
        return (y, hn) + ((cn,) if mode == "LSTM" else ()) + (ws,)

    return launch


def _baseline_backward(problem: Problem, config: dict):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs):
        with np.errstate(all="ignore"):
            out = reference.backward(np, mode, *reference.unpack_grad(problem, inputs), reverse)
        return out[:6] + ((out[6],) if mode == "LSTM" else ())

    return launch


def _fused_forward(problem: Problem, config: dict):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    one = problem.np_dtype.type(1)  # arithmetic in the dtype: float32 exp/tanh, not float64

    def step(*args):
        _step(*args, one)

    def launch(*inputs, out=None):
        with np.errstate(all="ignore"):
            return fused.forward(NUMPY, step, mode, reverse, *reference._unpack(problem, inputs), out=out)

    return launch


def _fused_backward(problem: Problem, config: dict):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs):
        with np.errstate(all="ignore"):
            return fused.backward(NUMPY, _step_grad, mode, reverse, *reference.unpack_grad(problem, inputs))

    return launch


def forward_variants() -> list[Variant]:
    return [Variant("fused", "cpu", _fused_forward, accepts_out=True),
            Variant("numpy", "cpu", _baseline_forward, baseline=True, accepts_out=True)]


def backward_variants() -> list[Variant]:
    return [Variant("fused", "cpu", _fused_backward), Variant("numpy", "cpu", _baseline_backward, baseline=True)]
