"""softmax on the CPU: NumPy baseline (numba and oneDNN variants join it)."""
from __future__ import annotations

import numpy as np

from ...op import Problem, Variant


def _numpy_forward(problem: Problem, config: dict):
    log = problem.flag("log")
    compute = np.float32 if problem.dtype == "float16" else problem.np_dtype

    def launch(x: np.ndarray) -> np.ndarray:
        x = x.astype(compute, copy=False)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            shifted = x - x.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            y = shifted - np.log(s) if log else e / s
        return y.astype(problem.dtype, copy=False)

    return launch


def _numpy_backward(problem: Problem, config: dict):
    log = problem.flag("log")
    compute = np.float32 if problem.dtype == "float16" else problem.np_dtype

    def launch(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        y, dy = y.astype(compute, copy=False), dy.astype(compute, copy=False)
        if log:
            dx = dy - np.exp(y) * dy.sum(axis=1, keepdims=True)
        else:
            dx = y * (dy - (dy * y).sum(axis=1, keepdims=True))
        return dx.astype(problem.dtype, copy=False)

    return launch


def forward_variants() -> list[Variant]:
    return [Variant("numpy", "cpu", _numpy_forward, baseline=True)]


def backward_variants() -> list[Variant]:
    return [Variant("numpy", "cpu", _numpy_backward, baseline=True)]
