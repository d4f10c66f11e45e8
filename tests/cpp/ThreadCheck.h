// Shared by the threaded-codegen tests (codegen_parallel_test.cpp, codegen_gemm_test.cpp,
// fusion_test.cpp): restoring the thread count, and running a graph at 1, 2 and 3 threads.
#pragma once

#include "CodegenCheck.h"

#include "frontend/Threads.h"
#include "runtime/ThreadPool.h"

namespace dt::codegen_check {

/// Restores the thread count when the test ends.
struct ThreadCountGuard {
  int saved = numThreads();
  ~ThreadCountGuard() { setNumThreads(saved); }
};

/// Runs `g` at 1 thread, then at 2 and 3: expects the same bytes, that the 1-thread run did not
/// use the pool, and that the runs at 2 and 3 threads used it exactly when `split`. Returns the
/// 1-thread outputs.
inline std::vector<HostArray> sameAtThreadCounts(const ir::Graph &g, const std::vector<HostArray> &args, bool split) {
  setNumThreads(1);
  uint64_t before = rt::parallelJobCount();
  std::vector<HostArray> one = runJit(g, args);
  EXPECT_EQ(rt::parallelJobCount(), before) << "1 thread";
  for (int t : {2, 3}) {
    setNumThreads(t);
    before = rt::parallelJobCount();
    std::vector<HostArray> many = runJit(g, args);
    EXPECT_EQ(rt::parallelJobCount() > before, split) << t << " threads";
    EXPECT_EQ(many.size(), one.size());
    for (size_t i = 0; i < one.size() && i < many.size(); ++i)
      EXPECT_TRUE(one[i].bytes == many[i].bytes) << t << " threads, output " << i << " differs from 1 thread";
  }
  return one;
}

} // namespace dt::codegen_check
