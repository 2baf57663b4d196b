"""activation's benchmarks (issue 14): relu and gelu (exact) on 16M elements (the -1
case on a CPU's element budget) and on a 4x8 array (per-call overhead). Peers: torch
(and NumPy for relu: np.maximum(x, 0); NumPy has no erf)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, case, cycling, import_peer, only_on, torch_sets

CASES = (case(-1, quick=True), case(4, 8))


def _torch(fn):
    def peer(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        f = torch.relu if fn == "relu" else torch.nn.functional.gelu
        return cycling(tensors, f)
    return peer


def _numpy(device, sets, kwargs):
    only_on(device, "cpu", "numpy")
    return cycling(sets, lambda x: np.maximum(x, 0))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    cupy = import_peer("cupy")
    return cycling(sets, lambda x: cupy.maximum(x, 0))


BENCHMARKS = (
    Benchmark("relu", "relu", "activation", CASES, peers={"torch": _torch("relu"), "numpy": _numpy, "cupy": _cupy}),
    Benchmark("gelu", "gelu", "activation", CASES, peers={"torch": _torch("gelu")}),
)
