"""paddle.nn.functional on hakl's Functions (each step recorded on the tape)."""
from __future__ import annotations

import warnings
from typing import Any

from ...kernels.dropout import next_seed
from .. import ops
from ..tensor import Tensor, call

relu = ops.relu
tanh = ops.tanh
sigmoid = ops.sigmoid


def elu(x: Tensor, alpha: float = 1.0, name=None) -> Tensor:
    """x where x > 0, else alpha (e^x - 1); NaN in, NaN out (2.0.1's fix)."""
    return call("elu", x, alpha=float(alpha))


def gelu(x: Tensor, approximate: bool = False, name=None) -> Tensor:
    return call("gelu", x, approximate=bool(approximate))


def softplus(x: Tensor, beta: float = 1, threshold: float = 20, name=None) -> Tensor:
    return call("softplus", x, beta=float(beta), threshold=float(threshold))


def softmax(x: Tensor, axis: int = -1, dtype: Any = None, name=None) -> Tensor:
    if dtype is not None:
        x = ops.cast(x, dtype)
    return call("softmax", x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1, dtype: Any = None, name=None) -> Tensor:
    if dtype is not None:
        x = ops.cast(x, dtype)
    return call("log_softmax", x, axis=axis)


def dropout(x: Tensor, p: float = 0.5, axis: Any = None, training: bool = True, mode: str = "upscale_in_train",
            name=None) -> Tensor:
    """hakl's dropout with a seed drawn from hakl's generator (paddle.seed reseeds it): the
    backward regenerates the same mask from that seed, so no mask is stored."""
    if mode not in ("upscale_in_train", "downscale_in_infer"):
        raise ValueError(f"dropout: argument 'mode' = {mode!r}; expected 'upscale_in_train' or 'downscale_in_infer'")
    if not training:
        return x if mode == "upscale_in_train" else ops.multiply(x, 1.0 - float(p))
    if p == 0:
        return x
    return call("dropout", x, p=float(p), axis=axis, training=True, mode=mode, seed=next_seed())


def _raw(t: Any) -> Any:
    return t.data if isinstance(t, Tensor) else t


def cross_entropy(input: Tensor, label: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", soft_label: bool = False, axis: int = -1, use_softmax: bool = True,
                  name=None) -> Tensor:
    """PaddlePaddle 2.0.2's cross_entropy (hakl.cross_entropy): hard labels [N] or [N, 1], soft labels."""
    return call("cross_entropy", input, label, _raw(weight), ignore_index=ignore_index, reduction=reduction,
                soft_label=soft_label, axis=axis, use_softmax=use_softmax)


_warned = False


def softmax_with_cross_entropy(logits: Tensor, label: Tensor, soft_label: bool = False, ignore_index: int = -100,
                               numeric_stable_mode: bool = True, return_softmax: bool = False, axis: int = -1):
    """Deprecated in 2.0: the loss of cross_entropy(reduction='none') with the class axis kept
    (size 1); with return_softmax, (loss, softmax(logits))."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn("softmax_with_cross_entropy is deprecated: use paddle.nn.functional.cross_entropy",
                      DeprecationWarning, stacklevel=2)
    loss = cross_entropy(logits, label, ignore_index=ignore_index, reduction="none", soft_label=soft_label,
                         axis=axis)
    shape = logits.shape
    shape[axis] = 1
    loss = ops.reshape(loss, shape)
    return (loss, softmax(logits, axis)) if return_softmax else loss


def layer_norm(x: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None,
               epsilon: float = 1e-05, name=None) -> Tensor:
    """Normalised over the trailing `normalized_shape` axes (float64 computes in float64)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return call("layer_norm", x, shape, weight, bias, float(epsilon))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, name=None) -> Tensor:
    """x @ weight (+ bias); weight is [in_features, out_features] as in Paddle."""
    out = call("matmul", x, weight)
    return out if bias is None else call("add", out, bias)


def embedding(x: Tensor, weight: Tensor, padding_idx: int | None = None, sparse: bool = False, name=None) -> Tensor:
    if padding_idx is None:
        return call("embedding", x, weight)
    return call("embedding", x, weight, padding_idx=int(padding_idx))


def mse_loss(input: Tensor, label: Tensor, reduction: str = "mean", name=None) -> Tensor:
    diff = ops.subtract(input, label)
    sq = ops.square(diff)
    if reduction == "none":
        return sq
    return ops.mean(sq) if reduction == "mean" else ops.sum(sq)


__all__ = ["relu", "tanh", "sigmoid", "elu", "gelu", "softplus", "softmax", "log_softmax", "dropout",
           "cross_entropy", "softmax_with_cross_entropy", "layer_norm", "linear", "embedding", "mse_loss"]
