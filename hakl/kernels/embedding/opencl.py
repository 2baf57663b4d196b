"""embedding on OpenCL: embedding.cl for PoCL on CPUs and NVIDIA GPUs, one program per dtype.

- rows: a work-group per id (forward) or per table row (backward), items across the row
  (coalesced on GPUs, one contiguous sweep per group on PoCL); tunable WG.
- elem (baseline): a work-item per element.
- atomic (backward, float32, deterministic=False only): a work-item per dout element
  adding into a zeroed table with a compare-and-swap loop.

The deterministic backward groups the ids on the host (a stable sort of the N ids, which
come back once: they are small beside dout) and checks them there; the forward and the
atomic backward check the ids in the kernel (one int read back).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import baseline, reference

SOURCE = Path(__file__).with_name("embedding.cl")
BITS = {"float16": 16, "float32": 32, "float64": 64}
GROUPS = 4096  # groups of the row kernels at most (they stride over the rest)
ELEM_WG = 64
NO_BAD = np.iinfo(np.int32).max


def _backend():
    backend = get_backend("opencl")
    backend.require()
    return backend


def _kernel(problem: Problem, name: str):
    backend = _backend()
    return backend, backend.kernel(SOURCE.read_text(), name, {"DTYPE": BITS[problem.dtype]})


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _raise_bad(backend, problem: Problem, bad_at, ids, num: int) -> None:
    at = int(bad_at.get()[0])  # the one value read back
    if at != NO_BAD:  # (a position past 2^31 - 1 is kept as INT_MAX: then the host finds it)
        value = int(ids[at:at + 1].get()[0])
        if 0 <= value < num:
            reference.check_ids(problem.op, ids.get(), num)
        raise ValueError(reference.ids_error(problem.op, value, num))


def _forward(kind: str):
    def build(problem: Problem, config: dict):
        backend, kernel = _kernel(problem, "emb_fwd_rows" if kind == "rows" else "emb_fwd_elem")
        wg = int(config.get("WG", ELEM_WG))
        wide = np.int32(problem.input_dtypes[1] == "int64")

        def launch(table, ids, padding_idx=reference.NO_PADDING):
            table, ids = backend.from_start(table), backend.from_start(ids)
            num, dim = table.shape
            n = ids.size
            out = backend.empty((n, dim), table.dtype)
            bad_at = backend.asarray(np.array([NO_BAD], np.int32))
            size = min(n, GROUPS) * wg if kind == "rows" else _round_up(n * dim, wg)
            kernel(backend.queue, (size,), (wg,), table.data, ids.data, ids.data, wide, out.data, np.int64(n),
                   np.int32(dim), np.int64(num), np.int64(padding_idx), bad_at.data)
            _raise_bad(backend, problem, bad_at, ids, num)
            return out

        return launch

    return build


def _backward(kind: str):
    def build(problem: Problem, config: dict):
        name = {"rows": "emb_grad_rows", "elem": "emb_grad_elem", "atomic": "emb_grad_atomic"}[kind]
        backend, kernel = _kernel(problem, name)
        wg = int(config.get("WG", ELEM_WG))
        wide = np.int32(problem.input_dtypes[1] == "int64")

        def launch(dout, ids, num_embeddings=0, padding_idx=reference.NO_PADDING):
            dout, ids = backend.from_start(dout), backend.from_start(ids)
            n, dim = dout.shape
            num = num_embeddings
            if kind == "atomic":
                out = backend.asarray(np.zeros((num, dim), dout.dtype))
                bad_at = backend.asarray(np.array([NO_BAD], np.int32))
                kernel(backend.queue, (_round_up(n * dim, wg),), (wg,), dout.data, ids.data, ids.data, wide, out.data,
                       np.int64(n), np.int32(dim), np.int64(num), np.int64(padding_idx), bad_at.data)
                _raise_bad(backend, problem, bad_at, ids, num)
                return out
            perm, offsets = baseline.group(np, ids.get(), num)
            out = backend.empty((num, dim), dout.dtype)
            size = min(num, GROUPS) * wg if kind == "rows" else _round_up(num * dim, wg)
            kernel(backend.queue, (size,), (wg,), dout.data, backend.asarray(perm).data, backend.asarray(offsets).data,
                   out.data, np.int64(num), np.int32(dim), np.int64(padding_idx))
            return out

        return launch

    return build


def _default(problem: Problem) -> dict:
    return {"WG": 128 if _backend().is_gpu() else 16}


def _valid(problem: Problem, config: dict) -> bool:
    return config["WG"] <= _backend().max_work_group_size()


def _supports(problem: Problem) -> bool:
    from . import EMBEDDING

    return problem.dtype in EMBEDDING.dtypes("opencl")


def forward_variants() -> list[Variant]:
    return [
        Variant("rows", "opencl", _forward("rows"), space={"WG": (16, 64, 128, 256)}, default=_default, valid=_valid,
                supports=_supports, sources=(SOURCE,)),
        Variant("elem", "opencl", _forward("elem"), baseline=True, supports=_supports, sources=(SOURCE,)),
    ]


def backward_variants() -> list[Variant]:
    # atomic first on GPUs where a caller allowed it (deterministic=False); never preferred on PoCL
    return [
        Variant("atomic", "opencl", _backward("atomic"), supports=lambda p: p.dtype == "float32" and _supports(p)
                and not p.flag("deterministic", True), rank=lambda p: 0 if _backend().is_gpu() else 1,
                sources=(SOURCE,)),
        Variant("rows", "opencl", _backward("rows"), space={"WG": (16, 64, 128, 256)}, default=_default,
                valid=_valid, supports=_supports, sources=(SOURCE,)),
        Variant("elem", "opencl", _backward("elem"), baseline=True, supports=_supports, sources=(SOURCE,)),
    ]
