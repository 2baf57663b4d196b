"""argsort forward on 1-D inputs (the release note's 34x case) and on rows."""
from __future__ import annotations

import numpy as np

from .common import Family, case, cycling, import_peer, only_on, torch_sets

CASES = (case(1 << 20, axis=-1), case(-1, axis=-1), case(-1, 1024, axis=-1))


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda x: torch.argsort(x, dim=kwargs["axis"]))


def _numpy(device, sets, kwargs):
    only_on(device, "cpu", "numpy")
    return cycling(sets, lambda x: np.argsort(x, axis=kwargs["axis"]))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    cupy = import_peer("cupy")
    return cycling(sets, lambda x: cupy.argsort(x, axis=kwargs["axis"]))


ARGSORT = Family("argsort", "argsort", "argsort", CASES, dtypes=("float32",),
                 peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy})
Argsort, ArgsortSpeedup = ARGSORT.suite()
