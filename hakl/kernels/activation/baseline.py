"""activation baselines: the formulas of reference.py over the array module, in the
dtype (float16 in float32). NumPy's erfc is math.erfc vectorised (NumPy has none), so
the NumPy gelu baseline is slow; CuPy's is cupyx.scipy.special.erfc."""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...backends.cpu import quietly
from ...op import Problem
from . import reference


def _erfc(module: str):
    if module == "numpy":
        return lambda v: reference.np_erfc(v).astype(v.dtype)
    from cupyx.scipy.special import erfc

    return erfc


def formulas(module: str, grad: bool):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        erfc, fn, dtype = _erfc(module), problem.flag("fn"), problem.np_dtype
        compute = np.float32 if dtype == np.float16 else dtype

        def launch(*arrays, **params):
            arrays = [a.astype(compute, copy=False) for a in arrays]
            out = (reference.backward if grad else reference.forward)(xp, erfc, fn, *arrays, **params)
            return xp.ascontiguousarray(out.astype(dtype, copy=False))

        return quietly(launch) if module == "numpy" else launch

    return build
