"""cast on CUDA: cast.cu compiled by NVRTC, the source dtype and ITEMS as -D
defines; a module holds a kernel pair per destination dtype (9 modules to build
for every pair, not 81 — NVRTC takes ~0.5 s a module).

- simple (baseline): one thread per element. It is a kernel, not CuPy's astype,
  so that every variant gives the same answer for out-of-range float -> int
  (CuPy's static_cast saturates); the GPU script times astype beside it.
- vec: packs of 16 / max(itemsizes) elements, so the wider side moves 16 bytes
  per thread and both sides are contiguous across a warp, ITEMS packs in flight
  per thread, a grid-stride loop over one wave of blocks; tunables BLOCK, ITEMS. An input that is not 16-byte
  aligned (a view into a larger buffer) takes the module's simple kernel.

Bytes moved at minimum: n * (source itemsize + destination itemsize).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant

SOURCE = Path(__file__).with_name("cast.cu")
CODES = {name: i for i, name in enumerate(
    ("bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64"))}
SIMPLE_BLOCK = 256


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def itemsizes(problem: Problem) -> tuple[int, int]:
    """(source, destination) item sizes."""
    return problem.np_dtype.itemsize, np.dtype(problem.flag("to")).itemsize


def pack(problem: Problem) -> int:
    """Elements per pack: 16 bytes of the wider side."""
    return 16 // max(itemsizes(problem))


def _unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"SRC": CODES[problem.dtype], "ITEMS": config.get("ITEMS", 1)}


def _kernel(module, name: str, problem: Problem):
    return module.get_function(f"{name}_{CODES[problem.flag('to')]}")


def _simple(problem: Problem, config: dict):
    import cupy as cp

    backend = get_backend("cuda")
    fn = _kernel(backend.compile(*_unit(problem, {})), "cast_simple", problem)
    to = np.dtype(problem.flag("to"))

    def launch(x):
        y = cp.empty(x.shape, to)
        n = x.size
        fn((backend.blocks(n, SIMPLE_BLOCK),), (SIMPLE_BLOCK,), (x, y, np.int64(n)))
        return y

    return launch


def _vec(problem: Problem, config: dict):
    import cupy as cp

    backend = get_backend("cuda")
    module = backend.compile(*_unit(problem, config))
    vec, simple = _kernel(module, "cast_vec", problem), _kernel(module, "cast_simple", problem)
    to = np.dtype(problem.flag("to"))
    block, per_block = config["BLOCK"], config["BLOCK"] * config["ITEMS"] * pack(problem)

    def launch(x):
        y = cp.empty(x.shape, to)
        n = x.size
        if x.data.ptr % 16:
            simple((backend.blocks(n, SIMPLE_BLOCK),), (SIMPLE_BLOCK,), (x, y, np.int64(n)))
        else:
            vec((backend.one_wave(-(-n // per_block), block),), (block,), (x, y, np.int64(n)))
        return y

    return launch


def _default(problem: Problem) -> dict:
    return {"BLOCK": 256, "ITEMS": 4}


def _supports(problem: Problem) -> bool:
    return problem.dtype in CODES and problem.flag("to") in CODES


def variants() -> list[Variant]:
    return [
        Variant("vec", "cuda", _vec, space={"BLOCK": (128, 256, 512), "ITEMS": (1, 2, 4, 8)},
                supports=_supports, default=_default, sources=(SOURCE,), compile_unit=_unit),
        Variant("simple", "cuda", _simple, baseline=True, supports=_supports, sources=(SOURCE,),
                compile_unit=lambda p, c: _unit(p, {})),
    ]
