"""paddle.nn: Layer and the layers hakl's kernels serve.

Not here yet: SimpleRNN, LSTM and GRU (hakl's RNN family has not been built; they come
with it), convolutions and pooling (no kernels).
"""
from __future__ import annotations

from . import functional, initializer  # noqa: F401
from .clip import ClipGradByGlobalNorm, ClipGradByNorm, ClipGradByValue
from .layer import Layer, LayerList, ParamAttr, ParameterList, Sequential
from .layers import (ELU, GELU, CrossEntropyLoss, Dropout, Embedding, LayerNorm, Linear, LogSoftmax, MSELoss, ReLU,
                     Sigmoid, Softmax, Tanh)

_RNN = ("SimpleRNN", "LSTM", "GRU", "RNN", "BiRNN", "SimpleRNNCell", "LSTMCell", "GRUCell")


def __getattr__(name: str):
    if name in _RNN:
        raise NotImplementedError(f"paddle.nn.{name}: hakl's RNN family is not built yet, so hakl.framework has no "
                                  "recurrent layers")
    raise AttributeError(f"module 'hakl.framework.nn' has no attribute {name!r}")


__all__ = ["Layer", "LayerList", "ParameterList", "Sequential", "ParamAttr", "Linear", "Embedding", "Dropout",
           "LayerNorm", "ELU", "GELU", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "CrossEntropyLoss",
           "MSELoss", "ClipGradByNorm", "ClipGradByGlobalNorm", "ClipGradByValue", "functional", "initializer"]
