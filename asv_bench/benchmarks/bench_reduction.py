"""reduction (sum, max, mean), as hakl/kernels/reduction/bench.py declares them."""
from hakl.kernels.reduction.bench import BENCHMARKS

from .common import suite

SUM, MAX, MEAN = BENCHMARKS
Sum, SumSpeedup = suite(SUM)
Max, MaxSpeedup = suite(MAX)
Mean, MeanSpeedup = suite(MEAN)
