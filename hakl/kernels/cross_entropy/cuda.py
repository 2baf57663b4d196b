"""cross_entropy on CUDA: the CuPy composition baseline and CUDA C++ row kernels.

Every variant sees the canonical inputs (reference.py); cross_entropy.cu, with softmax.cu's
types, conversions and warp reductions prepended, compiles through NVRTC (CuPy). The op's
flags are a run-time bitmask, so one module per (dtype, label type, geometry) serves every
flag set and mode:

    variant     layout             kernel
    warp_row    inner == 1, C <= 2048   ce_group: GROUP lanes of a warp per row, the row in registers
    block_row   inner == 1, C > 512     ce_block_row: a block per row (32000-class vocabularies)
    cols        inner > 1               ce_group with GROUP = 1: neighbouring threads read
                                        neighbouring columns (coalesced), each walks C
    cupy        any                     log_softmax + gather + reduction as CuPy calls (baseline)

Statistics are an online max and sum (one read); the row values a thread reads stay in
registers (ITEMS per thread), so training (loss and gradient) and a backward given the lse
read the logits once while C <= threads per row * ITEMS. The loss reduction is deterministic:
per-block partials (fixed grid), then ce_finish. Labels are checked on the device: one int
flag is read back per call.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from ..softmax.cuda import COMMON, DTYPE_CODE
from . import baseline, reference

HERE = Path(__file__).parent
SOURCE = HERE / "cross_entropy.cu"
GROUP_THREADS = 256
FINISH_THREADS = 256


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return COMMON.read_text() + "\n" + SOURCE.read_text()


def _pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _items_max(problem: Problem) -> int:
    return 16 if problem.dtype == "float64" else 32


def _label64(problem: Problem) -> int:
    return int(not (len(problem.input_dtypes) > 1 and problem.input_dtypes[1] == "int32"))


def _group_geometry(problem: Problem, config: dict) -> tuple[int, int]:
    """(GROUP, ITEMS) for ce_group: lanes per row covering C's bucket with ITEMS values each."""
    classes = _pow2(problem.shape[1])
    if problem.shape[2] > 1:
        return 1, min(_items_max(problem), classes)
    group = config.get("GROUP") or min(32, max(1, classes // 8))
    return group, max(1, min(_items_max(problem), -(-classes // group)))


def _unit(problem: Problem, config: dict, kind: str) -> tuple[str, dict]:
    defines = {"DTYPE": DTYPE_CODE[problem.dtype], "LABEL64": _label64(problem)}
    if kind == "block_row":
        items = max(1, min(_items_max(problem), -(-_pow2(problem.shape[1]) // config["BLOCK"])))
        defines.update(BLOCK_ROW=1, GROUP=32, ITEMS=items)
    else:
        group, items = _group_geometry(problem, config)
        defines.update(BLOCK_ROW=0, GROUP=group, ITEMS=items)
    return _source(), defines


def _flag_bits(problem: Problem, mode: int) -> np.int32:
    given_lse = bool(problem.flag("lse")) and mode == 1 and bool(problem.flag("use_softmax"))
    return np.int32(bool(problem.flag("soft")) | bool(problem.flag("use_softmax")) << 1
                    | bool(problem.flag("weight")) << 2 | given_lse << 3
                    | (problem.flag("reduction") == "none") << 4 | mode << 5)


def _launcher(problem: Problem, config: dict, mode: int, kind: str):
    import cupy as cp

    backend = get_backend("cuda")
    source, defines = _unit(problem, config, kind)
    module = backend.compile(source, defines)
    main = module.get_function("ce_block_row" if kind == "block_row" else "ce_group")
    finish, den = module.get_function("ce_finish"), module.get_function("ce_den")
    fl = _flag_bits(problem, mode)
    soft, has_weight = bool(problem.flag("soft")), bool(problem.flag("weight"))
    reduction = problem.flag("reduction")
    acc = np.float64 if problem.dtype == "float64" else np.float32
    dummy = cp.empty(4, np.float64)
    one = cp.ones(1, acc)
    sms = backend.multiprocessors()
    block = config.get("BLOCK", 1024) if kind == "block_row" else GROUP_THREADS

    def launch(x, label, *rest, ignore_index=reference.DEFAULT_IGNORE, out=None):
        rest = list(rest)
        dloss = rest.pop(0) if mode == 1 else None
        lse_in = rest.pop(0) if mode == 1 and problem.flag("lse") else None
        weight = rest.pop(0) if has_weight else None
        outer, classes, inner = x.shape
        rows = outer * inner
        bad, badv = cp.zeros(1, np.int32), cp.zeros(1, np.int64)
        hard, softl = (dummy, label) if soft else (label, dummy)
        w = weight if has_weight else dummy
        common = (np.int64(rows), np.int32(classes), np.int64(inner), np.int64(ignore_index), fl)
        gd, ga, gstride, g_acc = dummy, one, 0, 1
        if mode != 0:
            if reduction == "mean":
                parts = 0 if soft and not has_weight else min(-(-rows // 256), 8 * sms)
                den_parts = cp.empty(2 * max(parts, 1), acc)
                if parts:
                    den((parts,), (256,), (hard, softl, w, den_parts, bad, badv, *common))
                ga = cp.empty(1, acc)
                weighted = parts > 0 and (has_weight or ignore_index != reference.DEFAULT_IGNORE)
                finish((1,), (FINISH_THREADS,), (den_parts, np.int64(parts), np.int64(rows), np.int32(weighted),
                                                 np.int32(1), np.int32(1), dloss if dloss is not None else dummy,
                                                 np.int32(dloss is not None), dummy, ga))
            elif mode == 1:
                gd, gstride, g_acc = dloss, int(reduction == "none"), 0
        dx = (out if out is not None else cp.empty_like(x)) if mode != 0 else dummy
        per_row = reduction == "none" and mode != 1
        loss = cp.empty((outer, inner), x.dtype) if per_row else dummy
        lse_out = cp.empty((outer, inner), acc) if mode == 0 else dummy
        if kind == "block_row":
            grid = min(rows, 16 * sms)
        else:
            group = defines["GROUP"]
            grid = min(-(-rows // (block // group)), 32 * sms)
        grid = max(grid, 1)
        partial = cp.empty(2 * grid, acc)
        main((grid,), (block,), (x, hard, softl, w, lse_in if lse_in is not None else dummy, gd, ga,
                                 np.int64(gstride), np.int32(g_acc), loss, lse_out, dx, partial, bad, badv, *common))
        if int(bad.get()[0]):  # the one flag read back
            raise ValueError(reference.label_error(int(badv.get()[0]), classes, ignore_index))
        if mode == 1:
            return dx
        if per_row:
            value = loss
        else:
            value = cp.empty((), x.dtype)
            weighted = has_weight or ignore_index != reference.DEFAULT_IGNORE
            finish((1,), (FINISH_THREADS,), (partial, np.int64(grid), np.int64(rows), np.int32(weighted),
                                             np.int32(reduction == "mean"), np.int32(0), dummy, np.int32(0),
                                             value, dummy))
        return (value, lse_out) if mode == 0 else (value, dx)

    return launch


def _variants(mode: int, cupy_baseline) -> list[Variant]:
    def bind(kind: str):
        return lambda problem, config: _launcher(problem, config, mode, kind)

    def unit(kind: str):
        return lambda problem, config: _unit(problem, config, kind)

    sources = (COMMON, SOURCE)
    accepts = mode != 0
    return [
        Variant("warp_row", "cuda", bind("warp_row"), space={"GROUP": (4, 8, 16, 32)},
                supports=lambda p: p.dtype in DTYPE_CODE and p.shape[2] == 1 and p.shape[1] <= 2048,
                default=lambda p: {"GROUP": min(32, max(1, _pow2(p.shape[1]) // 8))},
                sources=sources, compile_unit=unit("warp_row"), accepts_out=accepts),
        Variant("block_row", "cuda", bind("block_row"), space={"BLOCK": (256, 512, 1024)},
                supports=lambda p: p.dtype in DTYPE_CODE and p.shape[2] == 1 and p.shape[1] > 512,
                default=lambda p: {"BLOCK": 1024 if p.shape[1] >= 16384 else 512},
                rank=lambda p: 0 if p.shape[1] > 2048 else 1,
                sources=sources, compile_unit=unit("block_row"), accepts_out=accepts),
        Variant("cols", "cuda", bind("cols"), supports=lambda p: p.dtype in DTYPE_CODE and p.shape[2] > 1,
                sources=sources, compile_unit=unit("cols"), accepts_out=accepts),
        Variant("cupy", "cuda", cupy_baseline, baseline=True, accepts_out=accepts),
    ]


def forward_variants() -> list[Variant]:
    return _variants(0, baseline.forward("cupy"))


def backward_variants() -> list[Variant]:
    return _variants(1, baseline.backward("cupy"))


def train_variants() -> list[Variant]:
    return _variants(2, baseline.train("cupy"))
