"""cumsum: PaddlePaddle's configs [1700971, 1] and [1700971, 100] along both axes, as the
family declares them ([1700971, 100] on GPUs only: 170M elements), a 1-D scan and
rows/columns filling the element budget."""
from __future__ import annotations

import numpy as np

from hakl.kernels.cumsum.bench import PADDLE

from .common import Family, case, cycling, import_peer, only_on, torch_sets

CASES = (
    *(case(*shape, axis=axis, gpu_only=shape[1] > 1) for shape, axis in PADDLE),
    case(-1, axis=0),
    case(-1, 1024, axis=-1),
    case(1024, -1, axis=0),
)


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda x: torch.cumsum(x, kwargs["axis"]))


def _numpy(device, sets, kwargs):
    only_on(device, "cpu", "numpy")
    return cycling(sets, lambda x: np.cumsum(x, kwargs["axis"]))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    cupy = import_peer("cupy")
    return cycling(sets, lambda x: cupy.cumsum(x, kwargs["axis"]))


CUMSUM = Family("cumsum", "cumsum", "cumsum", CASES, peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy})
Cumsum, CumsumSpeedup = CUMSUM.suite()
