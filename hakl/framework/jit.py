"""paddle.jit.save / paddle.jit.load, and Model.save(training=False): an inference program.

PaddlePaddle 2.0 turns a Layer's forward into a static program and saves it beside the
parameters (path.pdmodel, path.pdiparams). hakl has no static graph; it records the forward
instead. Every framework op is one `tensor.apply(function, ...)`, so one run of the forward
under a hook gives the ops in order, what each reads (an input, a parameter or buffer, an
earlier op's output, a constant tensor) and what else it was passed. `load` replays them
through `apply` on the loaded parameters (in hakl's own format: a pickled program, not
Paddle's protobuf), so a loaded layer runs, and differentiates, on any device.

A trace is what the forward did for its example inputs: Python control flow is frozen, and
so are shapes, except an InputSpec's None dimensions. The forward runs twice, with those at
2 and at 3: an integer argument that reads 2k in one run and 3k in the other (a reshape to
(batch * T, H)) becomes k times the size the replay is called with; any other difference
between the two runs is an error at save time, naming the op.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import io as _io
from . import ops as _ops
from . import tensor as _tensor
from .nn.layer import Layer, create_parameter
from .static import InputSpec
from .tensor import Tensor, function, to_tensor

FORMAT = "hakl.jit/1"
_VIEWS = {f.name: f for f in (_ops._RESHAPE, _ops._TRANSPOSE, _ops._GETITEM)}  # the framework's own rules
_TRACE_SIZES = (2, 3)  # what an InputSpec's None dimensions are in the two traced runs


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
        first, second = (_trace(layer, specs, size, names) for size in _TRACE_SIZES)
    finally:
        for sub, mode in zip(layer.sublayers(include_self=True), was_training):
            sub.training = mode
    program = _merge(first, second)
    reads = program.pop("reads")
    state = {k: t for k, t in layer.state_dict().items() if id(t) in reads}
    trainable = {id(p) for p in layer.parameters()}
    program.update(format=FORMAT, inputs=[(s.shape, s.dtype.name, s.name) for s in specs],
                   parameters={k: (id(t) in trainable, t.stop_gradient) for k, t in state.items()})
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    _io.save(program, path + ".pdmodel")
    _io.save(state, path + ".pdiparams")


def load(path: str, **configs: Any) -> "TranslatedLayer":
    """The layer jit.save wrote at `path` (its prefix), in eval mode, on the current device."""
    for suffix in (".pdmodel", ".pdiparams"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    program = _io.load(path + ".pdmodel")
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


def _example(spec: InputSpec, size: int, rng: np.random.Generator) -> Tensor:
    shape = tuple(size if d is None else d for d in spec.shape)
    if spec.dtype.kind in "iub":  # zeros: a valid index for an Embedding whatever its size
        return to_tensor(np.zeros(shape, spec.dtype))
    return to_tensor(rng.standard_normal(shape).astype(spec.dtype))


def _trace(layer: Layer, specs: list[InputSpec], size: int, names: dict) -> dict:
    """The forward's ops at free size `size`, encoded (see _encode)."""
    inputs = [_example(s, size, np.random.default_rng(0)) for s in specs]
    refs = {id(x): i for i, x in enumerate(inputs)}
    keep = list(inputs)  # every traced tensor stays alive, so no id() is reused
    ops, reads = [], set()

    def record(fn, args, kwargs, result):
        if fn is _VIEWS.get(fn.name):
            kind = "view"
        elif _known(fn):
            kind = "function"
        else:
            raise TypeError(f"jit.save: the forward applies {fn.name!r}, which is not one of hakl's declared "
                            "functions: a trace could not replay it")
        encoded = (_encode(args, refs, names, reads), _encode(kwargs, refs, names, reads))
        outs = []
        for t in result if isinstance(result, (tuple, list)) else (result,):
            if t is None:
                outs.append(None)
            else:
                refs[id(t)] = len(keep)
                outs.append(len(keep))
                keep.append(t)
        ops.append((kind, fn.name, *encoded, outs))

    hook, _tensor._trace_hook = _tensor._trace_hook, record
    try:
        with _tensor.no_grad():
            out = layer(*inputs)
    finally:
        _tensor._trace_hook = hook
    return {"ops": ops, "outputs": _encode(out, refs, names, reads), "reads": reads}


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
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_encode(v, refs, names, reads) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: _encode(v, refs, names, reads) for k, v in value.items()})
    if isinstance(value, slice):
        return ("slice", [_encode(v, refs, names, reads) for v in (value.start, value.stop, value.step)])
    if isinstance(value, np.ndarray):
        return ("array", value.copy())
    if isinstance(value, (float, str, np.floating, np.dtype, type(Ellipsis))):
        return ("value", value)
    raise TypeError(f"jit.save: an op's argument is a {type(value).__name__}, which a program cannot hold")


def _merge(first: dict, second: dict) -> dict:
    """One program from the traces at free sizes 2 and 3 (see the module docstring)."""
    if [op[:2] for op in first["ops"]] != [op[:2] for op in second["ops"]]:
        raise ValueError("jit.save: the forward applied different ops for inputs of free size 2 and 3; a traced "
                         "program cannot hold control flow on shapes")
    ops = []
    for i, (a, b) in enumerate(zip(first["ops"], second["ops"])):
        where = f"op {i} ({a[1]})"
        if a[4] != b[4]:
            raise ValueError(f"jit.save: {where} gave different outputs in the two traced runs")
        ops.append((a[0], a[1], _same(a[2], b[2], where), _same(a[3], b[3], where), a[4]))
    return {"ops": ops, "outputs": _same(first["outputs"], second["outputs"], "the outputs"),
            "reads": first["reads"] | second["reads"]}


def _same(a: Any, b: Any, where: str) -> Any:
    small, large = _TRACE_SIZES
    if a[0] != b[0]:
        raise ValueError(f"jit.save: {where} was passed a {a[0]} in one traced run and a {b[0]} in the other")
    kind = a[0]
    if kind == "int":
        if a[1] == b[1]:
            return a
        if a[1] % small == 0 and a[1] // small * large == b[1]:
            return ("size", a[1] // small)
    elif kind in ("list", "tuple", "slice") and len(a[1]) == len(b[1]):
        return (kind, [_same(x, y, where) for x, y in zip(a[1], b[1])])
    elif kind == "dict" and a[1].keys() == b[1].keys():
        return (kind, {k: _same(a[1][k], b[1][k], where) for k in a[1]})
    elif kind in ("const", "array"):
        if a[1].shape == b[1].shape and a[1].dtype == b[1].dtype and np.array_equal(a[1], b[1], equal_nan=True):
            return a
    elif a == b:
        return a
    raise ValueError(f"jit.save: {where} was passed {_show(a)} for inputs of free size {small} and {_show(b)} for "
                     f"{large}: a traced program cannot follow it (a constant tensor shaped by the batch, or a "
                     "size that is not a multiple of it)")


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
        return body.copy()
    return body  # "int", "value"
