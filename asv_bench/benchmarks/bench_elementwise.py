"""elementwise (add), as hakl/kernels/elementwise/bench.py declares it."""
from hakl.kernels.elementwise.bench import BENCHMARKS

from .common import suite

(ADD,) = BENCHMARKS
Add, AddSpeedup = suite(ADD)
