"""Optimizer updates on CUDA: per_param (baseline: CuPy expressions per parameter),
fused (optimizer.cu's update_one, one launch per parameter) and multi (update_multi:
one launch over every parameter through a device table of pointers, sizes and
per-tensor scalars; a block per chunk of CHUNK elements). Never run: no GPU here."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import baseline, coefficients, one_by_one, per_tensor, rule, split, state_dtype, tables, updated

SOURCE = Path(__file__).with_name("optimizer.cu")
KIND = {"float16": 0, "float32": 1, "float64": 2}
CHUNK = 1 << 13  # elements per block of update_multi: thousands of blocks for 10M parameters


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"KIND": KIND[problem.dtype], "SKIND": KIND[state_dtype(problem)]}


def _build(multi: bool):
    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        cp = backend.cp
        module = backend.compile(*compile_unit(problem, config))
        one_kernel, multi_kernel = module.get_function("update_one"), module.get_function("update_multi")
        ct = np.float64 if state_dtype(problem) == "float64" else np.float32
        code, master, block = np.int32(rule(problem)), np.int32(bool(problem.flag("master"))), config["block"]

        def launch(*arrays, **params):
            moments = coefficients(params, ct)
            if multi:
                table, chunks, scal = tables(problem, arrays, params, lambda a: a.data.ptr, CHUNK)
                if len(chunks):
                    multi_kernel((backend.one_wave(len(chunks), block),), (block,),
                                 (cp.asarray(table), cp.asarray(chunks), cp.asarray(scal), np.int64(len(chunks)),
                                  code, master, *moments))
                return updated(problem, arrays)
            for one, its in one_by_one(problem, arrays, params):
                lists = split(problem, one)
                p = lists["params"][0]
                if p.size == 0:
                    continue
                states = [v[0] for k, v in lists.items() if k in ("moments1", "moments2", "velocities")]
                s1 = states[0] if states else p
                s2 = states[1] if len(states) > 1 else s1
                w = lists["master_params"][0] if problem.flag("master") else s1
                lr, decay, eps = (ct(v) for v in per_tensor(problem, its, 1)[0])
                one_kernel((backend.blocks(p.size, block),), (block,),
                           (p, lists["grads"][0], s1, s2, w, np.int64(p.size), code, master, lr, decay, eps,
                            *moments))
            return updated(problem, arrays)

        return launch

    return build


def _write(dst, src):
    get_backend("cuda").cp.copyto(dst, src, casting="unsafe")


def _variants() -> list[Variant]:
    space = {"block": (256, 512)}
    return [
        Variant("multi", "cuda", _build(True), space=space, sources=(SOURCE,), compile_unit=compile_unit),
        Variant("fused", "cuda", _build(False), space=space, sources=(SOURCE,), compile_unit=compile_unit),
        Variant("per_param", "cuda", baseline.build(lambda a: get_backend("cuda").cp.sqrt(a), _write),
                baseline=True),
    ]


adamw_variants = sgd_variants = momentum_variants = _variants
