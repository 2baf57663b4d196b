"""stack: 16 inputs filling the element budget together, joined along the first, a
middle and the last axis (the last is where peers write uncoalesced), plus many
small inputs."""
from __future__ import annotations

import numpy as np

from .common import Family, case, cycling, import_peer, only_on, torch_sets

CASES = (
    case(-1, parts=16, n=16, axis=0),
    case(-1, parts=16, n=16, axis=-1),
    case(1024, -1, parts=16, n=16, axis=1),
    case(64, 64, n=1024, axis=0),
)


def _inputs(shape, dtype, rng, kwargs):
    return tuple((3 * rng.standard_normal(shape, dtype=np.float32)).astype(dtype) for _ in range(kwargs["n"]))


def _call(stack, *xs, n, axis):
    return stack(list(xs), axis=axis)


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda *xs: torch.stack(xs, kwargs["axis"]))


def _numpy(device, sets, kwargs):
    only_on(device, "cpu", "numpy")
    return cycling(sets, lambda *xs: np.stack(xs, kwargs["axis"]))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    cupy = import_peer("cupy")
    return cycling(sets, lambda *xs: cupy.stack(xs, kwargs["axis"]))


STACK = Family("stack", "stack", "stack", CASES, dtypes=("float32",), inputs=_inputs, call=_call,
               peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy})
Stack, StackSpeedup = STACK.suite()
