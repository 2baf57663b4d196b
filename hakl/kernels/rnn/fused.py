"""The fused structure of one RNN layer, shared by the CPU (NumPy's BLAS + numba) and CUDA
(CuPy's cuBLAS + an NVRTC kernel) and OpenCL (hakl.matmul + an OpenCL kernel) variants,
over a `lib` (ArrayLib for NumPy and CuPy; opencl.py's for pyopencl arrays):

forward: the input projection of every step as ONE GEMM (x (T*B, I) @ W_ih^T: PaddlePaddle's
fc+gru fusion), then per step one GEMM h @ W_hh^T into a preallocated buffer and ONE gates
kernel (biases, activations, the state update and the padding mask, writing the workspace);
backward: per step one gates-gradient kernel and one GEMM dgates @ W_hh, then dx, dW_ih,
dW_hh as three GEMMs over all steps and the bias gradients as column sums.

The kernels (`step`, `step_grad`) take the mode as a run-time code and these arguments:
    step(code, xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y, lengths, s)
    step_grad(code, gates, h_prev, c_prev, c_new, dy, dh, dc, lengths, s, d_in, d_hid)
step_grad reads dh (the state's gradient after step s) and leaves in it the part of the
previous state's gradient that does not pass through W_hh; dc it updates in place.
"""
from __future__ import annotations

from importlib import import_module

import numpy as np

from .reference import GATES, _unpack, declared, layout, steps, unpack_grad, views

CODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}


class ArrayLib:
    """What the driver needs of an array module with matmul(out=) (NumPy, CuPy)."""

    def __init__(self, module: str):
        self.xp = import_module(module)

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype)

    def gemm(self, a, b, ta=False, tb=False, out=None):
        """op(a) @ op(b), into `out` where given; returns the product."""
        return self.xp.matmul(a.T if ta else a, b.T if tb else b, out=out)

    def step_weights(self, w_hh):
        """(w, tb): the per-step product h @ W_hh^T as gemm(h, w, tb=tb). As stored here."""
        return w_hh, True

    def colsum(self, a):
        return a.sum(axis=0)

    def lengths(self, lengths, t: int, b: int):
        return self.xp.full((b,), t, np.int32) if lengths is None else lengths


def forward(lib, step, mode, reverse, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, out=None):
    t, b, n_in = x.shape
    h = w_hh.shape[1]
    gh = GATES[mode] * h
    code, lstm = CODES[mode], mode == "LSTM"
    ws = out if out is not None else lib.empty(layout(mode, t, b, h)["size"][0], x.dtype)
    v = views(ws, mode, t, b, h)
    hs, gates = v["h"], v["gates"]
    cs = v["c"] if lstm else lib.empty((t + 1, 1, 1), x.dtype)
    first = t if reverse else 0
    hs[first] = h0
    if lstm:
        cs[first] = c0
    xa = lib.gemm(x.reshape(t * b, n_in), w_ih, tb=True).reshape(t, b, gh)
    ha = lib.empty((b, gh), x.dtype)
    y = lib.empty((t, b, h), x.dtype)
    lens = lib.lengths(lengths, t, b)
    w_step, tb = lib.step_weights(w_hh)
    for s, prev, new in steps(t, reverse):
        ha = lib.gemm(hs[prev], w_step, tb=tb, out=ha)
        step(code, xa[s], ha, b_ih, b_hh, hs[prev], hs[new], cs[prev], cs[new], gates[s], y[s], lens, s)
    last = 0 if reverse else t
    return (y, hs[last].copy()) + ((cs[last].copy(),) if lstm else ()) + (ws,)


def backward(lib, step_grad, mode, reverse, x, w_ih, w_hh, ws, dy, dh_n, dc_n, lengths):
    t, b, n_in = x.shape
    h = w_hh.shape[1]
    gh = GATES[mode] * h
    code, lstm = CODES[mode], mode == "LSTM"
    v = views(ws, mode, t, b, h)
    hs, gates = v["h"], v["gates"]
    cs = v["c"] if lstm else lib.empty((t + 1, 1, 1), x.dtype)
    d_in = lib.empty((t, b, gh), x.dtype)
    d_hid = lib.empty((t, b, gh), x.dtype) if mode == "GRU" else d_in  # the same but for GRU's reset gate
    dh = dh_n.copy()
    dc = dc_n.copy() if lstm else lib.empty((1, 1), x.dtype)
    through = lib.empty((b, h), x.dtype)
    lens = lib.lengths(lengths, t, b)
    for s, prev, new in reversed(steps(t, reverse)):
        step_grad(code, gates[s], hs[prev], cs[prev], cs[new], dy[s], dh, dc, lens, s, d_in[s], d_hid[s])
        through = lib.gemm(d_hid[s], w_hh, out=through)
        dh += through
    flat_in, flat_hid = d_in.reshape(t * b, gh), d_hid.reshape(t * b, gh)
    before = (hs[1:] if reverse else hs[:t]).reshape(t * b, h)
    dx = lib.gemm(flat_in, w_ih).reshape(t, b, n_in)
    dw_ih = lib.gemm(flat_in, x.reshape(t * b, n_in), ta=True)
    dw_hh = lib.gemm(flat_hid, before, ta=True)
    db_ih = lib.colsum(flat_in)
    db_hh = lib.colsum(flat_hid) if mode == "GRU" else db_ih.copy()  # one sum of (T*B, G*H): 2 ms on the CPU
    return (dx, dw_ih, dw_hh, db_ih, db_hh, dh) + ((dc,) if lstm else ())


def forward_launcher(problem, lib, step):
    """The fused forward as a variant's launcher (every backend's: only `lib` and `step` differ)."""
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs, out=None):
        with np.errstate(all="ignore"):
            return declared(problem, forward(lib, step, mode, reverse, *_unpack(problem, inputs), out=out))

    return launch


def backward_launcher(problem, lib, step_grad):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs):
        with np.errstate(all="ignore"):
            return backward(lib, step_grad, mode, reverse, *unpack_grad(problem, inputs))

    return launch
