"""paddle.nn on hakl: layer outputs and gradients against float64 NumPy, the Layer API,
and the 2.0.x fixes (ELU NaN, LayerNorm float64, LayerList([None]))."""
from __future__ import annotations

import numpy as np
import pytest

import hakl.framework as paddle
import hakl.framework.nn.functional as F
from hakl.framework import nn


def test_linear_output_and_gradients_match_numpy():
    paddle.seed(3)
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == [4, 3] and layer.bias.shape == [3]
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))  # Paddle's bias init
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    out = layer(paddle.to_tensor(x))
    w, b = layer.weight.numpy(), layer.bias.numpy()
    np.testing.assert_allclose(out.numpy(), x @ w + b, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(layer.weight.grad, x.reshape(-1, 4).sum(0)[:, None].repeat(3, 1), rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad, np.full(3, 10.0))
    assert nn.Linear(2, 2, bias_attr=False).bias is None


def test_layer_norm_float64_computes_in_float64():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6)) * 1e3 + 1e4  # fp32 precision would be off by ~1e-4 here
    layer = nn.LayerNorm([4, 6], epsilon=1e-5)
    layer.to(dtype="float64")
    y = layer(paddle.to_tensor(x))
    rows = x.reshape(3, -1)
    want = ((rows - rows.mean(1, keepdims=True)) / np.sqrt(rows.var(1, keepdims=True) + 1e-5)).reshape(x.shape)
    assert y.dtype == paddle.float64
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


def test_elu_maps_nan_to_nan():
    x = paddle.to_tensor(np.array([np.nan, -1.0, 0.0, 2.0], np.float32))
    y = nn.ELU(alpha=1.0)(x).numpy()
    assert np.isnan(y[0])
    np.testing.assert_allclose(y[1:], [np.expm1(-1.0), 0.0, 2.0], rtol=1e-6)


def test_embedding_rows_padding_and_gradient():
    paddle.seed(0)
    emb = nn.Embedding(5, 3, padding_idx=1)
    ids = paddle.to_tensor(np.array([[0, 1], [4, 0]]))
    out = emb(ids)
    table = emb.weight.numpy()
    want = table[[[0, 1], [4, 0]]]
    want[0, 1] = 0
    np.testing.assert_array_equal(out.numpy(), want)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [2.0, 0.0, 0.0, 0.0, 1.0])


def test_dropout_train_and_eval_and_softmax_layers():
    paddle.seed(5)
    x = paddle.to_tensor(np.ones((200, 50), np.float32), stop_gradient=False)
    layer = nn.Dropout(0.5)
    y = layer(x)
    kept = y.numpy() != 0
    assert 0.4 < kept.mean() < 0.6 and set(np.unique(y.numpy())) <= {0.0, 2.0}
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, kept * 2.0)  # the backward regenerates the same mask
    layer.eval()
    assert layer(x) is x
    logits = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(nn.Softmax()(paddle.to_tensor(logits)).numpy(),
                               np.exp(logits) / np.exp(logits).sum(), rtol=1e-6)
    np.testing.assert_allclose(F.log_softmax(paddle.to_tensor(logits)).numpy(),
                               logits - np.log(np.exp(logits).sum()), rtol=1e-6)


def test_cross_entropy_loss_and_deprecated_alias():
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 4))
    label = rng.integers(0, 4, (6, 1))
    lse = np.log(np.exp(logits).sum(1))
    per = lse - logits[np.arange(6), label[:, 0]]
    loss = nn.CrossEntropyLoss()(paddle.to_tensor(logits), paddle.to_tensor(label))
    assert abs(loss.item() - per.mean()) < 1e-12
    with pytest.warns(DeprecationWarning):
        alias = F.softmax_with_cross_entropy(paddle.to_tensor(logits), paddle.to_tensor(label))
    assert alias.shape == [6, 1]
    np.testing.assert_allclose(alias.numpy()[:, 0], per, rtol=1e-12)


def test_layer_api_names_state_dict_and_printing():
    paddle.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LayerNorm(4), nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"]
    assert list(model.state_dict()) == names
    assert model.parameters()[0].name.endswith(".w_0") and model.parameters()[1].name.endswith(".b_0")
    text = repr(model)
    assert text.startswith("Sequential(\n  (0): Linear(in_features=3, out_features=4, dtype=float32)")
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LayerNorm(4), nn.Linear(4, 2))
    other.set_state_dict(model.state_dict())
    x = paddle.to_tensor(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())
    model.eval()
    assert not any(layer.training for layer in model.sublayers(include_self=True))
    model.to(dtype="float64")
    assert all(p.dtype == paddle.float64 for p in model.parameters())


def test_layer_list_takes_none_and_custom_layers_register_by_attribute():
    layers = nn.LayerList([None])
    assert len(layers) == 1 and layers[0] is None and layers.parameters() == []
    layers.append(nn.Linear(2, 2))
    assert len(layers.parameters()) == 2

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = nn.LayerList([nn.Linear(2, 2) for _ in range(2)])
            self.scale = self.create_parameter([1], default_initializer=nn.initializer.Constant(2.0))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x * self.scale

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "blocks.0.weight", "blocks.0.bias",
                                                      "blocks.1.weight", "blocks.1.bias"]
    net(paddle.to_tensor(np.ones((1, 2), np.float32))).sum().backward()
    assert net.scale.grad is not None and net.blocks[0].weight.grad is not None


def test_the_cell_level_rnn_api_says_it_is_not_built():
    with pytest.raises(NotImplementedError, match="cell-level API"):
        nn.LSTMCell(8, 16)
