"""matmul on OpenCL: the kernels of matmul.cl (one program per dtype and tile; the
transposes, sizes and batch strides are run-time arguments).

- naive (baseline): a work-item per output element, k in a loop. (pyopencl has no
  GEMM: a plain kernel is the baseline, as for cast.)
- tiled: TSM x TSN outputs per work-group through TSK-deep local-memory tiles, WPTM x
  WPTN per work-item in registers; tunables tsm, tsn, tsk, wptm, wptn. The defaults:
  64 x 64 tiles of 4 x 4 per work-item on a GPU (16 x 16 work-items), the m tile cut to
  16 or 32 for skinny M (an RNN step's batch); 32 x 32 of 4 x 4 on a CPU device, where
  PoCL runs a work-group's 64 work-items as vectorised loops over one core.
- vector: for CPU devices, a work-item's own vector code and no local memory: `outer`
  (B not transposed: WM rows x a VW-wide vector of n, one row of B per k) or `inner` (B
  transposed, A not: WM x WN dot products in VW-wide vectors along k); A and B both
  transposed have neither and take tiled. Tunables vw, wm, wn (outer: wn 1). On the 2-core
  Xeon's PoCL, float32 1024^3: tiled (its default) 4.1 GFLOP/s, vector (16 x 8 x 2) 50;
  an LSTM step's (64, 256) @ (1024, 256)^T: 2.4 and 27.

float16 is storage (vload_half / vstore_half) and computes in float, so every device
takes it; float64 where the device has cl_khr_fp64. Bytes moved at minimum: each operand
and the result once; 2 M N K flops per batch.
"""
from __future__ import annotations

import functools
from pathlib import Path


from ...backends import get as get_backend
from ...op import Problem, Variant
from . import MATMUL, geometry

SOURCE = Path(__file__).with_name("matmul.cl")
KIND = {"float16": 0, "float32": 1, "float64": 2}
TILE = ("tsm", "tsn", "tsk", "wptm", "wptn")
CPU_TILE = {"tsm": 32, "tsn": 32, "tsk": 16, "wptm": 4, "wptn": 4}


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text()


def _kernel(dtype: str, name: str, tile: dict):
    backend = get_backend("opencl")
    backend.require()
    return backend.kernel(_source(), name, {"KIND": KIND[dtype], **{k.upper(): v for k, v in tile.items()}})


def _arguments(backend, problem: Problem, a, b):
    """The output, the kernel's size arguments (geometry's), M, N and the batch count."""
    shape, sizes = geometry(problem, a.shape, b.shape)
    return (backend.empty(shape, a.dtype), sizes, *(int(v) for v in (sizes[0], sizes[1], sizes[7])))


def _naive(problem: Problem, config: dict):
    backend = get_backend("opencl")
    kernel = _kernel(problem.dtype, "naive", _default(problem))  # one program with the tiled default
    local = 64 if backend.is_gpu() else 16

    def launch(a, b):
        out, sizes, m, n, batches = _arguments(backend, problem, a, b)
        kernel(backend.queue, (-(-n // local) * local, m, batches), (local, 1, 1), *backend.at(a), *backend.at(b),
               out.data, *sizes)
        return out

    return launch


def _tiled(problem: Problem, config: dict):
    backend = get_backend("opencl")
    kernel = _kernel(problem.dtype, "tiled", config)
    tsm, tsn = config["tsm"], config["tsn"]
    rtsm, rtsn = tsm // config["wptm"], tsn // config["wptn"]

    def launch(a, b):
        out, sizes, m, n, batches = _arguments(backend, problem, a, b)
        kernel(backend.queue, (-(-n // tsn) * rtsn, -(-m // tsm) * rtsm, batches), (rtsn, rtsm, 1),
               *backend.at(a), *backend.at(b), out.data, *sizes)
        return out

    return launch


def _vector(problem: Problem, config: dict):
    backend = get_backend("opencl")
    inner = problem.flag("tb")
    kernel = _kernel(problem.dtype, "inner" if inner else "outer", config)
    per_n = config["wn"] if inner else config["vw"]  # outputs along n per work-item

    def launch(a, b):
        out, sizes, m, n, batches = _arguments(backend, problem, a, b)
        kernel(backend.queue, (-(-n // per_n), -(-m // config["wm"]), batches), None,
               *backend.at(a), *backend.at(b), out.data, *sizes)
        return out

    return launch


def _vector_supports(problem: Problem) -> bool:
    return _supports(problem) and not (problem.flag("ta") and problem.flag("tb"))


def _compute_bytes(problem: Problem) -> int:
    return 8 if problem.dtype == "float64" else 4  # float16 computes in float


def _vector_valid(problem: Problem, config: dict) -> bool:
    """outer's n extent is the vector (wn 1); at most 1664 bytes of vectors per work-item
    (inner: the sums and one vector of each row and column; outer: the sums and B's): PoCL's
    build crashed (SIGSEGV at run time) on inner's float32 16 x 16 x 1 (2112 bytes) and
    16 x 8 x 4, and ran 16 x 8 x 2 (1664) on the 2-core Xeon."""
    vw, wm, wn = config["vw"], config["wm"], config["wn"]
    vectors = wm * wn + wm + wn if problem.flag("tb") else wm + 1
    return (problem.flag("tb") or wn == 1) and vw * vectors * _compute_bytes(problem) <= 1664


def _vector_default(problem: Problem) -> dict:
    """64 bytes a vector (AVX-512's), 8 rows, 2 columns of B transposed."""
    return {"vw": 64 // _compute_bytes(problem), "wm": 8, "wn": 2 if problem.flag("tb") else 1}


def _on_gpu() -> bool:
    backend = get_backend("opencl")
    return backend.available and backend.is_gpu()


def _valid(problem: Problem, config: dict) -> bool:
    """Whole work-items per tile, a work-group the device takes, tiles in its local memory."""
    backend = get_backend("opencl")
    tsm, tsn, tsk, wptm, wptn = (config[k] for k in TILE)
    if tsm % wptm or tsn % wptn:
        return False
    threads = (tsm // wptm) * (tsn // wptn)
    if not 16 <= threads <= (backend.max_work_group_size() if backend.available else 256):
        return False
    if (tsk * tsm) % threads or (tsk * tsn) % threads:
        return False
    local = tsk * (tsm + tsn + 2) * (8 if problem.dtype == "float64" else 4)
    return not backend.available or local <= backend.local_mem_bytes()


def _default(problem: Problem) -> dict:
    if not get_backend("opencl").is_gpu():
        return dict(CPU_TILE)
    m = problem.shape[-3]
    tsm = 16 if m <= 16 else 32 if m <= 32 else 64
    return {"tsm": tsm, "tsn": 64, "tsk": 16, "wptm": tsm // 16, "wptn": 4}


def _supports(problem: Problem) -> bool:
    return problem.dtype in MATMUL.dtypes("opencl")


def variants() -> list[Variant]:
    return [
        Variant("tiled", "opencl", _tiled, default=_default, valid=_valid, supports=_supports, sources=(SOURCE,),
                space={"tsm": (16, 32, 64, 128), "tsn": (16, 32, 64, 128), "tsk": (8, 16, 32),
                       "wptm": (1, 2, 4, 8), "wptn": (1, 2, 4, 8)}, rank=lambda p: 0 if _on_gpu() else 1),
        # Uncoalesced on a GPU (a work-item's vector is contiguous, its neighbours' are not).
        Variant("vector", "opencl", _vector, default=_vector_default, valid=_vector_valid,
                supports=_vector_supports, sources=(SOURCE,), rank=lambda p: 2 if _on_gpu() else 0,
                space={"vw": (4, 8, 16), "wm": (2, 4, 8, 16), "wn": (1, 2, 4)}),
        Variant("naive", "opencl", _naive, baseline=True, supports=_supports, sources=(SOURCE,)),
    ]
