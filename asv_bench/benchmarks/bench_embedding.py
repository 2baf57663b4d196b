"""embedding lookup and backward, as hakl/kernels/embedding/bench.py declares them."""
from hakl.kernels.embedding.bench import BENCHMARKS

from .common import suite

EMBEDDING, EMBEDDING_GRAD = BENCHMARKS
Embedding, EmbeddingSpeedup = suite(EMBEDDING)
EmbeddingGrad, EmbeddingGradSpeedup = suite(EMBEDDING_GRAD)
