"""The release-note targets and how far each one is met.

A family declares its targets beside its benchmarks (hakl.bench.Goal, in
hakl/kernels/<family>/bench.py); the targets of families not built yet are
listed here (PENDING_TARGETS) until their family lands and declares them.

Beside them, every family owes parity (hakl.bench.Benchmark.parity_goals): on the
CPU at or above each CPU peer (torch, NumPy) at every benchmark shape, on OpenCL at
or above its own baseline.

A target's ratio is the time of what it is against (the baseline variant or a peer)
over hakl's time on its device, per dtype and shape, taken from the newest run on a
machine, in this order of preference: asv's track_<op>_speedup (baseline targets;
both timed in one process), the time_<op> results of hakl and of the other in the
same asv run, the times in a `hakl bench` record. Shapes with * (the
bandwidth-scale cases) match any extent there.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field

from ..bench import Goal
from .results import BENCH_PREFIX, Result, fits, latest_run

MET, MISSED, PARTIAL, PENDING, UNMEASURED = "met", "missed", "partial", "pending", "not measured"


@dataclass(frozen=True)
class Target(Goal):
    """A family's Goal with the benchmarked op it is about and the family it is in."""

    op: str = ""
    module: str = ""

    def matches(self, shape: str) -> str | None:
        """The target shape pattern that a measured case label fits, if any."""
        return next((pattern for pattern in self.shapes if fits(pattern, shape)), None)


@dataclass
class TargetStatus:
    target: Target
    status: str
    ratios: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)  # (dtype, shape) -> (x, how)

    @property
    def worst(self) -> float | None:
        return min((x for x, _ in self.ratios.values()), default=None)

    @property
    def expected(self) -> int:
        return len(self.target.dtypes) * len(self.target.shapes)


# Each moves into its family's bench.py (a Goal of its Benchmark) when the family lands.
PENDING_TARGETS: tuple[Target, ...] = ()


def load() -> list[Target]:
    """Every target: those the built families declare, then the pending ones."""
    from ..kernels import benchmarks

    declared = [Target(**dataclasses.asdict(g), op=b.op, module=b.module)
                for b in benchmarks() for g in (*b.goals, *b.parity_goals())]
    return declared + list(PENDING_TARGETS)


def is_built(target: Target) -> bool:
    """Whether hakl registers the target's op (importing its family if need be)."""
    from ..kernels import benchmarks
    from ..op import OPS

    for b in benchmarks():  # a benchmark of a composite call (rnn_train): its public function
        if b.op == target.op and b.op not in OPS:
            try:
                b.public_function()
                return True
            except NotImplementedError:
                return False
    if target.op not in OPS:
        try:
            importlib.import_module(f"hakl.kernels.{target.module}")
        except ImportError:
            return False
    return target.op in OPS


def speedups(results: list[Result], against: str = "baseline") -> dict[tuple, tuple[float, str]]:
    """(machine, op, device, dtype, shape) -> (`against`'s time / hakl's, how it was
    measured): against the op's baseline variant, or a peer ("torch")."""
    out: dict[tuple, tuple[float, str]] = {}
    latest = [r for r in latest_run(results) if r.value is not None and r.op is not None]

    def case(r: Result) -> tuple:
        return (r.machine, r.op, r.param("device"), r.param("dtype"), r.param("shape"))

    if against == "baseline":
        for r in latest:
            if r.method.startswith("track_") and r.unit == "x" and not r.benchmark.startswith(BENCH_PREFIX):
                out[case(r)] = (r.value, "track_speedup")
    # asv's time_ results of one run, then a `hakl bench` record's (its speed-up row
    # for the baseline, its times for a peer)
    for from_record, how in ((False, "time ratio"), (True, "hakl bench")):
        times: dict[tuple, dict[str, float]] = {}
        for r in latest:
            if r.benchmark.startswith(BENCH_PREFIX) != from_record:
                continue
            if from_record and against == "baseline" and r.unit == "x":
                out.setdefault(case(r), (r.value, how))
            elif r.unit == "seconds" and r.param("impl") in ("hakl", against):
                times.setdefault(case(r), {})[r.param("impl")] = r.value
        for k, t in times.items():
            if k not in out and "hakl" in t and against in t and t["hakl"] > 0:
                out[k] = (t[against] / t["hakl"], how)
    return out


def evaluate(targets: list[Target], results: list[Result], machine: str) -> list[TargetStatus]:
    """Each target's status on `machine`: pending (no such op yet), not measured (no
    result on its device there), missed (a case below the ratio), partial (every
    measured case meets it but some are not measured), met."""
    measured = {against: speedups(results, against) for against in {t.against for t in targets}}
    out = []
    for t in targets:
        if not is_built(t):
            out.append(TargetStatus(t, PENDING))
            continue
        ratios = {}
        for (m, op, device, dtype, shape), value in measured[t.against].items():
            pattern = t.matches(shape)
            if m == machine and op == t.op and device == t.device and dtype in t.dtypes and pattern:
                ratios[(dtype, pattern)] = value
        if not ratios:
            status = UNMEASURED
        elif any(x < t.ratio for x, _ in ratios.values()):
            status = MISSED
        elif len(ratios) < len(t.dtypes) * len(t.shapes):
            status = PARTIAL
        else:
            status = MET
        out.append(TargetStatus(t, status, ratios))
    return out
