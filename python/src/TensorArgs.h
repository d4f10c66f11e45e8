// Shared by python/src/Tensor.cpp and TensorFunctions.cpp: converting Python arguments to
// tensors, numbers, ints, dims, shapes and dtypes (TypeError naming what was expected and given),
// and running ops with the GIL released.
#pragma once

#include "frontend/TensorOps.h"

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dt::py_bind {

namespace py = pybind11;

using BinaryFn = Tensor (*)(const Operand &, const Operand &);

/// Runs `f` with the GIL released: arguments are converted before, results after; no Python
/// object may be touched inside. (Buffers wrapping numpy arrays take the GIL to drop them.)
template <typename F> auto run(F &&f) -> decltype(f()) {
  py::gil_scoped_release release;
  return f();
}

std::string typeName(py::handle h);
bool isTensor(py::handle h);

/// The C++ tensor of a Python Tensor (TypeError for an instance whose __init__ never ran).
Tensor &selfTensor(py::handle h);
/// The tensor `h` (TypeError "fn(): argument 'arg' must be Tensor, not str" otherwise).
const Tensor &argTensor(py::handle h, const char *fn, const char *arg);
/// A Python bool/int/float or numpy scalar; nullopt for anything else.
std::optional<Scalar> maybeScalar(py::handle h);
/// A tensor or a number; nullopt for anything else.
std::optional<Operand> maybeOperand(py::handle h);
Operand argOperand(py::handle h, const char *fn, const char *arg);
Scalar argScalar(py::handle h, const char *fn, const char *arg);
int64_t argInt(py::handle h, const char *fn, const char *arg);
/// An int or a tuple/list of ints.
std::vector<int64_t> argInts(py::handle h, const char *fn, const char *arg);
/// None (absent), an int, or a tuple/list of ints.
std::optional<std::vector<int64_t>> argDims(py::handle h, const char *fn);
/// Sizes as varargs ints (t.view(2, 3)) or as one sequence (t.view((2, 3))).
ir::Shape argShape(const py::args &args, const char *fn);
/// A dumbtorch dtype, a numpy dtype, float/int/bool or a dtype name; nullopt otherwise.
std::optional<ir::DType> maybeDType(py::handle h);
/// None -> nullopt; else a dtype (TypeError otherwise).
std::optional<ir::DType> argDType(py::handle h, const char *fn);
/// A tensor or a tuple/list of tensors.
std::vector<Tensor> tensorList(py::handle h, const char *fn, const char *arg);
/// The namedtuple max(values, indices) or min(values, indices).
py::object valuesIndices(bool isMax, std::pair<Tensor, Tensor> r);

/// Binds the eager functions as module functions and methods (TensorFunctions.cpp).
void bindTensorFunctions(py::module_ &m, py::class_<Tensor> &cls);

} // namespace dt::py_bind
