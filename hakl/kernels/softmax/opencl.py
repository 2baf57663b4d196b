"""softmax on opencl: one .cl source (softmax.cl) for PoCL on CPUs and NVIDIA GPUs.

Every variant sees a contiguous (outer, n, inner) array and normalises over n.

- naive (baseline): a work-item per row or column, three passes over memory;
- wg_row (inner == 1): a team of work-items per row with local-memory tree
  reductions; tunables WG, VEC, ROWS (rows per group), BLOCKED (how a team
  splits a row), MODE (three passes / online max+sum / row kept in private memory);
- cols (inner > 1): work-items over the inner index, reading coalesced rows of
  it, each walking n with online max+sum; SPLIT work-items share one column,
  CACHE keeps each one's block in private memory.

Bytes moved at minimum: 2 * size * itemsize forward, 3 * size * itemsize backward.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant, pow2_bucket

SOURCE = Path(__file__).with_name("softmax.cl")
BITS = {"float16": 16, "float32": 32, "float64": 64}
NAIVE_WG = 64
# The private copy of a row (MODE 2) or column block (CACHE 1). On a GPU it is
# registers: sized to the bucket's extent, at most GPU_CACHE elements per
# work-item over all its buffers. On a CPU a lone work-item (no barriers) gets a
# fixed stack buffer of CPU_CACHE elements, which stays in L1/L2 and lets one
# program serve every extent that fits; with barriers PoCL keeps every
# work-item's copy alive on its stack at once, so a group's copies are sized to
# the bucket and held to CPU_GROUP_BYTES (beyond that PoCL's threads crash).
GPU_CACHE = 32
CPU_CACHE = 2048
CPU_GROUP_BYTES = 1 << 20


def _backend():
    backend = get_backend("opencl")
    backend.require()
    return backend


def _gpu() -> bool:
    return _backend().is_gpu()


def _unit(problem: Problem, defines: dict) -> tuple[str, dict]:
    return SOURCE.read_text(), {"DTYPE": BITS[problem.dtype], **defines}


def _kernel(problem: Problem, defines: dict, name: str):
    """Kernel `name` of softmax.cl compiled for `problem`'s dtype and `defines`."""
    source, defines = _unit(problem, defines)
    return _backend().kernel(source, name, defines)


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _pow2_at_least(x: float) -> int:
    p = 1
    while p < x:
        p *= 2
    return p


def _vec_ok(problem: Problem, vec: int) -> bool:
    """GPUs load at most 16 bytes per instruction, so wider vectors only cost registers;
    PoCL runs a work-group's items one after another and vectorises little across
    them, so a CPU wants explicit vectors of 4 to 64 bytes' worth of arithmetic."""
    if _gpu():
        return vec * problem.np_dtype.itemsize <= 16
    return vec >= 4 and vec * (8 if problem.dtype == "float64" else 4) <= 64


def _gpu_vec(problem: Problem) -> int:
    return 16 // problem.np_dtype.itemsize


def _cpu_vec(problem: Problem) -> int:
    return 4 if problem.dtype == "float64" else 8  # 32 bytes: one AVX2 register


def _at_size(problem: Problem) -> int:
    """Bytes of the arithmetic type (half computes in float)."""
    return 8 if problem.dtype == "float64" else 4


def _local_fits(problem: Problem, vectors: int) -> bool:
    """Two local arrays of `vectors` reduction slots fit the device."""
    return 2 * vectors * _at_size(problem) <= _backend().local_mem_bytes()


def _cache_fits(problem: Problem, items: int, vec: int, group: int, grad: bool) -> bool:
    """A private copy of `items` vectors per buffer (backward keeps y and dy) fits
    (see GPU_CACHE); `group` work-items hold theirs at once on a CPU."""
    elements = items * vec * (2 if grad else 1)
    if _gpu():
        return elements <= GPU_CACHE
    return elements * group * _at_size(problem) <= CPU_GROUP_BYTES


# ---- naive (baseline) -------------------------------------------------------

def _naive(problem: Problem, config: dict, grad: bool):
    kernel = _kernel(problem, {"KIND": 0}, "softmax_grad_naive" if grad else "softmax_naive")
    log = np.int32(bool(problem.flag("log")))
    backend = _backend()

    def launch(*inputs):
        inputs = [backend.from_start(a) for a in inputs]
        outer, n, inner = inputs[0].shape
        out = backend.empty(inputs[0].shape, inputs[0].dtype)
        cols = outer * inner
        kernel(backend.queue, (_round_up(cols, NAIVE_WG),), (NAIVE_WG,), *(a.data for a in inputs), out.data,
               np.int64(cols), np.int32(n), np.int32(inner), log)
        return out

    return launch


# ---- wg_row -----------------------------------------------------------------

def _rows_items(problem: Problem, config: dict) -> int:
    """Vectors each work-item keeps per buffer in MODE 2 (0 in the other modes)."""
    if config["MODE"] != 2:
        return 0
    team = config["WG"] // config["ROWS"]
    if team == 1 and not _gpu():
        return CPU_CACHE // config["VEC"]
    return -(-pow2_bucket(problem.shape)[1] // (config["VEC"] * team))


def _rows_defines(problem: Problem, config: dict) -> dict:
    return {"KIND": 1, **{k: int(v) for k, v in config.items()}, "ITEMS": _rows_items(problem, config)}


def _rows_valid(problem: Problem, config: dict, grad: bool) -> bool:
    wg, vec, rows = config["WG"], config["VEC"], config["ROWS"]
    team = wg // rows
    n = pow2_bucket(problem.shape)[1]
    if rows > wg or wg > _backend().max_work_group_size() or not _vec_ok(problem, vec):
        return False
    if team * vec > max(n, vec) or not _local_fits(problem, wg):  # more members than vectors
        return False
    # One member: both splits are the same. Several: a GPU wants them interleaved
    # (coalesced), a CPU work-item wants one contiguous block to stream.
    if config["BLOCKED"] != (team > 1 and not _gpu()):
        return False
    if config["MODE"] == 2:
        if team == 1 and not _gpu():
            return n <= CPU_CACHE
        return _cache_fits(problem, _rows_items(problem, config), vec, wg, grad)
    return True


def _rows_default(problem: Problem, grad: bool) -> dict:
    n = problem.shape[1]
    if _gpu():
        # 16-byte vectors; a team wide enough that each member keeps 4 (backward:
        # 2 of y and 2 of dy) vectors of the row in registers, else the online pass.
        vec = _gpu_vec(problem)
        team = min(1024, _pow2_at_least(n / (vec * (2 if grad else 4))))
        wg = max(team, 128)
        config = {"WG": wg, "VEC": vec, "ROWS": wg // team, "BLOCKED": 0, "MODE": 2}
    elif n <= CPU_CACHE:
        # One work-item streams each short row with vector loads, keeping it in its stack buffer.
        config = {"WG": 16, "VEC": _cpu_vec(problem), "ROWS": 16, "BLOCKED": 0, "MODE": 2}
    else:  # long rows: a team of 16 contiguous blocks, two reads (the online pass, then the write)
        config = {"WG": 16, "VEC": _cpu_vec(problem), "ROWS": 1, "BLOCKED": 1, "MODE": 0 if grad else 1}
    if not _rows_valid(problem, config, grad):
        config["MODE"] = 0 if grad else 1
    return config


def _wg_row(problem: Problem, config: dict, grad: bool):
    defines = _rows_defines(problem, config)
    kernel = _kernel(problem, defines, "softmax_grad_rows" if grad else "softmax_rows")
    log = np.int32(bool(problem.flag("log")))
    wg, per_group = config["WG"], config["ROWS"]
    capacity = defines["ITEMS"] * (wg // per_group) * config["VEC"]
    backend = _backend()

    def launch(*inputs):
        inputs = [backend.from_start(a) for a in inputs]
        rows, n, _ = inputs[0].shape
        if capacity and n > capacity:
            raise ValueError(f"softmax wg_row: rows of {n} exceed the {capacity} this build keeps in memory")
        out = backend.empty(inputs[0].shape, inputs[0].dtype)
        groups = -(-rows // per_group)
        kernel(backend.queue, (groups * wg,), (wg,), *(a.data for a in inputs), out.data,
               np.int64(rows), np.int32(n), log)
        return out

    return launch


# ---- cols -------------------------------------------------------------------

def _cols_items(problem: Problem, config: dict, vec: int) -> int:
    """Rows of its block each work-item keeps per buffer when CACHE is on (else 0)."""
    if not config["CACHE"]:
        return 0
    if config["SPLIT"] == 1 and not _gpu():
        return CPU_CACHE // vec
    return -(-pow2_bucket(problem.shape)[1] // config["SPLIT"])


def _cols_defines(problem: Problem, config: dict, vec: int) -> dict:
    return {"KIND": 2, "WG": config["WG"], "VEC": vec, "SPLIT": config["SPLIT"],
            "ITEMS": _cols_items(problem, config, vec)}


def _cols_valid(problem: Problem, config: dict, grad: bool) -> bool:
    wg, vec, split = config["WG"], config["VEC"], config["SPLIT"]
    outer, n, inner = pow2_bucket(problem.shape)
    if wg * split > _backend().max_work_group_size() or split > n:
        return False
    if not _local_fits(problem, wg * split * vec):
        return False
    if vec > inner or not _vec_ok(problem, vec):
        return False
    if config["CACHE"]:
        if split == 1 and not _gpu():
            return n <= _cols_items(problem, config, vec)
        return _cache_fits(problem, _cols_items(problem, config, vec), vec, wg * split, grad)
    return True


def _cols_default(problem: Problem, grad: bool) -> dict:
    outer, n, inner = problem.shape
    if _gpu():
        # Split each column until its blocks fit in registers: one read, and many
        # work-items even when there are few columns.
        split = min(64, _pow2_at_least(n * (2 if grad else 1) / GPU_CACHE))
        config = {"WG": max(8, 256 // split), "VEC": 1, "SPLIT": split, "CACHE": 1}
        if not _cols_valid(problem, config, grad):
            config = {"WG": 16, "VEC": 1, "SPLIT": 16, "CACHE": 0}
        return config
    # a work-item reads a whole 64-byte cache line of each row it walks
    return {"WG": 8, "VEC": 64 // _at_size(problem), "SPLIT": 1, "CACHE": 0}


def _cols(problem: Problem, config: dict, grad: bool):
    name = "softmax_grad_cols" if grad else "softmax_cols"
    log = np.int32(bool(problem.flag("log")))
    wg, split = config["WG"], config["SPLIT"]
    backend = _backend()

    def launch(*inputs):
        inputs = [backend.from_start(a) for a in inputs]
        outer, n, inner = inputs[0].shape
        vec = config["VEC"]
        while inner % vec:  # vectors must stay aligned: the widest that divides inner
            vec //= 2
        defines = _cols_defines(problem, config, vec)
        if defines["ITEMS"] and -(-n // split) > defines["ITEMS"]:
            raise ValueError(f"softmax cols: columns of {n} exceed the {defines['ITEMS'] * split} "
                             "this build keeps in memory")
        out = backend.empty(inputs[0].shape, inputs[0].dtype)
        kernel = _kernel(problem, defines, name)
        kernel(backend.queue, (_round_up(inner // vec, wg), split * outer), (wg, split),
               *(a.data for a in inputs), out.data, np.int32(n), np.int32(inner), log)
        return out

    return launch


# ---- variants ---------------------------------------------------------------

ROWS_SPACE = {"WG": (16, 32, 64, 128, 256, 512, 1024), "VEC": (1, 2, 4, 8, 16),
              "ROWS": (1, 2, 4, 8, 16, 32, 64), "BLOCKED": (0, 1), "MODE": (0, 1, 2)}
COLS_SPACE = {"WG": (8, 16, 32, 64, 128, 256), "VEC": (1, 2, 4, 8, 16), "SPLIT": (1, 2, 4, 8, 16, 32, 64),
              "CACHE": (0, 1)}


def _variants(grad: bool) -> list[Variant]:
    def bind(fn):
        return lambda problem, config: fn(problem, config, grad)

    return [
        Variant("wg_row", "opencl", bind(_wg_row),
                space=dict(ROWS_SPACE, MODE=(0, 2)) if grad else ROWS_SPACE,  # nothing online in a plain sum
                supports=lambda p: p.shape[2] == 1, default=lambda p: _rows_default(p, grad),
                valid=bind(_rows_valid), sources=(SOURCE,),
                compile_unit=lambda p, c: _unit(p, _rows_defines(p, c))),
        Variant("cols", "opencl", bind(_cols), space=COLS_SPACE,
                supports=lambda p: p.shape[2] > 1, default=lambda p: _cols_default(p, grad),
                valid=bind(_cols_valid), sources=(SOURCE,),
                compile_unit=lambda p, c: _unit(p, _cols_defines(p, c, c["VEC"]))),
        Variant("naive", "opencl", bind(_naive), baseline=True, sources=(SOURCE,),
                compile_unit=lambda p, c: _unit(p, {"KIND": 0})),
    ]


def forward_variants() -> list[Variant]:
    return _variants(grad=False)


def backward_variants() -> list[Variant]:
    return _variants(grad=True)
