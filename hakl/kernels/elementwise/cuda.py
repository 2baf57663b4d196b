"""elementwise on CUDA: CuPy's arithmetic (the baseline) and the kernels of
elementwise.cu, compiled by NVRTC, one module per (dtype, ITEMS); the op is a
run-time argument. The comparisons (the compare op) run the same kernels' cmp_* entry
points, which write bool.

- vec: same-shape inputs and a scalar operand (patterns "b", "x", "y"): 16-byte
  packs, ITEMS packs per thread, one wave of blocks (flat1_* where a pointer is not
  16-byte aligned); tunables block, ITEMS.
- broadcast: any pattern (rows x last axis, strides 0 where broadcast); tunables block, ITEMS.

Bytes moved at minimum: the output and each input once (a comparison's output: a byte each).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...backends.cuda import STORAGE_HEADER, source_with_storage
from ...op import Problem, Variant
from . import baseline, kernel_code, output_dtype
from .cpu import strides

SOURCE = Path(__file__).with_name("elementwise.cu")
KIND = {"float16": 0, "float32": 1, "float64": 2, "int32": 3, "int64": 4}
MAX_GRID_Y = 65535


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return source_with_storage(SOURCE)


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"KIND": KIND[problem.dtype], "ITEMS": config.get("items", 1)}


def _module(problem: Problem, config: dict):
    backend = get_backend("cuda")
    backend.require()
    return backend, backend.compile(*compile_unit(problem, config))


def _prefix(problem: Problem) -> str:
    """The entry points' prefix: the comparisons' kernels write bool."""
    return "cmp_" if problem.op == "compare" else ""


def _vec(problem: Problem, config: dict):
    backend, module = _module(problem, config)
    cp = backend.cp
    prefix = _prefix(problem)
    fns = {name: module.get_function(prefix + name) for name in
           ("flat_bb", "flat_bs", "flat_sb", "flat1_bb", "flat1_bs", "flat1_sb")}
    op, block, items = np.int32(kernel_code(problem)), config["block"], config["items"]
    vw, out_dtype = 16 // problem.np_dtype.itemsize, output_dtype(problem)

    def launch(x, y):
        n = max(x.size, y.size)
        out = cp.empty((n,), out_dtype)
        full_x, full_y = x.size == n, y.size == n
        kind = "bb" if full_x and full_y else ("bs" if full_x else "sb")
        aligned = all(a.data.ptr % 16 == 0 for a in (x, y, out))
        name = ("flat_" if aligned else "flat1_") + kind
        per_block = block * items * (vw if aligned else 1)
        fns[name]((backend.one_wave(-(-n // per_block), block),), (block,), (x, y, out, np.int64(n), op))
        return out.reshape(tuple(max(a, b) for a, b in zip(x.shape, y.shape)))

    return launch


def _broadcast(problem: Problem, config: dict):
    backend, module = _module(problem, config)
    cp = backend.cp
    fn = module.get_function(_prefix(problem) + "bcast")
    op, block, items = np.int32(kernel_code(problem)), config["block"], config["items"]
    out_dtype = output_dtype(problem)

    def launch(x, y):
        shape = tuple(max(a, b) for a, b in zip(x.shape, y.shape))
        out = cp.empty(shape, out_dtype)
        pad = 4 - len(shape)
        d = (1,) * pad + shape
        xs = (0,) * pad + tuple(strides(x.shape, shape))
        ys = (0,) * pad + tuple(strides(y.shape, shape))
        rows = d[0] * d[1] * d[2]
        gx = backend.blocks(-(-d[3] // (block * items)), block)
        fn((gx, min(rows, MAX_GRID_Y)), (block,),
           (x, y, out, *(np.int64(v) for v in (rows, d[1], d[2], d[3], *xs, *ys)), op))
        return out

    return launch


def _kernels() -> list[Variant]:
    common = dict(sources=(STORAGE_HEADER, SOURCE), compile_unit=compile_unit)
    return [
        Variant("vec", "cuda", _vec, space={"block": (128, 256, 512), "items": (1, 4)},
                default=lambda p: {"block": 256, "items": 4}, supports=lambda p: len(p.shape) == 1, **common),
        Variant("broadcast", "cuda", _broadcast, space={"block": (128, 256), "items": (1, 4)},
                default=lambda p: {"block": 256, "items": 4}, **common),
    ]


def variants() -> list[Variant]:
    return [*_kernels(), Variant("cupy", "cuda", baseline.arithmetic("cupy"), baseline=True)]


def compare_variants() -> list[Variant]:
    return [*_kernels(), Variant("cupy", "cuda", baseline.comparison("cupy"), baseline=True)]
