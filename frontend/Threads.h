// The intra-op thread count (runtime/ThreadPool.h), re-exported so that tools/ and python/ reach
// it through the frontend layer, with the user-facing validation.
#pragma once

#include <cstdint>

namespace dt {

/// The largest thread count setNumThreads accepts.
inline constexpr int64_t kMaxThreads = 1024;

/// Sets the number of threads large GEMMs are split across (the calling thread included).
/// Throws dt::ValueError unless 1 <= n <= kMaxThreads.
void setNumThreads(int64_t n);

/// The current thread count (default: env DT_NUM_THREADS, else the hardware's thread count).
int numThreads();

} // namespace dt
