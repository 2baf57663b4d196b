"""Reference reductions over axis 1 of a contiguous (outer, n, inner) array: float64 NumPy
(integers exactly, in int64, wrapping as the kernels do), the result rounded to the
output's dtype (a float32 sum that overflows is inf in float32) and returned as float64
for the comparison; max / min / argmax exactly, in x's dtype (indices int64)."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def forward(problem: Problem, x: np.ndarray) -> np.ndarray:
    op = problem.flag("op")
    with np.errstate(all="ignore"):
        if op in ("sum", "mean"):
            if x.dtype.kind in "biu":
                return x.astype(np.int64).sum(axis=1)
            total = x.astype(np.float64).sum(axis=1)
            value = total / x.shape[1] if op == "mean" else total
            return value.astype(x.dtype).astype(np.float64)
        if op == "argmax":  # NumPy's: the first maximum, a NaN counting as the maximum
            return np.argmax(x, axis=1).astype(np.int64)
        return (np.max if op == "max" else np.min)(x, axis=1)


def backward(problem: Problem, x: np.ndarray, out: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """dx of (outer, n, inner) from out and dout of (outer, 1, inner): dout broadcast (sum),
    divided by n (mean), or where x == out (max, min: every tied position)."""
    op = problem.flag("op")
    d = np.broadcast_to(dout.astype(np.float64), x.shape)
    if op == "sum":
        dx = d
    elif op == "mean":
        dx = d / x.shape[1]
    else:
        dx = np.where(x == out, d, 0.0)
    return dx.astype(x.dtype).astype(np.float64)
