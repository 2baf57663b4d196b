"""Regressions between two result sets, told apart from noise.

The rule is asv's own (`asv compare`): a benchmark changed when its value moved
by more than `threshold` times in the bad direction (slower for times, lower for
speed-ups and bandwidths) and — where both sides hold asv statistics over more
than one sample — the 99% confidence intervals of the two medians that asv
stored (stats_ci_99_a/b) do not overlap. A single-sample result (a --quick run,
a track_ value) has no interval, so there the threshold alone decides, as in asv.
Each change names the variant hakl dispatched on both sides, so a different
choice of kernel is told apart from the same kernel running slower.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import results as res
from .results import Result

THRESHOLD = 1.1  # asv compare's default factor


@dataclass
class Change:
    base: Result
    new: Result
    ratio: float  # how many times worse `new` is than `base` (< 1: better)
    significant: bool

    @property
    def variant_changed(self) -> bool | None:
        a, b = self.base.variant, self.new.variant
        return None if a is None or b is None else a != b

    def describe_variant(self) -> str:
        impl = self.new.param("impl", "hakl")
        if impl != "hakl" and not self.new.method.startswith("track_"):
            return f"{impl}: not dispatched by hakl"
        a, b = self.base.variant, self.new.variant
        if a is None and b is None:
            return "variant not recorded"
        if self.variant_changed:
            return f"dispatched variant changed: {a} -> {b}"
        if a is None or b is None:
            return f"variant {a or '?'} -> {b or '?'}"
        return f"same variant ({a})"


def worse_by(base: Result, new: Result) -> float:
    """How many times worse `new` is: new/base for times, base/new for rates."""
    if base.value is None or new.value is None or base.value <= 0 or new.value <= 0:
        return float("nan")
    return new.value / base.value if base.lower_is_better else base.value / new.value


def _interval(r: Result) -> tuple[float, float] | None:
    s = r.stats or {}
    if s.get("repeat", 0) > 1 and "ci_99_a" in s and "ci_99_b" in s:
        return s["ci_99_a"], s["ci_99_b"]
    return None


def has_interval(base: Result, new: Result) -> bool:
    """Whether both sides carry asv's 99% interval (several samples)."""
    return _interval(base) is not None and _interval(new) is not None


def significant(base: Result, new: Result) -> bool:
    """False when both sides have 99% intervals and they overlap (could be noise)."""
    a, b = _interval(base), _interval(new)
    if a is None or b is None:
        return True
    return not (a[1] >= b[0] and a[0] <= b[1])


@dataclass
class Comparison:
    regressions: list[Change]
    improvements: list[Change]
    failing: list[tuple[Result, Result]]  # ran in base, failed in new
    compared: int
    pairs: list[tuple[str, str]]  # (base machine, new machine)


def _by_machine(results: list[Result]) -> dict[str, dict[tuple, Result]]:
    out: dict[str, dict[tuple, Result]] = {}
    for r in res.latest_run(results):
        out.setdefault(r.machine, {})[r.key] = r
    return out


def compare_results(base: list[Result], new: list[Result], threshold: float = THRESHOLD) -> Comparison:
    """Match the newest run of each machine on both sides (by machine name; two
    single-machine sets are matched whatever their names) and classify changes."""
    a, b = _by_machine(base), _by_machine(new)
    if len(a) == 1 and len(b) == 1:
        pairs = [(next(iter(a)), next(iter(b)))]
    else:
        pairs = [(m, m) for m in sorted(a) if m in b]
    regressions, improvements, failing, compared = [], [], [], 0
    for ma, mb in pairs:
        for key, old in a[ma].items():
            cur = b[mb].get(key)
            if cur is None:
                continue
            compared += 1
            if cur.value is None:
                if old.value is not None:
                    failing.append((old, cur))
                continue
            ratio = worse_by(old, cur)
            if ratio != ratio:
                continue
            change = Change(old, cur, ratio, significant(old, cur))
            if ratio > threshold and change.significant:
                regressions.append(change)
            elif ratio < 1 / threshold and change.significant:
                improvements.append(change)
    regressions.sort(key=lambda c: -c.ratio)
    improvements.sort(key=lambda c: c.ratio)
    return Comparison(regressions, improvements, failing, compared, pairs)


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "seconds":
        for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
            if value >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value * 1e9:.3g}ns"
    if unit == "x":
        return f"{value:.3g}x"
    return f"{value:.4g} {unit}"


def _describe_set(results: list[Result]) -> str:
    latest = res.latest_run(results)
    machines = sorted({r.machine for r in latest})
    commits = sorted({(r.commit or "")[:8] for r in latest if r.commit})
    parts = [f"machine {', '.join(machines) or '?'}"]
    if commits:
        parts.append(f"commit {', '.join(commits)}")
    return "; ".join(parts)


def _change_line(c: Change, word: str) -> str:
    return (f"  {max(c.ratio, 1 / c.ratio):6.2f}x {word:<7} {c.new.label()}\n"
            f"                  {fmt_value(c.base.value, c.base.unit)} -> {fmt_value(c.new.value, c.new.unit)}; "
            f"{c.describe_variant()}")


def compare(base_dir: Path, new_dir: Path, threshold: float = THRESHOLD) -> tuple[int, str]:
    """Regressions from `base_dir` to `new_dir` (asv results dirs, machine folders,
    result files or `hakl bench` records). Exit code 0: none; 1: a regression
    beyond `threshold` or a benchmark that now fails; 2: nothing to compare."""
    base, new = res.load(Path(base_dir)), res.load(Path(new_dir))
    lines = [f"base: {base_dir} ({_describe_set(base)})",
             f"new:  {new_dir} ({_describe_set(new)})",
             f"threshold {threshold:.2f}x; where both sides have asv statistics over several samples, "
             "a change must also clear the 99% confidence intervals"]
    if not base or not new:
        lines.append("nothing to compare: " + ("no results in base" if not base else "no results in new"))
        return 2, "\n".join(lines)
    c = compare_results(base, new, threshold)
    if c.compared == 0:
        lines.append("nothing to compare: no benchmark with the same parameters on a matching machine")
        return 2, "\n".join(lines)
    if c.regressions:
        lines.append(f"\nREGRESSIONS ({len(c.regressions)}):")
        lines.extend(_change_line(x, "worse") for x in c.regressions)
    if c.failing:
        lines.append(f"\nNOW FAILING ({len(c.failing)}):")
        lines.extend(f"  {new.label()} (was {fmt_value(old.value, old.unit)})" for old, new in c.failing)
    if c.improvements:
        lines.append(f"\nIMPROVEMENTS ({len(c.improvements)}):")
        lines.extend(_change_line(x, "better") for x in c.improvements)
    lines.append(f"\ncompared {c.compared} results: {len(c.regressions)} regressions, "
                 f"{len(c.failing)} now failing, {len(c.improvements)} improvements")
    return (1 if c.regressions or c.failing else 0), "\n".join(lines)
