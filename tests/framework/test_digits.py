"""The training run: the digits MLP reaches its accuracy bar, a seed repeats its curve,
`hakl train digits` prints the table and the last line, and a few steps on OpenCL
(PoCL) match the CPU's losses."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from hakl import backends
from hakl.cli import app

pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn (the train extra)")

from hakl.framework import digits  # noqa: E402

FAST = {"epochs": 3, "batch_size": 32, "lr": 1e-2, "hidden": 64}  # serial-sized kernels: seconds on 2 cores


def test_digits_mlp_reaches_its_accuracy_bar_and_repeats_with_a_seed():
    curve = digits.train("mlp", "cpu", seed=0, **FAST)
    assert curve[-1].accuracy >= 0.95, [e.accuracy for e in curve]
    assert curve[0].loss > curve[-1].loss
    again = digits.train("mlp", "cpu", seed=0, **{**FAST, "epochs": 2})
    assert [e.loss for e in again] == [e.loss for e in curve[:2]]
    assert any(v.startswith("elementwise:") for v in curve[0].variants)


@pytest.mark.parametrize("amp", ["bfloat16", "float16"])
def test_digits_mlp_trains_under_mixed_precision(amp):
    """auto_cast O1 in bfloat16 (the CPU's matmul) or float16 (with a GradScaler): the
    Linear layers' products run in that dtype, and the MLP still reaches its bar."""
    curve = digits.train("mlp", "cpu", seed=0, amp=amp, **FAST)
    assert curve[-1].accuracy >= 0.95, [e.accuracy for e in curve]
    assert any(v.startswith("matmul:") for v in curve[0].variants)
    assert any(v.startswith("cast:") for v in curve[0].variants)
    with pytest.raises(ValueError, match="--amp 'float8'"):
        digits.train("mlp", "cpu", amp="float8", **FAST)


def test_train_command_prints_the_table_and_the_test_accuracy_last():
    result = CliRunner().invoke(app, ["train", "digits", "--epochs", "1", "--batch-size", "32", "--lr", "0.01"])
    assert result.exit_code == 0, result.output
    assert "samples/s" in result.output and "variants" in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("test accuracy: 0.") and len(last.split(": ")[1]) == 6


def test_digits_lstm_reaches_its_fast_settings_bar():
    """6 epochs of the LSTM (each image 8 steps of 8 features); the full run (15 epochs)
    passes 0.97 (the issue's bar), a seed repeats the curve."""
    curve = digits.train("lstm", "cpu", seed=0, **{**FAST, "epochs": 6})
    assert curve[-1].accuracy >= 0.95, [e.accuracy for e in curve]
    assert any(v.startswith("rnn:") for v in curve[0].variants) and any(v.startswith("rnn_grad:")
                                                                        for v in curve[0].variants)


def test_train_command_runs_the_gru():
    result = CliRunner().invoke(app, ["train", "digits", "--model", "gru", "--epochs", "1", "--batch-size", "32",
                                      "--lr", "0.01"])
    assert result.exit_code == 0, result.output
    assert "rnn:" in result.output and result.output.strip().splitlines()[-1].startswith("test accuracy: 0.")


@pytest.mark.skipif(not backends.get("opencl").available, reason="no OpenCL device")
def test_a_few_steps_on_opencl_match_the_cpu_losses():
    settings = {**FAST, "epochs": 1}
    cpu = digits.train("mlp", "cpu", seed=3, **settings)
    cl = digits.train("mlp", "opencl", seed=3, **settings)
    np.testing.assert_allclose(cl[0].loss, cpu[0].loss, rtol=0, atol=1e-4)
    assert abs(cl[0].accuracy - cpu[0].accuracy) <= 1 / digits.TEST_SIZE
    import hakl.framework as paddle

    paddle.set_device("cpu")
