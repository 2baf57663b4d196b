"""hakl: hardware-abstraction kernel library.

    >>> import numpy as np, hakl
    >>> x = hakl.asarray(np.ones((2, 4), np.float32), device="cpu")
    >>> hakl.to_numpy(hakl.softmax(x, axis=-1))[0]
    array([0.25, 0.25, 0.25, 0.25], dtype=float32)
"""
from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"

# Set before NumPy loads OpenBLAS (where hakl is imported first; a value of the user's wins):
# OpenBLAS's idle workers sleep after 2^4 cycles instead of spinning ~0.1 s, beside which
# every OpenMP region (hakl's, torch's) waited 8 ms. README: "GEMMs beside numba's threads".
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import backends  # noqa: E402
from .kernels.activation import (elu, elu_grad, exp, exp_grad, gelu, gelu_grad, log, log_grad, relu,  # noqa: E402
                                 relu_grad, sigmoid, sigmoid_grad, softplus, softplus_grad, sqrt, sqrt_grad, tanh,
                                 tanh_grad)
from .kernels.argsort import argsort, argsort_grad, sort, sort_grad, sort_with_indices  # noqa: E402
from .kernels.cast import cast, cast_grad  # noqa: E402
from .kernels.cross_entropy import (cross_entropy, cross_entropy_grad, cross_entropy_with_grad,  # noqa: E402
                                    softmax_with_cross_entropy)
from .kernels.cumsum import cumsum, cumsum_grad  # noqa: E402
from .kernels.dropout import dropout, dropout_backward, dropout_forward, manual_seed  # noqa: E402
from .kernels.elementwise import (add, add_grad, divide, divide_grad, equal, greater_equal,  # noqa: E402
                                  greater_than, less_equal, less_than, maximum, maximum_grad, minimum,
                                  minimum_grad, multiply, multiply_grad, not_equal, pow, pow_grad, subtract,
                                  subtract_grad)
from .kernels.embedding import embedding, embedding_grad  # noqa: E402
from .kernels.layer_norm import layer_norm, layer_norm_grad, layer_norm_with_stats  # noqa: E402
from .kernels.matmul import matmul, matmul_grad  # noqa: E402
from .kernels.optimizer import adam, adamw, momentum, sgd  # noqa: E402
from .kernels.reduction import (argmax, max, max_grad, mean, mean_grad, min, min_grad, sum,  # noqa: E402,A004
                                sum_grad)
from .kernels.rnn import rnn, rnn_train  # noqa: E402
from .kernels.softmax import log_softmax, log_softmax_grad, softmax, softmax_grad  # noqa: E402
from .kernels.stack import stack, unstack  # noqa: E402
from . import custom  # noqa: E402


def asarray(array: Any, device: str = "cpu", dtype: Any = None) -> Any:
    """`array` (NumPy, CuPy, pyopencl or a nested list) on `device`: "cpu", "cuda" or "opencl"."""
    backend = backends.get(device)
    backend.require()
    if type(array).__module__.split(".")[0] in ("cupy", "pyopencl"):
        source = backends.backend_of(array, "asarray", "array")
        if source is not backend:
            array = source.to_numpy(array)
    return backend.asarray(array, dtype=dtype)


def to_numpy(array: Any) -> Any:
    """A NumPy copy of a hakl array from any device."""
    return backends.backend_of(array, "to_numpy", "array").to_numpy(array)


def device_of(array: Any) -> str:
    return backends.backend_of(array, "device_of", "array").name


__all__ = ["asarray", "to_numpy", "device_of", "softmax", "log_softmax", "softmax_grad", "log_softmax_grad",
           "dropout", "dropout_forward", "dropout_backward", "manual_seed", "cast", "cast_grad",
           "stack", "unstack", "cumsum", "cumsum_grad", "argsort", "argsort_grad", "sort", "sort_grad",
           "sort_with_indices", "cross_entropy", "cross_entropy_grad", "cross_entropy_with_grad",
           "softmax_with_cross_entropy",
           "add", "subtract", "multiply", "divide", "maximum", "minimum", "pow", "add_grad", "subtract_grad",
           "multiply_grad", "divide_grad", "maximum_grad", "minimum_grad", "pow_grad",
           "equal", "not_equal", "greater_than", "greater_equal", "less_than", "less_equal",
           "relu", "tanh", "sigmoid", "exp", "log", "sqrt", "elu", "gelu", "softplus", "relu_grad", "tanh_grad",
           "sigmoid_grad", "exp_grad", "log_grad", "sqrt_grad", "elu_grad", "gelu_grad", "softplus_grad",
           "sum", "mean", "max", "min", "argmax", "sum_grad", "mean_grad", "max_grad", "min_grad",
           "matmul", "matmul_grad", "layer_norm", "layer_norm_with_stats", "layer_norm_grad", "embedding",
           "embedding_grad", "adamw", "adam", "sgd", "momentum", "rnn", "rnn_train"]

# Last: a plugin module ($HAKL_PLUGINS) may import hakl while it loads.
custom.load_plugins()
