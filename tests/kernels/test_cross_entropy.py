"""cross_entropy: PaddlePaddle 2.0.2's semantics one by one on every backend, the backward
(given the lse or not, in place), the training pass, the deprecated alias, label checks,
and 64-bit indexing past 2^31 elements. The generic tests (tests/test_ops.py,
test_functions.py) check every variant against the reference and the gradient numerically."""
from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest

import hakl
from hakl.kernels import cross_entropy as ce
from hakl.kernels.cross_entropy import (CROSS_ENTROPY, cross_entropy, cross_entropy_grad, cross_entropy_with_grad,
                                        softmax_with_cross_entropy)
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params

DEVICES = backend_params()


def _on(device, *arrays):
    return [None if a is None else hakl.asarray(a, device=device) for a in arrays]


def _np(a):
    return hakl.to_numpy(a)


def _logsumexp(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


@pytest.mark.parametrize("device", DEVICES)
def test_hard_labels_any_axis_match_the_definition(device, rng):
    for shape, axis in (((7, 5), -1), ((300, 1500), -1), ((3, 6, 4), 1), ((5, 2, 3), 0)):
        x = rng.standard_normal(shape).astype(np.float32)
        lshape = shape[:axis % 3] + shape[axis % 3 + 1:] if len(shape) == 3 else shape[:-1]
        label = rng.integers(0, shape[axis], lshape)
        got = _np(cross_entropy(*_on(device, x, label), reduction="none", axis=axis))
        x64 = np.moveaxis(x.astype(np.float64), axis, -1)
        want = _logsumexp(x64) - np.take_along_axis(x64, label[..., None], -1)[..., 0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_probabilities_and_log_zero_clamped_to_1e20(device):
    x = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], np.float32)
    got = _np(cross_entropy(*_on(device, x, np.array([2, 1])), reduction="none", use_softmax=False))
    np.testing.assert_allclose(got, [1e20, -np.log(0.3)], rtol=1e-6)
    soft = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], np.float32)  # 0 * log(0) counts 0
    x2 = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]], np.float32)
    got = _np(cross_entropy(*_on(device, x2, soft), reduction="none", soft_label=True, use_softmax=False))
    np.testing.assert_allclose(got[:, 0], [-np.log(0.5), -np.log(0.5)], rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_weight_hard_and_soft(device, rng):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    w = np.array([0.5, 1.0, 2.0, 4.0], np.float32)
    label = np.array([0, 1, 2, 3, 3, 0])
    base = _np(cross_entropy(*_on(device, x, label), reduction="none"))
    got = _np(cross_entropy(*_on(device, x, label, w), reduction="none"))
    np.testing.assert_allclose(got, base * w[label], rtol=1e-6)
    mean = float(_np(cross_entropy(*_on(device, x, label, w))))
    np.testing.assert_allclose(mean, (base * w[label]).sum() / w[label].sum(), rtol=1e-6)
    soft = rng.dirichlet(np.ones(4), 6).astype(np.float32)  # 2.0.2: soft labels take weight
    plain = _np(cross_entropy(*_on(device, x, soft), reduction="none", soft_label=True))[:, 0]
    got = _np(cross_entropy(*_on(device, x, soft, w), reduction="none", soft_label=True))[:, 0]
    np.testing.assert_allclose(got, plain * (soft @ w), rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_ignore_index_zero_loss_zero_gradient_and_no_weight_read(device, rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = np.array([1.0, 2.0, 3.0], np.float32)
    for ignore in (-100, 7, 1):  # 7: outside [0, C) yet ignored; never indexes weight
        label = np.array([0, ignore, 2, ignore, 1]) if ignore != 1 else np.array([0, 1, 2, 1, 2])
        loss = _np(cross_entropy(*_on(device, x, label, w), ignore_index=ignore, reduction="none"))
        assert loss[1] == 0 and loss[3] == 0
        dx = _np(cross_entropy_grad(*_on(device, x, label, np.ones(5, np.float32), w), ignore_index=ignore,
                                    reduction="none"))
        assert (dx[[1, 3]] == 0).all() and (dx[[0, 2]] != 0).all()
    with pytest.raises(ValueError, match="ignore_index"):
        cross_entropy(*_on(device, x, np.full((5, 3), 1 / 3, np.float32)), soft_label=True, ignore_index=0)


@pytest.mark.parametrize("device", DEVICES)
def test_reductions_follow_paddle_divisors(device, rng):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    label = np.array([0, 1, -100, 3, -100, 2])
    per = _np(cross_entropy(*_on(device, x, label), reduction="none"))
    total = per.sum()
    np.testing.assert_allclose(float(_np(cross_entropy(*_on(device, x, label), reduction="sum"))), total, rtol=1e-6)
    # ignore_index left at -100: divides by every element, ignored ones included (Paddle, not torch)
    np.testing.assert_allclose(float(_np(cross_entropy(*_on(device, x, label)))), total / 6, rtol=1e-6)
    label2 = np.where(label == -100, 5, label)  # the same elements ignored through a non-default index
    np.testing.assert_allclose(float(_np(cross_entropy(*_on(device, x, label2), ignore_index=5))), total / 4,
                               rtol=1e-6)
    for ignore in (-100, 5):  # a mean over nothing is 0
        nothing = np.full(6, ignore)
        assert float(_np(cross_entropy(*_on(device, x, nothing), ignore_index=ignore))) == 0.0
    w = np.ones(4, np.float32)
    assert float(_np(cross_entropy(*_on(device, x, np.full(6, -100), w)))) == 0.0
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(*_on(device, x, label), reduction="avg")


@pytest.mark.parametrize("device", DEVICES)
def test_out_of_range_labels_raise_naming_label_and_value(device, rng):
    x = rng.standard_normal((40, 10)).astype(np.float32)
    cross_entropy(*_on(device, x, rng.integers(0, 10, 40)))  # then the bad calls run its plan: the kernel checks
    for bad in (10, -1, 12345):
        label = rng.integers(0, 10, 40)
        label[17] = bad
        xs, ls = _on(device, x, label)
        for call in (lambda: cross_entropy(xs, ls), lambda: cross_entropy(xs, ls, reduction="none"),
                     lambda: cross_entropy_with_grad(xs, ls),
                     lambda: cross_entropy_grad(xs, ls, hakl.asarray(np.ones((), np.float32), device=device))):
            with pytest.raises(ValueError, match=rf"label.*{bad}"):
                call()
    soft = -np.ones((40, 10), np.float32)  # negative soft labels are not checked
    cross_entropy(*_on(device, x, soft), soft_label=True)


@pytest.mark.parametrize("device", DEVICES)
def test_label_with_the_class_axis_of_size_one(device, rng):
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    label = rng.integers(0, 5, (4, 1, 3))
    got = cross_entropy(*_on(device, x, label), axis=1, reduction="none")
    assert got.shape == (4, 1, 3)
    np.testing.assert_array_equal(_np(got)[:, 0], _np(cross_entropy(*_on(device, x, label[:, 0]), axis=1,
                                                                    reduction="none")))
    with pytest.raises(ValueError, match="'label' has shape"):
        cross_entropy(*_on(device, x, label[:, :, :2]), axis=1)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_with_and_without_lse_in_place_and_training(device, rng):
    for shape, axis in (((9, 7), -1), ((64, 3000), -1), ((4, 6, 5), 1)):
        x = (3 * rng.standard_normal(shape)).astype(np.float32)
        lshape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
        label = rng.integers(0, shape[axis], lshape)
        label.flat[::4] = -100
        for reduction in ("mean", "sum", "none"):
            loss, lse = cross_entropy(*_on(device, x, label), reduction=reduction, axis=axis, return_lse=True)
            d = np.ones(lshape if reduction == "none" else (), np.float32)
            xs, ls, ds = _on(device, x, label, d)
            g1 = _np(cross_entropy_grad(xs, ls, ds, reduction=reduction, axis=axis))
            g2 = _np(cross_entropy_grad(xs, ls, ds, reduction=reduction, axis=axis, lse=lse))
            # two float32 paths to the same gradient (entries up to 1): a few eps apart
            np.testing.assert_allclose(g2, g1, rtol=1e-4, atol=1e-6)
            tl, tg = cross_entropy_with_grad(xs, ls, reduction=reduction, axis=axis)
            np.testing.assert_allclose(_np(tg), g1, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(_np(tl), _np(loss), rtol=1e-6)
            buf = hakl.asarray(x.copy(), device=device)  # the gradient into the logits' own buffer
            assert cross_entropy_grad(buf, ls, ds, reduction=reduction, axis=axis, out=buf) is buf
            np.testing.assert_allclose(_np(buf), g1, rtol=1e-4, atol=1e-6)
            buf = hakl.asarray(x.copy(), device=device)
            _, same = cross_entropy_with_grad(buf, ls, reduction=reduction, axis=axis, inplace=True)
            assert same is buf
            np.testing.assert_allclose(_np(buf), g1, rtol=1e-4, atol=1e-6)



# A nearly one-hot row at ±50 (the conformance cases' large row): its gradient at the label,
# softmax - 1 = -2.7e-7, and its loss log(s) are far below lse = 45.88 (ulp 7.1e-15). Once the
# other rows are ignored this row sets the comparison's scale, so forming lse = m + log(s)
# first (off by 2.7e-15) put the reference itself 1e-8 (relative) off.
NEAR_ONE_HOT = [45.88354950787176, -33.781990587604085, 29.20000600600659, -42.18862394658004, 30.537353934078396]


def _near_one_hot_case():
    x = np.array([NEAR_ONE_HOT, [-4.0, -1.1, -1.7, -3.1, -1.9], [0.5, 2.0, 3.7, -4.1, 1.4]])[:, :, None]
    return x, np.array([[0], [-100], [-100]])


def test_reference_nearly_one_hot_row_to_a_few_ulps():
    x, label = _near_one_hot_case()
    r = x[0, :, 0].astype(np.longdouble)
    z = (r - r.max()) - np.log(np.exp(r - r.max()).sum())
    want_dx = np.where(np.arange(5) == 0, np.expm1(z), np.exp(z)) / 3  # mean over 3 rows (ignored count)
    for reduction in ("none", "mean"):
        flags = (("soft", False), ("use_softmax", True), ("weight", False), ("reduction", reduction))
        problem = Problem("cross_entropy_train", "cpu", "float64", x.shape, flags, (("ignore_index", -100),),
                          ("float64", "int64"))
        loss, dx = ce.reference.train(problem, x, label)
        scale = 3 if reduction == "mean" else 1
        np.testing.assert_allclose(np.asarray(loss).reshape(-1)[0], float(-z[0]) / scale, rtol=1e-9)  # was 1e-8 off
        np.testing.assert_allclose(dx[0, :, 0], (want_dx * 3 / scale).astype(np.float64), rtol=1e-9)
        assert not dx[1:].any()


@pytest.mark.parametrize("device", DEVICES)
def test_every_variant_matches_the_reference_on_a_nearly_one_hot_row(device):
    """The once-in-~15 flake of test_variant_matches_reference[cross_entropy_train-opencl-wg_row-float64]."""
    from hakl.tuning import verify

    x, label = _near_one_hot_case()
    for op in (ce.CROSS_ENTROPY_TRAIN, ce.CROSS_ENTROPY_GRAD):
        for reduction in ("mean", "sum", "none"):
            flags = (("soft", False), ("use_softmax", True), ("weight", False), ("reduction", reduction))
            dtypes = ("float64", "int64")
            inputs = (x, label)
            if op is ce.CROSS_ENTROPY_GRAD:
                flags, dtypes = flags + (("lse", False),), dtypes + ("float64",)
                inputs += (np.ones((3, 1) if reduction == "none" else ()),)
            problem = Problem(op.name, device, "float64", x.shape, flags, (("ignore_index", -100),), dtypes)
            for variant in op.variants:
                if variant.backend == device and variant.supports(problem):
                    launcher = dispatch.force(op, problem, variant).launcher
                    assert verify.run_case(op, problem, launcher, inputs) is None, (op.name, variant.name, reduction)

@pytest.mark.parametrize("device", DEVICES)
def test_deprecated_alias_shapes_and_one_warning(device, rng, monkeypatch):
    monkeypatch.setattr(ce, "_warned", False)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    label = rng.integers(0, 6, (4, 1))
    with pytest.warns(DeprecationWarning, match="cross_entropy") as record:
        loss, sm = softmax_with_cross_entropy(*_on(device, x, label), return_softmax=True)
    assert len([w for w in record if issubclass(w.category, DeprecationWarning)]) == 1
    assert loss.shape == (4, 1) and sm.shape == (4, 6)
    np.testing.assert_allclose(_np(loss)[:, 0], _np(cross_entropy(*_on(device, x, label[:, 0]), reduction="none")))
    np.testing.assert_allclose(_np(sm), _np(hakl.softmax(hakl.asarray(x, device=device))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        softmax_with_cross_entropy(*_on(device, x, label))  # once per process


def test_reduction_is_deterministic_and_the_cpu_variants_serve(rng):
    x = rng.standard_normal((50000, 37)).astype(np.float32)
    label = rng.integers(0, 37, 50000)
    a, b = cross_entropy(x, label, reduction="sum"), cross_entropy(x, label, reduction="sum")
    assert a.tobytes() == b.tobytes()
    flags = (("soft", False), ("use_softmax", True), ("weight", False), ("reduction", "mean"))
    rows = Problem("cross_entropy", "cpu", "float32", (64, 1000, 1), flags, (), ("float32", "int64"))
    cols = Problem("cross_entropy", "cpu", "float32", (64, 1000, 16), flags, (), ("float32", "int64"))
    assert dispatch.select(CROSS_ENTROPY, rows).variant.name == "numba_rows"
    assert dispatch.select(CROSS_ENTROPY, cols).variant.name == "numba_cols"


@pytest.mark.big_memory
def test_float16_past_2_to_the_31_elements_far_rows():
    """The 2.0.1 overflow fix: 65537 rows of 32768 float16 logits (2^31 + 2^15 elements, 4 GiB).
    Untouched rows are calloc'd zero pages (no memory is used for them); the last rows hold
    data and are checked against the float64 definition. (A gradient over all of it would
    fault in 4 GiB of pages: 27 s here; the gradient's offsets are the same 64-bit ones.)"""
    rows, classes = 65537, 32768
    x = np.zeros((rows, classes), np.float16)
    rng = np.random.default_rng(0)
    tail = (3 * rng.standard_normal((3, classes))).astype(np.float16)
    x[-3:] = tail
    label = np.zeros(rows, np.int64)
    label[-3:] = [classes - 1, 0, 12345]
    loss = cross_entropy(x, label, reduction="none")
    t64 = tail.astype(np.float64)
    want = _logsumexp(t64) - t64[np.arange(3), label[-3:]]
    np.testing.assert_allclose(loss[-3:].astype(np.float64), want, rtol=2e-3)
    np.testing.assert_allclose(loss[0], np.log(classes), rtol=2e-3)
    del x
    gc.collect()
