// The registration functions of the extension's parts, called from PYBIND11_MODULE in Module.cpp.
#pragma once

#include <pybind11/pybind11.h>

/// dumbtorch._C.Tensor, the dtypes, the eager functions and autograd (python/src/Tensor.cpp).
void bindTensor(pybind11::module_ &m);
