"""oneDNN 3.2 through its C API, with plain ctypes.

The `onednn-cpu-gomp` wheel puts libdnnl.so.3 into <prefix>/lib (no Python module);
this binding finds it there, checks that the library says 3.2.x, and creates one CPU
engine and one in-order stream per process. Primitives are cached per key (kind,
shapes, dtypes, attributes): creating one takes tens of microseconds to milliseconds,
executing one costs a few microseconds on top of the work.

    >>> import numpy as np
    >>> from hakl.backends import onednn
    >>> if onednn.available():
    ...     x = np.array([[1.0, 2.0, 3.0]], np.float32); y = np.empty_like(x)
    ...     onednn.library().softmax_forward(x.shape, "float32", axis=1).execute(
    ...         {onednn.ARG_SRC: x, onednn.ARG_DST: y})

Primitives: softmax (forward and backward), reorder (data type and layout conversion:
cast), concat (stack) and matmul (strided operands, batch dimensions broadcast). Other ops add a creator beside these and get caching,
memory objects over NumPy buffers, scratchpads and error checking from what is here.

Threads: the gomp build runs on OpenMP. When OMP_NUM_THREADS is not set, the binding
gives oneDNN's OpenMP runtime as many threads as numba uses, so that the two pools
never ask for more cores than numba was told it has. (With numba's "omp" threading
layer both run on the very same libgomp pool.)
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from . import output_pool
from .base import wheel_library_dirs

# ---- constants --------------------------------------------------------------
# Values read from the 3.2 headers (.venv/include/oneapi/dnnl/); the implicit
# ones were checked by compiling a C program against those headers.

# dnnl_status_t (dnnl_common_types.h)
STATUS = {0: "dnnl_success", 1: "dnnl_out_of_memory", 2: "dnnl_invalid_arguments",
          3: "dnnl_unimplemented", 4: "dnnl_last_impl_reached", 5: "dnnl_runtime_error",
          6: "dnnl_not_required", 7: "dnnl_invalid_graph", 8: "dnnl_invalid_graph_op",
          9: "dnnl_invalid_shape", 10: "dnnl_invalid_data_type"}
SUCCESS, INVALID_ARGUMENTS, UNIMPLEMENTED = 0, 2, 3

# dnnl_data_type_t (dnnl_common_types.h)
DATA_TYPES = {"float16": 1, "bfloat16": 2, "float32": 3, "int32": 4, "int8": 5, "uint8": 6,
              "float64": 7, "bool": 8}

# dnnl_engine_kind_t (dnnl_common_types.h): dnnl_any_engine, dnnl_cpu, dnnl_gpu — implicit
ENGINE_CPU = 1
# dnnl_stream_flags_t (dnnl_common_types.h)
STREAM_IN_ORDER = 0x1

# dnnl_format_tag_t (dnnl_types.h): implicit values, undef = 0, any = 1, then dnnl_a, dnnl_ab, ...
FORMAT_TAG_ANY = 1
FORMAT_TAG_PLAIN = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7}  # ndims -> dnnl_a .. dnnl_abcdef

# dnnl_prop_kind_t (dnnl_types.h)
FORWARD_TRAINING, FORWARD_INFERENCE, BACKWARD_DATA = 64, 96, 160

# dnnl_alg_kind_t (dnnl_types.h): dnnl_softmax_accurate = 0x30000, dnnl_softmax_log implicit
SOFTMAX_ACCURATE, SOFTMAX_LOG = 0x30000, 0x30001

# dnnl_query_t (dnnl_types.h): implicit except exec_arg_md = 255 and ndims_s32 = 256
QUERY_IMPL_INFO_STR, QUERY_EXEC_ARG_MD, QUERY_SCRATCHPAD_MD, QUERY_NDIMS_S32 = 8, 255, 136, 256

# dnnl_alg_kind_t eltwise (activations of the vanilla RNN cell) and dnnl_rnn_direction_t
ELTWISE_RELU, ELTWISE_TANH = 0x20, 0x21
LEFT2RIGHT, RIGHT2LEFT = 1, 2

# dnnl_scratchpad_mode_t (dnnl_types.h): library = 0, user = 1 (implicit)
SCRATCHPAD_USER = 1

# DNNL_ARG_* (dnnl_types.h, #defines)
ARG_SRC, ARG_DST = 1, 17  # DNNL_ARG_SRC_0 / DNNL_ARG_DST_0, also SRC_LAYER / DST_LAYER
ARG_FROM, ARG_TO = ARG_SRC, ARG_DST  # the reorder's aliases of the same two
ARG_SRC_ITER, ARG_SRC_ITER_C, ARG_DST_ITER, ARG_DST_ITER_C = 2, 3, 18, 19
ARG_WEIGHTS_LAYER, ARG_WEIGHTS_ITER, ARG_BIAS, ARG_WORKSPACE = 33, 34, 41, 64
ARG_WEIGHTS = ARG_WEIGHTS_LAYER  # DNNL_ARG_WEIGHTS_0: matmul's second operand
ARG_SCRATCHPAD = 80
ARG_DIFF_SRC, ARG_DIFF_DST = 129, 145
ARG_MULTIPLE_SRC = 1024  # concat's i-th source is ARG_MULTIPLE_SRC + i
ARG_MULTIPLE_DST = 2048
# Source i's argument must stay below ARG_MULTIPLE_DST, so one concat takes at most 1024.
MAX_CONCAT_SOURCES = ARG_MULTIPLE_DST - ARG_MULTIPLE_SRC

MAX_NDIMS = 12  # DNNL_MAX_NDIMS (dnnl_common_types.h)
RUNTIME_OMP = 2  # DNNL_RUNTIME_OMP (dnnl_config.h)
SUPPORTED_VERSION = (3, 2)

_Dims = ctypes.c_int64 * MAX_NDIMS


class _Version(ctypes.Structure):  # dnnl_version_t (dnnl_common_types.h)
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


class _ExecArg(ctypes.Structure):  # dnnl_exec_arg_t (dnnl_types.h)
    _fields_ = [("arg", ctypes.c_int), ("memory", ctypes.c_void_p)]


_P, _I = ctypes.c_void_p, ctypes.c_int
_PP = ctypes.POINTER(ctypes.c_void_p)
# name -> argument types; every one returns dnnl_status_t unless listed in _RESTYPES
_SIGNATURES: dict[str, list] = {
    "dnnl_engine_create": [_PP, _I, ctypes.c_size_t],
    "dnnl_stream_create": [_PP, _P, ctypes.c_uint],
    "dnnl_stream_wait": [_P],
    "dnnl_memory_desc_create_with_strides": [_PP, _I, _Dims, _I, _Dims],
    "dnnl_memory_desc_create_with_tag": [_PP, _I, _Dims, _I, _I],
    "dnnl_memory_desc_destroy": [_P],
    "dnnl_memory_desc_get_size": [_P],
    "dnnl_memory_desc_query": [_P, _I, _P],
    "dnnl_memory_create": [_PP, _P, _P, _P],
    "dnnl_memory_destroy": [_P],
    "dnnl_primitive_attr_create": [_PP],
    "dnnl_primitive_attr_destroy": [_P],
    "dnnl_primitive_attr_set_scratchpad_mode": [_P, _I],
    "dnnl_primitive_desc_destroy": [_P],
    "dnnl_primitive_desc_query": [_P, _I, _I, _P],
    "dnnl_primitive_desc_query_md": [_P, _I, _I],
    "dnnl_primitive_create": [_PP, _P],
    "dnnl_primitive_destroy": [_P],
    "dnnl_primitive_execute": [_P, _P, _I, ctypes.POINTER(_ExecArg)],
    "dnnl_reorder_primitive_desc_create": [_PP, _P, _P, _P, _P, _P],
    "dnnl_concat_primitive_desc_create": [_PP, _P, _P, _I, _I, _PP, _P],
    "dnnl_matmul_primitive_desc_create": [_PP, _P, _P, _P, _P, _P, _P],
    "dnnl_softmax_forward_primitive_desc_create": [_PP, _P, _I, _I, _P, _P, _I, _P],
    "dnnl_softmax_backward_primitive_desc_create": [_PP, _P, _I, _P, _P, _P, _I, _P, _P],
    "dnnl_lstm_forward_primitive_desc_create": [_PP, _P, _I, _I] + [_P] * 11 + [ctypes.c_uint, _P],
    "dnnl_lbr_gru_forward_primitive_desc_create": [_PP, _P, _I, _I] + [_P] * 7 + [ctypes.c_uint, _P],
    "dnnl_vanilla_rnn_forward_primitive_desc_create": [_PP, _P, _I, _I, _I] + [_P] * 7
                                                      + [ctypes.c_uint, ctypes.c_float, ctypes.c_float, _P],
    "dnnl_version": [],
}
_RESTYPES = {"dnnl_memory_desc_get_size": ctypes.c_size_t, "dnnl_primitive_desc_query_md": _P,
             "dnnl_version": ctypes.POINTER(_Version)}


class OneDNNError(RuntimeError):
    """A oneDNN call returned an error status."""

    def __init__(self, function: str, status: int, detail: str = ""):
        self.function, self.status = function, status
        name = STATUS.get(status, "unknown status")
        super().__init__(f"oneDNN: {function} failed with {name} ({status}){': ' + detail if detail else ''}")


class OneDNNUnavailable(RuntimeError):
    """oneDNN cannot be used here; the message says why."""


# ---- finding and loading the library ------------------------------------------

LIBRARY_NAME = "libdnnl.so.3"


def library_candidates() -> list[Path | str]:
    """Where libdnnl.so.3 is looked for: $HAKL_ONEDNN_LIBRARY alone when set, else the
    wheel's <prefix>/lib (this interpreter's prefix and data dir), then the system."""
    explicit = os.environ.get("HAKL_ONEDNN_LIBRARY")
    if explicit:
        return [Path(explicit)]
    found: list[Path | str] = [d / LIBRARY_NAME for d in wheel_library_dirs() if (d / LIBRARY_NAME).exists()]
    system = ctypes.util.find_library("dnnl")
    if system:
        found.append(system)
    return found


def version_problem(version: tuple[int, int, int]) -> str | None:
    """Why a library reporting `version` is not used, or None."""
    if tuple(version[:2]) != SUPPORTED_VERSION:
        wanted = ".".join(map(str, SUPPORTED_VERSION))
        return (f"libdnnl reports version {'.'.join(map(str, version))}, this binding is written "
                f"against {wanted}.x (pip install 'onednn-cpu-gomp==2023.2.0')")
    return None


def _dims(values) -> _Dims:
    d = _Dims()
    for i, v in enumerate(values):
        d[i] = int(v)
    return d


def _dtype_name(dtype: Any) -> str:
    """NumPy's name for a dtype; a str passes through ("bfloat16" has no NumPy dtype)."""
    return dtype if isinstance(dtype, str) else np.dtype(dtype).name


def _dnnl_type(dtype: Any) -> int:
    name = _dtype_name(dtype)
    try:
        return DATA_TYPES[name]
    except KeyError:
        raise TypeError(f"oneDNN has no data type for {name}") from None


class MemoryDesc:
    """A memory descriptor: dims, data type and layout (strides in elements, or a tag)."""

    def __init__(self, lib: "Library", shape, dtype, strides=None, tag: int | None = None):
        shape = tuple(int(s) for s in shape)
        if not 1 <= len(shape) <= MAX_NDIMS:
            raise ValueError(f"oneDNN: tensors have 1 to {MAX_NDIMS} dimensions, got shape {shape}")
        self._lib, self.shape, self.dtype = lib, shape, _dtype_name(dtype)
        handle = ctypes.c_void_p()
        if tag is not None:
            self.strides = None  # the layout is the tag's (or the primitive's, for "any")
            lib.call("dnnl_memory_desc_create_with_tag", ctypes.byref(handle), len(shape), _dims(shape),
                     _dnnl_type(dtype), tag)
        else:
            if strides is None:  # plain row-major
                strides = np.cumprod((1,) + shape[:0:-1])[::-1]
            self.strides = tuple(int(s) for s in strides)
            lib.call("dnnl_memory_desc_create_with_strides", ctypes.byref(handle), len(shape), _dims(shape),
                     _dnnl_type(dtype), _dims(self.strides))
        self.handle = handle

    @classmethod
    def of(cls, lib: "Library", array: np.ndarray) -> "MemoryDesc":
        """The descriptor of a NumPy array as it lies in memory (its strides, in elements)."""
        if any(s % array.itemsize for s in array.strides):
            raise ValueError("oneDNN: array strides must be multiples of the item size")
        return cls(lib, array.shape, array.dtype, strides=[s // array.itemsize for s in array.strides])

    @property
    def nbytes(self) -> int:
        """oneDNN's size of the described memory (for strides: outer dim x outer stride)."""
        return int(self._lib.fn["dnnl_memory_desc_get_size"](self.handle))

    def matches(self, array: np.ndarray) -> bool:
        """True when `array` lies in memory exactly as this descriptor says."""
        return (self.strides is not None and self.shape == array.shape and self.dtype == array.dtype.name
                and all(mine == s // array.itemsize for mine, s, n in zip(self.strides, array.strides, array.shape)
                        if n > 1))  # a dimension of 1 is never stepped along: its stride is free

    def __del__(self):
        if getattr(self, "handle", None) and self._lib.fn is not None:
            self._lib.fn["dnnl_memory_desc_destroy"](self.handle)


class ArgDesc(NamedTuple):
    """A memory descriptor owned by a primitive descriptor: one execution argument's."""

    handle: int
    nbytes: int


class Primitive:
    """A created primitive with its primitive descriptor (for argument descriptors)."""

    def __init__(self, lib: "Library", pd: ctypes.c_void_p, kind: str):
        self._lib, self.pd, self.kind = lib, pd, kind
        handle = ctypes.c_void_p()
        try:
            lib.call("dnnl_primitive_create", ctypes.byref(handle), pd)
        except OneDNNError:
            lib.fn["dnnl_primitive_desc_destroy"](pd)
            raise
        self.handle = handle
        self._args: dict[int, ArgDesc] = {}
        scratch = lib.fn["dnnl_primitive_desc_query_md"](pd, QUERY_SCRATCHPAD_MD, 0)
        self.scratchpad_bytes = int(lib.fn["dnnl_memory_desc_get_size"](scratch)) if scratch else 0

    @property
    def impl(self) -> str:
        """The implementation oneDNN picked (e.g. "jit:avx2", "ref:any")."""
        out = ctypes.c_char_p()
        self._lib.call("dnnl_primitive_desc_query", self.pd, QUERY_IMPL_INFO_STR, 0, ctypes.byref(out))
        return out.value.decode()

    def arg_desc(self, arg: int) -> "ArgDesc":
        """The pd's memory descriptor for execution argument `arg` (asked once per arg)."""
        desc = self._args.get(arg)
        if desc is None:
            md = self._lib.fn["dnnl_primitive_desc_query_md"](self.pd, QUERY_EXEC_ARG_MD, arg)
            ndims = ctypes.c_int(0)
            if md:  # an argument the primitive does not take has a zero descriptor
                self._lib.call("dnnl_memory_desc_query", md, QUERY_NDIMS_S32, ctypes.byref(ndims))
            if ndims.value == 0:
                raise ValueError(f"oneDNN: {self.kind} primitive takes no argument {arg}")
            desc = self._args[arg] = ArgDesc(md, int(self._lib.fn["dnnl_memory_desc_get_size"](md)))
        return desc

    def execute(self, args: Mapping[int, "np.ndarray | Memory"]) -> None:
        self._lib.execute(self, args)

    def __del__(self):
        if getattr(self, "handle", None) and self._lib.fn is not None:
            self._lib.fn["dnnl_primitive_destroy"](self.handle)
            self._lib.fn["dnnl_primitive_desc_destroy"](self.pd)


class Memory:
    """A oneDNN memory object over a NumPy buffer (the array is kept alive with it).

    `md` is a MemoryDesc or a primitive's ArgDesc. A strided MemoryDesc must describe
    the array exactly; otherwise the array must be C-contiguous with exactly the
    descriptor's size."""

    def __init__(self, lib: "Library", md: "MemoryDesc | ArgDesc", array: np.ndarray):
        if isinstance(md, MemoryDesc) and md.strides is not None:
            if not md.matches(array):
                raise ValueError(f"oneDNN: a {array.shape} {array.dtype} array with strides {array.strides} "
                                 f"cannot back a {md.shape} {md.dtype} descriptor with strides {md.strides}")
        elif array.nbytes != md.nbytes or not array.flags.c_contiguous:
            raise ValueError(f"oneDNN: a {array.shape} {array.dtype} array (C-contiguous: "
                             f"{array.flags.c_contiguous}) cannot back a {md.nbytes}-byte memory descriptor")
        self._lib, self.array = lib, array
        handle = ctypes.c_void_p()
        lib.call("dnnl_memory_create", ctypes.byref(handle), md.handle, lib.engine,
                 ctypes.c_void_p(array.__array_interface__["data"][0]))
        self.handle = handle

    def __del__(self):
        if getattr(self, "handle", None) and self._lib.fn is not None:
            self._lib.fn["dnnl_memory_destroy"](self.handle)


class Library:
    """libdnnl loaded, version-checked, with one CPU engine and stream and a primitive cache."""

    def __init__(self, path: Path | str):
        try:
            self.dll = ctypes.CDLL(str(path))
        except OSError as exc:
            raise OneDNNUnavailable(f"cannot load {path}: {exc}") from None
        self.path = str(path)
        self.fn: dict[str, Any] = {}
        for name, argtypes in _SIGNATURES.items():
            try:
                f = getattr(self.dll, name)
            except AttributeError:
                raise OneDNNUnavailable(f"{path} has no symbol {name}") from None
            f.argtypes, f.restype = argtypes, _RESTYPES.get(name, ctypes.c_int)
            self.fn[name] = f
        v = self.fn["dnnl_version"]().contents
        self.version = (v.major, v.minor, v.patch)
        self.cpu_runtime = v.cpu_runtime
        problem = version_problem(self.version)
        if problem is not None:
            raise OneDNNUnavailable(problem)
        self.threads = self._share_threads()
        self.engine, self.stream = ctypes.c_void_p(), ctypes.c_void_p()
        self.call("dnnl_engine_create", ctypes.byref(self.engine), ENGINE_CPU, 0)
        self.call("dnnl_stream_create", ctypes.byref(self.stream), self.engine, STREAM_IN_ORDER)
        self._primitives: dict[tuple, Primitive] = {}
        self._softmax_dtypes: dict[str, bool] = {}
        self._reorder_pairs: dict[tuple[str, str], bool] = {}
        self._concat_dtypes: dict[str, bool] = {}
        self._matmul_dtypes: dict[str, bool] = {}
        self._lock = threading.Lock()

    def call(self, name: str, *args: Any) -> None:
        """Call a status-returning function; raise OneDNNError naming it on failure."""
        status = self.fn[name](*args)
        if status != SUCCESS:
            raise OneDNNError(name, status)

    def _share_threads(self) -> int | None:
        """Thread count given to oneDNN's OpenMP runtime, or None when the user chose it."""
        if self.cpu_runtime != RUNTIME_OMP or "OMP_NUM_THREADS" in os.environ:
            return None
        import numba

        n = numba.get_num_threads()
        # Found through libdnnl's own handle, so it is the libgomp that libdnnl runs on.
        set_threads = getattr(self.dll, "omp_set_num_threads", None)
        if set_threads is None:
            return None
        set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
        set_threads(n)
        return n

    # ---- building blocks for any primitive ------------------------------------

    def memory_desc(self, shape, dtype, strides=None, tag: int | None = None) -> MemoryDesc:
        """Plain row-major by default; `strides` in elements, or a dnnl_format_tag_t `tag`
        (FORMAT_TAG_ANY lets a primitive choose, as RNN weights want)."""
        return MemoryDesc(self, shape, dtype, strides, tag)

    def memory(self, md, array: np.ndarray) -> Memory:
        return Memory(self, md, array)

    def attr(self) -> ctypes.c_void_p:
        """A new primitive attribute with a user-managed scratchpad (so that concurrent
        executions of one cached primitive never share one); the caller destroys it."""
        attr = ctypes.c_void_p()
        self.call("dnnl_primitive_attr_create", ctypes.byref(attr))
        try:
            self.call("dnnl_primitive_attr_set_scratchpad_mode", attr, SCRATCHPAD_USER)
        except OneDNNError:
            self.fn["dnnl_primitive_attr_destroy"](attr)
            raise
        return attr

    def primitive(self, key: tuple, create_pd: Callable[[ctypes.c_void_p], ctypes.c_void_p]) -> Primitive:
        """The cached primitive for `key` ((kind, shapes, dtypes, attributes ...)); on a miss
        `create_pd(attr)` makes the primitive descriptor, which the Primitive then owns."""
        prim = self._primitives.get(key)
        if prim is None:
            with self._lock:
                prim = self._primitives.get(key)
                if prim is None:
                    attr = self.attr()
                    try:
                        pd = create_pd(attr)
                    finally:
                        self.fn["dnnl_primitive_attr_destroy"](attr)
                    prim = self._primitives[key] = Primitive(self, pd, str(key[0]))
        return prim

    def execute(self, primitive: Primitive, args: Mapping[int, "np.ndarray | Memory"]) -> None:
        """Run `primitive` with {DNNL_ARG_*: NumPy array or Memory} and wait for it.
        Arrays must be C-contiguous and match the primitive's descriptor for that argument."""
        mems = [a if isinstance(a, Memory) else Memory(self, primitive.arg_desc(k), a) for k, a in args.items()]
        keys = list(args)
        if primitive.scratchpad_bytes:
            # from the output pool: an RNN's 18 MB scratchpad in fresh pages took 5 ms of page
            # faults a call (LSTM T64 B32 H256, 15 ms in all)
            scratch = output_pool.empty(primitive.scratchpad_bytes, np.uint8)
            mems.append(Memory(self, primitive.arg_desc(ARG_SCRATCHPAD), scratch))
            keys.append(ARG_SCRATCHPAD)
        exec_args = (_ExecArg * len(mems))(*(_ExecArg(k, m.handle) for k, m in zip(keys, mems)))
        self.call("dnnl_primitive_execute", primitive.handle, self.stream, len(mems), exec_args)
        self.call("dnnl_stream_wait", self.stream)

    # ---- softmax ----------------------------------------------------------------

    def softmax_forward(self, shape, dtype, axis: int, log: bool = False, training: bool = False) -> Primitive:
        """Softmax (or log-softmax) over `axis` of a plain row-major tensor; ARG_SRC -> ARG_DST.
        `training` makes the forward_training descriptor that the backward needs as its hint."""
        shape, dtype = tuple(int(s) for s in shape), _dtype_name(dtype)
        alg = SOFTMAX_LOG if log else SOFTMAX_ACCURATE
        prop = FORWARD_TRAINING if training else FORWARD_INFERENCE
        key = ("softmax_forward", shape, dtype, int(axis), alg, prop)

        def create(attr):
            md = self.memory_desc(shape, dtype)
            pd = ctypes.c_void_p()
            self.call("dnnl_softmax_forward_primitive_desc_create", ctypes.byref(pd), self.engine, prop, alg,
                      md.handle, md.handle, int(axis), attr)
            return pd

        return self.primitive(key, create)

    def softmax_backward(self, shape, dtype, axis: int, log: bool = False) -> Primitive:
        """Softmax backward: ARG_DST (the forward's output) and ARG_DIFF_DST -> ARG_DIFF_SRC."""
        shape, dtype = tuple(int(s) for s in shape), _dtype_name(dtype)
        alg = SOFTMAX_LOG if log else SOFTMAX_ACCURATE
        hint = self.softmax_forward(shape, dtype, axis, log, training=True)
        key = ("softmax_backward", shape, dtype, int(axis), alg)

        def create(attr):
            md = self.memory_desc(shape, dtype)
            pd = ctypes.c_void_p()
            self.call("dnnl_softmax_backward_primitive_desc_create", ctypes.byref(pd), self.engine, alg,
                      md.handle, md.handle, md.handle, int(axis), hint.pd, attr)
            return pd

        return self.primitive(key, create)

    def softmax_supports(self, dtype) -> bool:
        """Whether this machine's oneDNN implements softmax forward and backward for `dtype`
        (f16/bf16 need ISA support; there is no f64 softmax on CPU). Probed once per dtype."""
        name = _dtype_name(dtype)
        known = self._softmax_dtypes.get(name)
        if known is None:
            known = self._softmax_dtypes[name] = name in DATA_TYPES and self._implemented(
                lambda: (self.softmax_forward((2, 8), name, 1), self.softmax_backward((2, 8), name, 1)))
        return known

    def _implemented(self, probe: Callable[[], Any]) -> bool:
        """False when `probe()` (a primitive of small valid shapes) raises dnnl_unimplemented,
        or its memory descriptor refuses the data type (dnnl_boolean is the graph API's
        alone); other errors propagate."""
        try:
            probe()
        except OneDNNError as exc:
            refused_type = exc.function.startswith("dnnl_memory_desc_create") and exc.status == INVALID_ARGUMENTS
            if exc.status != UNIMPLEMENTED and not refused_type:
                raise
            return False
        return True

    # ---- reorder ----------------------------------------------------------------

    def reorder(self, src_shape, src_dtype, dst_shape, dst_dtype, src_strides=None, dst_strides=None) -> Primitive:
        """Copy ARG_FROM to ARG_TO, converting the data type and/or the layout (strides
        in elements, None for row-major). oneDNN's conversions round to nearest even and
        saturate integer destinations (NumPy's astype truncates and wraps)."""
        src_shape, dst_shape = tuple(int(s) for s in src_shape), tuple(int(s) for s in dst_shape)
        src_dtype, dst_dtype = _dtype_name(src_dtype), _dtype_name(dst_dtype)
        src_strides = None if src_strides is None else tuple(int(s) for s in src_strides)
        dst_strides = None if dst_strides is None else tuple(int(s) for s in dst_strides)
        key = ("reorder", src_shape, src_dtype, src_strides, dst_shape, dst_dtype, dst_strides)

        def create(attr):
            src = self.memory_desc(src_shape, src_dtype, src_strides)
            dst = self.memory_desc(dst_shape, dst_dtype, dst_strides)
            pd = ctypes.c_void_p()
            self.call("dnnl_reorder_primitive_desc_create", ctypes.byref(pd), src.handle, self.engine,
                      dst.handle, self.engine, attr)
            return pd

        return self.primitive(key, create)

    def reorder_supports(self, src_dtype, dst_dtype) -> bool:
        """Whether this machine's oneDNN implements a plain reorder from `src_dtype` to
        `dst_dtype` (f64 and boolean have none on CPU). Probed once per pair."""
        pair = (_dtype_name(src_dtype), _dtype_name(dst_dtype))
        known = self._reorder_pairs.get(pair)
        if known is None:
            known = self._reorder_pairs[pair] = pair[0] in DATA_TYPES and pair[1] in DATA_TYPES and \
                self._implemented(lambda: self.reorder((2, 8), pair[0], (2, 8), pair[1]))
        return known

    # ---- concat -----------------------------------------------------------------

    def concat(self, shapes, dtype, axis: int) -> Primitive:
        """Concatenate row-major sources of `shapes` (equal but along `axis`) along `axis`
        into a row-major destination: ARG_MULTIPLE_SRC + i -> ARG_DST. At most
        MAX_CONCAT_SOURCES sources."""
        shapes = tuple(tuple(int(s) for s in shape) for shape in shapes)
        dtype, axis = _dtype_name(dtype), int(axis)
        if not 1 <= len(shapes) <= MAX_CONCAT_SOURCES:
            raise ValueError(f"oneDNN: concat takes 1 to {MAX_CONCAT_SOURCES} sources, got {len(shapes)}")
        key = ("concat", shapes, dtype, axis)

        def create(attr):
            dst_shape = list(shapes[0])
            if 0 <= axis < len(dst_shape):  # else oneDNN says what is wrong with the axis
                dst_shape[axis] = sum(shape[axis] for shape in shapes)
            srcs = [self.memory_desc(shape, dtype) for shape in shapes]
            dst = self.memory_desc(dst_shape, dtype)
            handles = (ctypes.c_void_p * len(srcs))(*(md.handle for md in srcs))
            pd = ctypes.c_void_p()
            self.call("dnnl_concat_primitive_desc_create", ctypes.byref(pd), self.engine, dst.handle,
                      len(srcs), axis, handles, attr)
            return pd

        return self.primitive(key, create)

    def concat_supports(self, dtype) -> bool:
        """Whether this machine's oneDNN implements concat for `dtype`. Probed once per dtype."""
        name = _dtype_name(dtype)
        known = self._concat_dtypes.get(name)
        if known is None:
            known = self._concat_dtypes[name] = name in DATA_TYPES and \
                self._implemented(lambda: self.concat([(2, 1, 8)] * 2, name, 1))
        return known

    # ---- matmul -----------------------------------------------------------------

    def matmul(self, src_shape, weights_shape, dtype, src_strides=None, weights_strides=None,
               dst_dtype=None) -> Primitive:
        """dst = src @ weights over the last two dimensions: ARG_SRC (..., M, K) and
        ARG_WEIGHTS (..., K, N) -> ARG_DST (..., M, N), row-major. Both operands have the
        same rank; a batch dimension of 1 in one of them is broadcast. Strides (in
        elements, None for row-major) describe views such as a transposed matrix, which
        the primitive reads in place (an array backing a strided operand must be the
        C-contiguous array the view was taken of: execute checks its size, not its strides).
        `dst_dtype` defaults to `dtype`."""
        src_shape, weights_shape = tuple(int(s) for s in src_shape), tuple(int(s) for s in weights_shape)
        dtype = _dtype_name(dtype)
        dst_dtype = dtype if dst_dtype is None else _dtype_name(dst_dtype)
        src_strides = None if src_strides is None else tuple(int(s) for s in src_strides)
        weights_strides = None if weights_strides is None else tuple(int(s) for s in weights_strides)
        if len(src_shape) != len(weights_shape) or len(src_shape) < 2:
            raise ValueError(f"oneDNN: matmul operands need one rank of at least 2, got {src_shape} and "
                             f"{weights_shape}")
        batch = tuple(max(a, b) for a, b in zip(src_shape[:-2], weights_shape[:-2]))
        dst_shape = batch + (src_shape[-2], weights_shape[-1])
        key = ("matmul", src_shape, src_strides, weights_shape, weights_strides, dtype, dst_dtype)

        def create(attr):
            src = self.memory_desc(src_shape, dtype, src_strides)
            weights = self.memory_desc(weights_shape, dtype, weights_strides)
            dst = self.memory_desc(dst_shape, dst_dtype)
            pd = ctypes.c_void_p()
            self.call("dnnl_matmul_primitive_desc_create", ctypes.byref(pd), self.engine, src.handle,
                      weights.handle, None, dst.handle, attr)
            return pd

        return self.primitive(key, create)

    def matmul_supports(self, dtype) -> bool:
        """Whether this machine's oneDNN implements matmul for `dtype` in and out (f16 needs
        AVX512-FP16 or AMX; there is no f64 matmul on CPU). Probed once per dtype."""
        name = _dtype_name(dtype)
        known = self._matmul_dtypes.get(name)
        if known is None:
            known = self._matmul_dtypes[name] = name in DATA_TYPES and \
                self._implemented(lambda: self.matmul((2, 3), (3, 4), name))
        return known


    # ---- RNN layers ---------------------------------------------------------------

    def rnn_forward(self, cell: str, t: int, b: int, n_in: int, h: int, dtype, reverse: bool = False) -> Primitive:
        """One layer of `cell` ("lstm", "lbr_gru", "rnn_tanh", "rnn_relu"), inference, one
        direction: ARG_SRC (T, B, I), ARG_SRC_ITER (1, 1, B, H) [and ARG_SRC_ITER_C] ->
        ARG_DST (T, B, H), ARG_DST_ITER [, ARG_DST_ITER_C]; ARG_WEIGHTS_LAYER (1, 1, I, G, H)
        and ARG_WEIGHTS_ITER (1, 1, H, G, H) in the primitive's own layout ("any": plain
        weights get oneDNN's reference kernel, 4x slower; see reorder_into), ARG_BIAS
        (1, 1, G', H) plain (G' = 4 for lbr_gru: its candidate's hidden bias apart)."""
        t, b, n_in, h, dtype = int(t), int(b), int(n_in), int(h), _dtype_name(dtype)
        gates = {"lstm": 4, "lbr_gru": 3}.get(cell, 1)
        key = ("rnn_forward", cell, t, b, n_in, h, dtype, bool(reverse))

        def create(attr):
            md = lambda shape, tag=None: self.memory_desc(shape, dtype, tag=tag)  # noqa: E731
            src, state = md((t, b, n_in)), md((1, 1, b, h))
            w_layer, w_iter = md((1, 1, n_in, gates, h), FORMAT_TAG_ANY), md((1, 1, h, gates, h), FORMAT_TAG_ANY)
            bias = md((1, 1, gates + (cell == "lbr_gru"), h))
            dst = md((t, b, h))
            pd = ctypes.c_void_p()
            head = (ctypes.byref(pd), self.engine, FORWARD_INFERENCE)
            direction = RIGHT2LEFT if reverse else LEFT2RIGHT
            if cell == "lstm":
                self.call("dnnl_lstm_forward_primitive_desc_create", *head, direction, src.handle, state.handle,
                          state.handle, w_layer.handle, w_iter.handle, None, None, bias.handle, dst.handle,
                          state.handle, state.handle, 0, attr)
            elif cell == "lbr_gru":
                self.call("dnnl_lbr_gru_forward_primitive_desc_create", *head, direction, src.handle, state.handle,
                          w_layer.handle, w_iter.handle, bias.handle, dst.handle, state.handle, 0, attr)
            else:
                activation = ELTWISE_TANH if cell == "rnn_tanh" else ELTWISE_RELU
                self.call("dnnl_vanilla_rnn_forward_primitive_desc_create", *head, activation, direction, src.handle,
                          state.handle, w_layer.handle, w_iter.handle, bias.handle, dst.handle, state.handle, 0,
                          0.0, 0.0, attr)
            return pd

        return self.primitive(key, create)

    def reorder_into(self, primitive: Primitive, arg: int, array: np.ndarray) -> Memory:
        """`array` in the layout `primitive` chose for argument `arg`. A view with positive
        strides (a transpose) is read in place: the reorder's one pass does the transpose
        too, where NumPy's copy of PaddlePaddle's LSTM weights into ldigo order took 3.3 ms
        of a 15 ms T64 B32 H256 forward (Emerald Rapids Xeon)."""
        desc = primitive.arg_desc(arg)
        steps = [s // array.itemsize if n > 1 else array.size for s, n in zip(array.strides, array.shape)]
        strided = not array.flags.c_contiguous and all(s > 0 and s % array.itemsize == 0
                                                       for s, n in zip(array.strides, array.shape) if n > 1)
        if not strided:
            array, steps = np.ascontiguousarray(array), None
        src = self.memory_desc(array.shape, array.dtype, None if steps is None else tuple(steps))
        key = ("reorder_into", primitive.handle.value, arg, src.strides)

        def create(attr):
            pd = ctypes.c_void_p()
            self.call("dnnl_reorder_primitive_desc_create", ctypes.byref(pd), src.handle, self.engine,
                      _P(desc.handle), self.engine, attr)
            return pd

        out = Memory(self, desc, np.empty(desc.nbytes, np.uint8))
        self.execute(self.primitive(key, create), {ARG_FROM: Memory(self, src, array), ARG_TO: out})
        return out


# ---- the process-wide instance ---------------------------------------------------

_state: dict[str, Any] = {}
_state_lock = threading.Lock()


def _load() -> tuple[Library | None, str | None]:
    reasons = []
    for path in library_candidates():
        try:
            return Library(path), None
        except OneDNNUnavailable as exc:
            reasons.append(str(exc))
    if not reasons:
        return None, (f"{LIBRARY_NAME} not found in {sys.prefix}/lib nor on the system "
                      "(pip install 'hakl[onednn]')")
    reason = "; ".join(reasons)  # a library is there but unusable: worth a warning
    warnings.warn(f"hakl: oneDNN is unavailable: {reason}", RuntimeWarning, stacklevel=3)
    return None, reason


def _loaded() -> tuple[Library | None, str | None]:
    if "lib" not in _state:
        with _state_lock:
            if "lib" not in _state:
                _state["lib"], _state["reason"] = _load()
    return _state["lib"], _state["reason"]


def available() -> bool:
    return _loaded()[0] is not None


def unavailable_reason() -> str | None:
    """None when oneDNN is usable, else why not."""
    return _loaded()[1]


def library() -> Library:
    """The process's Library; raises OneDNNUnavailable with the reason."""
    lib, reason = _loaded()
    if lib is None:
        raise OneDNNUnavailable(f"oneDNN is unavailable: {reason}")
    return lib


def describe() -> dict[str, str]:
    """For `hakl info` and tuning fingerprints."""
    lib, reason = _loaded()
    if lib is None:
        return {"onednn": f"unavailable ({reason})"}
    threads = lib.threads if lib.threads is not None else f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    return {"onednn": ".".join(map(str, lib.version)), "onednn_library": lib.path, "onednn_threads": str(threads)}
