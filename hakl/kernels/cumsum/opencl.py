"""cumsum on OpenCL: the kernels of cumsum.cl (reduce-then-scan; see there for why).

Every launcher sees the contiguous (outer, n, inner) view and scans along n.
Bytes: at least read x and write y once, 2 * size * itemsize; the segmented
paths read x a second time.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant

SOURCE = Path(__file__).with_name("cumsum.cl")
KIND = {"float16": 0, "float32": 1, "float64": 2, "int32": 3, "int64": 4}
_CL = {"float32": "float", "float64": "double", "int32": "uint", "int64": "ulong"}


def carry_dtype(dtype: str, fp64: bool) -> str:
    """The dtype of the per-segment sums: float16 -> float32, float32 -> float64 where the
    device has it, others unchanged (integers keep their bits, summed unsigned)."""
    if dtype == "float16":
        return "float32"
    if dtype == "float32" and fp64:
        return "float64"
    return dtype


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    fp64 = config.get("fp64", True)
    carry = carry_dtype(problem.dtype, fp64)
    defines = {"KIND": KIND[problem.dtype], "CARRY": _CL[carry], "WG": config.get("wg", 64),
               "ITEMS": config.get("items", 1),
               "COLS": config.get("cols", 1)}
    if "float64" in (problem.dtype, carry):
        defines["FP64"] = 1
    return SOURCE.read_text(), defines


def _args(exclusive: bool, reverse: bool) -> tuple:
    return np.int32(exclusive), np.int32(reverse)


def _build(strategy: str):
    def build(problem: Problem, config: dict):
        backend = get_backend("opencl")
        backend.require()
        config = {**config, "fp64": backend.has_fp64()}
        source, defines = compile_unit(problem, config)
        exclusive, reverse = _args(problem.flag("exclusive"), problem.flag("reverse"))
        wg = config.get("wg", 64)
        carry = carry_dtype(problem.dtype, config["fp64"])
        nested = {}

        def scan_sums(sums):
            # The segment sums' exclusive scan, by this same strategy on the carry dtype.
            key = sums.shape
            if key not in nested:
                sub = Problem(problem.op, "opencl", carry, sums.shape, (("exclusive", True), ("reverse", False)))
                nested[key] = build(sub, {k: v for k, v in config.items() if k != "fp64"})
            return nested[key](sums)

        if strategy == "serial":
            kernel = backend.kernel(source, "scan_serial", defines)

            def launch(x):
                outer, n, inner = x.shape
                y = backend.empty(x.shape, x.dtype)
                if y.size:
                    x = backend.from_start(x)  # the kernels index x from its buffer's start
                    size = -(-outer * inner // wg) * wg
                    kernel(backend.queue, (size,), (wg,), x.data, y.data, np.int64(outer), np.int64(n),
                           np.int64(inner), exclusive, reverse)
                return y
            return launch

        if strategy == "rows":
            sums_k, scan_k = (backend.kernel(source, name, defines) for name in ("row_sums", "row_scan"))
            seg = wg * config["items"]

            def launch(x):
                outer, n, _ = x.shape
                y = backend.empty(x.shape, x.dtype)
                if y.size == 0:
                    return y
                x = backend.from_start(x)
                nseg = -(-n // seg)
                groups = (outer * nseg * wg,)
                offsets, has = y, np.int32(0)  # any buffer when there are no offsets
                if nseg > 1:
                    sums = backend.empty((outer, nseg, 1), carry)
                    sums_k(backend.queue, groups, (wg,), x.data, sums.data, np.int64(n), np.int64(nseg),
                           reverse)
                    offsets, has = scan_sums(sums), np.int32(1)
                scan_k(backend.queue, groups, (wg,), x.data, y.data, offsets.data, has, np.int64(n),
                       np.int64(nseg), exclusive, reverse)
                return y
            return launch

        sums_k, scan_k = (backend.kernel(source, name, defines) for name in ("col_sums", "col_scan"))
        # Enough work-items to fill the device: chunk the axis when columns alone are too few.
        target = 8 * backend.device.max_compute_units * wg
        least, cols = config["ch"], config.get("cols", 1)

        def launch(x):
            outer, n, inner = x.shape
            y = backend.empty(x.shape, x.dtype)
            if y.size == 0:
                return y
            x = backend.from_start(x)
            blocks = -(-inner // cols)
            nchunks = max(1, min(-(-n // least), -(-target // (outer * blocks))))
            ch = -(-n // nchunks)
            nchunks = -(-n // ch)
            size = (-(-outer * nchunks * blocks // wg) * wg,)
            offsets, has = y, np.int32(0)
            if nchunks > 1:
                sums = backend.empty((outer, nchunks, inner), carry)
                sums_k(backend.queue, size, (wg,), x.data, sums.data, np.int64(outer), np.int64(n),
                       np.int64(inner), np.int64(nchunks), np.int64(ch), reverse)
                offsets, has = scan_sums(sums), np.int32(1)
            scan_k(backend.queue, size, (wg,), x.data, y.data, offsets.data, has, np.int64(outer),
                   np.int64(n), np.int64(inner), np.int64(nchunks), np.int64(ch), exclusive, reverse)
            return y
        return launch

    return build


def _gpu() -> bool:
    return get_backend("opencl").is_gpu()


def _columns_default(problem: Problem) -> dict:
    if _gpu():
        return {"wg": 128, "ch": 64, "cols": 1}
    # Measured on PoCL (2 cores): blocks of 64 columns are 4-10x faster than single
    # columns when rows are long; a single column per work-item when there is one.
    return {"wg": 128, "ch": 256, "cols": 1 if problem.shape[2] == 1 else 64}


def variants() -> list[Variant]:
    # Rows (inner == 1) on a GPU: a work-group per segment, loads coalesced. On a CPU
    # device the column kernel serves rows too and wins (a work-item walking a chunk of
    # contiguous elements is what a CPU core wants; barriers and local-memory scans are not).
    common = dict(sources=(SOURCE,), compile_unit=compile_unit)
    return [
        Variant("serial", "opencl", _build("serial"), baseline=True, **common),
        Variant("rows", "opencl", _build("rows"), space={"wg": (64, 128, 256), "items": (4, 8, 16)},
                default=lambda p: {"wg": 128, "items": 8}, supports=lambda p: p.shape[2] == 1,
                rank=lambda p: 0 if _gpu() else 1, **common),
        Variant("columns", "opencl", _build("columns"),
                space={"wg": (64, 128, 256), "ch": (16, 64, 256), "cols": (1, 16, 64)},
                default=_columns_default, valid=lambda p, c: c["cols"] == 1 or p.shape[2] > 1, **common),
    ]
