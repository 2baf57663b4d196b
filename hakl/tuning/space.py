"""Which configurations of a variant the tuner tries."""
from __future__ import annotations

import random

from ..op import Problem, Variant


def candidates(variant: Variant, problem: Problem, budget: int = 32) -> list[dict]:
    """Every valid configuration when there are at most `budget`; otherwise the
    heuristic default plus a seeded random sample (seeded so two runs compare)."""
    every = variant.configs(problem)
    if len(every) <= budget:
        return every
    default = variant.default_config(problem)
    rest = [c for c in every if c != default]
    return [default] + random.Random(hash((variant.name, problem.shape)) & 0xFFFF).sample(rest, budget - 1)
