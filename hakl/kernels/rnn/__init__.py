"""Recurrent networks (PaddlePaddle 2.0's SimpleRNN, LSTM and GRU), forward and backward.

    >>> import numpy as np, hakl
    >>> x = np.ones((2, 3, 4), np.float32)                      # batch 2, 3 steps, 4 features
    >>> w = [np.full((8, 4), 0.1, np.float32), np.full((8, 2), 0.1, np.float32),
    ...      np.zeros(8, np.float32), np.zeros(8, np.float32)]  # LSTM, H = 2: [4H, in], [4H, H], [4H], [4H]
    >>> y, (h, c) = hakl.rnn("LSTM", x, w)
    >>> y.shape, h.shape, c.shape
    ((2, 3, 2), (1, 2, 2), (1, 2, 2))

    rnn(mode, x, weights, h0=None, c0=None, num_layers=1, direction="forward", time_major=False,
        sequence_length=None, dropout=0.0, training=False, seed=None) -> (y, h_n) or (y, (h_n, c_n))

- mode: "RNN_TANH", "RNN_RELU", "LSTM" (gates i, f, g, o), "GRU" (gates r, z, c; the reset
  gate applied after the hidden GEMM: c = tanh(x W_ic + b_ic + r * (h W_hc + b_hc)),
  h = z * h_prev + (1 - z) * c: PaddlePaddle's and torch's GRU).
- weights: PaddlePaddle 2.0's parameters, per layer and direction (forward, then reverse)
  weight_ih [G*H, in], weight_hh [G*H, H], bias_ih [G*H], bias_hh [G*H] (in = the input
  size for layer 0, D*H above); x's dtype (float32 or float64).
- x: [B, T, I] ([T, B, I] with time_major); states [L*D, B, H] (direction d of layer l
  at index l*D + d), zeros when not given; y [B, T, D*H], the directions concatenated.
- sequence_length [B] (any integer dtype, values in [0, T]): steps at t >= length neither
  update the state nor output (y is 0 there); the final state is each sample's state
  after its last step; the reverse direction starts at each sample's last step.
- dropout p between layers (upscale_in_train on every layer's input but the first, when
  training): hakl's Philox dropout, so `seed` reproduces it (None draws one).

`rnn_train` (same arguments) returns the flat (y, h_n, c_n or None, reserve): reserve is
opaque bytes (uint8) holding what the backward reads — every step's gates and states of
every layer and direction, the layers' inputs, the dropout seed — which its Derivative
reads instead of recomputing the forward: rnn_train is the function an autograd records
(hakl.framework's layers do). rnn itself declares no Derivative: its nested (h_n, c_n)
output is not the flat tuple of arrays a tape records, and rnn_train's serves.

Ops (one layer, one direction; the public functions drive layers, directions, dropout):

    rnn       (x, w_ih, w_hh, b_ih, b_hh, h0, [c0], [lengths])           -> (y, h_n, [c_n], ws)
    rnn_grad  (x, w_ih, w_hh, ws, dy, dh_n, [dc_n], [lengths])  -> (dx, dw_ih, dw_hh, db_ih, db_hh, dh0, [dc0])

Problems: shape (T, B, I, H), time-major contiguous x; flags mode, reverse, lengths
(int32). `ws` is the workspace of reference.layout (gates and states in x's dtype), the
same for every variant, so any backward variant reads any forward's. Tolerances grow
with T (an error in the state feeds every later step).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...backends import backend_of
from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, dtype_name, register,
                   register_function, validate)
from ...tuning import dispatch
from . import reference
from .reference import GATES, MODES, layout

DTYPES = ("float32", "float64")
DIRECTIONS = {"forward": 1, "bidirect": 2, "bidirectional": 2}
# (rtol, atol per step as a fraction of the largest |reference|)
TOLERANCES = {"float32": (1e-4, 2e-6), "float64": (1e-11, 1e-14)}
GRAD_TOLERANCES = {"float32": (1e-3, 1e-5), "float64": (1e-10, 1e-13)}


# ---- samples and conformance cases ------------------------------------------------


def _flags(problem: Problem) -> tuple[str, bool, bool]:
    return problem.flag("mode"), problem.flag("reverse"), problem.flag("lengths")


def _weights(problem: Problem, rng: np.random.Generator) -> list[np.ndarray]:
    t, b, n_in, h = problem.shape
    g = GATES[problem.flag("mode")] * h
    bound = 1 / math.sqrt(h)
    return [rng.uniform(-bound, bound, s).astype(problem.dtype) for s in ((g, n_in), (g, h), (g,), (g,))]


def _lengths(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    if not problem.flag("lengths"):
        return ()
    t, b = problem.shape[:2]
    lengths = rng.integers(0, t + 1, b).astype(np.int32)
    lengths[0] = t
    return (lengths,)


def _sample_forward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    t, b, n_in, h = problem.shape
    states = (2 if problem.flag("mode") == "LSTM" else 1)
    x = rng.standard_normal((t, b, n_in)).astype(problem.dtype)
    hc = tuple(rng.standard_normal((b, h)).astype(problem.dtype) for _ in range(states))
    w = _weights(problem, rng)
    return (x, *w, *hc, *_lengths(problem, rng))


def _grad_inputs(problem: Problem, forward: tuple, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    mode, reverse, masked = _flags(problem)
    fwd = Problem("rnn", problem.backend, problem.dtype, problem.shape, problem.flags, (), problem.dtypes)
    ws = reference.op_forward(fwd, *forward)[-1].astype(problem.dtype)
    t, b, _, h = problem.shape
    douts = tuple(rng.standard_normal(s).astype(problem.dtype)
                  for s in ((t, b, h), (b, h)) + (((b, h),) if mode == "LSTM" else ()))
    return (forward[0], forward[1], forward[2], ws, *douts, *(forward[-1:] if masked else ()))


def _sample_backward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return _grad_inputs(problem, _sample_forward(problem, rng), rng)


def _dtypes(op_name: str, mode: str, dtype: str, masked: bool) -> tuple[str, ...]:
    return (dtype,) * (6 + (mode == "LSTM")) + (("int32",) if masked else ())


def problem_for(op_name: str, backend: str, dtype: str, shape, mode: str, reverse: bool, masked: bool,
                inference: bool = False) -> Problem:
    """`inference`: hakl.rnn's forward, whose workspace nothing reads (no workspace output)."""
    flags = (("mode", mode), ("reverse", reverse), ("lengths", masked)) + ((("inference", True),) if inference else ())
    return Problem(op_name, backend, dtype, tuple(shape), flags, (), _dtypes(op_name, mode, dtype, masked))


SHAPES = [(5, 3, 4, 6), (1, 1, 1, 1), (9, 4, 7, 5), (16, 2, 3, 33)]
QUICK_SHAPES = [(5, 3, 4, 6), (9, 4, 7, 5)]


def _cases(op_name: str):
    grad = op_name == "rnn_grad"

    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        k = 0
        for mode in MODES:
            for shape in QUICK_SHAPES if quick else SHAPES:
                # inference (no workspace output): each mode's first shape, and a reversed one
                inference = not grad and (k % 4 == 0 or k % 8 == 1)
                problem = problem_for(op_name, backend, dtype, shape, mode, k % 2 == 1, k % 4 >= 2, inference)
                k += 1
                forward = _sample_forward(problem, rng)
                if not grad and k % 3 == 0:  # a NaN and an inf: the sample's state is NaN from there on
                    forward[0][shape[0] // 2, -1, 0] = np.nan
                    forward[0][0, 0, -1] = np.inf
                yield problem, (_grad_inputs(problem, forward, rng) if grad else forward)
    return cases


def _nbytes(grad: bool):
    def nbytes(p: Problem) -> int:
        t, b, n_in, h = p.shape
        mode = p.flag("mode")
        g = GATES[mode] * h
        ws = layout(mode, t, b, h)["size"][0]
        weights = g * (n_in + h + 2)
        return p.np_dtype.itemsize * (t * b * n_in + t * b * h + ws + weights) * (2 if grad else 1)
    return nbytes


def _flops(grad: bool):
    def flops(p: Problem) -> int:
        t, b, n_in, h = p.shape
        g = GATES[p.flag("mode")] * h
        return 2 * t * b * g * (n_in + h) * (2 if grad else 1)
    return flops


def _growth(problem: Problem) -> float:
    return float(max(problem.shape[0], 1))


RNN = register(Op(
    name="rnn", reference=reference.op_forward, sample=_sample_forward, nbytes=_nbytes(False), flops=_flops(False),
    tolerances=TOLERANCES, atol_growth=_growth, cases=_cases("rnn"),
    inputs=(Input("x", DTYPES), Input("w_ih", DTYPES), Input("w_hh", DTYPES), Input("b_ih", DTYPES),
            Input("b_hh", DTYPES), Input("h0", DTYPES)),
    example=lambda x, axis, o: _tune_example(x, o), conformance_quick=("opencl",),
))
RNN_GRAD = register(Op(
    name="rnn_grad", reference=reference.op_backward, sample=_sample_backward, nbytes=_nbytes(True),
    flops=_flops(True), tolerances=GRAD_TOLERANCES, atol_growth=_growth, cases=_cases("rnn_grad"),
    inputs=(Input("x", DTYPES), Input("w_ih", DTYPES), Input("w_hh", DTYPES), Input("ws", DTYPES),
            Input("dy", DTYPES, role="grad")),
    example=lambda x, axis, o: _tune_example(x, o, grad=True), conformance_quick=("opencl",), paired_with="rnn",
))
attach_variants(__name__, {RNN: "forward_variants", RNN_GRAD: "backward_variants"})


def _tune_example(x: Any, options: dict, grad: bool = False) -> Any:
    """`hakl tune rnn --shape BxTxI`: an LSTM of hidden size I (-o mode=GRU ...)."""
    from ...op import option

    mode = option(options, "mode", "LSTM")
    n_in = x.shape[-1]
    rng = np.random.default_rng(0)
    g = GATES[mode] * n_in
    backend = backend_of(x)
    w = [backend.asarray(rng.uniform(-0.1, 0.1, s).astype(x.dtype)) for s in ((g, n_in), (g, n_in), (g,), (g,))]
    if not grad:
        return rnn(mode, x, w)
    y, hn, cn, reserve = rnn_train(mode, x, w)
    return _backward(("LSTM", x, w), {}, (y, hn, cn, reserve), (y, None, None, None))


# ---- argument checks ---------------------------------------------------------------


class _Call:
    """One validated call: sizes, the layer weights, states and lengths on x's device."""

    def __init__(self, name, mode, x, weights, h0, c0, num_layers, direction, time_major, sequence_length,
                 dropout, training, seed):
        if not isinstance(mode, str):
            raise TypeError(f"{name}: argument 'mode' must be one of {', '.join(MODES)}, got {type(mode).__name__}")
        if mode not in MODES:
            raise ValueError(f"{name}: argument 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
        self.backend = validate(name, (Input("x", DTYPES),), (x,))
        if x.ndim != 3:
            raise ValueError(f"{name}: argument 'x' must be 3-D ([batch, time, input], or [time, batch, input] with "
                             f"time_major), got shape {tuple(x.shape)}")
        for arg, value in (("time_major", time_major), ("training", training)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}: argument {arg!r} must be a bool, got {type(value).__name__}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"{name}: argument 'num_layers' must be a positive int, got {num_layers!r}")
        if not isinstance(direction, str) or direction not in DIRECTIONS:
            raise ValueError(f"{name}: argument 'direction' must be 'forward', 'bidirect' or 'bidirectional', got "
                             f"{direction!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer, np.floating)) \
                or not 0 <= dropout < 1:
            raise ValueError(f"{name}: argument 'dropout' must be a probability in [0, 1), got {dropout!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed < 2 ** 64):
            raise ValueError(f"{name}: argument 'seed' must be None or an int in [0, 2**64), got {seed!r}")
        self.name, self.mode, self.lstm = name, mode, mode == "LSTM"
        self.layers, self.dirs = int(num_layers), DIRECTIONS[direction]
        self.time_major, self.dtype = bool(time_major), dtype_name(x.dtype)
        self.dropout = float(dropout) if training and self.layers > 1 else 0.0
        self.seed = seed
        self.t, self.b = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
        self.n_in = x.shape[2]
        self._weights(name, x, weights)
        self.h0 = self._state(name, "h0", h0, x)
        if c0 is not None and not self.lstm:
            raise ValueError(f"{name}: argument 'c0' is for LSTM only (mode {mode!r} has no cell state)")
        self.c0 = self._state(name, "c0", c0, x) if self.lstm else None
        self.lengths = self._lengths(name, sequence_length)

    def _weights(self, name, x, weights):
        if isinstance(weights, (str, bytes)) or not isinstance(weights, (list, tuple)):
            raise TypeError(f"{name}: argument 'weights' must be a list of arrays, got {type(weights).__name__}")
        want = 4 * self.layers * self.dirs
        if len(weights) != want:
            raise ValueError(f"{name}: argument 'weights' must hold {want} arrays (weight_ih, weight_hh, bias_ih, "
                             f"bias_hh per layer and direction), got {len(weights)}")
        g = GATES[self.mode]
        self.h = weights[1].shape[-1] if getattr(weights[1], "ndim", 0) == 2 else None
        if self.h is None:
            raise ValueError(f"{name}: argument 'weights[1]' (weight_hh_l0) must be 2-D [{g}*hidden, hidden]")
        h = self.h
        for k, w in enumerate(weights):
            backend = backend_of(w, name, f"weights[{k}]")
            if backend is not self.backend:
                raise TypeError(f"{name}: argument 'weights[{k}]' is on {backend.name} but 'x' is on "
                                f"{self.backend.name}")
            if w.dtype != x.dtype:
                raise TypeError(f"{name}: argument 'weights[{k}]' has dtype {w.dtype} but 'x' has {x.dtype}")
            layer = k // (4 * self.dirs)
            n_in = self.n_in if layer == 0 else self.dirs * h
            shape = ((g * h, n_in), (g * h, h), (g * h,), (g * h,))[k % 4]
            if tuple(w.shape) != shape:
                what = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[k % 4]
                raise ValueError(f"{name}: argument 'weights[{k}]' ({what} of layer {layer}) has shape "
                                 f"{tuple(w.shape)}, expected {shape}")
        self.weights = [self.backend.ascontiguous(w) for w in weights]

    def _state(self, name, arg, s, x):
        shape = (self.layers * self.dirs, self.b, self.h)
        if s is None:
            return None
        backend = backend_of(s, name, arg)
        if backend is not self.backend:
            raise TypeError(f"{name}: argument {arg!r} is on {backend.name} but 'x' is on {self.backend.name}")
        if s.dtype != x.dtype:
            raise TypeError(f"{name}: argument {arg!r} has dtype {s.dtype} but 'x' has {x.dtype}")
        if tuple(s.shape) != shape:
            raise ValueError(f"{name}: argument {arg!r} has shape {tuple(s.shape)}, expected {shape} "
                             "([num_layers * directions, batch, hidden])")
        return self.backend.ascontiguous(s)

    def _lengths(self, name, lengths):
        if lengths is None:
            return None
        backend = backend_of(lengths, name, "sequence_length")
        if backend is not self.backend:
            raise TypeError(f"{name}: argument 'sequence_length' is on {backend.name} but 'x' is on "
                            f"{self.backend.name}")
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"{name}: argument 'sequence_length' must have an integer dtype, got {lengths.dtype}")
        if tuple(lengths.shape) != (self.b,):
            raise ValueError(f"{name}: argument 'sequence_length' has shape {tuple(lengths.shape)}, expected "
                             f"({self.b},) (one length per sample)")
        host = backend.to_numpy(lengths)
        if host.size and (host.min() < 0 or host.max() > self.t):
            raise ValueError(f"{name}: argument 'sequence_length' must hold lengths in [0, {self.t}], got values "
                             f"in [{host.min()}, {host.max()}]")
        return self.backend.asarray(host.astype(np.int32))

    # ---- the layers' pieces

    def layer_weights(self, layer: int, d: int) -> list:
        k = 4 * (layer * self.dirs + d)
        return self.weights[k:k + 4]

    def layer_in(self, layer: int) -> int:
        return self.n_in if layer == 0 else self.dirs * self.h

    def problem(self, op_name: str, layer: int, d: int) -> Problem:
        return problem_for(op_name, self.backend.name, self.dtype, (self.t, self.b, self.layer_in(layer), self.h),
                           self.mode, d == 1, self.lengths is not None, self.name == "rnn")

    def reserve_layout(self) -> tuple[dict, int]:
        """Offsets (in elements of x's dtype) of the seed, each layer's input above the
        first, and each layer and direction's workspace, and the total."""
        itemsize = np.dtype(self.dtype).itemsize
        offset, parts = 8 // itemsize, {}
        ws = layout(self.mode, self.t, self.b, self.h)["size"][0]
        for layer in range(self.layers):
            if layer:
                parts[("input", layer)] = offset
                offset += self.t * self.b * self.dirs * self.h
            for d in range(self.dirs):
                parts[("ws", layer, d)] = offset
                offset += ws
        return parts, offset

    def dropout_offset(self, layer: int) -> int:
        return (layer - 1) * self.t * self.b * self.dirs * self.h


def _time_major(backend, a: Any, time_major: bool) -> Any:
    return backend.ascontiguous(a if time_major else a.transpose((1, 0, 2)))


def _concat(pieces: list, backend) -> Any:
    """The directions' (T, B, H) outputs side by side: (T, B, D*H)."""
    if len(pieces) == 1:
        return pieces[0]
    from ..stack import stack

    t, b, h = pieces[0].shape
    return stack(pieces, axis=2).reshape(t, b, len(pieces) * h)


def _split(a: Any, dirs: int, h: int, backend) -> list:
    if dirs == 1:
        return [a]
    t, b, _ = a.shape
    parts = a.reshape(t, b, dirs, h)
    return [backend.ascontiguous(parts[:, :, d, :]) for d in range(dirs)]


def _forward(name, mode, x, weights, h0, c0, num_layers, direction, time_major, sequence_length, dropout, training,
             seed):
    from ..dropout import dropout_forward, next_seed
    from ..stack import stack

    call = _Call(name, mode, x, weights, h0, c0, num_layers, direction, time_major, sequence_length, dropout,
                 training, seed)
    backend, dtype = call.backend, np.dtype(call.dtype)
    parts, total = call.reserve_layout()
    buf = backend.empty((total,), dtype)
    seed = call.seed if call.seed is not None else next_seed() if call.dropout else 0
    backend.copy_into(buf[:8 // dtype.itemsize], backend.asarray(np.array([seed], np.uint64).view(dtype)))
    ws_size = layout(call.mode, call.t, call.b, call.h)["size"][0]
    zeros = None
    inp = _time_major(backend, x, call.time_major)
    hn, cn = [], []
    for layer in range(call.layers):
        if layer:
            if call.dropout:
                inp = dropout_forward(inp, call.dropout, seed, call.dropout_offset(layer), keep_mask=False)[0]
            start = parts[("input", layer)]
            backend.copy_into(buf[start:start + inp.size].reshape(inp.shape), inp)
        ys = []
        for d in range(call.dirs):
            k = layer * call.dirs + d
            if zeros is None and (call.h0 is None or (call.lstm and call.c0 is None)):
                zeros = backend.asarray(np.zeros((call.b, call.h), dtype))
            states = [call.h0[k] if call.h0 is not None else zeros]
            if call.lstm:
                states.append(call.c0[k] if call.c0 is not None else zeros)
            lengths = () if call.lengths is None else (call.lengths,)
            problem = call.problem("rnn", layer, d)
            launcher = dispatch.select(RNN, problem).launcher
            start = parts[("ws", layer, d)]
            out = launcher(inp, *call.layer_weights(layer, d), *states, *lengths, out=buf[start:start + ws_size])
            ys.append(out[0])
            hn.append(out[1])
            if call.lstm:
                cn.append(out[2])
        inp = _concat(ys, backend)
    y = inp if call.time_major else backend.ascontiguous(inp.transpose((1, 0, 2)))
    h_n = stack(hn, axis=0)
    c_n = stack(cn, axis=0) if call.lstm else None
    return y, h_n, c_n, buf.view(np.uint8)


def rnn(mode: str, x: Any, weights: Any, h0: Any = None, c0: Any = None, num_layers: int = 1,
        direction: str = "forward", time_major: bool = False, sequence_length: Any = None, dropout: float = 0.0,
        training: bool = False, seed: int | None = None):
    """A multi-layer RNN (see the module docstring): (y, h_n), or (y, (h_n, c_n)) for LSTM."""
    y, h_n, c_n, _ = _forward("rnn", mode, x, weights, h0, c0, num_layers, direction, time_major, sequence_length,
                              dropout, training, seed)
    return (y, (h_n, c_n)) if mode == "LSTM" else (y, h_n)


def rnn_train(mode: str, x: Any, weights: Any, h0: Any = None, c0: Any = None, num_layers: int = 1,
              direction: str = "forward", time_major: bool = False, sequence_length: Any = None,
              dropout: float = 0.0, training: bool = False, seed: int | None = None):
    """rnn's outputs flat, with what the backward reads: (y, h_n, c_n or None, reserve)."""
    return _forward("rnn_train", mode, x, weights, h0, c0, num_layers, direction, time_major, sequence_length,
                    dropout, training, seed)


# ---- the backward -------------------------------------------------------------------

_NAMES = ("mode", "x", "weights", "h0", "c0", "num_layers", "direction", "time_major", "sequence_length", "dropout",
          "training", "seed")
_DEFAULTS = (None, None, None, None, None, 1, "forward", False, None, 0.0, False, None)


def _bound(args: tuple, kwargs: dict) -> dict:
    bound = dict(zip(_NAMES, _DEFAULTS))
    bound.update(zip(_NAMES, args))
    bound.update(kwargs)
    return bound


def _backward(args: tuple, kwargs: dict, out: tuple, dout: tuple) -> tuple:
    """(dx, dweights, dh0, dc0) from rnn_train's outputs `out` and their gradients
    (dy, dh_n, dc_n; None for one that received none)."""
    from ..dropout import dropout_backward
    from ..elementwise import add
    from ..stack import stack

    a = _bound(args, kwargs)
    call = _Call("rnn_train", a["mode"], a["x"], a["weights"], a["h0"], a["c0"], a["num_layers"], a["direction"],
                 a["time_major"], a["sequence_length"], a["dropout"], a["training"], a["seed"])
    backend, dtype = call.backend, np.dtype(call.dtype)
    buf = out[3].view(dtype)
    parts, _ = call.reserve_layout()
    seed = int(backend.to_numpy(buf[:8 // dtype.itemsize]).view(np.uint64)[0]) if call.dropout else 0
    ws_size = layout(call.mode, call.t, call.b, call.h)["size"][0]
    dy_out, dh_n, dc_n = dout[0], dout[1], dout[2] if call.lstm else None
    zeros_state = lambda: backend.asarray(np.zeros((call.b, call.h), dtype))  # noqa: E731
    if dy_out is None:
        dy = backend.asarray(np.zeros((call.t, call.b, call.dirs * call.h), dtype))
    else:
        dy = _time_major(backend, dy_out, call.time_major)
    x_tm = _time_major(backend, a["x"], call.time_major)
    lengths = () if call.lengths is None else (call.lengths,)
    dweights: list = [None] * len(call.weights)
    dh0: list = [None] * (call.layers * call.dirs)
    dc0: list = [None] * (call.layers * call.dirs)
    dx = None
    for layer in reversed(range(call.layers)):
        if layer:
            start = parts[("input", layer)]
            inp = buf[start:start + call.t * call.b * call.dirs * call.h].reshape(call.t, call.b, call.dirs * call.h)
        else:
            inp = x_tm
        dys = _split(dy, call.dirs, call.h, backend)
        dx = None
        for d in range(call.dirs):
            k = layer * call.dirs + d
            w_ih, w_hh = call.layer_weights(layer, d)[:2]
            start = parts[("ws", layer, d)]
            grads_in = [backend.ascontiguous(dh_n[k]) if dh_n is not None else zeros_state()]
            if call.lstm:
                grads_in.append(backend.ascontiguous(dc_n[k]) if dc_n is not None else zeros_state())
            problem = call.problem("rnn_grad", layer, d)
            forward = dispatch.select(RNN, call.problem("rnn", layer, d))
            launcher = dispatch.select_paired(RNN_GRAD, problem, forward).launcher
            g = launcher(inp, w_ih, w_hh, buf[start:start + ws_size], dys[d], *grads_in, *lengths)
            dx = g[0] if dx is None else add(dx, g[0])
            dweights[4 * k:4 * k + 4] = g[1:5]
            dh0[k] = g[5]
            if call.lstm:
                dc0[k] = g[6]
        if layer:
            dy = dropout_backward(dx, call.dropout, seed=seed, offset=call.dropout_offset(layer)) \
                if call.dropout else dx
    dx = dx if call.time_major else backend.ascontiguous(dx.transpose((1, 0, 2)))
    dweights = [g.reshape(w.shape) for g, w in zip(dweights, call.weights)]
    # An initial state not given (zeros) has no gradient to return.
    return (dx, dweights, None if a["h0"] is None else stack(dh0, axis=0),
            stack(dc0, axis=0) if a["c0"] is not None else None)


def _derivative(args, kwargs, out, dout):
    return _backward(args, kwargs, out, dout)


# ---- the public functions' declarations ------------------------------------------

# (mode, layers, direction, time_major, h0/c0, lengths, dropout): a sampled grid, small
# because the finite-difference test perturbs every element of every weight
_SAMPLES = (("LSTM", 1, "bidirect", False, True, True, 0.0), ("GRU", 2, "forward", True, False, True, 0.0),
            ("RNN_TANH", 2, "forward", False, True, False, 0.5),
            ("RNN_RELU", 1, "bidirectional", True, True, False, 0.0))


def _samples(dtype: str, rng: np.random.Generator):
    t, b, n_in, h = 3, 2, 2, 2
    for mode, layers, direction, time_major, states, masked, p in _SAMPLES:
        dirs = DIRECTIONS[direction]
        g = GATES[mode] * h
        x = rng.standard_normal((t, b, n_in) if time_major else (b, t, n_in)).astype(dtype)
        weights = []
        for layer in range(layers):
            for _ in range(dirs):
                size = n_in if layer == 0 else dirs * h
                weights += [rng.uniform(-0.7, 0.7, s).astype(dtype) for s in ((g, size), (g, h), (g,), (g,))]
        h0 = rng.standard_normal((layers * dirs, b, h)).astype(dtype) if states else None
        c0 = rng.standard_normal((layers * dirs, b, h)).astype(dtype) if states and mode == "LSTM" else None
        lengths = np.array([t, 1], np.int64) if masked else None
        kwargs = {"dropout": p, "training": True, "seed": 11} if p else {}
        # arrays positional: the generic tests move positional arrays to each device
        yield Sample((mode, x, weights, h0, c0, layers, direction, time_major, lengths), kwargs)


_INPUTS = (Input("mode", ()), Input("x", DTYPES))
register_function(
    Function("rnn", rnn, ("rnn",), _INPUTS, _samples, dtypes=DTYPES),
    Function("rnn_train", rnn_train, ("rnn", "rnn_grad"), _INPUTS, _samples, dtypes=DTYPES,
             derivative=Derivative((1, 2, 3, 4), _derivative, saves=("inputs", "output"))),
)

__all__ = ["rnn", "rnn_train", "RNN", "RNN_GRAD", "MODES"]
