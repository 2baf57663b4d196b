"""Reference activations and their gradients, written once over an array module `xp`
(float64 NumPy for the reference; NumPy and CuPy in the dtype for the baselines).
`erfc` is passed in: NumPy has none (math.erfc, vectorised), CuPy's is in cupyx."""
from __future__ import annotations

import math

import numpy as np

from ...op import Problem

SQRT1_2 = 1.0 / math.sqrt(2.0)
K_TANH = math.sqrt(2.0 / math.pi)  # gelu's tanh approximation
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

np_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def forward(xp, erfc, fn: str, x, alpha=1.0, beta=1.0, threshold=20.0):
    if fn == "relu":
        return xp.where(x > 0, x, xp.where(x != x, x, 0))
    if fn == "tanh":
        return xp.tanh(x)
    if fn == "sigmoid":
        return 1 / (1 + xp.exp(-x))
    if fn == "exp":
        return xp.exp(x)
    if fn == "log":
        return xp.log(x)
    if fn == "sqrt":
        return xp.sqrt(x)
    if fn == "elu":  # NaN in, NaN out (the Paddle 2.0.1 fix)
        return xp.where(x > 0, x, alpha * xp.expm1(x))
    if fn == "gelu":  # x * Phi(x) through erfc, exact for large negative x; gelu(-inf) = 0
        return xp.where(x == -xp.inf, 0, 0.5 * x * erfc(-x * SQRT1_2))
    if fn == "gelu_tanh":  # 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation of 1 + tanh u for x < 0
        return xp.where(x == -xp.inf, 0, x / (1 + xp.exp(-2 * K_TANH * (x + 0.044715 * x * x * x))))
    if fn == "softplus":
        bx = beta * x
        return xp.where(bx > threshold, x, xp.log1p(xp.exp(bx)) / beta)
    raise ValueError(f"unknown activation {fn!r}")


# What each gradient is given: the forward's output (y) or its input (x).
GIVEN = {"relu": "y", "tanh": "y", "sigmoid": "y", "exp": "y", "log": "x", "sqrt": "y", "elu": "x",
         "gelu": "x", "gelu_tanh": "x", "softplus": "x"}


def backward(xp, erfc, fn: str, s, d, alpha=1.0, beta=1.0, threshold=20.0):
    """dx given s (y or x, see GIVEN) and the output gradient d."""
    if fn == "relu":
        return xp.where(s > 0, d, 0)
    if fn == "tanh":
        return d * (1 - s * s)
    if fn == "sigmoid":
        return d * s * (1 - s)
    if fn == "exp":
        return d * s
    if fn == "log":
        return d / s
    if fn == "sqrt":
        return 0.5 * d / s
    if fn == "elu":
        return xp.where(s > 0, d, d * alpha * xp.exp(s))
    if fn == "gelu":
        return d * (0.5 * erfc(-s * SQRT1_2) + s * INV_SQRT_2PI * xp.exp(-0.5 * s * s))
    if fn == "gelu_tanh":  # beyond |u| = 20, tanh is ±1 in double: the limits d (u > 0) and 0
        u = K_TANH * (s + 0.044715 * s * s * s)
        # 0.5 (1 + tanh u) = g = sigmoid(2u), 0.5 (1 - tanh^2 u) = 2 g (1 - g): no cancellation for u < 0
        g, h = 1 / (1 + xp.exp(-2 * u)), 1 / (1 + xp.exp(2 * u))
        inner = d * (g + 2 * s * g * h * K_TANH * (1 + 3 * 0.044715 * s * s))
        return xp.where(xp.abs(u) > 20, xp.where(u > 0, d, 0), inner)
    if fn == "softplus":
        return xp.where(beta * s > threshold, d, d / (1 + xp.exp(-beta * s)))
    raise ValueError(f"unknown activation {fn!r}")


def _round(problem: Problem, out):
    return np.asarray(out).astype(problem.dtype).astype(np.float64)


def forward_ref(problem: Problem, x, **params):
    with np.errstate(all="ignore"):
        return _round(problem, forward(np, np_erfc, problem.flag("fn"), x.astype(np.float64),
                                       **dict(problem.params)))


def backward_ref(problem: Problem, s, d, **params):
    with np.errstate(all="ignore"):
        return _round(problem, backward(np, np_erfc, problem.flag("fn"), s.astype(np.float64),
                                        d.astype(np.float64), **dict(problem.params)))
