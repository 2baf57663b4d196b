"""cast's benchmarks: PaddlePaddle's configs — bool [N, 1785], float16->float32
[30522, 1024], int32->float32 [N, 1, 513, 513] — and every benchmarked pair on a
1-D bandwidth case. The dtype parameter is the pair "source->destination".
Bytes = n * (source itemsize + destination itemsize)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, import_peer, only_on, torch_sets

# PaddlePaddle's configs (shape, source, destination); -1 fills the element budget.
PADDLE = [((-1, 1785), "bool", "float32"), ((30522, 1024), "float16", "float32"),
          ((-1, 1, 513, 513), "int32", "float32")]
PAIRS = ("float32->float16", "float16->float32", "int32->float32", "bool->float32")
CASES = (
    *(case(*shape, dtypes=[f"{src}->{to}"]) for shape, src, to in PADDLE),
    case(-1, quick=True),
)


def _inputs(shape, pair, rng, kwargs):
    src = pair.split("->")[0]
    if src == "bool":
        return (rng.random(shape, dtype=np.float32) < 0.5,)
    if np.dtype(src).kind in "iu":
        return (rng.integers(-1000, 1000, shape).astype(src),)
    return ((100 * rng.standard_normal(shape, dtype=np.float32)).astype(src),)


def _destination(pair: str) -> dict:
    return {"dtype": pair.split("->")[1]}


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    dst = getattr(torch, kwargs["dtype"])
    return cycling(tensors, lambda x: x.to(dst))


def _numpy(device, sets, kwargs):
    only_on(device, "cpu", "numpy")
    return cycling(sets, lambda x: x.astype(kwargs["dtype"]))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    import_peer("cupy")
    return cycling(sets, lambda x: x.astype(kwargs["dtype"]))


GOAL = Goal("cast-cuda", "cuda", ("bool->float32", "float16->float32", "int32->float32", "float32->float16"),
            ("(*, 1785)", "(30522, 1024)", "(*, 1, 513, 513)", "(*,)"), baseline="simple", ratio=1.1,
            promise="cast on GPU: +10%")

BENCHMARKS = (Benchmark("cast", "cast", "cast", CASES, dtypes=PAIRS, host_dtypes=PAIRS, inputs=_inputs,
                        dtype_kwargs=_destination, peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy},
                        goals=(GOAL,)),)
