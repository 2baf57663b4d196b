"""elementwise (add) and a comparison (greater_than), as hakl/kernels/elementwise/bench.py
declares them."""
from hakl.kernels.elementwise.bench import BENCHMARKS

from .common import suite

ADD, GREATER_THAN = BENCHMARKS
Add, AddSpeedup = suite(ADD)
GreaterThan, GreaterThanSpeedup = suite(GREATER_THAN)
