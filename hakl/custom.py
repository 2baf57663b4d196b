"""Custom operators from outside the library: user variants and user ops.

A user's code can

- add a variant to an existing op on a backend (`register_variant`): a Python or
  numba function, or a CUDA / OpenCL source whose `build` compiles it through the
  backend (`hakl.backends.get("opencl").kernel(source, name, defines)`,
  `.compile(source, defines)`) and returns the launcher;
- register a new op (`register_op`) with its float64 reference, sample inputs,
  tolerances (or `exact`), conformance cases (`sample_cases` makes them from the
  sample) and its variants, and call it (`call`).

Nothing about a user's variant is trusted: dispatch, the tuner and `hakl check`
treat it as a built-in. Before a (variant, config) serves, dispatch verifies it
against the op's reference on this device (random inputs at the problem's shape and
the op's special-value conformance cases: hakl.tuning.verify); a wrong one warns,
is stored as "rejected" in the tuning database's verdicts and the next candidate
serves. The tuner verifies every candidate before it times it, records a wrong one
as "rejected" and never chooses it; a fast correct one becomes the key's choice and
is what dispatch serves from then on (source "tuned").

Untuned order. Dispatch tries the variants that support a problem by
`Variant.rank(problem)` (lowest first; ties in declared order), the baseline after
every rank below `hakl.op.AFTER_BASELINE` (a variant measured slower than the baseline
on a device says so with a rank at or above it).
`register_variant` appends the variant and, unless `preferred=True`, adds
USER_RANK to its rank, so that without a tuned choice every built-in variant that
supports the problem is tried before it; it then serves untuned only where no other
non-baseline variant supports the problem (or the ones before it fail to build or
to verify), and ahead of the baseline, which dispatch always keeps as the last
resort. With `preferred=True` its own rank competes as given (a tie still goes to
the variants declared before it). Tuning (`hakl tune`, `HAKL_AUTOTUNE=1`,
`hakl.tuning.tuner.tune`) ignores ranks: the fastest verified candidate wins.

Tuned choices and verdicts are keyed by a hash of the file that defines the
variant's `build` and of its declared `sources`, so `build` must be defined in a
module file (not typed at a REPL prompt), and a kernel kept in a separate file
belongs in `sources=`: editing either invalidates what was tuned and verified.

`HAKL_PLUGINS="module_a,module_b"` names modules that `load_plugins()` imports
(the `hakl` command calls it), so `hakl check` and `hakl tune` see what they
register.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import warnings
import weakref
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import backends
from .op import OPS, Input, Op, Problem, Variant, dtype_name, register
from .tuning import dispatch

__all__ = ["USER_RANK", "register_variant", "unregister_variant", "register_op", "unregister_op",
           "is_user_variant", "is_user_op", "sample_cases", "problem_for", "call", "load_plugins"]

# Added to a user variant's rank (unless preferred=True): built-in ranks are small
# integers (0 or 1 today), so a user variant sorts after every built-in one.
USER_RANK = 1_000_000

_USER_VARIANTS: "weakref.WeakSet[Variant]" = weakref.WeakSet()
_USER_OPS: "weakref.WeakSet[Op]" = weakref.WeakSet()
_NO_CASES = {f.name: f for f in dataclasses.fields(Op)}["cases"].default
_failed_plugins: set[str] = set()


def _registry() -> dict[str, Op]:
    """hakl.op.OPS with every built-in family registered."""
    from . import kernels  # noqa: F401  (importing a family registers its ops)

    return OPS


def _op(fn: str, op_name: Any) -> Op:
    if not isinstance(op_name, str):
        raise TypeError(f"{fn}: argument 'op_name' must be a str, got {type(op_name).__name__}")
    ops = _registry()
    if op_name not in ops:
        raise KeyError(f"{fn}: argument 'op_name': unknown op {op_name!r}; registered: {', '.join(sorted(ops))}")
    return ops[op_name]


def _check_variant(fn: str, arg: str, variant: Any) -> None:
    """The checks a variant must pass to be registered, whatever the op."""
    if not isinstance(variant, Variant):
        raise TypeError(f"{fn}: argument {arg!r} must be a hakl.op.Variant, got {type(variant).__name__}")
    if not isinstance(variant.name, str) or not variant.name:
        raise ValueError(f"{fn}: argument {arg!r} needs a non-empty name, got {variant.name!r}")
    if variant.backend not in backends.BACKENDS:
        raise ValueError(f"{fn}: argument {arg!r} (variant {variant.name!r}) names backend {variant.backend!r}; "
                         f"expected one of {sorted(backends.BACKENDS)}")
    for attr in ("build", "supports", "valid", "rank"):
        if not callable(getattr(variant, attr)):
            raise TypeError(f"{fn}: argument {arg!r} (variant {variant.name!r}): {attr} must be callable")
    if variant.default is not None and not callable(variant.default):
        raise TypeError(f"{fn}: argument {arg!r} (variant {variant.name!r}): default must be callable or None")
    if not isinstance(variant.space, Mapping):
        raise TypeError(f"{fn}: argument {arg!r} (variant {variant.name!r}): space must be a dict of "
                        f"name -> tuple of values")
    for key, values in variant.space.items():
        if not isinstance(values, (tuple, list)) or not values:
            raise ValueError(f"{fn}: argument {arg!r} (variant {variant.name!r}): space[{key!r}] must be a "
                             f"non-empty tuple of values, got {values!r}")
    try:
        variant.source_hash()
    except Exception as exc:
        raise ValueError(
            f"{fn}: argument {arg!r} (variant {variant.name!r}): cannot hash the code that builds it "
            f"({type(exc).__name__}: {exc}); define build in a module file (tuned choices and verdicts are "
            f"keyed by a hash of that file and of the variant's sources)") from None


def _ranked_after_builtins(rank: Callable[[Problem], int]) -> Callable[[Problem], int]:
    def user_rank(problem: Problem) -> int:
        return USER_RANK + rank(problem)

    return user_rank


def register_variant(op_name: str, variant: Variant, *, preferred: bool = False) -> Variant:
    """Add `variant` to the registered op `op_name` on `variant.backend`; returns the registered
    variant (a copy whose rank is offset by USER_RANK unless `preferred`, see the module doc).

    The op's first variant on a backend must be its baseline (`baseline=True`); a variant
    added to a backend that already has one must not be. Raises KeyError for an unknown op,
    ValueError for a (backend, name) the op already has, TypeError/ValueError for a malformed
    variant. Dispatch forgets its memoised choices, so the variant competes from the next call.
    """
    op = _op("register_variant", op_name)
    _check_variant("register_variant", "variant", variant)
    on_backend = op.for_backend(variant.backend)
    if any(v.name == variant.name for v in on_backend):
        raise ValueError(f"register_variant: argument 'variant': op {op.name!r} already has a variant "
                         f"{variant.name!r} on {variant.backend}; pick another name")
    if not on_backend and not variant.baseline:
        raise ValueError(f"register_variant: argument 'variant': op {op.name!r} has no variant on "
                         f"{variant.backend} yet, so {variant.name!r} must be its baseline (baseline=True): "
                         f"the last resort of dispatch and what speed-ups are measured against")
    if on_backend and variant.baseline:
        raise ValueError(f"register_variant: argument 'variant': op {op.name!r} already has a baseline on "
                         f"{variant.backend} ({op.baseline(variant.backend).name!r}); "
                         f"{variant.name!r} must have baseline=False")
    if not preferred:
        variant = dataclasses.replace(variant, rank=_ranked_after_builtins(variant.rank))
    op.add(variant)
    _USER_VARIANTS.add(variant)
    dispatch.clear_memo()
    return variant


def unregister_variant(op_name: str, backend: str, name: str) -> Variant:
    """Remove a variant that `register_variant` added; returns it. Built-in variants stay."""
    op = _op("unregister_variant", op_name)
    try:
        variant = op.variant(backend, name)
    except KeyError:
        raise KeyError(f"unregister_variant: op {op.name!r} has no variant {name!r} on {backend}") from None
    if variant not in _USER_VARIANTS:
        raise ValueError(f"unregister_variant: {op.name} variant {name!r} on {backend} was not added by "
                         f"register_variant; built-in variants cannot be removed")
    op.variants.remove(variant)
    dispatch.clear_memo()
    return variant


def register_op(op: Op) -> Op:
    """Register a new op (then `call(op.name, ...)`, `hakl check`, the tuner and dispatch see it).

    The op needs a callable reference, sample and nbytes; tolerances for every dtype it
    serves (an op is defined on the dtypes of its tolerances: a conformance case of another
    dtype is skipped) unless `exact`; conformance cases (`sample_cases` makes them); and
    at least one variant, with exactly one baseline on every backend it has variants on.
    Raises ValueError for a name already registered (built-in or user).
    """
    if not isinstance(op, Op):
        raise TypeError(f"register_op: argument 'op' must be a hakl.op.Op, got {type(op).__name__}")
    if not isinstance(op.name, str) or not op.name:
        raise ValueError(f"register_op: argument 'op' needs a non-empty name, got {op.name!r}")
    ops = _registry()
    if op.name in ops:
        kind = "a user op" if ops[op.name] in _USER_OPS else "a built-in op"
        raise ValueError(f"register_op: argument 'op': {op.name!r} is already registered ({kind}); "
                         f"pick another name, or add a variant to it with register_variant")
    for attr in ("reference", "sample", "nbytes", "bucket", "cases"):
        if not callable(getattr(op, attr)):
            raise TypeError(f"register_op: argument 'op' ({op.name!r}): {attr} must be callable")
    if op.cases is _NO_CASES:
        raise ValueError(f"register_op: argument 'op' ({op.name!r}) has no conformance cases: pass "
                         f"cases=hakl.custom.sample_cases({op.name!r}, sample, shapes, ...) or your own "
                         f"(`hakl check` and verification run them)")
    if not op.exact:
        if not isinstance(op.tolerances, Mapping) or not op.tolerances:
            raise ValueError(f"register_op: argument 'op' ({op.name!r}) needs tolerances "
                             f"{{dtype name: (rtol, atol)}}, or exact=True")
        for dt, tol in op.tolerances.items():
            try:
                np.dtype(dt)
                rtol, atol = tol
                float(rtol), float(atol)
            except (TypeError, ValueError):
                raise ValueError(f"register_op: argument 'op' ({op.name!r}): tolerances[{dt!r}] must map a "
                                 f"dtype name to (rtol, atol), got {tol!r}") from None
    if not op.variants:
        raise ValueError(f"register_op: argument 'op' ({op.name!r}) has no variants")
    seen: set[tuple[str, str]] = set()
    for variant in op.variants:
        _check_variant("register_op", "op", variant)
        if (variant.backend, variant.name) in seen:
            raise ValueError(f"register_op: argument 'op' ({op.name!r}) has two variants named "
                             f"{variant.name!r} on {variant.backend}")
        seen.add((variant.backend, variant.name))
    for backend in sorted({v.backend for v in op.variants}):
        baselines = [v.name for v in op.for_backend(backend) if v.baseline]
        if len(baselines) != 1:
            raise ValueError(f"register_op: argument 'op' ({op.name!r}) needs exactly one baseline variant "
                             f"(baseline=True) on {backend}, has {len(baselines)}"
                             + (f": {', '.join(baselines)}" if baselines else ""))
    if not op.exact:
        op.cases = _with_tolerances(op.cases, op.tolerances)
    _declare_for_consumers(op)
    register(op)
    _USER_OPS.add(op)
    _USER_VARIANTS.update(op.variants)
    dispatch.clear_memo()
    return op


def _declare_for_consumers(op: Op) -> None:
    """Defaults for the declarations an op leaves out: one input taking the dtypes of its
    tolerances, and the example call `hakl tune OP` makes (`call(OP, x)`: an op with
    several inputs or flags sets its own)."""
    if not op.inputs and not op.exact:
        op.inputs = (Input("x", tuple(op.tolerances)),)
    if op.example is None:
        name = op.name
        op.example = lambda x, axis, options: call(name, x)


def _with_tolerances(cases: Callable, tolerances: Mapping[str, Any]) -> Callable:
    def toleranced(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        if dtype not in tolerances:
            return ()
        return cases(backend, dtype, rng, quick)

    return toleranced


def unregister_op(name: str) -> Op:
    """Remove an op that `register_op` added; returns it. Built-in ops stay."""
    ops = _registry()
    if name not in ops:
        raise KeyError(f"unregister_op: argument 'name': unknown op {name!r}")
    if ops[name] not in _USER_OPS:
        raise ValueError(f"unregister_op: {name!r} is a built-in op; only ops added by register_op can be removed")
    op = ops.pop(name)
    dispatch.clear_memo()
    return op


def is_user_variant(variant: Variant) -> bool:
    """True for a variant added by register_variant or register_op."""
    return variant in _USER_VARIANTS


def is_user_op(name: str) -> bool:
    """True for an op added by register_op."""
    return OPS.get(name) in _USER_OPS


def _pairs(fn: str, arg: str, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    """Flags or params as the tuple of (name, value) pairs sorted by name that a Problem holds."""
    try:
        pairs = list(items.items()) if isinstance(items, Mapping) else [tuple(p) for p in items]
        if any(len(p) != 2 or not isinstance(p[0], str) for p in pairs):
            raise ValueError
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: argument {arg!r} must be a dict or (name, value) pairs, got {items!r}") from None
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"{fn}: argument {arg!r} names a key twice: {names}")
    return tuple(sorted(pairs, key=lambda p: p[0]))


def sample_cases(op_name: str, sample: Callable[[Problem, np.random.Generator], tuple[np.ndarray, ...]],
                 shapes: Sequence[tuple[int, ...]], quick_shapes: Sequence[tuple[int, ...]] | None = None,
                 flags: Sequence[Mapping[str, Any] | Iterable[tuple[str, Any]]] = ((),),
                 params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 special: Callable[[Problem, np.random.Generator], Iterable[tuple[np.ndarray, ...]]] | None = None
                 ) -> Callable:
    """An op's `cases`: `sample` at every shape (`quick_shapes` for quick runs: `hakl check`,
    verification; default the first three shapes) under every flag set, plus whatever
    `special(problem, rng)` yields for a problem (inputs with NaN, ±inf, huge values...)."""
    flag_sets = [_pairs("sample_cases", "flags", f) for f in flags]
    run_params = _pairs("sample_cases", "params", params)
    shapes = [tuple(int(d) for d in s) for s in shapes]
    quick = [tuple(int(d) for d in s) for s in quick_shapes] if quick_shapes is not None else shapes[:3]

    def cases(backend: str, dtype: str, rng: np.random.Generator, is_quick: bool = False):
        for flag_set in flag_sets:
            for shape in quick if is_quick else shapes:
                problem = Problem(op_name, backend, dtype, shape, flag_set, run_params)
                yield problem, tuple(sample(problem, rng))
                if special is not None:
                    for inputs in special(problem, rng):
                        yield problem, tuple(inputs)

    return cases


def problem_for(op_name: str, backend: str, dtype: Any, shape: tuple[int, ...],
                flags: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                params: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> Problem:
    """The Problem `call` makes on `backend` for inputs whose first has `shape` and `dtype`
    (or whose dtypes are the sequence `dtype`, one per input); what `hakl tune` needs for a
    user op. Raises TypeError for a dtype the op has no tolerances for."""
    op = _op("problem_for", op_name)
    backends.get(backend)
    names = [dtype_name(np.dtype(d)) for d in (dtype if isinstance(dtype, (list, tuple)) else (dtype,))]
    if not names:
        raise TypeError(f"{op.name}: needs at least one input dtype")
    if not op.exact and names[0] not in op.tolerances:
        raise TypeError(f"{op.name}: no tolerances for {names[0]} (inputs are verified against the reference "
                        f"with them); supported dtypes: {', '.join(op.tolerances)}")
    return Problem(op.name, backend, names[0], tuple(int(d) for d in shape),
                   _pairs(op.name, "flags", flags), _pairs(op.name, "params", params),
                   tuple(names) if len(set(names)) > 1 else ())  # every input's dtype, in the key


def call(op_name: str, *inputs: Any, flags: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
         params: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> Any:
    """Run op `op_name` on `inputs` (arrays of one backend: NumPy, CuPy or pyopencl) and return
    what the chosen launcher returns.

    The problem is (op, the first input's backend, dtype and shape as given, every input's
    dtype where they differ, `flags`, `params`); flags are part of the tuning key, params
    are run-time scalars passed to the launcher as keywords. Inputs are made contiguous;
    dispatch picks (and verifies) the variant. No canonicalisation is done (the shape is
    the first input's): for built-in ops call hakl.softmax etc.
    """
    op = _op("call", op_name)
    if not inputs:
        raise TypeError(f"{op.name}: needs at least one input array")
    backend = backends.backend_of(inputs[0], op.name, "inputs[0]")
    for i, a in enumerate(inputs[1:], 1):
        b = backends.backend_of(a, op.name, f"inputs[{i}]")
        if b is not backend:
            raise TypeError(f"{op.name}: argument 'inputs[{i}]' is on {b.name} but 'inputs[0]' is on {backend.name}")
    first = inputs[0]
    problem = problem_for(op.name, backend.name, [a.dtype for a in inputs], first.shape, flags, params)
    arrays = [backend.ascontiguous(a) for a in inputs]
    return problem.launch(dispatch.select(op, problem).launcher, *arrays)


def load_plugins(names: str | Iterable[str] | None = None) -> list[ModuleType]:
    """Import the plugin modules named by `names` (default: $HAKL_PLUGINS, comma-separated),
    so that what they register is seen; returns the modules imported. A module that fails
    to import warns (RuntimeWarning, naming it and the error, once per process) and the
    rest still load."""
    if names is None:
        names = os.environ.get("HAKL_PLUGINS", "")
    if isinstance(names, str):
        names = names.split(",")
    _registry()  # built-in ops first: plugins add variants to them
    loaded = []
    for name in (n.strip() for n in names):
        if not name or name in _failed_plugins:
            continue
        try:
            loaded.append(importlib.import_module(name))
        except Exception as exc:
            _failed_plugins.add(name)
            warnings.warn(f"hakl: HAKL_PLUGINS: could not import plugin module {name!r} "
                          f"({type(exc).__name__}: {exc}); continuing without it", RuntimeWarning, stacklevel=2)
    return loaded
