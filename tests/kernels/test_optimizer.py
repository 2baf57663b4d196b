"""Optimizer family: what the generic conformance cannot see — 10 steps of the public
calls against the NumPy transcription of Paddle 2.0's formulas (every CPU variant),
per-parameter decay and lr ratios, float16 parameters following their float32 masters
under a tiny lr, empty parameters, mixed dtypes in one call, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl.kernels import optimizer as opt
from hakl.kernels.optimizer import reference
from hakl.tuning import dispatch


def _model(rng, dtype, shapes, master=False):
    w = [np.asarray(rng.standard_normal(s), np.float32 if master else dtype) for s in shapes]
    return {"params": [a.astype(dtype) for a in w], "moments1": [np.zeros(s, np.float32 if master else dtype)
                                                                 for s in shapes],
            "moments2": [np.zeros(s, np.float32 if master else dtype) for s in shapes],
            "master_params": [a.copy() for a in w] if master else None}


def _reference_steps(shapes, grads, state, steps, kw):
    """The float64 transcription, stepped like the public function."""
    n = len(shapes)
    s = {k: [None if a is None else np.asarray(a, np.float64) for a in v] for k, v in state.items() if v is not None}
    master = "master_params" in s
    decay = tuple(kw.get("decay") or (True,) * n)
    for t in range(1, steps + 1):
        params = dict(lr=kw["lr"], step=t, beta1=0.9, beta2=0.999, epsilon=1e-8, coeff=kw.get("coeff", 0.01),
                      decay=decay, lr_ratios=tuple(kw.get("lr_ratios") or (1.0,) * n))
        problem = opt.problem_for("adamw", "cpu", "float64", [int(np.prod(x)) for x in shapes], master, params)
        flat = s["params"] + [g.astype(np.float64) for g in grads[t - 1]] + s["moments1"] + s["moments2"] + \
            (s["master_params"] if master else [])
        out = reference.adamw(problem, *flat)
        k = len(shapes)
        s["params"], s["moments1"], s["moments2"] = list(out[:k]), list(out[k:2 * k]), list(out[2 * k:3 * k])
        if master:
            s["master_params"] = list(out[3 * k:])
    return s


@pytest.mark.parametrize("variant", ["multi", "fused", "per_param"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ten_adamw_steps_follow_paddles_formulas(variant, dtype, rng):
    shapes = [(40,), (0,), (7, 9), (), (300,)]
    kw = dict(lr=0.01, coeff=0.05, decay=[True, False, True, False, True], lr_ratios=[1.0, 0.5, 2.0, 1.0, 0.25])
    state = _model(rng, dtype, shapes)
    start = {k: [a.copy() for a in v] for k, v in state.items() if v is not None}
    grads = [[np.asarray(rng.standard_normal(s), dtype) for s in shapes] for _ in range(10)]
    with _forced(variant):
        for t in range(10):
            hakl.adamw(state["params"], grads[t], state["moments1"], state["moments2"], step=t + 1, **kw)
    want = _reference_steps(shapes, grads, start, 10, kw)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for name in ("params", "moments1", "moments2"):
        for got, ref in zip(state[name], want[name]):
            # Ten rounded updates leave a few ulps of the array's largest value on an element
            # that has come near 0 (fresh inputs: 1.1e-6 at 0.0064 beside values of 2.1 failed once).
            atol = max(rtol * 0.1, 10 * np.finfo(dtype).eps * np.abs(ref).max(initial=0.0))
            np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=f"{variant} {name}")
    # decay really is per parameter: parameter 3 (not decayed) differs from a decayed run's
    assert not np.allclose(_reference_steps(shapes, grads, start, 10, dict(kw, decay=None))["params"][3],
                           want["params"][3], rtol=1e-9, atol=0)


@pytest.mark.parametrize("variant", ["multi", "fused", "per_param"])
def test_float16_parameters_follow_their_float32_masters(variant):
    rng = np.random.default_rng(7)
    shapes = [(64,), (5, 3)]
    state = _model(rng, np.float16, shapes, master=True)
    start = [p.copy() for p in state["params"]]
    start_masters = [m.copy() for m in state["master_params"]]
    plain = [p.copy() for p in state["params"]]
    plain_m = [np.zeros(s, np.float16) for s in shapes], [np.zeros(s, np.float16) for s in shapes]
    grads = [[np.full(s, 1.0, np.float16) for s in shapes] for _ in range(10)]
    with _forced(variant):
        for t in range(10):
            hakl.adamw(state["params"], grads[t], state["moments1"], state["moments2"], lr=2e-5, step=t + 1,
                       master_params=state["master_params"])
            hakl.adamw(plain, grads[t], *plain_m, lr=2e-5, step=t + 1)
    for p, m, m0, q, p0 in zip(state["params"], state["master_params"], start_masters, plain, start):
        np.testing.assert_array_equal(p, m.astype(np.float16))  # the param is the master's cast
        assert (m != m0).all()  # every master moved (by ~2e-4) ...
        assert (q == p0).mean() > 0.5  # ... where steps of 2e-5 on float16 alone mostly round away
    moved = np.concatenate([(p != p0).ravel() for p, p0 in zip(state["params"], start)])
    assert moved.any()  # and the float16 params crossing a rounding step follow their masters
    zeros = [np.zeros(s, np.float32) for s in shapes]
    want = _reference_steps(shapes, grads, {"params": start, "master_params": start_masters, "moments1": zeros,
                                            "moments2": zeros}, 10, dict(lr=2e-5))
    for got, ref in zip(state["master_params"], want["master_params"]):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


def test_adam_sgd_momentum_match_paddle(rng):
    p = [rng.standard_normal(5).astype(np.float32)]
    g = [rng.standard_normal(5).astype(np.float32)]
    v = [np.full(5, 0.5, np.float32)]
    p0, v0 = p[0].astype(np.float64), v[0].astype(np.float64)
    hakl.momentum(p, g, v, lr=0.1, mu=0.9, use_nesterov=True)
    vn = 0.9 * v0 + g[0]
    np.testing.assert_allclose(p[0], p0 - (g[0] + 0.9 * vn) * 0.1, rtol=1e-6, atol=1e-6)  # float32 of O(1) values
    np.testing.assert_allclose(v[0], vn, rtol=1e-6, atol=1e-6)
    q = [p0.astype(np.float32)]
    hakl.sgd(q, g, lr=0.5, lr_ratios=[0.5])
    np.testing.assert_allclose(q[0], p0 - 0.25 * g[0], rtol=1e-6, atol=1e-6)
    a = [p0.astype(np.float32)]
    m1, m2 = [np.zeros(5, np.float32)], [np.zeros(5, np.float32)]
    hakl.adam(a, g, m1, m2, lr=0.1, step=1)  # step 1: the corrections cancel, p - lr * g / (|g| + eps)
    np.testing.assert_allclose(a[0], p0 - 0.1 * g[0] / (np.abs(g[0]) + 1e-8), rtol=1e-6, atol=1e-6)


def test_mixed_dtypes_and_views_in_one_call(rng):
    """Twice with fresh arrays: the second call runs the first one's plan (hakl.op.call_key),
    which must stage and write back the view again and read the new values and lr."""
    for lr in (0.1, 0.25):
        big = rng.standard_normal(20).astype(np.float32)
        params = [big[::2], rng.standard_normal(4)]  # a strided float32 view and a float64 parameter
        grads = [rng.standard_normal(10).astype(np.float32), rng.standard_normal(4)]
        want = [params[0] - lr * grads[0], params[1] - lr * grads[1]]
        hakl.sgd(params, grads, lr=lr)
        np.testing.assert_allclose(big[::2], want[0], rtol=1e-6)
        np.testing.assert_allclose(params[1], want[1], rtol=1e-12)
    with pytest.raises(TypeError, match=r"^sgd: argument 'grads\[0\]' must be float32"):
        hakl.sgd(params, [grads[0].astype(np.float64), grads[1]], lr=0.1)  # a planned call's layout, but one dtype
    hakl.sgd([], [], lr=0.1)  # nothing to update


def test_errors_name_adamw_and_the_argument():
    p, g = [np.zeros(3, np.float32)], [np.zeros(3, np.float32)]
    m = [np.zeros(3, np.float32)]
    with pytest.raises(ValueError, match=r"^adamw: argument 'grads' has 2 entries but 'params' has 1"):
        hakl.adamw(p, g * 2, m, m, lr=0.1, step=1)
    with pytest.raises(ValueError, match=r"^adamw: argument 'moments1\[0\]' has shape \(4,\)"):
        hakl.adamw(p, g, [np.zeros(4, np.float32)], m, lr=0.1, step=1)
    with pytest.raises(TypeError, match=r"^adamw: argument 'grads\[0\]' must be float32"):
        hakl.adamw(p, [np.zeros(3)], m, m, lr=0.1, step=1)
    with pytest.raises(TypeError, match=r"^adamw: argument 'params\[0\]' must have a floating dtype"):
        hakl.adamw([np.zeros(3, np.int32)], g, m, m, lr=0.1, step=1)
    with pytest.raises(ValueError, match=r"^adamw: argument 'step' = 0 must be >= 1"):
        hakl.adamw(p, g, m, m, lr=0.1, step=0)
    with pytest.raises(ValueError, match=r"^adamw: argument 'decay' has 2 entries"):
        hakl.adamw(p, g, m, m, lr=0.1, step=1, decay=[True, False])
    with pytest.raises(ValueError, match=r"^adamw: argument 'master_params\[0\]' must be None for a float32"):
        hakl.adamw(p, g, m, m, lr=0.1, step=1, master_params=[np.zeros(3, np.float32)])
    with pytest.raises(TypeError, match=r"^adamw: argument 'lr' must be a number"):
        hakl.adamw(p, g, m, m, lr="0.1", step=1)
    with pytest.raises(TypeError, match=r"^momentum: argument 'velocities' must be a list"):
        hakl.momentum(p, g, None, lr=0.1)


class _forced:
    """Every optimizer call inside runs `variant` (the generic tests cover dispatch)."""

    def __init__(self, variant):
        self.variant = variant

    def __enter__(self):
        def choose(op, problem, selection):
            return dispatch.force(op, problem, op.variant(problem.backend, self.variant))
        self._cm = dispatch.observing(choose)
        self._cm.__enter__()

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def test_verification_allows_a_moment_that_cancels_to_far_below_its_terms():
    """A one-element tensor whose first moment b1*m + (1-b1)*g cancels to ~1e-5 of its terms
    (a dispatch on OpenCL once rejected a correct float32 kernel there): a plain float32
    evaluation passes, an error of 1e3 float32 ulps of the terms fails."""
    params = opt.default_params("adamw", 2, step=3)
    problem = opt.problem_for("adamw", "cpu", "float32", [1, 50], False, params)
    rng = np.random.default_rng(7)
    g = [np.array([0.3], np.float32), (0.5 * rng.standard_normal(50)).astype(np.float32)]
    m1 = [np.array([-0.1 * 0.3 / 0.9 * (1 + 1e-4)], np.float32), (0.1 * rng.standard_normal(50)).astype(np.float32)]
    m2 = [np.full(1, 0.01, np.float32), (0.01 * rng.random(50)).astype(np.float32)]
    p = [np.array([0.7], np.float32), rng.standard_normal(50).astype(np.float32)]
    inputs = (*p, *g, *m1, *m2)
    expected = opt.ADAMW.reference(problem, *inputs)
    b1 = np.float32(0.9)
    got = list(np.asarray(e, np.float32) for e in expected)
    got[2] = b1 * m1[0] + (np.float32(1) - b1) * g[0]  # the cancelling moment as float32 computes it
    assert abs(float(expected[2][0])) < 1e-4 * 0.03  # it does cancel
    assert opt.ADAMW.check(problem, tuple(got), expected, inputs) is None
    got[2] = got[2] + np.float32(1e3 * np.spacing(np.float32(0.03)))
    assert "output 2" in opt.ADAMW.check(problem, tuple(got), expected, inputs)
