"""dropout on OpenCL: dropout.cl (with philox.cuh prepended), one source for PoCL
on CPUs and the NVIDIA driver on GPUs; one program per dtype serves every variant
and configuration (the tunables are launch sizes).

- simple (baseline): a work-item per element, one Philox call each; the only
  variant for slice dropout (axis=...).
- vec (flat): a work-item takes groups of 4 elements (one Philox call, 4-wide
  loads and stores) in a grid-stride loop; tunables WG (work-group size) and
  PER_ITEM (groups per work-item, which sets the global size).

Bytes moved at minimum: as on the other backends (2 * n * itemsize, + n for a mask).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from .cuda import acc_dtype, key_args
from .reference import mask_elements, slice_meta

HERE = Path(__file__).parent
SOURCES = (HERE / "philox.cuh", HERE / "dropout.cl")
BITS = {"float16": 16, "float32": 32, "float64": 64}
SIMPLE_WG = 64


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return "\n".join(p.read_text() for p in SOURCES)


def _kernel(problem: Problem, name: str):
    backend = get_backend("opencl")
    backend.require()
    return backend.kernel(_source(), name, {"DTYPE": BITS[problem.dtype]})


def _meta(backend, problem: Problem, x):
    pattern = problem.flag("slices")
    if not pattern:
        return None, np.int32(0)
    return backend.asarray(slice_meta(x.shape, pattern)).data, np.int32(len(pattern))


def _round_up(n: int, m: int) -> int:
    return max(-(-n // m) * m, m)


def _simple_forward(problem: Problem, config: dict):
    kernel = _kernel(problem, "dropout_simple")
    acc, store, backend = acc_dtype(problem), problem.flag("mask"), get_backend("opencl")

    def launch(x, p: float, seed: int, offset: int, scale: float):
        n = x.size
        out = backend.empty(x.shape, x.dtype)
        mask = backend.empty((mask_elements(x.shape, problem.flag("slices")),), np.uint8) if store else None
        meta, ndim = _meta(backend, problem, x)
        kernel(backend.queue, (_round_up(n, SIMPLE_WG),), (SIMPLE_WG,), *backend.at(x), out.data,
               None if mask is None else mask.data, np.int64(n), *key_args(p, seed, offset), acc(scale),
               np.int32(store), meta, ndim)
        return (out, mask) if store else out

    return launch


def _vec_global(n: int, config: dict) -> int:
    return _round_up(max(-(-(n // 4) // config["PER_ITEM"]), 4), config["WG"])


def _vec_forward(problem: Problem, config: dict):
    kernel = _kernel(problem, "dropout_vec")
    acc, store, backend = acc_dtype(problem), problem.flag("mask"), get_backend("opencl")

    def launch(x, p: float, seed: int, offset: int, scale: float):
        n = x.size
        out = backend.empty(x.shape, x.dtype)
        mask = backend.empty((n,), np.uint8) if store else None
        kernel(backend.queue, (_vec_global(n, config),), (config["WG"],), *backend.at(x), out.data,
               None if mask is None else mask.data, np.int64(n), *key_args(p, seed, offset), acc(scale),
               np.int32(store))
        return (out, mask) if store else out

    return launch


def _simple_backward(problem: Problem, config: dict):
    kernel = _kernel(problem, "apply_mask_simple")
    acc, backend = acc_dtype(problem), get_backend("opencl")

    def launch(dy, mask, scale: float):
        n = dy.size
        dx = backend.empty(dy.shape, dy.dtype)
        meta, ndim = _meta(backend, problem, dy)
        kernel(backend.queue, (_round_up(n, SIMPLE_WG),), (SIMPLE_WG,), *backend.at(dy), *backend.at(mask), dx.data,
               np.int64(n), acc(scale), meta, ndim)
        return dx

    return launch


def _vec_backward(problem: Problem, config: dict):
    kernel = _kernel(problem, "apply_mask_vec")
    acc, backend = acc_dtype(problem), get_backend("opencl")

    def launch(dy, mask, scale: float):
        n = dy.size
        dx = backend.empty(dy.shape, dy.dtype)
        kernel(backend.queue, (_vec_global(n, config),), (config["WG"],), *backend.at(dy), *backend.at(mask), dx.data,
               np.int64(n), acc(scale))
        return dx

    return launch


SPACE = {"WG": (64, 128, 256), "PER_ITEM": (1, 4, 16)}


def _default(problem: Problem) -> dict:
    gpu = get_backend("opencl").is_gpu()
    return {"WG": 256, "PER_ITEM": 4} if gpu else {"WG": 64, "PER_ITEM": 16}


def _supported(problem: Problem) -> bool:
    backend = get_backend("opencl")
    return problem.dtype in BITS and backend.available and problem.np_dtype in backend.dtypes()


def _variants(vec_build, simple_build) -> list[Variant]:
    return [
        Variant("vec", "opencl", vec_build, space=SPACE, default=_default, sources=SOURCES,
                supports=lambda p: _supported(p) and not p.flag("slices")),
        Variant("simple", "opencl", simple_build, baseline=True, supports=_supported, sources=SOURCES),
    ]


def forward_variants() -> list[Variant]:
    return _variants(_vec_forward, _simple_forward)


def backward_variants() -> list[Variant]:
    return _variants(_vec_backward, _simple_backward)
