"""cast on OpenCL: cast.cl, the source dtype and the vector width as -D defines,
the destination a run-time argument (one program per source dtype: PoCL spends
~0.5 s building a program, and 81 of them would dominate the test suite).

- simple (baseline): a work-item per element.
- vec: VEC elements per vector load/store (default on a GPU: 16 bytes of the
  wider side, so both sides stay contiguous across a warp), a grid-stride loop; tunables VEC, WG (work-group size) and PER_ITEM
  (vectors per work-item, which sets the global size).
The baseline builds with the default VEC, so one program serves both.

Bytes moved at minimum: n * (source itemsize + destination itemsize).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from .cuda import CODES, itemsizes, pack

SOURCE = Path(__file__).with_name("cast.cl")
SIMPLE_WG = 64


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def _default(problem: Problem) -> dict:
    """GPU: 16 bytes of the wider side per vector (as cast.cu). CPU (PoCL vectorises
    across work-items): 4 elements, which keeps even int64 vectors within AVX2's 256 bits."""
    if _cpu():
        return {"VEC": 4, "WG": 64, "PER_ITEM": 4}
    return {"VEC": pack(problem), "WG": 256, "PER_ITEM": 1}


def _cpu() -> bool:
    backend = get_backend("opencl")
    return not backend.is_gpu()


def _kernel(problem: Problem, name: str, vec: int):
    backend = get_backend("opencl")
    backend.require()
    return backend.kernel(_source(), name, {"SRC": CODES[problem.dtype], "VEC": vec})


def _simple(problem: Problem, config: dict):
    kernel = _kernel(problem, "cast_simple", _default(problem)["VEC"])
    to, backend = np.dtype(problem.flag("to")), get_backend("opencl")
    dst = np.int32(CODES[to.name])

    def launch(x):
        n = x.size
        y = backend.empty(x.shape, to)
        kernel(backend.queue, (-(-n // SIMPLE_WG) * SIMPLE_WG,), (SIMPLE_WG,), *backend.at(x), y.data, np.int64(n), dst)
        return y

    return launch


def _vec(problem: Problem, config: dict):
    kernel = _kernel(problem, "cast_vec", config["VEC"])
    to, backend = np.dtype(problem.flag("to")), get_backend("opencl")
    wg, per_work_item = config["WG"], config["VEC"] * config["PER_ITEM"]
    dst = np.int32(CODES[to.name])

    def launch(x):
        n = x.size
        y = backend.empty(x.shape, to)
        items = max(-(-n // per_work_item), config["VEC"])  # at least the tail's work-items
        kernel(backend.queue, (-(-items // wg) * wg,), (wg,), *backend.at(x), y.data, np.int64(n), dst)
        return y

    return launch


def _supports(problem: Problem) -> bool:
    from . import dtypes

    return (get_backend("opencl").available and problem.dtype in dtypes("opencl")
            and problem.flag("to") in dtypes("opencl"))


def variants() -> list[Variant]:
    return [
        Variant("vec", "opencl", _vec, space={"VEC": (2, 4, 8, 16), "WG": (64, 256), "PER_ITEM": (1, 4, 16)},
                supports=_supports, default=_default, sources=(SOURCE,),
                valid=lambda p, c: c["VEC"] * max(itemsizes(p)) <= 128),
        Variant("simple", "opencl", _simple, baseline=True, supports=_supports, sources=(SOURCE,)),
    ]
