// dt::setNumThreads / numThreads: the runtime's thread pool with dt::ValueError on bad counts.
#include "frontend/Threads.h"

#include "ir/Error.h"
#include "runtime/ThreadPool.h"

namespace dt {

void setNumThreads(int64_t n) {
  if (n < 1 || n > kMaxThreads)
    throw ValueError(fmt("set_num_threads: expected a thread count between 1 and ", kMaxThreads, ", given ", n));
  rt::setNumThreads(int(n));
}

int numThreads() { return rt::numThreads(); }

} // namespace dt
