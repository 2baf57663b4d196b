"""dropout's benchmarks (training, upscale_in_train): PaddlePaddle's configs
[N, 36864] p=0.5 and [N, 35, 1500] p=0.65, N filling the element budget, and a 1-D
bandwidth case. Bytes = x read + out written. Peers: torch's dropout; on CPU also
NumPy's naive `x * (rng.random(n) >= p) / (1 - p)` (hakl's NumPy baseline runs
Philox in NumPy instead, to draw the same mask as every other variant)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, only_on, torch_sets

# PaddlePaddle's configs (shape, p); -1 fills the element budget.
PADDLE = [((-1, 36864), 0.5), ((-1, 35, 1500), 0.65)]
CASES = (*(case(*shape, p=p) for shape, p in PADDLE), case(-1, p=0.5, quick=True))
SHAPES = tuple(c.label for c in CASES)


def _call(dropout, x, p):
    return dropout(x, p=p, training=True, seed=0)


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda x: torch.nn.functional.dropout(x, kwargs["p"], training=True))


def _numpy_rand(device, sets, kwargs):
    only_on(device, "cpu", "numpy_rand")
    p, rng = kwargs["p"], np.random.default_rng(0)
    scale = np.float32(1 / (1 - p))
    return cycling(sets, lambda x: x * (rng.random(x.shape, dtype=np.float32) >= p) * scale)


GOALS = (
    Goal("dropout-cuda-fp32", "cuda", ("float32",), SHAPES, baseline="simple", ratio=1.2,
         promise="dropout on GPU: +20% in FP32"),
    Goal("dropout-cuda-fp16", "cuda", ("float16",), SHAPES, baseline="simple", ratio=1.5,
         promise="dropout on GPU: +50% in FP16"),
)

BENCHMARKS = (Benchmark("dropout", "dropout", "dropout", CASES, call=_call,
                        peers={"torch": _torch, "numpy_rand": _numpy_rand}, goals=GOALS),)
