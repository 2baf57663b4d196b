"""cast: PaddlePaddle's configs — bool [N, 1785], float16->float32 [30522, 1024],
int32->float32 [N, 1, 513, 513] — and every benchmarked pair on a 1-D bandwidth case.
The dtype parameter is the pair "source->destination"."""
from __future__ import annotations

import numpy as np

from hakl.kernels.cast.bench import PADDLE

from .common import Family, case, cycling, import_peer, only_on, torch_sets

PAIRS = ("float32->float16", "float16->float32", "int32->float32", "bool->float32")
CASES = (
    *(case(*shape, dtypes=[f"{src}->{to}"]) for shape, src, to in PADDLE),
    case(-1),
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


CAST = Family("cast", "cast", "cast", CASES, dtypes=PAIRS, host_dtypes=PAIRS, inputs=_inputs,
              dtype_kwargs=_destination, peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy})
Cast, CastSpeedup = CAST.suite()
