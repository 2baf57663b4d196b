"""The layers: Linear, Embedding, Dropout, LayerNorm, activations, CrossEntropyLoss."""
from __future__ import annotations

from . import functional as F
from . import initializer as I
from .layer import Layer


class Linear(Layer):
    """y = x @ weight + bias, weight [in_features, out_features] (Xavier-uniform), bias zeros."""

    def __init__(self, in_features: int, out_features: int, weight_attr=None, bias_attr=None, name=None):
        super().__init__(name)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = self.create_parameter([in_features, out_features], weight_attr)
        self.bias = self.create_parameter([out_features], bias_attr, is_bias=True)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype={self._dtype}"


class Embedding(Layer):
    """Rows of weight [num_embeddings, embedding_dim] by id; the padding_idx row's output is zero."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, sparse=False, weight_attr=None,
                 name=None):
        super().__init__(name)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            padding_idx = int(padding_idx)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx = {padding_idx} must be in [-{num_embeddings}, "
                                 f"{num_embeddings})")
            padding_idx %= num_embeddings
        self._padding_idx = padding_idx
        self.weight = self.create_parameter([num_embeddings, embedding_dim], weight_attr)

    def forward(self, x):
        return F.embedding(x, self.weight, self._padding_idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            f", padding_idx={self._padding_idx}" if self._padding_idx is not None else "")


class Dropout(Layer):
    def __init__(self, p: float = 0.5, axis=None, mode: str = "upscale_in_train", name=None):
        super().__init__(name)
        self.p, self.axis, self.mode = p, axis, mode

    def forward(self, x):
        return F.dropout(x, self.p, self.axis, self.training, self.mode)

    def extra_repr(self) -> str:
        return f"p={self.p}, axis={self.axis}, mode={self.mode}"


class LayerNorm(Layer):
    """Normalised over the trailing `normalized_shape` axes, weight ones and bias zeros."""

    def __init__(self, normalized_shape, epsilon: float = 1e-05, weight_attr=None, bias_attr=None, name=None):
        super().__init__(name)
        shape = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
        self._normalized_shape, self._epsilon = shape, float(epsilon)
        self.weight = self.create_parameter(shape, weight_attr, default_initializer=I.Constant(1.0))
        self.bias = self.create_parameter(shape, bias_attr, is_bias=True)

    def forward(self, x):
        return F.layer_norm(x, self._normalized_shape, self.weight, self.bias, self._epsilon)

    def extra_repr(self) -> str:
        return f"normalized_shape={self._normalized_shape}, epsilon={self._epsilon}"


class ReLU(Layer):
    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x):
        return F.relu(x)


class Tanh(Layer):
    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Layer):
    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x):
        return F.sigmoid(x)


class ELU(Layer):
    def __init__(self, alpha: float = 1.0, name=None):
        super().__init__(name)
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Layer):
    def __init__(self, approximate: bool = False, name=None):
        super().__init__(name)
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Softmax(Layer):
    def __init__(self, axis: int = -1, name=None):
        super().__init__(name)
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.axis)


class CrossEntropyLoss(Layer):
    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", soft_label: bool = False,
                 axis: int = -1, use_softmax: bool = True, name=None):
        super().__init__(name)
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"CrossEntropyLoss: reduction = {reduction!r}; expected 'mean', 'sum' or 'none'")
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction
        self.soft_label, self.axis, self.use_softmax = soft_label, axis, use_softmax

    def forward(self, input, label):
        return F.cross_entropy(input, label, self.weight, self.ignore_index, self.reduction, self.soft_label,
                               self.axis, self.use_softmax)


class MSELoss(Layer):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, label):
        return F.mse_loss(input, label, self.reduction)


__all__ = ["Linear", "Embedding", "Dropout", "LayerNorm", "ReLU", "Tanh", "Sigmoid", "ELU", "GELU", "Softmax",
           "LogSoftmax", "CrossEntropyLoss", "MSELoss"]
