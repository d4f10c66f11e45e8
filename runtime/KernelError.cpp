// The thread_local slot behind dt_kernel_index_error (runtime/KernelError.h).
#include "runtime/KernelError.h"

namespace {
thread_local bool tPending = false;
thread_local dt::rt::KernelIndexError tError;
} // namespace

extern "C" void dt_kernel_index_error(int64_t index, int64_t bound, int64_t dim) {
  if (tPending) return; // the first bad index is the one reported
  tError = {index, bound, dim};
  tPending = true;
}

namespace dt::rt {

std::optional<KernelIndexError> takeKernelError() {
  if (!tPending) return std::nullopt;
  tPending = false;
  return tError;
}

std::string indexErrorMessage(std::string_view op, const KernelIndexError &e) {
  return std::string(op) + ": index " + std::to_string(e.index) + " is out of bounds for dimension " +
         std::to_string(e.dim) + " with size " + std::to_string(e.bound);
}

} // namespace dt::rt
