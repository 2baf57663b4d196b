"""embedding: what the generic tests cannot see: padding_idx (negative counts from the end),
the id check on every backend (the first bad id in flat order, inside the GPU kernels),
the backward's determinism (bits) and its atomic, non-deterministic float32 variant."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl.kernels.embedding import EMBEDDING_GRAD
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params

DEVICES = backend_params()


def _on(device, *arrays):
    return [hakl.asarray(a, device=device) for a in arrays]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("ids_dtype", ["int32", "int64"])
def test_lookup_and_scatter_add_with_padding(device, ids_dtype, rng):
    table = rng.standard_normal((10, 6)).astype(np.float32)
    ids = rng.integers(0, 10, (4, 5)).astype(ids_dtype)
    ids[0, :3] = 9
    for pad, row in ((None, None), (9, 9), (-1, 9), (-10, 0)):
        out = hakl.to_numpy(hakl.embedding(*_on(device, ids, table), padding_idx=pad))
        want = table[ids]
        if row is not None:
            want[ids == row] = 0
        np.testing.assert_array_equal(out, want)
        dout = rng.standard_normal((4, 5, 6)).astype(np.float32)
        grad = hakl.to_numpy(hakl.embedding_grad(*_on(device, ids, dout), 10, pad))
        want = np.zeros((10, 6))
        np.add.at(want, ids.reshape(-1), dout.reshape(-1, 6).astype(np.float64))
        if row is not None:
            want[row] = 0
        np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_bad_ids_name_the_first_one(device):
    table = np.ones((5, 3), np.float32)
    ids = np.array([[1, 2], [7, -1]])
    hakl.embedding(*_on(device, np.array([[1, 2], [3, 4]]), table))  # the bad call then runs this one's plan
    for _ in range(2):
        with pytest.raises(ValueError, match=r"^embedding: argument 'ids' holds 7, outside \[0, 5\)"):
            hakl.embedding(*_on(device, ids, table))
    with pytest.raises(ValueError, match=r"^embedding_grad: argument 'ids' holds 7, outside \[0, 5\)"):
        hakl.embedding_grad(*_on(device, ids, np.ones((2, 2, 3), np.float32)), 5)
    with pytest.raises(ValueError, match=r"^embedding_grad: argument 'ids' holds -1"):
        hakl.embedding_grad(*_on(device, ids[1:, 1:], np.ones((1, 1, 0), np.float32)), 5)  # D = 0 is checked too
    with pytest.raises(ValueError, match=r"^embedding: argument 'padding_idx' = 5 is out of range \[-5, 5\)"):
        hakl.embedding(*_on(device, ids[:1], table), padding_idx=5)
    with pytest.raises(ValueError, match=r"^embedding: argument 'table' must be 2-d"):
        hakl.embedding(*_on(device, ids, table[0]))
    with pytest.raises(ValueError, match=r"^embedding_grad: argument 'dout' has shape \(2, 3\)"):
        hakl.embedding_grad(*_on(device, ids, np.ones((2, 3), np.float32)), 5)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_is_the_same_bits_every_call(device, rng):
    ids = rng.integers(0, 7, 3000)  # every row hit hundreds of times
    dout = rng.standard_normal((3000, 33)).astype(np.float32)
    first = hakl.to_numpy(hakl.embedding_grad(*_on(device, ids, dout), 7))
    for _ in range(3):
        np.testing.assert_array_equal(hakl.to_numpy(hakl.embedding_grad(*_on(device, ids, dout), 7)), first)


@pytest.mark.parametrize("device", DEVICES)
def test_atomic_variant_serves_only_when_allowed(device, rng):
    ids = rng.integers(0, 50, 300)
    dout = rng.standard_normal((300, 8)).astype(np.float32)
    want = hakl.to_numpy(hakl.embedding_grad(*_on(device, ids, dout), 50, deterministic=True))
    got = hakl.to_numpy(hakl.embedding_grad(*_on(device, ids, dout), 50, deterministic=False))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for deterministic in (True, False):
        problem = Problem("embedding_grad", device, "float32", (300, 50, 8), (("deterministic", deterministic),),
                          (("num_embeddings", 50), ("padding_idx", -1)), ("float32", "int64"))
        chosen = dispatch.select(EMBEDDING_GRAD, problem).variant.name
        assert chosen != "atomic" or not deterministic
