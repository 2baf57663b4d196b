"""Reference argsort / sort / scatter backward over axis 1 of (outer, n, inner), in NumPy.

Order (the op's contract, every backend): ascending puts NaN after +inf, descending
before it; -0.0 and +0.0 are equal; stable keeps input order among equal keys in
both directions. The reference states that order once, as order-preserving
unsigned integer keys — the keys the radix variants sort:

- unsigned and bool: the value itself;
- signed integers: the value with its sign bit flipped;
- floats: the bits after canonicalising (-0.0 -> +0.0, every NaN, whatever its
  sign and payload -> the positive quiet NaN, so that a negative NaN does not sort
  before -inf), then positive values get the sign bit set and negative ones all
  bits complemented;
- descending: the complement of the ascending key (a stable sort of complemented
  keys keeps input order among ties, which reversing an ascending sort would not).

The reference is NumPy's stable argsort of those keys; values are x gathered at
the indices (x's own bits: a zero keeps its sign, a NaN its payload).
"""
from __future__ import annotations

import numpy as np

from ...op import Problem

# dtype -> (unsigned view, kind): kind 0 unsigned/bool, 1 signed integer, 2 float
KINDS = {"bool": 0, "uint8": 0, "int8": 1, "int16": 1, "int32": 1, "int64": 1,
         "float16": 2, "float32": 2, "float64": 2}
# float dtype -> (|x| mask, +inf bits, canonical NaN bits) in the unsigned view
FLOAT_BITS = {"float16": (0x7FFF, 0x7C00, 0x7E00), "float32": (0x7FFFFFFF, 0x7F800000, 0x7FC00000),
              "float64": (0x7FFFFFFFFFFFFFFF, 0x7FF0000000000000, 0x7FF8000000000000)}


def unsigned(dtype) -> np.dtype:
    return np.dtype(f"uint{8 * np.dtype(dtype).itemsize}")


def keys(x: np.ndarray, descending: bool = False) -> np.ndarray:
    """Order-preserving unsigned keys of x (same width as x's dtype)."""
    name = np.dtype(x.dtype).name
    u = np.ascontiguousarray(x).view(unsigned(x.dtype))
    ut = u.dtype.type
    sign = ut(1 << (8 * u.dtype.itemsize - 1))
    kind = KINDS[name]
    if kind == 1:
        k = u ^ sign
    elif kind == 2:
        absmask, inf, nan = (ut(v) for v in FLOAT_BITS[name])
        a = u & absmask
        u = np.where(a == 0, ut(0), np.where(a > inf, nan, u))
        k = np.where(u & sign, ~u, u | sign)
    else:
        k = u.copy()
    return ~k if descending else k


def indices(problem: Problem, x: np.ndarray) -> np.ndarray:
    """The stable order of each row along axis 1 (int64)."""
    return np.argsort(keys(x, bool(problem.flag("descending"))), axis=1, kind="stable").astype(np.int64)


def forward(problem: Problem, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices): the argsort op's outputs."""
    idx = indices(problem, x)
    return np.take_along_axis(x, idx, axis=1), idx


def sort(problem: Problem, x: np.ndarray) -> np.ndarray:
    """The sort op's output: the values alone."""
    return forward(problem, x)[0]


def backward(problem: Problem, dy: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """dx[o, idx[o, j, i], i] = dy[o, j, i]: the gradient of the sorted values w.r.t. x."""
    dx = np.zeros_like(dy)
    np.put_along_axis(dx, idx, dy, axis=1)
    return dx
