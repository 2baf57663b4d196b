"""`hakl tune --suite`: tune the problems of every benchmark case the families declare.

Each declared case (hakl/kernels/<family>/bench.py, the cases `hakl bench` and the
asv suite run) is called once on its device while dispatch is observed; every
problem it launches is a tuning key. Keys that already hold a current choice are
skipped (unless `force`), so a run that was stopped, or ran out of its time
budget, continues where it ended when started again.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from .. import bench
from ..op import Op, Problem
from . import dispatch, tuner
from .keys import key_for


@dataclass
class Item:
    """One tuning key of the suite and what became of it (op and problem are None for a
    case the run had no time to reach: its keys are known only once its inputs are made)."""

    device: str
    label: str  # the benchmark case that launches it: "softmax (16384, 1000) axis=-1 float32"
    op: Op | None
    problem: Problem | None
    status: str = "pending"  # tuned, already tuned, no candidate verified, out of time, not reached
    choice: str = ""


def case_label(benchmark: bench.Benchmark, case: bench.Case, dtype: str) -> str:
    return f"{benchmark.op} {case.label} {dtype}"


def case_items(prepared: bench.Prepared, label: str, seen: set | None = None) -> list[Item]:
    """The tuning keys one prepared case launched (those not in `seen`, which grows)."""
    seen = set() if seen is None else seen
    out = []
    for launch in prepared.launches[0]:
        key = key_for(launch.op, launch.problem)
        if key not in seen:
            seen.add(key)
            out.append(Item(prepared.device, label, launch.op, launch.problem))
    return out


def items(devices: Sequence[str], ops: Sequence[str] = (), quick: bool = False,
          until: float = math.inf) -> Iterator[Item]:
    """The suite's keys, each once, in declaration order (a case's inputs are made only
    when the iteration reaches it, and only before time.monotonic() passes `until`:
    preparing a case calls it, which on PoCL compiles kernels; after that, one "not
    reached" item per case)."""
    seen: set = set()
    for device in devices:
        elements = bench.element_budget(device, quick)
        for benchmark, dtype, case in bench.cases(device, ops, quick):
            label = case_label(benchmark, case, dtype)
            if time.monotonic() > until:
                yield Item(device, label, None, None, "not reached")
                continue
            yield from case_items(bench.Prepared(benchmark, device, dtype, case.label, None, elements), label, seen)


def tune_item(item: Item, deadline: float, budget: int = 8, force: bool = False,
              started: Callable[[Item, int], None] | None = None,
              progress: Callable[[tuner.Measurement], None] | None = None) -> None:
    """Tune one key unless it holds a current choice (or `force`) or the deadline passed;
    its status and choice say what happened."""
    current = dispatch.stored_choice(key_for(item.op, item.problem), item.op.for_backend(item.device))
    if current is not None and not force:
        item.status, item.choice = "already tuned", current.variant
        return
    if time.monotonic() > deadline:
        item.status = "out of time"
        return
    if started is not None:
        started(item, len(tuner.plan(item.op, item.problem, budget)))
    result = tuner.tune(item.op, item.problem, budget, progress=progress)
    item.status = "tuned" if result.choice else "no candidate verified"
    item.choice = result.choice.variant if result.choice else ""


def run(devices: Sequence[str], ops: Sequence[str] = (), quick: bool = False, minutes: float = 5.0,
        budget: int = 8, force: bool = False, started: Callable[[Item, int], None] | None = None,
        progress: Callable[[tuner.Measurement], None] | None = None) -> list[Item]:
    """Tune every key of the suite that holds no current choice (every key with `force`),
    `budget` configurations per variant, until `minutes` have passed; `started(item,
    candidates)` is told before each key is tuned and `progress` after each candidate."""
    deadline = time.monotonic() + 60 * minutes
    done = []
    for item in items(devices, ops, quick, until=deadline):
        done.append(item)
        if item.op is not None:
            tune_item(item, deadline, budget, force, started, progress)
    return done
