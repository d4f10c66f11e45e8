// Elementwise kernels, fused kernels and reductions split across the thread pool
// (emitParallelNest, codegen/LowerCommon.cpp): at 1, 2 and 3 threads the results are
// bit-identical, equal to the interpreter (exactly, in ulps, or within the accumulation bound),
// at sizes around the parallel threshold and the chunk boundaries, static and shape-generic
// (eager) kernels; small kernels stay on the calling thread. And the runtime's cache of large
// buffers (runtime/Buffer.h): freed blocks are reused, never while a buffer holds them.
#include "CodegenCheck.h"
#include "ThreadCheck.h"

#include "frontend/Tensor.h"
#include "frontend/Threads.h"
#include "ir/Text.h"
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

using namespace dt;
using namespace dt::codegen_check;

namespace {

constexpr int64_t kMin = rt::kParallelMinElements;

/// Whether a nest over `shape` (already coalesced: every dim > 1, no two mergeable) is split at
/// 2+ threads: it has >= kMin elements and more units of its outer dim than one grain.
bool splits(const Shape &outerAndRest) {
  int64_t n = ir::numElements(outerAndRest);
  if (n < kMin) return false;
  int64_t row = n / outerAndRest[0];
  int64_t grain = (kMin + row - 1) / row;
  return outerAndRest[0] > grain;
}

/// The f32 values of t for tests that compare element by element.
std::vector<float> floats(const HostArray &a) { return {a.data<float>(), a.data<float>() + a.type.numel()}; }

} // namespace

TEST(ParallelElementwise, SizesAroundTheThresholdAndChunkBoundaries) {
  ThreadCountGuard guard;
  // 1-D: below, at and just above the threshold, and odd sizes that leave uneven chunks.
  const int64_t sizes[] = {kMin - 1, kMin, kMin + 1, 2 * kMin - 1, 2 * kMin + 1, 3 * kMin + 7, 1000003};
  uint64_t seed = 9100;
  for (int64_t n : sizes)
    for (const char *op : {"add", "mul", "maximum", "div"}) {
      std::vector<Type> ins{{DType::F32, {n}}, {DType::F32, {n}}};
      SCOPED_TRACE(describe(op, ins, {}, seed));
      auto g = oneNode(op, ins);
      std::mt19937_64 rng(seed++);
      std::vector<HostArray> args{randomArray(ins[0], rng, Domain::General), randomArray(ins[1], rng, Domain::General)};
      std::vector<HostArray> got = sameAtThreadCounts(*g, args, n > kMin);
      expectClose(got.at(0), runInterpreter(*g, args).at(0), Cmp::Exact);
    }
}

TEST(ParallelElementwise, TranscendentalsAndCastsAndWhere) {
  ThreadCountGuard guard;
  uint64_t seed = 9200;
  int64_t n = 3 * kMin + 5;
  for (const char *op : {"exp", "log", "tanh", "sigmoid", "sqrt", "neg", "relu"}) {
    std::vector<Type> ins{{DType::F32, {n}}};
    SCOPED_TRACE(describe(op, ins, {}, seed));
    auto g = oneNode(op, ins);
    std::mt19937_64 rng(seed++);
    std::vector<HostArray> args{randomArray(ins[0], rng, domainOf(ir::findOp(op)->id, 0))};
    std::vector<HostArray> got = sameAtThreadCounts(*g, args, true);
    expectClose(got.at(0), runInterpreter(*g, args).at(0), cmpOf(ir::findOp(op)->id));
  }
  {
    // f64 -> i64 cast (saturating), bool where with broadcast, i64 wrap-around.
    std::vector<Type> ins{{DType::F64, {n}}};
    auto g = oneNode("cast", ins, {{"dtype", ir::Attr(std::string("i64"))}});
    std::mt19937_64 rng(seed++);
    std::vector<HostArray> args{randomArray(ins[0], rng, Domain::General)};
    std::vector<HostArray> got = sameAtThreadCounts(*g, args, true);
    expectClose(got.at(0), runInterpreter(*g, args).at(0), Cmp::Exact);
  }
  {
    std::vector<Type> ins{{DType::Bool, {301, 1}}, {DType::I64, {301, 700}}, {DType::I64, {700}}};
    auto g = oneNode("where", ins);
    std::mt19937_64 rng(seed++);
    std::vector<HostArray> args;
    for (const Type &t : ins) args.push_back(randomArray(t, rng, Domain::General));
    std::vector<HostArray> got = sameAtThreadCounts(*g, args, splits({301, 700}));
    expectClose(got.at(0), runInterpreter(*g, args).at(0), Cmp::Exact);
  }
}

TEST(ParallelElementwise, BroadcastNestsSplitAlongTheOuterDim) {
  ThreadCountGuard guard;
  struct Case {
    Shape a, b;
    Shape nest; ///< the coalesced nest (codegen's StridedNest::coalesce)
  };
  // Rows of odd lengths; an outer dim of 2 or 3 (fewer units than threads); a rank-3
  // broadcast whose nest keeps three dims; a column broadcast.
  const Case cases[] = {{{517, 259}, {259}, {517, 259}},
                        {{2, 70001}, {2, 70001}, {140002}},
                        {{3, 1, 50000}, {1, 7, 50000}, {3, 7, 50000}},
                        {{33, 65, 31}, {65, 1}, {33, 65, 31}},
                        {{1001, 67}, {1001, 1}, {1001, 67}},
                        {{5, 13}, {13}, {5, 13}}};
  uint64_t seed = 9300;
  for (const Case &c : cases) {
    std::vector<Type> ins{{DType::F32, c.a}, {DType::F32, c.b}};
    SCOPED_TRACE(describe("sub", ins, {}, seed));
    auto g = oneNode("sub", ins);
    std::mt19937_64 rng(seed++);
    std::vector<HostArray> args{randomArray(ins[0], rng, Domain::General), randomArray(ins[1], rng, Domain::General)};
    std::vector<HostArray> got = sameAtThreadCounts(*g, args, splits(c.nest));
    expectClose(got.at(0), runInterpreter(*g, args).at(0), Cmp::Exact);
  }
}

TEST(ParallelElementwise, FusedKernelMatchesOneThreadAndTheInterpreter) {
  ThreadCountGuard guard;
  // sigmoid(a*b + c) * d with c broadcast along rows, and an odd row count.
  for (int64_t rows : {int64_t(7), int64_t(333), int64_t(1025)}) {
    std::string r = std::to_string(rows);
    std::string t = "f32[" + r + ", 301]";
    auto g = ir::parse("func @f(%a: " + t + ", %b: " + t + ", %c: f32[301], %d: " + t + ") -> (" + t + ") {\n"
                       "  %k = kernel @fused_0(%a, %b, %c, %d) : " + t + " {\n"
                       "    %m = mul(%a, %b) : " + t + "\n"
                       "    %s = add(%m, %c) : " + t + "\n"
                       "    %g = sigmoid(%s) : " + t + "\n"
                       "    %r = mul(%g, %d) : " + t + "\n"
                       "    yield %r\n  }\n  return %k\n}\n");
    SCOPED_TRACE(rows);
    std::mt19937_64 rng(9400 + uint64_t(rows));
    std::vector<HostArray> args;
    for (const ir::Value *in : g->inputs) args.push_back(randomArray(in->type, rng, Domain::General));
    std::vector<HostArray> got = sameAtThreadCounts(*g, args, splits({rows, 301}));
    expectClose(got.at(0), runInterpreter(*g, args).at(0), Cmp::Ulp);
  }
}

TEST(ParallelReduce, RowReductionsSplitAndEqualOneThread) {
  ThreadCountGuard guard;
  struct Case {
    Shape in;
    std::vector<int64_t> axes;
    bool keepdim;
    bool split; ///< the outermost coalesced dim is kept and large enough
  };
  const Case cases[] = {
      {{1001, 257}, {1}, false, true},         // horizontal: accumulate along rows
      {{3, 1000, 129}, {2}, true, true},       // horizontal, keepdim, 3000 rows
      {{517, 130, 3}, {1}, false, true},       // vertical: the middle dim is reduced
      {{65, 7, 300}, {1}, true, true},         // vertical with a long inner kept dim
      {{300, 700}, {0}, false, false},         // the outermost dim is reduced: one thread
      {{200, 1000}, {0, 1}, false, false},     // to a scalar: one thread
      {{2, 40000}, {1}, false, false},         // two rows: one grain holds both
      {{40, 30}, {1}, false, false},           // small
  };
  uint64_t seed = 9500;
  for (const Case &c : cases)
    for (const char *op : {"sum", "mean", "max", "min"}) {
      ir::AttrMap attrs{{"axes", ir::Attr::ints(c.axes)},
                        {"keepdim", ir::Attr(c.keepdim)}};
      std::vector<Type> ins{{DType::F32, c.in}};
      SCOPED_TRACE(describe(op, ins, attrs, seed));
      auto g = oneNode(op, ins, attrs);
      std::mt19937_64 rng(seed++);
      std::vector<HostArray> args{randomArray(ins[0], rng, Domain::Moderate)};
      sameAtThreadCounts(*g, args, c.split);
      setNumThreads(3);
      checkOp(op, ins, attrs, seed); // against the interpreter (accumulation bound), at 3 threads
    }
}

TEST(ParallelReduce, FusedReductionAndI64AndF64) {
  ThreadCountGuard guard;
  auto g = ir::parse("func @f(%a: f32[999, 131], %b: f32[131]) -> (f32[999]) {\n"
                     "  %k = kernel @fused_0(%a, %b) : f32[999] {\n"
                     "    %m = mul(%a, %b) : f32[999, 131]\n"
                     "    %e = exp(%m) : f32[999, 131]\n"
                     "    %s = sum(%e) {axes=[1]} : f32[999]\n"
                     "    yield %s\n  }\n  return %k\n}\n");
  std::mt19937_64 rng(9600);
  std::vector<HostArray> args{randomArray(g->inputs[0]->type, rng, Domain::Moderate),
                              randomArray(g->inputs[1]->type, rng, Domain::Moderate)};
  std::vector<HostArray> got = sameAtThreadCounts(*g, args, true);
  std::vector<float> want = floats(runInterpreter(*g, args).at(0)), have = floats(got.at(0));
  for (size_t i = 0; i < want.size(); ++i) // 131 terms of exp(x) < e^4: a loose relative bound
    ASSERT_NEAR(have[i], want[i], 1e-5 * std::fabs(want[i]) + 1e-6) << "row " << i;

  for (DType t : {DType::I64, DType::F64}) {
    ir::AttrMap attrs{{"axes", ir::Attr::ints({1})}};
    std::vector<Type> ins{{t, {700, 201}}};
    auto s = oneNode("sum", ins, attrs);
    std::mt19937_64 r2(9601);
    std::vector<HostArray> a2{randomArray(ins[0], r2, Domain::General)};
    std::vector<HostArray> g2 = sameAtThreadCounts(*s, a2, true);
    if (t == DType::I64) expectClose(g2.at(0), runInterpreter(*s, a2).at(0), Cmp::Exact); // wraps alike
  }
}

TEST(ParallelEager, ShapeGenericKernelsBitIdenticalAndSplit) {
  ThreadCountGuard guard;
  uint64_t x = 9700;
  auto values = [&](const Shape &sh) {
    std::vector<double> v(size_t(ir::numElements(sh)));
    for (double &e : v) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      e = double(int64_t(x >> 11)) * 0x1p-53 * 8 - 4;
    }
    return Tensor::fromValues(DType::F32, sh, v);
  };
  struct Case {
    Shape a, b;
    bool split;
  };
  // Contiguous (one flat dim, padded with leading 1s in the rank-3 kernel), broadcast rows, an
  // outer dim of 2, a small one, and sizes just around the threshold.
  const Case cases[] = {{{3, 100, 1001}, {3, 100, 1001}, true}, {{1003, 257}, {257}, true},
                        {{2, 1, 70001}, {2, 1, 70001}, true},   {{kMin}, {kMin}, false},
                        {{kMin + 1}, {kMin + 1}, true},         {{17, 33}, {33}, false},
                        {{4, 5, 6000}, {5, 1}, true}};
  for (const Case &c : cases) {
    SCOPED_TRACE(testing::Message() << ir::shapeStr(c.a) << " op " << ir::shapeStr(c.b));
    Tensor a = values(c.a), b = values(c.b);
    for (OpId op : {OpId::Add, OpId::Mul, OpId::Sigmoid}) {
      std::vector<Tensor> xs = op == OpId::Sigmoid ? std::vector<Tensor>{a} : std::vector<Tensor>{a, b};
      setNumThreads(1);
      std::vector<double> one = dt::apply(op, xs).toValues();
      for (int t : {2, 3}) {
        setNumThreads(t);
        uint64_t before = rt::parallelJobCount();
        std::vector<double> many = dt::apply(op, xs).toValues();
        EXPECT_EQ(rt::parallelJobCount() > before, c.split) << t << " threads, " << ir::opDef(op).name;
        EXPECT_TRUE(one == many) << t << " threads, " << ir::opDef(op).name;
      }
      if (op == OpId::Add) { // f32 add is exact IEEE: equal to the interpreter
        auto g = oneNode("add", {a.type(), b.type()});
        std::vector<ir::ArrayRef> refs{{a.type(), a.data()}, {b.type(), b.data()}};
        HostArray want = ir::interpret(*g, refs).at(0);
        std::vector<float> got(one.begin(), one.end());
        ASSERT_EQ(got.size() * sizeof(float), want.bytes.size());
        EXPECT_EQ(std::memcmp(got.data(), want.bytes.data(), want.bytes.size()), 0);
      }
    }
  }
}

TEST(BufferCache, FreedLargeBlocksAreReusedNeverWhileAlive) {
  rt::Buffer::trimCache();
  size_t bytes = (size_t(5) << 20) + 12345;
  void *first;
  {
    auto a = rt::Buffer::allocate(bytes);
    first = a->data();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % rt::kAlignment, 0u);
    EXPECT_EQ(a->size(), bytes);
    std::memset(a->data(), 0x5a, bytes); // all of it is writable
    EXPECT_EQ(rt::Buffer::cachedBytes(), 0u);
  }
  size_t cached = rt::Buffer::cachedBytes();
  EXPECT_GE(cached, bytes);
  EXPECT_LE(cached, bytes + bytes / 8);
  {
    // The same size class: the freed block comes back; a second live buffer gets other memory.
    auto b = rt::Buffer::allocate(bytes - 1000);
    EXPECT_EQ(b->data(), first);
    EXPECT_EQ(rt::Buffer::cachedBytes(), 0u);
    auto c = rt::Buffer::allocate(bytes);
    EXPECT_NE(c->data(), b->data());
    char *bp = static_cast<char *>(b->data()), *cp = static_cast<char *>(c->data());
    EXPECT_TRUE(bp + b->size() <= cp || cp + c->size() <= bp) << "two live buffers overlap";
  }
  // A different size class does not take a cached block of another.
  {
    auto d = rt::Buffer::allocate(bytes * 3);
    EXPECT_NE(d->data(), first);
  }
  rt::Buffer::trimCache();
  EXPECT_EQ(rt::Buffer::cachedBytes(), 0u);
  // Small buffers are not cached.
  { auto s = rt::Buffer::allocate(1000); }
  EXPECT_EQ(rt::Buffer::cachedBytes(), 0u);
}

TEST(BufferCache, StaysWithinItsLimit) {
  rt::Buffer::trimCache();
  size_t bytes = size_t(40) << 20; // 40 MB: seven fit in 256 MB, not eight
  {
    std::vector<std::shared_ptr<rt::Buffer>> live;
    for (int i = 0; i < 8; ++i) live.push_back(rt::Buffer::allocate(bytes));
  }
  EXPECT_LE(rt::Buffer::cachedBytes(), rt::Buffer::kCacheLimitBytes);
  EXPECT_GE(rt::Buffer::cachedBytes(), 6 * bytes);
  { auto huge = rt::Buffer::allocate(rt::Buffer::kCacheLimitBytes + (size_t(1) << 20)); } // larger than the cache: unmapped
  EXPECT_LE(rt::Buffer::cachedBytes(), rt::Buffer::kCacheLimitBytes);
  rt::Buffer::trimCache();
  EXPECT_EQ(rt::Buffer::cachedBytes(), 0u);
}

TEST(BufferCache, ConcurrentAllocationsNeverShareMemory) {
  int64_t live0 = rt::Buffer::liveCount();
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([t, &bad] {
      for (int r = 0; r < 30; ++r) {
        size_t bytes = (size_t(1) << 20) + size_t((t * 7 + r) % 3) * 300000;
        auto a = rt::Buffer::allocate(bytes), b = rt::Buffer::allocate(bytes);
        auto *pa = static_cast<unsigned char *>(a->data()), *pb = static_cast<unsigned char *>(b->data());
        std::memset(pa, 2 * t + 1, bytes);
        std::memset(pb, 2 * t + 2, bytes);
        std::this_thread::yield();
        for (size_t i = 0; i < bytes; i += 4093)
          if (pa[i] != 2 * t + 1 || pb[i] != 2 * t + 2) {
            bad.fetch_add(1);
            break;
          }
      }
    });
  for (std::thread &th : ts) th.join();
  EXPECT_EQ(bad.load(), 0) << "a live buffer's memory was handed out again";
  EXPECT_EQ(rt::Buffer::liveCount(), live0);
  rt::Buffer::trimCache();
}
