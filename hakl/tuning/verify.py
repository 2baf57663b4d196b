"""Verification: what "verified" means, the same for the tuner, dispatch and `hakl check`.

A (variant, config) is verified for a tuning key when, built with that config, it
matches the float64 reference on
- random inputs at the problem's shape (shrunk along its leading dimensions to at
  most VERIFY_ELEMENTS, so that verifying a huge problem does not double its memory),
- and every quick conformance case of the op with the same dtype and flags that the
  variant supports with that config: NaN, ±inf, all -inf rows, large magnitudes,
  odd and tiny shapes.
The verdict is stored in the tuning database (per device fingerprint, source hash and
hakl version), so a device pays for it once; within a process it is also memoised.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import replace
from typing import Any, Iterable

import numpy as np

from .. import __version__
from ..backends import get as get_backend
from ..op import Launcher, Op, Problem, Variant
from .db import Key, Verdict
from .keys import key_for

VERIFY_ELEMENTS = 1 << 22

_verdicts: dict[tuple, Verdict] = {}  # this process's verdicts, whatever database is in use


def shrunk(problem: Problem, limit: int = VERIFY_ELEMENTS) -> Problem:
    """`problem` with its leading extents cut until it has at most `limit` elements."""
    shape = list(problem.shape)
    for i in range(len(shape)):
        size = math.prod(shape)
        if size <= limit:
            break
        shape[i] = max(1, shape[i] // -(-size // limit))
    return replace(problem, shape=tuple(shape))


def special_cases(op: Op, problem: Problem, variant: Variant, config: dict,
                  rng: np.random.Generator) -> Iterable[tuple[Problem, tuple[np.ndarray, ...]]]:
    """The op's quick conformance cases that this (variant, config) would serve for `problem`'s key."""
    for case, inputs in op.cases(problem.backend, problem.dtype, rng, True):
        if case.flags == problem.flags and variant.supports(case) and variant.valid(case, config):
            yield case, inputs


def run_case(op: Op, problem: Problem, launcher: Launcher, host_inputs: tuple[np.ndarray, ...]) -> str | None:
    """None when `launcher` on `host_inputs` matches the reference, else what differs."""
    backend = get_backend(problem.backend)
    expected = op.reference(problem, *host_inputs)
    try:
        out = backend.to_host(problem.launch(launcher, *device_copies(op, backend, host_inputs)))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return op.check(problem, out, expected, host_inputs)


def device_copies(op: Op, backend: Any, host_inputs: tuple) -> list:
    """`host_inputs` on the backend; copied first when the op writes its inputs (the CPU's
    asarray would hand the launcher the host arrays themselves)."""
    return [backend.asarray(np.array(a) if op.mutates else a) for a in host_inputs]


def check(op: Op, problem: Problem, variant: Variant, config: dict, launcher: Launcher | None = None,
          rng: np.random.Generator | None = None, shape_checked: bool = False) -> str | None:
    """Run the verification; None when it passes, else the first failure (with where).
    `shape_checked`: the caller already compared random inputs at the problem's shape."""
    rng = rng or np.random.default_rng()
    todo: list[tuple[Problem, tuple]] = []
    if not shape_checked:
        small = shrunk(problem)
        if small != problem and not (variant.supports(small) and variant.valid(small, config)):
            small = problem
        todo.append((small, op.sample(small, rng)))
    todo.extend(special_cases(op, problem, variant, config, rng))
    for case, inputs in todo:
        try:
            built = launcher if case == problem and launcher is not None else variant.build(case, config)
        except Exception as exc:
            return f"shape {case.shape}: build failed: {type(exc).__name__}: {exc}"[:500]
        error = run_case(op, case, built, inputs)
        if error is not None:
            return f"shape {case.shape} {dict(case.flags)}: {error}"[:500]
    return None


def _memo_key(key: Key, variant: Variant, config: dict) -> tuple:
    return (key.row(), variant.name, json.dumps(config, sort_keys=True), variant.source_hash(), __version__)


def remember(key: Key, variant: Variant, config: dict, verdict: Verdict, db: Any) -> None:
    _verdicts[_memo_key(key, variant, config)] = verdict
    try:
        db.record_verdict(key, variant.name, config, variant.source_hash(), __version__, verdict)
    except Exception as exc:  # the database must never stop a call
        warnings.warn(f"hakl: could not store a verdict in the tuning database ({exc})", RuntimeWarning)


def verified(op: Op, problem: Problem, variant: Variant, config: dict, launcher: Launcher, db: Any) -> Verdict:
    """The stored verdict for (key, variant, config), else a fresh one (run, then stored)."""
    key = key_for(op, problem)
    memo_key = _memo_key(key, variant, config)
    verdict = _verdicts.get(memo_key)
    if verdict is None:
        try:
            verdict = db.verdict(key, variant.name, config, variant.source_hash(), __version__)
        except Exception:  # a broken database: verify again (dispatch has warned about it)
            verdict = None
        if verdict is not None:
            _verdicts[memo_key] = verdict
    if verdict is None:
        start = time.perf_counter()
        error = check(op, problem, variant, config, launcher)
        verdict = Verdict("ok" if error is None else "rejected", error, time.perf_counter() - start)
        remember(key, variant, config, verdict, db)
    return verdict


def forget() -> None:
    """Drop this process's memoised verdicts (tests; the database keeps its own)."""
    _verdicts.clear()
