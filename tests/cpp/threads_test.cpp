// The intra-op thread pool (runtime/ThreadPool.h) and the GEMM split across it (codegen/Gemm.h):
// every index runs exactly once, inline cases, validation of the thread count, and GEMM results
// that are bit-identical at 1, 2 and 3 threads (static and shape-generic kernels, odd sizes,
// batched, transposed) and exact against the interpreter on exactly-summable values.
#include "CodegenCheck.h"

#include "frontend/Tensor.h"
#include "frontend/Threads.h"
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace dt;
using namespace dt::codegen_check;

namespace {

/// Restores the thread count when the test ends.
struct ThreadCountGuard {
  int saved = numThreads();
  ~ThreadCountGuard() { setNumThreads(saved); }
};

/// Counts how often each index of [0, n) was visited, and the calls.
struct Visits {
  std::vector<std::atomic<int>> hits;
  std::atomic<int> calls{0};
  explicit Visits(int64_t n) : hits(size_t(n)) {}
  static void body(void *ctx, int64_t begin, int64_t end) {
    auto *v = static_cast<Visits *>(ctx);
    v->calls.fetch_add(1);
    for (int64_t i = begin; i < end; ++i) v->hits[size_t(i)].fetch_add(1);
  }
  void expectEachOnce() const {
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
  }
};

/// Runs `g` on `args` at 1 thread, then at 2 and 3 threads, and expects the same bytes.
std::vector<HostArray> runAtThreadCounts(const ir::Graph &g, const std::vector<HostArray> &args) {
  setNumThreads(1);
  std::vector<HostArray> one = runJit(g, args);
  for (int t : {2, 3}) {
    setNumThreads(t);
    std::vector<HostArray> many = runJit(g, args);
    EXPECT_EQ(many.size(), one.size());
    for (size_t i = 0; i < one.size() && i < many.size(); ++i)
      EXPECT_TRUE(one[i].bytes == many[i].bytes) << t << " threads, output " << i;
  }
  return one;
}

/// Quarter-integers in [-2, 2): every order of summation is exact, so the JIT must equal the
/// interpreter bit for bit.
HostArray exactValues(const Type &t, uint64_t &x) {
  HostArray a(t);
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    double v = double(int64_t(x >> 61) - 4) / 4;
    if (t.dtype == DType::F32) a.data<float>()[i] = float(v);
    else if (t.dtype == DType::F64) a.data<double>()[i] = v;
    else a.data<int64_t>()[i] = int64_t(x >> 59) - 16;
  }
  return a;
}

} // namespace

TEST(ThreadPool, EveryIndexRunsExactlyOnce) {
  ThreadCountGuard guard;
  for (int t : {1, 2, 3, 5})
    for (int64_t n : {int64_t(1), int64_t(2), int64_t(3), int64_t(7), int64_t(64), int64_t(1001)})
      for (int64_t grain : {int64_t(1), int64_t(4), int64_t(100)}) {
        SCOPED_TRACE(testing::Message() << t << " threads, n " << n << ", grain " << grain);
        setNumThreads(t);
        Visits v(n);
        dt_parallel_for(&Visits::body, &v, n, grain);
        v.expectEachOnce();
        int64_t chunks = std::min<int64_t>(t, (n + grain - 1) / grain);
        EXPECT_EQ(v.calls.load(), n <= grain ? 1 : chunks);
      }
}

TEST(ThreadPool, ZeroIterationsCallNothing) {
  ThreadCountGuard guard;
  setNumThreads(2);
  Visits v(0);
  dt_parallel_for(&Visits::body, &v, 0, 1);
  EXPECT_EQ(v.calls.load(), 0);
}

TEST(ThreadPool, SplitsAcrossThreadsAndCountsJobs) {
  ThreadCountGuard guard;
  setNumThreads(2);
  uint64_t before = rt::parallelJobCount();
  Visits v(10);
  dt_parallel_for(&Visits::body, &v, 10, 1);
  v.expectEachOnce();
  EXPECT_EQ(v.calls.load(), 2);
  EXPECT_EQ(rt::parallelJobCount(), before + 1);
  // Inline: n <= grain, or one thread.
  Visits w(10);
  dt_parallel_for(&Visits::body, &w, 10, 10);
  setNumThreads(1);
  dt_parallel_for(&Visits::body, &w, 10, 1);
  EXPECT_EQ(w.calls.load(), 2);
  EXPECT_EQ(rt::parallelJobCount(), before + 1);
}

namespace {
struct Nested {
  Visits inner{50};
  static void body(void *ctx, int64_t begin, int64_t end) {
    auto *n = static_cast<Nested *>(ctx);
    for (int64_t i = begin; i < end; ++i) {
      // Each outer index runs an inner loop over its own 5 indices, inline.
      struct Sub {
        Visits *v;
        int64_t base;
        static void run(void *c, int64_t b, int64_t e) {
          auto *s = static_cast<Sub *>(c);
          for (int64_t j = b; j < e; ++j) s->v->hits[size_t(s->base + j)].fetch_add(1);
        }
      } sub{&n->inner, i * 5};
      dt_parallel_for(&Sub::run, &sub, 5, 1);
    }
  }
};
} // namespace

TEST(ThreadPool, NestedAndConcurrentCallsCoverEachIndexOnce) {
  ThreadCountGuard guard;
  setNumThreads(3);
  Nested nested;
  dt_parallel_for(&Nested::body, &nested, 10, 1);
  nested.inner.expectEachOnce();
  // Four threads call at once: whoever finds the pool busy runs inline.
  std::vector<std::unique_ptr<Visits>> vs;
  for (int i = 0; i < 4; ++i) vs.push_back(std::make_unique<Visits>(5000));
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i)
    callers.emplace_back([&, i] {
      for (int r = 0; r < 20; ++r) {
        Visits *v = vs[size_t(i)].get();
        for (auto &h : v->hits) h.store(0);
        dt_parallel_for(&Visits::body, v, 5000, 1);
        for (size_t j = 0; j < v->hits.size(); ++j)
          if (v->hits[j].load() != 1) {
            ADD_FAILURE() << "caller " << i << " index " << j << " ran " << v->hits[j].load() << " times";
            return;
          }
      }
    });
  for (std::thread &c : callers) c.join();
}

TEST(ThreadPool, ThreadCountValidation) {
  ThreadCountGuard guard;
  EXPECT_THROW(setNumThreads(0), ValueError);
  EXPECT_THROW(setNumThreads(-3), ValueError);
  EXPECT_THROW(setNumThreads(kMaxThreads + 1), ValueError);
  EXPECT_THROW(rt::setNumThreads(0), std::invalid_argument);
  try {
    setNumThreads(0);
  } catch (const ValueError &e) {
    EXPECT_NE(std::string(e.what()).find("given 0"), std::string::npos) << e.what();
  }
  setNumThreads(3);
  EXPECT_EQ(numThreads(), 3);
  EXPECT_EQ(rt::numThreads(), 3);
  setNumThreads(1);
  EXPECT_EQ(numThreads(), 1);
}

TEST(ThreadsGemm, BitIdenticalAtAnyThreadCountStatic) {
  ThreadCountGuard guard;
  struct Case {
    DType t;
    Shape a, b;
  };
  // M*N*K >= 2^23 per matrix, odd sizes around the tiles and blocks, batched and broadcast.
  const Case cases[] = {{DType::F32, {257, 300}, {300, 129}}, {DType::F32, {100, 513}, {513, 200}},
                        {DType::F32, {33, 1025}, {1025, 257}}, {DType::F64, {130, 260}, {260, 251}},
                        {DType::I64, {9, 1000}, {1000, 1001}}, {DType::F32, {3, 131, 200}, {200, 333}},
                        {DType::F64, {2, 1, 97, 300}, {3, 300, 301}}};
  uint64_t seed = 6100;
  for (const Case &c : cases) {
    SCOPED_TRACE(describe("matmul", {{c.t, c.a}, {c.t, c.b}}, {}, seed));
    auto g = oneNode("matmul", {{c.t, c.a}, {c.t, c.b}});
    std::mt19937_64 rng(seed++);
    std::vector<HostArray> args{randomArray({c.t, c.a}, rng, Domain::Moderate), randomArray({c.t, c.b}, rng, Domain::Moderate)};
    uint64_t before = rt::parallelJobCount();
    runAtThreadCounts(*g, args);
    EXPECT_GT(rt::parallelJobCount(), before) << "the GEMM was not split across threads";
    // Exactly-summable values: the parallel kernel equals the interpreter.
    uint64_t x = seed;
    std::vector<HostArray> exact{exactValues({c.t, c.a}, x), exactValues({c.t, c.b}, x)};
    std::vector<HostArray> got = runAtThreadCounts(*g, exact);
    EXPECT_TRUE(got.at(0).bytes == runInterpreter(*g, exact).at(0).bytes);
  }
}

TEST(ThreadsGemm, TransposedOperandBitIdentical) {
  ThreadCountGuard guard;
  int64_t m = 150, k = 301, n = 199;
  ir::Graph g;
  g.name = "t";
  ir::Value *x = g.addInput({DType::F32, {m, k}}), *w = g.addInput({DType::F32, {n, k}});
  ir::Value *wt = g.addNode("transpose", {w}, {}, Type{DType::F32, {k, n}})->result;
  g.outputs.push_back(g.addNode("matmul", {x, wt}, {}, Type{DType::F32, {m, n}})->result);
  uint64_t s = 6200;
  std::vector<HostArray> exact{exactValues({DType::F32, {m, k}}, s), exactValues({DType::F32, {n, k}}, s)};
  std::vector<HostArray> got = runAtThreadCounts(g, exact);
  EXPECT_TRUE(got.at(0).bytes == runInterpreter(g, exact).at(0).bytes);
}

TEST(ThreadsGemm, SmallGemmStaysOnTheCallingThread) {
  ThreadCountGuard guard;
  setNumThreads(2);
  // 16 x 784 @ 784 x 128 (1.6M multiply-adds): below the threshold (codegen/Gemm.h).
  auto g = oneNode("matmul", {{DType::F32, {16, 784}}, {DType::F32, {784, 128}}});
  std::mt19937_64 rng(6300);
  std::vector<HostArray> args{randomArray({DType::F32, {16, 784}}, rng, Domain::Moderate),
                              randomArray({DType::F32, {784, 128}}, rng, Domain::Moderate)};
  uint64_t before = rt::parallelJobCount();
  runJit(*g, args);
  EXPECT_EQ(rt::parallelJobCount(), before);
}

TEST(ThreadsGemm, EagerShapeGenericKernelBitIdentical) {
  ThreadCountGuard guard;
  uint64_t x = 6400;
  auto values = [&](const Shape &sh, bool exact) {
    std::vector<double> v(size_t(ir::numElements(sh)));
    for (double &e : v) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      e = exact ? double(int64_t(x >> 61) - 4) / 4 : double(int64_t(x >> 11)) * 0x1p-53 * 2 - 1;
    }
    return Tensor::fromValues(DType::F32, sh, v);
  };
  // Large (runtime branch takes the parallel path), and small (inline path) in the same kernel.
  const std::pair<Shape, Shape> shapes[] = {{{2, 129, 257}, {257, 301}}, {{200, 300}, {300, 150}}, {{5, 7}, {7, 3}}};
  for (bool exact : {false, true})
    for (const auto &[sa, sb] : shapes) {
      SCOPED_TRACE(testing::Message() << "exact " << exact << " lhs " << sa.size() << "-d, " << sa.back());
      Tensor a = values(sa, exact), b = values(sb, exact);
      setNumThreads(1);
      std::vector<double> one = apply(OpId::MatMul, {a, b}).toValues();
      bool big = ir::numElements(sa) >= 10000;
      for (int t : {2, 3}) {
        setNumThreads(t);
        uint64_t before = rt::parallelJobCount();
        std::vector<double> many = apply(OpId::MatMul, {a, b}).toValues();
        EXPECT_EQ(rt::parallelJobCount() > before, big) << t << " threads";
        EXPECT_TRUE(one == many) << t << " threads";
      }
      if (exact) {
        auto g = oneNode("matmul", {a.type(), b.type()});
        std::vector<ir::ArrayRef> refs{{a.type(), a.data()}, {b.type(), b.data()}};
        HostArray want = ir::interpret(*g, refs).at(0);
        std::vector<float> got(one.begin(), one.end());
        ASSERT_EQ(got.size() * sizeof(float), want.bytes.size());
        EXPECT_EQ(std::memcmp(got.data(), want.bytes.data(), want.bytes.size()), 0);
      }
    }
}

TEST(ThreadPool, WorksInAForkedChild) {
  ThreadCountGuard guard;
  setNumThreads(2);
  Visits warm(10);
  dt_parallel_for(&Visits::body, &warm, 10, 1); // workers running before the fork
  pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    // The child: the old workers are gone; a parallel_for must still cover every index once
    // (a hang would be killed by the alarm and fail the test).
    alarm(30);
    Visits v(100);
    dt_parallel_for(&Visits::body, &v, 100, 1);
    bool ok = v.calls.load() == 2 && numThreads() == 2;
    for (auto &h : v.hits) ok = ok && h.load() == 1;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
