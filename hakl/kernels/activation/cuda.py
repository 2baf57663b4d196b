"""activations on CUDA: the CuPy formulas (the baseline) and activation.cu's kernels
(NVRTC, one module per (dtype, ITEMS); function and params at run time).

- vec: 16-byte packs, ITEMS packs per thread, one wave of blocks (act1_* where a
  pointer is not 16-byte aligned); tunables block, ITEMS.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...backends.cuda import STORAGE_HEADER, source_with_storage
from ...op import Problem, Variant
from . import FNS, baseline

SOURCE = Path(__file__).with_name("activation.cu")
KIND = {"float16": 0, "float32": 1, "float64": 2}


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return source_with_storage(SOURCE)


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"KIND": KIND[problem.dtype], "ITEMS": config.get("items", 1)}


def _vec(grad: bool):
    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        cp = backend.cp
        module = backend.compile(*compile_unit(problem, config))
        suffix = "bwd" if grad else "fwd"
        wide, narrow = module.get_function(f"act_{suffix}"), module.get_function(f"act1_{suffix}")
        fn, block, items = np.int32(FNS[problem.flag("fn")]), config["block"], config["items"]
        scalar = np.float64 if problem.dtype == "float64" else np.float32
        vw = 16 // problem.np_dtype.itemsize

        def launch(*arrays, alpha=1.0, beta=1.0, threshold=20.0):
            x = arrays[0]
            d = arrays[1] if grad else x
            out = cp.empty(x.shape, x.dtype)
            n = x.size
            aligned = all(a.data.ptr % 16 == 0 for a in (x, d, out))
            per_block = block * items * (vw if aligned else 1)
            (wide if aligned else narrow)((backend.one_wave(-(-n // per_block), block),), (block,),
                                          (x, d, out, np.int64(n), fn, scalar(alpha), scalar(beta),
                                           scalar(threshold)))
            return out

        return launch

    return build


def _variants(grad: bool) -> list[Variant]:
    return [
        Variant("vec", "cuda", _vec(grad), space={"block": (128, 256, 512), "items": (1, 4)},
                default=lambda p: {"block": 256, "items": 4}, sources=(STORAGE_HEADER, SOURCE),
                compile_unit=compile_unit),
        Variant("cupy", "cuda", baseline.formulas("cupy", grad), baseline=True),
    ]


def forward_variants() -> list[Variant]:
    return _variants(False)


def backward_variants() -> list[Variant]:
    return _variants(True)
