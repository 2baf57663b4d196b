"""The reference for cast is NumPy's own conversion: `astype`.

Integer -> integer wraps (two's complement), integer -> float and float -> float
round to nearest even (overflow gives inf), anything -> bool is `!= 0` (NaN is
True), bool -> anything is 0 / 1, float -> int truncates toward zero. Float -> int
out of the target's range and NaN -> int are undefined in C; hakl gives one rule
on every backend (see hakl/kernels/cast/__init__.py), which is what NumPy gives on
x86-64, but the conformance set keeps such inputs out. A bfloat16 source converts as
the float32 of its value (exact), as hakl's kernels do: ml_dtypes' own bfloat16 -> int
is C's undefined conversion.
"""
from __future__ import annotations

import numpy as np

from ...op import Problem


def forward(problem: Problem, x: np.ndarray) -> np.ndarray:
    if problem.dtype == "bfloat16":
        x = x.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(problem.flag("to"))
