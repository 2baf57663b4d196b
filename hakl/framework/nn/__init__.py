"""paddle.nn: Layer and the layers hakl's kernels serve.

Recurrent layers: SimpleRNN, LSTM and GRU (rnn.py, on hakl's RNN family). Not here yet:
the cell-level API (RNN, BiRNN, *Cell), convolutions and pooling (no kernels).
"""
from __future__ import annotations

from . import functional, initializer  # noqa: F401
from .clip import ClipGradByGlobalNorm, ClipGradByNorm, ClipGradByValue
from .layer import Layer, LayerList, ParamAttr, ParameterList, Sequential
from .layers import (ELU, GELU, CrossEntropyLoss, Dropout, Embedding, LayerNorm, Linear, LogSoftmax, MSELoss, ReLU,
                     Sigmoid, Softmax, Tanh)
from .rnn import GRU, LSTM, SimpleRNN

_CELLS = ("RNN", "BiRNN", "SimpleRNNCell", "LSTMCell", "GRUCell")


def __getattr__(name: str):
    if name in _CELLS:
        raise NotImplementedError(f"paddle.nn.{name}: hakl.framework has the SimpleRNN, LSTM and GRU layers but not "
                                  "the cell-level API yet")
    raise AttributeError(f"module 'hakl.framework.nn' has no attribute {name!r}")


__all__ = ["Layer", "LayerList", "ParameterList", "Sequential", "ParamAttr", "Linear", "Embedding", "Dropout",
           "LayerNorm", "ELU", "GELU", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "CrossEntropyLoss",
           "MSELoss", "SimpleRNN", "LSTM", "GRU", "ClipGradByNorm", "ClipGradByGlobalNorm", "ClipGradByValue", "functional", "initializer"]
