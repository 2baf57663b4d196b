"""SimpleRNN, LSTM and GRU layers: Paddle's parameter names, order, shapes and init; outputs
and gradients against a float64 NumPy reference with the weights copied by position; one
taped call per forward; dropout between layers only in training."""
from __future__ import annotations

import math

import numpy as np
import pytest

import hakl.framework as paddle
from hakl.framework import nn
from hakl.framework.tensor import call
from hakl.kernels.rnn import reference


def _numpy_rnn(mode, x, params, h0, c0, layers, dirs, lengths=None):
    """Batch-major float64 reference: the layer reference per layer and direction."""
    inp = x.transpose(1, 0, 2).astype(np.float64)
    b, h = x.shape[0], params[1].shape[1]
    hn, cn = [], []
    for layer in range(layers):
        ys = []
        for d in range(dirs):
            k = layer * dirs + d
            w = [p.astype(np.float64) for p in params[4 * k:4 * k + 4]]
            y, hk, ck, _ = reference.forward(np, mode, inp, *w, h0[k], c0[k] if c0 is not None else None, lengths,
                                             d == 1)
            ys.append(y)
            hn.append(hk)
            cn.append(ck)
        inp = np.concatenate(ys, axis=2)
    return inp.transpose(1, 0, 2), np.stack(hn), (np.stack(cn) if mode == "LSTM" else None)


def _loss(outputs, states, weights):
    """A weighted sum of every output, so every gradient path is exercised."""
    total = (outputs * paddle.to_tensor(weights[0])).sum()
    for s, w in zip(states if isinstance(states, tuple) else (states,), weights[1:]):
        total = total + (s * paddle.to_tensor(w)).sum()
    return total


@pytest.mark.parametrize("cls, mode, kwargs", [(nn.LSTM, "LSTM", {}), (nn.GRU, "GRU", {}),
                                               (nn.SimpleRNN, "RNN_TANH", {}),
                                               (nn.SimpleRNN, "RNN_RELU", {"activation": "relu"})])
def test_layer_outputs_and_gradients_match_numpy(cls, mode, kwargs, rng):
    b, t, n_in, h, layers = 3, 5, 4, 6, 2
    net = cls(n_in, h, num_layers=layers, direction="bidirect", **kwargs).to(dtype="float64")
    names = [n for n, _ in net.named_parameters()]
    expected = [f"{w}_l{k}{r}" for k in range(layers) for r in ("", "_reverse")
                for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == expected
    g = reference.GATES[mode] * h
    assert [p.shape for p in net.parameters()][:4] == [[g, n_in], [g, h], [g], [g]]
    assert net.weight_ih_l1.shape == [g, 2 * h]
    bound = 1 / math.sqrt(h)
    assert all(np.abs(p.numpy()).max() <= bound for p in net.parameters())
    params = [p.numpy() for p in net.parameters()]

    x = rng.standard_normal((b, t, n_in))
    h0 = rng.standard_normal((2 * layers, b, h))
    c0 = rng.standard_normal((2 * layers, b, h)) if mode == "LSTM" else None
    lengths = np.array([t, 3, 1], np.int64)
    xt = paddle.to_tensor(x, stop_gradient=False)
    h0t = paddle.to_tensor(h0, stop_gradient=False)
    states = (h0t, paddle.to_tensor(c0, stop_gradient=False)) if mode == "LSTM" else h0t
    out, final = net(xt, states, paddle.to_tensor(lengths))
    want_y, want_h, want_c = _numpy_rnn(mode, x, params, h0, c0, layers, 2, lengths)
    np.testing.assert_allclose(out.numpy(), want_y, rtol=1e-12, atol=1e-12)
    got_h = final[0] if mode == "LSTM" else final
    np.testing.assert_allclose(got_h.numpy(), want_h, rtol=1e-12, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(final[1].numpy(), want_c, rtol=1e-12, atol=1e-12)

    weights = [rng.standard_normal(want_y.shape), rng.standard_normal(want_h.shape)] + \
        ([rng.standard_normal(want_h.shape)] if mode == "LSTM" else [])
    _loss(out, final, weights).backward()
    # the gradients through the layer reference's backward, direction by direction
    dy = weights[0].transpose(1, 0, 2)
    grads = {}
    inputs = [x.transpose(1, 0, 2)]
    for layer in range(layers):  # forward again to collect each layer's input and workspaces
        ys, wss = [], []
        for d in range(2):
            k = layer * 2 + d
            y, _, _, ws = reference.forward(np, mode, inputs[-1], *params[4 * k:4 * k + 4], h0[k],
                                            None if c0 is None else c0[k], lengths, d == 1)
            ys.append(y)
            wss.append(ws)
        grads[layer] = wss
        inputs.append(np.concatenate(ys, axis=2))
    dparams = [None] * len(params)
    for layer in reversed(range(layers)):
        dx = 0
        for d in range(2):
            k = layer * 2 + d
            dc = weights[2][k] if mode == "LSTM" else None
            out_g = reference.backward(np, mode, inputs[layer], params[4 * k], params[4 * k + 1], grads[layer][d],
                                       dy[:, :, d * h:(d + 1) * h], weights[1][k], dc, lengths, d == 1)
            dx = dx + out_g[0]
            dparams[4 * k:4 * k + 4] = out_g[1:5]
            if layer == 0:
                np.testing.assert_allclose(h0t.grad[k], out_g[5], rtol=1e-10, atol=1e-12)
                if mode == "LSTM":
                    np.testing.assert_allclose(states[1].grad[k], out_g[6], rtol=1e-10, atol=1e-12)
        dy = dx
    np.testing.assert_allclose(xt.grad, dy.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    for p, want in zip(net.parameters(), dparams):
        np.testing.assert_allclose(p.grad, want, rtol=1e-10, atol=1e-12, err_msg=p.name)


def test_a_forward_is_one_taped_call_and_states_default_to_zeros(rng):
    net = nn.GRU(3, 4, time_major=True)
    x = paddle.to_tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))
    out, h = net(x)
    assert out.shape == [5, 2, 4] and h.shape == [1, 2, 4]
    assert out._node is h._node and out._node.function.name == "rnn_train"
    y, hn, _, _ = call("rnn_train", "GRU", x, net._flat, None, None, 1, "forward", True)
    np.testing.assert_array_equal(out.numpy(), y.numpy())
    assert len(net.parameters()) == 4  # created once (#31916)


def test_dropout_between_layers_only_in_training(rng):
    paddle.seed(1)
    net = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = paddle.to_tensor(rng.standard_normal((2, 5, 3)).astype(np.float32))
    a, b = net(x)[0].numpy(), net(x)[0].numpy()
    net.eval()
    c, d = net(x)[0].numpy(), net(x)[0].numpy()
    assert not np.array_equal(a, b) and np.array_equal(c, d) and not np.array_equal(a, c)


def test_layer_arguments_are_checked():
    with pytest.raises(ValueError, match="argument 'direction'"):
        nn.LSTM(3, 4, direction="sideways")
    with pytest.raises(ValueError, match="argument 'activation'"):
        nn.SimpleRNN(3, 4, activation="gelu")
    assert nn.GRU(3, 4, bias_ih_attr=False).parameters()[-1].name.endswith(".b_0")  # only bias_hh is made
