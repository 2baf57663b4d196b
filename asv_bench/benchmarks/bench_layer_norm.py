"""layer_norm forward and training pass, as hakl/kernels/layer_norm/bench.py declares them."""
from hakl.kernels.layer_norm.bench import BENCHMARKS

from .common import suite

LAYER_NORM, LAYER_NORM_TRAIN = BENCHMARKS
LayerNorm, LayerNormSpeedup = suite(LAYER_NORM)
LayerNormTrain, LayerNormTrainSpeedup = suite(LAYER_NORM_TRAIN)
