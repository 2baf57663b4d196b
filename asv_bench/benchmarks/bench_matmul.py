"""matmul, as hakl/kernels/matmul/bench.py declares it."""
from hakl.kernels.matmul.bench import BENCHMARKS

from .common import suite

(MATMUL,) = BENCHMARKS
Matmul, MatmulSpeedup = suite(MATMUL)
