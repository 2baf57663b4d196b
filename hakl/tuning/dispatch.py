"""Pick, build, verify and remember the launcher for a problem.

Order of lookup for key (op, backend, device fingerprint, every input's dtype, bucket, flags):
the in-memory table, then the tuning database (entries whose source hash or
version changed are ignored), then — when HAKL_AUTOTUNE=1 — a tuning run, then
the choice tuned for the nearest bucket of the same op, device, dtypes and flags
(source "nearest <bucket>"), then the nearest choice tuned on a sibling: another device
of this machine kind (Backend.machine_kind: another CPU model named xeon-avx512-2core,
the same CPU under other library versions), as reports/<machine>/tuning.json brings
them (source "sibling <bucket>"), else the variants' heuristics. Whatever the source, a (variant, config) serves only
once it is verified on this device (hakl.tuning.verify; the verdict is stored,
so a device pays for it once). A variant that fails to build or to verify is
skipped with a warning and the next candidate (finally the baseline) serves.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

from .. import __version__
from ..backends import get as get_backend
from ..op import Launcher, Op, Problem, Variant, untuned_order
from . import db, tuner, verify
from .db import Choice, Key, TuningDB
from .keys import key_for


@dataclass
class Selection:
    variant: Variant
    config: dict
    launcher: Launcher
    source: str  # "tuned", "nearest <bucket>", "sibling <bucket>", "heuristic", "fallback" or "forced"

    def run(self, problem: Problem, *inputs: Any, out: Any = None) -> Any:
        """The launcher on `inputs` with the problem's run-time params; with `out`, the result
        lands in the caller's buffer (written in place by variants that accept it)."""
        if out is None:
            return problem.launch(self.launcher, *inputs)
        if self.variant.accepts_out:
            self.launcher(*inputs, out=out, **dict(problem.params))
        else:
            result = problem.launch(self.launcher, *inputs)
            get_backend(problem.backend).copy_into(out, result)
        return out


_memo: dict[tuple, Selection] = {}
# A repeated problem (the framework's case) skips the bucket key and supports(): a third
# of select()'s cost on a 4x8 add. Bounded: run-time params (dropout's seed) vary per call.
_exact: dict[tuple, Selection] = {}
_EXACT_LIMIT = 4096
_memo_stamp: tuple = ()  # (database, generation) the memo was filled under
database = db.current


def set_database(new: TuningDB | None) -> None:
    """Use another tuning database (tests, scripts); forgets memoised choices."""
    db.use(new)
    clear_memo()


def autotune_enabled() -> bool:
    return os.environ.get("HAKL_AUTOTUNE", "") not in ("", "0")


Observer = Callable[[Op, Problem, Selection], Selection]
_observers: list[Observer] = []


@contextmanager
def observing(observer: Observer):
    """Call `observer(op, problem, selection)` on every select() inside the block; what it
    returns is what the caller gets (an observer may wrap the launcher to see its arguments)."""
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


@contextmanager
def _unobserved():
    """Resolving a choice runs candidates (tuning, verification), and the selects those make
    are not the call's: observers see none of them (a benchmark recorded an RNN's
    verification products as launches of the call, and replayed them)."""
    saved = _observers[:]
    _observers.clear()
    try:
        yield
    finally:
        _observers[:] = saved


@contextmanager
def capture():
    """Collect the (op, problem) of every select() inside: how `hakl tune` learns the
    problem a public call makes, without repeating each family's canonicalisation."""
    seen: list[tuple[Op, Problem]] = []

    def note(op: Op, problem: Problem, selection: Selection) -> Selection:
        seen.append((op, problem))
        return selection

    with observing(note):
        yield seen


def _check_stamp() -> None:
    """Forget the memo when the database or its choices changed since it was filled."""
    global _memo_stamp
    current = database()
    if _memo_stamp != (current, current.generation):
        clear_memo()
        _memo_stamp = (current, current.generation)


def select(op: Op, problem: Problem, variant_name: str | None = None) -> Selection:
    """The launcher for `problem`; memoised per tuning key. `variant_name` restricts the
    candidates to that variant (select_paired)."""
    _check_stamp()
    # Without the run-time params, which no choice depends on: dropout's seed changes every
    # call, and with it in the key every call missed, bucketed its shape again and added an
    # entry (a 4x8 dropout spent a sixth of its time there).
    exact_key = (op.name, problem.backend, problem.dtype, problem.shape, problem.flags, problem.dtypes,
                 variant_name)
    hit = _exact.get(exact_key)
    if hit is None:
        memo_key = (op.name, problem.backend, problem.input_dtypes, op.bucket(problem), problem.flags, variant_name)
        hit = _memo.get(memo_key)
        if hit is None or not hit.variant.supports(problem):
            with _unobserved():
                hit = _memo[memo_key] = _resolve(op, problem, variant_name)
        if len(_exact) >= _EXACT_LIMIT:
            _exact.clear()
        _exact[exact_key] = hit
    for observer in _observers:
        hit = observer(op, problem, hit)
    return hit


# Prepared calls of the public functions, by the exact call (hakl.op.call_key). Bounded like _exact.
_plans: dict[tuple, Callable[..., Any]] = {}


def planned(key: tuple | None, make: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    """The prepared call for `key`, made by make() on a miss: a public function's checks,
    its canonical problem and the selected launcher, as one function of the call's arrays.
    The framework repeats its small calls, and a 4x8 softmax spent 10 of its 14 us checking
    and selecting again what the call before it had. `key` holds all that the checks and the
    problem depend on (call_key); None (an argument that is no backend's array) makes afresh,
    and so does every call while observers watch (they see each select()). A make() that
    raises stores nothing. Forgotten with the memo."""
    if key is None or _observers:
        return make()
    current = database()
    if _memo_stamp != (current, current.generation):  # _check_stamp, inline: it runs on every call
        _check_stamp()
    try:
        hit = _plans.get(key)
    except TypeError:  # an unhashable option (call_key)
        return make()
    if hit is None:
        hit = make()
        if len(_plans) >= _EXACT_LIMIT:
            _plans.clear()
        _plans[key] = hit
    return hit


def select_paired(op: Op, problem: Problem, forward: Selection) -> Selection:
    """The backward `op`'s launcher of the same variant as the forward's `forward`: its
    launchers read the workspace that forward left (oneDNN's RNN training), which no other
    variant understands. `op.paired_with` names the forward op."""
    if op.paired_with is None:
        raise ValueError(f"{op.name}: select_paired needs an op whose declaration says paired_with")
    return select(op, problem, forward.variant.name)


def _resolve(op: Op, problem: Problem, variant_name: str | None = None) -> Selection:
    candidates = [v for v in op.for_backend(problem.backend) if v.supports(problem)
                  and (variant_name is None or v.name == variant_name)]
    if not candidates:
        wanted = "" if variant_name is None else f" named {variant_name!r}"
        raise NotImplementedError(f"{op.name}: no variant{wanted} on {problem.backend} supports {problem}")
    key = key_for(op, problem)
    choice, source = stored_choice(key, candidates), "tuned"
    if choice is None and autotune_enabled():
        choice = tuner.tune(op, problem).choice
    if choice is None:
        choice, source = _nearest_choice(key, candidates, problem)
    ordered: list[tuple[Variant, dict, str]] = []
    if choice is not None:
        ordered.append((next(v for v in candidates if v.name == choice.variant), choice.config, source))
    # Heuristic order: by rank, then declared order; the baseline after the ranks below
    # AFTER_BASELINE (op.untuned_order).
    # The baseline is the heuristic's choice where it comes first, else the fallback.
    for i, variant in enumerate(sorted(candidates, key=lambda v: untuned_order(v, problem))):
        ordered.append((variant, variant.default_config(problem),
                        "fallback" if variant.baseline and i > 0 else "heuristic"))
    built = []
    for variant, config, source in ordered:
        launcher = _try_build(op, variant, problem, config)
        if launcher is None:
            continue
        if op.paired_with is not None:
            # Its inputs include a workspace only its forward variant makes: the pair is
            # verified through the forward (and conformance cases that chain the two).
            return Selection(variant, config, launcher, source)
        verdict = verify.verified(op, problem, variant, config, launcher, database())
        if verdict.status == "ok":
            return Selection(variant, config, launcher, source)
        warnings.warn(f"hakl: {op.name} variant {variant.name} {config} gives wrong results on "
                      f"{problem.backend} ({verdict.error}); the next candidate serves", RuntimeWarning)
        built.append(Selection(variant, config, launcher, source))
    if built:  # nothing verified: the baseline (or the last one built) serves, and says so
        last = next((b for b in built if b.variant.baseline), built[-1])
        warnings.warn(f"hakl: no {op.name} variant verified on {problem.backend} for {problem.shape}; "
                      f"{last.variant.name} serves unverified", RuntimeWarning)
        return last
    raise RuntimeError(f"{op.name}: every variant on {problem.backend} failed to build for {problem}")


def stored_choice(key: Key, candidates: list[Variant]) -> Choice | None:
    """The database's choice for `key` when it is current for `candidates`, else None."""
    try:
        choice = database().lookup(key)
    except Exception as exc:  # the database must never stop a call
        warnings.warn(f"hakl: tuning database lookup failed ({exc}); using heuristics", RuntimeWarning)
        return None
    return choice if _current(choice, candidates) else None


def _nearest_choice(key: Key, candidates: list[Variant], problem: Problem) -> tuple[Choice | None, str]:
    """The nearest current choice whose config is valid here: this device's, else a
    sibling device's; like any choice it serves only once verified at this problem."""
    try:
        for kind, label in ((None, "nearest"), (get_backend(key.backend).machine_kind(), "sibling")):
            for bucket, choice in database().neighbours(key, kind):
                if _current(choice, candidates):
                    variant = next(v for v in candidates if v.name == choice.variant)
                    if variant.valid(problem, choice.config):
                        return choice, f"{label} {bucket}"
    except Exception as exc:
        warnings.warn(f"hakl: tuning database lookup failed ({exc}); using heuristics", RuntimeWarning)
    return None, ""


def _current(choice: Choice | None, candidates: list[Variant]) -> bool:
    """Whether a stored choice was made by this version, with a variant that serves the
    problem and whose code has not changed since."""
    if choice is None or choice.version != __version__:
        return False
    variant = next((v for v in candidates if v.name == choice.variant), None)
    return variant is not None and variant.source_hash() == choice.source_hash


def _try_build(op: Op, variant: Variant, problem: Problem, config: dict) -> Launcher | None:
    try:
        return variant.build(problem, config)
    except Exception as exc:
        warnings.warn(
            f"hakl: {op.name} variant {variant.name} {config} failed to build on {problem.backend} "
            f"({type(exc).__name__}: {exc}); falling back",
            RuntimeWarning,
        )
        return None


def force(op: Op, problem: Problem, variant: Variant, config: dict | None = None) -> Selection:
    """Build a specific variant (conformance, benchmarks of the baseline): not memoised,
    not verified (the caller checks or measures exactly this variant)."""
    config = variant.default_config(problem) if config is None else config
    return Selection(variant, config, variant.build(problem, config), "forced")


def clear_memo() -> None:
    _memo.clear()
    _exact.clear()
    _plans.clear()
