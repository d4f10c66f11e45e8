// dumbtorch.set_num_threads / get_num_threads: the intra-op thread count (frontend/Threads.h).
#include "Bindings.h"

#include "frontend/Threads.h"

namespace py = pybind11;

void bindThreads(py::module_ &m) {
  m.def("set_num_threads", &dt::setNumThreads, py::arg("n"),
        "Sets the number of threads large matrix multiplies are split across (1 to 1024).");
  m.def("get_num_threads", &dt::numThreads, "The number of threads large matrix multiplies are split across.");
}
