"""Benchmark shapes for softmax: PaddlePaddle's benchmark configs plus a bandwidth set."""
from __future__ import annotations

import numpy as np

from ...bench import BenchCase
from ...op import Problem
from . import _canonical

# PaddlePaddle 2.0's softmax benchmark configs: (shape, axis)
PADDLE = [((16384, 1000), -1), ((32, 12, 128, 128), -1), ((15, 16, 33, 33), -1),
          ((128, 128, 16, 16), 0), ((512, 896, 4, 12), 1)]
GPU_ELEMENTS = 1 << 26  # 64M: 256 MB in fp32, five times the H100's L2
CPU_ELEMENTS = 1 << 24


def _torch_peer(device: str, backward: bool = False):
    """torch on the same (outer, n, inner) inputs, normalising over dim 1."""
    def factory(host):
        import torch

        if device == "cuda":
            import cupy

            tensors = [torch.from_dlpack(cupy.asarray(a)) for a in host]
        else:
            tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in host]
        if backward:
            y, dy = tensors
            return lambda: torch._softmax_backward_data(dy, y, 1, y.dtype)
        return lambda: torch.softmax(tensors[0], 1)
    return factory


def cases(device: str, quick: bool = False, gpu: bool = False) -> list[BenchCase]:
    elements = GPU_ELEMENTS if gpu else CPU_ELEMENTS
    dtypes = ("float32",) if quick or device == "cpu" else ("float32", "float16")
    bandwidth = [((elements // cols, cols), -1) for cols in (32, 128, 1024, 4096, 32768, 262144)]
    bandwidth.append(((1024, elements // 1024), 0))
    shapes = PADDLE + ([] if quick else bandwidth)
    if quick:
        shapes.append(((elements // 1024, 1024), -1))
    out = []
    for dtype in dtypes:
        for shape, axis in shapes:
            ax = axis % len(shape)
            problem = Problem("softmax", device, dtype, _canonical(shape, ax), (("log", False),))
            peers = {"torch": _torch_peer(device)} if device in ("cpu", "cuda") else {}
            out.append(BenchCase(f"{shape} axis={axis}", "softmax", problem, axis, peers))
    for shape, axis in ([((elements // 1024, 1024), -1)] if quick else [((elements // 1024, 1024), -1),
                                                                       ((1024, elements // 1024), 0)]):
        problem = Problem("softmax_grad", device, "float32", _canonical(shape, axis % 2), (("log", False),))
        peers = {"torch": _torch_peer(device, backward=True)} if device in ("cpu", "cuda") else {}
        out.append(BenchCase(f"{shape} axis={axis} backward", "softmax_grad", problem, axis, peers))
    return out
