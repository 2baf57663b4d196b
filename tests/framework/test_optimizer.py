"""paddle.optimizer against NumPy transcriptions of PaddlePaddle 2.0's update formulas,
gradient clipping (ClipGradByNorm keeps zero gradients zero, #32038), schedulers, state."""
from __future__ import annotations

import math

import numpy as np
import pytest

import hakl.framework as paddle
from hakl.framework import nn

STEPS = 3


def _setup(rng):
    values = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(v.shape) for v in values] for _ in range(STEPS)]
    params = [paddle.create_parameter(list(v.shape), "float64", name=f"p{i}",
                                      default_initializer=nn.initializer.Assign(v)) for i, v in enumerate(values)]
    return values, grads, params


def _run(opt, params, grads):
    for step_grads in grads:
        loss = None
        for p, g in zip(params, step_grads):
            term = (p * paddle.to_tensor(g)).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        opt.step()
        opt.clear_grad()


def _adam_reference(values, grads, lr, b1, b2, eps, coeff=0.0, decay=(True, True)):
    out = []
    for i, p in enumerate(values):
        p, m1, m2 = p.copy(), np.zeros_like(p), np.zeros_like(p)
        for t, step in enumerate(grads, start=1):
            g = step[i]
            if coeff and decay[i]:
                p = p * (1 - lr * coeff)
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b2 * m2 + (1 - b2) * g * g
            lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            p = p - lr_t * (m1 / (np.sqrt(m2) + eps * math.sqrt(1 - b2 ** t)))
        out.append(p)
    return out


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam", "adam_l2", "adamw"])
def test_updates_follow_paddles_formulas(kind):
    rng = np.random.default_rng(7)
    values, grads, params = _setup(rng)
    lr = 0.1
    if kind == "sgd":
        opt = paddle.optimizer.SGD(lr, parameters=params)
        want = [v - lr * sum(g[i] for g in grads) for i, v in enumerate(values)]
    elif kind in ("momentum", "nesterov"):
        nesterov = kind == "nesterov"
        opt = paddle.optimizer.Momentum(lr, momentum=0.8, parameters=params, use_nesterov=nesterov)
        want = []
        for i, v in enumerate(values):
            p, vel = v.copy(), np.zeros_like(v)
            for step in grads:
                vel = 0.8 * vel + step[i]
                p = p - lr * (step[i] + 0.8 * vel if nesterov else vel)
            want.append(p)
    elif kind == "adam":
        opt = paddle.optimizer.Adam(lr, beta1=0.8, beta2=0.9, epsilon=1e-6, parameters=params)
        want = _adam_reference(values, grads, lr, 0.8, 0.9, 1e-6)
    elif kind == "adam_l2":  # weight_decay on Adam is L2 on the gradient
        opt = paddle.optimizer.Adam(lr, parameters=params, weight_decay=0.1)
        l2 = [[g[i] for i in range(2)] for g in grads]
        want = []
        for i, v in enumerate(values):
            p, m1, m2 = v.copy(), np.zeros_like(v), np.zeros_like(v)
            for t, step in enumerate(l2, start=1):
                g = step[i] + 0.1 * p
                m1, m2 = 0.9 * m1 + 0.1 * g, 0.999 * m2 + 0.001 * g * g
                p = p - lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * (
                    m1 / (np.sqrt(m2) + 1e-8 * math.sqrt(1 - 0.999 ** t)))
            want.append(p)
    else:
        opt = paddle.optimizer.AdamW(lr, parameters=params, weight_decay=0.3,
                                     apply_decay_param_fun=lambda name: name == "p0")
        want = _adam_reference(values, grads, lr, 0.9, 0.999, 1e-8, coeff=0.3, decay=(True, False))
    _run(opt, params, grads)
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.numpy(), w, rtol=1e-12, atol=1e-12, err_msg=kind)


def test_clip_grad_by_norm_keeps_zero_gradients_zero_and_clips_each_on_its_own():
    zero = paddle.create_parameter([3], "float32", default_initializer=nn.initializer.Constant(1.0))
    big = paddle.create_parameter([2], "float32", default_initializer=nn.initializer.Constant(1.0))
    ((zero * 0.0).sum() + (big * paddle.to_tensor(np.array([3.0, 4.0], np.float32))).sum()).backward()
    clipped = dict((id(p), g) for p, g in nn.ClipGradByNorm(1.0)([(zero, zero._grad), (big, big._grad)]))
    np.testing.assert_array_equal(np.asarray(clipped[id(zero)]), np.zeros(3))  # not NaN (#32038)
    np.testing.assert_allclose(np.asarray(clipped[id(big)]), [0.6, 0.8], rtol=1e-6)
    opt = paddle.optimizer.SGD(1.0, parameters=[zero, big], grad_clip=nn.ClipGradByNorm(1.0))
    opt.step()
    np.testing.assert_array_equal(zero.numpy(), np.ones(3))
    np.testing.assert_allclose(big.numpy(), [0.4, 0.2], rtol=1e-6)


@pytest.mark.parametrize("clip_norm", [1.0, 3.5, 1e-31, 0.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clip_grad_by_norms_scale_is_paddles_formula_to_the_bit(clip_norm, dtype):
    """s = t + (1 - t) clip / (norm + eps) (Paddle 2.0.1), however it is computed, at norms
    below, at and just above clip_norm, tiny, zero, inf and NaN."""
    clip = nn.ClipGradByNorm(clip_norm)
    dt = np.dtype(dtype)
    c = dt.type(clip_norm)
    for norm in (0.0, 1e-31, 1e-20, 0.5, clip_norm, np.nextafter(c, dt.type(np.inf)), 3.0, 1e6, np.inf, np.nan):
        n = np.array(norm, dt)
        t = (n <= c).astype(dt)
        eps = (n <= dt.type(1e-30)).astype(dt) * dt.type(1e-6)
        with np.errstate(all="ignore"):
            want = t + (dt.type(1) - t) * (c / (n + eps))
        np.testing.assert_array_equal(np.asarray(clip._scale(n)), want, err_msg=f"norm {norm!r}")


def test_clip_grad_by_global_norm():
    a = paddle.create_parameter([1], "float64", default_initializer=nn.initializer.Constant(0.0))
    b = paddle.create_parameter([1], "float64", default_initializer=nn.initializer.Constant(0.0))
    (a * 3.0 + b * 4.0).sum().backward()
    out = nn.ClipGradByGlobalNorm(1.0)([(a, a._grad), (b, b._grad)])
    np.testing.assert_allclose([float(np.asarray(g)[0]) for _, g in out], [0.6, 0.8], rtol=1e-12)
    small = nn.ClipGradByGlobalNorm(10.0)([(a, a._grad), (b, b._grad)])
    np.testing.assert_allclose([float(np.asarray(g)[0]) for _, g in small], [3.0, 4.0], rtol=1e-12)


def test_adamw_multi_precision_keeps_float32_masters_for_float16_parameters():
    p = paddle.create_parameter([4], "float16", default_initializer=nn.initializer.Constant(1.0))
    opt = paddle.optimizer.AdamW(1e-4, parameters=[p], weight_decay=0.0, multi_precision=True)
    for _ in range(3):
        (p * paddle.to_tensor(np.ones(4, np.float16))).sum().backward()
        opt.step()
        opt.clear_grad()
    master = opt.state_dict()["%s_fp32_master_0" % p.name]
    assert master.dtype == paddle.float32 and p.dtype == paddle.float16
    # three steps of ~lr each: below float16's resolution at 1 (2**-10), kept by the master
    np.testing.assert_allclose(master.numpy(), 1 - 3e-4, rtol=1e-5)
    np.testing.assert_array_equal(p.numpy(), master.numpy().astype(np.float16))


def test_lr_schedulers_set_lr_and_state_round_trip():
    sched = paddle.optimizer.lr.StepDecay(0.1, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append(sched())
        sched.step()
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.05, 0.05, 0.025])
    cos = paddle.optimizer.lr.CosineAnnealingDecay(1.0, T_max=4)
    for _ in range(2):
        cos.step()
    assert abs(cos() - 0.5) < 1e-12
    rng = np.random.default_rng(0)
    values, grads, params = _setup(rng)
    opt = paddle.optimizer.Adam(learning_rate=sched, parameters=params)
    with pytest.raises(RuntimeError, match="LRScheduler"):
        opt.set_lr(0.5)
    _run(opt, params, grads[:1])
    state = opt.state_dict()
    assert {"p0_moment1_0", "p0_moment2_0", "p0_beta1_pow_acc_0", "LR_Scheduler"} <= set(state)
    fresh = paddle.optimizer.Adam(learning_rate=paddle.optimizer.lr.StepDecay(0.1, 2, 0.5), parameters=params)
    fresh.set_state_dict(state)
    np.testing.assert_array_equal(fresh.state_dict()["p0_moment2_0"].numpy(), state["p0_moment2_0"].numpy())
    assert fresh.get_lr() == opt.get_lr() and fresh._steps == opt._steps
    plain = paddle.optimizer.SGD(0.1, parameters=params)
    plain.set_lr(0.01)
    assert plain.get_lr() == 0.01
