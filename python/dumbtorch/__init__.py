"""dumbtorch: a small deep-learning framework whose graphs compile to native code with LLVM.

``import dumbtorch as dt``, then write PyTorch-style code: ``dt.tensor``, ``dt.zeros``, operators,
``loss.backward()``, ``dt.no_grad()``, ``dt.autograd.grad``. Every eager op runs a JIT-compiled
kernel and backward() compiles the recorded tape once per structure. ``dt.ir`` parses, prints,
verifies, interprets and compiles IR.
"""

__version__ = "0.1.0"

from . import _C
from . import ir
from .tensor import Size, Tensor
from ._creation import (
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, manual_seed, ones, ones_like,
    rand, rand_like, randint, randint_like, randn, randn_like, tensor, zeros, zeros_like,
)
from . import autograd
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import nn
# Issue 4: training (optimizers, data loading, datasets, checkpoints).
from . import datasets, optim, utils
from .serialization import load, save
# Issue 5: compile mode.
from . import compiler
from .compiler import TraceError, compile

dtype = _C.dtype
float32 = _C.float32
float = _C.float32
float64 = _C.float64
double = _C.float64
int64 = _C.int64
long = _C.int64
bool = _C.bool

# Issue 6: the intra-op thread count of large matmuls (like torch.set_num_threads).
set_num_threads = _C.set_num_threads
get_num_threads = _C.get_num_threads

# The eager functions (also methods of Tensor), bound natively in python/src/Tensor.cpp.
_FUNCTIONS = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "pow",
    "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "logical_and", "logical_or",
    "logical_xor", "logical_not", "neg", "negative", "abs", "exp", "log", "sqrt", "sigmoid", "tanh", "relu", "floor",
    "clamp", "clip", "where", "matmul", "mm", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin",
    "softmax", "log_softmax", "logsumexp", "var", "std", "reshape", "flatten", "squeeze", "unsqueeze", "transpose",
    "swapaxes", "permute", "t", "broadcast_to", "cat", "concat", "concatenate", "stack", "gather", "scatter_add", "one_hot", "clone",
    "result_type", "promote_types", "can_cast",
]
globals().update({_name: getattr(_C, _name) for _name in _FUNCTIONS})
autograd._init_anomaly_from_env()  # DT_CHECK_NAN=1: anomaly checks on from import


def is_tensor(obj):
    """Whether obj is a dumbtorch Tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of a tensor."""
    return input.numel()


def detach(input: Tensor) -> Tensor:
    return input.detach()


def cache_stats() -> dict:
    """The JIT's and autograd's cache counters: ``kernels_compiled`` / ``kernel_cache_hits`` (all
    JIT kernels), ``eager_kernel_compiles`` / ``eager_kernel_hits`` (one-op eager kernels),
    ``backward_compiles`` / ``backward_cache_hits`` (backward graphs, cached by structure),
    ``disk_hits`` / ``disk_misses`` / ``disk_writes`` / ``disk_corrupt`` (the on-disk object
    cache, ``DT_CACHE_DIR``) and ``llvm_optimize_seconds`` / ``llvm_codegen_seconds`` (time spent
    in LLVM's O3 and in machine-code generation, this process)."""
    stats = _C.cache_stats()
    stats.update(_C._autograd_stats())
    return stats


def live_buffers() -> int:
    """Buffers the runtime has allocated and not yet freed (proves that the tape frees itself)."""
    return _C._live_buffers()


def host_cpu() -> str:
    """The CPU the JIT generates code for, e.g. ``'skylake-avx512'``."""
    return _C.host_cpu()


__all__ = [
    "__version__", "ir", "cache_stats", "live_buffers", "host_cpu", "Tensor", "Size", "dtype", "float32", "float",
    "float64", "double", "int64", "long", "bool", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full",
    "empty", "zeros_like", "ones_like", "full_like", "empty_like", "arange", "linspace", "eye", "rand", "randn",
    "randint", "rand_like", "randn_like", "randint_like", "manual_seed", "autograd", "no_grad", "enable_grad",
    "set_grad_enabled", "is_grad_enabled", "nn", "is_tensor", "numel", "detach", *_FUNCTIONS,
]
__all__ += ["optim", "utils", "datasets", "save", "load", "compiler", "compile", "TraceError"]
__all__ += ["set_num_threads", "get_num_threads"]
