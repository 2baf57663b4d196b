"""activations (relu, gelu), as hakl/kernels/activation/bench.py declares them."""
from hakl.kernels.activation.bench import BENCHMARKS

from .common import suite

RELU, GELU = BENCHMARKS
Relu, ReluSpeedup = suite(RELU)
Gelu, GeluSpeedup = suite(GELU)
