"""argsort's benchmarks (argsort, sort, argsort_grad): `hakl bench` and the asv suite read these.

PaddlePaddle's own argsort benchmark configs (PaddlePaddle/benchmark's api configs)
could not be read here, so PADDLE holds the release note's case as its targets name
it: 1-D argsort of 1M float32 elements (forward 34x, backward 10x); replace it with
the configs once they are checked. The bandwidth set: 1-D filling the element budget
(4M on CPUs, 64M on GPUs) and 16M, 4096x1024, 65536x64 and 1024x4096 along axis 0,
in float32 and int64, random and already sorted (order=sorted) inputs: NumPy's AVX2
argsort is slowest on sorted rows (numpy#25610).
"""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, import_peer, only_on, torch_sets

PADDLE = [((1048576,), -1)]
SHAPES = (*PADDLE, ((-1,), -1), ((1 << 24,), -1), ((4096, 1024), -1), ((65536, 64), -1), ((1024, 4096), 0))
CASES = (*(case(*shape, axis=axis, quick=i < 2) for i, (shape, axis) in enumerate(SHAPES)),
         *(case(*shape, axis=axis, order="sorted") for shape, axis in SHAPES[1:]))
GRAD_CASES = tuple(case(*shape, axis=axis, quick=i < 2) for i, (shape, axis) in enumerate(SHAPES))
DTYPES = ("float32", "int64")


def _inputs(shape, dtype, rng, kwargs):
    x = (1000 * rng.standard_normal(shape, dtype=np.float32)).astype(dtype)
    if kwargs.get("order") == "sorted":
        x = np.sort(x, axis=kwargs["axis"])
    return (x,)


def _grad_inputs(shape, dtype, rng, kwargs):
    (x,) = _inputs(shape, dtype, rng, kwargs)
    return (rng.standard_normal(shape, dtype=np.float32).astype(dtype),
            np.argsort(x, axis=kwargs["axis"]).astype(np.int64))


def _call(fn, *inputs, axis, order=None):
    return fn(*inputs, axis=axis)


def _peers(kind: str) -> dict:
    def torch_peer(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        fn = torch.argsort if kind == "argsort" else (lambda x, dim: torch.sort(x, dim=dim).values)
        return cycling(tensors, lambda x: fn(x, dim=kwargs["axis"]))

    def numpy_peer(device, sets, kwargs):
        only_on(device, "cpu", "numpy")
        fn = np.argsort if kind == "argsort" else np.sort
        return cycling(sets, lambda x: fn(x, axis=kwargs["axis"]))

    def cupy_peer(device, sets, kwargs):
        only_on(device, "cuda", "cupy")
        cupy = import_peer("cupy")
        fn = cupy.argsort if kind == "argsort" else cupy.sort
        return cycling(sets, lambda x: fn(x, axis=kwargs["axis"]))

    return {"torch": torch_peer, "numpy": numpy_peer, "cupy": cupy_peer}


FORWARD = Goal("argsort-cuda-1d-forward", "cuda", ("float32",), ("(1048576,) axis=-1", "(*,) axis=-1"),
               baseline="cupy", ratio=34.0, promise="argsort of 1-D inputs on GPU: forward 34x faster")
BACKWARD = Goal("argsort-cuda-1d-backward", "cuda", ("float32",), ("(1048576,) axis=-1", "(*,) axis=-1"),
                baseline="cupy", ratio=10.0, promise="argsort of 1-D inputs on GPU: backward 10x faster")

BENCHMARKS = (
    Benchmark("argsort", "argsort", "argsort", CASES, dtypes=DTYPES, host_dtypes=DTYPES, inputs=_inputs,
              call=_call, peers=_peers("argsort"), goals=(FORWARD,)),
    Benchmark("sort", "sort", "argsort", CASES, dtypes=DTYPES, host_dtypes=DTYPES, inputs=_inputs, call=_call,
              peers=_peers("sort")),
    Benchmark("argsort_grad", "argsort_grad", "argsort", GRAD_CASES, dtypes=("float32",), inputs=_grad_inputs,
              call=_call, goals=(BACKWARD,)),
)
