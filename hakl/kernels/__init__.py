"""Op families: one package each. Importing a family registers its ops in hakl.op.OPS."""
from __future__ import annotations

from importlib import import_module

from . import cast, cumsum, dropout, softmax, stack

FAMILIES = (softmax, dropout, cast, stack, cumsum)


def bench_cases(device: str, quick: bool = False, gpu: bool = False) -> list:
    """Every family's benchmark cases for `device` (see hakl.bench)."""
    out = []
    for family in FAMILIES:
        out.extend(import_module(f"{family.__name__}.bench").cases(device, quick, gpu))
    return out
