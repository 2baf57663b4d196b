"""hakl.framework: PaddlePaddle 2.0's dygraph API on hakl's kernels.

    >>> import numpy as np
    >>> import hakl.framework as paddle
    >>> x = paddle.to_tensor(np.array([[1.0, -2.0]], np.float32), stop_gradient=False)
    >>> y = paddle.nn.functional.relu(x * 3.0).sum()
    >>> y.backward()
    >>> x.grad                              # NumPy in 2.0.x
    array([[3., 0.]], dtype=float32)

Every numeric step is a hakl Function on the tensor's device ("cpu", "gpu" = hakl's cuda,
"opencl"); the reverse mode reads each Function's declared Derivative (see tensor.py).
Parts: Tensor and autograd, paddle.* tensor functions, nn (layers, functional, clip,
initializer), optimizer (+ lr), regularizer, io (datasets, DataLoader) and save/load,
amp (auto_cast, decorate, GradScaler), the high-level API (Model, metric, callbacks), jit
(save / load of a traced inference program) and static.InputSpec.
"""
from __future__ import annotations

from . import device as _device
from . import amp, callbacks, io, jit, metric, nn, optimizer, regularizer, static  # noqa: F401
from .device import (CPUPlace, CUDAPlace, OpenCLPlace, Place, get_default_dtype, get_device,  # noqa: F401
                     is_compiled_with_cuda, set_default_dtype, set_device)
from .io import load, save  # noqa: F401
from .model import Model  # noqa: F401
from .nn.layer import ParamAttr, create_parameter  # noqa: F401
from .ops import (add, arange, argmax, cast, clip, cumsum, divide, equal, exp, eye, flatten, full,  # noqa: F401
                  full_like, greater_equal, greater_than, is_tensor, less_equal, less_than, log, matmul, max,
                  maximum, mean, min, minimum, mm, multiply, normal, not_equal, numel, ones, ones_like, pow, rand,
                  randint, randn, randperm, relu, reshape, scale, seed, sigmoid, sqrt, square, squeeze, stack,
                  subtract, sum, tanh, transpose, uniform, unsqueeze, unstack, zeros, zeros_like)
from .tensor import Parameter, Tensor, grad, is_grad_enabled, no_grad, to_tensor  # noqa: F401

bool = _device.DTYPES["bool"]  # noqa: A001  (paddle.bool, paddle.float32, ...: NumPy dtypes here)
int8, uint8, int16, int32, int64 = (_device.DTYPES[n] for n in ("int8", "uint8", "int16", "int32", "int64"))
float16, float32, float64, bfloat16 = (_device.DTYPES[n] for n in ("float16", "float32", "float64", "bfloat16"))

__version__ = "2.0.2"  # the PaddlePaddle API version this follows
