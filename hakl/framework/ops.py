"""Paddle's tensor functions (paddle.add, paddle.matmul, paddle.reshape, ...) and the
Tensor methods and operators built on them.

Every numeric step is a hakl Function applied through the tape (tensor.call); the only
rules written here are the views' (reshape, transpose, indexing), which move data.
Arithmetic follows Paddle 2.0's dygraph rules: a Python scalar takes the tensor's dtype
(a non-integral float with an integer tensor is an error), a tensor of another dtype
is cast to the left operand's dtype, and integer division casts both to float32.
Shapes broadcast as in NumPy.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

import numpy as np

from .. import backends
from ..op import Derivative, Function
from . import device as _device
from .tensor import Tensor, apply, call, function, to_tensor

_rng = np.random.default_rng()


def seed(value: int) -> None:
    """Seed the framework's generator (parameter init, random tensors, DataLoader shuffling)
    and hakl's dropout seeds: the same seed repeats a run."""
    global _rng
    import hakl

    _rng = np.random.default_rng(int(value))
    hakl.manual_seed(int(value))


def generator() -> np.random.Generator:
    return _rng


# ---- views: the framework's only rules (they compute nothing) -----------------------


def _view(name: str, forward, backward) -> Function:
    return Function(name, forward, (), (), lambda dtype, rng: (), derivative=Derivative((0,), backward))


def _contiguous(a: Any) -> Any:
    return a if a.flags.c_contiguous else backends.backend_of(a).ascontiguous(a)


_RESHAPE = _view("reshape", lambda x, shape: _contiguous(x).reshape(shape),
                 lambda args, kwargs, out, dout: (_contiguous(dout).reshape(args[0].shape),))
_TRANSPOSE = _view("transpose", lambda x, perm: x.transpose(perm),
                   lambda args, kwargs, out, dout: (dout.transpose(tuple(np.argsort(args[1]))),))


def _is_basic(index: tuple) -> bool:
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in index)


def _getitem(x: Any, index: tuple) -> Any:
    backend = backends.backend_of(x)
    if backend.name == "cpu":
        return np.array(x[index])  # a copy, as Paddle's slice op makes
    if backend.name == "cuda":
        cp = backend.cp
        return cp.ascontiguousarray(x[tuple(cp.asarray(i) if isinstance(i, np.ndarray) else i for i in index)])
    return backend.asarray(np.ascontiguousarray(backend.to_numpy(x)[index]))  # pyopencl: a host round trip


def _getitem_backward(args, kwargs, out, dout):
    """dout scattered into zeros of x's shape (added where an index repeats)."""
    x, index = args
    backend = backends.backend_of(x)
    if backend.name == "cuda":
        import cupyx

        cp = backend.cp
        dx = cp.zeros(x.shape, dout.dtype)
        index = tuple(cp.asarray(i) if isinstance(i, np.ndarray) else i for i in index)
        if _is_basic(index):
            dx[index] = dout
        else:
            cupyx.scatter_add(dx, index, dout)
        return (dx,)
    d = backend.to_numpy(dout)
    dx = np.zeros(x.shape, d.dtype)
    if _is_basic(index):
        dx[index] = d
    else:
        np.add.at(dx, index, d)
    return (backend.asarray(dx),)


_GETITEM = _view("getitem", _getitem, _getitem_backward)


def _index(index: Any) -> tuple:
    """A NumPy index: Tensors and lists as host integer (or bool) arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i = i.numpy()
            out.append(i.item() if i.ndim == 0 and i.dtype.kind in "iu" else i)
        elif isinstance(i, list):
            out.append(np.asarray(i))
        else:
            out.append(i)
    return tuple(out)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """x with `shape` (-1: inferred; 0: x's extent at that position, as Paddle)."""
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    shape = tuple(int(x.shape[i]) if int(d) == 0 else int(d) for i, d in enumerate(shape))
    return apply(_RESHAPE, x, shape)


def transpose(x: Tensor, perm: Sequence[int]) -> Tensor:
    perm = tuple(int(p) % builtins.max(x.ndim, 1) for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: argument 'perm' = {list(perm)} is not a permutation of {x.ndim} axes")
    return apply(_TRANSPOSE, x, perm)


def flatten(x: Tensor, start_axis: int = 0, stop_axis: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    start, stop = start_axis % x.ndim, stop_axis % x.ndim
    shape = x.shape
    return reshape(x, shape[:start] + [math.prod(shape[start:stop + 1])] + shape[stop + 1:])


def squeeze(x: Tensor, axis: Any = None) -> Tensor:
    shape = x.shape
    if axis is None:
        axes = {i for i, d in enumerate(shape) if d == 1}
    else:
        axes = {a % builtins.max(x.ndim, 1) for a in (axis if isinstance(axis, (list, tuple)) else [axis])}
        axes = {a for a in axes if shape[a] == 1}  # Paddle leaves an axis of another size alone
    return reshape(x, [d for i, d in enumerate(shape) if i not in axes] or [])


def unsqueeze(x: Tensor, axis: Any) -> Tensor:
    shape = x.shape
    for a in sorted(axis if isinstance(axis, (list, tuple)) else [axis]):
        a = a if a >= 0 else a + len(shape) + 1
        shape.insert(a, 1)
    return reshape(x, shape)


def getitem(x: Tensor, index: Any) -> Tensor:
    if x.data.ndim == 0:  # a [1]-shaped tensor to Paddle 2.0 code (see Tensor.shape)
        x = reshape(x, (1,))
    return apply(_GETITEM, x, _index(index))


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """In place on the data (outside the graph: Paddle 2.0 allows it on tensors no gradient needs)."""
    if not x.stop_gradient and x._node is not None:
        raise RuntimeError("setitem: cannot assign into a tensor that a recorded graph produced")
    backend = backends.backend_of(x._data)
    v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if backend.name == "cpu":
        x._data[_index(index)] = v
        return
    host = backend.to_numpy(x._data)
    host[_index(index)] = v
    backend.copy_into(x._data, backend.asarray(host))


# ---- arithmetic -----------------------------------------------------------------------


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating))


def _operand(x: Tensor, y: Any) -> Any:
    """y as Paddle 2.0 treats it next to tensor x: scalars as they are (hakl gives them x's
    dtype), a tensor of another dtype cast to x's, anything else a tensor of x's dtype."""
    if isinstance(y, Tensor):
        return y if y.dtype == x.dtype else cast(y, x.dtype)
    if isinstance(y, (bool, np.bool_)):
        return int(y)
    if _scalar(y):
        return y
    return to_tensor(y, dtype=x.dtype, place=x.place)


def _binary(name: str, x: Any, y: Any, reverse: bool = False) -> Tensor:
    # the common case first, straight to the tape: a float tensor with a Python number or
    # with a tensor of its dtype (every op pays for this path: see tensor.apply)
    if isinstance(x, Tensor) and x._data.dtype.kind == "f" and (
            type(y) is float or type(y) is int or (isinstance(y, Tensor) and y._data.dtype == x._data.dtype)):
        fn = function(name)
        return apply(fn, y, x) if reverse else apply(fn, x, y)
    if not isinstance(x, Tensor):
        x, y, reverse = y, x, not reverse
    y = _operand(x, y)
    if name == "divide" and x.dtype.kind in "biu":
        x = cast(x, "float32")
        y = cast(y, "float32") if isinstance(y, Tensor) else float(y)
    return call(name, y, x) if reverse else call(name, x, y)


def add(x, y, name=None):
    return _binary("add", x, y)


def subtract(x, y, name=None):
    return _binary("subtract", x, y)


def multiply(x, y, name=None):
    return _binary("multiply", x, y)


def divide(x, y, name=None):
    return _binary("divide", x, y)


def pow(x, y, name=None):  # noqa: A001  (Paddle's name)
    return _binary("pow", x, y)


def maximum(x, y, name=None):
    return _binary("maximum", x, y)


def minimum(x, y, name=None):
    return _binary("minimum", x, y)


def square(x, name=None):
    return call("multiply", x, x)


def scale(x, scale=1.0, bias=0.0, bias_after_scale=True, name=None):
    out = multiply(x, scale)
    if bias:
        out = add(out, bias) if bias_after_scale else multiply(add(x, bias), scale)
    return out


def clip(x, min=None, max=None, name=None):  # noqa: A002
    """min(max(x, min), max): gradient dout strictly inside (min, max), 0 elsewhere (Paddle's)."""
    out = x
    if min is not None:
        out = maximum(out, float(min))
    if max is not None:
        out = minimum(out, float(max))
    return out


def _compare(which: str, x: Any, y: Any) -> Tensor:
    """A bool tensor: hakl's comparison `which` (PaddlePaddle's spelling) of x and y."""
    if not isinstance(x, Tensor):
        x = to_tensor(x, dtype=y.dtype if isinstance(y, Tensor) else None)
    return apply(function(which), x, _operand(x, y))  # recorded by jit.save's trace, never on the tape


def equal(x, y, name=None):
    return _compare("equal", x, y)


def not_equal(x, y, name=None):
    return _compare("not_equal", x, y)


def greater_than(x, y, name=None):
    return _compare("greater_than", x, y)


def greater_equal(x, y, name=None):
    return _compare("greater_equal", x, y)


def less_than(x, y, name=None):
    return _compare("less_than", x, y)


def less_equal(x, y, name=None):
    return _compare("less_equal", x, y)


def matmul(x, y, transpose_x=False, transpose_y=False, name=None):
    if transpose_x or transpose_y:
        return call("matmul", x, y, transpose_a=bool(transpose_x), transpose_b=bool(transpose_y))
    return call("matmul", x, y)


mm = matmul


def _axis(axis: Any) -> Any:
    if isinstance(axis, Tensor):
        axis = axis.tolist()
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x, axis=None, dtype=None, keepdim=False, name=None):  # noqa: A001
    if dtype is not None and x.dtype != _device.as_dtype(dtype):
        x = cast(x, dtype)
    return call("sum", x, axis=_axis(axis), keepdim=bool(keepdim))


def mean(x, axis=None, keepdim=False, name=None):
    return call("mean", x, axis=_axis(axis), keepdim=bool(keepdim))


def max(x, axis=None, keepdim=False, name=None):  # noqa: A001
    return call("max", x, axis=_axis(axis), keepdim=bool(keepdim))


def min(x, axis=None, keepdim=False, name=None):  # noqa: A001
    return call("min", x, axis=_axis(axis), keepdim=bool(keepdim))


def argmax(x, axis=None, keepdim=False, dtype="int64", name=None):
    out = call("argmax", x, axis=_axis(axis), keepdim=bool(keepdim))
    return out if _device.as_dtype(dtype) == out.dtype else cast(out, dtype)


def cast(x, dtype):
    dt = _device.as_dtype(dtype)
    if not isinstance(x, Tensor):
        x = to_tensor(x)
    return call("cast", x, dt.name)


def cumsum(x, axis=None, dtype=None, name=None):
    return call("cumsum", x, axis=axis, dtype=None if dtype is None else _device.as_dtype(dtype).name)


def stack(x, axis=0, name=None):
    return call("stack", list(x), axis=axis)


def unstack(x, axis=0, num=None):
    return call("unstack", x, axis=axis, num=num)


def _unary(function_name: str):
    def fn(x, name=None):
        return call(function_name, x)
    fn.__name__ = function_name
    fn.__doc__ = f"hakl.{function_name} of x."
    return fn


exp, log, sqrt, tanh, sigmoid, relu = (_unary(n) for n in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu"))


# ---- creation ---------------------------------------------------------------------------


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s.item()) if isinstance(s, Tensor) else int(s) for s in shape)


def _dt(dtype: Any, default: Any = None) -> np.dtype:
    return _device.as_dtype(dtype) if dtype is not None else (default or _device.default_dtype())


def full(shape, fill_value, dtype=None, name=None):
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    default = np.dtype("bool") if isinstance(value, bool) else None
    return to_tensor(np.full(_shape(shape), value, _dt(dtype, default)))


def zeros(shape, dtype=None, name=None):
    return full(shape, 0, dtype)


def ones(shape, dtype=None, name=None):
    return full(shape, 1, dtype)


def full_like(x, fill_value, dtype=None, name=None):
    return to_tensor(np.full(x.shape, fill_value, _dt(dtype, x.dtype)), place=x.place)


def zeros_like(x, dtype=None, name=None):
    return full_like(x, 0, dtype)


def ones_like(x, dtype=None, name=None):
    return full_like(x, 1, dtype)


def arange(start=0, end=None, step=1, dtype=None, name=None):
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    return to_tensor(values, dtype=dtype or ("int64" if values.dtype.kind in "iu" else _device.default_dtype()))


def eye(num_rows, num_columns=None, dtype=None, name=None):
    return to_tensor(np.eye(num_rows, num_columns, dtype=_dt(dtype)))


def rand(shape, dtype=None, name=None):
    return to_tensor(_rng.random(_shape(shape)).astype(_dt(dtype)))


def randn(shape, dtype=None, name=None):
    return to_tensor(_rng.standard_normal(_shape(shape)).astype(_dt(dtype)))


def uniform(shape, dtype="float32", min=-1.0, max=1.0, seed=0, name=None):  # noqa: A002
    rng = np.random.default_rng(seed) if seed else _rng
    return to_tensor(rng.uniform(min, max, _shape(shape)).astype(_dt(dtype)))


def normal(mean=0.0, std=1.0, shape=None, name=None):
    return to_tensor(_rng.normal(mean, std, _shape(shape or [1])).astype(_device.default_dtype()))


def randint(low=0, high=None, shape=(1,), dtype=None, name=None):
    if high is None:
        low, high = 0, low
    return to_tensor(_rng.integers(low, high, _shape(shape)), dtype=dtype or "int64")


def randperm(n, dtype="int64", name=None):
    return to_tensor(_rng.permutation(int(n)), dtype=dtype)


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def numel(x, name=None):
    return to_tensor(x.size, dtype="int64")


# ---- Tensor methods and operators ---------------------------------------------------------


def _astype(self, dtype):
    return cast(self, dtype)


def _method(fn):
    return lambda self, *args, **kwargs: fn(self, *args, **kwargs)


_METHODS = {
    "add": add, "subtract": subtract, "multiply": multiply, "divide": divide, "pow": pow, "matmul": matmul,
    "maximum": maximum, "minimum": minimum, "sum": sum, "mean": mean, "max": max, "min": min, "argmax": argmax,
    "exp": exp, "log": log, "sqrt": sqrt, "tanh": tanh, "sigmoid": sigmoid, "reshape": reshape,
    "transpose": transpose, "flatten": flatten, "squeeze": squeeze, "unsqueeze": unsqueeze, "cast": cast,
    "astype": _astype, "cumsum": cumsum, "square": square, "scale": scale, "clip": clip, "unstack": unstack,
    "equal": equal, "not_equal": not_equal, "greater_than": greater_than, "less_than": less_than,
    "greater_equal": greater_equal, "less_equal": less_equal,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _method(_fn))

for _op, _name in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                   ("pow", "pow")):
    setattr(Tensor, f"__{_op}__", lambda self, other, _name=_name: _binary(_name, self, other))
    setattr(Tensor, f"__r{_op}__", lambda self, other, _name=_name: _binary(_name, self, other, True))
Tensor.__neg__ = lambda self: call("multiply", self, -1)
Tensor.__eq__ = lambda self, other: _compare("equal", self, other)
Tensor.__ne__ = lambda self, other: _compare("not_equal", self, other)
Tensor.__lt__ = lambda self, other: _compare("less_than", self, other)
Tensor.__le__ = lambda self, other: _compare("less_equal", self, other)
Tensor.__gt__ = lambda self, other: _compare("greater_than", self, other)
Tensor.__ge__ = lambda self, other: _compare("greater_equal", self, other)
Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem
Tensor.T = property(lambda self: transpose(self, tuple(reversed(range(self.ndim)))))
