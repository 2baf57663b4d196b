"""matmul on CUDA: CuPy's matmul on cuBLAS (the baseline; float16 in, float32 accumulation,
CuPy's default compute type) and `skinny`, the kernel of matmul.cu compiled by NVRTC
for M <= 64 (an RNN step's h @ W_hh^T at small batch), one module per (dtype, tile);
the transposes, sizes and batch strides are run-time arguments.

skinny's tile: bm x bn outputs per block, bk of K per shared-memory step, tm x tn per
thread; the tuning space varies bm, bn and tn only (8 configurations: CI compiles every
one with nvcc). The default: 16-row blocks of 128 threads (2 x 4 per thread), 64 columns
wide where that still gives a wave of blocks on the SMs, else 32 (2 x 2 per thread).
Never run on a GPU yet: dispatch verifies it before it serves (cuBLAS serves otherwise).
Bytes moved at minimum: each operand and the result once; 2 M N K flops per batch.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

from ...backends import get as get_backend
from ...backends.cuda import STORAGE_HEADER, source_with_storage
from ...op import Problem, Variant
from . import MATMUL, geometry, baseline

SOURCE = Path(__file__).with_name("matmul.cu")
KIND = {"float16": 0, "float32": 1, "float64": 2}
TILE = ("bm", "bn", "bk", "tm", "tn")
MAX_GRID_Z = 65535
SKINNY_M = 64


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return source_with_storage(SOURCE)


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"KIND": KIND[problem.dtype], **{k.upper(): config[k] for k in TILE}}


def _skinny(problem: Problem, config: dict):
    backend = get_backend("cuda")
    backend.require()
    fn = backend.compile(*compile_unit(problem, config)).get_function("skinny")
    bm, bn = config["bm"], config["bn"]
    threads = (bm // config["tm"]) * (bn // config["tn"])

    def launch(a, b):
        shape, sizes = geometry(problem, a.shape, b.shape)
        out = backend.cp.empty(shape, a.dtype)
        m, n, batches = (int(v) for v in (sizes[0], sizes[1], sizes[7]))
        fn((-(-n // bn), -(-m // bm), min(batches, MAX_GRID_Z)), (threads,), (a, b, out, *sizes))
        return out

    return launch


def _valid(problem: Problem, config: dict) -> bool:
    """Whole warps (64 to 512 threads) and tiles within the static 48 KB of shared memory."""
    bm, bn, bk, tm, tn = (config[k] for k in TILE)
    if bm % tm or bn % tn:
        return False
    threads = (bm // tm) * (bn // tn)
    return threads % 32 == 0 and 64 <= threads <= 512 and bk * (bm + bn + 2) * problem.np_dtype.itemsize <= 48 << 10


def _default(problem: Problem) -> dict:
    *batch, m, n, _ = problem.shape
    wide = -(-m // 16) * -(-n // 64) * math.prod(batch) >= get_backend("cuda").multiprocessors()
    return {"bm": 16, "bn": 64 if wide else 32, "bk": 32, "tm": 2, "tn": 4 if wide else 2}


def _supports_skinny(problem: Problem) -> bool:
    return problem.shape[-3] <= SKINNY_M and problem.dtype in MATMUL.dtypes("cuda")


def variants() -> list[Variant]:
    return [
        Variant("skinny", "cuda", _skinny, default=_default, valid=_valid, supports=_supports_skinny,
                sources=(STORAGE_HEADER, SOURCE), compile_unit=compile_unit,
                space={"bm": (16, 32), "bn": (32, 64), "bk": (32,), "tm": (2,), "tn": (2, 4)}),
        Variant("cupy", "cuda", baseline.matmul("cupy"), baseline=True),
    ]
