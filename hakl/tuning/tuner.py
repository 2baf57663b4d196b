"""Search, verify, time and record: the autotuner.

Each candidate (variant, config) is built, run on fresh random inputs at the
problem's shape and on the op's special-value conformance cases (hakl.tuning.verify)
and compared with the float64 reference before it is timed; a wrong result is
recorded as rejected and can never be chosen, a build or launch failure as
failed. Every measurement and verdict lands in the tuning database; the fastest
verified candidate becomes the key's choice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import __version__
from ..backends import get as get_backend
from ..op import Op, Problem, Variant
from . import db as tuning_db, space, timing, verify
from .db import Choice, Verdict
from .keys import key_for


@dataclass
class Measurement:
    variant: str
    config: dict
    status: str  # "ok", "rejected" or "failed"
    seconds: float | None = None
    gbps: float | None = None
    error: str | None = None
    baseline: bool = False


@dataclass
class TuneResult:
    problem: Problem
    measurements: list[Measurement] = field(default_factory=list)
    choice: Choice | None = None

    @property
    def baseline_seconds(self) -> float | None:
        times = [m.seconds for m in self.measurements if m.baseline and m.status == "ok"]
        return min(times) if times else None


def plan(op: Op, problem: Problem, budget: int = 32) -> list[tuple[Variant, dict]]:
    return [(v, c) for v in op.for_backend(problem.backend) if v.supports(problem)
            for c in space.candidates(v, problem, budget)]


def tune(op: Op, problem: Problem, budget: int = 32, repeat: int = 10,
         progress: Callable[[Measurement], None] | None = None) -> TuneResult:
    backend = get_backend(problem.backend)
    backend.require()
    db = tuning_db.current()
    key = key_for(op, problem)
    rng = np.random.default_rng()
    host_inputs = op.sample(problem, rng)
    expected = op.reference(problem, *host_inputs)
    input_sets = timing.rotating_inputs(backend, host_inputs)
    nbytes = op.nbytes(problem)
    result = TuneResult(problem)

    for variant, config in plan(op, problem, budget):
        # An op that writes its inputs in place gets fresh copies per candidate: none sees
        # (or is verified against) what the previous one wrote.
        sets = timing.rotating_inputs(backend, host_inputs) if op.mutates else input_sets
        m = _measure(op, problem, variant, config, backend, sets, host_inputs, expected, nbytes, repeat, rng)
        result.measurements.append(m)
        if m.status in ("ok", "rejected"):
            verify.remember(key, variant, config, Verdict("ok" if m.status == "ok" else "rejected", m.error, None), db)
        db.record(key, problem.shape, variant.name, config, variant.source_hash(), __version__,
                  m.seconds, m.gbps, m.status, m.error)
        if progress is not None:
            progress(m)

    verified = [m for m in result.measurements if m.status == "ok"]
    if verified:
        best = min(verified, key=lambda m: m.seconds)
        variant = op.variant(problem.backend, best.variant)
        result.choice = Choice(best.variant, best.config, variant.source_hash(), __version__, best.seconds)
        db.choose(key, result.choice)  # bumps the database's generation: dispatch's memo refills
    return result


def _measure(op, problem, variant, config, backend, input_sets, host_inputs, expected, nbytes, repeat,
             rng) -> Measurement:
    m = Measurement(variant.name, config, "failed", baseline=variant.baseline)
    try:
        launcher = variant.build(problem, config)
        out = backend.to_host(problem.launch(launcher, *input_sets[0]))
    except Exception as exc:
        m.error = f"{type(exc).__name__}: {exc}"[:500]
        return m
    error = op.check(problem, out, expected, host_inputs)
    if error is None:  # right on random data: now the special values (NaN, ±inf, ...) and odd shapes
        error = verify.check(op, problem, variant, config, launcher, rng, shape_checked=True)
    if error is not None:
        m.status, m.error = "rejected", error
        return m
    try:
        m.seconds = timing.median(timing.time_launcher(backend, problem, launcher, input_sets, repeat=repeat))
    except Exception as exc:
        m.error = f"{type(exc).__name__}: {exc}"[:500]
        return m
    m.status, m.gbps = "ok", timing.gbps(nbytes, m.seconds)
    return m
