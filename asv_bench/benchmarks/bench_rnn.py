"""rnn, as hakl/kernels/rnn/bench.py declares it."""
from hakl.kernels.rnn.bench import BENCHMARKS

from .common import suite

RNN, RNN_TRAIN = BENCHMARKS
Rnn, RnnSpeedup = suite(RNN)
RnnTrain, RnnTrainSpeedup = suite(RNN_TRAIN)
