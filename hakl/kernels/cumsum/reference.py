"""Reference cumsum over axis 1 of (outer, n, inner): float64 for floats, exact int64 for integers."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def forward(problem: Problem, x: np.ndarray) -> np.ndarray:
    acc = np.int64 if np.dtype(problem.dtype).kind in "iu" else np.float64
    x = x.astype(acc)
    if problem.flag("reverse"):
        x = x[:, ::-1]
    y = np.cumsum(x, axis=1)
    if problem.flag("exclusive"):
        y = np.concatenate([np.zeros_like(y[:, :1]), y[:, :-1]], axis=1)
    if problem.flag("reverse"):
        y = y[:, ::-1]
    return np.ascontiguousarray(y)


def error_ratio(problem: Problem, x: np.ndarray, y: np.ndarray) -> float:
    """max |y - reference| / (eps * S), S the same scan (same direction and exclusivity)
    of |x| and eps that of y's dtype: the precision bound |error| <= c * eps * S holds
    when this is <= c. An element with S == 0 must be exact."""
    eps = float(np.finfo(np.dtype(problem.dtype)).eps)
    err = np.abs(y.astype(np.float64) - forward(problem, x))
    scale = eps * forward(problem, np.abs(x.astype(np.float64)))
    if (err[scale == 0] > 0).any():
        return float("inf")
    return float(np.max(err / np.where(scale == 0, 1.0, scale), initial=0.0))
