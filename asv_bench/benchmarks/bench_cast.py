"""cast, as hakl/kernels/cast/bench.py declares it."""
from hakl.kernels.cast.bench import BENCHMARKS

from .common import suite

(CAST,) = BENCHMARKS
Cast, CastSpeedup = suite(CAST)
