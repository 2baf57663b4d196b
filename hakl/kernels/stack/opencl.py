"""stack / unstack on OpenCL: the kernels of stack.cl (why 16 parts per launch, and
why GPUs take elements and CPU devices take blocks: see there).

Bytes: both directions read and write outer * k * inner elements once.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from .cuda import launcher, word_size

SOURCE = Path(__file__).with_name("stack.cl")
_WORD = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}
PARTS = 16  # buffer arguments per launch, fixed in stack.cl


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return SOURCE.read_text(), {"E": _WORD[word_size(problem.dtype)], "ITEMS": config.get("items", 1)}


def _gpu() -> bool:
    return get_backend("opencl").is_gpu()


def _build(direction: str, kernel_name: str):
    def build(problem: Problem, config: dict):
        backend = get_backend("opencl")
        backend.require()
        source, defines = compile_unit(problem, config)
        kernel = backend.kernel(source, kernel_name, defines)
        word = word_size(problem.dtype)
        wg, items = config.get("wg", 64), config.get("items", 1)
        to_big = np.int32(direction == "stack")

        def run(parts, big):
            outer, k, inner = big.shape
            inner_w = inner * big.dtype.itemsize // word
            if outer * k * inner_w == 0:
                return
            big_args = backend.at(big, word)
            buffers = [backend.at(p, word) for p in parts]
            if kernel_name == "move_one":
                size = -(-outer * inner_w // wg) * wg
                for j, (data, off) in enumerate(buffers):
                    kernel(backend.queue, (size,), (wg,), *big_args, data, off, np.int64(outer), np.int32(k),
                           np.int64(inner_w), np.int32(j), to_big)
                return
            for j0 in range(0, k, PARTS):
                group = buffers[j0:j0 + PARTS]
                nj = len(group)
                group = group + [group[0]] * (PARTS - nj)  # unused slots: any valid buffer
                part_args = (a for pair in group for a in pair)
                head = (*big_args, np.int64(outer), np.int32(k), np.int64(inner_w), np.int32(j0), np.int32(nj), to_big)
                if kernel_name == "move_blocks":  # blocks of about `block` elements
                    chunk = min(inner_w, config["block"])
                    rows = max(1, config["block"] // (nj * chunk))
                    work = -(-outer // rows) * -(-inner_w // chunk)
                    kernel(backend.queue, (-(-work // wg) * wg,), (wg,), *head, np.int64(rows), np.int64(chunk),
                           *part_args)
                else:
                    work = -(-outer * nj * inner_w // items)
                    kernel(backend.queue, (-(-work // wg) * wg,), (wg,), *head, *part_args)

        return launcher(direction, backend.empty, run)

    return build


def _variants(direction: str) -> list[Variant]:
    return [
        Variant("per_part", "opencl", _build(direction, "move_one"), baseline=True, sources=(SOURCE,),
                compile_unit=compile_unit),
        Variant("parts16", "opencl", _build(direction, "move_parts"),
                space={"wg": (64, 128, 256), "items": (1, 2, 4, 8)}, default=lambda p: {"wg": 128, "items": 4},
                rank=lambda p: 0 if _gpu() else 1, sources=(SOURCE,), compile_unit=compile_unit),
        Variant("blocks", "opencl", _build(direction, "move_blocks"),
                space={"wg": (1, 8, 32), "block": (2048, 8192, 32768)}, default=lambda p: {"wg": 8, "block": 8192},
                rank=lambda p: 1 if _gpu() else 0, sources=(SOURCE,), compile_unit=compile_unit),
    ]


def stack_variants() -> list[Variant]:
    return _variants("stack")


def unstack_variants() -> list[Variant]:
    return _variants("unstack")
