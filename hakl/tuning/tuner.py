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
from .db import Choice, Key, Verdict
from .keys import device_row, key_for


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


class Trial:
    """One problem's inputs and float64 reference, made once, on which candidates are
    measured (here, or in a sweep's worker on its own device)."""

    def __init__(self, op: Op, problem: Problem, repeat: int = 10):
        self.op, self.problem, self.repeat = op, problem, repeat
        self.backend = get_backend(problem.backend)
        self.backend.require()
        self.rng = np.random.default_rng()
        self.host_inputs = op.sample(problem, self.rng)
        self.expected = op.reference(problem, *self.host_inputs)
        self.input_sets = timing.rotating_inputs(self.backend, self.host_inputs)
        self.nbytes = op.nbytes(problem)

    def measure(self, variant: Variant, config: dict) -> Measurement:
        # An op that writes its inputs in place gets fresh copies per candidate: none sees
        # (or is verified against) what the previous one wrote.
        sets = timing.rotating_inputs(self.backend, self.host_inputs) if self.op.mutates else self.input_sets
        return _measure(self.op, self.problem, variant, config, self.backend, sets, self.host_inputs,
                        self.expected, self.nbytes, self.repeat, self.rng)


def record(db, key: Key, problem: Problem, variant: Variant, config: dict, m: Measurement) -> None:
    """A measurement and, for a verified or rejected candidate, its verdict, into `db`."""
    if m.status in ("ok", "rejected"):
        verify.remember(key, variant, config, Verdict("ok" if m.status == "ok" else "rejected", m.error, None), db)
    db.record(key, problem.shape, variant.name, config, variant.source_hash(), __version__,
              m.seconds, m.gbps, m.status, m.error)


def choose(db, key: Key, op: Op, problem: Problem, measurements: list[Measurement]) -> Choice | None:
    """The fastest verified measurement becomes the key's choice (None when none verified)."""
    verified = [m for m in measurements if m.status == "ok"]
    if not verified:
        return None
    best = min(verified, key=lambda m: m.seconds)
    variant = op.variant(problem.backend, best.variant)
    choice = Choice(best.variant, best.config, variant.source_hash(), __version__, best.seconds)
    db.choose(key, choice)  # bumps the database's generation: dispatch's memo refills
    device = device_row(key.backend)
    if device[0] == key.fingerprint:  # tuned here (a Ray sweep describes its workers' devices itself)
        db.describe(*device)
    return choice


def tune(op: Op, problem: Problem, budget: int = 32, repeat: int = 10,
         progress: Callable[[Measurement], None] | None = None) -> TuneResult:
    db = tuning_db.current()
    trial = Trial(op, problem, repeat)
    key = key_for(op, problem)
    result = TuneResult(problem)
    for variant, config in plan(op, problem, budget):
        m = trial.measure(variant, config)
        result.measurements.append(m)
        record(db, key, problem, variant, config, m)
        if progress is not None:
            progress(m)
    result.choice = choose(db, key, op, problem, result.measurements)
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
