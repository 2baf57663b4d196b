"""argsort, sort and the backward scatter, as hakl/kernels/argsort/bench.py declares them."""
from hakl.kernels.argsort.bench import BENCHMARKS

from .common import suite

ARGSORT, SORT, ARGSORT_GRAD = BENCHMARKS
Argsort, ArgsortSpeedup = suite(ARGSORT)
Sort, SortSpeedup = suite(SORT)
ArgsortGrad, ArgsortGradSpeedup = suite(ARGSORT_GRAD)
