"""stack, as hakl/kernels/stack/bench.py declares it."""
from hakl.kernels.stack.bench import BENCHMARKS

from .common import suite

(STACK,) = BENCHMARKS
Stack, StackSpeedup = suite(STACK)
