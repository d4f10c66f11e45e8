// dumbtorch._C._check_backward_anomaly and _nonfinite: what dt.autograd.detect_anomaly (and
// DT_CHECK_NAN=1) call; python/dumbtorch/autograd.py installs the checks only while enabled.
#include "Bindings.h"
#include "TensorArgs.h"

#include "frontend/Anomaly.h"

namespace py = pybind11;
using dt::py_bind::argTensor;
using dt::py_bind::run;
using dt::py_bind::tensorList;

void bindAnomaly(py::module_ &m) {
  m.def(
      "_check_backward_anomaly",
      [](py::handle outputs, py::handle gradOutputs) {
        std::vector<dt::Tensor> outs = tensorList(outputs, "backward", "tensors");
        std::vector<dt::Tensor> grads;
        if (!gradOutputs.is_none())
          for (py::handle g : py::reinterpret_borrow<py::sequence>(gradOutputs))
            grads.push_back(g.is_none() ? dt::Tensor() : argTensor(g, "backward", "grad_tensors"));
        run([&] { dt::checkBackwardAnomaly(outs, grads); });
      },
      py::arg("outputs"), py::arg("grad_outputs") = py::none(),
      "Raises RuntimeError naming the first tape node whose backward returns a NaN/inf gradient.");
  m.def(
      "_nonfinite",
      [](py::handle t) {
        const dt::Tensor &x = argTensor(t, "_nonfinite", "input");
        return run([&] { return dt::nonFinite(x); });
      },
      py::arg("input"), "1 if the tensor holds a NaN, else 2 if it holds an inf, else 0.");
}
