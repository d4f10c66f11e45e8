// The intra-op thread pool: a small persistent set of worker threads behind dt_parallel_for,
// which generated kernels (the GEMM, codegen/Gemm.cpp; large elementwise kernels and reductions,
// emitParallelNest in codegen/LowerCommon.cpp) call to split a loop across threads.
// No LLVM here: the JIT resolves the C symbol to this function (codegen/Jit.cpp).
#pragma once

#include <cstdint>

/// Runs body(ctx, begin, end) over contiguous chunks that cover [0, n) exactly once, about one
/// chunk per thread: the calling thread and the workers claim chunks until none is left, so the
/// caller runs a chunk a worker has not started (a worker slow to wake never holds it up for
/// longer than that chunk). Runs body(ctx, 0, n) inline when n <= grain,
/// when one thread is set, when called from inside a parallel body, or when another thread's
/// parallel_for holds the pool. Returns after every chunk has finished. `body` must not throw.
/// The chunk count is min(numThreads(), ceil(n / grain)); chunk c is [n*c/C, n*(c+1)/C).
extern "C" void dt_parallel_for(void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx, int64_t n,
                                int64_t grain);

namespace dt::rt {

/// Generated elementwise kernels and reductions with fewer elements than this run on the calling
/// thread, larger ones in chunks of at least about this many elements (codegen/Lower.h,
/// emitParallelNest): below it, waking a worker costs about what it saves.
inline constexpr int64_t kParallelMinElements = int64_t(1) << 16;

/// The generated GEMM splits across threads from this many multiply-adds (M*N*K) on (codegen/Gemm.h,
/// emitGemm): about 40 us of work on one core, against about 7 us for a fork/join of the pool.
inline constexpr int64_t kGemmParallelWork = int64_t(1) << 21;

/// Sets the number of threads dt_parallel_for uses (the calling thread included). Throws
/// std::invalid_argument when n < 1 (the frontend's dt::setNumThreads throws dt::ValueError).
/// Waits for a running parallel_for to finish; workers are (re)started lazily.
void setNumThreads(int n);

/// The number of threads: setNumThreads's value, else env DT_NUM_THREADS (a positive integer),
/// else std::thread::hardware_concurrency() (1 if unknown).
int numThreads();

/// How many dt_parallel_for calls of this process were split across threads (not run inline).
uint64_t parallelJobCount();

} // namespace dt::rt
