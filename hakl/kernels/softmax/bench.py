"""softmax's benchmarks: PaddlePaddle 2.0's softmax configs plus rows of 32 to 262144
columns filling the device's element budget (the row length decides which kernel
serves it), and the backward; `hakl bench` and the asv suite read these."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, import_peer, only_on, torch_sets

# PaddlePaddle 2.0's softmax benchmark configs: (shape, axis)
PADDLE = [((16384, 1000), -1), ((32, 12, 128, 128), -1), ((15, 16, 33, 33), -1),
          ((128, 128, 16, 16), 0), ((512, 896, 4, 12), 1)]
ROWS = (32, 128, 1024, 4096, 32768, 262144)

CASES = (
    *(case(*shape, axis=axis, quick=True) for shape, axis in PADDLE),
    *(case(-1, cols, axis=-1, quick=cols == 1024) for cols in ROWS),
    case(1024, -1, axis=0),
)
GRAD_CASES = (case(-1, 1024, axis=-1, quick=True), case(1024, -1, axis=0), case(32, 12, 128, 128, axis=-1))


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda x: torch.softmax(x, kwargs["axis"]))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    special = import_peer("cupyx.scipy.special")
    return cycling(sets, lambda x: special.softmax(x, axis=kwargs["axis"]))


def _grad_inputs(shape, dtype, rng, kwargs):
    x = 3 * rng.standard_normal(shape, dtype=np.float32)
    e = np.exp(x - x.max(axis=kwargs["axis"], keepdims=True))
    y = e / e.sum(axis=kwargs["axis"], keepdims=True)
    return y.astype(dtype), rng.standard_normal(shape, dtype=np.float32).astype(dtype)


def _torch_grad(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    axis = kwargs["axis"]
    return cycling(tensors, lambda y, dy: torch._softmax_backward_data(dy, y, axis, y.dtype))


LAST_AXIS = Goal(
    "softmax-cuda-last-axis", "cuda", ("float32", "float16"),
    ("(16384, 1000) axis=-1", "(32, 12, 128, 128) axis=-1", "(15, 16, 33, 33) axis=-1",
     *(f"(*, {cols}) axis=-1" for cols in ROWS)),
    baseline="cupy", ratio=3.0, promise="softmax forward on GPU along the last axis: 3x to 96x faster")

BENCHMARKS = (
    Benchmark("softmax", "softmax", "softmax", CASES, peers={"torch": _torch, "cupy": _cupy}, goals=(LAST_AXIS,)),
    Benchmark("softmax_grad", "softmax_grad", "softmax", GRAD_CASES, inputs=_grad_inputs,
              peers={"torch": _torch_grad}),
)
