"""cumsum on CUDA: a CuPy baseline and the four kernels of cumsum.cu.

Every launcher sees the contiguous (outer, n, inner) view and scans along n.
Bytes: at least read x and write y once, 2 * size * itemsize; the look-back
kernels add a few bytes of status per tile.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import baseline

SOURCE = Path(__file__).with_name("cumsum.cu")
KIND = {"float16": 0, "float32": 1, "float64": 2, "int32": 3, "int64": 4}
# What cumsum.cu carries prefixes in, per dtype (see there).
CARRY = {"float16": np.float32, "float32": np.float64, "float64": np.float64, "int32": np.uint32,
         "int64": np.uint64}


def vec_width(dtype: str) -> int:
    """Elements per 16-byte access."""
    return 16 // np.dtype(dtype).itemsize


def lanes_per_row(n: int, vec: int, items: int) -> int:
    """scan_warp_rows' SW: the fewest lanes (a power of two <= 32) that cover a row of n
    elements in one step, so short rows do not leave most of a warp idle."""
    steps = -(-n // (vec * items))
    return min(32, 1 << max(steps - 1, 0).bit_length())


def _unit(kernel: str):
    def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
        """The unit `config` builds. "vec" (V) and, for warp rows, "sw" (SW) are chosen at
        launch; they default to what aligned data of the problem's length gets (V=1 is
        built for data that cannot take vector accesses)."""
        vec = config.get("vec", vec_width(problem.dtype))
        defines = {"KIND": KIND[problem.dtype], "BLOCK": config["block"], "V": vec}
        if kernel == "scan_columns":
            defines["R"] = config["r"]
        else:
            defines["ITEMS"] = config["items"]
        if kernel == "scan_warp_rows":
            defines["SW"] = config.get("sw", lanes_per_row(problem.shape[1], vec, config["items"]))
        return SOURCE.read_text(), defines
    return compile_unit


def _aligned(arrays, extent: int, vec: int) -> bool:
    """Vector accesses are safe: rows (or column groups) of `extent` elements split into
    whole vectors and every base pointer is 16-byte aligned."""
    return extent % vec == 0 and all(a.data.ptr % 16 == 0 for a in arrays)


def _build(kernel: str):
    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        cp = backend.cp
        exclusive, reverse = np.int32(problem.flag("exclusive")), np.int32(problem.flag("reverse"))
        carry = CARRY[problem.dtype]
        block, items, r = config["block"], config.get("items", 1), config.get("r", 8)
        widest = vec_width(problem.dtype)
        functions = {}

        def function(v: int, sw: int = 32):
            # Modules per vector width (1 for data that cannot take vector accesses) and,
            # for warp rows, per lanes-per-row.
            if (v, sw) not in functions:
                source, defines = _unit(kernel)(problem, {**config, "vec": v, "sw": sw})
                functions[v, sw] = backend.compile(source, defines).get_function(kernel)
            return functions[v, sw]

        def launch(x):
            outer, n, inner = x.shape
            y = cp.empty(x.shape, x.dtype)
            if y.size == 0:
                return y
            if kernel == "scan_columns":
                v = widest if _aligned([x, y], inner, widest) else 1
                colblocks = -(-inner // (32 * v))
                tiles = outer * colblocks * -(-n // (block // 32 * r))
                flags = cp.zeros(tiles + 1, np.uint32)  # the last word is the tile counter
                status = cp.empty(tiles * 2 * 32 * v, carry)
                function(v)((tiles,), (block,), (x, y, np.int64(outer), np.int64(n), np.int64(inner),
                                                 np.int64(colblocks), exclusive, reverse, flags[tiles:], flags,
                                                 status))
                return y
            v = widest if _aligned([x, y], n, widest) else 1
            if kernel == "scan_lookback":
                tiles = -(-n // (block * items * v))
                flags = cp.zeros(tiles + 1, np.uint32)
                values = cp.empty(2 * tiles, carry)
                function(v)((tiles,), (block,), (x, y, np.int64(n), exclusive, reverse, flags[tiles:], flags,
                                                 values[:tiles], values[tiles:]))
            elif kernel == "scan_block_rows":
                function(v)((outer,), (block,), (x, y, np.int64(n), exclusive, reverse))
            else:
                sw = lanes_per_row(n, v, items)
                grid = -(-outer * sw // block)
                function(v, sw)((grid,), (block,), (x, y, np.int64(outer), np.int64(n), exclusive, reverse))
            return y

        return launch

    return build


def variants() -> list[Variant]:
    common = dict(sources=(SOURCE,))
    # Declared in the order the heuristic should prefer them where several apply. The
    # defaults were the best (or within a few % of it) of what the tuner tried on an H100.
    return [
        Variant("cupy", "cuda", baseline.scan("cupy"), baseline=True),
        Variant("lookback", "cuda", _build("scan_lookback"),
                space={"block": (128, 256, 512), "items": (4, 8, 16)}, default=lambda p: {"block": 128, "items": 8},
                supports=lambda p: p.shape[0] == 1 and p.shape[2] == 1, compile_unit=_unit("scan_lookback"), **common),
        Variant("warp_rows", "cuda", _build("scan_warp_rows"), space={"block": (128, 256), "items": (1, 2, 4)},
                default=lambda p: {"block": 256, "items": 1},
                supports=lambda p: p.shape[2] == 1 and p.shape[1] <= 4096, compile_unit=_unit("scan_warp_rows"),
                **common),
        Variant("block_rows", "cuda", _build("scan_block_rows"),
                space={"block": (256, 512), "items": (1, 2)}, default=lambda p: {"block": 512, "items": 2},
                supports=lambda p: p.shape[2] == 1 and p.shape[1] > 512, compile_unit=_unit("scan_block_rows"),
                **common),
        Variant("columns", "cuda", _build("scan_columns"), space={"block": (128, 256, 512), "r": (8, 16)},
                default=lambda p: {"block": 256, "r": 16}, supports=lambda p: p.shape[2] > 1,
                compile_unit=_unit("scan_columns"), **common),
    ]
