"""softmax and its backward, as hakl/kernels/softmax/bench.py declares them."""
from hakl.kernels.softmax.bench import BENCHMARKS

from .common import suite

SOFTMAX, SOFTMAX_GRAD = BENCHMARKS
Softmax, SoftmaxSpeedup = suite(SOFTMAX)
SoftmaxGrad, SoftmaxGradSpeedup = suite(SOFTMAX_GRAD)
