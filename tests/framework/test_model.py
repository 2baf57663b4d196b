"""The high-level API: paddle.Model (prepare / fit / evaluate / predict / save / load),
paddle.metric.Accuracy and the callbacks."""
from __future__ import annotations

import os

import numpy as np
import pytest

import hakl.framework as paddle
from hakl.framework import callbacks, io, metric, nn


def _blobs(n=60, seed=0):
    """Three well separated classes in 4-D."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (rng.standard_normal((n, 4)) * 0.3 + np.eye(4)[y] * 3).astype(np.float32)
    return io.TensorDataset([x, y.astype(np.int64).reshape(-1, 1)])


def _model(lr=0.05, amp_configs=None):
    paddle.seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters()), nn.CrossEntropyLoss(),
                  metric.Accuracy(), amp_configs=amp_configs)
    return model


# ---- metric ------------------------------------------------------------------------------


def test_accuracy_top_k_over_batches_with_id_and_one_hot_labels():
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((8, 5)).astype(np.float32)
    label = rng.integers(0, 5, 8)
    m = metric.Accuracy(topk=(1, 3))
    assert m.name() == ["acc_top1", "acc_top3"]
    ranks = (-pred).argsort(axis=1)
    want = [float(np.mean([label[i] in ranks[i, :k] for i in range(8)])) for k in (1, 3)]
    for lab in (label, label.reshape(-1, 1), np.eye(5)[label].astype(np.float32)):  # [N], [N, 1], one-hot
        correct = m.compute(paddle.to_tensor(pred), paddle.to_tensor(lab))
        assert correct.shape == [8, 3] and correct.dtype == np.float32
        assert m.update(correct) == pytest.approx(want)
    assert m.accumulate() == pytest.approx(want)
    m.reset()
    assert m.accumulate() == [0.0, 0.0]
    single = metric.Accuracy(name="top")
    assert single.name() == ["top"]
    assert single.update(single.compute(paddle.to_tensor(pred), paddle.to_tensor(label))) == pytest.approx(want[0])
    assert metric.accuracy(paddle.to_tensor(pred), paddle.to_tensor(label), k=3).item() == pytest.approx(want[1])
    with pytest.raises(ValueError, match="topk"):
        metric.Accuracy(topk=(0,))


# ---- Model ---------------------------------------------------------------------------------


def test_fit_learns_evaluate_reports_loss_and_accuracy_and_predict_returns_outputs():
    data = _blobs()
    model = _model()
    before = model.evaluate(data, batch_size=20, verbose=0)
    assert sorted(before) == ["acc", "loss"] and isinstance(before["loss"], list)
    model.fit(data, epochs=4, batch_size=10, verbose=0)
    after = model.evaluate(data, batch_size=20, verbose=0)
    assert after["acc"] == 1.0 and after["loss"][0] < before["loss"][0]
    outputs = model.predict(data, batch_size=25, verbose=0)
    assert len(outputs) == 1 and [o.shape for o in outputs[0]] == [(25, 3), (25, 3), (10, 3)]
    stacked = model.predict(data, batch_size=25, stack_outputs=True, verbose=0)
    assert stacked[0].shape == (60, 3)
    y = data.batch(np.arange(60))[1].reshape(-1)
    assert (stacked[0].argmax(axis=1) == y).all()


def test_fit_takes_a_dataloader_and_the_batch_methods_split_inputs_from_labels():
    data = _blobs()
    model = _model()
    model.fit(io.DataLoader(data, batch_size=30, shuffle=True), epochs=1, verbose=0)
    x, y = data.batch(np.arange(6))
    loss, (acc,) = model.train_batch([x], [y])
    assert isinstance(loss[0], np.ndarray) and 0.0 <= acc <= 1.0
    assert len(model.predict_batch([x])) == 1 and model.eval_batch([x], [y])[0][0].shape == (1,)

    class TwoInputs(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, a, b):
            return self.fc(a + b)

    two = paddle.Model(TwoInputs())  # two inputs from forward's signature, the third field is the label
    two.prepare(paddle.optimizer.SGD(parameters=two.parameters()), nn.CrossEntropyLoss())
    three = io.TensorDataset([data.batch(np.arange(60))[0], data.batch(np.arange(60))[0],
                              data.batch(np.arange(60))[1]])
    two.fit(three, batch_size=30, epochs=1, verbose=0)
    assert sorted(two.evaluate(three, batch_size=30, verbose=0)) == ["loss"]


def test_save_and_load_parameters_and_optimizer_state_into_another_model(tmp_path):
    data = _blobs()
    model = _model()
    model.fit(data, epochs=1, batch_size=20, verbose=0)
    path = str(tmp_path / "ckpt" / "m")
    model.save(path)
    assert os.path.exists(path + ".pdparams") and os.path.exists(path + ".pdopt")
    other = _model()  # new parameter names: the saved table maps the optimizer state to them
    other.load(path)
    for a, b in zip(other.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    mine, theirs = model._optimizer.state_dict(), other._optimizer.state_dict()
    assert len(mine) == len(theirs) > 0
    moment = next(k for k in mine if "moment1" in k)
    renamed = moment.replace(model.parameters()[0].name, other.parameters()[0].name)
    np.testing.assert_array_equal(mine[moment].numpy(), theirs[renamed].numpy())
    fresh = _model()
    fresh.load(path + ".pdparams", reset_optimizer=True)
    assert fresh._optimizer.state_dict() == {}

    wide = paddle.Model(nn.Sequential(nn.Linear(4, 17), nn.ReLU(), nn.Linear(17, 3)))
    with pytest.raises(ValueError, match="skip_mismatch"):
        wide.load(path)
    with pytest.warns(UserWarning, match="skipping"):
        wide.load(path, skip_mismatch=True)
    with pytest.raises(ValueError, match=r"^Model.save\(training=False\) traces .*InputSpec"):
        model.save(path, training=False)  # _model() was given no InputSpecs


def test_fit_with_save_dir_callbacks_early_stopping_and_a_progress_bar(tmp_path, capsys):
    data = _blobs(30)
    seen = []

    class Recorder(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(k for k in logs if k in ("loss", "acc"))))

    model = _model()
    model.fit(data, eval_data=data, epochs=2, batch_size=10, save_dir=str(tmp_path), verbose=1,
              callbacks=[Recorder()])
    assert seen == [(0, ["acc", "loss"]), (1, ["acc", "loss"])]
    assert {"0.pdparams", "1.pdparams", "final.pdparams", "final.pdopt"} <= set(os.listdir(tmp_path))
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Eval samples: 30" in out and "loss:" in out

    stop = callbacks.EarlyStopping(monitor="acc", patience=0, verbose=0, baseline=1.01)  # nothing beats it
    epochs = []
    model.fit(data, eval_data=data, epochs=5, batch_size=10, verbose=0,
              callbacks=[stop, type("E", (callbacks.Callback,), {
                  "on_epoch_begin": lambda self, epoch, logs=None: epochs.append(epoch)})()])
    assert epochs == [0] and model.stop_training


def test_amp_configs_train_in_mixed_precision():
    data = _blobs()
    model = _model(amp_configs={"level": "O1", "init_loss_scaling": 1024.0})
    assert model._scaler is not None and model._scaler.get_loss_scaling() == 1024.0
    model.fit(data, epochs=4, batch_size=10, verbose=0)
    assert model.evaluate(data, batch_size=20, verbose=0)["acc"] == 1.0
    assert model.parameters()[0].dtype == np.float32  # O1 leaves the parameters in float32
    o2 = _model(amp_configs="O2")
    assert o2.parameters()[0].dtype == np.float16 and o2._optimizer._multi_precision
    with pytest.raises(ValueError, match="unknown keys"):
        _model(amp_configs={"level": "O1", "init_scale": 2.0})


def test_prepare_and_model_validate_their_arguments():
    with pytest.raises(TypeError, match="network"):
        paddle.Model(lambda x: x)
    model = paddle.Model(nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match="prepare"):
        model.train_batch([np.ones((2, 4), np.float32)], [np.zeros((2, 1), np.int64)])
    with pytest.raises(TypeError, match="metric"):
        model.prepare(loss=nn.CrossEntropyLoss(), metrics=[object()])
    with pytest.raises(TypeError, match="Dataset or DataLoader"):
        model.evaluate([1, 2, 3], verbose=0)
    assert model.summary()["total_params"] == 15
