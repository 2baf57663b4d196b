"""stack's benchmarks: 16 inputs filling the element budget together, joined along
the first, a middle and the last axis (the last is where peers write uncoalesced:
PyTorch runs at 4-24% of copy bandwidth there on an H100), many small inputs, and
3000 inputs (the size of the 2.0.2 out-of-bounds fix)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, import_peer, only_on, torch_sets

CASES = (
    case(-1, parts=16, n=16, axis=0, quick=True),
    case(-1, parts=16, n=16, axis=-1, quick=True),
    case(1024, -1, parts=16, n=16, axis=1),
    case(64, 64, n=1024, axis=0),
    case(4096, n=3000, axis=-1),
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


GOAL = Goal("stack-cuda", "cuda", ("float32",), tuple(c.label for c in CASES[:4]), baseline="cupy", ratio=1.5,
            promise="stack on GPU: significantly improved",
            why="cupy.stack (the baseline) launches one copy kernel per input and writes strided for axis=-1 "
                "(PyTorch: 4-24% of bandwidth there); one coalesced kernel at >= 90% of bandwidth is >= 1.5x "
                "for 16 and for 1024 inputs")

BENCHMARKS = (Benchmark("stack", "stack", "stack", CASES, dtypes=("float32",), inputs=_inputs, call=_call,
                        peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy}, goals=(GOAL,)),)
