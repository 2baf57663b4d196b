"""SimpleRNN, LSTM and GRU (PaddlePaddle 2.0's constructor arguments, parameter names and
order), each forward one taped call of hakl.rnn_train: its Derivative reads the reserve
that forward leaves (every step's gates and states), so the backward recomputes nothing.

Parameters, per layer k and direction (forward, then "_reverse"): weight_ih_l{k}
[G*H, in], weight_hh_l{k} [G*H, H], bias_ih_l{k}, bias_hh_l{k} [G*H], all initialised
U(-1/sqrt(H), 1/sqrt(H)), created once. A bias attr of False leaves that bias out (zeros).
"""
from __future__ import annotations

import math

import numpy as np

from ...kernels.dropout import next_seed
from ...kernels.rnn.reference import GATES
from ..tensor import call, to_tensor
from . import initializer as I
from .layer import Layer

DIRECTIONS = {"forward": 1, "bidirect": 2, "bidirectional": 2}


class RNNBase(Layer):
    MODE = ""

    def __init__(self, input_size, hidden_size, num_layers=1, direction="forward", time_major=False, dropout=0.0,
                 weight_ih_attr=None, weight_hh_attr=None, bias_ih_attr=None, bias_hh_attr=None, name=None):
        super().__init__(name)
        kind = type(self).__name__
        if direction not in DIRECTIONS:
            raise ValueError(f"{kind}: argument 'direction' must be 'forward', 'bidirect' or 'bidirectional', got "
                             f"{direction!r}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.direction, self.time_major, self.dropout = direction, bool(time_major), float(dropout)
        self.num_directions = DIRECTIONS[direction]
        self.state_components = 2 if self.MODE == "LSTM" else 1
        g = GATES[self.MODE] * self.hidden_size
        bound = 1 / math.sqrt(self.hidden_size)
        init = I.Uniform(-bound, bound)
        self._flat = []  # the parameters (or zero tensors for a bias left out) in hakl.rnn's order
        for layer in range(self.num_layers):
            size = self.input_size if layer == 0 else self.num_directions * self.hidden_size
            for d in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for what, shape, attr, bias in (("weight_ih", [g, size], weight_ih_attr, False),
                                                ("weight_hh", [g, self.hidden_size], weight_hh_attr, False),
                                                ("bias_ih", [g], bias_ih_attr, True),
                                                ("bias_hh", [g], bias_hh_attr, True)):
                    p = self.create_parameter(shape, attr, is_bias=bias, default_initializer=init)
                    if p is None:  # a buffer, so that Layer.to converts it with the parameters
                        p = to_tensor(np.zeros(shape, self._dtype))
                        self.register_buffer(what + suffix, p, persistable=False)
                    else:
                        setattr(self, what + suffix, p)
                    self._flat.append(p)

    def forward(self, inputs, initial_states=None, sequence_length=None):
        """(outputs, final_states): outputs [B, T, D*H] ([T, B, D*H] time-major), final
        states [L*D, B, H] (a (h, c) pair for LSTM), as Paddle's layers return them."""
        h0 = c0 = None
        if initial_states is not None:
            if self.MODE == "LSTM":
                h0, c0 = initial_states
            else:
                h0 = initial_states
        p = self.dropout if self.training else 0.0
        extra = {"dropout": p, "training": True, "seed": next_seed()} if p and self.num_layers > 1 else {}
        y, h_n, c_n, _ = call("rnn_train", self.MODE, inputs, self._flat, h0, c0, self.num_layers, self.direction,
                              self.time_major, sequence_length, **extra)
        return y, ((h_n, c_n) if self.MODE == "LSTM" else h_n)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, direction={self.direction}, "
                f"time_major={self.time_major}, dropout={self.dropout}")


class SimpleRNN(RNNBase):
    """h = act(x W_ih^T + b_ih + h W_hh^T + b_hh), activation "tanh" or "relu"."""

    def __init__(self, input_size, hidden_size, num_layers=1, direction="forward", time_major=False, dropout=0.0,
                 activation="tanh", weight_ih_attr=None, weight_hh_attr=None, bias_ih_attr=None, bias_hh_attr=None,
                 name=None):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNN: argument 'activation' must be 'tanh' or 'relu', got {activation!r}")
        self.MODE = "RNN_TANH" if activation == "tanh" else "RNN_RELU"
        self.activation = activation
        super().__init__(input_size, hidden_size, num_layers, direction, time_major, dropout, weight_ih_attr,
                         weight_hh_attr, bias_ih_attr, bias_hh_attr, name)


class LSTM(RNNBase):
    """Gates i, f, g (cell candidate), o; states (h, c)."""

    MODE = "LSTM"


class GRU(RNNBase):
    """Gates r, z, c with the reset gate applied after the hidden GEMM (Paddle's and torch's)."""

    MODE = "GRU"
