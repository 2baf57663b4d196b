"""Generated from the op declarations (hakl.op.OPS): every registered op x backend x
variant x dtype of the op's domain against the float64 reference, in the spirit of
PyTorch's OpInfo. Family test files keep only what is specific to the family."""
from __future__ import annotations

import numpy as np
import pytest

import hakl.kernels  # noqa: F401  (registers every family)
from hakl.conformance import check_variant
from hakl.op import OPS

from .conftest import variant_params


@pytest.mark.parametrize("op, variant, dtype", [p for op in OPS.values() for p in variant_params(op)])
def test_variant_matches_reference(op, variant, dtype):
    report = check_variant(op, variant, dtype, quick=variant.backend in op.conformance_quick)
    if report.checked == 0 and not report.failures:  # a build that failed on every case is a failure
        pytest.skip(f"{variant.name} supports no {dtype} case (test_every_variant_serves_some_case covers it)")
    assert not report.failures, "\n".join(report.failures[:10])


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_every_variant_serves_some_case(op, rng):
    """A variant that supports none of its op's conformance cases would never be tested."""
    for variant in op.variants:
        cases = (p for dt in op.test_dtypes(variant.backend) for p, _ in op.cases(variant.backend, dt, rng, True))
        assert any(variant.supports(p) for p in cases), f"{op.name}: {variant.backend}/{variant.name} supports no case"


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_every_op_is_declared_for_its_consumers(op):
    """Typed inputs, an example call for `hakl tune`, a baseline on every backend it has."""
    assert op.inputs, f"{op.name} declares no inputs"
    assert op.example is not None, f"{op.name} has no example call for `hakl tune`"
    for backend in {v.backend for v in op.variants}:
        assert op.baseline(backend).baseline
    assert all(np.dtype(d) for d in op.dtypes("cpu"))
