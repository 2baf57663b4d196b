"""argsort / sort / scatter baselines, written once over the array module: NumPy's are
the CPU baselines, CuPy's the CUDA ones.

Every launcher sees the contiguous (outer, n, inner) view and sorts along n.
`module` names the array module, imported when a launcher is built.

- numpy: np.argsort / np.sort along axis 1 (kind="stable" when stable is asked,
  else NumPy's default quicksort, which is x86-simd-sort on AVX2/AVX-512 for
  16/32/64-bit types).
- cupy: PaddlePaddle 2.0-rc's general path — the axis transposed to the last
  place, then one segmented sort over the rows, even for 1-D inputs (CuPy's
  argsort of a 2-d array: a row per segment); the release-note ratios were
  measured against that.
Descending: ascending of the reversed rows, reversed back, with the indices
mirrored (n - 1 - i): ties come out in input order when the ascending sort is
stable, and NaN first, as the op asks.
"""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...op import Problem


def _rows_last(xp, x, transpose: bool):
    """(array, axis): x sorted along axis 1 in place (NumPy), or rows (r, n) of the
    transposed copy (Paddle's path)."""
    if not transpose:
        return x, 1
    outer, n, inner = x.shape
    return xp.ascontiguousarray(x.transpose(0, 2, 1)).reshape(outer * inner, n), 1


def _back(xp, a, shape, transpose: bool):
    if not transpose:
        return a
    outer, n, inner = shape
    return xp.ascontiguousarray(a.reshape(outer, inner, n).transpose(0, 2, 1))


def _flip(a):
    return a[:, ::-1]


def sort_rows(rows, kind: str) -> None:
    """rows.sort(axis=1, kind=kind) in place (rows may be a view), but float16's quicksort
    sorts a float32 copy (exact both ways): NumPy 2.4's x86-simd-sort path for float16 on
    CPUs with AVX512_ICL and not AVX512_SPR (a Zen 5 EPYC) put -0.0 before the negative
    subnormal -6e-08 in rows of 70001 elements; its float32 sort is right there, and faster
    (64 rows of 65536: 26 ms against 35)."""
    if rows.dtype == "float16" and kind == "quicksort":
        rows[...] = np.sort(rows.astype(np.float32), axis=1, kind=kind)
    else:
        rows.sort(axis=1, kind=kind)


def _order(xp, x, stable: bool, descending: bool, kind_arg: bool):
    kwargs = {"kind": "stable" if stable else "quicksort"} if kind_arg else {}
    if not descending:
        return xp.argsort(x, axis=1, **kwargs)
    n = x.shape[1]
    return _flip((n - 1) - xp.argsort(_flip(x), axis=1, **kwargs))


def argsort(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        stable, descending = bool(problem.flag("stable")), bool(problem.flag("descending"))
        transpose = module != "numpy"

        def launch(x):
            rows, _ = _rows_last(xp, x, transpose)
            idx = _order(xp, rows, stable, descending, module == "numpy").astype("int64", copy=False)
            values = xp.take_along_axis(rows, idx, axis=1)
            return _back(xp, values, x.shape, transpose), _back(xp, idx, x.shape, transpose)

        return launch

    return build


def sort(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        stable, descending = bool(problem.flag("stable")), bool(problem.flag("descending"))
        transpose = module != "numpy"

        def launch(x):
            rows, _ = _rows_last(xp, x, transpose)
            if module == "numpy":
                values = rows.copy()
                sort_rows(_flip(values) if descending else values, "stable" if stable else "quicksort")
            elif descending:
                values = _flip(xp.sort(_flip(rows), axis=1))
            else:
                values = xp.sort(rows, axis=1)
            return _back(xp, xp.ascontiguousarray(values), x.shape, transpose)

        return launch

    return build


def scatter(module: str):
    """dx[o, idx[o, j, i], i] = dy[o, j, i], as one flat scatter (Paddle's backward)."""
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(dy, idx):
            outer, n, inner = dy.shape
            o = xp.arange(outer, dtype="int64").reshape(outer, 1, 1)
            i = xp.arange(inner, dtype="int64").reshape(1, 1, inner)
            target = (o * n + idx) * inner + i
            dx = xp.empty(dy.size, dy.dtype)
            dx[target.reshape(-1)] = dy.reshape(-1)
            return dx.reshape(dy.shape)

        return launch

    return build
