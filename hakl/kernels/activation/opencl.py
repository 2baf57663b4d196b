"""activations on OpenCL: the `act` kernel of activation.cl, one program per dtype
(function, direction, params and elements per work-item at run time).

- simple (baseline): a work-item per element (pyopencl's array math has no erfc
  and no float16 without cl_khr_fp16).
- tiled: `items` elements per work-item; tunables wg, items.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...backends.vecmath import ERFC_P, ERFC_Q
from ...op import Problem, Variant
from . import FNS

SOURCE = Path(__file__).with_name("activation.cl")
KIND = {"float16": 0, "float32": 1, "float64": 2}
ERFC = {**{f"ERFC_P{i}": f"{float(c)!r}f" for i, c in enumerate(ERFC_P)},
        **{f"ERFC_Q{i}": f"{float(c)!r}f" for i, c in enumerate(ERFC_Q)}}


def _build(grad: bool, fixed: dict | None = None):
    def build(problem: Problem, config: dict):
        config = fixed or config
        backend = get_backend("opencl")
        backend.require()
        kernel = backend.kernel(SOURCE.read_text(), "act", {"KIND": KIND[problem.dtype], **ERFC})
        fn = np.int32(FNS[problem.flag("fn")])
        scalar = np.float64 if problem.dtype == "float64" else np.float32
        wg, items = config["wg"], config["items"]

        def launch(*arrays, alpha=1.0, beta=1.0, threshold=20.0):
            x = arrays[0]
            d = arrays[1] if grad else x
            out = backend.empty(x.shape, x.dtype)
            n = x.size
            lanes = -(-n // items)
            kernel(backend.queue, (-(-lanes // wg) * wg,), (wg,), *backend.at(x), *backend.at(d), out.data,
                   np.int64(n), fn, np.int32(grad), scalar(alpha), scalar(beta), scalar(threshold), np.int32(items))
            return out

        return launch

    return build


def _default(problem: Problem) -> dict:
    # PoCL on the 2-core Xeon, 4M float32: items 4 in groups of 256 were 1.11x (relu) and
    # 1.13x (gelu) the simple kernel; the 16 items this default was before, 0.57x and 1.04x.
    return {"wg": 256, "items": 4}


def _variants(grad: bool) -> list[Variant]:
    def supports(problem: Problem) -> bool:
        from . import ACTIVATION

        return problem.dtype in ACTIVATION.dtypes("opencl")

    return [
        Variant("tiled", "opencl", _build(grad), space={"wg": (64, 256), "items": (1, 4, 16)}, default=_default,
                supports=supports, sources=(SOURCE,)),
        Variant("simple", "opencl", _build(grad, {"wg": 64, "items": 1}), baseline=True, supports=supports,
                sources=(SOURCE,)),
    ]


def forward_variants() -> list[Variant]:
    return _variants(False)


def backward_variants() -> list[Variant]:
    return _variants(True)
