"""Tensor and the tape: PaddlePaddle 2.0 dygraph's reverse mode over hakl's declared derivatives.

A `Tensor` wraps one hakl array (NumPy on cpu, pyopencl on opencl, CuPy on cuda). Every
differentiable step is `apply(function, *args, **kwargs)`: it unwraps the tensors, calls
the hakl `Function` on their arrays and, when a tensor at one of the Derivative's `wrt`
positions needs a gradient, records a `Node` holding the call (arguments, keywords,
output). `Tensor.backward` walks the nodes in reverse topological order and asks each
declaration's `backward(args, kwargs, out, dout)` for its inputs' gradients: the
framework writes no backward of its own beyond views (reshape, transpose, indexing),
which move data and compute nothing.

Semantics (PaddlePaddle 2.0.x):
- gradients of leaves accumulate over backward() calls until clear_gradient() or the
  optimizer's clear_grad() (which zero them; a zeroed gradient still takes part in the
  next step, as in Paddle);
- backward() frees the graph: a second backward through it raises unless the first
  passed retain_graph=True;
- `x.grad` is a NumPy array (2.0.x; from 2.1 it is a Tensor, PR #32142), None before any
  backward; `x.gradient()` is the same. Only leaves keep gradients.
"""
from __future__ import annotations

import functools
from typing import Any, Iterable

import numpy as np

from .. import backends
from ..op import FUNCTIONS, Function, floating
from . import device as _device

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class no_grad:
    """`with paddle.no_grad():` or `@paddle.no_grad()`: nothing inside is recorded."""

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


@functools.lru_cache(maxsize=None)
def function(name: str) -> Function:
    """hakl's declared Function `name`."""
    found = FUNCTIONS.get(name)
    if found is None:
        raise NotImplementedError(f"hakl has no function {name!r} yet")
    return found


def kernel(name: str):
    """hakl.<name> (the non-differentiable helpers: optimizers, argmax)."""
    import hakl

    found = getattr(hakl, name, None)
    if found is None:
        raise NotImplementedError(f"hakl has no function {name!r} yet")
    return found


class Node:
    """One recorded call: what its Derivative's backward reads, and where gradients go."""

    __slots__ = ("function", "args", "kwargs", "out", "inputs", "multi", "freed")

    def __init__(self, function, args, kwargs, out, inputs, multi):
        self.function = function  # a Function (its .derivative.backward runs) or a view rule
        self.args, self.kwargs, self.out = args, kwargs, out
        self.inputs = inputs  # per wrt position: a Tensor, a list of Tensors, or None
        self.multi = multi  # the output is a tuple / list (dout is one too)
        self.freed = False

    def backward(self, dout):
        if self.freed:
            raise RuntimeError(f"{self.function.name}: trying to backward through the graph a second time, but its "
                               "saved values have been freed; pass retain_graph=True to the first backward() "
                               "to backward through it again")
        return self.function.derivative.backward(self.args, self.kwargs, self.out, dout)

    def free(self) -> None:
        self.args = self.kwargs = self.out = None
        self.freed = True


class Tensor:
    """A hakl array with Paddle's dygraph Tensor interface (see the module docstring)."""

    # _zeroed: _grad holds the zeros clear_gradient() left, so the next gradient replaces it
    # rather than being added to it (four adds of a zero in every step of a small model).
    __slots__ = ("_data", "stop_gradient", "_node", "_index", "_grad", "_zeroed", "name", "persistable",
                 "__weakref__")
    _names = 0

    def __init__(self, data: Any = None, dtype: Any = None, place: Any = None, stop_gradient: bool = True,
                 name: str | None = None):
        t = to_tensor(data, dtype=dtype, place=place, stop_gradient=stop_gradient) if data is not None else None
        self._data = None if t is None else t._data
        self.stop_gradient = bool(stop_gradient)
        self._node, self._index, self._grad, self._zeroed = None, 0, None, False
        self.name = name or _unique("generated_tensor")
        self.persistable = False

    # ---- properties -------------------------------------------------------------

    # PaddlePaddle 2.0 has no 0-d tensors (a full reduction has shape [1]): a 0-d hakl
    # result reads as shape [1] here, so 2.0 code such as loss.numpy()[0] runs.

    @property
    def shape(self) -> list[int]:
        return list(self._data.shape) or [1]

    @property
    def ndim(self) -> int:
        return self._data.ndim or 1

    def dim(self) -> int:
        return self.ndim

    @property
    def size(self) -> int:
        return int(self._data.size)

    def numel(self) -> int:
        return int(self._data.size)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def place(self) -> _device.Place:
        return _device.place_of(self.backend)

    @property
    def backend(self) -> str:
        return backends.backend_of(self._data, "Tensor", "data").name

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def data(self) -> Any:
        """The hakl array (on the tensor's device)."""
        return self._data

    @property
    def grad(self) -> np.ndarray | None:
        """The accumulated gradient as a NumPy array (PaddlePaddle 2.0.x), None before any backward."""
        return None if self._grad is None else hakl_to_numpy(self._grad)

    def gradient(self) -> np.ndarray | None:
        return self.grad

    # ---- conversion -------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """A NumPy copy of the tensor's value."""
        host = hakl_to_numpy(self._data)
        host = host.copy() if host is self._data or host.base is not None else host
        return host.reshape(1) if host.ndim == 0 else host

    def item(self, *index: int):
        host = hakl_to_numpy(self._data)
        if index:
            return host[index].item()
        if host.size != 1:
            raise ValueError(f"item: only a tensor of one element converts to a Python scalar, this one has "
                             f"{host.size}")
        return host.reshape(-1)[0].item()

    def tolist(self):
        return hakl_to_numpy(self._data).tolist()

    def __array__(self, dtype=None, copy=None):
        host = hakl_to_numpy(self._data)
        return host if dtype is None else host.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __len__(self) -> int:
        return int(self.shape[0])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        body = np.array2string(hakl_to_numpy(self._data), separator=", ", prefix="       ")
        return (f"Tensor(shape={self.shape}, dtype={self.dtype.name}, place={self.place!r}, "
                f"stop_gradient={self.stop_gradient},\n       {body})")

    # ---- autograd ---------------------------------------------------------------

    def backward(self, grad_tensor: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf that needs it (ones as the seed by default)."""
        if self.stop_gradient:
            raise RuntimeError("backward: this tensor has stop_gradient=True, so no graph leads to it")
        backend = backends.backend_of(self._data)
        if grad_tensor is None:
            seed = backend.asarray(np.ones(self._data.shape, self.dtype))
        else:
            seed = grad_tensor._data if isinstance(grad_tensor, Tensor) else backend.asarray(
                np.asarray(grad_tensor, self.dtype))
            if tuple(seed.shape) != tuple(self._data.shape):
                raise ValueError(f"backward: argument 'grad_tensor' has shape {tuple(seed.shape)} but the tensor "
                                 f"has {tuple(self._data.shape)}")
        run_backward([(self, seed)], retain_graph)

    def clear_gradient(self) -> None:
        """Zero the accumulated gradient (Paddle 2.0 keeps a zeroed gradient, it does not drop it)."""
        if self._grad is not None:
            self._grad, self._zeroed = zeros_like_array(self._grad), True

    clear_grad = clear_gradient

    def detach(self) -> "Tensor":
        """The same data, outside the graph."""
        return wrap(self._data)

    def _set_grad(self, g: Any) -> None:
        self._grad, self._zeroed = g, False

    def set_value(self, value: Any) -> None:
        """Overwrite the data in place (shape and dtype kept): how set_state_dict loads."""
        host = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
        if tuple(host.shape) != tuple(self._data.shape):
            raise ValueError(f"set_value: {self.name} has shape {self.shape}, the value {list(host.shape)}")
        backend = backends.backend_of(self._data)
        backend.copy_into(self._data, backend.asarray(np.ascontiguousarray(host.astype(self.dtype))))

    def register_hook(self, hook):
        raise NotImplementedError("Tensor.register_hook is not supported by hakl.framework")


class Parameter(Tensor):
    """A trainable tensor a Layer owns: stop_gradient False; `optimize_attr['learning_rate']`
    multiplies the optimizer's rate; `regularizer`, `need_clip` as ParamAttr gives them."""

    __slots__ = ("optimize_attr", "regularizer", "need_clip", "is_distributed")

    @property
    def trainable(self) -> bool:
        return not self.stop_gradient

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.stop_gradient = not value

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _unique(prefix: str) -> str:
    Tensor._names += 1
    return f"{prefix}_{Tensor._names}"


def hakl_to_numpy(array: Any) -> np.ndarray:
    return backends.backend_of(array, "numpy", "tensor").to_numpy(array)


def zeros_like_array(array: Any) -> Any:
    backend = backends.backend_of(array)
    return backend.asarray(np.zeros(array.shape, array.dtype))


def wrap(data: Any, stop_gradient: bool = True, cls=Tensor) -> Tensor:
    """A Tensor over a hakl array, without copying (the fast constructor every op uses)."""
    t = _new(cls)
    t._data = data
    t.stop_gradient = stop_gradient
    t._node = None
    t._index = 0
    t._grad = None
    t._zeroed = False
    t.name = None
    t.persistable = False
    return t


_new = object.__new__


def _infer_dtype(data: Any) -> np.dtype | None:
    """Paddle's default for Python data: floats -> the default dtype, ints -> int64, bools -> bool."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return None
    probe = np.asarray(data)
    if probe.dtype.kind == "f":
        return _device.default_dtype()
    if probe.dtype.kind in "iu":
        return np.dtype("int64")
    return None


def to_tensor(data: Any, dtype: Any = None, place: Any = None, stop_gradient: bool = True) -> Tensor:
    """A new Tensor holding a copy of `data` (NumPy array, Python scalar or nested list, a
    Tensor, or a hakl array of any device) on `place` (default: the current device).
    Python floats become the default dtype (float32), ints int64; NumPy keeps its dtype."""
    name = _device.current() if place is None else _device.backend_name(place)
    backend = backends.get(name)
    backend.require()
    if isinstance(data, Tensor):
        data = data._data
    if type(data).__module__.split(".")[0] in ("cupy", "pyopencl"):
        data = backends.backend_of(data, "to_tensor", "data").to_numpy(data)
    dt = _device.as_dtype(dtype) if dtype is not None else _infer_dtype(data)
    host = np.array(data, dtype=dt)  # a copy, as Paddle's to_tensor makes
    if host.dtype.name not in _device.DTYPES:
        raise TypeError(f"to_tensor: unsupported dtype {host.dtype}")
    return wrap(backend.asarray(host), bool(stop_gradient))


# ---- recording and replaying -------------------------------------------------------


def _raw(a: Any) -> Any:
    if isinstance(a, Tensor):
        return a._data
    if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
        return [t._data for t in a]
    return a


def _needs(a: Any) -> bool:
    if isinstance(a, Tensor):
        return not a.stop_gradient
    if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
        return any(not t.stop_gradient for t in a)
    return False


_amp_hook = None  # amp.auto_cast's input caster while one is in effect
_trace_hook = None  # jit.save's recorder while it traces a forward (see jit._Recorder)


def apply(fn: Function, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on the tensors' arrays, wrapped back into Tensors, recorded on the
    tape when grad is enabled and an input at a `wrt` position of its Derivative needs a gradient.
    This is every op's path: it is kept to plain loops (no generators, no helper calls for a
    Tensor argument), which keeps the framework's cost per op a few microseconds."""
    if _amp_hook is not None:
        args, kwargs = _amp_hook(fn, args, kwargs)
    if _trace_hook is not None and _trace_hook.takes():
        return _trace_hook.run(fn, args, kwargs)
    raw = [a._data if isinstance(a, Tensor) else _raw(a) for a in args]
    if kwargs:
        kwargs = {k: _raw(v) for k, v in kwargs.items()}
    out = fn.fn(*raw, **kwargs)
    rule = fn.derivative
    record = False
    if _grad_enabled and rule is not None:
        n = len(args)
        for p in rule.wrt:
            if p < n:
                a = args[p]
                if (not a.stop_gradient) if isinstance(a, Tensor) else _needs(a):
                    record = True
                    break
    if not isinstance(out, (tuple, list)):
        t = wrap(out, not record)
        if record:
            t._node = Node(fn, tuple(raw), kwargs, out, _wrt_inputs(args, rule.wrt), False)
        return t
    outs = [None if o is None else wrap(o, not record) for o in out]
    if record:
        node = Node(fn, tuple(raw), kwargs, out, _wrt_inputs(args, rule.wrt), True)
        for i, t in enumerate(outs):
            if t is not None:
                t._node, t._index = node, i
    return type(out)(outs) if isinstance(out, tuple) else outs


def _wrt_inputs(args: tuple, wrt: tuple[int, ...]) -> list:
    n = len(args)
    return [args[p] if p < n else None for p in wrt]


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """apply() of hakl's Function `name`."""
    return apply(function(name), *args, **kwargs)


def _dout(node: Node, grads: list) -> Any:
    """The output gradient the declaration expects: an array, or a tuple / list with zeros for
    floating outputs that received none and None for the others (masks, indices)."""
    if not node.multi:
        return grads[0] if grads[0] is not None else zeros_like_array(node.out)
    parts = []
    for o, g in zip(node.out, grads):
        if g is None and o is not None and floating(getattr(o, "dtype", np.int8)):
            g = zeros_like_array(o)
        parts.append(g)
    return tuple(parts) if isinstance(node.out, tuple) else parts


def _order(roots: Iterable[Tensor]) -> list[Node]:
    """Nodes reachable from the roots, each after every node that consumes its outputs."""
    order, seen = [], set()
    for root in roots:
        if root._node is None or id(root._node) in seen:
            continue
        stack = [(root._node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for inp in node.inputs:
                for t in (inp if isinstance(inp, (list, tuple)) else (inp,)):
                    if isinstance(t, Tensor) and t._node is not None and not t.stop_gradient \
                            and id(t._node) not in seen:
                        stack.append((t._node, False))
    order.reverse()
    return order


def _accumulate(old: Any, new: Any) -> Any:
    import hakl

    return new if old is None else hakl.add(old, new)


def run_backward(seeds: list[tuple[Tensor, Any]], retain_graph: bool = False,
                 targets: dict[int, Any] | None = None) -> None:
    """Propagate the seeds' gradients to the leaves. Without `targets`, leaves accumulate into
    their gradient; with it (paddle.grad), the gradients of the tensors whose id() it keys
    land there instead and no leaf is touched."""
    pending: dict[int, list] = {}
    for t, g in seeds:
        if t._node is None:
            _deliver(t, g, targets)
        else:
            slot = pending.setdefault(id(t._node), [None] * (len(t._node.out) if t._node.multi else 1))
            slot[t._index] = _accumulate(slot[t._index], g)
    for node in _order(t for t, _ in seeds):
        grads = pending.pop(id(node), None)
        if grads is None:
            continue
        results = node.backward(_dout(node, grads))
        for inp, g in zip(node.inputs, results):
            if inp is None or g is None:
                continue
            if isinstance(inp, (list, tuple)):
                for t, gi in zip(inp, g):
                    _send(t, gi, pending, targets)
            else:
                _send(inp, g, pending, targets)
        if not retain_graph:
            node.free()


def _send(t: Any, g: Any, pending: dict, targets: dict | None) -> None:
    if not isinstance(t, Tensor) or t.stop_gradient or g is None:
        return
    if targets is not None and id(t) in targets:
        targets[id(t)] = _accumulate(targets[id(t)], g)
    if t._node is None:
        _deliver(t, g, targets)
        return
    slot = pending.setdefault(id(t._node), [None] * (len(t._node.out) if t._node.multi else 1))
    slot[t._index] = _accumulate(slot[t._index], g)


def _deliver(t: Tensor, g: Any, targets: dict | None) -> None:
    if targets is None:
        t._grad, t._zeroed = g if t._zeroed else _accumulate(t._grad, g), False


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """paddle.grad: the gradients of `outputs` w.r.t. `inputs` (Tensors), leaving every
    leaf's accumulated gradient alone. create_graph=True (higher order) is not supported."""
    if create_graph:
        raise NotImplementedError("grad: create_graph=True (higher-order gradients) is not supported")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    seeds = []
    for o, g in zip(outputs, grad_outputs):
        backend = backends.backend_of(o._data)
        seeds.append((o, backend.asarray(np.ones(o._data.shape, o.dtype)) if g is None else g._data))
    targets = {id(t): None for t in inputs}
    run_backward(seeds, bool(retain_graph), targets)
    result = []
    for t in inputs:
        g = targets[id(t)]
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {t.name or ''} is not reached from the outputs (allow_unused=True "
                               "returns None for it)")
        result.append(None if g is None else wrap(g))
    return result
