"""Which configurations of a variant the tuner tries."""
from __future__ import annotations

import random
import zlib

from ..op import Problem, Variant


def candidates(variant: Variant, problem: Problem, budget: int = 32) -> list[dict]:
    """Every valid configuration when there are at most `budget`; otherwise the
    heuristic default plus a random sample seeded by the variant and shape (crc32, not
    hash(), which Python salts per process): two runs, in any process, try the same."""
    every = variant.configs(problem)
    if len(every) <= budget:
        return every
    default = variant.default_config(problem)
    rest = [c for c in every if c != default]
    seed = zlib.crc32(repr((variant.name, problem.shape, problem.flags)).encode())
    return [default] + random.Random(seed).sample(rest, budget - 1)
