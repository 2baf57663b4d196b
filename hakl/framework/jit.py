"""paddle.jit.save / paddle.jit.load, and Model.save(training=False): an inference program.

PaddlePaddle 2.0 turns a Layer's forward into a static program and saves it beside the
parameters (path.pdmodel, path.pdiparams). hakl has no static graph; it records the forward
instead. Every framework op is one `tensor.apply(function, ...)`, so one run of the forward
under a hook gives the ops in order, what each reads (an input, a parameter or buffer, an
earlier op's output, a constant tensor) and what else it was passed. `load` replays them
through `apply` on the loaded parameters (in hakl's own format: a pickled program, not
Paddle's protobuf), so a loaded layer runs, and differentiates, on any device.

A trace is what the forward did for its example inputs: Python control flow is frozen, and
so are shapes, except an InputSpec's None dimensions. The forward runs three times, with
those at 2, 3 and 5 and other random values each time: an integer argument that reads 2k,
3k and 5k (a reshape to (batch * T, H)) becomes k times the size the replay is called
with; any other difference between the runs (a size like batch // 2, a constant computed
from the input's values) is an error at save time, naming the op.
"""
from __future__ import annotations

import math
import os
import threading
from typing import Any

import numpy as np

from .. import backends
from . import device as _device
from . import io as _io
from . import ops as _ops
from . import tensor as _tensor
from .nn.layer import Layer, create_parameter
from .static import InputSpec
from .tensor import Tensor, function, to_tensor

FORMAT = "hakl.jit/1"
_VIEWS = {f.name: f for f in (_ops._RESHAPE, _ops._TRANSPOSE, _ops._GETITEM)}  # the framework's own rules
_TRACE_SIZES = (2, 3, 5)  # what an InputSpec's None dimensions are in the traced runs


def save(layer: Layer, path: str, input_spec: Any = None, **configs: Any) -> None:
    """layer's forward, traced at `input_spec` (InputSpecs, or example Tensors), as
    path.pdmodel, and its parameters and buffers as path.pdiparams."""
    if not isinstance(layer, Layer):
        raise TypeError(f"jit.save: argument 'layer' must be a paddle.nn.Layer, got {type(layer).__name__}")
    if os.path.basename(path) == "":
        raise ValueError(f"jit.save: path {path!r} names a directory; give a file prefix ('dir/model')")
    specs = _specs(input_spec)
    names = {id(t): k for k, t in layer.state_dict().items()}
    was_training = [sub.training for sub in layer.sublayers(include_self=True)]
    layer.eval()
    try:
        traces = [_trace(layer, specs, size, names, run) for run, size in enumerate(_TRACE_SIZES)]
    finally:
        for sub, mode in zip(layer.sublayers(include_self=True), was_training):
            sub.training = mode
    program = _merge(traces)
    reads = program.pop("reads")
    state = {k: t for k, t in layer.state_dict().items() if id(t) in reads}
    trainable = {id(p) for p in layer.parameters()}
    program.update(format=FORMAT, inputs=[(s.shape, s.dtype.name, s.name) for s in specs],
                   parameters={k: (id(t) in trainable, t.stop_gradient) for k, t in state.items()})
    _io.save(program, path + ".pdmodel")  # io.save makes the directory
    _io.save(state, path + ".pdiparams")


def load(path: str, **configs: Any) -> "TranslatedLayer":
    """The layer jit.save wrote at `path` (its prefix), in eval mode, on the current device."""
    for suffix in (".pdmodel", ".pdiparams"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    program = _io.load(path + ".pdmodel", return_numpy=True)  # constants stay NumPy until a call
    if not isinstance(program, dict) or program.get("format") != FORMAT:
        raise ValueError(f"jit.load: {path}.pdmodel is not a program jit.save wrote (format {FORMAT})")
    return TranslatedLayer(program, _io.load(path + ".pdiparams", return_numpy=True))


class TranslatedLayer(Layer):
    """A loaded program: call it like the layer it was saved from. What it read keeps its
    saved structured name: parameters as Parameters (state_dict, an optimizer, fine-tuning),
    buffers as buffers."""

    def __init__(self, program: dict, arrays: dict):
        super().__init__("translated_layer")
        self._program = program
        for name, (is_parameter, stop_gradient) in program["parameters"].items():
            value = arrays[name]
            if is_parameter:
                p = create_parameter(list(value.shape), value.dtype, name)
                p.set_value(value)
                p.stop_gradient = stop_gradient
                self._parameters[name] = p
            else:
                self._buffers[name] = to_tensor(value)
        self._reads = {**self._parameters, **self._buffers}
        self.eval()

    def input_spec(self) -> list[InputSpec]:
        return [InputSpec(shape, dtype, name) for shape, dtype, name in self._program["inputs"]]

    def forward(self, *inputs: Any) -> Any:
        specs = self.input_spec()
        if len(inputs) != len(specs):
            raise TypeError(f"TranslatedLayer: expected {len(specs)} inputs, got {len(inputs)}")
        size = None
        for i, (x, spec) in enumerate(zip(inputs, specs)):
            if not isinstance(x, Tensor):
                raise TypeError(f"TranslatedLayer: input {i} must be a Tensor, got {type(x).__name__}")
            if len(x.shape) != len(spec.shape) or any(d is not None and d != e for d, e in zip(spec.shape, x.shape)):
                raise ValueError(f"TranslatedLayer: input {i} has shape {x.shape}; the program was saved for "
                                 f"{[-1 if d is None else d for d in spec.shape]}")
            for d, e in zip(spec.shape, x.shape):
                if d is None:
                    if size is not None and e != size:
                        raise ValueError(f"TranslatedLayer: the inputs' free dimensions differ ({size} and {e}); "
                                         "a traced program has one free size")
                    size = e
        values = dict(enumerate(inputs))
        for kind, name, args, kwargs, outs in self._program["ops"]:
            fn = _VIEWS[name] if kind == "view" else function(name)
            result = _tensor.apply(fn, *_decode(args, values, self._reads, size),
                                   **_decode(kwargs, values, self._reads, size))
            for ref, t in zip(outs, result if isinstance(result, (tuple, list)) else (result,)):
                if ref is not None:
                    values[ref] = t
        return _decode(self._program["outputs"], values, self._reads, size)


# ---- tracing -------------------------------------------------------------------------


def _specs(input_spec: Any) -> list[InputSpec]:
    if input_spec is None:
        raise ValueError("jit.save: argument 'input_spec' is required: hakl traces the forward, and needs the "
                         "inputs' shapes and dtypes (paddle.static.InputSpec, or example Tensors)")
    specs = []
    for s in input_spec if isinstance(input_spec, (list, tuple)) else [input_spec]:
        if isinstance(s, Tensor):
            s = InputSpec(s.shape, s.dtype)
        if not isinstance(s, InputSpec):
            raise TypeError(f"jit.save: argument 'input_spec' holds a {type(s).__name__}; expected InputSpecs "
                            "or Tensors")
        specs.append(s)
    return specs


def _example(spec: InputSpec, size: int, run: int) -> Tensor:
    """Other values in each run, so that what the forward computed from them outside the
    ops (a constant) differs between runs. Integers: 0 and 1, valid indices of any Embedding
    of two rows or more."""
    shape = tuple(size if d is None else d for d in spec.shape)
    rng = np.random.default_rng(run)
    if spec.dtype.kind in "iub":
        return to_tensor(rng.integers(0, 2, shape).astype(spec.dtype))
    return to_tensor(rng.standard_normal(shape).astype(spec.dtype))


class _Recorder:
    """tensor.apply's hook while a forward is traced: it records the ops of the tracing
    thread, once each (not the ops a Function's own code applies), and lets other threads'
    ops run as ever."""

    def __init__(self, refs: dict, names: dict, keep: list):
        self.refs, self.names, self.keep = refs, names, keep
        self.ops, self.reads = [], set()
        self.thread, self.busy = threading.get_ident(), False

    def takes(self) -> bool:
        return not self.busy and threading.get_ident() == self.thread

    def run(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        if fn is _VIEWS.get(fn.name):
            kind = "view"
        elif _known(fn):
            kind = "function"
        else:
            raise TypeError(f"jit.save: the forward applies {fn.name!r}, which is not one of hakl's declared "
                            "functions: a trace could not replay it")
        encoded = (self.encode(args), self.encode(kwargs))
        self.busy = True
        try:
            result = _tensor.apply(fn, *args, **kwargs)
        finally:
            self.busy = False
        outs = []
        for t in result if isinstance(result, (tuple, list)) else (result,):
            if t is None:
                outs.append(None)
            else:
                self.refs[id(t)] = len(self.keep)
                outs.append(len(self.keep))
                self.keep.append(t)
        self.ops.append((kind, fn.name, *encoded, outs))
        return result

    def encode(self, value: Any) -> Any:
        return _encode(value, self.refs, self.names, self.reads)


def _trace(layer: Layer, specs: list[InputSpec], size: int, names: dict, run: int) -> dict:
    """The forward's ops at free size `size`, encoded (see _encode)."""
    inputs = [_example(s, size, run) for s in specs]
    keep = list(inputs)  # every traced tensor stays alive, so no id() is reused
    recorder = _Recorder({id(x): i for i, x in enumerate(inputs)}, names, keep)
    hook, _tensor._trace_hook = _tensor._trace_hook, recorder
    try:
        with _tensor.no_grad():
            out = layer(*inputs)
    finally:
        _tensor._trace_hook = hook
    return {"ops": recorder.ops, "outputs": recorder.encode(out), "reads": recorder.reads}


def _known(fn: Any) -> bool:
    try:
        return function(fn.name) is fn
    except NotImplementedError:
        return False


def _encode(value: Any, refs: dict, names: dict, reads: set) -> Any:
    """A picklable stand-in for an op argument: ("ref", n) for an input or an earlier op's
    output, ("param", name) for a parameter or buffer, ("const", array) for any other
    tensor, ("int", v) for an integer (which _merge may make a multiple of the free size)."""
    if isinstance(value, Tensor):
        if id(value) in refs:
            return ("ref", refs[id(value)])
        if id(value) in names:
            reads.add(id(value))
            return ("param", names[id(value)])
        return ("const", value.numpy(), value.stop_gradient)
    if isinstance(value, (bool, np.bool_)) or value is None:
        return ("value", value)
    if isinstance(value, (int, np.integer)):
        return ("int", int(value))
    if isinstance(value, (list, tuple)):  # a namedtuple or a list's subclass replays as the plain one
        return ("tuple" if isinstance(value, tuple) else "list", [_encode(v, refs, names, reads) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: _encode(v, refs, names, reads) for k, v in value.items()})
    if isinstance(value, slice):
        return ("slice", [_encode(v, refs, names, reads) for v in (value.start, value.stop, value.step)])
    if isinstance(value, np.ndarray):
        return ("array", value.copy(), False)
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # a device's array (a weight passed raw)
        return ("array", _tensor.hakl_to_numpy(value), True)
    if isinstance(value, (float, str, np.floating, np.dtype, type(Ellipsis))):
        return ("value", value)
    raise TypeError(f"jit.save: an op's argument is a {type(value).__name__}, which a program cannot hold")


def _merge(traces: list[dict]) -> dict:
    """One program from the traces at the free sizes _TRACE_SIZES (see the module docstring)."""
    first = traces[0]
    if any([op[:2] for op in t["ops"]] != [op[:2] for op in first["ops"]] for t in traces[1:]):
        raise ValueError("jit.save: the forward applied different ops for inputs of free sizes "
                         f"{', '.join(map(str, _TRACE_SIZES))}; a traced program cannot hold control flow on shapes")
    ops = []
    for i, op in enumerate(first["ops"]):
        runs = [t["ops"][i] for t in traces]
        where = f"op {i} ({op[1]})"
        if any(r[4] != op[4] for r in runs):
            raise ValueError(f"jit.save: {where} gave different outputs in the traced runs")
        ops.append((op[0], op[1], _same([r[2] for r in runs], where), _same([r[3] for r in runs], where), op[4]))
    return {"ops": ops, "outputs": _same([t["outputs"] for t in traces], "the outputs"),
            "reads": set().union(*(t["reads"] for t in traces))}


def _same(runs: list, where: str) -> Any:
    """One encoded argument from its encodings in the traced runs: equal ones, or integers
    that are one multiple k of each run's free size, ("size", k)."""
    first = runs[0]
    kind, body = first[0], first[1]
    if any(r[0] != kind for r in runs):
        raise ValueError(f"jit.save: {where} was passed a {kind} in one traced run and a "
                         f"{next(r[0] for r in runs if r[0] != kind)} in another")
    if kind == "int":
        values = [r[1] for r in runs]
        if len(set(values)) == 1:
            return first
        k = values[0] // _TRACE_SIZES[0]
        if k and all(v == k * size for v, size in zip(values, _TRACE_SIZES)):
            return ("size", k)
    elif kind in ("list", "tuple", "slice", "dict"):
        keys = [list(r[1]) if kind == "dict" else len(r[1]) for r in runs]
        if all(k == keys[0] for k in keys):
            items = body.keys() if kind == "dict" else range(len(body))
            merged = {k: _same([r[1][k] for r in runs], where) for k in items}
            return (kind, merged if kind == "dict" else list(merged.values()))
    elif kind in ("const", "array"):
        if all(r[1].shape == body.shape and r[1].dtype == body.dtype and np.array_equal(r[1], body, equal_nan=True)
               for r in runs):
            return first
    elif all(_equal(r[1], body) for r in runs):
        return first
    sizes = ", ".join(map(str, _TRACE_SIZES))
    raise ValueError(f"jit.save: {where} was passed {', '.join(_show(r) for r in runs)} for inputs of free sizes "
                     f"{sizes}: a traced program cannot follow it (a constant computed from the input, or a size "
                     "that is not a multiple of the free one)")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _show(encoded: Any) -> str:
    kind, value = encoded[0], encoded[1]
    if kind in ("const", "array"):
        return f"a constant of shape {list(value.shape)}"
    return repr(value) if kind in ("int", "value") else kind


def _decode(value: Any, values: dict, params: dict, size: int | None) -> Any:
    kind, body = value[0], value[1]
    if kind == "ref":
        return values[body]
    if kind == "param":
        return params[body]
    if kind == "const":
        return to_tensor(body, stop_gradient=value[2])
    if kind == "size":
        if size is None:
            raise ValueError("TranslatedLayer: the program reads the inputs' free size, and no input has a free "
                             "dimension")
        return body * size
    if kind in ("list", "tuple"):
        items = [_decode(v, values, params, size) for v in body]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _decode(v, values, params, size) for k, v in body.items()}
    if kind == "slice":
        return slice(*(_decode(v, values, params, size) for v in body))
    if kind == "array":
        if value[2]:  # it was a device's array: on the current device again
            return backends.get(_device.current()).asarray(body)
        return body.copy()
    if kind in ("int", "value"):
        return body
    raise ValueError(f"TranslatedLayer: the program holds an argument of unknown kind {kind!r}")
