"""dropout on CUDA: dropout.cu (with philox.cuh prepended), compiled by NVRTC.

- simple (baseline): one thread per element and one Philox call per element;
  the only variant for slice dropout (axis=...), whose merged dims it reads from
  a small device array.
- vec (flat inputs): 16-byte loads and stores, one Philox call per 4 elements,
  ITEMS packs in flight per thread, a grid-stride loop over one wave of blocks;
  tunables BLOCK and ITEMS. Inputs not 16-byte aligned (a view into a larger
  buffer) take the same module's simple kernel.

Both draw the same mask for a (seed, offset): the generator is counter based.
Bytes moved at minimum: 2 * n * itemsize, + n for a stored mask (forward); the
stored-mask backward reads dy and the mask and writes dx.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import philox
from .reference import mask_elements, slice_meta

HERE = Path(__file__).parent
SOURCES = (HERE / "philox.cuh", HERE / "dropout.cu")
DTYPE_CODE = {"float16": 0, "float32": 1, "float64": 2}
SIMPLE_BLOCK = 256


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return "\n".join(p.read_text() for p in SOURCES)


def _unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"DTYPE": DTYPE_CODE[problem.dtype], "ITEMS": config.get("ITEMS", 1)}


def _module(problem: Problem, config: dict):
    return get_backend("cuda").compile(*_unit(problem, config))


def acc_dtype(problem: Problem):
    """The type of the kernels' scale argument (what they compute in): dropout.cu and
    dropout.cl take the same."""
    return np.float64 if problem.dtype == "float64" else np.float32


def key_args(p: float, seed: int, offset: int) -> tuple:
    """The Philox key, counter offset and keep threshold as philox.cuh's kernel arguments."""
    k0, k1, o0, o1 = philox.split_key(seed, offset)
    return np.uint32(k0), np.uint32(k1), np.uint32(o0), np.uint32(o1), np.uint64(philox.threshold(p))


def _meta(cp, problem: Problem, x):
    pattern = problem.flag("slices")
    if not pattern:
        return cp.empty(0, cp.int64), np.int32(0)
    return cp.asarray(slice_meta(x.shape, pattern)), np.int32(len(pattern))


def _simple_grid(n: int) -> tuple[int]:
    return (get_backend("cuda").blocks(n, SIMPLE_BLOCK),)


# ---- forward -----------------------------------------------------------------


def _simple_forward(problem: Problem, config: dict):
    import cupy as cp

    fn = _module(problem, {}).get_function("dropout_simple")
    acc, store = acc_dtype(problem), problem.flag("mask")

    def launch(x, p: float, seed: int, offset: int, scale: float):
        out = cp.empty_like(x)
        meta, ndim = _meta(cp, problem, x)
        mask = cp.empty(mask_elements(x.shape, problem.flag("slices")) if store else 0, cp.uint8)
        fn(_simple_grid(x.size), (SIMPLE_BLOCK,), (x, out, mask, np.int64(x.size), *key_args(p, seed, offset),
                                                  acc(scale), np.int32(store), meta, ndim))
        return (out, mask) if store else out

    return launch


def _vec_grid(problem: Problem, n: int, config: dict) -> tuple[int]:
    packs = n // (8 if problem.dtype == "float16" else 4)
    block, items = config["BLOCK"], config["ITEMS"]
    return (get_backend("cuda").one_wave(-(-packs // (block * items)), block),)


def _vec_forward(problem: Problem, config: dict):
    import cupy as cp

    module = _module(problem, config)
    vec, simple = module.get_function("dropout_vec"), module.get_function("dropout_simple")
    acc, store = acc_dtype(problem), problem.flag("mask")
    no_meta = cp.empty(0, cp.int64)

    def launch(x, p: float, seed: int, offset: int, scale: float):
        n = x.size
        out = cp.empty_like(x)
        mask = cp.empty(n if store else 0, cp.uint8)
        args = (x, out, mask, np.int64(n), *key_args(p, seed, offset), acc(scale), np.int32(store))
        if x.data.ptr % 16:
            simple(_simple_grid(n), (SIMPLE_BLOCK,), args + (no_meta, np.int32(0)))
        else:
            vec(_vec_grid(problem, n, config), (config["BLOCK"],), args)
        return (out, mask) if store else out

    return launch


# ---- backward with a stored mask ---------------------------------------------


def _simple_backward(problem: Problem, config: dict):
    import cupy as cp

    fn = _module(problem, {}).get_function("apply_mask_simple")
    acc = acc_dtype(problem)

    def launch(dy, mask, scale: float):
        dx = cp.empty_like(dy)
        meta, ndim = _meta(cp, problem, dy)
        fn(_simple_grid(dy.size), (SIMPLE_BLOCK,), (dy, mask, dx, np.int64(dy.size), acc(scale), meta, ndim))
        return dx

    return launch


def _vec_backward(problem: Problem, config: dict):
    import cupy as cp

    module = _module(problem, config)
    vec, simple = module.get_function("apply_mask_vec"), module.get_function("apply_mask_simple")
    acc = acc_dtype(problem)
    no_meta = cp.empty(0, cp.int64)
    mask_align = 8 if problem.dtype == "float16" else 4

    def launch(dy, mask, scale: float):
        n = dy.size
        dx = cp.empty_like(dy)
        if dy.data.ptr % 16 or mask.data.ptr % mask_align:
            simple(_simple_grid(n), (SIMPLE_BLOCK,), (dy, mask, dx, np.int64(n), acc(scale), no_meta, np.int32(0)))
        else:
            vec(_vec_grid(problem, n, config), (config["BLOCK"],), (dy, mask, dx, np.int64(n), acc(scale)))
        return dx

    return launch


SPACE = {"BLOCK": (128, 256, 512), "ITEMS": (1, 2, 4)}


def _default(problem: Problem) -> dict:
    # On an H100 ITEMS=4 was best or near it in 7 of 8 benchmark cases, BLOCK mattered less.
    return {"BLOCK": 128, "ITEMS": 4}


def _flat(problem: Problem) -> bool:
    return problem.dtype in DTYPE_CODE and not problem.flag("slices")


def _variants(vec_build, simple_build) -> list[Variant]:
    return [
        Variant("vec", "cuda", vec_build, space=SPACE, supports=_flat, default=_default,
                sources=SOURCES, compile_unit=_unit),
        Variant("simple", "cuda", simple_build, baseline=True, supports=lambda p: p.dtype in DTYPE_CODE,
                sources=SOURCES, compile_unit=lambda p, c: _unit(p, {})),
    ]


def forward_variants() -> list[Variant]:
    return _variants(_vec_forward, _simple_forward)


def backward_variants() -> list[Variant]:
    return _variants(_vec_backward, _simple_backward)
