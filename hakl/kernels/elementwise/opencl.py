"""elementwise on OpenCL: the `ew` kernel of elementwise.cl, and `cmp` for the comparisons
(a bool output): one program per dtype; the op, the mapping of work-items and the
elements per work-item are run-time arguments.

- simple (baseline): a work-item per element. (pyopencl.array's arithmetic does not
  broadcast and needs cl_khr_fp16 for float16, which PoCL lacks: a plain kernel is the
  baseline here, as for cast.)
- tiled: `items` elements per work-item, adjacent work-items on adjacent elements
  (blocked = 0) or a contiguous block each (blocked = 1); tunables wg, items, blocked.

Dimension 1 of the range walks the rows of the merged shape, dimension 0 the last
axis, so a row's offsets are worked out once per work-item, not per element.
Bytes moved at minimum: the output and each input once.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import MAXD, collapse, kernel_code, output_dtype
from .cpu import strides

SOURCE = Path(__file__).with_name("elementwise.cl")
KIND = {"float16": 0, "float32": 1, "float64": 2, "int32": 3, "int64": 4}


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def compile_unit(dtype: str) -> tuple[str, dict]:
    backend = get_backend("opencl")
    defines = {"KIND": KIND[dtype]}
    if backend.available and backend.has_fp64():
        defines["FP64"] = 1
    return _source(), defines


def _kernel(dtype: str, name: str):
    backend = get_backend("opencl")
    backend.require()
    source, defines = compile_unit(dtype)
    return backend.kernel(source, name, defines)


def _pad(values, fill: int) -> list[int]:
    values = list(values)
    return [fill] * (MAXD - len(values)) + values


def _build(problem: Problem, config: dict):
    backend = get_backend("opencl")
    kernel = _kernel(problem.dtype, "cmp" if problem.op == "compare" else "ew")
    op, out_dtype = np.int32(kernel_code(problem)), output_dtype(problem)
    wg, items, blocked = config["wg"], config["items"], np.int32(config["blocked"])

    def launch(x, y):
        shape = tuple(max(a, b) for a, b in zip(x.shape, y.shape))
        out = backend.empty(shape, out_dtype)
        d = _pad(shape, 1)
        xs, ys = _pad(strides(x.shape, shape), 0), _pad(strides(y.shape, shape), 0)
        rows = d[0] * d[1] * d[2]
        lanes = -(-d[3] // items)
        size = (-(-lanes // wg) * wg, rows)
        kernel(backend.queue, size, (wg, 1), *backend.at(x), *backend.at(y), out.data,
               *(np.int64(v) for v in (d[1], d[2], d[3], *xs, *ys)), op, np.int32(items), blocked)
        return out

    return launch


def sum_to(g, shape: tuple[int, ...]):
    """g (contiguous) summed over the axes an array of `shape` broadcasts along (see
    hakl.kernels.elementwise.sum_to)."""
    backend = get_backend("opencl")
    full = tuple(g.shape)
    target = (1,) * (len(full) - len(shape)) + tuple(shape)
    pattern, merged, kept_shape, _ = collapse(target, full)
    st = strides(merged, merged)
    kept = [(d, s) for c, d, s in zip(pattern, merged, st) if c == "b"]
    reduced = [(d, s) for c, d, s in zip(pattern, merged, st) if c != "b"]
    out = backend.empty(shape, g.dtype)
    n = math.prod(shape)
    if len(kept) > MAXD or len(reduced) > MAXD:  # alternating axes beyond the kernel's four: on the host
        host = backend.to_numpy(g)
        acc = np.float32 if g.dtype == np.float16 else g.dtype
        axes = tuple(i for i, (a, b) in enumerate(zip(target, full)) if a == 1 and b != 1)
        return backend.asarray(host.sum(axis=axes, dtype=acc).astype(g.dtype).reshape(shape))
    kd, ks = _pad([d for d, _ in kept], 1), _pad([s for _, s in kept], 0)
    rd, rs = _pad([d for d, _ in reduced], 1), _pad([s for _, s in reduced], 0)
    wg = 64
    kernel = _kernel(g.dtype.name, "sum_to")
    kernel(backend.queue, (-(-n // wg) * wg,), (wg,), backend.from_start(g).data, out.data,
           *(np.int64(v) for v in (n, kd[1], kd[2], kd[3], *ks, *rd, *rs)))
    return out


def _cpu() -> bool:
    return not get_backend("opencl").is_gpu()


def _default(problem: Problem) -> dict:
    if _cpu():  # PoCL, 4M float32 add on znver3: 1.9x the simple kernel (items 16 interleaved: 0.35x)
        return {"wg": 64, "items": 16, "blocked": 1}
    return {"wg": 256, "items": 4, "blocked": 0}


def _supports(problem: Problem) -> bool:
    from . import ELEMENTWISE

    return problem.dtype in ELEMENTWISE.dtypes("opencl")


def compare_variants() -> list[Variant]:
    return variants()  # one kernel program serves both: the op picks the entry point


def variants() -> list[Variant]:
    return [
        Variant("tiled", "opencl", _build, space={"wg": (64, 256), "items": (1, 4, 16), "blocked": (0, 1)},
                default=_default, supports=_supports, sources=(SOURCE,)),
        Variant("simple", "opencl", lambda p, c: _build(p, {"wg": 64, "items": 1, "blocked": 0}), baseline=True,
                supports=_supports, sources=(SOURCE,)),
    ]
