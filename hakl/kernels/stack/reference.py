"""Exact NumPy reference for stack / unstack over the canonical (outer, k, inner) view."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def stack(problem: Problem, *xs: np.ndarray) -> np.ndarray:
    """k arrays of shape (outer, inner) -> (outer, k, inner)."""
    outer, k, inner = problem.shape
    return np.stack(xs, axis=1).reshape(outer, k, inner)


def unstack(problem: Problem, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """(outer, k, inner) -> k contiguous arrays of shape (outer, inner)."""
    return tuple(np.ascontiguousarray(x[:, j, :]) for j in range(x.shape[1]))
