"""cross_entropy on OpenCL: one .cl source (cross_entropy.cl) for PoCL on CPUs and NVIDIA GPUs.

Every variant sees the canonical inputs (reference.py); the op's flags are -D defines.

- naive (baseline): a work-item per row (o, j), the max, then the sum, then the gather
  or the gradient: three reads of the row;
- item: a work-item per row with the online max and sum (one read for the statistics,
  one more for a gradient): short rows, and the class axis not last (neighbouring
  work-items read neighbouring columns);
- wg_row (class axis last): a work-group per row, statistics merged in local memory;
  tunables WG and BLOCKED (CPUs: each work-item a contiguous block).

Reductions ("sum", "mean") are deterministic: groups write partial sums, ce_finish adds
them in a fixed order. A backward or training pass with "mean" first runs ce_den (the
divisor from the labels) and ce_finish (the gradient factor dloss / divisor). Labels are
checked on the device; the host reads one flag after the kernels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import reference

SOURCE = Path(__file__).with_name("cross_entropy.cl")
BITS = {"float16": 16, "float32": 32, "float64": 64}
FINISH_WG = 64
ROW_GROUPS = 1024  # ce_wg_row's groups (fixed, so that the reduction's order is)


def _backend():
    backend = get_backend("opencl")
    backend.require()
    return backend


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _acc(problem: Problem):
    return np.float64 if problem.dtype == "float64" else np.float32


def _label_type(problem: Problem) -> str:
    return "int" if len(problem.input_dtypes) > 1 and problem.input_dtypes[1] == "int32" else "long"


def _defines(problem: Problem, mode: int, **extra) -> dict:
    return {"DTYPE": BITS[problem.dtype], "LT": _label_type(problem), **extra}


def _flag_bits(problem: Problem, mode: int) -> np.int32:
    """The op's flags as the kernels' run-time bitmask (see cross_entropy.cl)."""
    given_lse = bool(problem.flag("lse")) and mode == 1 and bool(problem.flag("use_softmax"))
    bits = (bool(problem.flag("soft")) | bool(problem.flag("use_softmax")) << 1 | bool(problem.flag("weight")) << 2
            | given_lse << 3 | (problem.flag("reduction") == "none") << 4 | mode << 5)
    return np.int32(bits)


def _unit(problem: Problem, config: dict, mode: int, kind: str) -> tuple[str, dict]:
    if kind == "wg_row":
        extra = {"WG_ROW": 1, "ONLINE": 1, "WG": config["WG"], "BLOCKED": config["BLOCKED"]}
    else:
        extra = {"ITEM": 1, "ONLINE": int(kind == "item"), "WG": config.get("WG", 64)}
    return SOURCE.read_text(), _defines(problem, mode, **extra)


def _launcher(problem: Problem, config: dict, mode: int, kind: str):
    backend = _backend()
    cl = backend.cl
    source, defines = _unit(problem, config, mode, kind)
    name = "ce_wg_row" if kind == "wg_row" else "ce_item"
    kernel = backend.kernel(source, name, defines)
    base = _defines(problem, mode)
    fl = _flag_bits(problem, mode)
    finish = backend.kernel(source, "ce_finish", {**base, "FINISH": 1, "WG": FINISH_WG})
    den_kernel = backend.kernel(source, "ce_den", {**base, "DEN": 1, "WG": 64})
    soft, has_weight = bool(problem.flag("soft")), bool(problem.flag("weight"))
    reduction = problem.flag("reduction")
    acc, wg = _acc(problem), int(config["WG"])
    dummy = backend.empty((4,), np.float64)
    one = backend.asarray(np.ones(1, acc))

    def launch(x, label, *rest, ignore_index=reference.DEFAULT_IGNORE, out=None):
        rest = [backend.from_start(a) for a in rest]
        x, label = backend.from_start(x), backend.from_start(label)
        dloss = rest.pop(0) if mode == 1 else None
        lse_in = rest.pop(0) if mode == 1 and problem.flag("lse") else None
        weight = rest.pop(0) if has_weight else None
        outer, classes, inner = x.shape
        rows = outer * inner
        bad = cl.array.zeros(backend.queue, (1,), np.int32)
        badv = backend.empty((1,), np.int64)
        hard_buf = dummy.data if soft else label.data
        soft_buf = label.data if soft else dummy.data
        weight_buf = weight.data if has_weight else dummy.data
        common = (np.int64(rows), np.int32(classes), np.int64(inner), np.int64(ignore_index))
        # the gradient factor: dloss per row ("none"), one value ("sum"), dloss / divisor ("mean")
        gd, ga, gstride, g_acc = dummy.data, one.data, 0, 1
        if mode != 0:
            if reduction == "mean":
                if soft and not has_weight:
                    den_parts, parts = dummy, 0
                else:
                    parts = -(-rows // 64)
                    den_parts = backend.empty((2 * parts,), acc)
                    den_kernel(backend.queue, (_round_up(rows, 64),), (64,), hard_buf, soft_buf, weight_buf,
                               den_parts.data, bad.data, badv.data, *common, fl)
                gbuf = backend.empty((1,), acc)
                finish(backend.queue, (FINISH_WG,), (FINISH_WG,), den_parts.data, np.int64(parts), np.int64(rows),
                       np.int32(parts > 0 and (has_weight or ignore_index != reference.DEFAULT_IGNORE)),
                       np.int32(1), np.int32(1),
                       dloss.data if dloss is not None else dummy.data, np.int32(dloss is not None),
                       dummy.data, gbuf.data)
                ga = gbuf.data
            elif mode == 1:
                gd, gstride, g_acc = dloss.data, int(reduction == "none"), 0
        dx = None
        if mode != 0:
            dx = out if out is not None else backend.empty(x.shape, x.dtype)
        per_row = reduction == "none" and mode != 1
        loss = backend.empty((outer, inner), x.dtype) if per_row else None
        lse_out = backend.empty((outer, inner), acc) if mode == 0 else None
        if kind == "wg_row":
            groups = min(rows, ROW_GROUPS)
            global_size = groups * wg
        else:
            groups = -(-rows // wg)
            global_size = groups * wg
        partial = backend.empty((2 * groups,), acc) if not per_row and mode != 1 else None
        kernel(backend.queue, (global_size,), (wg,), x.data, hard_buf, soft_buf, weight_buf,
               lse_in.data if lse_in is not None else dummy.data, gd, ga, np.int64(gstride), np.int32(g_acc),
               loss.data if loss is not None else dummy.data, lse_out.data if lse_out is not None else dummy.data,
               dx.data if dx is not None else dummy.data, partial.data if partial is not None else dummy.data,
               bad.data, badv.data, *common, fl)
        if int(bad.get()[0]):  # the one flag read back
            raise ValueError(reference.label_error(int(badv.get()[0]), classes, ignore_index))
        if mode == 1:
            return dx
        if per_row:
            value = loss
        else:
            value = backend.empty((), x.dtype)
            weighted = has_weight or ignore_index != reference.DEFAULT_IGNORE
            finish(backend.queue, (FINISH_WG,), (FINISH_WG,), partial.data, np.int64(groups), np.int64(rows),
                   np.int32(weighted), np.int32(reduction == "mean"), np.int32(0), dummy.data, np.int32(0),
                   value.data, dummy.data)
        if mode == 0:
            return value, lse_out
        return value, dx

    return launch


# ---- variants ---------------------------------------------------------------

def _gpu() -> bool:
    return _backend().is_gpu()


def _wg_valid(problem: Problem, config: dict) -> bool:
    wg = config["WG"]
    if wg > _backend().max_work_group_size():
        return False
    # one member per contiguous block on a CPU (PoCL runs a group's items in turn),
    # interleaved (coalesced) on a GPU
    return config["BLOCKED"] == (0 if _gpu() else 1)


def _wg_default(problem: Problem) -> dict:
    if _gpu():
        return {"WG": 256 if problem.shape[1] >= 4096 else 128, "BLOCKED": 0}
    return {"WG": 16, "BLOCKED": 1}


def _item_rank(problem: Problem) -> int:
    # a work-item per row while rows are short or the class axis is not last; long rows
    # want a work-group each (rank 0 wins, ties keep the declared order)
    outer, classes, inner = problem.shape
    return 0 if inner > 1 or classes <= (64 if _gpu() else 256) else 1


def _variants(mode: int) -> list[Variant]:
    def bind(kind: str):
        return lambda problem, config: _launcher(problem, config, mode, kind)

    def unit(kind: str):
        return lambda problem, config: _unit(problem, config, mode, kind)

    accepts = mode != 0
    return [
        Variant("item", "opencl", bind("item"), space={"WG": (16, 32, 64, 128, 256)},
                default=lambda p: {"WG": 64}, rank=_item_rank, sources=(SOURCE,), compile_unit=unit("item"),
                accepts_out=accepts),
        Variant("wg_row", "opencl", bind("wg_row"), space={"WG": (8, 16, 32, 64, 128, 256, 512), "BLOCKED": (0, 1)},
                supports=lambda p: p.shape[2] == 1, default=_wg_default, valid=_wg_valid,
                rank=lambda p: 1 - _item_rank(p), sources=(SOURCE,), compile_unit=unit("wg_row"),
                accepts_out=accepts),
        Variant("naive", "opencl", bind("naive"), baseline=True, default=lambda p: {"WG": 64}, sources=(SOURCE,),
                compile_unit=unit("naive"), accepts_out=accepts),
    ]


def forward_variants() -> list[Variant]:
    return _variants(0)


def backward_variants() -> list[Variant]:
    return _variants(1)


def train_variants() -> list[Variant]:
    return _variants(2)
