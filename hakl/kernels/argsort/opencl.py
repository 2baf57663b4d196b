"""argsort / sort on OpenCL: the kernels of argsort.cl (see there).

Every launcher sees the contiguous (outer, n, inner) view and sorts along n; the
argsort launchers return (values, int64 indices), the sort launchers the values
(the same kernels: the indices are made and dropped). Bytes: see `nbytes` in __init__.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from .reference import KINDS

SOURCE = Path(__file__).with_name("argsort.cl")
BITONIC_MAX = 2048  # elements a work-group sorts in local memory


def _pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    defines = {"BITS": 8 * np.dtype(problem.dtype).itemsize, "KIND": KINDS[problem.dtype],
               "DESC": int(bool(problem.flag("descending")))}
    if "p" in config:
        defines["P"] = config["p"]
    return SOURCE.read_text(), defines


def _bits(a):
    return a.view(np.dtype(f"uint{8 * a.dtype.itemsize}"))


def _gpu() -> bool:
    return get_backend("opencl").is_gpu()


def _build(strategy: str, want_idx: bool):
    def build(problem: Problem, config: dict):
        backend = get_backend("opencl")
        backend.require()
        key_dtype = np.uint64 if np.dtype(problem.dtype).itemsize == 8 else np.uint32
        kernels: dict = {}

        def kernel(name: str, p: int | None = None):
            if (name, p) not in kernels:
                source, defines = compile_unit(problem, {} if p is None else {"p": p})
                kernels[name, p] = backend.kernel(source, name, defines)
            return kernels[name, p]

        def outputs(x):
            return backend.empty(x.shape, x.dtype), backend.empty(x.shape, np.int64)

        def merge(x):
            outer, n, inner = x.shape
            vals, idx = outputs(x)
            rows = outer * inner
            ka, kb = (backend.empty((x.size,), key_dtype) for _ in range(2))
            ia, ib = (backend.empty((x.size,), np.int64) for _ in range(2))
            wg = 1 if not _gpu() else 64
            kernel("merge_rows")(backend.queue, (-(-rows // wg) * wg,), (wg,), _bits(x).data, _bits(vals).data,
                                 idx.data, ka.data, ia.data, kb.data, ib.data, np.int64(n), np.int64(rows),
                                 np.int64(inner))
            return vals, idx

        def bitonic(x):
            outer, n, inner = x.shape
            vals, idx = outputs(x)
            p = max(2, _pow2(n))
            wg = min(p // 2, config.get("wg", 256), backend.max_work_group_size())
            kernel("bitonic_rows", p)(backend.queue, (outer * inner * wg,), (wg,), _bits(x).data, _bits(vals).data,
                                      idx.data, np.int64(n), np.int64(inner))
            return vals, idx

        def radix(x):
            outer, n, inner = x.shape
            if inner > 1:  # rows first: the transposed copy (the backend's strided copy)
                rows_x = backend.ascontiguous(x.transpose((0, 2, 1))).reshape((outer * inner, n, 1))
                vals, idx = radix(rows_x)
                back = (lambda a: backend.ascontiguous(a.reshape((outer, inner, n)).transpose((0, 2, 1))))
                return back(vals), back(idx)
            size, rows = x.size, outer
            vals, idx = outputs(x)
            q = backend.queue
            keys, keys2 = (backend.empty((size,), key_dtype) for _ in range(2))
            pay, pay2 = (backend.empty((size,), np.int64) for _ in range(2))
            local = 64
            grid = (-(-size // local) * local,)
            kernel("radix_keys")(q, grid, (local,), _bits(x).data, keys.data, np.int64(size))
            items = max(1, min(config["items"], size // 1024))
            tile = -(-size // items)
            hist = backend.empty((256 * items,), np.uint32)
            passes = [(8 * b, 0) for b in range(np.dtype(problem.dtype).itemsize)]
            if rows > 1:
                passes += [(8 * b, n) for b in range(((rows - 1).bit_length() + 7) // 8)]
            wi = (-(-items // local) * local,)
            for number, (shift, row_n) in enumerate(passes):
                first = np.int32(number == 0)
                kernel("radix_hist")(q, wi, (local,), keys.data, pay.data, hist.data, np.int64(size),
                                     np.int32(shift), np.int64(row_n), np.int64(tile), np.int64(items))
                kernel("radix_scan")(q, (256,), (256,), hist.data, np.int64(items))
                kernel("radix_scatter")(q, wi, (local,), keys.data, pay.data, keys2.data, pay2.data, hist.data,
                                        np.int64(size), np.int32(shift), np.int64(row_n), first, np.int64(tile),
                                        np.int64(items))
                keys, keys2, pay, pay2 = keys2, keys, pay2, pay
            kernel("radix_finish")(q, grid, (local,), pay.data, _bits(x).data, _bits(vals).data, idx.data,
                                   np.int64(size), np.int64(n))
            return vals, idx

        run = {"merge": merge, "bitonic": bitonic, "radix": radix}[strategy]

        def launch(x):
            if x.size == 0:
                vals, idx = outputs(x)
            else:
                vals, idx = run(backend.from_start(x))
            return (vals, idx) if want_idx else vals

        return launch

    return build


def _scatter(problem: Problem, config: dict):
    backend = get_backend("opencl")
    backend.require()
    source, defines = compile_unit(problem, {})
    kernel = backend.kernel(source, "scatter_grad", defines)

    def launch(dy, idx):
        _, n, inner = dy.shape
        dx = backend.empty(dy.shape, dy.dtype)
        if dy.size:
            dy, idx = backend.from_start(dy), backend.from_start(idx)
            local = 64
            kernel(backend.queue, (-(-dy.size // local) * local,), (local,), _bits(dy).data, idx.data,
                   _bits(dx).data, np.int64(n), np.int64(inner), np.int64(dy.size))
        return dx

    return launch


def _variants(want_idx: bool) -> list[Variant]:
    common = dict(sources=(SOURCE,), compile_unit=compile_unit)
    return [
        Variant("merge", "opencl", _build("merge", want_idx), baseline=True, **common),
        Variant("bitonic", "opencl", _build("bitonic", want_idx), space={"wg": (64, 256, 1024)},
                default=lambda p: {"wg": 256}, supports=lambda p: p.shape[1] <= BITONIC_MAX, **common),
        Variant("radix", "opencl", _build("radix", want_idx), space={"items": (256, 1024, 4096)},
                default=lambda p: {"items": 1024 if _gpu() else 256}, supports=lambda p: p.size < 1 << 32,
                rank=lambda p: 0 if p.shape[1] > BITONIC_MAX else 1, **common),
    ]


def argsort_variants() -> list[Variant]:
    return _variants(True)


def sort_variants() -> list[Variant]:
    return _variants(False)


def backward_variants() -> list[Variant]:
    return [Variant("scatter", "opencl", _scatter, baseline=True, sources=(SOURCE,), compile_unit=compile_unit)]
