"""The op and variant contract.

An `Op` owns one operation: its float64 reference, tolerances, sample inputs,
the minimum bytes it must move, how shapes are bucketed for tuning, and its
`Variant`s. A `Variant` is one implementation on one backend: which problems it
supports, its tuning space, a heuristic default, and `build(problem, config)`
returning a launcher that takes device arrays and returns the output.
Launchers derive sizes from their arguments, so one launcher serves every
problem in its tuning bucket.
"""
from __future__ import annotations

import functools
import inspect
import json
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .backends.base import BFLOAT16, source_hash

Launcher = Callable[..., Any]


@dataclass(frozen=True, init=False)
class Problem:
    """What a variant sees: op name, backend, dtype, canonical shape and flags."""

    op: str
    backend: str
    dtype: str
    shape: tuple[int, ...]
    flags: tuple[tuple[str, Any], ...] = ()  # part of the tuning key (log=True, axis kind, ...)
    params: tuple[tuple[str, Any], ...] = ()  # run-time scalars, not in the key (p, seed, ...)
    dtypes: tuple[str, ...] = ()  # every input's dtype, when they differ from `dtype` (in the key)

    def __init__(self, op: str, backend: str, dtype: str, shape: tuple[int, ...],
                 flags: tuple[tuple[str, Any], ...] = (), params: tuple[tuple[str, Any], ...] = (),
                 dtypes: tuple[str, ...] = ()) -> None:
        # Most public calls build one: a frozen dataclass's own __init__ sets each field with
        # object.__setattr__ (2-2.7 us, a tenth of a 4x8 call); one update of the instance's
        # dict is 0.65 us. Still frozen afterwards (assignment raises).
        self.__dict__.update(op=op, backend=backend, dtype=dtype, shape=shape, flags=flags, params=params,
                             dtypes=dtypes)

    @property
    def input_dtypes(self) -> tuple[str, ...]:
        return self.dtypes or (self.dtype,)

    def flag(self, name: str, default: Any = None) -> Any:
        return dict(self.flags).get(name, default)

    def launch(self, launcher: "Launcher", *inputs: Any) -> Any:
        """Call a launcher the way every caller does: inputs, then the run-time params."""
        return launcher(*inputs, **dict(self.params))

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def floating(dtype: Any) -> bool:
    """Whether `dtype` is a floating type, bfloat16 included (NumPy's kind says "V" for it)."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype == BFLOAT16


@functools.lru_cache(maxsize=None)
def dtype_name(dtype: np.dtype) -> str:
    """np.dtype(...).name, memoised: the attribute is slow and sits on every call's path."""
    return np.dtype(dtype).name


def check_axis(op: str, axis: Any, positions: int, what: str, expected: str = "an int") -> int:
    """`axis` as a non-negative index into `positions` places (-positions .. positions - 1
    are valid); raises TypeError/ValueError naming `op`, the argument and the range."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: argument 'axis' must be {expected}, got {type(axis).__name__}")
    if not -positions <= axis < positions:
        raise ValueError(f"{op}: argument 'axis' = {axis} is out of range [{-positions}, {positions - 1}] for {what}")
    return int(axis) % positions


def option(options: dict[str, str], name: str, default: Any = False) -> Any:
    """A `hakl tune -o name=value` option, parsed as the type of `default` (bools take
    true/false/1/0/yes/no); raises ValueError naming the option."""
    if name not in options:
        return default
    value = options[name]
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"option {name}={value!r}: expected true or false")
        return value.lower() in ("true", "1", "yes")
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise ValueError(f"option {name}={value!r}: expected {type(default).__name__}") from None


def pow2_bucket(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Each extent rounded up to a power of two: problems in one bucket share a choice."""
    return tuple(1 << max(int(d) - 1, 0).bit_length() if d > 1 else int(d) for d in shape)


# A variant's rank at or above this puts it behind the baseline in the untuned order:
# where the baseline was measured faster on the device, the tuner still times the variant.
AFTER_BASELINE = 1 << 40


def untuned_order(variant: "Variant", problem: "Problem") -> tuple[int, int]:
    """Sort key of the untuned (heuristic) order; sorted() keeps declared order in ties."""
    if variant.baseline:
        return (1, 0)
    rank = variant.rank(problem)
    return (2, rank) if rank >= AFTER_BASELINE else (0, rank)


@dataclass(eq=False)
class Variant:
    name: str
    backend: str
    build: Callable[[Problem, dict], Launcher]
    space: dict[str, tuple] = field(default_factory=dict)
    supports: Callable[[Problem], bool] = lambda problem: True
    default: Callable[[Problem], dict] | None = None
    valid: Callable[[Problem, dict], bool] = lambda problem, config: True
    # The untuned preference among the variants that support a problem: lowest first,
    # ties in declared order (a kernel that suits GPUs but not CPU OpenCL devices says so);
    # the baseline comes after every rank below AFTER_BASELINE, and before the others.
    rank: Callable[[Problem], int] = lambda problem: 0
    baseline: bool = False
    sources: tuple[Path, ...] = ()
    # (source text, defines) that build() compiles, for compiled variants: lets CI
    # compile every CUDA source with nvcc on a machine without a GPU.
    compile_unit: Callable[[Problem, dict], tuple[str, dict]] | None = None
    # prepare(problem, config, weights) -> what the launcher wants instead of the raw weights
    # (packed, reordered, transposed): made once per weight version, see `prepared`.
    prepare: Callable[[Problem, dict, tuple], Any] | None = None
    # The launcher takes `out=` and writes into the caller's buffer (in-place updates,
    # gradient accumulation); others return a new array, which Selection.run copies.
    accepts_out: bool = False

    def default_config(self, problem: Problem) -> dict:
        if self.default is not None:
            return self.default(problem)
        return {k: v[0] for k, v in self.space.items()}

    def configs(self, problem: Problem) -> list[dict]:
        keys = list(self.space)
        every = (dict(zip(keys, values)) for values in itertools.product(*self.space.values()))
        return [c for c in every if self.valid(problem, c)]

    def prepared(self, slot: Any, version: Any, problem: Problem, config: dict, weights: tuple) -> Any:
        """`prepare`'s result for the weights held in `slot` (a name the caller keeps, e.g. a
        layer's parameter list), made again only when `version` (the caller's counter of
        updates to those weights) or the problem or config changes."""
        cache = self.__dict__.setdefault("_prepared", {})
        stamp = (version, problem, json.dumps(config, sort_keys=True))
        hit = cache.get(slot)
        if hit is None or hit[0] != stamp:
            hit = cache[slot] = (stamp, self.prepare(problem, config, weights))
        return hit[1]

    def source_hash(self) -> str:
        """Hash of the code that builds the variant, whatever the variant declares: the
        module that defines `build` (its numba kernels, the Python that maps a config to
        launch geometry) — for a family of hakl's, every module and kernel source in the
        family's folder, since its backends share pieces — and every declared source.
        A tuned entry or verdict is stale when it changes."""
        if not hasattr(self, "_hash"):
            module = Path(inspect.getfile(self.build)).resolve()
            family = module.parent
            files = {module, *(Path(p).resolve() for p in self.sources)}
            if family.parent == Path(__file__).resolve().parent / "kernels":
                files.update(f for f in family.iterdir() if f.suffix in (".py", ".cu", ".cuh", ".cl"))
            self._hash = source_hash(self.name, *(f.read_bytes() for f in sorted(files)))
        return self._hash


@dataclass(eq=False)
class Op:
    """One operation: reference semantics, tolerances and the variants that compute it."""

    name: str
    reference: Callable[..., Any]  # (problem, *host inputs) -> float64 output(s), or exact for `exact` ops
    sample: Callable[[Problem, np.random.Generator], tuple[np.ndarray, ...]]
    nbytes: Callable[[Problem], int]
    # The arithmetic it does, for ops bound by it rather than by memory (GEMM): `hakl bench`
    # reports GFLOP/s beside GB/s where an op declares it.
    flops: Callable[[Problem], int] | None = None
    tolerances: dict[str, tuple[float, float]] = field(default_factory=dict)
    # How the absolute tolerance grows with the problem (a long sum, an RNN's length): a factor.
    atol_growth: Callable[[Problem], float] = lambda problem: 1.0
    exact: bool = False  # compare bit for bit (cast, stack, indices) instead of with tolerances
    bucket: Callable[[Problem], tuple] = lambda problem: pow2_bucket(problem.shape)
    # cases(backend, dtype, rng, quick) -> iterable of (problem, host inputs): the conformance set
    cases: Callable[..., Iterable[tuple[Problem, tuple[np.ndarray, ...]]]] = lambda *a: ()
    variants: list[Variant] = field(default_factory=list)
    # The launchers' inputs, typed: their dtypes are the op's domain on each backend.
    inputs: tuple["Input", ...] = ()
    # The call `hakl tune OP` makes on an example input (x, axis, options) to learn the problem.
    example: Callable[[Any, int, dict], Any] | None = None
    # What the generic conformance test runs: dtypes per backend (default: the first input's
    # domain) and the backends that run the quick case set (a slow device, a big set).
    conformance_dtypes: Callable[[str], tuple[str, ...]] | None = None
    conformance_quick: tuple[str, ...] = ()
    # compare(problem, out, expected, host inputs) -> error or None, for outputs the reference
    # does not fix uniquely (indices under ties: see `same_gathered_values`).
    compare: Callable[[Problem, Any, Any, tuple], str | None] | None = None
    # Positions of launcher inputs written in place (an optimizer's update): the tuner and
    # verification give every candidate fresh copies, so no candidate sees another's writes.
    mutates: tuple[int, ...] = ()
    # The op whose forward leaves a workspace this (backward) op's launchers read: the
    # backward runs the variant of the forward's name (dispatch.select_paired).
    paired_with: str | None = None

    def dtypes(self, backend: str) -> tuple[str, ...]:
        """The dtypes the op takes on `backend`: its first input's domain."""
        return self.inputs[0].domain(backend) if self.inputs else FLOATS

    def test_dtypes(self, backend: str) -> tuple[str, ...]:
        return self.conformance_dtypes(backend) if self.conformance_dtypes else self.dtypes(backend)

    def add(self, *variants: Variant) -> None:
        self.variants.extend(variants)

    def for_backend(self, backend: str) -> list[Variant]:
        return [v for v in self.variants if v.backend == backend]

    def baseline(self, backend: str) -> Variant:
        return next(v for v in self.for_backend(backend) if v.baseline)

    def variant(self, backend: str, name: str) -> Variant:
        for v in self.for_backend(backend):
            if v.name == name:
                return v
        raise KeyError(f"{self.name}: no variant {name!r} on {backend}")

    def check(self, problem: Problem, out: Any, expected: Any, inputs: tuple = ()) -> str | None:
        """None when `out` (an array or a tuple of them) matches the reference (`inputs`: the
        host inputs, which a `compare` for non-unique outputs reads)."""
        if self.compare is not None:
            return self.compare(problem, out, expected, inputs)
        if isinstance(expected, tuple):
            return each_output(out, expected, lambda i, o, e: self.check(problem, o, e))
        if out.shape != expected.shape:
            return f"shape {out.shape} != expected {expected.shape}"
        if self.exact:
            if out.dtype != expected.dtype:
                return f"dtype {out.dtype} != expected {expected.dtype}"
            differ = ~((out == expected) | (np.isnan(out) & np.isnan(expected)
                                              if floating(out.dtype) or out.dtype.kind == "c" else False))
            return f"{int(differ.sum())} elements differ" if differ.any() else None
        rtol, atol = self.tolerances[problem.dtype]
        return _close(out, expected, rtol, atol * self.atol_growth(problem))


def each_output(out: Any, expected: Any, check: Callable[[int, np.ndarray, np.ndarray], str | None]) -> str | None:
    """An op's outputs against the reference's, the loop every `compare` makes: as many
    outputs, each of its reference's shape, then check(i, out_i, expected_i); the first
    error as "output i: ...". A single array is one output."""
    outs, wants = (out, expected) if isinstance(expected, tuple) else ((out,), (expected,))
    if not isinstance(outs, tuple) or len(outs) != len(wants):
        return f"expected {len(wants)} outputs"
    for i, (o, e) in enumerate(zip(outs, wants)):
        o, e = np.asarray(o), np.asarray(e)
        if o.shape != e.shape:
            return f"output {i}: shape {o.shape} != expected {e.shape}"
        error = check(i, o, e)
        if error is not None:
            return f"output {i}: {error}"
    return None


def _close(out: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
           magnitude: np.ndarray | None = None) -> str | None:
    """NaN exactly where the reference has NaN, equal infinities, elsewhere
    |out - ref| <= rtol*|ref| + atol*max(max|ref|, magnitude) + ulp(ref) (atol is relative to
    the data's scale; `magnitude`, per element, to the size of the terms a kernel sums or
    cancels there; one unit in the last place of the output's dtype, because a result is
    rounded to it: a float16 result among subnormals is off by 3e-8 however it is computed)."""
    got = out.astype(np.float64)
    nan_differs = np.isnan(got) != np.isnan(expected)
    if nan_differs.any():
        return f"NaN pattern differs at {int(nan_differs.sum())} elements"
    infinite = np.isinf(expected)
    if (got[infinite] != expected[infinite]).any():
        return "infinities differ"
    finite = np.isfinite(expected)
    if not finite.any():
        return None
    scale = float(np.abs(expected[finite]).max())
    err = np.abs(got[finite] - expected[finite])
    floor = scale if magnitude is None else np.fmax(scale, magnitude[finite])
    bad = ~(err <= rtol * np.abs(expected[finite]) + atol * floor + _ulp(expected[finite], out.dtype))
    if bad.any():
        return f"{int(bad.sum())} elements off, max abs error {float(np.nanmax(err)):.3g} (scale {scale:.3g})"
    return None


def _ulp(values: np.ndarray, dtype: np.dtype) -> np.ndarray | float:
    """One unit in the last place of floating `dtype` at each of `values` (its subnormals'
    spacing near zero); 0 for integer outputs, which are compared exactly by value."""
    if not floating(dtype):
        return 0.0
    info = np.finfo(dtype)
    _, exponent = np.frexp(values)  # values = m * 2**exponent, 0.5 <= |m| < 1
    exponent = np.where(values == 0, info.minexp, np.maximum(exponent - 1, info.minexp))
    return np.ldexp(1.0, exponent - info.nmant)


def same_gathered_values(axis: int, index_output: int = 0):
    """An Op.compare for index outputs that ties make non-unique (argsort, argmax): output
    `index_output` must hold, along `axis`, a permutation of the reference's indices whose
    gathered input values equal the reference's gathered values (NaN matches NaN)."""
    def compare(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
        got = out[index_output] if isinstance(out, tuple) else out
        want = expected[index_output] if isinstance(expected, tuple) else expected
        if got.shape != want.shape:
            return f"shape {got.shape} != expected {want.shape}"
        if not (np.sort(got, axis=axis) == np.sort(want, axis=axis)).all():
            return "indices are not a permutation of the reference's"
        x = inputs[0]
        a, b = np.take_along_axis(x, got, axis), np.take_along_axis(x, want, axis)
        differ = ~((a == b) | (np.isnan(a) & np.isnan(b) if floating(a.dtype) or a.dtype.kind == "c" else False))
        return f"{int(differ.sum())} gathered values differ" if differ.any() else None
    return compare


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    OPS[op.name] = op
    return op


def attach_variants(package: str, builders: dict[Op, str]) -> None:
    """Give each op the variants its family builds on every backend: for each registered
    backend B, the family's module `<package>.B` (where it has one) and its function named
    builders[op]. A new backend is a module per family; no family's __init__ changes."""
    import importlib
    import importlib.util

    from .backends import BACKENDS

    for backend in BACKENDS:
        if importlib.util.find_spec(f"{package}.{backend}") is None:
            continue
        module = importlib.import_module(f"{package}.{backend}")
        for op, builder in builders.items():
            op.add(*getattr(module, builder)())


# ---------------------------------------------------------------------------
# Public functions: the declaration every consumer reads (the generic tests, the
# autograd's rules, the validator). An op (above) is what dispatch tunes; a
# function is what a user calls: softmax and log_softmax are two functions of one op.
# ---------------------------------------------------------------------------

FLOATS = ("float16", "float32", "float64")


@dataclass(frozen=True)
class Input:
    """An array argument of a public function: its name, its role and the dtypes it takes
    (a tuple, or a function of the backend for domains that differ per backend)."""

    name: str
    dtypes: tuple[str, ...] | Callable[[str], tuple[str, ...]] = FLOATS
    role: str = "data"  # data, grad (an output's gradient), mask, ...

    def domain(self, backend: str) -> tuple[str, ...]:
        """The dtypes this argument takes on `backend` (floats: those the backend computes in);
        memoised: it sits on every call's path."""
        return _domain(self, backend)


@functools.lru_cache(maxsize=None)
def _domain(spec: Input, backend: str) -> tuple[str, ...]:
    from .backends import get

    names = spec.dtypes(backend) if callable(spec.dtypes) else spec.dtypes
    if not names or names[0] not in FLOATS or not get(backend).available:
        return tuple(names)  # bits (any backend moves them), or as declared where none can be asked
    have = {d.name for d in get(backend).dtypes()}
    return tuple(d for d in names if d in have or d not in FLOATS)


# A call of more arrays than this is checked in full: its key would cost what its checks do,
# and thousands of long keys would hold memory.
CALL_KEY_ARRAYS = 64


def _typed(option: Any) -> Any:
    """An option with its type, inside tuples and lists too: (0, True) must not find (0, 1)'s
    plan. A flat tuple is (its items' types, itself): one map, where a call per item cost 1 us
    for a 4-tuple of bools on the Xeon."""
    kind = type(option)
    if kind is list:  # unhashable: its items, marked as a list's
        return list, tuple(map(_typed, option))
    if kind is not tuple:
        return kind, option
    kinds = tuple(map(type, option))
    return tuple(map(_typed, option)) if tuple in kinds or list in kinds else (kinds, option)


_NDARRAY = np.ndarray


def call_key(function: str, arrays: Sequence[Any], *options: Any) -> tuple | None:
    """What a public call's checks and problem depend on, for dispatch.planned: each array's
    type, dtype, shape and strides (its layout), and each option with its type. None where
    an argument is not an array of a backend or there are more than CALL_KEY_ARRAYS arrays:
    that call is checked in full; an unhashable option makes an unhashable key, which
    planned() checks in full too. (Kept to one plain loop: it runs on every call of every
    public function; a tuple grown by += cost 0.6 us for two 4x8 arrays, a list 0.8.)"""
    if len(arrays) > CALL_KEY_ARRAYS:
        return None
    key: tuple = (function,)
    for a in arrays:
        if type(a) is not _NDARRAY:
            from .backends import backend_of  # here: an import statement costs a NumPy call

            try:
                backend_of(a)  # a device array (CuPy, pyopencl): its checks read the same
            except TypeError:
                return None
            key += (type(a),)
        key += (a.dtype, a.shape, a.strides)
    if options:
        key += tuple(map(_typed, options))
    return key


def validate(function: str, inputs: tuple[Input, ...], arrays: tuple[Any, ...], same_shape: bool = True):
    """The backend that holds `arrays` (one per declared input); raises TypeError/ValueError
    naming `function` and the argument for a non-array, a second device, a dtype outside the
    input's domain, and (same_shape) shapes or float dtypes that differ from the first input's."""
    from .backends import backend_of

    backend = None
    first = arrays[0]
    for spec, a in zip(inputs, arrays):
        b = backend_of(a, function, spec.name)
        if backend is None:
            backend = b
        elif b is not backend:
            raise TypeError(f"{function}: argument {spec.name!r} is on {b.name} but {inputs[0].name!r} is on "
                            f"{backend.name}")
        domain = spec.domain(backend.name)
        if dtype_name(a.dtype) not in domain:
            kind = "a floating dtype" if domain and all(floating(d) for d in domain) else "a dtype"
            raise TypeError(f"{function}: argument {spec.name!r} must have {kind} ({', '.join(domain)} on "
                            f"{backend.name}), got {a.dtype}")
        if same_shape and a is not first:
            if a.shape != first.shape:
                raise ValueError(f"{function}: argument {spec.name!r} has shape {a.shape} but {inputs[0].name!r} "
                                 f"has {first.shape}")
            if a.dtype != first.dtype and floating(a.dtype):
                raise TypeError(f"{function}: argument {spec.name!r} has dtype {a.dtype} but {inputs[0].name!r} "
                                f"has {first.dtype}")
    return backend


@dataclass(frozen=True)
class Sample:
    """One small call of a public function: fn(*args, **kwargs) with host (NumPy) arrays,
    which the generic tests move to each backend (lists of arrays too)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Derivative:
    """What the forward keeps and how the backward runs, the same convention for every
    function: `backward(args, kwargs, out, grad_out)` returns one gradient per position
    in `wrt` (args indices of the differentiable arrays; a list argument gets a list).
    `saves` names what backward reads besides the gradient: "inputs", "output"."""

    wrt: tuple[int, ...]
    backward: Callable[[tuple, dict, Any, Any], tuple]
    saves: tuple[str, ...] = ("inputs",)


@dataclass(eq=False)
class Function:
    """A public function of the library, as the generic tests and the autograd read it."""

    name: str
    fn: Callable[..., Any]
    ops: tuple[str, ...]  # the ops it dispatches
    inputs: tuple[Input, ...]
    samples: Callable[[str, np.random.Generator], Iterable[Sample]]  # (dtype, rng) -> small calls
    dtypes: tuple[str, ...] = FLOATS  # dtypes `samples` is asked for
    axis: bool = False  # takes an `axis` keyword checked by check_axis
    derivative: Derivative | None = None


FUNCTIONS: dict[str, Function] = {}


def register_function(*functions: Function) -> None:
    for f in functions:
        FUNCTIONS[f.name] = f
