"""elementwise's benchmarks (issue 14): add of 16M float32 same-shape (the -1 case on
a CPU's 16M-element budget), (4096, 4096) + (4096,) broadcast, and a 4x8 add (the
framework's common small call: per-call overhead); greater_than (a bool output)
same-shape and 4x8. Peers: torch and NumPy (CuPy on CUDA). The CPU target (>= torch and
>= 50% of copy bandwidth, 2 threads) is not a baseline ratio, so it is not a Goal here:
notes/elementwise.md has the figures."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, case, cycling, import_peer, only_on, torch_sets

CASES = (
    case(-1, quick=True),
    case(4096, 4096, y="row", quick=True),
    case(4, 8, quick=True),
)


def _inputs(shape, dtype, rng, kwargs):
    x = (3 * rng.standard_normal(shape, dtype=np.float32)).astype(dtype)
    y_shape = shape[-1:] if kwargs.get("y") == "row" else shape
    return x, (3 * rng.standard_normal(y_shape, dtype=np.float32)).astype(dtype)


def _call(fn, *inputs, **kwargs):
    return fn(*inputs)  # the case's y= names the broadcast, it is not an argument


def _peers(ufunc: str, torch_name: str) -> dict:
    def _torch(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        return cycling(tensors, getattr(torch, torch_name))

    def _numpy(device, sets, kwargs):
        only_on(device, "cpu", "numpy")
        return cycling(sets, getattr(np, ufunc))

    def _cupy(device, sets, kwargs):
        only_on(device, "cuda", "cupy")
        return cycling(sets, getattr(import_peer("cupy"), ufunc))

    return {"torch": _torch, "numpy": _numpy, "cupy": _cupy}


BENCHMARKS = (
    Benchmark("add", "add", "elementwise", CASES, inputs=_inputs, call=_call, peers=_peers("add", "add")),
    Benchmark("greater_than", "greater_than", "elementwise", (case(-1, quick=True), case(4, 8, quick=True)),
              inputs=_inputs, call=_call, peers=_peers("greater", "gt")),
)
