// The registration functions of the extension's parts, called from PYBIND11_MODULE in Module.cpp.
#pragma once

#include <pybind11/pybind11.h>

/// dumbtorch._C.Tensor, the dtypes, the eager functions and autograd (python/src/Tensor.cpp).
void bindTensor(pybind11::module_ &m);

/// dumbtorch._C._Trace and TraceError, for dt.compile (python/src/Trace.cpp).
void bindTrace(pybind11::module_ &m);

/// dumbtorch._C.set_num_threads / get_num_threads (python/src/Threads.cpp).
void bindThreads(pybind11::module_ &m);

/// dumbtorch._C.ValueError / TypeError / IndexError and their translator (python/src/Errors.cpp).
void bindErrors(pybind11::module_ &m);

/// The anomaly-detection hooks of dt.autograd (python/src/Anomaly.cpp).
void bindAnomaly(pybind11::module_ &m);
