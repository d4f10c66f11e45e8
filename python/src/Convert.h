// numpy <-> dt::Array at the Python boundary: exact dtype and shape checks, no copy for
// C-contiguous aligned input, output arrays that view the runtime's buffers.
#pragma once

#include "frontend/Array.h"
#include "ir/Graph.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace dt::py_bind {

namespace py = pybind11;

/// The numpy dtype of an IR dtype (float32, float64, int64, bool).
py::dtype numpyDType(ir::DType t);

/// Converts the call's arguments to Arrays, one per graph input, checking count (ValueError),
/// dtype (TypeError) and shape (ValueError); `who` starts each message ("compiled graph @mlp").
/// A C-contiguous, aligned ndarray of the right dtype is wrapped without a copy (the Array keeps
/// the ndarray alive); other arrays are copied to contiguous memory. Needs the GIL.
std::vector<Array> toArrays(const ir::Graph &g, const py::args &args, const std::string &who);

/// A writable ndarray that views the Array's buffer (shared ownership, no copy). Needs the GIL.
py::array toNumpy(const Array &a);
py::list toNumpyList(const std::vector<Array> &arrays);

} // namespace dt::py_bind
