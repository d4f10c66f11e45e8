// The error channel of generated kernels: a kernel that meets an out-of-range index (gather,
// scatter_add) calls dt_kernel_index_error, which records the first one in a thread_local slot;
// whoever called the kernel takes it right after the call (rt::Program::run, the eager frontend)
// and throws. No LLVM here: the JIT resolves the C symbol to this function (codegen/Jit.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

/// Called by generated code: index `index` was out of range [0, bound) along dimension `dim`.
/// Records it unless an earlier one is pending on this thread.
extern "C" void dt_kernel_index_error(int64_t index, int64_t bound, int64_t dim);

namespace dt::rt {

/// One bad index a kernel reported.
struct KernelIndexError {
  int64_t index = 0;
  int64_t bound = 0;
  int64_t dim = 0;
};

/// The pending error of this thread, if any, and clears it.
std::optional<KernelIndexError> takeKernelError();

/// PyTorch's message: "gather: index 7 is out of bounds for dimension 1 with size 5".
std::string indexErrorMessage(std::string_view op, const KernelIndexError &e);

/// What Program::run throws when a step reports a bad index (the frontend rethrows it as
/// dt::IndexError; it is a std::out_of_range like that one).
struct IndexOutOfBounds : std::out_of_range {
  IndexOutOfBounds(std::string_view op, const KernelIndexError &e)
      : std::out_of_range(indexErrorMessage(op, e)), error(e) {}
  KernelIndexError error;
};

} // namespace dt::rt
