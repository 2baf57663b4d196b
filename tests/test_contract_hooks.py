"""The variant hooks the next families stand on, on synthetic ops: prepared weights,
writing into a caller's buffer, forward/backward pairs sharing a workspace, index
outputs compared under ties, and in-place ops the tuner must not let leak between
candidates."""
from __future__ import annotations

import numpy as np
import pytest

from hakl import backends
from hakl.conformance import check_variant
from hakl.op import Op, Problem, Variant, same_gathered_values
from hakl.tuning import dispatch, tuner

from .conftest import backend_params


def _op(name, reference, variants, **kw):
    op = Op(name=name, reference=reference,
            sample=lambda problem, rng: (rng.standard_normal(problem.shape).astype(problem.dtype),),
            nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize, tolerances={"float64": (1e-12, 0.0)}, **kw)
    op.add(*variants)
    return op


def test_prepare_runs_once_per_weight_version():
    packed = []

    def prepare(problem, config, weights):
        packed.append(1)
        return np.ascontiguousarray(weights[0].T)

    v = Variant("packed", "cpu", lambda p, c: None, prepare=prepare)
    problem = Problem("mm", "cpu", "float64", (4, 4))
    w = np.arange(16.0).reshape(4, 4)
    first = v.prepared("layer1.weight", 0, problem, {}, (w,))
    assert v.prepared("layer1.weight", 0, problem, {}, (w,)) is first and len(packed) == 1
    w += 1  # an optimizer step: the caller bumps the version
    again = v.prepared("layer1.weight", 1, problem, {}, (w,))
    assert len(packed) == 2 and (again == w.T).all()


def test_out_lands_in_the_callers_buffer_with_or_without_the_variant_writing_it():
    problem = Problem("double_out", "cpu", "float64", (3, 5))
    x = np.arange(15.0).reshape(3, 5)

    def writes(problem, config):
        def launch(x, out=None):
            np.multiply(x, 2, out=out)
            return out
        return launch

    for variant in (Variant("writes", "cpu", writes, accepts_out=True, baseline=True),
                    Variant("returns", "cpu", lambda p, c: (lambda x: x * 2), baseline=True)):
        op = _op("double_out", lambda p, x: x * 2, [variant])
        out = np.zeros((3, 5))
        selection = dispatch.force(op, problem, variant)
        assert selection.run(problem, x, out=out) is out
        np.testing.assert_array_equal(out, 2 * x)
    with pytest.raises(ValueError, match="out: expected shape"):
        selection.run(problem, x, out=np.zeros((5, 3)))


def test_backward_runs_the_variant_whose_workspace_the_forward_left():
    """Two forwards keep different workspaces; the backward of each must read its own."""
    def forward(scale):
        return lambda p, c: (lambda x: (np.exp(x), {"layout": scale, "e": np.exp(x) * scale}))

    def backward(scale):
        def build(p, c):
            def launch(dy, workspace):
                assert workspace["layout"] == scale, "read another variant's workspace"
                return dy * workspace["e"] / scale
            return launch
        return build

    fwd = _op("exp_ws", lambda p, x: (np.exp(x), None), [Variant("a", "cpu", forward(2.0), baseline=True),
                                                          Variant("b", "cpu", forward(3.0))])
    bwd = _op("exp_ws_grad", lambda p, dy, ws: dy, [Variant("b", "cpu", backward(3.0)),
                                                   Variant("a", "cpu", backward(2.0), baseline=True)],
              paired_with="exp_ws")
    problem = Problem("exp_ws", "cpu", "float64", (4,))
    x = np.linspace(-1, 1, 4)
    chosen = dispatch.force(fwd, problem, fwd.variant("cpu", "a"))
    y, ws = chosen.launcher(x)
    grad = dispatch.select_paired(bwd, Problem("exp_ws_grad", "cpu", "float64", (4,)), chosen)
    assert grad.variant.name == "a"  # not "b", which ranks first for the backward alone
    np.testing.assert_allclose(grad.launcher(np.ones(4), ws), np.exp(x))
    with pytest.raises(ValueError, match="paired_with"):
        dispatch.select_paired(fwd, problem, chosen)


def _argsort_cases(backend, dtype, rng, quick=False):
    x = rng.integers(0, 3, (5, 40)).astype(dtype)  # many ties
    x[0, :5] = np.nan
    yield Problem("argsort_test", backend, dtype, x.shape), (x,)


def test_index_outputs_are_compared_by_the_values_they_gather():
    def wrong(problem, config):
        return lambda x: np.tile(np.arange(x.shape[1]), (x.shape[0], 1))

    def reference(problem, x):
        return np.argsort(x, axis=1, kind="stable")

    # quicksort orders ties differently from the stable reference: still right
    unstable = Variant("unstable", "cpu", lambda p, c: (lambda x: np.argsort(x, axis=1, kind="quicksort")))
    op = _op("argsort_test", reference, [Variant("stable", "cpu", lambda p, c: (lambda x: reference(p, x)),
                                                 baseline=True), unstable, Variant("wrong", "cpu", wrong)],
             compare=same_gathered_values(axis=1), cases=_argsort_cases)
    assert check_variant(op, op.variant("cpu", "stable"), "float64").ok
    assert check_variant(op, unstable, "float64").ok
    report = check_variant(op, op.variant("cpu", "wrong"), "float64")
    assert report.failures and "gathered values differ" in report.failures[0]


def test_tuner_gives_each_candidate_fresh_inputs_when_the_op_writes_them():
    """An in-place update x += 1: the second candidate must see x, not x + 1."""
    def inplace(problem, config):
        def launch(x):
            x += 1
            return x
        return launch

    op = _op("inc_inplace", lambda p, x: x + 1, [Variant("a", "cpu", inplace, space={"k": (0, 1, 2)}, baseline=True)],
             mutates=(0,))
    result = tuner.tune(op, Problem("inc_inplace", "cpu", "float64", (64,)), repeat=2)
    assert [m.status for m in result.measurements] == ["ok", "ok", "ok"], [m.error for m in result.measurements]


@pytest.mark.parametrize("device", backend_params())
def test_copy_into_a_callers_buffer_on_every_backend(device):
    backend = backends.get(device)
    src = backend.asarray(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    dst = backend.empty((3, 4), np.float32)
    backend.copy_into(dst, src)
    np.testing.assert_array_equal(backend.to_numpy(dst), np.arange(12.0).reshape(3, 4))
    with pytest.raises(ValueError, match="out: expected shape"):
        backend.copy_into(backend.empty((4, 3), np.float32), src)
    wide = backend.empty((3, 8), np.float32)
    if backend.copies_into_views:
        backend.copy_into(wide[:, ::2], src)
        np.testing.assert_array_equal(backend.to_numpy(wide)[:, ::2], backend.to_numpy(src))
    else:
        with pytest.raises(ValueError, match="must be C-contiguous"):
            backend.copy_into(wide[:, ::2], src)


def test_problem_is_a_frozen_value_whatever_builds_it():
    """Problem's own __init__ (one dict update, a small call's hot path) keeps what the
    dataclass promised: positional and keyword arguments with their defaults, equality and
    hashing by value, `dataclasses.replace` (verification's shrinking), pickling (Ray
    workers), and no assignment afterwards."""
    import dataclasses
    import pickle

    p = Problem("softmax", "cpu", "float32", (4, 8, 1), (("log", False),))
    q = Problem(op="softmax", backend="cpu", dtype="float32", shape=(4, 8, 1), flags=(("log", False),))
    assert p == q and hash(p) == hash(q) and p.params == () and p.dtypes == () and p.size == 32
    assert {p: 1}[q] == 1
    r = dataclasses.replace(p, shape=(2, 8, 1))
    assert r.shape == (2, 8, 1) and r.flags == p.flags and r != p
    assert pickle.loads(pickle.dumps(p)) == p
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.shape = (1,)
    with pytest.raises(TypeError):
        Problem("softmax", "cpu")  # dtype and shape are required
