"""matmul baseline: the array module's matmul, written once over the module (NumPy's
BLAS is the CPU baseline, CuPy's cuBLAS the CUDA one). The launcher gets the canonical
operands (hakl.kernels.matmul: contiguous, batch axes of 1 where broadcast, transposed
as the problem's flags say), which both modules broadcast and read transposed as views."""
from __future__ import annotations

import contextlib
from importlib import import_module

import numpy as np

from ...op import Problem
from .reference import logical


def matmul(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        ta, tb = problem.flag("ta"), problem.flag("tb")
        # NumPy's float16 (and ml_dtypes' bfloat16) matmul is a loop of its own, not BLAS:
        # float32 BLAS, rounded once. (CuPy's cuBLAS GemmEx takes float16 and accumulates in
        # float32 itself.)
        narrow = np.dtype(problem.dtype) if module == "numpy" and problem.dtype in ("float16", "bfloat16") else None
        quiet = (lambda: np.errstate(all="ignore")) if module == "numpy" else contextlib.nullcontext

        def launch(a, b, out=None):  # out: the (M, N) product's buffer, where the caller has one
            with quiet():  # NaN and inf inputs propagate as IEEE says, without NumPy's warnings
                if narrow is not None:
                    wide = np.matmul(logical(np, a.astype(np.float32), ta), logical(np, b.astype(np.float32), tb))
                    if out is None:
                        return wide.astype(narrow)
                    out[...] = wide
                    return out
                return xp.matmul(logical(xp, a, ta), logical(xp, b, tb), out=out)

        return launch

    return build
