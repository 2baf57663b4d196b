"""cumsum, as hakl/kernels/cumsum/bench.py declares it."""
from hakl.kernels.cumsum.bench import BENCHMARKS

from .common import suite

(CUMSUM,) = BENCHMARKS
Cumsum, CumsumSpeedup = suite(CUMSUM)
