"""layer_norm on CUDA: the CuPy composition baseline and layer_norm.cu (NVRTC, softmax.cu's
types prepended; one module per dtype, the block size at launch).

- warp_row (n <= 4096): a warp per row, 8 rows per block; the backward's warps each own a
  fixed block of rows (partial dweight / dbias rows, then ln_bwd_finish).
- block_row: a block per row (BLOCK threads; the backward: per fixed block of rows).
- cupy (baseline): reference.forward_xp / backward_xp as CuPy calls.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from ..softmax.cuda import COMMON, DTYPE_CODE
from . import baseline

SOURCE = Path(__file__).with_name("layer_norm.cu")
WARP_BLOCK = 256
GROUPS = 1024  # the backward's row blocks (at most): fixed per shape, so the sums' order is
FINISH = 256


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return COMMON.read_text() + "\n" + SOURCE.read_text()


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"DTYPE": DTYPE_CODE[problem.dtype]}


def _stat(problem: Problem):
    return np.float64 if problem.dtype == "float64" else np.float32


def _fl(problem: Problem) -> np.int32:
    return np.int32(bool(problem.flag("weight")) | bool(problem.flag("bias")) << 1)


def _forward(kind: str):
    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        cp = backend.cp
        kernel = backend.compile(*compile_unit(problem, config)).get_function(f"ln_fwd_{kind}")
        st, fl = _stat(problem), _fl(problem)
        has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))
        block = WARP_BLOCK if kind == "warp" else int(config["BLOCK"])
        per_block = block // 32 if kind == "warp" else 1
        dummy = cp.empty(4, np.float64)

        def launch(x, *rest, epsilon=1e-5):
            rows, n = x.shape
            rest = list(rest)
            w = rest.pop(0) if has_w else dummy
            b = rest.pop(0) if has_b else dummy
            y = cp.empty_like(x)
            mean, rstd = cp.empty(rows, st), cp.empty(rows, st)
            grid = max(1, min(-(-rows // per_block), 32 * backend.multiprocessors()))
            kernel((grid,), (block,), (x, w, b, y, mean, rstd, np.int64(rows), np.int32(n), st(epsilon), fl))
            return y, mean, rstd

        return launch

    return build


def _backward(kind: str):
    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        cp = backend.cp
        module = backend.compile(*compile_unit(problem, config))
        kernel, finish = module.get_function(f"ln_bwd_{kind}"), module.get_function("ln_bwd_finish")
        st, fl = _stat(problem), _fl(problem)
        has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))
        block = WARP_BLOCK if kind == "warp" else int(config["BLOCK"])
        per_block = block // 32 if kind == "warp" else 1
        dummy = cp.empty(4, np.float64)

        def launch(x, dout, mean, rstd, *rest):
            rows, n = x.shape
            w = rest[0] if has_w else dummy
            dx = cp.empty_like(x)
            per_group = -(-rows // min(rows, GROUPS))
            groups = -(-rows // per_group)
            part = cp.empty(groups * 2 * n, st)
            kernel((-(-groups // per_block),), (block,), (x, dout, mean, rstd, w, dx, part, np.int64(rows),
                                                          np.int32(n), np.int64(per_group), np.int64(groups), fl))
            out = (dx,)
            if has_w or has_b:
                dw, db = cp.empty(n, x.dtype), cp.empty(n, x.dtype)
                finish((-(-n // FINISH),), (FINISH,), (part, np.int64(groups), np.int32(n), dw, db))
                out += ((dw,) if has_w else ()) + ((db,) if has_b else ())
            return out

        return launch

    return build


def _variants(build, cupy_baseline, warp_below: int) -> list[Variant]:
    # warp_row first for rows up to `warp_below`: the backward's warps each walk a block of
    # rows serially (GROUPS of them at most), so it wants blocks sooner than the forward
    return [
        Variant("warp_row", "cuda", build("warp"), supports=lambda p: p.dtype in DTYPE_CODE and p.shape[1] <= 4096,
                rank=lambda p: 0 if p.shape[1] <= warp_below else 1, sources=(COMMON, SOURCE),
                compile_unit=compile_unit),
        Variant("block_row", "cuda", build("block"), space={"BLOCK": (128, 256, 512, 1024)},
                supports=lambda p: p.dtype in DTYPE_CODE,
                default=lambda p: {"BLOCK": 512 if p.shape[1] >= 4096 else 256}, sources=(COMMON, SOURCE),
                compile_unit=compile_unit),
        Variant("cupy", "cuda", cupy_baseline, baseline=True),
    ]


def forward_variants() -> list[Variant]:
    return _variants(_forward, baseline.forward("cupy"), 1024)


def backward_variants() -> list[Variant]:
    return _variants(_backward, baseline.backward("cupy"), 256)
