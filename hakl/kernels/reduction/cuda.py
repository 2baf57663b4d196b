"""Reductions on CUDA: CuPy's (the baseline) and the kernels of reduction.cu, compiled by
NVRTC, one module per dtype (the op and the block sizes are run-time arguments).

- rows (inner == 1): chunk_rows, a block per run of `warps` chunks of a row, a warp per
  chunk, then `tree` over the runs: long rows and 1-D arrays are two passes, rows of up
  to warps * 1024 elements one block each. Tunable: warps.
- columns: chunk_cols, a thread per (chunk, output) with 32 lanes in registers, then
  `tree`; any inner, coalesced along inner. Tunable: block.
Both compute the package's fixed tree: the same bits as each other and as the CPU's and
OpenCL's kernels. Never run on a GPU yet (CI compiles every unit with nvcc).
Bytes moved at minimum: x once and the output once; the chunk values add n / 1024.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import FLOATS, Problem, Variant
from . import CHUNK, CODES, LANES, accumulator, baseline, out_dtype

SOURCE = Path(__file__).with_name("reduction.cu")
KIND = {"float16": 0, "float32": 1, "float64": 2}
TREE_BLOCK = 128


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"KIND": KIND[problem.dtype]}


def _functions(problem: Problem, *names: str):
    backend = get_backend("cuda")
    backend.require()
    module = backend.compile(*compile_unit(problem, {}))
    return backend, [module.get_function(name) for name in names]


def _finish(backend, problem: Problem, tree, vals, idx, outer: int, m: int, inner: int, n: int):
    """The tree pass: the output (argmax: int64 indices) of (outer, inner)."""
    op = problem.flag("op")
    cp = backend.cp
    total = outer * inner
    if op == "argmax":
        index = cp.empty((outer, inner), np.int64)
        out = index  # unused by the kernel for argmax
    else:
        out = cp.empty((outer, inner), out_dtype(op, problem.dtype))
        index = idx
    tree((-(-total // TREE_BLOCK),), (TREE_BLOCK,),
         (vals, idx, out, index, np.int64(total), np.int64(m), np.int64(inner), np.int64(n),
          np.int32(CODES[op]), np.int32(op == "mean")))
    return index if op == "argmax" else out


def _rows(problem: Problem, config: dict):
    backend, (chunk, tree) = _functions(problem, "chunk_rows", "tree")
    cp, warps, acc = backend.cp, config["warps"], accumulator(problem.dtype)
    code = np.int32(CODES[problem.flag("op")])
    argmax = problem.flag("op") == "argmax"

    def launch(x):
        outer, n, _ = x.shape
        m = -(-n // CHUNK)
        runs = -(-m // warps)
        vals = cp.empty((outer * runs,), acc)
        idx = cp.empty((outer * runs if argmax else 1,), np.int64)
        chunk((outer * runs,), (LANES * warps,), (x, vals, idx, np.int64(n), np.int64(m), code))
        return _finish(backend, problem, tree, vals, idx, outer, runs, 1, n)

    return launch


def _columns(problem: Problem, config: dict):
    backend, (chunk, tree) = _functions(problem, "chunk_cols", "tree")
    cp, block, acc = backend.cp, config["block"], accumulator(problem.dtype)
    code = np.int32(CODES[problem.flag("op")])
    argmax = problem.flag("op") == "argmax"

    def launch(x):
        outer, n, inner = x.shape
        m = -(-n // CHUNK)
        total = outer * m * inner
        vals = cp.empty((total,), acc)
        idx = cp.empty((total if argmax else 1,), np.int64)
        chunk((backend.blocks(total, block),), (block,),
              (x, vals, idx, np.int64(total), np.int64(n), np.int64(inner), np.int64(m), code))
        return _finish(backend, problem, tree, vals, idx, outer, m, inner, n)

    return launch


def _grad(problem: Problem, config: dict):
    backend, (kernel,) = _functions(problem, "grad")
    op, block = problem.flag("op"), config["block"]
    code, mean = np.int32(0 if op in ("sum", "mean") else 1), np.int32(op == "mean")

    def launch(x, out, dout):
        outer, n, inner = x.shape
        dx = backend.cp.empty(x.shape, x.dtype)
        kernel((backend.one_wave(-(-x.size // block), block),), (block,),
               (x, out, dout, dx, np.int64(x.size), np.int64(n), np.int64(inner), code, mean))
        return dx

    return launch


def _floats(problem: Problem) -> bool:
    return problem.dtype in FLOATS


def variants() -> list[Variant]:
    common = dict(sources=(SOURCE,), compile_unit=compile_unit)
    return [
        # a row of up to 8 chunks in one block; longer ones 8 chunks per block, then the tree
        Variant("rows", "cuda", _rows, space={"warps": (4, 8, 16, 32)}, default=lambda p: {"warps": 8},
                supports=lambda p: _floats(p) and p.shape[2] == 1, **common),
        Variant("columns", "cuda", _columns, space={"block": (128, 256)}, default=lambda p: {"block": 256},
                supports=_floats, **common),
        Variant("cupy", "cuda", baseline.forward("cupy"), baseline=True),
    ]


def grad_variants() -> list[Variant]:
    return [
        Variant("simple", "cuda", _grad, space={"block": (256,)}, supports=_floats, sources=(SOURCE,),
                compile_unit=compile_unit),
        Variant("cupy", "cuda", baseline.backward("cupy"), baseline=True),
    ]
