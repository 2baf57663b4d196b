"""The CPU output pool: a block is handed out again only when no array over it is left."""
from __future__ import annotations

import gc

import numpy as np
import pytest

from hakl.backends.output_pool import MIN_BYTES, OutputPool

SHAPE = (512, 1024)  # 2 MiB of float32: above MIN_BYTES


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_a_released_output_is_reused():
    pool = OutputPool(64 << 20)
    a = pool.empty(SHAPE, np.float32)
    where = _address(a)
    del a
    gc.collect()
    assert pool.cached == 2 << 20
    b = pool.empty(SHAPE, np.float32)
    assert _address(b) == where and pool.cached == 0
    assert b.shape == SHAPE and b.dtype == np.float32 and b.flags.writeable and b.flags.c_contiguous


@pytest.mark.parametrize("make_view", [lambda a: a[3:5], lambda a: a.reshape(-1), lambda a: np.asarray(a)[::2],
                                       lambda a: a.T, lambda a: a.view(np.int32)])
def test_a_view_keeps_its_block_out_of_the_pool(make_view):
    pool = OutputPool(64 << 20)
    a = pool.empty(SHAPE, np.float32)
    a[:] = 7
    view, where = make_view(a), _address(a)
    del a
    gc.collect()
    assert pool.cached == 0
    b = pool.empty(SHAPE, np.float32)  # a new block: the old one is still read through the view
    assert _address(b) != where
    b[:] = 0
    assert (view.view(np.float32) == 7).all()
    del view
    gc.collect()
    assert pool.cached == 2 << 20


def test_small_outputs_and_a_zero_limit_are_plain_arrays():
    pool = OutputPool(64 << 20)
    small = pool.empty((MIN_BYTES // 8,), np.float32)
    assert small.flags.owndata
    off = OutputPool(0)
    big = off.empty(SHAPE, np.float16)
    assert big.flags.owndata and big.dtype == np.float16


def test_the_limit_bounds_the_cached_bytes():
    pool = OutputPool(3 << 20)  # room for one 2 MiB block
    arrays = [pool.empty(SHAPE, np.float32) for _ in range(3)]
    del arrays
    gc.collect()
    assert pool.cached == 2 << 20
    pool.clear()
    assert pool.cached == 0
