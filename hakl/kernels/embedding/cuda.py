"""embedding on CUDA: the CuPy take baseline and embedding.cu (NVRTC, softmax.cu's types
prepended; one module per dtype, the block size at launch).

- warp_rows: a warp per id (forward, 16-byte packs where the rows allow) or per table row
  (backward: the ids grouped on the device by CuPy, baseline.group); tunable BLOCK.
- elem (backward baseline): a thread per table element, the same ordered sums.
- atomic (backward, float32, deterministic=False only): atomicAdd into a zeroed table.
The forward and the atomic backward check the ids in the kernel, the grouping with one
CuPy reduction; either way one value is read back.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from ..softmax.cuda import COMMON, DTYPE_CODE
from . import baseline, reference

SOURCE = Path(__file__).with_name("embedding.cu")
NO_BAD = np.iinfo(np.int32).max


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return COMMON.read_text() + "\n" + SOURCE.read_text()


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"DTYPE": DTYPE_CODE[problem.dtype]}


def _module(problem: Problem, config: dict):
    backend = get_backend("cuda")
    backend.require()
    return backend, backend.compile(*compile_unit(problem, config))


def _raise_bad(problem: Problem, bad_at, ids, num: int) -> None:
    at = int(bad_at.get()[0])  # the one value read back
    if at != NO_BAD:  # (a position past 2^31 - 1 is kept as INT_MAX: then the host finds it)
        value = int(ids[at])
        if 0 <= value < num:
            reference.check_ids(problem.op, ids.get(), num)
        raise ValueError(reference.ids_error(problem.op, value, num))


def _forward(problem: Problem, config: dict):
    backend, module = _module(problem, config)
    cp, kernel = backend.cp, module.get_function("emb_fwd")
    block, wide = int(config["BLOCK"]), np.int32(problem.input_dtypes[1] == "int64")
    item = problem.np_dtype.itemsize

    def launch(table, ids, padding_idx=reference.NO_PADDING):
        num, dim = table.shape
        n = ids.size
        out = cp.empty((n, dim), table.dtype)
        bad_at = cp.full(1, NO_BAD, np.int32)
        vec = (dim * item) % 16 == 0 and table.data.ptr % 16 == 0 and out.data.ptr % 16 == 0
        grid = backend.one_wave(-(-n // (block // 32)), block)
        kernel((grid,), (block,), (table, ids, wide, out, np.int64(n), np.int32(dim), np.int64(num),
                                   np.int64(padding_idx), bad_at, np.int32(vec)))
        _raise_bad(problem, bad_at, ids, num)
        return out

    return launch


def _backward(kind: str):
    def build(problem: Problem, config: dict):
        backend, module = _module(problem, config)
        cp = backend.cp
        kernel = module.get_function({"rows": "emb_grad_rows", "elem": "emb_grad_elem", "atomic": "emb_grad_atomic"}[kind])
        block, wide = int(config.get("BLOCK", 256)), np.int32(problem.input_dtypes[1] == "int64")

        def launch(dout, ids, num_embeddings=0, padding_idx=reference.NO_PADDING):
            n, dim = dout.shape
            num = num_embeddings
            if kind == "atomic":
                out = cp.zeros((num, dim), dout.dtype)
                bad_at = cp.full(1, NO_BAD, np.int32)
                grid = backend.one_wave(-(-n * dim // block), block)
                kernel((grid,), (block,), (dout, ids, wide, out, np.int64(n), np.int32(dim), np.int64(num),
                                           np.int64(padding_idx), bad_at))
                _raise_bad(problem, bad_at, ids, num)
                return out
            perm, offsets = baseline.group(cp, ids, num)
            out = cp.empty((num, dim), dout.dtype)
            per_block = block // 32 if kind == "rows" else block
            work = num if kind == "rows" else num * dim
            grid = backend.one_wave(-(-work // per_block), block)
            kernel((grid,), (block,), (dout, perm, offsets, out, np.int64(num), np.int32(dim), np.int64(padding_idx)))
            return out

        return launch

    return build


def forward_variants() -> list[Variant]:
    return [
        Variant("warp_rows", "cuda", _forward, space={"BLOCK": (128, 256, 512)}, default=lambda p: {"BLOCK": 256},
                supports=lambda p: p.dtype in DTYPE_CODE, sources=(COMMON, SOURCE), compile_unit=compile_unit),
        Variant("cupy", "cuda", baseline.forward("cupy"), baseline=True),
    ]


def backward_variants() -> list[Variant]:
    return [
        Variant("atomic", "cuda", _backward("atomic"), sources=(COMMON, SOURCE), compile_unit=compile_unit,
                supports=lambda p: p.dtype == "float32" and not p.flag("deterministic", True)),
        Variant("warp_rows", "cuda", _backward("rows"), space={"BLOCK": (128, 256, 512)},
                default=lambda p: {"BLOCK": 256}, supports=lambda p: p.dtype in DTYPE_CODE, sources=(COMMON, SOURCE),
                compile_unit=compile_unit),
        Variant("elem", "cuda", _backward("elem"), baseline=True, supports=lambda p: p.dtype in DTYPE_CODE,
                sources=(COMMON, SOURCE), compile_unit=compile_unit),
    ]
