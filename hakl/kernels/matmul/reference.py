"""Reference matmul: float64 NumPy on the problem's operands (transposed as its flags
say, batch dimensions broadcast), the result rounded to the problem's dtype (a float16
product that overflows is inf, as the kernels' is) and returned as float64."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def logical(xp, x, transposed: bool):
    """The operand as the product reads it: its last two axes swapped when `transposed`."""
    return xp.swapaxes(x, -1, -2) if transposed else x


def forward(problem: Problem, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = np.matmul(logical(np, a.astype(np.float64), problem.flag("ta")),
                        logical(np, b.astype(np.float64), problem.flag("tb")))
        return out.astype(problem.dtype).astype(np.float64)
