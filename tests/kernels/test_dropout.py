"""dropout: every variant against the float64 reference, one mask for one seed on
every backend / variant / configuration, the statistics of the mask, the modes,
slice dropout, layouts, errors and gradients."""
from __future__ import annotations


import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.kernels.dropout import (DROPOUT, DROPOUT_GRAD, dropout, dropout_backward, dropout_forward, manual_seed,
                                  philox)
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params

DEVICES = backend_params()


def _on(device, a):
    return hakl.asarray(a, device=device)


def test_philox_known_answers():
    """Random123's kat_vectors for philox4x32-10: counter, key -> output."""
    cases = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for counter, key, want in cases:
        got = philox.philox4x32(tuple(np.array([c]) for c in counter), key)
        assert tuple(int(w[0]) for w in got) == want
    # element i is word i % 4 of group i // 4, wherever a range starts
    words = philox.random_words(7, 3, 0, 4099)
    assert np.array_equal(philox.random_words(7, 3, 1001, 2000), words[1001:3001])


def _every_launcher(op, backend: str, problem: Problem):
    """(label, launcher) for every variant of `op` on `backend` supporting `problem`, in
    every configuration of its space (the baseline in its one)."""
    for variant in op.for_backend(backend):
        if variant.supports(problem):
            for config in variant.configs(problem) or [variant.default_config(problem)]:
                yield f"{backend}/{variant.name} {config}", dispatch.force(op, problem, variant, config).launcher


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_one_seed_one_mask_everywhere(dtype, rng):
    """Same (seed, offset) -> the same mask and bit-identical output on every backend,
    variant and launch configuration, and the mask is Philox's (philox.keep_mask)."""
    n, p, seed, offset = 10_007, 0.3, 0x1234_5678_9ABC_DEF0, 5
    x = rng.standard_normal(n).astype(dtype)
    params = (("p", p), ("seed", seed), ("offset", offset), ("scale", 1 / (1 - p)))
    want_mask = philox.keep_mask(seed, offset, n, p).astype(np.uint8)
    first = None
    for device in backends.available():
        if np.dtype(dtype) not in backends.get(device).dtypes():
            continue
        problem = Problem("dropout", device, dtype, (n,), (("mask", True), ("slices", "")), params)
        for label, launcher in _every_launcher(DROPOUT, device, problem):
            out, mask = backends.get(device).to_host(problem.launch(launcher, _on(device, x)))
            assert np.array_equal(mask, want_mask), label
            if first is None:
                first = out
            assert np.array_equal(out.view(np.uint8), first.view(np.uint8)), label


def test_slice_masks_agree_across_backends(rng):
    x = rng.standard_normal((4, 6, 5)).astype(np.float32)
    results = {}
    for device in backends.available():
        out, mask = dropout_forward(_on(device, x), 0.5, seed=99, axis=[0, 2])
        results[device] = (hakl.to_numpy(out), hakl.to_numpy(mask))
    ref_out, ref_mask = results["cpu"]
    assert ref_mask.shape == (4, 1, 5)
    # mask element j is Philox's decision for j, the row-major index over the masked axes
    assert np.array_equal(ref_mask.reshape(-1), philox.keep_mask(99, 0, 20, 0.5))
    for device, (out, mask) in results.items():
        assert np.array_equal(mask, ref_mask) and np.array_equal(out, ref_out), device


@pytest.mark.parametrize("device", DEVICES)
def test_outputs_are_zero_or_upscaled(device, rng):
    x = rng.standard_normal(50_000).astype(np.float32)
    for p in (0.1, 0.5, 0.65):
        out, mask = dropout_forward(_on(device, x), p, seed=int(rng.integers(1 << 62)))
        out, mask = hakl.to_numpy(out), hakl.to_numpy(mask).astype(bool)
        assert np.array_equal(out[mask], x[mask] * np.float32(1 / (1 - p)))
        assert not out[~mask].any()


@pytest.mark.parametrize("device", DEVICES)
def test_kept_fraction_within_binomial_bound(device):
    n = 1 << 20
    x = _on(device, np.ones(n, np.float32))
    for p in (0.1, 0.5, 0.65, 0.9):
        for seed in (0, 1, 2**64 - 1):
            kept = int(np.count_nonzero(hakl.to_numpy(dropout(x, p, seed=seed))))
            assert abs(kept - n * (1 - p)) <= 6 * np.sqrt(n * p * (1 - p)), (p, seed, kept)


@pytest.mark.parametrize("device", DEVICES)
def test_p_zero_and_one_are_exact(device, rng):
    x = rng.standard_normal(1001).astype(np.float32)
    x[[3, 4]] = [np.nan, -np.inf]
    out, mask = dropout_forward(_on(device, x), 0.0, seed=3)
    assert np.array_equal(hakl.to_numpy(out), x, equal_nan=True) and hakl.to_numpy(mask).all()
    for mode in ("upscale_in_train", "downscale_in_infer"):
        out, mask = dropout_forward(_on(device, x), 1.0, seed=3, mode=mode)
        out = hakl.to_numpy(out)
        assert not hakl.to_numpy(mask).any()
        with np.errstate(invalid="ignore"):  # dropped NaN / inf become NaN, as x * 0
            assert np.array_equal(out, x * np.float32(0), equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
def test_modes_and_inference(device, rng):
    x = rng.standard_normal((64, 33)).astype(np.float32)
    xd = _on(device, x)
    assert dropout(xd, 0.4, training=False) is xd  # upscale_in_train: identity
    eval_down = hakl.to_numpy(dropout(xd, 0.4, training=False, mode="downscale_in_infer"))
    assert np.array_equal(eval_down, x * np.float32(1 - 0.4))
    out, mask = dropout_forward(xd, 0.4, seed=11, mode="downscale_in_infer")
    assert np.array_equal(hakl.to_numpy(out), x * hakl.to_numpy(mask))  # no scaling in training


@pytest.mark.parametrize("device", DEVICES)
def test_axis_drops_whole_slices(device, rng):
    x = rng.standard_normal((5, 7, 3, 4)).astype(np.float32)
    scale = np.float32(1 / (1 - 0.5))
    for axis, mshape in [(1, (1, 7, 1, 1)), ([0, 1], (5, 7, 1, 1)), (-1, (1, 1, 1, 4)), ([0, 2], (5, 1, 3, 1)),
                         ([1, 3], (1, 7, 1, 4)), ([0, 1, 2, 3], (5, 7, 3, 4))]:
        out, mask = dropout_forward(_on(device, x), 0.5, seed=21, axis=axis)
        out, mask = hakl.to_numpy(out), hakl.to_numpy(mask)
        assert mask.shape == mshape, axis
        assert np.array_equal(out, x * (mask * scale)), axis
        dx = dropout_backward(_on(device, x), 0.5, mask=_on(device, mask), axis=axis)
        assert np.array_equal(hakl.to_numpy(dx), out), axis
        dx = dropout_backward(_on(device, x), 0.5, seed=21, axis=axis)
        assert np.array_equal(hakl.to_numpy(dx), out), axis


@pytest.mark.parametrize("device", DEVICES)
def test_layouts_and_empty_inputs(device, rng):
    base = rng.standard_normal((8, 10, 12)).astype(np.float32)
    on_device = _on(device, base)
    views = [(base[:, ::2, 1:], on_device[:, ::2, 1:]), (base.transpose(2, 0, 1), on_device.transpose((2, 0, 1))),
             (base[3], on_device[3])]
    for host, view in views:
        got = hakl.to_numpy(dropout(view, 0.5, seed=5))
        # a view's mask is laid out over the view's own row-major order
        assert np.array_equal(got, dropout(np.ascontiguousarray(host), 0.5, seed=5))
    for shape in [(0,), (0, 5), (3, 0, 2)]:
        x = _on(device, np.empty(shape, np.float32))
        out, mask = dropout_forward(x, 0.5, seed=1)
        assert hakl.to_numpy(out).shape == shape and hakl.to_numpy(mask).shape == shape
        assert hakl.to_numpy(dropout_backward(x, 0.5, seed=1)).shape == shape
    if device == "cpu":
        y = dropout(np.array(2.0), 0.0, seed=1)
        assert y.shape == () and float(y) == 2.0


def test_inputs_unmodified_and_seed_generator(rng):
    x = rng.standard_normal(1000).astype(np.float32)
    before = x.copy()
    dropout(x, 0.5)
    np.testing.assert_array_equal(x, before)
    manual_seed(123)
    a = dropout(x, 0.5)
    b = dropout(x, 0.5)
    manual_seed(123)
    assert np.array_equal(dropout(x, 0.5), a) and not np.array_equal(a, b)
    # another offset is another stream
    o1, _ = dropout_forward(x, 0.5, seed=9, offset=1)
    o2, _ = dropout_forward(x, 0.5, seed=9, offset=2)
    assert not np.array_equal(o1, o2)


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_matches_finite_differences(device, rng):
    """dropout is linear in x for a fixed seed: d sum(w * dropout(x)) / dx, numerically."""
    x = rng.standard_normal((4, 6))
    w = rng.standard_normal(x.shape)
    for axis, mode in [(None, "upscale_in_train"), (1, "upscale_in_train"), (None, "downscale_in_infer")]:
        def f(v):
            return float((hakl.to_numpy(dropout_forward(_on(device, v), 0.35, 77, axis=axis, mode=mode)[0]) * w).sum())

        numeric = np.zeros_like(x)
        h = 1e-6
        for i in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            numeric[i] = (f(xp) - f(xm)) / (2 * h)
        _, mask = dropout_forward(_on(device, x), 0.35, 77, axis=axis, mode=mode)
        by_seed = hakl.to_numpy(dropout_backward(_on(device, w), 0.35, seed=77, axis=axis, mode=mode))
        by_mask = hakl.to_numpy(dropout_backward(_on(device, w), 0.35, mask=mask, axis=axis, mode=mode))
        np.testing.assert_allclose(by_seed, numeric, rtol=1e-6, atol=1e-8)
        assert np.array_equal(by_mask, by_seed)


def test_errors_name_the_op_and_argument():
    x = np.ones((2, 3), np.float32)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"dropout: argument 'p' = .* is out of range \[0, 1\]"):
            dropout(x, p)
    with pytest.raises(TypeError, match=r"dropout: argument 'p' must be a number, got str"):
        dropout(x, "0.5")
    with pytest.raises(ValueError, match=r"dropout: argument 'mode' must be one of"):
        dropout(x, 0.5, mode="upscale")
    with pytest.raises(ValueError, match=r"dropout: argument 'axis' = 2 is out of range \[-2, 1\]"):
        dropout(x, 0.5, axis=2)
    with pytest.raises(ValueError, match=r"dropout: argument 'axis' = \[0, -2\] repeats an axis"):
        dropout(x, 0.5, axis=[0, -2])
    with pytest.raises(TypeError, match=r"dropout: argument 'axis' must be an int or a list of ints"):
        dropout(x, 0.5, axis=1.0)
    with pytest.raises(TypeError, match=r"dropout: argument 'x' must have a floating dtype .* got int32"):
        dropout(np.ones(3, np.int32))
    with pytest.raises(TypeError, match=r"dropout: argument 'x' must be a NumPy, CuPy or pyopencl array, got list"):
        dropout([1.0, 2.0])
    with pytest.raises(ValueError, match=r"dropout: argument 'seed' = -1 is out of range \[0, 2\*\*64\)"):
        dropout(x, seed=-1)
    with pytest.raises(ValueError, match=r"dropout_backward: pass exactly one of 'seed'"):
        dropout_backward(x, 0.5)
    with pytest.raises(ValueError, match=r"dropout_backward: pass exactly one of 'seed'"):
        dropout_backward(x, 0.5, seed=1, mask=np.ones((2, 3), np.uint8))
    with pytest.raises(ValueError, match=r"dropout_backward: argument 'mask' has shape \(3, 2\), expected \(2, 3\)"):
        dropout_backward(x, 0.5, mask=np.ones((3, 2), np.uint8))
    with pytest.raises(TypeError, match=r"dropout_backward: argument 'mask' must be uint8 or bool, got float32"):
        dropout_backward(x, 0.5, mask=x)
    with pytest.raises(TypeError, match=r"dropout_forward: argument 'offset' must be an int"):
        dropout_forward(x, 0.5, 1, offset=1.5)


@pytest.mark.skipif(__import__("shutil").which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.xdist_group("nvcc")
def test_every_cuda_unit_compiles():
    """The CUDA compile units through the local nvcc (sm_90): every dtype's (the baseline
    and vec kernels share a text), every ITEMS (a loop's trip count) for float32."""
    from .test_cuda_sources import compile_all

    units = []
    for op in (DROPOUT, DROPOUT_GRAD):
        for variant in op.for_backend("cuda"):
            for dtype in ("float16", "float32", "float64"):
                problem = Problem(op.name, "cuda", dtype, (1 << 20,), (("mask", True), ("slices", "")))
                for config in variant.configs(problem) if dtype == "float32" else [{}]:
                    units.append((f"{op.name} {dtype} {config}", *variant.compile_unit(problem, config)))
    failures = compile_all(units)
    assert not failures, "\n\n".join(failures[:5])
