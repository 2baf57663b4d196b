"""Op families: one package each. Importing a family registers its ops in hakl.op.OPS
and its public functions in hakl.op.FUNCTIONS."""
from __future__ import annotations

from importlib import import_module

# Adding a family: its folder, and its name here.
NAMES = ("softmax", "dropout", "cast", "stack", "cumsum", "argsort", "cross_entropy", "elementwise", "activation",
         "reduction", "matmul", "layer_norm", "embedding", "optimizer", "rnn")
FAMILIES = tuple(import_module(f"{__name__}.{name}") for name in NAMES)


def benchmarks() -> list:
    """Every family's declared benchmarks (hakl.bench.Benchmark, in <family>/bench.py)."""
    return [b for family in FAMILIES for b in import_module(f"{family.__name__}.bench").BENCHMARKS]
