// Shape-generic (eager) kernels for argmax, pad, concat, gather and scatter_add: their `sizes`
// layouts, one compile serving every shape (and every shape-like attribute: axis, pad widths) of a
// rank, results equal to the interpreter's bit for bit, and out-of-range gather/scatter_add
// indices reported as dt::IndexError with the interpreter's message, never read or written.
#include "codegen/Compiler.h"
#include "frontend/Tensor.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "runtime/KernelError.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace dt;
using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::OpId;
using ir::Shape;
using ir::Type;

namespace {

/// Deterministic values; floats get a NaN, -0 and ties, i64 small values with ties.
Tensor values(DType dt, const Shape &s, uint64_t seed) {
  int64_t n = ir::numElements(s);
  std::vector<double> v(size_t(n), 0.0);
  uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    double u = double(x >> 11) / double(1ull << 53);
    if (dt == DType::Bool) v[size_t(i)] = u < 0.5;
    else v[size_t(i)] = std::floor(u * 16 - 8); // small integers: ties everywhere
  }
  if (ir::isFloat(dt) && n > 4) {
    v[size_t(n / 2)] = std::nan("");
    v[1] = -0.0;
  }
  return Tensor::fromValues(dt, s, v);
}

/// Indices in [0, bound), deterministic.
Tensor indices(const Shape &s, int64_t bound, uint64_t seed) {
  std::vector<double> v(size_t(ir::numElements(s)));
  uint64_t x = seed;
  for (double &e : v) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    e = double((x >> 33) % uint64_t(bound));
  }
  return Tensor::fromValues(DType::I64, s, v);
}

ir::HostArray interpretOp(OpId id, const std::vector<Tensor> &xs, const AttrMap &attrs, const Type &result) {
  ir::Graph g;
  std::vector<ir::Value *> ins;
  std::vector<ir::ArrayRef> refs;
  for (const Tensor &x : xs) {
    ins.push_back(g.addInput(x.type()));
    refs.push_back({x.type(), x.data()});
  }
  g.outputs.push_back(g.addNode(std::string(ir::opDef(id).name), ins, attrs, result)->result);
  return ir::interpret(g, refs).at(0);
}

struct Case {
  std::vector<Tensor> xs;
  AttrMap attrs;
};

/// Runs each case eagerly and checks it against the interpreter bit for bit. The first case may
/// compile (an earlier test may have compiled the same signature); every later one must not.
void checkCompilesOnce(OpId id, const std::vector<Case> &cases) {
  std::string name(ir::opDef(id).name);
  for (size_t c = 0; c < cases.size(); ++c) {
    int64_t before = autogradStats().eagerKernelCompiles;
    Tensor y = apply(id, cases[c].xs, cases[c].attrs);
    int64_t compiled = autogradStats().eagerKernelCompiles - before;
    std::string what = name + " case " + std::to_string(c) + " -> " + y.type().str();
    EXPECT_LE(compiled, c == 0 ? 1 : 0) << what;
    ir::HostArray want = interpretOp(id, cases[c].xs, cases[c].attrs, y.type());
    ASSERT_TRUE(y.isContiguous()) << what;
    ASSERT_EQ(size_t(y.numel()) * ir::dtypeSize(y.dtype()), want.bytes.size()) << what;
    if (!want.bytes.empty()) {
      EXPECT_EQ(std::memcmp(y.data(), want.bytes.data(), want.bytes.size()), 0) << what;
    }
  }
}

template <typename F> std::string messageOf(F &&f) {
  try {
    f();
  } catch (const IndexError &e) {
    return e.what();
  }
  return "no IndexError";
}

} // namespace

// --- layouts -------------------------------------------------------------------------------------

TEST(CodegenGenericIndexing, SizesLayouts) {
  const ir::OpDef &argmax = ir::opDef(OpId::ArgMax), &pad = ir::opDef(OpId::Pad), &concat = ir::opDef(OpId::Concat),
                  &gather = ir::opDef(OpId::Gather), &scatter = ir::opDef(OpId::ScatterAdd);
  std::vector<Type> x = {{DType::F32, {2, 3, 4}}};
  EXPECT_EQ(codegen::shapeGenericSizes(argmax, x, {DType::I64, {2, 4}}, {{"axis", Attr(int64_t(1))}}),
            (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(codegen::shapeGenericSizes(argmax, x, {DType::I64, {}}, {}), (std::vector<int64_t>{1, 24, 1}));

  // pad [2,3] by low (1,0), high (0,2), interior (0,1): result [3,7]; the copy lands at row 1 with
  // column stride 2.
  std::vector<Type> p = {{DType::F64, {2, 3}}};
  AttrMap pa{{"low", Attr::ints({1, 0})}, {"high", Attr::ints({0, 2})}, {"interior", Attr::ints({0, 1})}};
  EXPECT_EQ(codegen::shapeGenericSizes(pad, p, {DType::F64, {3, 7}}, pa),
            (std::vector<int64_t>{21, /*base*/ 7, /*bounds*/ 2, 3, /*dst*/ 7, 2, /*src*/ 3, 1}));

  // concat [2,3] and [2,1] along axis 1: two copy blocks into a [2,4] result.
  std::vector<Type> c = {{DType::I64, {2, 3}}, {DType::I64, {2, 1}}};
  EXPECT_EQ(codegen::shapeGenericSizes(concat, c, {DType::I64, {2, 4}}, {{"axis", Attr(int64_t(1))}}),
            (std::vector<int64_t>{0, 2, 3, 4, 1, 3, 1, /*second*/ 3, 1, 2, 0, 4, 0, 1}));

  // gather along axis 1 of x [4,5] with index [3,2]: x's stride 0 on the axis.
  std::vector<Type> g = {{DType::F32, {4, 5}}, {DType::I64, {3, 2}}};
  EXPECT_EQ(codegen::shapeGenericSizes(gather, g, {DType::F32, {3, 2}}, {{"axis", Attr(int64_t(-1))}}),
            (std::vector<int64_t>{/*axis*/ 1, /*size*/ 5, /*stride*/ 1, /*numel*/ 6, 3, 2, 2, 1, 5, 0}));

  // scatter_add into base [3,2] along axis 0 with index [2,2] and src [2,3]; then base's numel.
  std::vector<Type> s = {{DType::F64, {3, 2}}, {DType::I64, {2, 2}}, {DType::F64, {2, 3}}};
  EXPECT_EQ(codegen::shapeGenericSizes(scatter, s, {DType::F64, {3, 2}}, {{"axis", Attr(int64_t(0))}}),
            (std::vector<int64_t>{0, 3, 2, 4, 2, 2, 2, 1, 0, 1, 3, 1, 6}));

  // Their attributes are not in the kernel key; a bad signature is rejected.
  EXPECT_FALSE(codegen::shapeGenericKeyAttr(gather, "axis"));
  EXPECT_FALSE(codegen::shapeGenericKeyAttr(pad, "low"));
  EXPECT_TRUE(codegen::shapeGenericKeyAttr(ir::opDef(OpId::Cast), "dtype"));
  std::vector<Type> badIndex = {{DType::F32, {4, 5}}, {DType::F32, {3, 2}}};
  EXPECT_THROW(codegen::shapeGenericSizes(gather, badIndex, {DType::F32, {3, 2}}, {{"axis", Attr(int64_t(1))}}), TypeError);
  EXPECT_THROW(codegen::compileShapeGeneric(gather, g, {DType::F64, {3, 2}}, {{"axis", Attr(int64_t(1))}}), ValueError);
}

TEST(CodegenGenericIndexing, CopiesAndGathersVectorize) {
  // pad's and concat's unit-stride copy and gather's unit-index loop become vector code.
  std::string padIR = codegen::emitShapeGenericLLVM(ir::opDef(OpId::Pad), std::vector<Type>{{DType::F32, {5, 7}}},
                                                    {DType::F32, {7, 7}}, {{"low", Attr::ints({1, 0})}, {"high", Attr::ints({1, 0})}}, true);
  EXPECT_NE(padIR.find("x float>"), std::string::npos) << padIR;
  std::string raw = codegen::emitShapeGenericLLVM(ir::opDef(OpId::Pad), std::vector<Type>{{DType::F32, {5, 7}}},
                                                  {DType::F32, {7, 7}}, {{"low", Attr::ints({1, 0})}, {"high", Attr::ints({1, 0})}}, false);
  EXPECT_NE(raw.find("%sizes"), std::string::npos);
  std::vector<Type> g = {{DType::F32, {4, 5}}, {DType::I64, {3, 5}}};
  std::string gatherIR = codegen::emitShapeGenericLLVM(ir::opDef(OpId::Gather), g, {DType::F32, {3, 5}},
                                                       {{"axis", Attr(int64_t(0))}}, true);
  EXPECT_NE(gatherIR.find("x float>"), std::string::npos) << gatherIR;
  EXPECT_NE(gatherIR.find("dt_kernel_index_error"), std::string::npos) << gatherIR;
}

// --- eager: one compile per rank, equal to the interpreter -----------------------------------------

TEST(EagerGenericIndexing, ArgMaxCompilesOncePerRankWhateverTheAxis) {
  for (DType dt : {DType::F32, DType::I64}) {
    std::vector<Case> cases;
    uint64_t seed = 1;
    // Rank 3 (a signature no other test uses first): every axis, keepdim, flattened.
    for (const Shape &s : {Shape{2, 3, 4}, Shape{5, 1, 7}, Shape{1, 9, 1}, Shape{3, 17, 33}, Shape{0, 3, 2}}) {
      cases.push_back({{values(dt, s, seed++)}, {{"axis", Attr(int64_t(1))}}});
      if (s[0] > 0) cases.push_back({{values(dt, s, seed++)}, {{"axis", Attr(int64_t(0))}}}); // not an empty axis
      cases.push_back({{values(dt, s, seed++)}, {{"axis", Attr(int64_t(-1))}, {"keepdim", Attr(true)}}});
    }
    checkCompilesOnce(OpId::ArgMax, cases);
    // Flattened gives a result of another rank (another kernel), then reuses it.
    std::vector<Case> flat;
    for (const Shape &s : {Shape{2, 3, 4}, Shape{1, 1, 1}, Shape{7, 1, 5}}) flat.push_back({{values(dt, s, seed++)}, {}});
    checkCompilesOnce(OpId::ArgMax, flat);
  }
}

TEST(EagerGenericIndexing, PadCompilesOncePerRankWhateverTheWidths) {
  std::vector<Case> cases;
  uint64_t seed = 10;
  auto padAttrs = [](std::vector<int64_t> low, std::vector<int64_t> high, std::vector<int64_t> interior) {
    return AttrMap{{"low", Attr::ints(low)}, {"high", Attr::ints(high)}, {"interior", Attr::ints(interior)}};
  };
  cases.push_back({{values(DType::F64, {2, 3, 4}, seed++)}, padAttrs({1, 0, 2}, {0, 3, 1}, {0, 0, 0})});
  cases.push_back({{values(DType::F64, {3, 1, 5}, seed++)}, padAttrs({0, 0, 0}, {0, 0, 0}, {0, 0, 0})});
  cases.push_back({{values(DType::F64, {2, 2, 9}, seed++)}, padAttrs({0, 1, 0}, {2, 0, 0}, {1, 2, 3})});
  cases.push_back({{values(DType::F64, {0, 2, 3}, seed++)}, padAttrs({1, 1, 1}, {1, 1, 1}, {0, 0, 0})});
  cases.push_back({{values(DType::F64, {1, 1, 1}, seed++)}, padAttrs({0, 0, 0}, {0, 0, 0}, {5, 5, 5})});
  checkCompilesOnce(OpId::Pad, cases);
  std::vector<Case> boolCases = {{{values(DType::Bool, {4, 5, 1}, seed++)}, padAttrs({1, 1, 1}, {0, 2, 0}, {1, 0, 0})},
                                 {{values(DType::Bool, {1, 7, 3}, seed++)}, padAttrs({0, 0, 3}, {4, 0, 0}, {0, 1, 0})}};
  checkCompilesOnce(OpId::Pad, boolCases);
}

TEST(EagerGenericIndexing, ConcatCompilesOncePerOperandCountAndRank) {
  uint64_t seed = 20;
  for (size_t count : {2u, 3u}) {
    std::vector<Case> cases;
    struct Shapes {
      int64_t axis;
      std::vector<Shape> parts;
    };
    std::vector<Shapes> all = {{1, {{2, 3, 4}, {2, 1, 4}, {2, 5, 4}}},
                               {0, {{1, 3, 4}, {2, 3, 4}, {0, 3, 4}}},
                               {2, {{3, 2, 1}, {3, 2, 7}, {3, 2, 33}}},
                               {-1, {{2, 0, 1}, {2, 0, 2}, {2, 0, 3}}}};
    for (const Shapes &sh : all) {
      Case c;
      for (size_t i = 0; i < count; ++i) c.xs.push_back(values(DType::F32, sh.parts[i], seed++));
      c.attrs = {{"axis", Attr(sh.axis)}};
      cases.push_back(std::move(c));
    }
    checkCompilesOnce(OpId::Concat, cases);
  }
}

TEST(EagerGenericIndexing, GatherAndScatterAddCompileOncePerRank) {
  uint64_t seed = 30;
  for (DType dt : {DType::F32, DType::I64, DType::Bool}) {
    std::vector<Case> cases;
    struct G {
      Shape x, index;
      int64_t axis;
    };
    // Index smaller than x off the axis, larger along it; the last axis (x's inner stride 0 in the
    // walk); zero size.
    for (const G &g : {G{{4, 5, 3}, {2, 7, 3}, 1}, G{{4, 5, 3}, {4, 5, 3}, 2}, G{{6, 1, 2}, {9, 1, 2}, 0},
                       G{{3, 4, 33}, {3, 4, 17}, -1}, G{{2, 3, 4}, {2, 0, 4}, 1}}) {
      int64_t axis = g.axis < 0 ? g.axis + 3 : g.axis;
      cases.push_back({{values(dt, g.x, seed++), indices(g.index, g.x[size_t(axis)], seed++)}, {{"axis", Attr(g.axis)}}});
    }
    checkCompilesOnce(OpId::Gather, cases);
  }
  for (DType dt : {DType::F64, DType::I64}) {
    std::vector<Case> cases;
    struct S {
      Shape base, index, src;
      int64_t axis;
    };
    // Repeated indices accumulate in row-major order (bitwise like the interpreter); src larger
    // than index.
    for (const S &s : {S{{4, 3}, {6, 3}, {6, 3}, 0}, S{{4, 3}, {2, 5}, {3, 7}, 1}, S{{1, 9}, {1, 20}, {2, 20}, 1},
                       S{{5, 2}, {0, 2}, {0, 2}, 0}}) {
      cases.push_back({{values(dt, s.base, seed++), indices(s.index, s.base[size_t(s.axis)], seed++), values(dt, s.src, seed++)},
                       {{"axis", Attr(s.axis)}}});
    }
    checkCompilesOnce(OpId::ScatterAdd, cases);
  }
  // Scalars (rank 0, index 0 only).
  std::vector<Case> scalars = {{{values(DType::F64, {}, 1), Tensor::fromValues(DType::I64, {}, {0})}, {{"axis", Attr(int64_t(0))}}},
                               {{values(DType::F64, {}, 2), Tensor::fromValues(DType::I64, {}, {0})}, {{"axis", Attr(int64_t(0))}}}};
  checkCompilesOnce(OpId::Gather, scalars);
}

// --- bad indices ---------------------------------------------------------------------------------

TEST(EagerGenericIndexing, OutOfRangeIndicesRaiseIndexErrorLikeTheInterpreter) {
  Tensor x = values(DType::F32, {3, 5}, 40);
  AttrMap axis1{{"axis", Attr(int64_t(1))}};
  auto interpMessage = [&](OpId id, const std::vector<Tensor> &xs) {
    std::vector<Type> types{xs[0].type(), xs[1].type()};
    return messageOf([&] { interpretOp(id, xs, axis1, ir::inferType(ir::opDef(id), types, axis1)); });
  };
  // The first bad index in row-major order; negative ones are out of range too (as the
  // interpreter and torch.gather say).
  Tensor bad = Tensor::fromValues(DType::I64, {2, 3}, {0, 4, 7, -1, 2, 9});
  std::string want = "gather: index 7 is out of bounds for dimension 1 with size 5";
  EXPECT_EQ(interpMessage(OpId::Gather, {x, bad}), want);
  EXPECT_EQ(messageOf([&] { apply(OpId::Gather, {x, bad}, axis1); }), want);
  Tensor negative = Tensor::fromValues(DType::I64, {1, 2}, {1, -3});
  EXPECT_EQ(messageOf([&] { apply(OpId::Gather, {x, negative}, axis1); }),
            "gather: index -3 is out of bounds for dimension 1 with size 5");
  EXPECT_FALSE(rt::takeKernelError()); // taken by the frontend

  // The extremes of i64, in a strided index (the kernel sees it made dense).
  Tensor wide = Tensor::fromValues(DType::I64, {2, 2}, {0, double(std::numeric_limits<int64_t>::min()), 1, 1});
  Tensor strided = apply(OpId::Transpose, {wide}, {});
  EXPECT_EQ(messageOf([&] { apply(OpId::Gather, {x, strided}, axis1); }),
            "gather: index -9223372036854775808 is out of bounds for dimension 1 with size 5");

  // scatter_add: base [3,5], src [2,3].
  Tensor base = values(DType::F32, {3, 5}, 41), src = values(DType::F32, {2, 3}, 42);
  Tensor sbad = Tensor::fromValues(DType::I64, {2, 3}, {0, 1, 2, 3, 5, -2});
  std::string swant = "scatter_add: index 5 is out of bounds for dimension 1 with size 5";
  EXPECT_EQ(messageOf([&] {
              ir::Graph g;
              std::vector<ir::ArrayRef> refs{{base.type(), base.data()}, {sbad.type(), sbad.data()}, {src.type(), src.data()}};
              std::vector<ir::Value *> ins{g.addInput(base.type()), g.addInput(sbad.type()), g.addInput(src.type())};
              g.outputs.push_back(g.addNode("scatter_add", ins, axis1, base.type())->result);
              ir::interpret(g, refs);
            }),
            swant);
  EXPECT_EQ(messageOf([&] { apply(OpId::ScatterAdd, {base, sbad, src}, axis1); }), swant);

  // Good indices after a bad call run normally.
  Tensor good = Tensor::fromValues(DType::I64, {1, 2}, {4, 0});
  Tensor y = apply(OpId::Gather, {x, good}, axis1);
  EXPECT_EQ(y.toValues(), (std::vector<double>{x.toValues()[4], x.toValues()[0]}));
}

// --- strided elementwise operands ------------------------------------------------------------------

TEST(CodegenGenericStrided, ElementwiseReadsStridedOperandsInPlace) {
  // out[i][j] = A^T[i][j] * B[i][2j] + ... : a transposed view (strides 1, 6) and a column-strided
  // slice (strides 8, 2) of [6,4]; then the same with an expanded row (stride 0) and a scalar.
  const ir::OpDef &mul = ir::opDef(OpId::Mul);
  std::vector<double> A(24), B(48);
  for (size_t i = 0; i < A.size(); ++i) A[i] = double(i) + 1;
  for (size_t i = 0; i < B.size(); ++i) B[i] = 100.0 - double(i);
  std::vector<Type> ts = {{DType::F64, {6, 4}}, {DType::F64, {6, 4}}};
  Type out{DType::F64, {6, 4}};
  std::vector<std::vector<int64_t>> strides = {{1, 6}, {8, 2}};
  std::vector<int64_t> sizes = codegen::shapeGenericSizesStrided(mul, ts, strides, out);
  EXPECT_EQ(sizes, (std::vector<int64_t>{6, 4, 4, 1, 1, 6, 8, 2}));
  rt::KernelFn fn = codegen::compileShapeGeneric(mul, ts, out, {});
  std::vector<double> y(24, -1);
  std::vector<void *> bufs = {y.data(), A.data(), B.data()};
  fn(bufs.data(), sizes.data());
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(y[size_t(i * 4 + j)], A[size_t(j * 6 + i)] * B[size_t(i * 8 + 2 * j)]) << i << "," << j;

  // An expanded row (shape [6,4], strides 0, 1 over A's first row) times a scalar.
  std::vector<Type> es = {{DType::F64, {6, 4}}, {DType::F64, {}}};
  std::vector<std::vector<int64_t>> estrides = {{0, 1}, {}};
  std::vector<int64_t> esizes = codegen::shapeGenericSizesStrided(mul, es, estrides, out);
  double two = 2;
  std::vector<void *> ebufs = {y.data(), A.data(), &two};
  codegen::compileShapeGeneric(mul, es, out, {})(ebufs.data(), esizes.data());
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(y[size_t(i * 4 + j)], 2 * A[size_t(j)]) << i << "," << j;

  // Contiguous strides give shapeGenericSizes' layout; bad calls are errors, not crashes.
  std::vector<std::vector<int64_t>> dense = {{4, 1}, {4, 1}};
  EXPECT_EQ(codegen::shapeGenericSizesStrided(mul, ts, dense, out), codegen::shapeGenericSizes(mul, ts, out, {}));
  std::vector<std::vector<int64_t>> short1 = {{4, 1}, {1}};
  EXPECT_THROW(codegen::shapeGenericSizesStrided(mul, ts, short1, out), ValueError);
  std::vector<Type> sum = {{DType::F64, {6, 4}}};
  std::vector<std::vector<int64_t>> one = {{4, 1}};
  EXPECT_THROW(codegen::shapeGenericSizesStrided(ir::opDef(OpId::Sum), sum, one, {DType::F64, {}}), ValueError);
  std::vector<Type> wrong = {{DType::F64, {5, 4}}, {DType::F64, {6, 4}}};
  EXPECT_THROW(codegen::shapeGenericSizesStrided(mul, wrong, dense, out), ValueError);
}
