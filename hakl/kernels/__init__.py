"""Op families: one package each. Importing a family registers its ops in hakl.op.OPS
and its public functions in hakl.op.FUNCTIONS."""
from __future__ import annotations

from importlib import import_module

# Adding a family: its folder, and its name here.
FAMILIES = tuple(import_module(f"{__name__}.{name}") for name in ("softmax", "dropout", "cast", "stack", "cumsum"))


def bench_cases(device: str, quick: bool = False, gpu: bool = False) -> list:
    """Every family's benchmark cases for `device` (see hakl.bench)."""
    out = []
    for family in FAMILIES:
        out.extend(import_module(f"{family.__name__}.bench").cases(device, quick, gpu))
    return out
