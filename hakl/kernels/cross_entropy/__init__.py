"""cross_entropy with PaddlePaddle 2.0.2's semantics, forward and backward.

    >>> import numpy as np, hakl
    >>> x = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], np.float32)
    >>> float(hakl.cross_entropy(x, np.array([0, 1])))          # mean over the 2 rows
    0.3185...
    >>> loss, lse = hakl.cross_entropy(x, np.array([0, 1]), reduction="none", return_lse=True)
    >>> dx = hakl.cross_entropy_grad(x, np.array([0, 1]), np.ones(2, np.float32), reduction="none", lse=lse)

Three ops, each on a canonical (outer, C, inner) input (the class axis in the middle;
inner == 1 is the last-axis case, inner > 1 reads columns coalesced, never transposed):

    cross_entropy        (x, label[, weight])                 -> (loss, lse)
    cross_entropy_grad   (x, label, dloss[, lse][, weight])   -> dx   (out= may be x: in place)
    cross_entropy_train  (x, label[, weight])                 -> (loss, dx), dloss = 1: one read of x

Flags (the tuning key): soft, use_softmax, weight, reduction, and the grad's lse. The
param ignore_index is a run-time scalar. The loss comes reduced ("sum", "mean": 0-d) by
the launcher with a deterministic sum; the mean's divisor follows PaddlePaddle
(reference.divisor). Labels outside [0, C) other than ignore_index raise ValueError
naming `label` and the value, checked inside the kernels on every backend.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ...op import (FLOATS, Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, check_axis,
                   dtype_name, option, register, register_function, validate)
from ...tuning import dispatch
from . import reference
from .reference import DEFAULT_IGNORE

REDUCTIONS = ("none", "sum", "mean")
LABELS = ("int64", "int32")
# (rtol, atol as a fraction of the largest |reference| value). float16 losses are stored
# in float16; float32 gradients of rows near ±50 carry exp's relative error of |x| ulps.
TOLERANCES = {"float16": (3e-3, 1e-3), "float32": (1e-4, 1e-6), "float64": (1e-9, 1e-12)}
GRAD_TOLERANCES = {"float16": (3e-3, 1e-3), "float32": (2e-4, 1e-5), "float64": (1e-9, 1e-12)}


def compute_dtype(dtype: str) -> str:
    return "float64" if dtype == "float64" else "float32"


# ---- sample inputs and conformance cases -----------------------------------------


def _ignore(problem: Problem) -> int:
    return dict(problem.params).get("ignore_index", DEFAULT_IGNORE)


def _label_dtype(problem: Problem) -> str:
    return problem.input_dtypes[1] if len(problem.input_dtypes) > 1 else "int64"


def _logits(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    if problem.flag("use_softmax"):
        return (3 * rng.standard_normal(problem.shape)).astype(problem.dtype)
    return rng.uniform(0.02, 1.0, problem.shape).astype(problem.dtype)  # probabilities


def _labels(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    outer, classes, inner = problem.shape
    if problem.flag("soft"):
        p = rng.random(problem.shape)
        return (p / p.sum(axis=1, keepdims=True)).astype(problem.dtype)
    label = rng.integers(0, classes, (outer, inner))
    label[rng.random(label.shape) < 0.15] = _ignore(problem)  # some ignored elements
    return label.astype(_label_dtype(problem))


def _weight(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (rng.uniform(0.1, 2.0, problem.shape[1]).astype(problem.dtype),) if problem.flag("weight") else ()


def _dloss(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    outer, _, inner = problem.shape
    shape = (outer, inner) if problem.flag("reduction") == "none" else ()
    return np.asarray(rng.standard_normal(shape)).astype(problem.dtype)


def _sample_forward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (_logits(problem, rng), _labels(problem, rng), *_weight(problem, rng))


def _grad_inputs(problem: Problem, x: np.ndarray, label: np.ndarray, rng: np.random.Generator):
    weight = _weight(problem, rng)
    extra = ()
    if problem.flag("lse"):
        fwd = Problem("cross_entropy", problem.backend, problem.dtype, problem.shape,
                      tuple((k, v) for k, v in problem.flags if k != "lse"), problem.params)
        extra = (reference.forward(fwd, x, label, *weight)[1].astype(compute_dtype(problem.dtype)),)
    return (x, label, _dloss(problem, rng), *extra, *weight)


def _sample_backward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return _grad_inputs(problem, _logits(problem, rng), _labels(problem, rng), rng)


SHAPES = [(7, 5, 1), (64, 10, 1), (33, 1000, 1), (4, 33, 17), (3, 4097, 1), (2, 10, 9), (1, 1, 1),
          (2, 30000, 1), (1, 300, 3), (3, 2, 4), (130, 3, 1), (9000, 7, 1)]  # 9000 x 7: parallel, many blocks
QUICK_SHAPES = [(7, 5, 1), (33, 1000, 1), (4, 33, 17)]


def _flag_sets(grad: bool):
    for soft in (False, True):
        for use_softmax in (True, False):
            for weight in (False, True):
                for reduction in REDUCTIONS:
                    flags = (("soft", soft), ("use_softmax", use_softmax), ("weight", weight),
                             ("reduction", reduction))
                    if not grad:
                        yield flags
                        continue
                    for lse in ((False, True) if use_softmax else (False,)):
                        yield flags + (("lse", lse),)


def _special(classes: int, dtype: str, grad: bool, rng: np.random.Generator) -> np.ndarray:
    """Rows: random, all -inf, half -inf, a NaN, a +inf, large magnitudes (±50 for
    gradients, whose float32 error grows with |x|)."""
    big = 50.0 if grad else 1e4
    rows = 3 * rng.standard_normal((6, classes))
    rows[1] = -np.inf
    rows[2, ::2] = -np.inf
    rows[3, classes // 2] = np.nan
    rows[4, classes // 3] = np.inf
    rows[5] = rng.uniform(-big, big, classes)
    return rows.astype(dtype)[:, :, None]


def _cases(op_name: str):
    grad = op_name == "cross_entropy_grad"
    gradient = op_name != "cross_entropy"

    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for k, flags in enumerate(_flag_sets(grad)):
            f = dict(flags)
            ignore = DEFAULT_IGNORE if f["soft"] or k % 2 else 1
            params = (("ignore_index", ignore),)
            dtypes = (dtype, dtype if f["soft"] else LABELS[k % 2]) + ((dtype,) if grad else ())
            dtypes += (compute_dtype(dtype),) if f.get("lse") else ()
            dtypes += (dtype,) if f["weight"] else ()
            shapes = QUICK_SHAPES if quick else [SHAPES[(k + i) % len(SHAPES)] for i in range(3)] + [(5, 8, 3)]
            for shape in shapes:
                problem = Problem(op_name, backend, dtype, shape, flags, params, dtypes)
                yield problem, (_sample_backward if grad else _sample_forward)(problem, rng)
            if f["use_softmax"] and (not quick or k % 4 == 0):
                for classes in (5, 300):
                    x = _special(classes, dtype, gradient, rng)
                    problem = Problem(op_name, backend, dtype, x.shape, flags, params, dtypes)
                    label = _labels(problem, rng)
                    inputs = (_grad_inputs(problem, x, label, rng) if grad else
                              (x, label, *_weight(problem, rng)))
                    yield problem, inputs
    return cases


F16_FLOOR = 2.0 ** -23  # two float16 subnormal steps: gradients that small carry no relative precision


def _compare(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """The op's tolerances per output, with an absolute floor for float16 (a mean's gradient
    over many rows and classes falls into float16's subnormal range)."""
    from ...op import _close, each_output

    count = len(expected) if isinstance(expected, tuple) else 1
    tolerances = GRAD_TOLERANCES if problem.op != "cross_entropy" else TOLERANCES
    rtol, atol = tolerances[problem.dtype]
    floor = 0.0
    if problem.op != "cross_entropy":
        # a gradient element is coef * (softmax - onehot): a few ulps of the row coefficient
        # is the error any kernel makes (a row whose softmax is nearly one-hot gives values
        # far below it), however small the other rows make the array's scale
        coef = float(np.abs(np.asarray(inputs[2], np.float64)).max()) if problem.op == "cross_entropy_grad" else 1.0
        if problem.flag("weight"):
            coef *= float(np.abs(np.asarray(inputs[-1], np.float64)).max())
        if problem.flag("reduction") == "mean":
            w, _ = reference.element_weights(problem, inputs[1] if not problem.flag("soft") else
                                             inputs[1].astype(np.float64), None, _ignore(problem))
            coef /= reference.divisor(float(w.sum()), w.size, False, _ignore(problem))
        floor = 8 * float(np.finfo(compute_dtype(problem.dtype)).eps) * coef
    # a loss is (m - x_label) + log(s): log(s) of s near 1 is off by an ulp of 1 (times the weight)
    loss_floor = 0.0
    if problem.op != "cross_entropy_grad":
        wmax = float(np.abs(np.asarray(inputs[-1], np.float64)).max()) if problem.flag("weight") else 1.0
        loss_floor = 8 * float(np.finfo(compute_dtype(problem.dtype)).eps) * wmax
    def one(i: int, o: np.ndarray, e: np.ndarray) -> str | None:
        finite = np.isfinite(e)
        scale = float(np.abs(e[finite]).max()) if finite.any() else 0.0
        a = atol
        if scale > 0:
            a = max(atol, (F16_FLOOR if problem.dtype == "float16" else 0.0) / scale,
                    (floor if i == count - 1 and problem.op != "cross_entropy" else 0.0) / scale,
                    (loss_floor if i == 0 and problem.op != "cross_entropy_grad" else 0.0) / scale)
        return _close(o, e, rtol, a)

    return each_output(out, expected, one)


def _nbytes(grad: bool, writes_dx: bool):
    def nbytes(p: Problem) -> int:
        outer, classes, inner = p.shape
        rows, item = outer * inner, p.np_dtype.itemsize
        label = p.size * item if p.flag("soft") else rows * np.dtype(_label_dtype(p)).itemsize
        x = p.size * item * (2 if writes_dx else 1)
        per_row = (4 if p.flag("reduction") == "none" else 0) + (0 if grad and not p.flag("lse") else 4)
        return x + label + rows * per_row
    return nbytes


def _tune_example(op_name: str):
    """`hakl tune cross_entropy --shape NxC`: random labels on the input's device."""
    def example(x, axis, o):
        from ... import backends

        backend = backends.backend_of(x)
        shape = list(x.shape)
        classes = shape.pop(axis)
        label = backend.asarray(np.random.default_rng(0).integers(0, max(classes, 1), shape))
        kwargs = {"reduction": option(o, "reduction", "mean"), "axis": axis}
        if op_name == "cross_entropy":
            return cross_entropy(x, label, **kwargs)
        if op_name == "cross_entropy_train":
            return cross_entropy_with_grad(x, label, **kwargs)
        dloss = backend.asarray(np.ones(shape if kwargs["reduction"] == "none" else (), x.dtype))
        return cross_entropy_grad(x, label, dloss, **kwargs)
    return example


_INPUTS = (Input("input"), Input("label", LABELS + FLOATS), Input("weight"))

CROSS_ENTROPY = register(Op(
    name="cross_entropy", reference=reference.forward, sample=_sample_forward,
    nbytes=_nbytes(False, False), tolerances=TOLERANCES, cases=_cases("cross_entropy"),
    inputs=_INPUTS, example=_tune_example("cross_entropy"), compare=_compare,
))
CROSS_ENTROPY_GRAD = register(Op(
    name="cross_entropy_grad", reference=reference.backward, sample=_sample_backward,
    nbytes=_nbytes(True, True), tolerances=GRAD_TOLERANCES, cases=_cases("cross_entropy_grad"),
    inputs=(Input("input"), Input("label", LABELS + FLOATS), Input("dloss", role="grad"), Input("lse"),
            Input("weight")),
    example=_tune_example("cross_entropy_grad"), compare=_compare,
))
CROSS_ENTROPY_TRAIN = register(Op(
    name="cross_entropy_train", reference=reference.train, sample=_sample_forward,
    nbytes=_nbytes(False, True), tolerances=GRAD_TOLERANCES, cases=_cases("cross_entropy_train"),
    inputs=_INPUTS, example=_tune_example("cross_entropy_train"), compare=_compare,
))
attach_variants(__name__, {CROSS_ENTROPY: "forward_variants", CROSS_ENTROPY_GRAD: "backward_variants",
                           CROSS_ENTROPY_TRAIN: "train_variants"})


# ---- argument checks and the canonical problem ------------------------------------


class _Call:
    """One public call, validated: the backend, the canonical inputs, the flags."""

    def __init__(self, name: str, input: Any, label: Any, weight: Any, ignore_index: Any, reduction: Any,
                 soft_label: Any, axis: Any, use_softmax: Any, extra: tuple[tuple[Input, Any], ...] = (),
                 input_name: str = "input"):
        soft = bool(soft_label)
        specs = [Input(input_name), Input("label", FLOATS if soft else LABELS)]
        arrays = [input, label]
        if weight is not None:
            specs.append(Input("weight"))
            arrays.append(weight)
        for spec, array in extra:
            if array is not None:
                specs.append(spec)
                arrays.append(array)
        self.backend = validate(name, tuple(specs), tuple(arrays), same_shape=False)
        if reduction not in REDUCTIONS:
            raise ValueError(f"{name}: argument 'reduction' must be 'none', 'sum' or 'mean', got {reduction!r}")
        if input.ndim == 0:
            raise ValueError(f"{name}: argument 'input' must have a class axis, got a 0-d array")
        axis = check_axis(name, axis, input.ndim, f"a {input.ndim}-d input")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(f"{name}: argument 'ignore_index' must be an int, got {type(ignore_index).__name__}")
        if soft and ignore_index != DEFAULT_IGNORE:
            raise ValueError(f"{name}: argument 'ignore_index' = {ignore_index} cannot be used with soft_label=True")
        shape = tuple(input.shape)
        classes = shape[axis]
        self.outer, self.classes, self.inner = math.prod(shape[:axis]), classes, math.prod(shape[axis + 1:])
        self.axis, self.name, self.soft, self.reduction = axis, name, soft, reduction
        self.ignore_index = int(ignore_index)
        keep = shape[:axis] + (1,) + shape[axis + 1:]
        dropped = shape[:axis] + shape[axis + 1:]
        if soft:
            if tuple(label.shape) != shape:
                raise ValueError(f"{name}: argument 'label' (soft) has shape {tuple(label.shape)} but 'input' has "
                                 f"{shape}")
            if label.dtype != input.dtype:
                raise TypeError(f"{name}: argument 'label' (soft) has dtype {label.dtype} but 'input' has "
                                f"{input.dtype}")
            self.loss_shape = keep
        else:
            if tuple(label.shape) not in (keep, dropped):
                raise ValueError(f"{name}: argument 'label' has shape {tuple(label.shape)}; expected {dropped} "
                                 f"or {keep} for an input of shape {shape} with axis={axis}")
            self.loss_shape = tuple(label.shape)
        if weight is not None:
            if tuple(weight.shape) != (classes,):
                raise ValueError(f"{name}: argument 'weight' has shape {tuple(weight.shape)}; expected ({classes},)")
            if weight.dtype != input.dtype:
                raise TypeError(f"{name}: argument 'weight' has dtype {weight.dtype} but 'input' has {input.dtype}")
        self.lse_shape = dropped
        self.dtype = dtype_name(input.dtype)
        self.shape3 = (self.outer, classes, self.inner)
        self.x, self.label, self.weight = self.canonical(input, label, weight)
        self.flags = (("soft", soft), ("use_softmax", bool(use_softmax)), ("weight", weight is not None),
                      ("reduction", reduction))
        self.params = (("ignore_index", self.ignore_index),)

    def canonical(self, input: Any, label: Any, weight: Any) -> tuple:
        """(input, label, weight) as the kernels take them: contiguous, input (outer, C, inner),
        labels (outer, inner) or soft (outer, C, inner). A plan applies it to each call's arrays."""
        contiguous = self.backend.ascontiguous
        label = contiguous(label).reshape(self.shape3 if self.soft else (self.outer, self.inner))
        return (contiguous(input).reshape(self.shape3), label, None if weight is None else contiguous(weight))

    def forget_arrays(self) -> None:
        """Drop the first call's arrays: a plan keeps this call, and must not keep its logits."""
        self.x = self.label = self.weight = None

    @property
    def empty(self) -> bool:
        return self.outer * self.classes * self.inner == 0

    def problem(self, op: Op, flags: tuple = (), dtypes: tuple = ()) -> Problem:
        label_dtype = dtype_name(self.label.dtype)
        weight = (self.dtype,) if self.weight is not None else ()
        return Problem(op.name, self.backend.name, self.dtype, self.shape3, self.flags + flags, self.params,
                       (self.dtype, label_dtype, *dtypes, *weight))

    def weights(self) -> tuple:
        return () if self.weight is None else (self.weight,)

    def empty_result(self):
        """The loss of an input with no elements (a class axis of 0 is only valid when every
        label is ignored): zeros in the loss's shape, 0 for a sum and for a mean over nothing."""
        if not self.soft and self.label.size and self.classes == 0:
            host = self.backend.to_numpy(self.label)
            reference.check_labels(host, 0, self.ignore_index)
        shape = self.loss_shape if self.reduction == "none" else ()
        zeros = np.zeros(shape, self.dtype)
        return self.backend.asarray(zeros), self.backend.asarray(np.zeros(self.lse_shape, compute_dtype(self.dtype)))

    def loss_out(self, loss):
        return loss.reshape(self.loss_shape) if self.reduction == "none" else loss


def _cross_entropy(name, input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax):
    """(loss, lse) through the call's plan: its checks and selection run once per layout and
    options (hakl.op.call_key); each call's labels are still checked by the kernel."""
    options = (ignore_index, reduction, soft_label, axis, use_softmax)
    key = call_key(name, (input, label) if weight is None else (input, label, weight), weight is None, *options)
    return dispatch.planned(key, lambda: _prepare_forward(name, input, label, weight, *options))(input, label, weight)


def _prepare_forward(name, input, label, weight, *options):
    call = _Call(name, input, label, weight, *options)
    if call.empty:  # an empty call checks its labels' values: nothing to keep
        return lambda input, label, weight: _Call(name, input, label, weight, *options).empty_result()
    problem = call.problem(CROSS_ENTROPY)
    launcher, params = dispatch.select(CROSS_ENTROPY, problem).launcher, dict(problem.params)
    call.forget_arrays()

    def run(input, label, weight):
        x, label, weight = call.canonical(input, label, weight)
        loss, lse = launcher(x, label, *(() if weight is None else (weight,)), **params)
        return call.loss_out(loss), lse.reshape(call.lse_shape)

    return run


def cross_entropy(input: Any, label: Any, weight: Any = None, ignore_index: int = DEFAULT_IGNORE,
                  reduction: str = "mean", soft_label: bool = False, axis: int = -1, use_softmax: bool = True,
                  *, return_lse: bool = False) -> Any:
    """PaddlePaddle 2.0.2's cross_entropy on the device that holds `input`.

    use_softmax=True: loss = logsumexp(input) - input[label] (hard labels, int32/int64,
    shaped like `input` without the class `axis` or with it of size 1) or
    -sum(label * log_softmax(input)) (soft labels, shaped like `input`). use_softmax=False:
    `input` holds probabilities, loss = -log(input[label]) (log(0) clamped: 1e20).
    `weight` [C]: each element's loss times weight[label] (soft: sum_c label_c * weight_c).
    Elements whose label is `ignore_index` have loss 0 and never index `weight`.
    reduction: "none" (the label's shape; soft: input's with the class axis 1), "sum", or
    "mean" (PaddlePaddle's divisor, see reference.divisor), a 0-d array.
    return_lse=True also returns each element's log-sum-exp (float32, float64 for float64
    input): what cross_entropy_grad(..., lse=) reads instead of recomputing the softmax."""
    loss, lse = _cross_entropy("cross_entropy", input, label, weight, ignore_index, reduction, soft_label, axis,
                               use_softmax)
    return (loss, lse) if return_lse else loss


def _check_out(name: str, call: _Call, out: Any, input: Any) -> Any:
    if out is None:
        return None
    from ...backends import backend_of

    if backend_of(out, name, "out") is not call.backend:
        raise TypeError(f"{name}: argument 'out' is on another device than 'input'")
    if tuple(out.shape) != tuple(input.shape) or out.dtype != input.dtype:
        raise ValueError(f"{name}: argument 'out' must have the input's shape {tuple(input.shape)} and dtype "
                         f"{input.dtype}, got {tuple(out.shape)} {out.dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name}: argument 'out' must be C-contiguous")
    return out.reshape(call.shape3)


def cross_entropy_grad(input: Any, label: Any, dloss: Any, weight: Any = None, ignore_index: int = DEFAULT_IGNORE,
                       reduction: str = "mean", soft_label: bool = False, axis: int = -1, use_softmax: bool = True,
                       *, lse: Any = None, out: Any = None) -> Any:
    """Gradient of cross_entropy(input, label, weight, ...) w.r.t. `input`, given `dloss`, the
    gradient of its output (0-d for "sum"/"mean", the loss's shape for "none"), in input's
    dtype. `lse`: the forward's log-sum-exp (cross_entropy(..., return_lse=True)); without it
    the kernel recomputes it (one more read of `input`). `out`: a C-contiguous array of
    input's shape and dtype to write into — `input` itself for an in-place gradient, as
    Liger-Kernel does (its contents are unspecified if the call raises)."""
    name = "cross_entropy_grad"
    options = (weight, ignore_index, reduction, soft_label, axis, use_softmax)
    arrays = (input, label, dloss, *(a for a in (weight, lse, out) if a is not None))
    key = call_key(name, arrays, weight is None, lse is None, out is None, out is input, *options[1:])
    plan = dispatch.planned(key, lambda: _prepare_grad(name, input, label, dloss, lse, out, *options))
    return plan(input, label, dloss, weight, lse, out)


def _prepare_grad(name, input, label, dloss, lse, out, weight, ignore_index, reduction, soft_label, axis,
                  use_softmax):
    """cross_entropy_grad's checks and selection, as a function of its arrays."""
    call = _Call(name, input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
                 extra=((Input("dloss", role="grad"), dloss), (Input("lse", ("float32", "float64")), lse)))
    if dloss.dtype != input.dtype:
        raise TypeError(f"{name}: argument 'dloss' has dtype {dloss.dtype} but 'input' has {input.dtype}")
    want = call.loss_shape if reduction == "none" else ()
    if tuple(dloss.shape) != want and not (reduction != "none" and dloss.size == 1):
        raise ValueError(f"{name}: argument 'dloss' has shape {tuple(dloss.shape)}; expected {want}")
    has_lse = lse is not None and bool(use_softmax)
    if lse is not None:
        if tuple(lse.shape) != call.lse_shape or dtype_name(lse.dtype) != compute_dtype(call.dtype):
            raise ValueError(f"{name}: argument 'lse' must have shape {call.lse_shape} and dtype "
                             f"{compute_dtype(call.dtype)}, got {tuple(lse.shape)} {lse.dtype}")
    _check_out(name, call, out, input)
    backend = call.backend
    if call.empty:
        return lambda input, label, dloss, weight, lse, out: (out if out is not None else
                                                              backend.empty(input.shape, input.dtype))
    rows = (call.outer, call.inner)
    problem = call.problem(CROSS_ENTROPY_GRAD, (("lse", has_lse),),
                           (call.dtype, *((compute_dtype(call.dtype),) if has_lse else ())))
    selection = dispatch.select(CROSS_ENTROPY_GRAD, problem)
    call.forget_arrays()

    def run(input, label, dloss, weight, lse, out):
        x, label, weight = call.canonical(input, label, weight)
        d = backend.ascontiguous(dloss).reshape(rows if reduction == "none" else ())
        extra = (backend.ascontiguous(lse).reshape(rows),) if has_lse else ()
        inputs = (x, label, d, *extra, *(() if weight is None else (weight,)))
        if out is not None:
            selection.run(problem, *inputs, out=out.reshape(call.shape3))
            return out
        return selection.run(problem, *inputs).reshape(input.shape)

    return run


def cross_entropy_with_grad(input: Any, label: Any, weight: Any = None, ignore_index: int = DEFAULT_IGNORE,
                            reduction: str = "mean", soft_label: bool = False, axis: int = -1,
                            use_softmax: bool = True, *, inplace: bool = False) -> tuple[Any, Any]:
    """(loss, grad) for training in one pass over `input`: cross_entropy's loss and its
    gradient w.r.t. `input` for dloss = 1 (scale it by the upstream gradient, a scalar for
    "sum"/"mean"; for "none" it is the gradient of the losses' sum). inplace=True writes the
    gradient into `input`'s buffer (which must be C-contiguous), as Liger-Kernel does."""
    name = "cross_entropy_with_grad"
    call = _Call(name, input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax)
    target = _check_out(name, call, input, input) if inplace else None
    if call.empty:
        loss, _ = call.empty_result()
        return loss, input if inplace else call.backend.empty(input.shape, input.dtype)
    problem = call.problem(CROSS_ENTROPY_TRAIN)
    selection = dispatch.select(CROSS_ENTROPY_TRAIN, problem)
    inputs = (call.x, call.label, *call.weights())
    if target is not None and selection.variant.accepts_out:
        loss, _ = selection.launcher(*inputs, out=target, **dict(problem.params))
        return call.loss_out(loss), input
    loss, dx = problem.launch(selection.launcher, *inputs)
    if target is not None:
        call.backend.copy_into(target, dx)
        return call.loss_out(loss), input
    return call.loss_out(loss), dx.reshape(input.shape)


_warned = False


def softmax_with_cross_entropy(logits: Any, label: Any, soft_label: bool = False, ignore_index: int = DEFAULT_IGNORE,
                               numeric_stable_mode: bool = True, return_softmax: bool = False, axis: int = -1):
    """Deprecated (PaddlePaddle 2.0.2): use cross_entropy(..., reduction="none"). The loss keeps
    the class axis with size 1; with return_softmax, (loss, softmax(logits, axis)). Always
    numerically stable; warns once per process."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn("softmax_with_cross_entropy is deprecated: use hakl.cross_entropy(input, label, "
                      "reduction='none', ...)", DeprecationWarning, stacklevel=2)
    name = "softmax_with_cross_entropy"
    call = _Call(name, logits, label, None, ignore_index, "none", soft_label, axis, True, input_name="logits")
    if call.empty:
        loss, _ = call.empty_result()
    else:
        problem = call.problem(CROSS_ENTROPY)
        loss, _ = problem.launch(dispatch.select(CROSS_ENTROPY, problem).launcher, call.x, call.label)
    shape = tuple(logits.shape)
    loss = loss.reshape(shape[:call.axis] + (1,) + shape[call.axis + 1:])
    if not return_softmax:
        return loss
    from ..softmax import softmax

    return loss, softmax(logits, call.axis)


# ---- the public functions' declarations ----------------------------------------


def _samples(kind: str):
    """Small calls over the semantics: hard/soft labels, weight, ignore_index, each reduction,
    use_softmax=False, a non-last class axis, labels with the class axis kept."""
    def samples(dtype: str, rng: np.random.Generator):
        def logits(shape):
            return rng.standard_normal(shape).astype(dtype)

        def labels(shape, classes, ignore=None):
            label = rng.integers(0, classes, shape)
            if ignore is not None:
                label.flat[::3] = ignore
            return label

        calls = [
            ((logits((4, 5)), labels((4,), 5)), {}),
            ((logits((3, 5, 4)), labels((3, 4), 5), rng.uniform(0.5, 2, 5).astype(dtype)),
             {"axis": 1, "reduction": "sum"}),
            ((logits((6, 4)), labels((6, 1), 4, ignore=2)), {"ignore_index": 2, "reduction": "mean"}),
            ((logits((5, 3)), labels((5,), 3, ignore=-100), rng.uniform(0.5, 2, 3).astype(dtype)), {}),
            ((logits((2, 3, 4)), rng.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1).astype(dtype)),
             {"soft_label": True, "axis": 1, "reduction": "none"}),
            ((logits((4, 6)), rng.dirichlet(np.ones(6), 4).astype(dtype), rng.uniform(0.5, 2, 6).astype(dtype)),
             {"soft_label": True}),
            ((rng.uniform(0.2, 1, (5, 4)).astype(dtype), labels((5,), 4)),
             {"use_softmax": False, "reduction": "none"}),
        ]
        for args, kwargs in calls:
            if kind == "alias":
                if len(args) == 3 or kwargs.get("use_softmax") is False or kwargs.get("reduction", "none") != "none":
                    continue
                kwargs = {k: v for k, v in kwargs.items() if k != "reduction"}
                yield Sample(args, kwargs)
            elif kind == "grad":
                x, label = args[:2]
                loss = cross_entropy(*args, **kwargs)
                dloss = rng.standard_normal(np.shape(loss)).astype(dtype)
                rest = {k: v for k, v in kwargs.items()}
                if len(args) == 3:
                    yield Sample((x, label, np.asarray(dloss), args[2]), rest)
                else:
                    yield Sample((x, label, np.asarray(dloss)), rest)
            else:
                yield Sample(args, kwargs)
    return samples


def _derivative(args, kwargs, out, dout):
    """d loss / d input: the backward kernel, given the upstream gradient. With return_lse the
    forward's lse is read (it is a saved quantity: its own gradient is not propagated)."""
    x, label = args[0], args[1]
    weight = args[2] if len(args) > 2 else kwargs.get("weight")
    kw = {k: v for k, v in kwargs.items() if k not in ("weight", "return_lse")}
    lse = None
    if kwargs.get("return_lse"):
        (_, lse), dout = out, dout[0]
    return (cross_entropy_grad(x, label, dout, weight, lse=lse, **kw),)


_FORWARD = (Input("input"), Input("label", LABELS + FLOATS))
register_function(
    Function("cross_entropy", cross_entropy, ("cross_entropy",), _FORWARD, _samples("forward"), axis=True,
             derivative=Derivative((0,), _derivative, saves=("inputs", "output"))),
    Function("cross_entropy_grad", cross_entropy_grad, ("cross_entropy_grad",),
             (Input("input"), Input("label", LABELS + FLOATS), Input("dloss", role="grad")), _samples("grad"),
             axis=True),
    Function("cross_entropy_with_grad", cross_entropy_with_grad, ("cross_entropy_train",), _FORWARD,
             _samples("forward"), axis=True),
    Function("softmax_with_cross_entropy", softmax_with_cross_entropy, ("cross_entropy", "softmax"),
             (Input("logits"), Input("label", LABELS + FLOATS)), _samples("alias"), axis=True),
)
