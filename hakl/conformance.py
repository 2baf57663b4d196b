"""Conformance: run a variant over its op's cases and compare with the float64 reference.

Used by the test suite (every backend x variant x dtype) and by `hakl check`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .op import Op, Variant
from .tuning import dispatch, verify


@dataclass
class Report:
    op: str
    variant: str
    backend: str
    dtype: str
    checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.failures


def check_variant(op: Op, variant: Variant, dtype: str, quick: bool = False,
                  rng: np.random.Generator | None = None) -> Report:
    rng = rng or np.random.default_rng()
    report = Report(op.name, variant.name, variant.backend, dtype)
    for problem, inputs in op.cases(variant.backend, dtype, rng, quick):
        if not variant.supports(problem):
            continue
        where = f"shape {problem.shape} flags {dict(problem.flags)}"
        try:
            launcher = dispatch.force(op, problem, variant).launcher
        except Exception as exc:
            report.failures.append(f"{where}: {type(exc).__name__}: {exc}")
            continue
        error = verify.run_case(op, problem, launcher, inputs)  # what dispatch and the tuner check too
        if error is not None:
            report.failures.append(f"{where}: {error}")
        report.checked += 1
    return report
