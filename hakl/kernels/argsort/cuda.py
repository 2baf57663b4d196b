"""argsort / sort on CUDA: the Paddle-style CuPy baseline and the kernels of argsort.cu.

Every launcher sees the contiguous (outer, n, inner) view and sorts along n; the
argsort launchers return (values, int64 indices), the sort launchers the values
(the same kernels, indices dropped). Bytes: see `nbytes` in __init__.

warp: a warp per row, n <= 128 (WP / 32 keys per lane in registers, shuffles).
block: a block per row, n <= 4096, bitonic in shared memory.
radix: LSD radix sort over all elements (1-D and long rows; rows > 1 add row
  digits): per pass a tile histogram, CuPy's cumsum over the digit-major
  histogram (every tile's base per digit), and a stable scatter.
The kernels read rows with a stride when inner > 1; radix transposes first.
Compiled in CI by tests/kernels/test_cuda_sources.py; not yet run on a GPU.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import baseline
from .reference import KINDS

SOURCE = Path(__file__).with_name("argsort.cu")
WARP_MAX, BLOCK_MAX = 128, 4096


def _pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def _unit(kernel: str):
    def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
        defines = {"BITS": 8 * np.dtype(problem.dtype).itemsize, "KIND": KINDS[problem.dtype],
                   "DESC": int(bool(problem.flag("descending")))}
        n = problem.shape[1]
        if kernel == "warp":
            defines["WP"] = config.get("wp", max(32, _pow2(n)))
        elif kernel == "block":
            defines["BP"] = config.get("bp", max(64, _pow2(n)))
        elif kernel == "radix":
            defines.update(BLOCK=256, ITEMS=config["items"])
        return SOURCE.read_text(), defines
    return compile_unit


def _build(kernel: str, want_idx: bool):
    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        cp = backend.cp
        modules: dict = {}

        def function(name: str, **extra):
            key = (name, tuple(sorted(extra.items())))
            if key not in modules:
                source, defines = _unit(kernel)(problem, {**config, **extra})
                modules[key] = backend.compile(source, defines).get_function(name)
            return modules[key]

        def bits(a):
            return a.view(np.dtype(f"uint{8 * a.dtype.itemsize}"))

        def run(x):
            outer, n, inner = x.shape
            vals = cp.empty(x.shape, x.dtype)
            idx = cp.empty(x.shape, np.int64)
            rows = outer * inner
            if kernel == "warp":
                wp = max(32, _pow2(n))
                block = 128
                function("warp_sort_rows", wp=wp)((-(-rows * 32 // block),), (block,),
                                                   (bits(x), bits(vals), idx, np.int64(rows), np.int64(n),
                                                    np.int64(inner)))
                return vals, idx
            if kernel == "block":
                bp = max(64, _pow2(n))
                function("block_sort_rows", bp=bp)((rows,), (min(bp // 2, 1024),),
                                                    (bits(x), bits(vals), idx, np.int64(n), np.int64(inner)))
                return vals, idx
            if inner > 1:
                rows_x = cp.ascontiguousarray(x.transpose(0, 2, 1)).reshape(rows, n, 1)
                v, i = run(rows_x)
                return (cp.ascontiguousarray(v.reshape(outer, inner, n).transpose(0, 2, 1)),
                        cp.ascontiguousarray(i.reshape(outer, inner, n).transpose(0, 2, 1)))
            size = x.size
            key_dtype = np.uint64 if x.dtype.itemsize == 8 else np.uint32
            keys, keys2 = cp.empty(size, key_dtype), cp.empty(size, key_dtype)
            pay, pay2 = cp.empty(size, np.int64), cp.empty(size, np.int64)
            tile = 256 * config["items"]
            blocks = -(-size // tile)
            grid = backend.one_wave(backend.blocks(size, 256), 256)
            function("radix_keys")((grid,), (256,), (bits(x), keys, np.int64(size)))
            passes = [(8 * b, 0) for b in range(x.dtype.itemsize)]
            if outer > 1:
                passes += [(8 * b, n) for b in range(((outer - 1).bit_length() + 7) // 8)]
            hist = cp.empty(256 * blocks, np.uint32)
            for number, (shift, row_n) in enumerate(passes):
                first = np.int32(number == 0)
                args = (np.int64(size), np.int32(shift), np.int64(row_n), first)
                function("radix_hist")((blocks,), (256,), (keys, pay, hist) + args)
                offsets = cp.cumsum(hist, dtype=np.uint64)
                offsets -= hist
                function("radix_scatter")((blocks,), (256,), (keys, pay, keys2, pay2, offsets) + args)
                keys, keys2, pay, pay2 = keys2, keys, pay2, pay
            function("radix_finish")((grid,), (256,), (pay, bits(x), bits(vals), idx, np.int64(size), np.int64(n)))
            return vals, idx

        def launch(x):
            if x.size == 0:
                vals, idx = cp.empty(x.shape, x.dtype), cp.empty(x.shape, np.int64)
            else:
                vals, idx = run(x)
            return (vals, idx) if want_idx else vals

        return launch

    return build


def _scatter(problem: Problem, config: dict):
    backend = get_backend("cuda")
    backend.require()
    cp = backend.cp
    source, defines = _unit("scatter")(problem, config)
    fn = backend.compile(source, defines).get_function("scatter_grad")

    def launch(dy, idx):
        _, n, inner = dy.shape
        dx = cp.empty(dy.shape, dy.dtype)
        if dy.size:
            u = np.dtype(f"uint{8 * dy.dtype.itemsize}")
            grid = backend.one_wave(backend.blocks(dy.size, 256), 256)
            fn((grid,), (256,), (dy.view(u), idx, dx.view(u), np.int64(n), np.int64(inner), np.int64(dy.size)))
        return dx

    return launch


def _variants(want_idx: bool) -> list[Variant]:
    common = dict(sources=(SOURCE,))
    base = baseline.argsort("cupy") if want_idx else baseline.sort("cupy")
    return [
        Variant("cupy", "cuda", base, baseline=True),
        Variant("warp", "cuda", _build("warp", want_idx), supports=lambda p: p.shape[1] <= WARP_MAX,
                compile_unit=_unit("warp"), **common),
        Variant("block", "cuda", _build("block", want_idx), supports=lambda p: 1 < p.shape[1] <= BLOCK_MAX,
                rank=lambda p: 0 if p.shape[1] > WARP_MAX else 1, compile_unit=_unit("block"), **common),
        Variant("radix", "cuda", _build("radix", want_idx), space={"items": (4, 8, 16)},
                default=lambda p: {"items": 8}, rank=lambda p: 0 if p.shape[1] > BLOCK_MAX else 2,
                compile_unit=_unit("radix"), **common),
    ]


def argsort_variants() -> list[Variant]:
    return _variants(True)


def sort_variants() -> list[Variant]:
    return _variants(False)


def backward_variants() -> list[Variant]:
    return [Variant("cupy", "cuda", baseline.scatter("cupy"), baseline=True),
            Variant("scatter", "cuda", _scatter, sources=(SOURCE,), compile_unit=_unit("scatter"))]
