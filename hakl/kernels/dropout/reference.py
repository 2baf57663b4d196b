"""float64 references for dropout and its stored-mask backward.

x arrives flat (n,) or, for slice dropout, reshaped to merged dims whose kinds
the "slices" flag spells ('k': a mask dim, 'a': a broadcast dim). The mask is
Philox's keep decision of mask element j, the row-major index over the 'k' dims.
"""
from __future__ import annotations

import numpy as np

from ...op import Problem
from . import philox


def mask_shape(problem: Problem, shape: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """The mask's shape broadcast against the (merged) input of `shape` (a launcher's
    argument's: one launcher serves its bucket; default the problem's): 1 on broadcast dims."""
    pattern, shape = problem.flag("slices"), problem.shape if shape is None else shape
    if not pattern:
        return shape
    return tuple(d if kind == "k" else 1 for d, kind in zip(shape, pattern))


def mask_size(problem: Problem) -> int:
    return mask_elements(problem.shape, problem.flag("slices"))


def mask_elements(shape: tuple[int, ...], pattern: str) -> int:
    """Elements of the mask of an input of (merged) `shape`: the product of its 'k' dims."""
    if not pattern:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([d for d, kind in zip(shape, pattern) if kind == "k"], dtype=np.int64))


def forward(problem: Problem, x: np.ndarray):
    """x * (scale where kept, else 0); with the "mask" flag also the keep mask (0/1)."""
    prm = dict(problem.params)
    keep = philox.keep_mask(prm["seed"], prm["offset"], mask_size(problem), prm["p"])
    with np.errstate(invalid="ignore"):  # a dropped inf is NaN
        out = x.astype(np.float64) * np.where(keep, prm["scale"], 0.0).reshape(mask_shape(problem))
    return (out, keep.astype(np.float64)) if problem.flag("mask") else out


def backward(problem: Problem, dy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """dx = dy * (scale where the stored mask keeps, else 0)."""
    scale = dict(problem.params)["scale"]
    with np.errstate(invalid="ignore"):
        return dy.astype(np.float64) * np.where(mask != 0, scale, 0.0).reshape(mask_shape(problem))


def slice_meta(shape: tuple[int, ...], pattern: str) -> np.ndarray:
    """What the device kernels read for slice dropout: the merged sizes, then each
    dim's stride in the mask (0 for a broadcast dim)."""
    strides, step = [0] * len(shape), 1
    for d in reversed(range(len(shape))):
        if pattern[d] == "k":
            strides[d], step = step, step * shape[d]
    return np.array(list(shape) + strides, np.int64)
