// The JIT against the reference interpreter: every op and every dtype it admits, over broadcast,
// scalar, size-1, zero-size and odd-length shapes (fixed seeds, printed on failure); special
// values and a float-range sweep of the polynomial transcendentals; vectorization of the
// generated IR; the kernel cache; Program input checking.
// The data-movement ops (argmax, slice, pad, concat, gather, scatter_add) are in
// codegen_indexing_test.cpp; the helpers both use are in CodegenCheck.h.
#include "CodegenCheck.h"
#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "runtime/Buffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <regex>
#include <sstream>

using namespace dt;
using namespace dt::codegen_check;
using ir::DType;
using ir::HostArray;
using ir::OpId;
using ir::Shape;
using ir::Type;

namespace {

/// Shapes of one operand: scalars, size 1, odd lengths around vector widths, zero-size.
const std::vector<Shape> kUnaryShapes = {{}, {1}, {7}, {17}, {33}, {1000}, {3, 1}, {2, 0, 3}, {0}, {4, 5, 6}, {1, 1, 9}};
/// Operand shape pairs that broadcast.
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{}, {}},        {{7}, {7}},         {{3, 1}, {4}},     {{1}, {5, 1, 2}},   {{}, {2, 3}},
    {{2, 3}, {}},    {{17}, {1}},        {{2, 0, 3}, {3}},  {{0}, {1}},         {{4, 1, 3}, {1, 5, 1}},
    {{33, 2}, {33, 1}}, {{1, 33}, {9, 1}}, {{2, 3, 4}, {2, 3, 4}}, {{6, 1, 1}, {1, 1, 7}}};

/// A random pair of broadcast-compatible shapes of rank <= 4 with sizes in 0..5.
std::pair<Shape, Shape> randomBroadcastPair(std::mt19937_64 &rng) {
  size_t rank = rng() % 5;
  Shape out(rank);
  for (auto &d : out) d = rng() % 8 == 0 ? 0 : int64_t(1 + rng() % 5);
  auto derive = [&]() {
    size_t drop = rng() % (rank + 1);
    Shape s(out.begin() + long(drop), out.end());
    for (auto &d : s)
      if (rng() % 3 == 0) d = 1;
    return s;
  };
  return {derive(), derive()};
}

} // namespace

// --- elementwise -----------------------------------------------------------------------------

TEST(CodegenElementwise, UnaryOpsEveryDTypeAndShape) {
  uint64_t seed = 100;
  for (const ir::OpDef *def : opsOfKind(ir::OpKind::Unary))
    for (DType t : admitted(*def))
      for (const Shape &s : kUnaryShapes) checkOp(std::string(def->name), {{t, s}}, {}, seed++);
}

TEST(CodegenElementwise, BinaryAndCompareOpsBroadcast) {
  // The fixed pairs for every op and dtype; random pairs (rank <= 4, sizes 0..5) for every op
  // on its first dtype (the indexing does not depend on the dtype).
  uint64_t seed = 1000;
  std::mt19937_64 shapes(7);
  std::vector<std::pair<Shape, Shape>> randomPairs;
  for (int i = 0; i < 10; ++i) randomPairs.push_back(randomBroadcastPair(shapes));
  for (ir::OpKind k : {ir::OpKind::Binary, ir::OpKind::Compare})
    for (const ir::OpDef *def : opsOfKind(k)) {
      std::vector<DType> dts = admitted(*def);
      for (DType t : dts)
        for (auto &[a, b] : kBinaryShapes) checkOp(std::string(def->name), {{t, a}, {t, b}}, {}, seed++);
      for (auto &[a, b] : randomPairs) checkOp(std::string(def->name), {{dts[0], a}, {dts[0], b}}, {}, seed++);
    }
}

TEST(CodegenElementwise, WhereBroadcastsAllThree) {
  uint64_t seed = 2000;
  const std::vector<std::vector<Shape>> triples = {{{}, {}, {}},       {{5}, {5}, {5}},       {{3, 1}, {4}, {}},
                                                   {{1}, {5, 1, 2}, {2}}, {{2, 1, 3}, {1, 4, 1}, {3}}, {{0, 3}, {3}, {1}},
                                                   {{17}, {}, {17}},  {{2, 3}, {2, 3}, {2, 3}}};
  for (DType t : ir::kAllDTypes)
    for (const auto &s : triples) checkOp("where", {{DType::Bool, s[0]}, {t, s[1]}, {t, s[2]}}, {}, seed++);
}

TEST(CodegenElementwise, CastBetweenEveryPair) {
  uint64_t seed = 3000;
  for (DType from : ir::kAllDTypes)
    for (DType to : ir::kAllDTypes)
      for (const Shape &s : {Shape{}, Shape{33}, Shape{4, 0}, Shape{3, 7}})
        checkOp("cast", {{from, s}}, {{"dtype", std::string(ir::dtypeName(to))}}, seed++);
}

TEST(CodegenElementwise, CastEdgeValues) {
  // float -> i64 saturates and sends NaN to 0; -> bool is != 0 (NaN true); i64 -> f32 rounds.
  HostArray x(Type{DType::F32, {8}});
  float vals[] = {kNaNF, kInfF, -kInfF, 1e30f, -1e30f, -2.75f, 2.75f, -0.0f};
  std::memcpy(x.bytes.data(), vals, sizeof vals);
  for (const char *to : {"i64", "bool", "f64"}) {
    SCOPED_TRACE(to);
    auto g = oneNode("cast", {x.type}, {{"dtype", to}});
    expectClose(runJit(*g, {x})[0], runInterpreter(*g, {x})[0], Cmp::Exact);
  }
  auto gi = oneNode("cast", {{DType::F32, {8}}}, {{"dtype", "i64"}});
  auto r = runJit(*gi, {x})[0];
  EXPECT_EQ(r.data<int64_t>()[0], 0);
  EXPECT_EQ(r.data<int64_t>()[1], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(r.data<int64_t>()[2], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r.data<int64_t>()[5], -2);
}

TEST(CodegenElementwise, OddLengthsAndAMillionElements) {
  // Vector loops need remainders: lengths around and far from the vector widths.
  uint64_t seed = 4000;
  for (int64_t n : {1, 7, 15, 16, 17, 31, 33, 63, 65, 1000003}) {
    checkOp("add", {{DType::F32, {n}}, {DType::F32, {n}}}, {}, seed++);
    checkOp("exp", {{DType::F32, {n}}}, {}, seed++);
  }
  for (int64_t n : {1, 7, 17, 33, 100003}) {
    checkOp("maximum", {{DType::F64, {n}}, {DType::F64, {1}}}, {}, seed++);
    checkOp("mul", {{DType::I64, {n}}, {DType::I64, {}}}, {}, seed++);
    checkOp("sum", {{DType::F32, {n}}}, {}, seed++);
  }
}

TEST(CodegenElementwise, MisalignedCallerBuffers) {
  // Wrapped numpy memory is only element-aligned; kernels must not assume more.
  uint64_t seed = 4500;
  checkOp("add", {{DType::F32, {1001}}, {DType::F32, {1001}}}, {}, seed++, true);
  checkOp("sigmoid", {{DType::F64, {257}}}, {}, seed++, true);
  checkOp("sum", {{DType::F32, {7, 129}}}, {{"axes", ir::Attr::ints({1})}}, seed++, true);
}

// --- const, layout ---------------------------------------------------------------------------

TEST(CodegenConst, SplatsAndLiterals) {
  for (DType t : ir::kAllDTypes) {
    std::string dt(ir::dtypeName(t));
    for (const Shape &s : {Shape{}, Shape{5}, Shape{2, 3}, Shape{0}, Shape{1000}}) {
      std::vector<ir::AttrMap> cases = {
          {{"dtype", dt}, {"shape", ir::Attr::ints(s)}, {"value", 2.5}},
          {{"dtype", dt}, {"shape", ir::Attr::ints(s)}, {"value", int64_t(-7)}},
          {{"dtype", dt}, {"shape", ir::Attr::ints(s)}, {"value", true}},
      };
      ir::Attr::List lit;
      for (int64_t i = 0; i < ir::numElements(s); ++i) {
        if (i % 3 == 0) lit.emplace_back(int64_t(i * 1000003 - 17));
        else if (i % 3 == 1) lit.emplace_back(double(i) * -0.37);
        else lit.emplace_back(i % 2 == 0);
      }
      cases.push_back({{"dtype", dt}, {"shape", ir::Attr::ints(s)}, {"value", ir::Attr(lit)}});
      for (const ir::AttrMap &a : cases) {
        SCOPED_TRACE(describe("const", {}, a, 0));
        auto g = oneNode("const", {}, a);
        expectClose(runJit(*g, {})[0], runInterpreter(*g, {})[0], Cmp::Exact);
      }
    }
  }
}

TEST(CodegenLayout, ReshapeTransposePermuteBroadcast) {
  uint64_t seed = 5000;
  for (DType t : ir::kAllDTypes) {
    checkOp("reshape", {{t, {2, 3}}}, {{"shape", ir::Attr::ints({3, 2})}}, seed++);
    checkOp("reshape", {{t, {1}}}, {{"shape", ir::Attr::ints({})}}, seed++);
    checkOp("reshape", {{t, {4, 0}}}, {{"shape", ir::Attr::ints({0, 7})}}, seed++);
    checkOp("reshape", {{t, {2, 3, 4}}}, {{"shape", ir::Attr::ints({-1, 4})}}, seed++);
    checkOp("transpose", {{t, {2, 3}}}, {}, seed++);
    checkOp("transpose", {{t, {33, 17}}}, {}, seed++);
    checkOp("transpose", {{t, {2, 3, 4}}}, {{"dim0", int64_t(0)}, {"dim1", int64_t(2)}}, seed++);
    checkOp("transpose", {{t, {5}}}, {}, seed++);
    checkOp("transpose", {{t, {}}}, {}, seed++);
    checkOp("transpose", {{t, {0, 3}}}, {}, seed++);
    checkOp("transpose", {{t, {1, 9}}}, {}, seed++);
    checkOp("permute", {{t, {2, 3, 4}}}, {{"dims", ir::Attr::ints({2, 0, 1})}}, seed++);
    checkOp("permute", {{t, {2, 3, 4, 5}}}, {{"dims", ir::Attr::ints({0, 1, 3, 2})}}, seed++);
    checkOp("permute", {{t, {2, 3, 4}}}, {{"dims", ir::Attr::ints({0, 1, 2})}}, seed++);
    checkOp("broadcast_to", {{t, {3, 1}}}, {{"shape", ir::Attr::ints({2, 3, 4})}}, seed++);
    checkOp("broadcast_to", {{t, {}}}, {{"shape", ir::Attr::ints({5})}}, seed++);
    checkOp("broadcast_to", {{t, {1}}}, {{"shape", ir::Attr::ints({0})}}, seed++);
    checkOp("broadcast_to", {{t, {1, 4, 1}}}, {{"shape", ir::Attr::ints({3, 4, 17})}}, seed++);
    checkOp("broadcast_to", {{t, {2, 3}}}, {{"shape", ir::Attr::ints({2, 3})}}, seed++);
  }
}

// --- matmul, reductions ----------------------------------------------------------------------

TEST(CodegenMatMul, ShapesAndBatchBroadcast) {
  uint64_t seed = 6000;
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{2, 3}, {3, 4}},       {{1, 1}, {1, 1}},       {{5, 0}, {0, 3}},          {{0, 3}, {3, 2}},
      {{3, 4}, {4, 0}},       {{2, 3, 4}, {4, 5}},    {{3, 2, 3, 4}, {4, 5}},    {{2, 1, 3, 4}, {5, 4, 2}},
      {{7, 33}, {33, 17}},    {{4, 64}, {64, 64}},    {{1, 2, 3}, {4, 3, 1}},    {{2, 0, 3, 4}, {4, 2}}};
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (auto &[a, b] : pairs) checkOp("matmul", {{t, a}, {t, b}}, {}, seed++);
}

TEST(CodegenReduce, AxesKeepdimAndEmpty) {
  uint64_t seed = 7000;
  struct Case {
    Shape shape;
    std::optional<std::vector<int64_t>> axes;
  };
  const std::vector<Case> cases = {
      {{}, std::nullopt},      {{}, std::vector<int64_t>{0}}, {{17}, std::nullopt},
      {{3, 4, 5}, std::nullopt}, {{3, 4, 5}, std::vector<int64_t>{2}}, {{3, 4, 5}, std::vector<int64_t>{0}},
      {{3, 4, 5}, std::vector<int64_t>{1}}, {{3, 4, 5}, std::vector<int64_t>{0, 2}}, {{3, 4, 5}, std::vector<int64_t>{-1, -2}},
      {{2, 3, 4, 5}, std::vector<int64_t>{1, 3}}, {{5, 1, 7}, std::vector<int64_t>{1}}, {{64, 33}, std::vector<int64_t>{0}},
      {{33, 64}, std::vector<int64_t>{1}}, {{1, 1}, std::nullopt}, {{0, 3}, std::vector<int64_t>{0}},
      {{3, 0}, std::vector<int64_t>{1}}, {{0, 3}, std::vector<int64_t>{1}}, {{2, 0}, std::nullopt}};
  for (const char *op : {"sum", "mean", "max", "min"}) {
    const ir::OpDef *def = ir::findOp(op);
    for (DType t : admitted(*def))
      for (size_t ci = 0; ci < cases.size(); ++ci)
        for (bool keep : {false, true}) {
          const Case &c = cases[ci];
          if (keep && ci % 2) continue; // keepdim only changes the result's shape, not the loops
          ir::AttrMap attrs{{"keepdim", keep}};
          if (c.axes) attrs["axes"] = ir::Attr::ints(*c.axes);
          try {
            std::vector<Type> ts{Type{t, c.shape}};
            ir::inferType(*def, ts, attrs);
          } catch (const ValueError &) {
            continue; // max over a zero-size axis has no identity
          }
          checkOp(op, {{t, c.shape}}, attrs, seed++);
        }
  }
}

TEST(CodegenReduce, EmptySumIsZeroEmptyMeanIsNaNMaxPropagatesNaN) {
  auto gs = oneNode("sum", {{DType::F32, {0, 3}}}, {{"axes", ir::Attr::ints({0})}});
  auto gm = oneNode("mean", {{DType::F32, {0, 3}}}, {{"axes", ir::Attr::ints({0})}});
  HostArray empty(Type{DType::F32, {0, 3}});
  auto s = runJit(*gs, {empty})[0];
  auto m = runJit(*gm, {empty})[0];
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.data<float>()[i], 0.0f);
    EXPECT_TRUE(std::isnan(m.data<float>()[i]));
  }
  HostArray x(Type{DType::F32, {2, 40}});
  for (int i = 0; i < 80; ++i) x.data<float>()[i] = float(i);
  x.data<float>()[57] = kNaNF;
  for (std::optional<int64_t> ax : {std::optional<int64_t>(), std::optional<int64_t>(0), std::optional<int64_t>(1)}) {
    ir::AttrMap attrs;
    if (ax) attrs["axes"] = ir::Attr::ints({*ax});
    auto g = oneNode("max", {x.type}, attrs);
    expectClose(runJit(*g, {x})[0], runInterpreter(*g, {x})[0], Cmp::ValueEqual);
  }
}

TEST(CodegenReduce, MinPropagatesNaN) {
  HostArray x(Type{DType::F64, {3, 41}});
  for (int i = 0; i < 123; ++i) x.data<double>()[i] = double(100 - i);
  x.data<double>()[70] = std::numeric_limits<double>::quiet_NaN();
  for (std::optional<int64_t> ax : {std::optional<int64_t>(), std::optional<int64_t>(0), std::optional<int64_t>(1)}) {
    ir::AttrMap attrs;
    if (ax) attrs["axes"] = ir::Attr::ints({*ax});
    auto g = oneNode("min", {x.type}, attrs);
    expectClose(runJit(*g, {x})[0], runInterpreter(*g, {x})[0], Cmp::ValueEqual);
  }
}

// --- transcendentals -------------------------------------------------------------------------

namespace {

/// f(x) for a batch of f32 values through the JIT.
std::vector<float> jitUnary(const std::string &op, const std::vector<float> &xs) {
  HostArray a(Type{DType::F32, {int64_t(xs.size())}});
  if (!xs.empty()) std::memcpy(a.bytes.data(), xs.data(), xs.size() * 4);
  auto g = oneNode(op, {a.type});
  HostArray r = runJit(*g, {a})[0];
  return std::vector<float>(r.data<float>(), r.data<float>() + xs.size());
}

double refUnary(const std::string &op, double x) {
  if (op == "exp") return std::exp(x);
  if (op == "log") return std::log(x);
  if (op == "tanh") return std::tanh(x);
  if (op == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (op == "sqrt") return std::sqrt(x);
  ADD_FAILURE() << op;
  return 0;
}

} // namespace

TEST(CodegenTranscendental, SpecialValues) {
  const float inf = kInfF, nan = kNaNF, den = 1e-40f, tiny = std::numeric_limits<float>::denorm_min();
  struct Case {
    const char *op;
    float x, want;
  };
  const std::vector<Case> cases = {
      {"exp", 0.0f, 1.0f},        {"exp", -0.0f, 1.0f},     {"exp", -inf, 0.0f},         {"exp", inf, inf},
      {"exp", 88.8f, inf},        {"exp", 89.0f, inf},      {"exp", 1000.0f, inf},       {"exp", -104.0f, 0.0f},
      {"exp", -1000.0f, 0.0f},    {"exp", den, 1.0f},       {"exp", -den, 1.0f},         {"exp", nan, nan},
      {"log", 0.0f, -inf},        {"log", -0.0f, -inf},     {"log", -1.0f, nan},         {"log", -inf, nan},
      {"log", inf, inf},          {"log", 1.0f, 0.0f},      {"log", nan, nan},           {"log", -den, nan},
      {"tanh", 0.0f, 0.0f},       {"tanh", -0.0f, -0.0f},   {"tanh", inf, 1.0f},         {"tanh", -inf, -1.0f},
      {"tanh", 20.0f, 1.0f},      {"tanh", -1e30f, -1.0f},  {"tanh", nan, nan},          {"tanh", den, den},
      {"sigmoid", 0.0f, 0.5f},    {"sigmoid", -0.0f, 0.5f}, {"sigmoid", inf, 1.0f},      {"sigmoid", -inf, 0.0f},
      {"sigmoid", 100.0f, 1.0f},  {"sigmoid", -1e30f, 0.0f}, {"sigmoid", nan, nan},      {"sqrt", -0.0f, -0.0f},
      {"sqrt", inf, inf},         {"sqrt", -1.0f, nan},     {"sqrt", 4.0f, 2.0f},        {"sqrt", tiny, float(std::sqrt(double(tiny)))}};
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.op) + "(" + std::to_string(c.x) + ")");
    float got = jitUnary(c.op, {c.x})[0];
    if (std::isnan(c.want)) {
      EXPECT_TRUE(std::isnan(got)) << got;
    } else {
      EXPECT_EQ(got, c.want);
      EXPECT_EQ(std::signbit(got), std::signbit(c.want)) << got;
    }
  }
  // Results near the edges: largest finite, subnormal outputs, log of subnormals.
  std::vector<std::pair<const char *, float>> edges = {
      {"exp", 88.72f},   {"exp", 88.7228f}, {"exp", -87.3f},   {"exp", -88.0f},  {"exp", -95.0f},  {"exp", -103.0f},
      {"exp", -103.9f},  {"log", tiny},     {"log", den},      {"log", 1.17549435e-38f}, {"log", 3.4e38f},
      {"sigmoid", -88.0f}, {"sigmoid", -95.0f}, {"sigmoid", -103.0f}, {"sigmoid", 16.0f}, {"sigmoid", 17.0f},
      {"tanh", 0.624f},  {"tanh", 0.626f},  {"tanh", 9.0f},    {"tanh", -9.1f}};
  for (auto &[op, x] : edges) {
    SCOPED_TRACE(std::string(op) + "(" + std::to_string(x) + ")");
    float got = jitUnary(op, {x})[0];
    float want = float(refUnary(op, double(x)));
    EXPECT_LE(ulpDiff(got, want), 4) << "got " << got << " want " << want;
  }
}

TEST(CodegenTranscendental, MaxUlpErrorOverTheFloatRange) {
  // ~1M inputs for each function: every 4096th bit pattern (all magnitudes, both signs, NaNs,
  // subnormals) plus a dense uniform sweep where the function is not saturated.
  struct Range {
    const char *op;
    float lo, hi;
  };
  for (Range r : {Range{"exp", -104.0f, 89.0f}, Range{"log", 0.0f, 8.0f}, Range{"tanh", -10.0f, 10.0f},
                  Range{"sigmoid", -105.0f, 20.0f}}) {
    SCOPED_TRACE(r.op);
    std::vector<float> xs;
    for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 4096) {
      uint32_t b = uint32_t(bits);
      float f;
      std::memcpy(&f, &b, 4);
      xs.push_back(f);
    }
    for (int i = 0; i <= 1 << 19; ++i) xs.push_back(r.lo + (r.hi - r.lo) * float(i) / float(1 << 19));
    std::vector<float> got = jitUnary(r.op, xs);
    int64_t maxUlp = 0;
    float worst = 0;
    int64_t nanMismatch = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      float want = float(refUnary(r.op, double(xs[i])));
      if (std::isnan(want) || std::isnan(got[i])) {
        nanMismatch += std::isnan(want) != std::isnan(got[i]);
        continue;
      }
      int64_t u = ulpDiff(got[i], want);
      if (u > maxUlp) {
        maxUlp = u;
        worst = xs[i];
      }
    }
    EXPECT_EQ(nanMismatch, 0);
    EXPECT_LE(maxUlp, 4) << "worst at x = " << std::setprecision(9) << worst;
    std::cout << "[ max ulp ] " << r.op << ": " << maxUlp << " over " << xs.size() << " values (worst at x = "
              << std::setprecision(9) << worst << ")\n";
  }
}

// --- generated code --------------------------------------------------------------------------

TEST(CodegenIR, ElementwiseKernelsVectorizeWithoutLibmCalls) {
  auto add = oneNode("add", {{DType::F32, {1024}}, {DType::F32, {1024}}});
  std::string ir = codegen::emitLLVM(*add, true);
  std::regex vec(R"(<(8|16) x float>)");
  EXPECT_TRUE(std::regex_search(ir, vec)) << ir;

  for (const char *op : {"exp", "log", "tanh", "sigmoid"}) {
    SCOPED_TRACE(op);
    auto g = oneNode(op, {{DType::F32, {1000}}});
    std::string text = codegen::emitLLVM(*g, true);
    EXPECT_TRUE(std::regex_search(text, vec)) << text;
    EXPECT_EQ(text.find("@expf"), std::string::npos) << text;
    EXPECT_EQ(text.find("@logf"), std::string::npos) << text;
    EXPECT_EQ(text.find("@tanhf"), std::string::npos) << text;
    EXPECT_EQ(text.find("call float"), std::string::npos) << text;
    // No calls at all but to intrinsics (no vector library either).
    EXPECT_FALSE(std::regex_search(text, std::regex(R"(call [^@\n]*@(?!llvm\.))"))) << text;
  }
  // Unoptimized IR is valid text with the kernel's ABI.
  std::string raw = codegen::emitLLVM(*add, false);
  EXPECT_NE(raw.find("define void @dt_add_0(ptr %bufs, ptr %sizes)"), std::string::npos) << raw;
}

TEST(CodegenIR, AsmAndHostCPU) {
  EXPECT_FALSE(codegen::hostCPU().empty());
  auto g = oneNode("mul", {{DType::F32, {64}}, {DType::F32, {64}}});
  std::string s = codegen::emitAsm(*g);
  EXPECT_NE(s.find("dt_mul_0:"), std::string::npos) << s;
  EXPECT_NE(s.find("ret"), std::string::npos) << s;
}

// --- compile: graphs, cache, errors ----------------------------------------------------------

TEST(CodegenCompile, MultiNodeGraphMatchesInterpreter) {
  // y = relu(x @ w + b); s = sum(y, axis 1); outputs y, s, and x itself (copied).
  ir::Graph g;
  ir::Value *x = g.addInput({DType::F32, {8, 16}}, "x");
  ir::Value *w = g.addInput({DType::F32, {16, 4}}, "w");
  ir::Value *b = g.addInput({DType::F32, {4}}, "b");
  ir::Node *mm = g.addNode("matmul", {x, w}, {}, {DType::F32, {8, 4}});
  ir::Node *ad = g.addNode("add", {mm->result, b}, {}, {DType::F32, {8, 4}});
  ir::Node *re = g.addNode("relu", {ad->result}, {}, {DType::F32, {8, 4}});
  ir::Node *re2 = g.addNode("relu", {ad->result}, {}, {DType::F32, {8, 4}}); // same kernel twice
  ir::Node *su = g.addNode("sum", {re2->result}, {{"axes", ir::Attr::ints({1})}}, {DType::F32, {8}});
  g.outputs = {re->result, su->result, x};
  std::mt19937_64 rng(42);
  std::vector<HostArray> args;
  for (ir::Value *v : g.inputs) args.push_back(randomArray(v->type, rng, Domain::Moderate));
  auto ref = runInterpreter(g, args);
  auto jit = runJit(g, args);
  ASSERT_EQ(jit.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(jit[i].type, ref[i].type);
    for (int64_t j = 0; j < ref[i].type.numel(); ++j)
      EXPECT_NEAR(jit[i].data<float>()[j], ref[i].data<float>()[j], 1e-4) << i << " " << j;
  }
  rt::Program p = codegen::compile(g);
  EXPECT_EQ(p.slotBytes.size(), 8u);
  EXPECT_EQ(p.steps.size(), 5u);
  EXPECT_EQ(p.steps[2].fn, p.steps[3].fn);
}

TEST(CodegenCompile, SecondCompileOfTheSameGraphCompilesNothing) {
  // A shape no other test uses, so the first compile really compiles.
  auto g = oneNode("sub", {{DType::F64, {3, 1, 2, 9}}, {DType::F64, {9}}});
  codegen::CacheStats before = codegen::cacheStats();
  codegen::compile(*g);
  codegen::CacheStats mid = codegen::cacheStats();
  EXPECT_EQ(mid.kernelsCompiled, before.kernelsCompiled + 1);
  codegen::compile(*g);
  auto g2 = oneNode("sub", {{DType::F64, {3, 1, 2, 9}}, {DType::F64, {9}}}); // equal, not identical
  codegen::compile(*g2);
  codegen::CacheStats after = codegen::cacheStats();
  EXPECT_EQ(after.kernelsCompiled, mid.kernelsCompiled);
  EXPECT_EQ(after.kernelCacheHits, mid.kernelCacheHits + 2);
  // A default attribute spelled out is the same kernel.
  auto t1 = oneNode("transpose", {{DType::F32, {3, 5, 7}}});
  auto t2 = oneNode("transpose", {{DType::F32, {3, 5, 7}}}, {{"dim0", int64_t(-2)}, {"dim1", int64_t(-1)}});
  codegen::compile(*t1);
  codegen::CacheStats c1 = codegen::cacheStats();
  codegen::compile(*t2);
  EXPECT_EQ(codegen::cacheStats().kernelsCompiled, c1.kernelsCompiled);
}

TEST(CodegenCompile, RunRejectsWrongInputs) {
  auto g = oneNode("add", {{DType::F32, {3}}, {DType::F32, {3}}});
  rt::Program p = codegen::compile(*g);
  auto a = rt::Buffer::allocate(12), small = rt::Buffer::allocate(8);
  try {
    p.run(std::vector{a});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    std::string m = e.what();
    EXPECT_NE(m.find("2"), std::string::npos) << m;
    EXPECT_NE(m.find("given 1"), std::string::npos) << m;
  }
  try {
    p.run(std::vector{a, small});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    std::string m = e.what();
    EXPECT_NE(m.find("input 1"), std::string::npos) << m;
    EXPECT_NE(m.find("expected 12 bytes, given 8"), std::string::npos) << m;
  }
}

TEST(CodegenCompile, RejectsKernelsWithUnfusibleRegionsAndMistypedNodes) {
  ir::Graph g;
  ir::Value *x = g.addInput({DType::F32, {4}});
  ir::Node *k = g.addNode("kernel", {x}, {}, {DType::F32, {4}});
  k->callee = "fused_0";
  k->region = std::make_unique<ir::Graph>();
  ir::Value *rx = k->region->addInput({DType::F32, {4}});
  k->region->outputs.push_back(
      k->region->addNode("reshape", {rx}, {{"shape", ir::Attr::ints({4})}}, {DType::F32, {4}})->result);
  g.outputs.push_back(k->result);
  try {
    codegen::compile(g);
    FAIL() << "expected dt::ValueError";
  } catch (const ValueError &e) {
    std::string m = e.what();
    EXPECT_NE(m.find("kernel @fused_0"), std::string::npos) << m;
    EXPECT_NE(m.find("= reshape: expected an elementwise op, broadcast_to or a scalar const"), std::string::npos) << m;
  }

  ir::Graph bad;
  ir::Value *y = bad.addInput({DType::F32, {4}});
  bad.outputs.push_back(bad.addNode("neg", {y}, {}, {DType::F32, {5}})->result);
  EXPECT_THROW(codegen::compile(bad), ValueError);
}
