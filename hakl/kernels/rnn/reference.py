"""One RNN layer in one direction, forward and backward, written once over an array module
(NumPy or CuPy) step by step: the float64 reference, and the composition baselines (NumPy
on the CPU, CuPy on CUDA: a GEMM and elementwise calls per gate per step).

The layer problem (hakl.kernels.rnn's docstring): time-major x (T, B, I), PaddlePaddle's
weights w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H), states (B, H), lengths (B,) int32
or None; `reverse` runs t = T-1 .. 0. The workspace (`layout`) holds what the backward
reads: the activated gates per step (GRU adds W_hc h + b_hc, which the reset gate
multiplies) and the states by time, h[t] before and h[t+1] after step t going forward
(h[t+1] before and h[t] after going backward); padding steps carry the state unchanged and
output 0.
"""
from __future__ import annotations

import functools
import math
from types import MappingProxyType

import numpy as np

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
MODES = tuple(GATES)


def width(mode: str, h: int) -> int:
    """Workspace columns of the gates per (step, sample): G*H, and GRU's extra W_hc h + b_hc."""
    return 4 * h if mode == "GRU" else GATES[mode] * h


@functools.lru_cache(maxsize=256)
def layout(mode: str, t: int, b: int, h: int) -> MappingProxyType:
    """(offset, shape) of each workspace part in the flat buffer, and its total size (read
    only: memoised, as each training step asks for it six times)."""
    parts, offset = {}, 0
    for name, shape in (("gates", (t, b, width(mode, h))), ("h", (t + 1, b, h))) + \
            ((("c", (t + 1, b, h)),) if mode == "LSTM" else ()):
        parts[name] = (offset, shape)
        offset += math.prod(shape)
    parts["size"] = (offset, ())
    return MappingProxyType(parts)


def views(ws, mode: str, t: int, b: int, h: int) -> dict:
    """The workspace parts as views of the flat buffer `ws`."""
    return {name: ws[o:o + math.prod(s)].reshape(s) for name, (o, s) in layout(mode, t, b, h).items()
            if name != "size"}


def steps(t: int, reverse: bool):
    """(time, index of the state before it, index of the state after it), in processing order."""
    return [(s, s + 1, s) for s in range(t - 1, -1, -1)] if reverse else [(s, s, s + 1) for s in range(t)]


def _sigmoid(xp, a):
    return 1 / (1 + xp.exp(-a))


def forward(xp, mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, reverse, dtype=None):
    """(y, h_n, c_n or None, ws) with everything computed in `dtype` (default x's)."""
    dtype = dtype or x.dtype
    x, w_ih, w_hh, b_ih, b_hh, h0 = (a.astype(dtype, copy=False) for a in (x, w_ih, w_hh, b_ih, b_hh, h0))
    t, b, _ = x.shape
    h = w_hh.shape[1]
    ws = xp.zeros(layout(mode, t, b, h)["size"][0], dtype)
    v = views(ws, mode, t, b, h)
    hs, gates = v["h"], v["gates"]
    y = xp.zeros((t, b, h), dtype)
    first = t if reverse else 0
    hs[first] = h0
    if mode == "LSTM":
        v["c"][first] = c0.astype(dtype, copy=False)
    for s, prev, new in steps(t, reverse):
        xa = x[s] @ w_ih.T + b_ih
        ha = hs[prev] @ w_hh.T + b_hh
        if mode == "LSTM":
            i, f, g, o = (xa[:, k * h:(k + 1) * h] + ha[:, k * h:(k + 1) * h] for k in range(4))
            i, f, g, o = _sigmoid(xp, i), _sigmoid(xp, f), xp.tanh(g), _sigmoid(xp, o)
            c_new = f * v["c"][prev] + i * g
            h_new = o * xp.tanh(c_new)
            gates[s] = xp.concatenate([i, f, g, o], axis=1)
        elif mode == "GRU":
            r = _sigmoid(xp, xa[:, :h] + ha[:, :h])
            z = _sigmoid(xp, xa[:, h:2 * h] + ha[:, h:2 * h])
            hc = ha[:, 2 * h:]
            c = xp.tanh(xa[:, 2 * h:] + r * hc)
            h_new = z * hs[prev] + (1 - z) * c
            gates[s] = xp.concatenate([r, z, c, hc], axis=1)
        else:
            a = xa + ha
            h_new = xp.tanh(a) if mode == "RNN_TANH" else xp.maximum(a, 0)
            gates[s] = h_new
        if lengths is None:
            hs[new] = h_new
            y[s] = h_new
            if mode == "LSTM":
                v["c"][new] = c_new
            continue
        m = (s < lengths)[:, None]
        hs[new] = xp.where(m, h_new, hs[prev])
        y[s] = xp.where(m, h_new, 0)
        if mode == "LSTM":
            v["c"][new] = xp.where(m, c_new, v["c"][prev])
    last = 0 if reverse else t
    return y, hs[last].copy(), (v["c"][last].copy() if mode == "LSTM" else None), ws


def backward(xp, mode, x, w_ih, w_hh, ws, dy, dh_n, dc_n, lengths, reverse, dtype=None):
    """(dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0 or None) of `forward`, from its workspace."""
    dtype = dtype or x.dtype
    x, w_ih, w_hh, dy, dh_n = (a.astype(dtype, copy=False) for a in (x, w_ih, w_hh, dy, dh_n))
    t, b, n_in = x.shape
    h = w_hh.shape[1]
    gh = GATES[mode] * h
    v = views(ws.astype(dtype, copy=False), mode, t, b, h)
    hs, gates = v["h"], v["gates"]
    d_in = xp.zeros((t, b, gh), dtype)  # d (x W_ih^T + b_ih) per step
    d_hid = xp.zeros((t, b, gh), dtype)  # d (h W_hh^T + b_hh) per step
    dh = dh_n.copy()
    dc = dc_n.astype(dtype, copy=True) if mode == "LSTM" else None
    for s, prev, new in reversed(steps(t, reverse)):
        m = None if lengths is None else (s < lengths)[:, None]
        dnew = dy[s] + dh
        if m is not None:
            dnew = xp.where(m, dnew, 0)
        g = gates[s]
        if mode == "LSTM":
            i, f, gg, o = (g[:, k * h:(k + 1) * h] for k in range(4))
            dc_step = dc if m is None else xp.where(m, dc, 0)
            tc = xp.tanh(v["c"][new])
            dct = dc_step + dnew * o * (1 - tc * tc)
            da = xp.concatenate([dct * gg * i * (1 - i), dct * v["c"][prev] * f * (1 - f), dct * i * (1 - gg * gg),
                                 dnew * tc * o * (1 - o)], axis=1)
            dc = dct * f if m is None else xp.where(m, dct * f, dc)
            d_in[s] = d_hid[s] = da
            direct = 0
        elif mode == "GRU":
            r, z, c, hc = (g[:, k * h:(k + 1) * h] for k in range(4))
            dcp = dnew * (1 - z) * (1 - c * c)
            dr = dcp * hc * r * (1 - r)
            dz = dnew * (hs[prev] - c) * z * (1 - z)
            d_in[s] = xp.concatenate([dr, dz, dcp], axis=1)
            d_hid[s] = xp.concatenate([dr, dz, dcp * r], axis=1)
            direct = dnew * z
        else:
            act = g
            da = dnew * (1 - act * act) if mode == "RNN_TANH" else xp.where(act > 0, dnew, 0)
            d_in[s] = d_hid[s] = da
            direct = 0
        dh_prev = d_hid[s] @ w_hh + direct
        dh = dh_prev if m is None else dh_prev + xp.where(m, 0, dh)
    flat_in, flat_hid = d_in.reshape(t * b, gh), d_hid.reshape(t * b, gh)
    before = hs[1:] if reverse else hs[:t]
    dx = (flat_in @ w_ih).reshape(t, b, n_in)
    dw_ih = flat_in.T @ x.reshape(t * b, n_in)
    dw_hh = flat_hid.T @ before.reshape(t * b, h)
    return dx, dw_ih, dw_hh, flat_in.sum(axis=0), flat_hid.sum(axis=0), dh, dc


# ---- the ops' references (float64, NumPy) ------------------------------------------


def _unpack(problem, inputs):
    """(x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths) of the forward op's inputs."""
    lstm, masked = problem.flag("mode") == "LSTM", problem.flag("lengths")
    x, w_ih, w_hh, b_ih, b_hh, h0, *rest = inputs
    c0 = rest.pop(0) if lstm else None
    return x, w_ih, w_hh, b_ih, b_hh, h0, c0, (rest.pop(0) if masked else None)


def declared(problem, out: tuple) -> tuple:
    """A forward's (y, h_n[, c_n], ws) as the op declares its outputs: an inference problem
    (hakl.rnn's, whose workspace nothing reads) has no workspace output, so that a variant
    without hakl's workspace layout (oneDNN's) serves it."""
    return out[:-1] if problem.flag("inference") else out


def op_forward(problem, *inputs):
    mode = problem.flag("mode")
    with np.errstate(all="ignore"):
        y, hn, cn, ws = forward(np, mode, *_unpack(problem, inputs), problem.flag("reverse"), np.float64)
    return declared(problem, (y, hn) + ((cn,) if mode == "LSTM" else ()) + (ws,))


def unpack_grad(problem, inputs):
    """(x, w_ih, w_hh, ws, dy, dh_n, dc_n, lengths) of the backward op's inputs."""
    lstm, masked = problem.flag("mode") == "LSTM", problem.flag("lengths")
    x, w_ih, w_hh, ws, dy, dh_n, *rest = inputs
    dc_n = rest.pop(0) if lstm else None
    return x, w_ih, w_hh, ws, dy, dh_n, dc_n, (rest.pop(0) if masked else None)


def op_backward(problem, *inputs):
    mode = problem.flag("mode")
    with np.errstate(all="ignore"):
        out = backward(np, mode, *unpack_grad(problem, inputs), problem.flag("reverse"), np.float64)
    return out[:6] + ((out[6],) if mode == "LSTM" else ())


def baseline_forward(xp, problem):
    """The composition above in the input dtype on array module `xp`: the NumPy and CuPy
    baselines' forward launcher (the workspace copied into the caller's `out`)."""
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs, out=None):
        with np.errstate(all="ignore"):
            y, hn, cn, ws = forward(xp, mode, *_unpack(problem, inputs), reverse)
        if out is not None:
            out[...] = ws
            ws = out
        return declared(problem, (y, hn) + ((cn,) if mode == "LSTM" else ()) + (ws,))

    return launch


def baseline_backward(xp, problem):
    mode, reverse = problem.flag("mode"), problem.flag("reverse")

    def launch(*inputs):
        with np.errstate(all="ignore"):
            out = backward(xp, mode, *unpack_grad(problem, inputs), reverse)
        return out[:6] + ((out[6],) if mode == "LSTM" else ())

    return launch
