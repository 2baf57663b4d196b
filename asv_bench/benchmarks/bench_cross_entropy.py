"""cross_entropy forward and training pass, as hakl/kernels/cross_entropy/bench.py declares them."""
from hakl.kernels.cross_entropy.bench import BENCHMARKS

from .common import suite

CROSS_ENTROPY, CROSS_ENTROPY_TRAIN = BENCHMARKS
CrossEntropy, CrossEntropySpeedup = suite(CROSS_ENTROPY)
CrossEntropyTrain, CrossEntropyTrainSpeedup = suite(CROSS_ENTROPY_TRAIN)
