"""The multi-tensor AdamW update, as hakl/kernels/optimizer/bench.py declares it."""
from hakl.kernels.optimizer.bench import BENCHMARKS

from .common import suite

(ADAMW,) = BENCHMARKS
Adamw, AdamwSpeedup = suite(ADAMW)
