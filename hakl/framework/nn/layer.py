"""paddle.nn.Layer, ParamAttr and the containers (Sequential, LayerList)."""
from __future__ import annotations

import re
import warnings
from collections import OrderedDict
from typing import Any, Iterator

import numpy as np

from ...op import floating
from .. import device as _device
from ..tensor import Parameter, Tensor, to_tensor, wrap
from . import initializer as I

_name_counts: dict[str, int] = {}


def unique_name(prefix: str) -> str:
    """prefix_0, prefix_1, ...: Paddle's generated names (linear_0, then its linear_0.w_0)."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return f"{prefix}_{n}"


class ParamAttr:
    """How a layer makes a parameter: name, initializer, learning-rate multiplier, regularizer,
    trainable, need_clip (Paddle 2.0's ParamAttr)."""

    def __init__(self, name=None, initializer=None, learning_rate=1.0, regularizer=None, trainable=True,
                 do_model_average=False, need_clip=True):
        self.name, self.initializer, self.learning_rate = name, initializer, float(learning_rate)
        self.regularizer, self.trainable, self.need_clip = regularizer, bool(trainable), bool(need_clip)

    @staticmethod
    def of(attr: Any) -> "ParamAttr | None":
        """ParamAttr from what a layer argument may be: None (defaults), False (no parameter),
        a ParamAttr, a name, or an initializer."""
        if attr is False:
            return None
        if attr is None or attr is True:
            return ParamAttr()
        if isinstance(attr, ParamAttr):
            return attr
        if isinstance(attr, str):
            return ParamAttr(name=attr)
        if isinstance(attr, I.Initializer):
            return ParamAttr(initializer=attr)
        raise TypeError(f"ParamAttr: cannot make one from {type(attr).__name__}")


def create_parameter(shape, dtype=None, name=None, attr=None, is_bias=False, default_initializer=None) -> Parameter:
    """A Parameter of `shape` on the current device: the attr's initializer, else
    `default_initializer`, else zeros for a bias and Xavier-uniform for a weight (Paddle's)."""
    attr = ParamAttr.of(attr) or ParamAttr()
    init = attr.initializer or default_initializer or (I.Constant(0.0) if is_bias else I.XavierUniform())
    dt = _device.as_dtype(dtype) if dtype is not None else _device.default_dtype()
    p = to_tensor(init(shape, dt), stop_gradient=not attr.trainable)
    param = wrap(p.data, p.stop_gradient, Parameter)
    param.name = attr.name or name or unique_name("create_parameter")
    param.optimize_attr = {"learning_rate": attr.learning_rate}
    param.regularizer = attr.regularizer
    param.need_clip = attr.need_clip
    param.is_distributed = False
    param.persistable = True
    return param


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Layer:
    """Paddle's dygraph Layer: parameters, sublayers and buffers registered by attribute."""

    def __init__(self, name_scope: str | None = None, dtype: Any = "float32"):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_sub_layers", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistable", set())
        self.training = True
        self._dtype = dtype
        self._full_name = unique_name(name_scope or _snake(type(self).__name__))
        self._param_counts = {"w": 0, "b": 0}

    # ---- registration -----------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        params, layers, buffers = self.__dict__.get("_parameters"), self.__dict__.get("_sub_layers"), \
            self.__dict__.get("_buffers")
        if isinstance(value, Parameter):
            if params is None:
                raise RuntimeError("Layer.__init__ must run before parameters are assigned")
            for d in (layers, buffers):
                d.pop(name, None)
            params[name] = value
        elif isinstance(value, Layer):
            if layers is None:
                raise RuntimeError("Layer.__init__ must run before sublayers are assigned")
            params.pop(name, None)
            buffers.pop(name, None)
            layers[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"{name}: a parameter must be replaced by a Parameter or None")
            params[name] = None
        elif buffers is not None and name in buffers:
            buffers[name] = value
        elif layers is not None and name in layers and value is None:
            layers[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        for store in ("_parameters", "_sub_layers", "_buffers"):
            d = self.__dict__.get(store)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_sub_layers", "_buffers"):
            if name in self.__dict__[store]:
                del self.__dict__[store][name]
                return
        object.__delattr__(self, name)

    def full_name(self) -> str:
        return self._full_name

    def create_parameter(self, shape, attr=None, dtype=None, is_bias=False, default_initializer=None):
        """A parameter named <layer>.w_N / <layer>.b_N, or None when attr is False."""
        if attr is False:
            return None
        kind = "b" if is_bias else "w"
        name = f"{self._full_name}.{kind}_{self._param_counts[kind]}"
        self._param_counts[kind] += 1
        return create_parameter(shape, dtype or self._dtype, name, attr, is_bias, default_initializer)

    def add_parameter(self, name: str, parameter: Parameter | None) -> Parameter | None:
        self._parameters[name] = parameter
        return parameter

    def add_sublayer(self, name: str, sublayer: "Layer | None") -> "Layer | None":
        if sublayer is not None and not isinstance(sublayer, Layer):
            raise TypeError(f"add_sublayer: {name} must be a Layer or None, got {type(sublayer).__name__}")
        self._sub_layers[str(name)] = sublayer
        return sublayer

    def register_buffer(self, name: str, tensor: Tensor | None, persistable: bool = True) -> None:
        self._buffers[name] = tensor
        if not persistable:
            self._non_persistable.add(name)

    # ---- traversal ----------------------------------------------------------------

    def named_sublayers(self, prefix: str = "", include_self: bool = False, layers_set=None):
        layers_set = set() if layers_set is None else layers_set
        if include_self and id(self) not in layers_set:
            layers_set.add(id(self))
            yield prefix, self
        for key, layer in self._sub_layers.items():
            if layer is None or id(layer) in layers_set:
                continue
            path = f"{prefix}.{key}" if prefix else key
            layers_set.add(id(layer))
            yield path, layer
            yield from layer.named_sublayers(path, False, layers_set)

    def sublayers(self, include_self: bool = False) -> list["Layer"]:
        return [layer for _, layer in self.named_sublayers(include_self=include_self)]

    def named_children(self) -> Iterator[tuple[str, "Layer"]]:
        return ((k, v) for k, v in self._sub_layers.items() if v is not None)

    def children(self) -> Iterator["Layer"]:
        return (v for _, v in self.named_children())

    def named_parameters(self, prefix: str = "", include_sublayers: bool = True):
        seen = set()
        layers = self.named_sublayers(prefix, include_self=True) if include_sublayers else [(prefix, self)]
        for path, layer in layers:
            for key, p in layer._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{path}.{key}" if path else key), p

    def parameters(self, include_sublayers: bool = True) -> list[Parameter]:
        return [p for _, p in self.named_parameters(include_sublayers=include_sublayers)]

    def named_buffers(self, prefix: str = "", include_sublayers: bool = True):
        layers = self.named_sublayers(prefix, include_self=True) if include_sublayers else [(prefix, self)]
        for path, layer in layers:
            for key, b in layer._buffers.items():
                if b is not None:
                    yield (f"{path}.{key}" if path else key), b

    def buffers(self, include_sublayers: bool = True) -> list[Tensor]:
        return [b for _, b in self.named_buffers(include_sublayers=include_sublayers)]

    # ---- state ------------------------------------------------------------------------

    def state_dict(self, destination=None, include_sublayers: bool = True, structured_name_prefix: str = ""):
        """Parameters and persistable buffers by structured name ("0.weight", "fc.bias")."""
        out = OrderedDict() if destination is None else destination
        for name, p in self.named_parameters(structured_name_prefix, include_sublayers):
            out[name] = p
        layers = self.named_sublayers(structured_name_prefix, include_self=True) if include_sublayers \
            else [(structured_name_prefix, self)]
        for path, layer in layers:
            for key, b in layer._buffers.items():
                if b is not None and key not in layer._non_persistable:
                    out[f"{path}.{key}" if path else key] = b
        return out

    def set_state_dict(self, state_dict: dict, use_structured_name: bool = True):
        """Copy every entry into the matching parameter or buffer (in place); warns about
        missing and unexpected keys; returns (missing, unexpected)."""
        own = self.state_dict()
        if not use_structured_name:
            own = OrderedDict((t.name, t) for t in own.values())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                host = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
                if list(host.shape) != target.shape:
                    raise ValueError(f"set_state_dict: {key} has shape {list(host.shape)} in the state dict but "
                                     f"{target.shape} in the layer")
                target.set_value(host)
        if missing:
            warnings.warn(f"set_state_dict: no value for {', '.join(missing)}", stacklevel=2)
        if unexpected:
            warnings.warn(f"set_state_dict: {', '.join(unexpected)} match no parameter", stacklevel=2)
        return missing, unexpected

    set_dict = set_state_dict
    load_dict = set_state_dict

    # ---- modes, devices, dtypes --------------------------------------------------------

    def train(self) -> "Layer":
        for layer in self.sublayers(include_self=True):
            layer.training = True
        return self

    def eval(self) -> "Layer":
        for layer in self.sublayers(include_self=True):
            layer.training = False
        return self

    def to(self, device: Any = None, dtype: Any = None, blocking: Any = None) -> "Layer":
        """Move every parameter and buffer to `device` and/or cast its floating data to `dtype`
        (in place on the Parameter objects, so optimizers holding them still see them)."""
        import hakl

        backend = None if device is None else _device.backend_name(device)
        dt = None if dtype is None else _device.as_dtype(dtype)
        for t in [*self.parameters(), *self.buffers()]:
            data = t.data
            if dt is not None and floating(data.dtype) and data.dtype != dt:
                data = hakl.cast(data, dt)
            if backend is not None and hakl.device_of(data) != backend:
                data = hakl.asarray(hakl.to_numpy(data), device=backend)
            t._data, t._grad = data, None
        if dt is not None:
            for layer in self.sublayers(include_self=True):
                layer._dtype = dt.name
        return self

    def clear_gradients(self) -> None:
        for p in self.parameters():
            p.clear_gradient()

    def apply(self, fn) -> "Layer":
        for layer in self.children():
            layer.apply(fn)
        fn(self)
        return self

    # ---- calling and printing ------------------------------------------------------------

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.forward(*inputs, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for key, layer in self._sub_layers.items():
            body = repr(layer).replace("\n", "\n  ")
            lines.append(f"({key}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Layer):
    """Layers called in order: Sequential(l1, l2, ...) or Sequential(("name", l1), ...)."""

    def __init__(self, *layers: Any):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)) and layers[0] and \
                isinstance(layers[0][0], (list, tuple)):
            layers = tuple(layers[0])
        for i, item in enumerate(layers):
            if isinstance(item, (list, tuple)):
                self.add_sublayer(item[0], item[1])
            else:
                self.add_sublayer(str(i), item)

    def __getitem__(self, index: Any):
        values = list(self._sub_layers.values())
        if isinstance(index, slice):
            return Sequential(*values[index])
        if isinstance(index, str):
            return self._sub_layers[index]
        return values[index]

    def __len__(self) -> int:
        return len(self._sub_layers)

    def forward(self, x: Any) -> Any:
        for layer in self._sub_layers.values():
            if layer is not None:
                x = layer(x)
        return x


class LayerList(Layer):
    """A list of sublayers (None entries allowed, as 2.0.1 permits: LayerList([None]))."""

    def __init__(self, sublayers=None):
        super().__init__()
        for layer in sublayers or ():
            self.append(layer)

    def _key(self, index: int) -> str:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"LayerList index {index} out of range for {n} layers")
        return list(self._sub_layers)[index % n]

    def __getitem__(self, index: Any):
        if isinstance(index, slice):
            return LayerList(list(self._sub_layers.values())[index])
        return self._sub_layers[self._key(index)]

    def __setitem__(self, index: int, layer: Layer | None) -> None:
        self.add_sublayer(self._key(index), layer)

    def __delitem__(self, index: int) -> None:
        values = list(self._sub_layers.values())
        del values[index]
        self._sub_layers.clear()
        for layer in values:
            self.append(layer)

    def __len__(self) -> int:
        return len(self._sub_layers)

    def __iter__(self):
        return iter(list(self._sub_layers.values()))

    def append(self, layer: Layer | None) -> "LayerList":
        self.add_sublayer(str(len(self)), layer)
        return self

    def insert(self, index: int, layer: Layer | None) -> None:
        values = list(self._sub_layers.values())
        values.insert(index, layer)
        self._sub_layers.clear()
        for v in values:
            self.append(v)

    def extend(self, layers) -> "LayerList":
        for layer in layers:
            self.append(layer)
        return self


class ParameterList(Layer):
    def __init__(self, parameters=None):
        super().__init__()
        for p in parameters or ():
            self.append(p)

    def __getitem__(self, index: int) -> Parameter:
        return list(self._parameters.values())[index]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(list(self._parameters.values()))

    def append(self, parameter: Parameter) -> "ParameterList":
        self.add_parameter(str(len(self)), parameter)
        return self
