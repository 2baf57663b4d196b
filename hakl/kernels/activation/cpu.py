"""activations on the CPU: the NumPy formulas (the baseline) and one numba kernel for
every function and its gradient (the function a run-time code, as in elementwise's
kernel), on cast's thread pool; small calls run on the calling thread. float16 as
uint16 bits, computed in float32. Bytes: 2 (forward) or 3 (gradient) x n x itemsize."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...op import Problem, Variant
from ..cast.cpu import parallel_for
from ..elementwise.cpu import _bits, _const, _load, _store
from . import FNS, baseline

_OPTS = dict(cache=True, nogil=True, error_model="numpy")
_K = math.sqrt(2.0 / math.pi)
_S12 = 1.0 / math.sqrt(2.0)
_I2P = 1.0 / math.sqrt(2.0 * math.pi)


@njit(inline="always", **_OPTS)
def _forward(fn, x, alpha, beta, threshold):
    zero = _const(x, 0)
    if fn == 0:
        return x if (x > zero or x != x) else zero
    if fn == 1:
        return math.tanh(x)
    if fn == 2:
        return 1 / (1 + math.exp(-x))
    if fn == 3:
        return math.exp(x)
    if fn == 4:
        return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
    if fn == 5:
        return math.sqrt(x) if x >= 0 else math.nan
    if fn == 6:
        return x if x > zero else alpha * math.expm1(x)
    if fn == 7:
        return zero if x == -math.inf else 0.5 * x * math.erfc(-x * _S12)
    if fn == 8:
        if x == -math.inf:
            return zero
        u = _K * (x + 0.044715 * x * x * x)  # 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation for x < 0
        return x / (1 + math.exp(-2 * u)) if u > -350 else zero * x
    bx = beta * x
    return x if bx > threshold else math.log1p(math.exp(bx)) / beta


@njit(inline="always", **_OPTS)
def _backward(fn, s, d, alpha, beta, threshold):
    zero = _const(d, 0)
    if fn == 0:
        return d if s > 0 else zero
    if fn == 1:
        return d * (1 - s * s)
    if fn == 2:
        return d * s * (1 - s)
    if fn == 3:
        return d * s
    if fn == 4:
        return d / s
    if fn == 5:
        return 0.5 * d / s
    if fn == 6:
        return d if s > 0 else d * alpha * math.exp(s)
    if fn == 7:
        return d * (0.5 * math.erfc(-s * _S12) + s * _I2P * math.exp(-0.5 * s * s))
    if fn == 8:
        u = _K * (s + 0.044715 * s * s * s)
        if abs(u) > 20:  # tanh is ±1: the limits (reference.backward)
            return d if u > 0 else zero
        # 0.5 (1 + tanh u) = g = sigmoid(2u), 0.5 (1 - tanh^2 u) = 2 g (1 - g): no cancellation for u < 0
        g, h = 1 / (1 + math.exp(-2 * u)), 1 / (1 + math.exp(2 * u))
        return d * (g + 2 * s * g * h * _K * (1 + 3 * 0.044715 * s * s))
    return d if beta * s > threshold else d / (1 + math.exp(-beta * s))


@njit(**_OPTS)
def _run_forward(x, out, fn, alpha, beta, threshold, lo, hi):
    a, o = x[lo:hi], out[lo:hi]
    for i in range(o.size):
        v = _load(a, i)
        _store(o, i, _forward(fn, v, _const(v, alpha), _const(v, beta), _const(v, threshold)))


@njit(**_OPTS)
def _run_backward(s, d, out, fn, alpha, beta, threshold, lo, hi):
    a, b, o = s[lo:hi], d[lo:hi], out[lo:hi]
    for i in range(o.size):
        v = _load(a, i)
        _store(o, i, _backward(fn, v, _load(b, i), _const(v, alpha), _const(v, beta), _const(v, threshold)))


def _numba(grad: bool):
    def build(problem: Problem, config: dict):
        fn, grain = np.int64(FNS[problem.flag("fn")]), config["grain"]

        def launch(*arrays, alpha=1.0, beta=1.0, threshold=20.0):
            out = np.empty(arrays[0].shape, arrays[0].dtype)
            n = out.size
            if n:
                kernel = _run_backward if grad else _run_forward
                parallel_for(kernel, n, grain, *(_bits(a) for a in arrays), _bits(out), fn, float(alpha),
                             float(beta), float(threshold))
            return out

        return launch

    return build


def _variants(grad: bool) -> list[Variant]:
    return [
        Variant("numba", "cpu", _numba(grad), space={"grain": (1 << 14, 1 << 16, 1 << 18)},
                default=lambda p: {"grain": 1 << 16}),
        Variant("numpy", "cpu", baseline.formulas("numpy", grad), baseline=True),
    ]


def forward_variants() -> list[Variant]:
    return _variants(False)


def backward_variants() -> list[Variant]:
    return _variants(True)
