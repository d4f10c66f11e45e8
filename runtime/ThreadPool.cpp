// The intra-op thread pool (interface in runtime/ThreadPool.h): numThreads()-1 workers wait on a
// condition variable for a job generation; the caller and the woken workers claim the job's
// chunks from an atomic counter tagged with the generation, so a worker that wakes late (its core
// busy with another process) finds its chunk already run by the caller instead of holding the
// caller up; the caller then waits for the chunks claimed by others. Workers spin for a short
// while after a job before they sleep, and so does a waiting caller, like OpenMP's runtimes: a
// sleeping thread takes tens of microseconds to wake (longer when its core runs another process),
// which is what a whole GEMM of the MLP's shapes costs. One job at a time (a busy caller runs
// inline). A forked child starts a fresh pool.
#include "runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dt::rt {

namespace {

int defaultThreads() {
  if (const char *env = std::getenv("DT_NUM_THREADS")) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 4096) return int(v);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : int(std::min(hw, 4096u));
}

/// True on a pool worker and on a caller while it runs its own chunk (nested calls run inline).
thread_local bool inParallel = false;

/// How long a worker spins for the next job, and a caller for the chunks of others, before it
/// sleeps on a condition variable.
constexpr std::chrono::microseconds kSpin{100};

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Spins until done() or kSpin has passed; returns done(). Yields now and then: when the other
/// thread of the job (or another process) shares this core, it runs instead of waiting for the
/// spin to end (measured on a loaded machine: with yields a job of two chunks never took longer
/// than running both on one thread; without, one in ten took twice that).
template <typename F> bool spinUntil(F done) {
  auto until = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    cpuRelax();
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() > until) return done();
      std::this_thread::yield();
    }
  }
}

class Pool {
public:
  int threads() {
    std::lock_guard<std::mutex> lk(configMu_);
    return threads_;
  }

  /// For the forked child (one thread, no lock taken): the size `other` was set to.
  void adoptThreadCount(const Pool &other) { threads_ = other.threads_; }

  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

  void setThreads(int n) {
    std::lock_guard<std::mutex> busy(busyMu_); // waits for a running job
    std::lock_guard<std::mutex> lk(configMu_);
    if (n != threads_) stopWorkers();
    threads_ = n;
  }

  void run(void (*body)(void *, int64_t, int64_t), void *ctx, int64_t n, int64_t grain) {
    if (n <= 0) return;
    if (n <= grain || inParallel) return body(ctx, 0, n); // small (most kernel calls): no lock taken
    int64_t g = std::max<int64_t>(grain, 1);
    int t = threads();
    int64_t chunks = std::min<int64_t>(t, (n + g - 1) / g);
    std::unique_lock<std::mutex> busy(busyMu_, std::try_to_lock);
    if (n <= grain || chunks <= 1 || inParallel || !busy.owns_lock()) return body(ctx, 0, n);
    startWorkers(); // threads_ - 1 workers (no-op when running)
    jobs_.fetch_add(1, std::memory_order_relaxed);
    Job job{body, ctx, n, chunks};
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = job;
      gen = ++generation_;
      finished_.store(0, std::memory_order_relaxed);
      claim_.store(tag(gen), std::memory_order_release);
      published_.store(gen, std::memory_order_release);
    }
    wake_.notify_all();
    inParallel = true;
    runChunks(job, gen);
    inParallel = false;
    // Every chunk is claimed: wait for those that other threads are still running.
    if (spinUntil([&] { return finished_.load(std::memory_order_acquire) == chunks; })) return;
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return finished_.load(std::memory_order_acquire) == chunks; });
  }

private:
  struct Job {
    void (*body)(void *, int64_t, int64_t) = nullptr;
    void *ctx = nullptr;
    int64_t n = 0, chunks = 0;
  };

  /// claim_'s value for chunk 0 of generation `gen`: the generation in the high 32 bits, the next
  /// chunk to claim in the low ones.
  static uint64_t tag(uint64_t gen) { return gen << 32; }

  /// Runs chunks of job `j` (generation `gen`) until none is left to claim. A chunk can only be
  /// claimed while claim_ carries `gen`, i.e. before the caller of that job has returned.
  void runChunks(const Job &j, uint64_t gen) {
    for (;;) {
      uint64_t s = claim_.load(std::memory_order_acquire);
      do {
        if ((s >> 32) != (gen & 0xffffffffu) || int64_t(s & 0xffffffffu) >= j.chunks) return;
      } while (!claim_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire));
      int64_t c = int64_t(s & 0xffffffffu);
      j.body(j.ctx, j.n * c / j.chunks, j.n * (c + 1) / j.chunks);
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == j.chunks) {
        std::lock_guard<std::mutex> lk(mu_); // the caller checks finished_ under mu_ before it waits
        done_.notify_all();
      }
    }
  }

  // Called with busyMu_ held.
  void startWorkers() {
    if (!workers_.empty()) return;
    int want;
    {
      std::lock_guard<std::mutex> lk(configMu_);
      want = threads_ - 1;
    }
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = false;
      gen = generation_; // the next job is gen + 1: a worker must not take it for already seen
    }
    for (int i = 1; i <= want; ++i) workers_.emplace_back([this, gen] { work(gen); });
  }

  // Called with busyMu_ held (no job is running).
  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread &w : workers_) w.join();
    workers_.clear();
    stop_ = false;
  }

  void work(uint64_t seen) {
    inParallel = true;
    for (;;) {
      spinUntil([&] { return published_.load(std::memory_order_acquire) != seen; });
      Job j;
      {
        std::unique_lock<std::mutex> lk(mu_);
        wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        j = job_;
      }
      runChunks(j, seen);
    }
  }

  std::mutex busyMu_;   ///< held by the running job (and by setThreads)
  std::mutex configMu_; ///< guards threads_
  int threads_ = defaultThreads();
  std::vector<std::thread> workers_; ///< touched only with busyMu_ held
  std::mutex mu_;                    ///< guards the fields below
  std::condition_variable wake_, done_;
  Job job_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> published_{0}; ///< generation_, readable without mu_ (spinning workers)
  std::atomic<uint64_t> claim_{0};   ///< tag(generation) + the next chunk to claim
  std::atomic<int64_t> finished_{0}; ///< chunks of the current job that have finished
  std::atomic<uint64_t> jobs_{0};
};

/// Never destroyed: idle workers stay blocked until the process exits.
std::atomic<Pool *> thePool{nullptr};

/// In a forked child the workers do not exist (and a mutex may have been held by a thread that
/// is gone): start over with a fresh pool of the same size, leaking the old one.
void resetAfterFork() {
  Pool *old = thePool.load();
  if (!old) return;
  auto *fresh = new Pool;
  fresh->adoptThreadCount(*old);
  thePool.store(fresh);
}

Pool &pool() {
  static std::once_flag once;
  std::call_once(once, [] {
    thePool.store(new Pool);
    pthread_atfork(nullptr, nullptr, &resetAfterFork);
  });
  return *thePool.load();
}

} // namespace

void setNumThreads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: expected a thread count >= 1, given " + std::to_string(n));
  pool().setThreads(n);
}

int numThreads() { return pool().threads(); }

uint64_t parallelJobCount() { return pool().jobs(); }

} // namespace dt::rt

extern "C" void dt_parallel_for(void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx, int64_t n,
                                int64_t grain) {
  dt::rt::pool().run(body, ctx, n, grain);
}
