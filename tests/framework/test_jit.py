"""paddle.jit.save / load and Model.save(training=False): a traced forward replays at batch
sizes it was not traced at, on the saved parameters, and differentiates; what a trace cannot
follow is an error at save time."""
from __future__ import annotations

import numpy as np
import pytest

import hakl.framework as paddle
from hakl import backends
from hakl.framework import jit, nn
from hakl.framework.static import InputSpec


class _Recurrent(nn.Layer):
    """An LSTM read at its last step through reshapes that name the batch size."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y, _ = self.rnn(x)
        flat = paddle.reshape(self.norm(y), [x.shape[0] * x.shape[1], 16])
        return paddle.nn.functional.softmax(self.fc(flat).reshape([x.shape[0], x.shape[1], 10])[:, -1] * 2.0)


def _mlp():
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))


@pytest.mark.parametrize("make, spec", [(_mlp, [None, 6]), (_Recurrent, [None, 8, 8])], ids=["mlp", "lstm"])
def test_a_loaded_program_computes_the_layer_at_untraced_batch_sizes_and_differentiates(tmp_path, make, spec, rng):
    paddle.seed(0)
    layer = make()
    path = str(tmp_path / "export" / "net")
    jit.save(layer, path, [InputSpec(spec, "float32", name="x")])
    assert layer.training  # saving traced in eval mode and put the mode back
    loaded = jit.load(path + ".pdmodel")
    assert isinstance(loaded, nn.Layer) and not loaded.training
    assert loaded.input_spec() == [InputSpec(spec, "float32", "x")]
    assert list(loaded.state_dict()) == [k for k in layer.state_dict() if k in loaded.state_dict()]
    layer.eval()
    for batch in (1, 5, 7):
        x = rng.standard_normal((batch, *spec[1:])).astype(np.float32)
        # the same kernels on copies of the weights: a GEMM's blocking may follow their alignment
        np.testing.assert_allclose(loaded(paddle.to_tensor(x)).numpy(), layer(paddle.to_tensor(x)).numpy(),
                                   rtol=1e-6, atol=1e-7)

    x = paddle.to_tensor(rng.standard_normal((4, *spec[1:])).astype(np.float32))
    for net in (layer, loaded):
        net.clear_gradients()
        (net(x) ** 2).sum().backward()
    grads = {k: p.grad for k, p in loaded.named_parameters()}
    for k, p in layer.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad, rtol=1e-6, atol=1e-7)


def test_model_save_for_inference_and_the_errors(tmp_path, rng):
    paddle.seed(0)
    model = paddle.Model(_mlp(), inputs=[InputSpec([-1, 6], "float32")])
    path = str(tmp_path / "m")
    model.save(path, training=False)
    x = paddle.to_tensor(rng.standard_normal((3, 6)).astype(np.float32))
    model.network.eval()
    np.testing.assert_array_equal(jit.load(path)(x).numpy(), model.network(x).numpy())

    loaded = jit.load(path)
    with pytest.raises(ValueError, match=r"^TranslatedLayer: input 0 has shape \[3, 5\]; .* \[-1, 6\]"):
        loaded(paddle.to_tensor(np.zeros((3, 5), np.float32)))
    with pytest.raises(ValueError, match=r"^jit.save: argument 'input_spec' is required"):
        jit.save(_mlp(), path)
    with pytest.raises(TypeError, match=r"^jit.save: argument 'layer' must be a paddle.nn.Layer"):
        jit.save(lambda x: x, path, [InputSpec([2])])
    with pytest.raises(TypeError, match=r"^InputSpec: argument 'shape'"):
        InputSpec(3)
    paddle.save({"a": 1}, str(tmp_path / "other.pdmodel"))
    with pytest.raises(ValueError, match=r"^jit.load: .*other.pdmodel is not a program jit.save wrote"):
        jit.load(str(tmp_path / "other"))


class _BatchConstant(nn.Layer):
    def forward(self, x):
        return x + paddle.ones([x.shape[0], 1])  # a constant tensor shaped by the batch


class _OddSize(nn.Layer):
    def forward(self, x):
        return x[: x.shape[0] - 1]  # a size that is not a multiple of the batch


class _HalfBatch(nn.Layer):
    def forward(self, x):
        return x[: x.shape[0] // 2]  # 1 at sizes 2 and 3: the third run tells it from a constant


class _FromValues(nn.Layer):
    def forward(self, x):
        return x * float(x.numpy().max())  # a value computed outside the ops


@pytest.mark.parametrize("layer, match", [
    (_BatchConstant(), r"op 0 \(add\) was passed a constant of shape \[2, 1\], a constant of shape \[3, 1\]"),
    (_OddSize(), r"op 0 \(getitem\) was passed 1, 2, 4 for inputs of free sizes 2, 3, 5"),
    (_HalfBatch(), r"op 0 \(getitem\) was passed 1, 1, 2 for"),
    (_FromValues(), r"op 0 \(multiply\) was passed .*a constant computed from the input")])
def test_what_a_trace_cannot_follow_fails_at_save_time(tmp_path, layer, match):
    """Each of these replayed wrong at some size, silently, before the runs differed in
    values and a third run checked the sizes."""
    with pytest.raises(ValueError, match=match):
        jit.save(layer, str(tmp_path / "bad"), [InputSpec([None, 6])])
    assert not (tmp_path / "bad.pdmodel").exists()


@pytest.mark.skipif(not backends.get("opencl").available, reason="no OpenCL device")
def test_a_program_saved_on_the_cpu_runs_on_opencl(tmp_path, rng):
    """The program names functions, not kernels: loaded under set_device("opencl"), its
    parameters and every replayed op live there."""
    paddle.seed(0)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.LayerNorm(32), nn.Linear(32, 3), nn.Softmax())
    net.eval()
    jit.save(net, str(tmp_path / "net"), [InputSpec([None, 6])])
    x = rng.standard_normal((5, 6)).astype(np.float32)
    want = net(paddle.to_tensor(x)).numpy()
    paddle.set_device("opencl")
    try:
        got = jit.load(str(tmp_path / "net"))(paddle.to_tensor(x))
        assert isinstance(got.place, paddle.OpenCLPlace)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    finally:
        paddle.set_device("cpu")


class _Masked(nn.Layer):
    """Comparisons, a namedtuple output and integer inputs."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)

    def forward(self, ids):
        from collections import namedtuple

        pair = namedtuple("Pair", "masked count")
        keep = paddle.cast(ids != 0, "float32")
        return pair(self.emb(ids) * keep.unsqueeze(-1), keep.sum())


def test_comparisons_and_integer_inputs_replay_from_the_inputs(tmp_path):
    paddle.seed(0)
    layer = _Masked()
    jit.save(layer, str(tmp_path / "m"), [InputSpec([None, 5], "int64")])
    loaded = jit.load(str(tmp_path / "m"))
    ids = paddle.to_tensor(np.array([[0, 3, 0, 6, 1], [2, 0, 0, 0, 5]], np.int64))
    got, want = loaded(ids), layer(ids)
    assert isinstance(got, tuple) and len(got) == 2
    np.testing.assert_array_equal(got[0].numpy(), want.masked.numpy())
    assert got[1].item() == want.count.item() == 5.0


class _WeightedLoss(nn.Layer):
    """cross_entropy's class weights reach the op as a device array, not a Tensor."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)
        self.weight = paddle.to_tensor(np.array([0.5, 1.0, 2.0], np.float32))

    def forward(self, x, label):
        return paddle.nn.functional.cross_entropy(self.fc(x), label, weight=self.weight, reduction="none")


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not backends.get("opencl").available, reason="no OpenCL device"))])
def test_an_array_argument_replays_on_the_loading_device(tmp_path, device, rng):
    paddle.seed(0)
    layer = _WeightedLoss()
    paddle.set_device(device)
    try:
        layer.to(device)
        layer.weight = paddle.to_tensor(np.array([0.5, 1.0, 2.0], np.float32))
        jit.save(layer, str(tmp_path / "loss"), [InputSpec([None, 6]), InputSpec([None], "int64")])
        x = paddle.to_tensor(rng.standard_normal((4, 6)).astype(np.float32))
        label = paddle.to_tensor(np.array([0, 2, 1, 2], np.int64))
        got = jit.load(str(tmp_path / "loss"))(x, label)
        assert got.place == layer(x, label).place
        np.testing.assert_allclose(got.numpy(), layer(x, label).numpy(), rtol=1e-6, atol=1e-7)
    finally:
        paddle.set_device("cpu")
