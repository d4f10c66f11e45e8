// The generated GEMM (codegen/Gemm.h) against the interpreter: odd and non-square sizes around
// the register tile and the cache blocks, batched and broadcast-batched, transposed operands,
// every dtype, zero sizes; the shape-generic (eager) matmul kernel, including strided operands
// passed through its `sizes`, compiled once per rank; GEMMs split across threads (over row tiles
// or column panels, with and without a fused epilogue, static and shape-generic) bit-identical to
// one thread.
#include "CodegenCheck.h"
#include "ThreadCheck.h"

#include "frontend/Tensor.h"
#include "frontend/Threads.h"
#include "ir/Text.h"
#include "passes/Fusion.h"
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

using namespace dt;
using namespace dt::codegen_check;

namespace {

const DType kDTypes[] = {DType::F32, DType::F64, DType::I64};

/// The accumulation bound of CodegenCheck.h (2 (K+2) eps sum|terms|), from the interpreter run
/// on |inputs|; exact for i64.
void expectMatMulClose(const ir::Graph &g, const std::vector<HostArray> &args, const HostArray &jit, int64_t k) {
  auto ref = runInterpreter(g, args);
  DType t = ref[0].type.dtype;
  if (!ir::isFloat(t)) return expectClose(jit, ref[0], Cmp::Exact);
  std::vector<HostArray> absArgs = args;
  for (HostArray &a : absArgs)
    for (int64_t i = 0; i < a.type.numel(); ++i) {
      if (t == DType::F32) a.data<float>()[i] = std::fabs(a.data<float>()[i]);
      else a.data<double>()[i] = std::fabs(a.data<double>()[i]);
    }
  auto absRef = runInterpreter(g, absArgs);
  double eps = t == DType::F32 ? 0x1p-24 : 0x1p-53;
  std::vector<double> tol;
  for (int64_t i = 0; i < absRef[0].type.numel(); ++i) {
    double s = t == DType::F32 ? double(absRef[0].data<float>()[i]) : absRef[0].data<double>()[i];
    tol.push_back(2 * double(k + 2) * eps * s);
  }
  expectClose(jit, ref[0], Cmp::Accumulated, tol);
}

/// Sets a few elements of each float operand to +-inf / NaN (they must propagate the same way).
void sprinkleSpecials(std::vector<HostArray> &args, std::mt19937_64 &rng) {
  const double specials[] = {INFINITY, -INFINITY, NAN};
  for (HostArray &a : args) {
    int64_t n = a.type.numel();
    for (int j = 0; j < 3 && n > 0; ++j) {
      int64_t i = int64_t(rng() % uint64_t(n));
      if (a.type.dtype == DType::F32) a.data<float>()[i] = float(specials[j]);
      else if (a.type.dtype == DType::F64) a.data<double>()[i] = specials[j];
    }
  }
}

} // namespace

TEST(CodegenGemm, OddSizesAroundTheTileAndTheBlocks) {
  // (M, K, N): 1, 7, 17, 255, 257 in every position; K past the K block (f32 256, f64/i64 128)
  // and exactly on it; N past the N block (512).
  struct Mkn {
    int64_t m, k, n;
  };
  const Mkn sizes[] = {{1, 1, 1},     {1, 7, 17},    {7, 1, 255},  {17, 257, 7},  {255, 17, 257}, {257, 255, 1},
                       {1, 257, 255}, {7, 256, 33},  {9, 128, 16}, {33, 300, 600}, {64, 129, 128}, {16, 300, 64}};
  uint64_t seed = 9100;
  for (DType t : kDTypes)
    for (const Mkn &s : sizes) checkOp("matmul", {{t, {s.m, s.k}}, {t, {s.k, s.n}}}, {}, seed++);
}

TEST(CodegenGemm, MisalignedOperandsAndResult) {
  uint64_t seed = 9200;
  for (DType t : kDTypes) checkOp("matmul", {{t, {13, 19}}, {t, {19, 45}}}, {}, seed++, /*misalign=*/true);
}

TEST(CodegenGemm, BatchedAndBroadcastBatch) {
  struct Pair {
    Shape a, b;
  };
  const Pair pairs[] = {{{2, 3, 7, 17}, {2, 3, 17, 9}}, {{2, 1, 5, 33}, {3, 33, 18}}, {{6, 7}, {4, 7, 40}},
                        {{4, 7, 6}, {6, 5}},            {{1, 17, 5}, {3, 1, 5, 33}}, {{3, 1, 1}, {1, 1, 35}}};
  uint64_t seed = 9300;
  for (DType t : kDTypes)
    for (const Pair &p : pairs) checkOp("matmul", {{t, p.a}, {t, p.b}}, {}, seed++);
}

TEST(CodegenGemm, ZeroSizes) {
  // K == 0 gives zeros; M, N or a batch dim of 0 gives an empty result.
  const std::pair<Shape, Shape> pairs[] = {{{3, 0}, {0, 5}}, {{0, 4}, {4, 5}}, {{3, 4}, {4, 0}}, {{0, 3, 4}, {4, 5}},
                                           {{2, 17, 0}, {2, 0, 33}}};
  uint64_t seed = 9400;
  for (DType t : kDTypes)
    for (const auto &[a, b] : pairs) checkOp("matmul", {{t, a}, {t, b}}, {}, seed++);
  // The zeros are stored, not left over: the result buffer of K == 0 reads back as exact zeros.
  auto g = oneNode("matmul", {{DType::F32, {40, 0}}, {DType::F32, {0, 37}}});
  auto jit = runJit(*g, {HostArray({DType::F32, {40, 0}}), HostArray({DType::F32, {0, 37}})});
  for (int64_t i = 0; i < 40 * 37; ++i) ASSERT_EQ(jit[0].data<float>()[i], 0.0f) << i;
}

TEST(CodegenGemm, InfinitiesAndNaNPropagate) {
  uint64_t seed = 9500;
  for (DType t : {DType::F32, DType::F64})
    checkOp("matmul", {{t, {19, 23}}, {t, {23, 37}}}, {}, seed++, false, sprinkleSpecials);
}

TEST(CodegenGemm, I64WrapsAround) {
  FixArgs big = [](std::vector<HostArray> &args, std::mt19937_64 &rng) {
    for (HostArray &a : args)
      for (int64_t i = 0; i < a.type.numel(); ++i) a.data<int64_t>()[i] = int64_t(rng());
  };
  checkOp("matmul", {{DType::I64, {9, 21}}, {DType::I64, {21, 19}}}, {}, 9600, false, big);
}

TEST(CodegenGemm, TransposedOperandNodes) {
  // matmul(transpose(x), w) and matmul(x, transpose(w)), as the frontend emits for x @ w.T.
  uint64_t seed = 9700;
  for (DType t : kDTypes)
    for (int lhs = 0; lhs < 2; ++lhs) {
      const int64_t m = 21, k = 259, n = 35;
      ir::Graph g;
      g.name = "t";
      Type xt{t, lhs ? Shape{k, m} : Shape{m, k}}, wt{t, lhs ? Shape{k, n} : Shape{n, k}};
      ir::Value *x = g.addInput(xt), *w = g.addInput(wt);
      ir::Value *tr = g.addNode("transpose", {lhs ? x : w}, {}, Type{t, lhs ? Shape{m, k} : Shape{k, n}})->result;
      g.outputs.push_back(g.addNode("matmul", {lhs ? tr : x, lhs ? w : tr}, {}, Type{t, {m, n}})->result);
      SCOPED_TRACE(std::string(lhs ? "transposed lhs " : "transposed rhs ") + std::string(ir::dtypeName(t)));
      std::mt19937_64 rng(seed++);
      std::vector<HostArray> args{randomArray(xt, rng, Domain::Moderate), randomArray(wt, rng, Domain::Moderate)};
      expectMatMulClose(g, args, runJit(g, args)[0], k);
    }
}

namespace {

/// A matmul of batch dims `batch` and sizes M, K, N.
struct MatCase {
  Shape batch;
  int64_t m, k, n;
};

/// a @ b for `c`, with a (ta) and/or b (tb) given transposed and transposed back in the graph (so
/// fusion moves the transposes into the matmul's kernel), then `epilogue` elementwise steps:
/// 0 none, 1 relu(y + bias), 2 relu(y + bias) * z. Inputs: a, b, bias [N], and z (the result's
/// shape) for epilogue 2.
std::unique_ptr<ir::Graph> fusableMatMul(DType t, const MatCase &c, bool ta, bool tb, int epilogue) {
  auto shape = [&](int64_t r, int64_t cols) {
    Shape s = c.batch;
    s.push_back(r);
    s.push_back(cols);
    return s;
  };
  auto owned = std::make_unique<ir::Graph>();
  ir::Graph &g = *owned;
  g.name = "t";
  Type at{t, ta ? shape(c.k, c.m) : shape(c.m, c.k)}, bt{t, tb ? shape(c.n, c.k) : shape(c.k, c.n)}, yt{t, shape(c.m, c.n)};
  ir::Value *a = g.addInput(at), *b = g.addInput(bt), *bias = g.addInput(Type{t, {c.n}});
  if (ta) a = g.addNode("transpose", {a}, {}, Type{t, shape(c.m, c.k)})->result;
  if (tb) b = g.addNode("transpose", {b}, {}, Type{t, shape(c.k, c.n)})->result;
  ir::Value *y = g.addNode("matmul", {a, b}, {}, yt)->result;
  if (epilogue >= 1) {
    y = g.addNode("add", {y, bias}, {}, yt)->result;
    y = g.addNode("relu", {y}, {}, yt)->result;
  }
  if (epilogue >= 2) y = g.addNode("mul", {y, g.addInput(yt)}, {}, yt)->result;
  g.outputs.push_back(y);
  return owned;
}

} // namespace

TEST(CodegenGemm, FusedTransposedOperandsAreReadThroughStrides) {
  // After fusion the transposes of x @ w.T, x.T @ g and a.T @ b.T live in the matmul's kernel
  // region and the GEMM reads their operands through swapped strides: odd sizes around the tile
  // (1, 7, 17, 255, 257), every transposed side, with and without an epilogue, batched.
  const MatCase cases[] = {{{}, 1, 7, 17}, {{}, 17, 257, 7}, {{}, 255, 17, 257}, {{}, 7, 1, 255}, {{2}, 9, 33, 18}};
  uint64_t seed = 9800;
  for (DType t : {DType::F32, DType::F64})
    for (const MatCase &c : cases)
      for (int sides = 1; sides < 4; ++sides)
        for (int epilogue = 0; epilogue < 2; ++epilogue) {
          std::unique_ptr<ir::Graph> owned = fusableMatMul(t, c, sides & 1, sides & 2, epilogue);
          const ir::Graph &g = *owned;
          auto f = g.clone();
          ASSERT_EQ(passes::fusion(*f), 1);
          ASSERT_EQ(f->nodes.size(), 1u) << ir::print(*f); // the transposes are inside the kernel
          SCOPED_TRACE(ir::print(*f));
          std::mt19937_64 rng(seed++);
          std::vector<HostArray> args;
          for (const ir::Value *v : g.inputs) args.push_back(randomArray(v->type, rng, Domain::Moderate));
          expectMatMulClose(g, args, runJit(*f, args)[0], c.k);
        }
}

namespace {

/// Runs the shape-generic matmul kernel `fn` on A (M x K) and B (K x N) given in memory as
/// `aMem`/`bMem` with these matrix strides, and compares with the interpreter on `a`, `b`.
void runGenericStrided(rt::KernelFn fn, const HostArray &a, const HostArray &b, const HostArray &aMem,
                       const HostArray &bMem, std::array<int64_t, 4> strides) {
  const ir::OpDef &mm = ir::opDef(OpId::MatMul);
  std::vector<Type> ts{a.type, b.type};
  Type out = ir::inferType(mm, ts, {});
  std::vector<int64_t> sizes = codegen::shapeGenericSizes(mm, ts, out, {});
  std::copy(strides.begin(), strides.end(), sizes.begin() + 3);
  HostArray y(out);
  std::vector<void *> bufs{y.bytes.data(), const_cast<unsigned char *>(aMem.bytes.data()),
                           const_cast<unsigned char *>(bMem.bytes.data())};
  fn(bufs.data(), sizes.data());
  auto g = oneNode("matmul", ts);
  expectMatMulClose(*g, {a, b}, y, a.type.shape.back());
}

/// The transpose of a row-major [r, c] matrix, as a [c, r] row-major array.
HostArray transposed(const HostArray &x) {
  int64_t r = x.type.shape[0], c = x.type.shape[1];
  size_t es = ir::dtypeSize(x.type.dtype);
  HostArray t({x.type.dtype, {c, r}});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) std::memcpy(&t.bytes[size_t(j * r + i) * es], &x.bytes[size_t(i * c + j) * es], es);
  return t;
}

} // namespace

TEST(CodegenGemm, ShapeGenericSizesLayout) {
  const ir::OpDef &mm = ir::opDef(OpId::MatMul);
  // [2,1,5,3] @ [4,3,6]: batch [2,4], lhs broadcast along the 4, rhs along the 2.
  std::vector<Type> ts{{DType::F32, {2, 1, 5, 3}}, {DType::F32, {4, 3, 6}}};
  EXPECT_EQ(codegen::shapeGenericSizes(mm, ts, {DType::F32, {2, 4, 5, 6}}, {}),
            (std::vector<int64_t>{5, 6, 3, 3, 1, 6, 1, /*bounds*/ 2, 4, /*out*/ 120, 30, /*lhs*/ 15, 0, /*rhs*/ 0, 18}));
  // Rank 2: one batch dim of 1.
  std::vector<Type> plain{{DType::F64, {7, 2}}, {DType::F64, {2, 9}}};
  EXPECT_EQ(codegen::shapeGenericSizes(mm, plain, {DType::F64, {7, 9}}, {}),
            (std::vector<int64_t>{7, 9, 2, 2, 1, 9, 1, 1, 0, 0, 0}));
  // Contiguous batches merge into one dim, padded in front.
  std::vector<Type> batched{{DType::F32, {2, 3, 4, 5}}, {DType::F32, {2, 3, 5, 6}}};
  EXPECT_EQ(codegen::shapeGenericSizes(mm, batched, {DType::F32, {2, 3, 4, 6}}, {}),
            (std::vector<int64_t>{4, 6, 5, 5, 1, 6, 1, 1, 6, 0, 24, 0, 20, 0, 30}));
  EXPECT_THROW(codegen::shapeGenericSizes(mm, plain, {DType::F64, {7, 8}}, {}), ValueError);
}

TEST(CodegenGemm, ShapeGenericKernelServesEveryShapeAndStridedOperands) {
  const ir::OpDef &mm = ir::opDef(OpId::MatMul);
  for (DType t : kDTypes) {
    SCOPED_TRACE(ir::dtypeName(t));
    std::vector<Type> first{{t, {3, 4}}, {t, {4, 5}}};
    rt::KernelFn fn = codegen::compileShapeGeneric(mm, first, {t, {3, 5}}, {});
    int64_t compiled = codegen::cacheStats().kernelsCompiled;
    std::mt19937_64 rng(9800 + uint64_t(t));
    struct Mkn {
      int64_t m, k, n;
    };
    for (const Mkn &s : {Mkn{1, 1, 1}, Mkn{17, 7, 255}, Mkn{257, 300, 17}, Mkn{64, 784, 128}, Mkn{5, 0, 3}, Mkn{0, 3, 4}}) {
      SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n));
      std::vector<Type> ts{{t, {s.m, s.k}}, {t, {s.k, s.n}}};
      EXPECT_EQ(codegen::compileShapeGeneric(mm, ts, {t, {s.m, s.n}}, {}), fn);
      HostArray a = randomArray(ts[0], rng, Domain::Moderate), b = randomArray(ts[1], rng, Domain::Moderate);
      runGenericStrided(fn, a, b, a, b, {s.k, 1, s.n, 1});
      // A transposed A and a transposed B, read in place through their strides.
      runGenericStrided(fn, a, b, transposed(a), b, {1, s.m, s.n, 1});
      runGenericStrided(fn, a, b, a, transposed(b), {s.k, 1, 1, s.k});
      runGenericStrided(fn, a, b, transposed(a), transposed(b), {1, s.m, 1, s.k});
    }
    EXPECT_EQ(codegen::cacheStats().kernelsCompiled, compiled);
  }
}

TEST(CodegenGemm, EagerMatMulCompilesOncePerRank) {
  // A rank-3 @ rank-2 f64 signature no other test uses: the first call may compile, the others
  // (new shapes, same ranks) must not.
  uint64_t x = 77;
  auto values = [&](const Shape &s) {
    std::vector<double> v(size_t(ir::numElements(s)));
    for (double &e : v) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      e = double(int64_t(x >> 60) - 8) / 4; // exact in any order of summation
    }
    return Tensor::fromValues(DType::F64, s, v);
  };
  const std::pair<Shape, Shape> shapes[] = {{{2, 3, 4}, {4, 5}}, {{3, 17, 33}, {33, 7}}, {{1, 64, 129}, {129, 40}}, {{2, 0, 3}, {3, 2}}};
  for (size_t c = 0; c < std::size(shapes); ++c) {
    Tensor a = values(shapes[c].first), b = values(shapes[c].second);
    int64_t before = autogradStats().eagerKernelCompiles;
    Tensor y = apply(OpId::MatMul, {a, b});
    EXPECT_LE(autogradStats().eagerKernelCompiles - before, c == 0 ? 1 : 0) << "case " << c;
    auto g = oneNode("matmul", {a.type(), b.type()});
    std::vector<ir::ArrayRef> refs{{a.type(), a.data()}, {b.type(), b.data()}};
    HostArray want = ir::interpret(*g, refs).at(0);
    ASSERT_EQ(y.type(), want.type);
    ASSERT_TRUE(y.isContiguous());
    // Quarter-integers of small magnitude: every order of summation is exact.
    if (!want.bytes.empty()) EXPECT_EQ(std::memcmp(y.data(), want.bytes.data(), want.bytes.size()), 0) << "case " << c;
  }
}

namespace {

struct Mkn {
  int64_t m, k, n;
};

/// Sizes of at least kGemmParallelWork multiply-adds around the tiles (f32 8 x 32, f64 8 x 16,
/// i64 4 x 16): M or N of 1 (only the other dim can split), split over column panels (many
/// panels; two panels, the second one column wide) and over row tiles (an odd count of panels).
const Mkn kThreadedSizes[] = {{1, 600, 4099}, {4099, 600, 1}, {7, 1001, 300}, {17, 257, 513},
                              {255, 33, 257}, {257, 255, 33}, {257, 255, 65}, {2049, 1, 1025}};

/// Quarter-integers in [-1, 1] (f32 or f64; integers in [-4, 4] for i64): every order of
/// summation is exact for the sizes here, so a kernel must equal the interpreter bit for bit.
HostArray quarterIntegers(const Type &t, std::mt19937_64 &rng) {
  HostArray h(t);
  for (int64_t i = 0; i < h.type.numel(); ++i) {
    int64_t q = int64_t(rng() % 9) - 4;
    if (t.dtype == DType::F32) h.data<float>()[i] = float(q) / 4;
    else if (t.dtype == DType::F64) h.data<double>()[i] = double(q) / 4;
    else h.data<int64_t>()[i] = q;
  }
  return h;
}

} // namespace

TEST(CodegenGemmThreads, SplitGemmIsBitIdenticalToOneThread) {
  ThreadCountGuard guard;
  uint64_t seed = 9900;
  for (DType t : kDTypes)
    for (const Mkn &s : kThreadedSizes) {
      ASSERT_GE(s.m * s.k * s.n, rt::kGemmParallelWork);
      std::vector<Type> ts{{t, {s.m, s.k}}, {t, {s.k, s.n}}};
      SCOPED_TRACE(describe("matmul", ts, {}, seed));
      auto g = oneNode("matmul", ts);
      std::mt19937_64 rng(seed++);
      std::vector<HostArray> args{quarterIntegers(ts[0], rng), quarterIntegers(ts[1], rng)};
      EXPECT_TRUE(sameAtThreadCounts(*g, args, true).at(0).bytes == runInterpreter(*g, args).at(0).bytes);
    }
}

TEST(CodegenGemmThreads, SmallGemmStaysOnTheCallingThread) {
  ThreadCountGuard guard;
  // Below the threshold by one multiply-add's worth of rows, and batched small matrices (each
  // matrix decides on its own).
  const std::pair<Shape, Shape> shapes[] = {{{63, 256}, {256, 128}}, {{4, 32, 128}, {128, 128}}, {{1, 1}, {1, 1}}};
  ASSERT_LT(63 * 256 * 128, rt::kGemmParallelWork);
  uint64_t seed = 9950;
  for (const auto &[a, b] : shapes) {
    std::vector<Type> ts{{DType::F32, a}, {DType::F32, b}};
    SCOPED_TRACE(describe("matmul", ts, {}, seed));
    auto g = oneNode("matmul", ts);
    std::mt19937_64 rng(seed++);
    std::vector<HostArray> args{randomArray(ts[0], rng, Domain::Moderate), randomArray(ts[1], rng, Domain::Moderate)};
    expectMatMulClose(*g, args, sameAtThreadCounts(*g, args, false)[0], a.back());
  }
}

TEST(CodegenGemmThreads, MlpShapesSplit) {
  // The MLP 784-128 layer at batch 64: forward, and the two backward products (dX = dY . W^T and
  // dW = X^T . dY, with their transposes fused into the kernel), bias + relu fused into the
  // forward; exact values, so all three equal the interpreter bit for bit.
  ThreadCountGuard guard;
  const int64_t b = 64, in = 784, out = 128;
  ir::Graph g;
  g.name = "mlp";
  Type ft{DType::F32, {b, in}}, wt{DType::F32, {in, out}}, bt{DType::F32, {out}}, dyt{DType::F32, {b, out}};
  ir::Value *x = g.addInput(ft), *w = g.addInput(wt), *bias = g.addInput(bt), *dy = g.addInput(dyt);
  ir::Value *h = g.addNode("matmul", {x, w}, {}, Type{DType::F32, {b, out}})->result;
  h = g.addNode("add", {h, bias}, {}, Type{DType::F32, {b, out}})->result;
  g.outputs.push_back(g.addNode("relu", {h}, {}, Type{DType::F32, {b, out}})->result);
  ir::Value *wT = g.addNode("transpose", {w}, {}, Type{DType::F32, {out, in}})->result;
  g.outputs.push_back(g.addNode("matmul", {dy, wT}, {}, Type{DType::F32, {b, in}})->result);
  ir::Value *xT = g.addNode("transpose", {x}, {}, Type{DType::F32, {in, b}})->result;
  g.outputs.push_back(g.addNode("matmul", {xT, dy}, {}, Type{DType::F32, {in, out}})->result);
  auto f = g.clone();
  ASSERT_EQ(passes::fusion(*f), 3);
  ASSERT_EQ(f->nodes.size(), 3u) << ir::print(*f);
  std::mt19937_64 rng(9960);
  std::vector<HostArray> args;
  for (const ir::Value *v : g.inputs) args.push_back(quarterIntegers(v->type, rng));
  std::vector<HostArray> got = sameAtThreadCounts(*f, args, true);
  std::vector<HostArray> ref = runInterpreter(g, args);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(got.at(i).bytes == ref.at(i).bytes) << "output " << i;
}

TEST(CodegenGemmThreads, FusedEpilogueAndTransposedOperandsSplit) {
  // Threaded GEMMs inside fused kernels: every transposed side, an epilogue reading a bias (per
  // column) and a full [M, N] operand (per row and column), batched; odd sizes split over rows
  // and over columns.
  ThreadCountGuard guard;
  const MatCase cases[] = {{{}, 1, 600, 4099}, {{}, 257, 255, 65}, {{}, 255, 33, 257}, {{2}, 17, 257, 513}, {{3, 1}, 257, 255, 33}};
  uint64_t seed = 9970;
  for (DType t : {DType::F32, DType::F64})
    for (const MatCase &c : cases)
      for (int sides = 0; sides < 4; ++sides)
        for (int epilogue = 0; epilogue < 3; epilogue += 2) {
          if (sides == 0 && !epilogue) continue; // a plain matmul: not a fused kernel
          std::unique_ptr<ir::Graph> owned = fusableMatMul(t, c, sides & 1, sides & 2, epilogue);
          const ir::Graph &g = *owned;
          auto f = g.clone();
          ASSERT_EQ(passes::fusion(*f), 1);
          ASSERT_EQ(f->nodes.size(), 1u) << ir::print(*f);
          SCOPED_TRACE(ir::print(*f));
          std::mt19937_64 rng(seed++);
          std::vector<HostArray> args;
          for (const ir::Value *v : g.inputs) args.push_back(quarterIntegers(v->type, rng));
          HostArray got = sameAtThreadCounts(*f, args, true).at(0);
          EXPECT_TRUE(got.bytes == runInterpreter(g, args).at(0).bytes);
        }
}

TEST(CodegenGemmThreads, ShapeGenericKernelSplitsAtRunTime) {
  // The eager kernel decides at run time: the same kernel runs small GEMMs inline and large ones
  // (split over rows or columns) across threads, with operands read through transposed strides.
  ThreadCountGuard guard;
  const ir::OpDef &mm = ir::opDef(OpId::MatMul);
  for (DType t : kDTypes) {
    SCOPED_TRACE(ir::dtypeName(t));
    std::vector<Type> first{{t, {3, 4}}, {t, {4, 5}}};
    rt::KernelFn fn = codegen::compileShapeGeneric(mm, first, {t, {3, 5}}, {});
    std::mt19937_64 rng(9990 + uint64_t(t));
    for (const Mkn &s : {Mkn{1, 600, 4099}, Mkn{257, 255, 65}, Mkn{17, 257, 513}, Mkn{64, 784, 128}, Mkn{9, 10, 11}}) {
      SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n));
      bool big = s.m * s.k * s.n >= rt::kGemmParallelWork;
      std::vector<Type> ts{{t, {s.m, s.k}}, {t, {s.k, s.n}}};
      HostArray a = randomArray(ts[0], rng, Domain::Moderate), b = randomArray(ts[1], rng, Domain::Moderate);
      HostArray aT = transposed(a), bT = transposed(b);
      for (int sides = 0; sides < 4; ++sides) {
        const HostArray &aMem = sides & 1 ? aT : a, &bMem = sides & 2 ? bT : b;
        std::vector<int64_t> sizes = codegen::shapeGenericSizes(mm, ts, {t, {s.m, s.n}}, {});
        sizes[3] = sides & 1 ? 1 : s.k;
        sizes[4] = sides & 1 ? s.m : 1;
        sizes[5] = sides & 2 ? 1 : s.n;
        sizes[6] = sides & 2 ? s.k : 1;
        auto run = [&] {
          HostArray y({t, {s.m, s.n}});
          std::vector<void *> bufs{y.bytes.data(), const_cast<unsigned char *>(aMem.bytes.data()),
                                   const_cast<unsigned char *>(bMem.bytes.data())};
          fn(bufs.data(), sizes.data());
          return y;
        };
        setNumThreads(1);
        HostArray one = run();
        for (int threads : {2, 3}) {
          setNumThreads(threads);
          uint64_t before = rt::parallelJobCount();
          HostArray many = run();
          EXPECT_EQ(rt::parallelJobCount() > before, big) << threads << " threads, sides " << sides;
          EXPECT_TRUE(many.bytes == one.bytes) << threads << " threads, sides " << sides;
        }
        auto g = oneNode("matmul", ts);
        expectMatMulClose(*g, {a, b}, one, s.k);
      }
    }
  }
}
