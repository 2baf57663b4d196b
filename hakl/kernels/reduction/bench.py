"""reduction's benchmarks (issue 14): sum, max and mean of 16M float32 in 1-D (the -1
case fills the device's element budget: 16M on a CPU), (4096, 4096) over its last and
its first axis, and (8192, 1024) over the last (a layer_norm-like row of 1024). Peers:
torch and NumPy (CuPy on CUDA). The issue sets no release-note target for reductions,
so there is no Goal; the rows report GB/s and the fraction of copy bandwidth."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, case, cycling, import_peer, only_on, torch_sets

CASES = (
    case(-1, axis=None, quick=True),
    case(4096, 4096, axis=-1, quick=True),
    case(4096, 4096, axis=0, quick=True),
    case(8192, 1024, axis=-1, quick=True),
)
_TORCH = {"sum": "sum", "mean": "mean", "max": "amax"}


def _peers(op: str):
    def torch_peer(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        fn, axis = getattr(torch, _TORCH[op]), kwargs["axis"]
        return cycling(tensors, (lambda t: fn(t)) if axis is None else (lambda t: fn(t, axis)))

    def numpy_peer(device, sets, kwargs):
        only_on(device, "cpu", "numpy")
        fn = getattr(np, op)
        return cycling(sets, lambda x: fn(x, axis=kwargs["axis"]))

    def cupy_peer(device, sets, kwargs):
        only_on(device, "cuda", "cupy")
        fn = getattr(import_peer("cupy"), op)
        return cycling(sets, lambda x: fn(x, axis=kwargs["axis"]))

    return {"torch": torch_peer, "numpy": numpy_peer, "cupy": cupy_peer}


BENCHMARKS = tuple(Benchmark(op, op, "reduction", CASES, peers=_peers(op)) for op in ("sum", "max", "mean"))
