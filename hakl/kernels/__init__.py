"""Op families: one package each. Importing a family registers its ops in hakl.op.OPS."""
from __future__ import annotations

from . import softmax

FAMILIES = (softmax,)


def bench_cases(device: str, quick: bool = False, gpu: bool = False) -> list:
    """Every family's benchmark cases for `device` (see hakl.bench)."""
    from importlib import import_module

    out = []
    for family in FAMILIES:
        out.extend(import_module(f"{family.__name__}.bench").cases(device, quick, gpu))
    return out
