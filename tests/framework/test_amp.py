"""paddle.amp: auto_cast's O1 / O2 lists, gradients through the casts, decorate, GradScaler."""
from __future__ import annotations

import numpy as np
import pytest

import hakl.framework as paddle
from hakl import backends
from hakl.framework import amp, nn
from hakl.framework.nn import functional as F
from hakl.framework.tensor import call
from tests.conftest import backend_params

F16, F32 = np.dtype("float16"), np.dtype("float32")


def _x(shape=(2, 4), dtype=np.float32, place=None):
    return paddle.to_tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype), place=place)


@pytest.mark.parametrize("device", backend_params(("cpu",)))  # opencl: test_a_mixed_precision_step_on_opencl_matches_cpu
def test_o1_runs_the_white_list_in_float16_the_black_list_in_float32_and_promotes_gray_ops(device):
    x, w = _x(place=device), _x((4, 3), place=device)
    h16 = _x((2, 3), np.float16, place=device)
    with amp.auto_cast():
        assert paddle.matmul(x, w).dtype == F16  # white
        assert F.softmax(h16).dtype == F32  # black: float16 input cast up
        assert paddle.mean(h16).dtype == F32 and paddle.sum(h16).dtype == F32
        assert F.relu(h16).dtype == F16  # gray, one dtype: left alone
        assert call("add", h16, x16_as_32 := paddle.cast(h16, "float32")).dtype == F32  # gray, mixed: widest
        assert (h16 + x16_as_32).dtype == F16  # an operator casts to its left operand first (Paddle 2.0's)
        assert F.relu(x).dtype == F32
        assert paddle.cast(x, "float16").dtype == F16  # an explicit cast is honoured
    assert paddle.matmul(x, w).dtype == F32  # outside: as written
    paddle.set_device(device)
    try:
        with amp.auto_cast():
            assert nn.Linear(4, 3)(x).dtype == F32  # float16 matmul, then the float32 bias add promotes
    finally:
        paddle.set_device("cpu")


def test_o1_keeps_layer_norm_and_cross_entropy_in_float32_and_float64_alone():
    h16 = _x((4, 6), np.float16)
    label = paddle.to_tensor(np.array([0, 1, 2, 3]))
    with amp.auto_cast():
        assert nn.LayerNorm(6)(h16).dtype == F32
        assert F.cross_entropy(h16, label).dtype == F32
        assert paddle.matmul(_x((2, 4), np.float64), _x((4, 3), np.float64)).dtype == np.float64


def test_custom_lists_take_paddle_op_names_and_move_ops_between_lists():
    a, b = _x(), _x()
    with amp.auto_cast(custom_white_list={"elementwise_add"}):
        assert (a + b).dtype == F16
    with amp.auto_cast(custom_black_list=["matmul_v2"]):
        assert paddle.matmul(a, _x((4, 3))).dtype == F32
    with amp.auto_cast(custom_white_list={"softmax"}):
        assert F.softmax(a).dtype == F16
    with pytest.raises(ValueError, match="both"):
        amp.auto_cast(custom_white_list={"exp"}, custom_black_list={"exp"})
    with pytest.raises(TypeError, match="custom_white_list"):
        amp.auto_cast(custom_white_list="matmul")
    with pytest.raises(ValueError, match="level"):
        amp.auto_cast(level="O3")
    with pytest.raises(ValueError, match="auto_cast: argument 'dtype' = 'float8'"):
        amp.auto_cast(dtype="float8")


def test_bfloat16_o1_runs_matmul_in_bfloat16_on_the_cpu_and_the_rest_in_float32():
    """dtype="bfloat16" (Paddle 2.3's argument): the white list in bfloat16 where the op takes
    it (matmul on the CPU), every op that has no bfloat16 kernel in float32, gradients back
    in the parameters' float32 close to the float32 step's (bfloat16 keeps 8 bits)."""
    BF16 = np.dtype("bfloat16")
    paddle.seed(0)
    fc = nn.Linear(4, 3)
    x, w = _x((8, 4)), _x((4, 3))
    with amp.auto_cast(dtype="bfloat16"):
        product = paddle.matmul(x, w)
        assert product.dtype == BF16
        assert F.relu(product).dtype == F32  # gray, but relu has no bfloat16: float32
        assert paddle.mean(product).dtype == F32  # black
        loss = paddle.mean(F.relu(fc(x)))
    assert loss.dtype == F32 and paddle.matmul(x, w).dtype == F32
    loss.backward()
    mixed = fc.weight.grad
    assert mixed.dtype == F32 and fc.bias.grad.dtype == F32
    fc.clear_gradients()
    paddle.mean(F.relu(fc(x))).backward()
    np.testing.assert_allclose(mixed, fc.weight.grad, rtol=3e-2, atol=3e-2)
    with amp.auto_cast(level="O2", dtype="bfloat16"):
        assert paddle.matmul(x, w).dtype == BF16 and F.relu(x).dtype == F32
    with pytest.raises(NotImplementedError, match="bfloat16"):
        amp.decorate(fc, level="O2", dtype="bfloat16")
    with pytest.raises(ValueError, match="decorate: argument 'dtype' = 'float8'"):
        amp.decorate(fc, dtype="float8")


def test_bfloat16_tensors_cast_and_refuse_ops_without_a_bfloat16_kernel():
    x = np.array([1.5, -2.25, 3e38, 1.0 + 2.0 ** -8], np.float32)
    t = paddle.to_tensor(x).astype("bfloat16")
    assert t.dtype == paddle.bfloat16 == np.dtype("bfloat16")
    np.testing.assert_array_equal(t.astype("float32").numpy(), x.astype("bfloat16").astype(np.float32))
    assert t.astype("float32").numpy()[3] == 1.0  # the tie rounds to even
    with pytest.raises(TypeError, match=r"add: argument 'x' must have a dtype .* got bfloat16"):
        t + t


def test_nesting_disabling_and_the_decorator_form():
    a, w = _x(), _x((4, 3))
    with amp.auto_cast():
        with amp.auto_cast(enable=False):
            assert paddle.matmul(a, w).dtype == F32
        assert paddle.matmul(a, w).dtype == F16
        assert amp.amp_state().level == "O1"
    assert amp.amp_state() is None

    @amp.auto_cast(level="O2")
    def forward(x):
        return F.relu(x)

    assert forward(a).dtype == F16 and amp.amp_state() is None


def test_o2_runs_almost_everything_in_float16_but_the_embedding():
    x = _x()
    emb = nn.Embedding(5, 3)
    with amp.auto_cast(level="O2"):
        assert F.relu(x).dtype == F16 and paddle.mean(x).dtype == F16
        assert nn.Linear(4, 3)(x).dtype == F16
        assert emb(paddle.to_tensor(np.array([1, 2]))).dtype == F32
        assert paddle.argmax(x, axis=1).dtype == np.int64


def test_gradients_flow_back_through_the_casts_in_the_parameters_dtype():
    paddle.seed(0)
    fc = nn.Linear(4, 3)
    x = _x()
    with amp.auto_cast():
        loss = paddle.mean(F.relu(fc(x)))
    assert loss.dtype == F32
    loss.backward()
    mixed = fc.weight.grad
    assert mixed.dtype == F32 and fc.bias.grad.dtype == F32
    fc.clear_gradients()
    paddle.mean(F.relu(fc(x))).backward()
    np.testing.assert_allclose(mixed, fc.weight.grad, rtol=2e-3, atol=2e-3)  # float16 rounding of x and w


def test_decorate_o2_makes_parameters_float16_but_layer_norms_and_turns_on_master_weights():
    net = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    opt = paddle.optimizer.AdamW(parameters=net.parameters())
    same_net, same_opt = amp.decorate(net, opt, level="O2")
    assert same_net is net and same_opt is opt and opt._multi_precision
    assert net[0].weight.dtype == F16 and net[1].weight.dtype == F32
    with amp.auto_cast(level="O2"):
        loss = paddle.mean(net(_x()) * _x())  # (the mean of a LayerNorm's output alone has no gradient)
    scaler = amp.GradScaler(init_loss_scaling=128.0)
    scaled = scaler.scale(loss)
    scaled.backward()
    before = net[0].weight.numpy().astype(np.float32)
    scaler.minimize(opt, scaled)
    assert net[0].weight.grad.dtype == F16 and not np.array_equal(net[0].weight.numpy(), before)
    assert amp.decorate(net, level="O1") is net
    with pytest.raises(TypeError, match="models"):
        amp.decorate(object(), level="O2")


# ---- GradScaler ---------------------------------------------------------------------------


def _setup(scale=1024.0, **kwargs):
    paddle.seed(1)
    fc = nn.Linear(3, 2)
    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=fc.parameters())
    return fc, opt, amp.GradScaler(init_loss_scaling=scale, **kwargs)


def _loss(fc):
    return paddle.mean(fc(paddle.to_tensor(np.ones((2, 3), np.float32))))


def test_minimize_with_finite_gradients_is_the_unscaled_step():
    fc, opt, scaler = _setup()
    scaled = scaler.scale(_loss(fc))
    assert scaled.item() == pytest.approx(1024.0 * _loss(fc).item(), rel=1e-6)
    scaled.backward()
    w = fc.weight.numpy()
    scaler.minimize(opt, scaled)
    np.testing.assert_allclose(fc.weight.numpy(), w - 0.1 * np.full_like(w, 0.5), rtol=1e-6)  # d mean / d w
    assert scaler.get_loss_scaling() == 1024.0


def test_inf_or_nan_gradients_skip_the_step_and_the_scale_drops_after_decr_every_n():
    fc, opt, scaler = _setup(decr_every_n_nan_or_inf=2, incr_every_n_steps=2)
    w = fc.weight.numpy()
    for bad, expected_scale in ((np.inf, 1024.0), (np.nan, 512.0)):
        scaled = scaler.scale(_loss(fc))
        scaled.backward()
        g = fc.bias._grad.copy()
        g[0] = bad
        fc.bias._grad = g
        assert scaler.minimize(opt, scaled) == (None, None)
        opt.clear_grad()
        np.testing.assert_array_equal(fc.weight.numpy(), w)  # skipped
        assert scaler.get_loss_scaling() == expected_scale
    for expected_scale in (512.0, 1024.0):  # two finite steps in a row grow it
        scaler.scale(_loss(fc)).backward()
        scaler.step(opt)
        scaler.update()
        opt.clear_grad()
        assert scaler.get_loss_scaling() == expected_scale
    assert not np.array_equal(fc.weight.numpy(), w)


def test_float16_gradients_that_overflow_are_found_on_the_device():
    fc = nn.Linear(3, 2)
    fc.to(dtype="float16")
    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=fc.parameters(), multi_precision=True)
    scaler = amp.GradScaler(init_loss_scaling=2.0 ** 20, decr_every_n_nan_or_inf=1)
    loss = paddle.sum(fc(paddle.to_tensor(np.full((2, 3), 100.0, np.float16))))
    scaled = scaler.scale(loss)
    assert scaled.dtype == F32  # a float16 loss is scaled in float32
    scaled.backward()
    assert not np.isfinite(fc.weight.grad).all()
    w = fc.weight.numpy()
    scaler.minimize(opt, scaled)
    np.testing.assert_array_equal(fc.weight.numpy(), w)
    assert scaler.get_loss_scaling() == 2.0 ** 19


def test_step_protocol_errors_disabled_scaler_and_state_dict():
    fc, opt, scaler = _setup()
    scaler.scale(_loss(fc)).backward()
    scaler.unscale_(opt)
    np.testing.assert_allclose(fc.weight.grad, 0.5, rtol=1e-6)  # unscaled in place
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step"):
        scaler.step(opt)
    scaler.update()
    state = scaler.state_dict()
    other = amp.GradScaler()
    other.load_state_dict(state)
    assert other.get_loss_scaling() == 1024.0 and other.state_dict()["incr_count"] == 1
    with pytest.raises(TypeError, match="Tensor"):
        scaler.scale(1.0)
    with pytest.raises(ValueError, match="incr_ratio"):
        amp.GradScaler(incr_ratio=1.0)
    off = amp.GradScaler(enable=False)
    loss = _loss(fc)
    assert off.scale(loss) is loss and off.state_dict() == {} and not off.is_enable()


@pytest.mark.skipif(not backends.get("opencl").available, reason="no OpenCL device")
def test_a_mixed_precision_step_on_opencl_matches_cpu():
    def run(device):
        paddle.set_device(device)
        try:
            fc, opt, scaler = _setup(scale=256.0)
            with amp.auto_cast():
                loss = paddle.mean(F.relu(fc(paddle.to_tensor(np.ones((2, 3), np.float32)))))
            scaled = scaler.scale(loss)
            scaled.backward()
            scaler.minimize(opt, scaled)
            return fc.weight.numpy()
        finally:
            paddle.set_device("cpu")

    np.testing.assert_allclose(run("opencl"), run("cpu"), rtol=1e-3, atol=1e-4)
