// The Python exception classes of the native core: dumbtorch.ValueError / TypeError / IndexError
// are subclasses of both the builtin of that name and RuntimeError, so `except ValueError` and
// PyTorch-style `except RuntimeError` both catch a bad shape, dtype or index.
#include "Bindings.h"

#include "ir/Error.h"

namespace py = pybind11;

namespace {

PyObject *gValueError = nullptr;
PyObject *gTypeError = nullptr;
PyObject *gIndexError = nullptr;

PyObject *newError(py::module_ &m, const char *name, PyObject *builtin, const char *doc) {
  py::tuple bases = py::make_tuple(py::handle(builtin), py::handle(PyExc_RuntimeError));
  std::string qualified = std::string("dumbtorch._C.") + name; // where pickle finds it
  PyObject *cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::handle(cls)); // the module keeps a reference for the process's lifetime
  return cls;
}

/// Tried before Module.cpp's translator (pybind11 tries the last registered first).
void translateUserError(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const dt::ValueError &e) {
    PyErr_SetString(gValueError, e.what());
  } catch (const dt::TypeError &e) {
    PyErr_SetString(gTypeError, e.what());
  } catch (const dt::IndexError &e) {
    PyErr_SetString(gIndexError, e.what());
  }
}

} // namespace

void bindErrors(py::module_ &m) {
  gValueError = newError(m, "ValueError", PyExc_ValueError,
                         "A bad value or shape (also a RuntimeError, as PyTorch reports these).");
  gTypeError = newError(m, "TypeError", PyExc_TypeError,
                        "A bad dtype or argument kind (also a RuntimeError, as PyTorch reports dtype errors).");
  gIndexError = newError(m, "IndexError", PyExc_IndexError,
                         "An index or dim out of range (also a RuntimeError, as some of PyTorch's are).");
  py::register_exception_translator(translateUserError);
}
