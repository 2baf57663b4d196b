"""One launcher serves every problem of its tuning bucket (hakl.op: launchers derive sizes from
their arguments): each CPU variant built for one conformance case must compute another case
of the same bucket, flags and dtypes. Two launchers once read a size from the build's problem:
the CPU mean's divisor and the NumPy dropout's mask shape."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from hakl.op import OPS


def _pairs(op, dtype, rng):
    """(problem A, problem B, B's host inputs) for A and B of one bucket with different shapes."""
    groups = collections.defaultdict(list)
    for problem, inputs in op.cases("cpu", dtype, rng, False):
        groups[(op.bucket(problem), problem.flags, problem.dtypes)].append((problem, inputs))
    for members in groups.values():
        first = members[0][0]
        other = next((m for m in members if m[0].shape != first.shape), None)
        if other is not None:
            yield first, *other


@pytest.mark.parametrize("name", sorted(OPS))
def test_a_launcher_built_for_one_case_serves_its_buckets_other_shapes(name, rng):
    op = OPS[name]
    for dtype in op.test_dtypes("cpu"):
        for built_for, problem, inputs in _pairs(op, dtype, rng):
            for variant in op.for_backend("cpu"):
                if not (variant.supports(built_for) and variant.supports(problem)):
                    continue
                launcher = variant.build(built_for, variant.default_config(built_for))
                out = problem.launch(launcher, *(np.array(a, copy=True) for a in inputs))
                error = op.check(problem, out, op.reference(problem, *inputs), inputs)
                assert error is None, f"{variant.name} built for {built_for.shape} on {problem.shape}: {error}"
