"""hakl.rnn beyond the generic tests: a sampled grid of modes x layers x directions x
layouts x states x lengths against a float64 NumPy composition of the layer reference,
torch.nn.LSTM/GRU/RNN with copied weights (outputs and every gradient), dropout's seed,
empty sequences and the argument errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.backends import onednn
from hakl.kernels.rnn import reference
from hakl.kernels.rnn.reference import GATES

from ..conftest import backend_params

DEVICES = backend_params()


def _weights(mode, layers, dirs, n_in, h, dtype, rng):
    g = GATES[mode] * h
    out = []
    for layer in range(layers):
        for _ in range(dirs):
            size = n_in if layer == 0 else dirs * h
            out += [rng.uniform(-0.5, 0.5, s).astype(dtype) for s in ((g, size), (g, h), (g,), (g,))]
    return out


def _reference(mode, x, weights, h0, c0, layers, dirs, time_major, lengths):
    """Layers and directions composed from the float64 layer reference."""
    inp = np.asarray(x, np.float64) if time_major else np.asarray(x, np.float64).transpose(1, 0, 2)
    t, b, _ = inp.shape
    h = weights[1].shape[1]
    hn, cn = [], []
    for layer in range(layers):
        ys = []
        for d in range(dirs):
            k = layer * dirs + d
            w = [np.asarray(a, np.float64) for a in weights[4 * k:4 * k + 4]]
            s0 = np.zeros((b, h)) if h0 is None else h0[k]
            c = np.zeros((b, h)) if c0 is None else c0[k]
            y, hk, ck, _ = reference.forward(np, mode, inp, *w, s0, c, lengths, d == 1)
            ys.append(y)
            hn.append(hk)
            cn.append(ck)
        inp = np.concatenate(ys, axis=2)
    y = inp if time_major else inp.transpose(1, 0, 2)
    return y, np.stack(hn), (np.stack(cn) if mode == "LSTM" else None)


# (mode, layers, direction, time_major, states, lengths): 12 of the 128 combinations,
# every value of every axis at least four times
GRID = [p for i, p in enumerate(itertools.product(reference.MODES, (1, 2), ("forward", "bidirect"), (False, True),
                                                  (False, True), (False, True))) if i % 11 == 0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode, layers, direction, time_major, states, masked", GRID)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_matches_the_float64_composition(device, mode, layers, direction, time_major, states, masked, dtype,
                                              rng):
    backend = backends.get(device)
    if np.dtype(dtype) not in backend.dtypes():
        pytest.skip(f"{device} has no {dtype}")
    t, b, n_in, h = 6, 3, 5, 4
    dirs = 2 if direction == "bidirect" else 1
    x = rng.standard_normal((t, b, n_in) if time_major else (b, t, n_in)).astype(dtype)
    w = _weights(mode, layers, dirs, n_in, h, dtype, rng)
    h0 = rng.standard_normal((layers * dirs, b, h)).astype(dtype) if states else None
    c0 = rng.standard_normal((layers * dirs, b, h)).astype(dtype) if states and mode == "LSTM" else None
    lengths = np.array([t, 2, 0], np.int64) if masked else None
    dev = lambda a: None if a is None else backend.asarray(a)  # noqa: E731
    y, state = hakl.rnn(mode, dev(x), [dev(a) for a in w], dev(h0), dev(c0), layers, direction, time_major,
                        dev(lengths))
    want_y, want_h, want_c = _reference(mode, x, w, h0, c0, layers, dirs, time_major, lengths)
    tol = {"float32": 2e-5 * t, "float64": 1e-13 * t}[dtype]
    np.testing.assert_allclose(hakl.to_numpy(y), want_y, rtol=tol, atol=tol)
    got_h, got_c = state if mode == "LSTM" else (state, None)
    np.testing.assert_allclose(hakl.to_numpy(got_h), want_h, rtol=tol, atol=tol)
    if mode == "LSTM":
        np.testing.assert_allclose(hakl.to_numpy(got_c), want_c, rtol=tol, atol=tol)
    if masked:  # padding steps output zeros
        assert not hakl.to_numpy(y)[(slice(None), 2) if time_major else (2,)].any()


def _torch_layer(torch, mode, n_in, h, layers, bidirectional):
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
    kwargs = {"nonlinearity": "relu" if mode == "RNN_RELU" else "tanh"} if cls is torch.nn.RNN else {}
    return cls(n_in, h, layers, batch_first=True, bidirectional=bidirectional, **kwargs).double()


@pytest.mark.parametrize("mode", reference.MODES)
def test_outputs_and_gradients_match_torch(mode, rng):
    torch = pytest.importorskip("torch")
    b, t, n_in, h, layers = 3, 7, 5, 4, 2
    net = _torch_layer(torch, mode, n_in, h, layers, True)
    weights = [p.detach().numpy().copy() for p in net.parameters()]  # torch's order is Paddle's
    x = rng.standard_normal((b, t, n_in))
    h0 = rng.standard_normal((2 * layers, b, h))
    c0 = rng.standard_normal((2 * layers, b, h))
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    y_t, state_t = net(xt, (h0t, c0t) if mode == "LSTM" else h0t)
    lstm = mode == "LSTM"
    y, hn, cn, reserve = hakl.rnn_train(mode, x, weights, h0, c0 if lstm else None, layers, "bidirect")
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hn, (state_t[0] if lstm else state_t).detach().numpy(), rtol=1e-12, atol=1e-12)
    dy, dh, dc = rng.standard_normal(y.shape), rng.standard_normal(hn.shape), rng.standard_normal(hn.shape)
    loss = (y_t * torch.tensor(dy)).sum() + ((state_t[0] if lstm else state_t) * torch.tensor(dh)).sum()
    if lstm:
        np.testing.assert_allclose(cn, state_t[1].detach().numpy(), rtol=1e-12, atol=1e-12)
        loss = loss + (state_t[1] * torch.tensor(dc)).sum()
    loss.backward()
    rule = hakl.op.FUNCTIONS["rnn_train"].derivative
    dx, dw, dh0, dc0 = rule.backward((mode, x, weights, h0, c0 if lstm else None, layers, "bidirect"), {},
                                     (y, hn, cn, reserve), (dy, dh, dc if lstm else None, None))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, h0t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for g, p in zip(dw, net.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-10, atol=1e-12)
    if lstm:
        np.testing.assert_allclose(dc0, c0t.grad.numpy(), rtol=1e-10, atol=1e-12)
    else:
        assert dc0 is None


@pytest.mark.parametrize("mode", reference.MODES)
def test_inference_runs_onednn_and_matches_training(mode, rng):
    """hakl.rnn's float32 forward takes oneDNN's cell where it is available (nothing reads its
    workspace); rnn_train keeps the fused kernels, whose workspace the backward reads. Both
    give the same outputs, through two bidirectional layers (the second layer's input is 2H)."""
    from hakl.tuning import dispatch

    b, t, n_in, h, layers = 3, 6, 5, 4, 2
    x = rng.standard_normal((b, t, n_in)).astype(np.float32)
    bound = 1 / np.sqrt(h)
    weights = []
    for layer in range(layers):
        for _ in range(2):
            g = GATES[mode] * h
            shapes = ((g, n_in if layer == 0 else 2 * h), (g, h), (g,), (g,))
            weights += [rng.uniform(-bound, bound, s).astype(np.float32) for s in shapes]
    with dispatch.capture() as seen:
        y, state = hakl.rnn(mode, x, weights, num_layers=layers, direction="bidirect")
    variants = {dispatch.select(op, problem).variant.name for op, problem in seen if op.name == "rnn"}
    assert variants == ({"onednn"} if onednn.available() else {"fused"})
    y_t, hn_t, cn_t, _ = hakl.rnn_train(mode, x, weights, num_layers=layers, direction="bidirect")
    np.testing.assert_allclose(y, y_t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state[0] if mode == "LSTM" else state, hn_t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("gemm", ("onednn", "mkl"))
@pytest.mark.parametrize("mode", ("LSTM", "GRU"))
def test_fused_cpu_kernels_through_each_gemm_match_the_reference(mode, gemm, monkeypatch):
    """The fused CPU variants' GEMMs are the matmul family's choice (matmul.cpu.gemm): forced
    to each library here at the conformance shapes, forward and backward stay verified, with
    the gates kernels' parallel builds (which serve beside these libraries) at every size."""
    from hakl.backends import cpu_kernels
    from hakl.conformance import check_variant
    from hakl.kernels.matmul import MATMUL
    from hakl.kernels.rnn import RNN, RNN_GRAD
    from hakl.op import Problem

    from .test_matmul import forcing

    variant = MATMUL.variant("cpu", gemm)
    if not variant.supports(Problem("matmul", "cpu", "float32", (128, 128, 128), (("batch", ""), ("ta", False),
                                                                                  ("tb", False)))):
        pytest.skip(f"{gemm} does not serve float32 products here")
    forcing(monkeypatch, gemm)
    monkeypatch.setattr(cpu_kernels, "_threshold", 0)
    calls = []
    build = variant.build
    monkeypatch.setattr(variant, "build", lambda *a: calls.append(1) or build(*a))
    for op in (RNN, RNN_GRAD):
        report = check_variant(op, op.variant("cpu", "fused"), "float32", quick=True)
        assert report.checked and not report.failures, report.failures
    assert calls


def test_every_product_of_a_layer_runs_on_the_step_products_library(monkeypatch, rng):
    """Planted: MKL tuned for the per-step product alone (the rest heuristic: OpenBLAS at
    these sizes). Libraries whose threads spin after a call slow each other when an RNN's
    products alternate between them, so the fused variants' untuned library (config "gemm",
    tuned with the whole pass) is the step product's for every product of both passes."""
    from hakl.backends import mkl
    from hakl.kernels.matmul import MATMUL
    from hakl.kernels.matmul import cpu as matmul_cpu
    from hakl.kernels.rnn import _backward as rnn_backward  # rnn_train's declared derivative
    from hakl.tuning import dispatch
    from hakl.tuning.db import Choice
    from hakl.tuning.keys import key_for

    if not mkl.available():
        pytest.skip(f"MKL: {mkl.unavailable_reason()}")
    t, b, n_in, h = 3, 4, 5, 6
    step = matmul_cpu._problem(b, 4 * h, h, np.dtype(np.float32), False, False)
    mkl_variant = MATMUL.variant("cpu", "mkl")
    dispatch.database().choose(key_for(MATMUL, step), Choice("mkl", {}, mkl_variant.source_hash(), hakl.__version__,
                                                             1e-6))
    dispatch.clear_memo()
    assert matmul_cpu.gemm_variant(b, 4 * h, h, np.float32) == "mkl"
    assert dispatch.select(MATMUL, matmul_cpu._problem(t * b, 4 * h, n_in, np.dtype(np.float32), False,
                                                       True)).variant.name == "numpy"
    served = []
    select = dispatch.select

    def recording(op, problem, *rest):
        chosen = select(op, problem, *rest)
        if op is MATMUL:
            served.append(chosen.variant.name)
        return chosen
    monkeypatch.setattr(dispatch, "select", recording)
    w = _weights("LSTM", 1, 1, n_in, h, "float32", rng)
    x = rng.standard_normal((b, t, n_in)).astype(np.float32)
    out = hakl.rnn_train("LSTM", x, w)
    rnn_backward(("LSTM", x, w), {}, out, (rng.standard_normal((b, t, h)).astype(np.float32), None, None, None))
    assert served and set(served) == {"mkl"}, served


def test_dropout_between_layers_follows_the_seed(rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    w = _weights("GRU", 3, 1, 3, 4, "float32", rng)
    plain = hakl.rnn("GRU", x, w, num_layers=3)[0]
    assert np.array_equal(hakl.rnn("GRU", x, w, num_layers=3, dropout=0.5)[0], plain)  # not training: none
    a = hakl.rnn("GRU", x, w, num_layers=3, dropout=0.5, training=True, seed=4)[0]
    b = hakl.rnn("GRU", x, w, num_layers=3, dropout=0.5, training=True, seed=4)[0]
    c = hakl.rnn("GRU", x, w, num_layers=3, dropout=0.5, training=True, seed=5)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, plain)
    # one layer: nothing between layers to drop
    w1 = w[:4]
    assert np.array_equal(hakl.rnn("GRU", x, w1, dropout=0.5, training=True, seed=4)[0], hakl.rnn("GRU", x, w1)[0])


def test_an_empty_sequence_returns_the_initial_state(rng):
    w = _weights("LSTM", 1, 1, 3, 2, "float64", rng)
    h0, c0 = rng.standard_normal((1, 4, 2)), rng.standard_normal((1, 4, 2))
    y, (h, c) = hakl.rnn("LSTM", np.zeros((4, 0, 3)), w, h0, c0)
    assert y.shape == (4, 0, 2)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(c, c0)


@pytest.mark.parametrize("change, error, words", [
    ({"mode": "LSTMX"}, ValueError, "argument 'mode' must be one of"),
    ({"direction": "both"}, ValueError, "argument 'direction' must be"),
    ({"x": np.zeros((2, 3), np.float32)}, ValueError, "argument 'x' must be 3-D"),
    ({"x": np.zeros((2, 3, 4), np.int32)}, TypeError, "argument 'x' must have"),
    ({"weights": "w"}, TypeError, "argument 'weights' must be a list"),
    ({"drop": 1}, ValueError, r"argument 'weights' must hold 4 arrays"),
    ({"w0": np.zeros((8, 5), np.float32)}, ValueError, r"argument 'weights\[0\]' \(weight_ih of layer 0\)"),
    ({"w0": np.zeros((8, 4), np.float64)}, TypeError, r"argument 'weights\[0\]' has dtype float64"),
    ({"h0": np.zeros((2, 2, 2), np.float32)}, ValueError, "argument 'h0' has shape"),
    ({"c0": np.zeros((1, 2, 2), np.float32), "mode": "GRU"}, ValueError, "argument 'c0' is for LSTM only"),
    ({"sequence_length": np.array([1, 9])}, ValueError, r"argument 'sequence_length' must hold lengths in \[0, 3\]"),
    ({"sequence_length": np.array([1])}, ValueError, "argument 'sequence_length' has shape"),
    ({"sequence_length": np.array([1.0, 2.0])}, TypeError, "argument 'sequence_length' must have an integer"),
    ({"num_layers": 0}, ValueError, "argument 'num_layers'"),
    ({"dropout": 1.0}, ValueError, "argument 'dropout'"),
])
def test_errors_name_the_argument(change, error, words, rng):
    args = {"mode": "LSTM", "x": np.zeros((2, 3, 4), np.float32),
            "weights": _weights("LSTM", 1, 1, 4, 2, "float32", rng)}
    change = dict(change)
    if "drop" in change:
        args["weights"] = args["weights"][:-change.pop("drop")]
    if "w0" in change:
        args["weights"][0] = change.pop("w0")
    if change.get("mode") == "GRU":
        args["weights"] = _weights("GRU", 1, 1, 4, 2, "float32", rng)
    args.update(change)
    with pytest.raises(error, match=rf"^rnn: {words}"):
        hakl.rnn(**args)


def test_the_bench_replays_an_rnn_layer_once_not_its_products_again(monkeypatch):
    """rnn_train's layer launchers make the products themselves: the benchmark tunes those
    products (nested launches) but times the layers alone, or each GEMM ran twice."""
    from hakl.bench import Benchmark, Prepared, case
    from hakl.kernels.matmul import cpu as matmul_cpu
    from hakl.kernels.rnn import bench as rnn_bench

    small = Benchmark("rnn_train", "rnn_train", "rnn", (case(4, 2, 3, 5, mode="LSTM"),), dtypes=("float32",),
                      inputs=rnn_bench._inputs, call=rnn_bench._train)
    p = Prepared(small, "cpu", "float32", small.cases[0].label, None, 1 << 12)
    p.launches  # recorded: the public call, once
    calls = []
    gemm = matmul_cpu.gemm
    monkeypatch.setattr(matmul_cpu, "gemm", lambda *a, **k: calls.append(1) or gemm(*a, **k))
    p.call(*p.sets[0])
    per_call = len(calls)
    calls.clear()
    p.runner("hakl")()
    assert per_call and len(calls) == per_call
    names = {launch.op.name for launch in p.timed[0]}
    assert "matmul" not in names and {"rnn", "rnn_grad"} <= names
    assert any(launch.nested and launch.op.name == "matmul" for launch in p.launches[0])
