"""Benchmark cases for cast: PaddlePaddle's configs plus 1-D bandwidth cases.

Bytes = n * (source itemsize + destination itemsize). Peer: torch's Tensor.to
(and, on CPU, NumPy's astype is the baseline itself).
"""
from __future__ import annotations

import numpy as np

from ...bench import BenchCase, fill
from ...op import Problem

GPU_ELEMENTS = 1 << 26
CPU_ELEMENTS = 1 << 24
# PaddlePaddle's configs (shape, source, destination); -1 fills the element budget.
# The asv suite reads these too.
PADDLE = [((-1, 1785), "bool", "float32"), ((30522, 1024), "float16", "float32"),
          ((-1, 1, 513, 513), "int32", "float32")]


def _torch_peer(device: str, to: str):
    def factory(host):
        import torch

        if device == "cuda":
            import cupy

            x = torch.from_dlpack(cupy.asarray(host[0]))
        else:
            x = torch.from_numpy(np.ascontiguousarray(host[0]))
        target = getattr(torch, to)
        return lambda: x.to(target)
    return factory


def cases(device: str, quick: bool = False, gpu: bool = False) -> list[BenchCase]:
    n = GPU_ELEMENTS if gpu else CPU_ELEMENTS
    paddle = [(fill(shape, n), src, to) for shape, src, to in PADDLE]
    flat = [((n,), "float32", "float16"), ((n,), "float16", "float32"), ((n,), "float32", "int32"),
            ((n,), "int64", "float32")]
    out = []
    for shape, src, to in flat[:1] if quick else paddle + flat:
        size = int(np.prod(shape))
        problem = Problem("cast", device, src, (size,), (("to", to),))
        peers = {"torch": _torch_peer(device, to)} if device in ("cpu", "cuda") else {}
        out.append(BenchCase(f"{list(shape)} {src}->{to}", "cast", problem, None, peers))
    return out
