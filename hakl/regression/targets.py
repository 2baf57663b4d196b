"""The release-note targets (asv_bench/targets.json) and how far each one is met.

A target's ratio is baseline time / hakl time on its device, per dtype and shape,
taken from the newest run on a machine, in this order of preference:
asv's track_<op>_speedup (both timed in one process), the time_<op> results of
hakl and of the baseline in the same asv run, the speed-up in a `hakl bench`
record. Shapes with * (the bandwidth-scale cases) match any extent there.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .results import BENCH_PREFIX, Result, fits, latest_run

MET, MISSED, PARTIAL, PENDING, UNMEASURED = "met", "missed", "partial", "pending", "not measured"


@dataclass(frozen=True)
class Target:
    id: str
    op: str
    module: str
    device: str
    dtypes: tuple[str, ...]
    shapes: tuple[str, ...]
    baseline: str
    ratio: float
    promise: str = ""
    why: str = ""

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


def default_path() -> Path:
    """asv_bench/targets.json of the source tree hakl runs from, else of the cwd."""
    beside = Path(__file__).resolve().parents[2] / "asv_bench" / "targets.json"
    return beside if beside.is_file() else Path("asv_bench") / "targets.json"


def load(path: Path | None = None) -> list[Target]:
    doc = json.loads(Path(path or default_path()).read_text())
    return [Target(id=t["id"], op=t["op"], module=t.get("module", t["op"]), device=t["device"],
                   dtypes=tuple(t["dtypes"]), shapes=tuple(t["shapes"]), baseline=t["baseline"],
                   ratio=float(t["ratio"]), promise=t.get("promise", ""), why=t.get("why", ""))
            for t in doc["targets"]]


def is_built(target: Target) -> bool:
    """Whether hakl registers the target's op (importing its family if need be)."""
    from ..op import OPS

    if target.op not in OPS:
        try:
            importlib.import_module(f"hakl.kernels.{target.module}")
        except ImportError:
            return False
    return target.op in OPS


def speedups(results: list[Result]) -> dict[tuple, tuple[float, str]]:
    """(machine, op, device, dtype, shape) -> (baseline/hakl, how it was measured)."""
    out: dict[tuple, tuple[float, str]] = {}
    latest = [r for r in latest_run(results) if r.value is not None and r.op is not None]

    def case(r: Result) -> tuple:
        return (r.machine, r.op, r.param("device"), r.param("dtype"), r.param("shape"))

    for r in latest:
        if r.method.startswith("track_") and r.unit == "x" and not r.benchmark.startswith(BENCH_PREFIX):
            out[case(r)] = (r.value, "track_speedup")
    times: dict[tuple, dict[str, float]] = {}
    for r in latest:
        if r.unit == "seconds" and r.param("impl") in ("hakl", "baseline") \
                and not r.benchmark.startswith(BENCH_PREFIX):
            times.setdefault(case(r), {})[r.param("impl")] = r.value
    for k, t in times.items():
        if k not in out and "hakl" in t and "baseline" in t and t["hakl"] > 0:
            out[k] = (t["baseline"] / t["hakl"], "time ratio")
    for r in latest:
        if r.benchmark.startswith(BENCH_PREFIX) and r.unit == "x":
            out.setdefault(case(r), (r.value, "hakl bench"))
    return out


def evaluate(targets: list[Target], results: list[Result], machine: str) -> list[TargetStatus]:
    """Each target's status on `machine`: pending (no such op yet), not measured (no
    result on its device there), missed (a case below the ratio), partial (every
    measured case meets it but some are not measured), met."""
    measured = speedups(results)
    out = []
    for t in targets:
        if not is_built(t):
            out.append(TargetStatus(t, PENDING))
            continue
        ratios = {}
        for (m, op, device, dtype, shape), value in measured.items():
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
