"""dropout, as hakl/kernels/dropout/bench.py declares it."""
from hakl.kernels.dropout.bench import BENCHMARKS

from .common import suite

(DROPOUT,) = BENCHMARKS
Dropout, DropoutSpeedup = suite(DROPOUT)
