"""float64 NumPy reference for softmax / log_softmax over axis 1 of (outer, n, inner)."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def forward(problem: Problem, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        return shifted - np.log(s) if problem.flag("log") else e / s


def backward(problem: Problem, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dx for softmax: y * (dy - sum(dy * y)); for log_softmax: dy - exp(y) * sum(dy)."""
    y, dy = y.astype(np.float64), dy.astype(np.float64)
    if problem.flag("log"):
        return dy - np.exp(y) * dy.sum(axis=1, keepdims=True)
    return y * (dy - (dy * y).sum(axis=1, keepdims=True))
