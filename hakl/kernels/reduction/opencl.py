"""Reductions on OpenCL: the kernels of reduction.cl (one program per dtype; the op and
the work-group sizes are run-time arguments).

- serial (baseline): a work-item per output walks its n elements in order, any dtype.
  (pyopencl.array reduces whole arrays only, not along an axis, and needs
  cl_khr_fp16 for float16, which PoCL lacks: a plain kernel is the baseline here, as
  for elementwise and cast.)
- columns: chunk_cols, a work-item per (chunk, output) with the chunk's 32 lanes in
  registers, then `tree`; any inner (neighbouring work-items on neighbouring columns:
  coalesced on a GPU; on a CPU device a work-item walks a contiguous chunk of a row,
  what PoCL runs best, so it ranks first there). Tunable: wg.
- rows (inner == 1): chunk_rows, a work-group per run of `warps` chunks of a row, a
  work-item per lane (coalesced), then `tree` over the runs (a 1-D array or long rows:
  two passes). Tunables: warps, wg of the tree pass.
Both compute the package's fixed tree: the same bits as each other and as the CPU's
and CUDA's kernels (float16 and float32 accumulate in float32, float64 in double).
Bytes moved at minimum: x once and the output once; the chunk values add n / 1024.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import AFTER_BASELINE, FLOATS, Problem, Variant
from . import CHUNK, CODES, LANES, accumulator, out_dtype

SOURCE = Path(__file__).with_name("reduction.cl")
KIND = {"float16": 0, "float32": 1, "float64": 2, "bool": 3, "int8": 4, "uint8": 5, "int16": 6, "int32": 7,
        "int64": 8}


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def compile_unit(dtype: str) -> tuple[str, dict]:
    backend = get_backend("opencl")
    defines = {"KIND": KIND[dtype]}
    if backend.available and backend.has_fp64():
        defines["FP64"] = 1
    return _source(), defines


def _kernels(dtype: str, *names: str):
    backend = get_backend("opencl")
    backend.require()
    source, defines = compile_unit(dtype)
    return [backend.kernel(source, name, defines) for name in names]


def _padded(count: int, wg: int) -> tuple[int]:
    return (-(-count // wg) * wg,)


class _Launch:
    """What every variant's launcher shares: the op's arguments and the output buffers
    (out in the output dtype, or int64 indices for argmax; integers leave as int64)."""

    def __init__(self, problem: Problem):
        self.backend = get_backend("opencl")
        op = problem.flag("op")
        self.op, self.code = op, np.int32(CODES[op])
        self.mean = np.int32(op == "mean")
        self.result = out_dtype(op, problem.dtype)
        self.stored = np.dtype(np.int64) if problem.np_dtype.kind in "biu" else self.result

    def outputs(self, outer: int, inner: int):
        """(out, index): the buffer the kernel writes and a placeholder for the other."""
        b = self.backend
        if self.op == "argmax":
            index = b.empty((outer, inner), np.int64)
            return b.empty((1,), self.stored), index, index
        out = b.empty((outer, inner), self.stored)
        return out, b.empty((1,), np.int64), out

    def result_of(self, out):
        return out if out.dtype == self.result else out.astype(self.result)


def _serial(problem: Problem, config: dict):
    (kernel,) = _kernels(problem.dtype, "serial")
    run, wg = _Launch(problem), 64

    def launch(x):
        outer, n, inner = x.shape
        out, index, result = run.outputs(outer, inner)
        total = outer * inner
        kernel(run.backend.queue, _padded(total, wg), (wg,), *run.backend.at(x), out.data, index.data,
               np.int64(total), np.int64(n), np.int64(inner), run.code, run.mean)
        return run.result_of(result)

    return launch


def _tree(run: _Launch, tree, vals, idx, out, index, outer: int, m: int, inner: int, n: int, wg: int) -> None:
    total = outer * inner
    tree(run.backend.queue, _padded(total, wg), (wg,), vals.data, idx.data, out.data, index.data, np.int64(total),
         np.int64(m), np.int64(inner), np.int64(n), run.code, run.mean)


def _columns(problem: Problem, config: dict):
    chunk, tree = _kernels(problem.dtype, "chunk_cols", "tree")
    run, wg = _Launch(problem), config["wg"]
    acc = accumulator(problem.dtype)

    def launch(x):
        outer, n, inner = x.shape
        b = run.backend
        m = -(-n // CHUNK)
        total = outer * m * inner
        vals = b.empty((total,), acc)
        idx = b.empty((total if run.op == "argmax" else 1,), np.int64)
        chunk(b.queue, _padded(total, wg), (wg,), *b.at(x), vals.data, idx.data, np.int64(total), np.int64(n),
              np.int64(inner), np.int64(m), run.code)
        out, index, result = run.outputs(outer, inner)
        _tree(run, tree, vals, idx, out, index, outer, m, inner, n, wg)
        return result

    return launch


def _rows(problem: Problem, config: dict):
    chunk, tree = _kernels(problem.dtype, "chunk_rows", "tree")
    run, warps = _Launch(problem), config["warps"]
    acc = accumulator(problem.dtype)
    cl = run.backend.cl
    local = LANES * warps
    scratch = (cl.LocalMemory(local * acc.itemsize), cl.LocalMemory(local * 8))

    def launch(x):
        outer, n, _ = x.shape
        b = run.backend
        m = -(-n // CHUNK)
        runs = -(-m // warps)
        vals = b.empty((outer * runs,), acc)
        idx = b.empty((outer * runs if run.op == "argmax" else 1,), np.int64)
        chunk(b.queue, (outer * runs * local,), (local,), *b.at(x), vals.data, idx.data, np.int64(n), np.int64(m),
              run.code, *scratch)
        out, index, result = run.outputs(outer, 1)
        _tree(run, tree, vals, idx, out, index, outer, runs, 1, n, 64)
        return result

    return launch


def _gpu() -> bool:
    return get_backend("opencl").is_gpu()


def _floats(problem: Problem) -> bool:
    from . import REDUCE_SUM

    return problem.dtype in FLOATS and problem.dtype in REDUCE_SUM.dtypes("opencl")


def variants() -> list[Variant]:
    common = dict(sources=(SOURCE,))
    return [
        # On a CPU device (PoCL, znver3) the serial baseline reduced rows and 1-D inputs at
        # 1.4-2.4x these kernels' speed; columns (inner > 1) beat it (1.15x).
        Variant("rows", "opencl", _rows, space={"warps": (1, 4, 8)}, default=lambda p: {"warps": 8 if _gpu() else 4},
                supports=lambda p: _floats(p) and p.shape[2] == 1, rank=lambda p: 0 if _gpu() else AFTER_BASELINE,
                **common),
        Variant("columns", "opencl", _columns, space={"wg": (64, 256)}, default=lambda p: {"wg": 256 if _gpu() else 64},
                supports=_floats, rank=lambda p: 0 if _gpu() or p.shape[2] > 1 else AFTER_BASELINE, **common),
        Variant("serial", "opencl", _serial, baseline=True, **common),
    ]


def _grad(problem: Problem, config: dict):
    (kernel,) = _kernels(problem.dtype, "grad")
    op, wg = problem.flag("op"), 64
    code, mean = np.int32(0 if op in ("sum", "mean") else 1), np.int32(op == "mean")
    backend = get_backend("opencl")

    def launch(x, out, dout):
        outer, n, inner = x.shape
        dx = backend.empty(x.shape, x.dtype)
        kernel(backend.queue, _padded(x.size, wg), (wg,), *backend.at(x), *backend.at(out), *backend.at(dout), dx.data,
               np.int64(x.size), np.int64(n), np.int64(inner), code, mean)
        return dx

    return launch


def grad_variants() -> list[Variant]:
    # One pass, an element per work-item: what the gradient's broadcast needs.
    return [Variant("simple", "opencl", _grad, baseline=True, sources=(SOURCE,))]
