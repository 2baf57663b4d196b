"""layer_norm on OpenCL: layer_norm.cl for PoCL on CPUs and NVIDIA GPUs.

- group (forward, backward): a work-group per row (the backward: per fixed block of
  rows, whose partial dweight / dbias rows ln_bwd_finish adds in order); tunables WG,
  BLOCKED (each work-item a contiguous block: CPUs; interleaved: GPUs), both run-time
  arguments: one program per dtype serves every variant and config.
- item (baseline): a work-item per row; the backward's dweight / dbias a work-item per
  column over every row (one more read of x and dout).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant

SOURCE = Path(__file__).with_name("layer_norm.cl")
BITS = {"float16": 16, "float32": 32, "float64": 64}
GROUPS = 1024  # the backward's row blocks (at most): fixed per shape, so the sums' order is
ITEM_WG = 64


def _backend():
    backend = get_backend("opencl")
    backend.require()
    return backend


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _stat(problem: Problem):
    return np.float64 if problem.dtype == "float64" else np.float32


def _fl(problem: Problem) -> np.int32:
    return np.int32(bool(problem.flag("weight")) | bool(problem.flag("bias")) << 1)


def _kernels(problem: Problem, names: tuple[str, ...]):
    backend = _backend()
    return backend, [backend.kernel(SOURCE.read_text(), name, {"DTYPE": BITS[problem.dtype]}) for name in names]


def _group_args(backend, config: dict, st) -> tuple:
    """The group kernels' trailing run-time arguments: blocked, the local buffer."""
    wg = int(config["WG"])
    return np.int32(config["BLOCKED"]), backend.cl.LocalMemory(wg * np.dtype(st).itemsize)


def _forward(kind: str):
    def build(problem: Problem, config: dict):
        backend, (kernel,) = _kernels(problem, ("ln_fwd" if kind == "group" else "ln_fwd_item",))
        st, fl = _stat(problem), _fl(problem)
        has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))
        wg = int(config.get("WG", ITEM_WG))
        dummy = backend.empty((4,), np.float64)

        def launch(x, *rest, epsilon=1e-5):
            x, rest = backend.from_start(x), [backend.from_start(a) for a in rest]
            rows, n = x.shape
            w = rest.pop(0) if has_w else dummy
            b = rest.pop(0) if has_b else dummy
            y = backend.empty(x.shape, x.dtype)
            mean, rstd = backend.empty((rows,), st), backend.empty((rows,), st)
            args = (x.data, w.data, b.data, y.data, mean.data, rstd.data, np.int64(rows), np.int32(n), st(epsilon), fl)
            if kind == "group":
                kernel(backend.queue, (min(rows, 4 * GROUPS) * wg,), (wg,), *args, *_group_args(backend, config, st))
            else:
                kernel(backend.queue, (_round_up(rows, wg),), (wg,), *args)
            return y, mean, rstd

        return launch

    return build


def _backward(kind: str):
    def build(problem: Problem, config: dict):
        names = ("ln_bwd", "ln_bwd_finish") if kind == "group" else ("ln_bwd_item", "ln_bwd_cols")
        backend, (main, sums) = _kernels(problem, names)
        st, fl = _stat(problem), _fl(problem)
        has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))
        wg = int(config.get("WG", ITEM_WG))
        dummy = backend.empty((4,), np.float64)

        def launch(x, dout, mean, rstd, *rest):
            x, dout, mean, rstd = (backend.from_start(a) for a in (x, dout, mean, rstd))
            rows, n = x.shape
            w = backend.from_start(rest[0]) if has_w else dummy
            dx = backend.empty(x.shape, x.dtype)
            dw, db = backend.empty((n,), x.dtype), backend.empty((n,), x.dtype)
            cols = (_round_up(n, ITEM_WG),)
            if kind == "group":
                per_group = -(-rows // min(rows, GROUPS))
                groups = -(-rows // per_group)
                part = backend.empty((groups * 2 * n,), st)
                main(backend.queue, (groups * wg,), (wg,), x.data, dout.data, mean.data, rstd.data, w.data, dx.data,
                     part.data, np.int64(rows), np.int32(n), np.int64(per_group), fl, *_group_args(backend, config, st))
                if has_w or has_b:
                    sums(backend.queue, cols, (ITEM_WG,), part.data, np.int64(groups), np.int32(n), dw.data, db.data)
            else:
                main(backend.queue, (_round_up(rows, wg),), (wg,), x.data, dout.data, mean.data, rstd.data, w.data,
                     dx.data, np.int64(rows), np.int32(n), fl)
                if has_w or has_b:
                    sums(backend.queue, cols, (ITEM_WG,), x.data, dout.data, mean.data, rstd.data, dw.data, db.data,
                         np.int64(rows), np.int32(n))
            return (dx,) + ((dw,) if has_w else ()) + ((db,) if has_b else ())

        return launch

    return build


def _gpu() -> bool:
    return _backend().is_gpu()


def _valid(problem: Problem, config: dict) -> bool:
    # blocked on CPU devices (PoCL runs a group's items in turn), interleaved (coalesced) on GPUs
    return config["WG"] <= _backend().max_work_group_size() and config["BLOCKED"] == (0 if _gpu() else 1)


def _default(problem: Problem) -> dict:
    if _gpu():
        return {"WG": 256 if problem.shape[1] >= 2048 else 128, "BLOCKED": 0}
    return {"WG": 8, "BLOCKED": 1}


def _variants(build) -> list[Variant]:
    def supports(problem: Problem) -> bool:
        from . import LAYER_NORM

        return problem.dtype in LAYER_NORM.dtypes("opencl")

    return [
        Variant("group", "opencl", build("group"), space={"WG": (8, 32, 64, 128, 256), "BLOCKED": (0, 1)},
                default=_default, valid=_valid, supports=supports, sources=(SOURCE,)),
        Variant("item", "opencl", build("item"), baseline=True, supports=supports, sources=(SOURCE,)),
    ]


def forward_variants() -> list[Variant]:
    return _variants(_forward)


def backward_variants() -> list[Variant]:
    return _variants(_backward)
