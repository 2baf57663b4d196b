"""Optimizer updates on OpenCL: per_param (baseline: pyopencl array expressions per
parameter; float32/float64, pyopencl's float16 arithmetic needs cl_khr_fp16) and fused
(optimizer.cl's `update`, one launch per parameter; every dtype). No multi-tensor
variant: an OpenCL 1.2 kernel reaches buffers only as arguments, not through a table
of addresses (a batch of buffers per launch is left for later)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import baseline, coefficients, one_by_one, per_tensor, rule, split, state_dtype, updated

SOURCE = Path(__file__).with_name("optimizer.cl")
KIND = {"float16": 0, "float32": 1, "float64": 2}


def _fused(problem: Problem, config: dict):
    backend = get_backend("opencl")
    backend.require()
    st = state_dtype(problem)
    kernel = backend.kernel(SOURCE.read_text(), "update", {"KIND": KIND[problem.dtype], "SKIND": KIND[st]})
    ct = np.float64 if st == "float64" else np.float32
    code, master, wg, items = np.int32(rule(problem)), bool(problem.flag("master")), config["wg"], config["items"]

    def launch(*arrays, **params):
        moments = coefficients(params, ct)
        for one, its in one_by_one(problem, arrays, params):
            lists = split(problem, one)
            p = lists["params"][0]
            if p.size == 0:
                continue
            states = [v[0] for k, v in lists.items() if k in ("moments1", "moments2", "velocities")]
            s1 = states[0] if states else p
            s2 = states[1] if len(states) > 1 else s1
            w = lists["master_params"][0] if master else s1
            lr, decay, eps = (ct(v) for v in per_tensor(problem, its, 1)[0])
            lanes = -(-p.size // items)
            kernel(backend.queue, (-(-lanes // wg) * wg,), (wg,), *backend.at(p), *backend.at(lists["grads"][0]),
                   *backend.at(s1), *backend.at(s2), *backend.at(w), np.int64(p.size), code, np.int32(master),
                   lr, decay, eps, *moments, np.int32(items))
        return updated(problem, arrays)

    return launch


def _sqrt(a):
    import pyopencl.clmath as clmath

    return clmath.sqrt(a)


def _write(dst, src):
    get_backend("opencl").copy_into(dst, src.astype(dst.dtype))


def _default(problem: Problem) -> dict:
    return {"wg": 256, "items": 4} if get_backend("opencl").is_gpu() else {"wg": 64, "items": 16}


def _variants() -> list[Variant]:
    return [
        Variant("fused", "opencl", _fused, space={"wg": (64, 256), "items": (1, 4, 16)}, default=_default,
                sources=(SOURCE,)),
        Variant("per_param", "opencl", baseline.build(_sqrt, _write), baseline=True,
                supports=lambda p: p.dtype != "float16" and not p.flag("master")),
    ]


adamw_variants = sgd_variants = momentum_variants = _variants
