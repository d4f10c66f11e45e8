// The reference interpreter against hand-computed expectations: every op, broadcasting,
// zero-size and scalar tensors, NaN and i64 wrap-around, casts, reductions, batched matmul,
// kernel regions and input checking.
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <limits>
#include <set>

using namespace dt::ir;

namespace {

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();

// --- array literals -------------------------------------------------------------------------

template <typename T> HostArray make(DType dt, Shape s, const std::vector<T> &v) {
  HostArray a(Type{dt, std::move(s)});
  EXPECT_EQ(int64_t(v.size()), a.type.numel()) << "literal for " << a.type.str() << " has the wrong length";
  if (int64_t(v.size()) == a.type.numel() && !v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  return a;
}
HostArray F32(Shape s, std::vector<float> v) { return make(DType::F32, std::move(s), v); }
HostArray F64(Shape s, std::vector<double> v) { return make(DType::F64, std::move(s), v); }
HostArray I64(Shape s, std::vector<int64_t> v) { return make(DType::I64, std::move(s), v); }
HostArray B(Shape s, std::vector<uint8_t> v) { return make(DType::Bool, std::move(s), v); }

template <typename T> std::vector<T> values(const HostArray &a) {
  std::vector<T> v(size_t(a.type.numel()));
  if (!v.empty()) std::memcpy(v.data(), a.bytes.data(), a.bytes.size());
  return v;
}

// --- comparisons ----------------------------------------------------------------------------

/// Same type, then element by element: NaN matches NaN, zeros must agree in sign, all else exact.
::testing::AssertionResult same(const HostArray &got, const HostArray &want) {
  if (got.type != want.type)
    return ::testing::AssertionFailure() << "type " << got.type.str() << ", expected " << want.type.str();
  if (got.bytes.size() != want.bytes.size())
    return ::testing::AssertionFailure() << "holds " << got.bytes.size() << " bytes, expected " << want.bytes.size();
  auto floats = [&](auto tag) -> ::testing::AssertionResult {
    using T = decltype(tag);
    std::vector<T> g = values<T>(got), w = values<T>(want);
    for (size_t i = 0; i < g.size(); ++i) {
      bool ok = std::isnan(w[i]) ? std::isnan(g[i]) : (g[i] == w[i] && std::signbit(g[i]) == std::signbit(w[i]));
      if (!ok)
        return ::testing::AssertionFailure() << "element " << i << " is " << std::hexfloat << g[i] << " ("
                                             << std::defaultfloat << g[i] << "), expected " << w[i];
    }
    return ::testing::AssertionSuccess();
  };
  switch (got.type.dtype) {
  case DType::F32: return floats(float{});
  case DType::F64: return floats(double{});
  case DType::I64: {
    std::vector<int64_t> g = values<int64_t>(got), w = values<int64_t>(want);
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i] != w[i]) return ::testing::AssertionFailure() << "element " << i << " is " << g[i] << ", expected " << w[i];
    return ::testing::AssertionSuccess();
  }
  case DType::Bool: {
    std::vector<uint8_t> g = values<uint8_t>(got), w = values<uint8_t>(want);
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i] != w[i])
        return ::testing::AssertionFailure() << "element " << i << " is " << int(g[i]) << ", expected " << int(w[i]);
    return ::testing::AssertionSuccess();
  }
  }
  return ::testing::AssertionFailure() << "unknown dtype";
}

/// Same type, then |got - want| <= rel * |want| (NaN matches NaN, infinities exact).
::testing::AssertionResult near(const HostArray &got, const HostArray &want, double rel) {
  if (got.type != want.type)
    return ::testing::AssertionFailure() << "type " << got.type.str() << ", expected " << want.type.str();
  std::vector<double> g, w;
  if (got.type.dtype == DType::F32) {
    for (float x : values<float>(got)) g.push_back(x);
    for (float x : values<float>(want)) w.push_back(x);
  } else if (got.type.dtype == DType::F64) {
    g = values<double>(got);
    w = values<double>(want);
  } else {
    return ::testing::AssertionFailure() << "near() is for floats";
  }
  for (size_t i = 0; i < g.size(); ++i) {
    bool ok = std::isnan(w[i]) ? std::isnan(g[i])
              : std::isinf(w[i]) ? g[i] == w[i]
                                 : std::fabs(g[i] - w[i]) <= rel * std::fabs(w[i]);
    if (!ok)
      return ::testing::AssertionFailure() << "element " << i << " is " << std::setprecision(17) << g[i]
                                           << ", expected " << w[i];
  }
  return ::testing::AssertionSuccess();
}

// --- running ops ----------------------------------------------------------------------------

/// A graph of one `op` node on fresh inputs of the given arrays' types, its type inferred.
HostArray run(const std::string &op, const std::vector<HostArray> &ins, AttrMap attrs = {}) {
  const OpDef *def = findOp(op);
  EXPECT_NE(def, nullptr) << op;
  Graph g;
  std::vector<Value *> vs;
  std::vector<Type> ts;
  std::vector<ArrayRef> refs;
  for (const HostArray &a : ins) {
    vs.push_back(g.addInput(a.type));
    ts.push_back(a.type);
    refs.push_back(a.ref());
  }
  Node *n = g.addNode(op, vs, attrs, inferType(*def, ts, attrs));
  g.outputs.push_back(n->result);
  std::vector<HostArray> outs = interpret(g, refs);
  EXPECT_EQ(outs.size(), 1u);
  return outs.at(0);
}

/// The region `relu(add(%a, %b))` over the given operand types (for kernel nodes).
std::unique_ptr<Graph> addReluRegion(const Type &a, const Type &b) {
  auto r = std::make_unique<Graph>();
  r->name = "fused_add_relu";
  Value *x = r->addInput(a, "a"), *y = r->addInput(b, "b");
  Type at = inferType(*findOp("add"), std::vector<Type>{a, b}, {});
  Node *s = r->addNode("add", {x, y}, {}, at, "s");
  Node *o = r->addNode("relu", {s->result}, {}, at, "o");
  r->outputs.push_back(o->result);
  return r;
}

/// Adds a kernel node running `region` on `operands` to g.
Node *addKernel(Graph &g, std::vector<Value *> operands, std::unique_ptr<Graph> region) {
  Type t = region->outputs.at(0)->type;
  Node *k = g.addNode("kernel", std::move(operands), {}, t);
  k->callee = region->name;
  k->region = std::move(region);
  return k;
}

std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const std::exception &e) {
    return e.what();
  }
  return "<no exception>";
}

// --- one literal case per op of the registry ------------------------------------------------

struct OpCase {
  std::string op;
  std::vector<HostArray> ins;
  AttrMap attrs;
  HostArray want;
};

std::vector<OpCase> everyOpCases() {
  std::vector<OpCase> c;
  HostArray x = F32({2, 2}, {-1.5f, 0.0f, 2.0f, 4.0f});
  HostArray y = F32({2}, {2.0f, -4.0f});
  c.push_back({"neg", {x}, {}, F32({2, 2}, {1.5f, -0.0f, -2.0f, -4.0f})});
  c.push_back({"exp", {F32({2}, {0.0f, -kInfF})}, {}, F32({2}, {1.0f, 0.0f})});
  c.push_back({"log", {F64({3}, {1.0, 0.0, -1.0})}, {}, F64({3}, {0.0, -kInf, kNaN})});
  c.push_back({"abs", {x}, {}, F32({2, 2}, {1.5f, 0.0f, 2.0f, 4.0f})});
  c.push_back({"sqrt", {x}, {}, F32({2, 2}, {kNaNF, 0.0f, 1.41421356f, 2.0f})});
  c.push_back({"sigmoid", {F32({2}, {0.0f, kInfF})}, {}, F32({2}, {0.5f, 1.0f})});
  c.push_back({"tanh", {F64({3}, {0.0, kInf, -kInf})}, {}, F64({3}, {0.0, 1.0, -1.0})});
  c.push_back({"relu", {x}, {}, F32({2, 2}, {0.0f, 0.0f, 2.0f, 4.0f})});
  c.push_back({"add", {x, y}, {}, F32({2, 2}, {0.5f, -4.0f, 4.0f, 0.0f})});
  c.push_back({"sub", {x, y}, {}, F32({2, 2}, {-3.5f, 4.0f, 0.0f, 8.0f})});
  c.push_back({"mul", {x, y}, {}, F32({2, 2}, {-3.0f, -0.0f, 4.0f, -16.0f})});
  c.push_back({"div", {x, y}, {}, F32({2, 2}, {-0.75f, -0.0f, 1.0f, -1.0f})});
  c.push_back({"pow", {x, y}, {}, F32({2, 2}, {2.25f, kInfF, 4.0f, 0.00390625f})});
  c.push_back({"maximum", {x, y}, {}, F32({2, 2}, {2.0f, 0.0f, 2.0f, 4.0f})});
  c.push_back({"minimum", {x, y}, {}, F32({2, 2}, {-1.5f, -4.0f, 2.0f, -4.0f})});
  c.push_back({"eq", {x, y}, {}, B({2, 2}, {0, 0, 1, 0})});
  c.push_back({"ne", {x, y}, {}, B({2, 2}, {1, 1, 0, 1})});
  c.push_back({"lt", {x, y}, {}, B({2, 2}, {1, 0, 0, 0})});
  c.push_back({"le", {x, y}, {}, B({2, 2}, {1, 0, 1, 0})});
  c.push_back({"gt", {x, y}, {}, B({2, 2}, {0, 1, 0, 1})});
  c.push_back({"ge", {x, y}, {}, B({2, 2}, {0, 1, 1, 1})});
  c.push_back({"where", {B({2}, {1, 0}), x, y}, {}, F32({2, 2}, {-1.5f, -4.0f, 2.0f, -4.0f})});
  c.push_back({"cast", {x}, {{"dtype", "i64"}}, I64({2, 2}, {-1, 0, 2, 4})});
  c.push_back({"const", {}, {{"dtype", "i64"}, {"shape", Attr::ints({3})}, {"value", Attr::ints({7, -8, 9})}},
               I64({3}, {7, -8, 9})});
  c.push_back({"matmul", {x, F32({2, 1}, {2.0f, 1.0f})}, {}, F32({2, 1}, {-3.0f, 8.0f})});
  c.push_back({"sum", {x}, {{"axes", Attr::ints({1})}}, F32({2}, {-1.5f, 6.0f})});
  c.push_back({"mean", {x}, {{"axes", Attr::ints({0})}}, F32({2}, {0.25f, 2.0f})});
  c.push_back({"max", {x}, {}, F32({}, {4.0f})});
  c.push_back({"reshape", {x}, {{"shape", Attr::ints({4})}}, F32({4}, {-1.5f, 0.0f, 2.0f, 4.0f})});
  c.push_back({"transpose", {x}, {}, F32({2, 2}, {-1.5f, 2.0f, 0.0f, 4.0f})});
  c.push_back({"permute", {x}, {{"dims", Attr::ints({1, 0})}}, F32({2, 2}, {-1.5f, 2.0f, 0.0f, 4.0f})});
  c.push_back({"broadcast_to", {y}, {{"shape", Attr::ints({3, 2})}},
               F32({3, 2}, {2.0f, -4.0f, 2.0f, -4.0f, 2.0f, -4.0f})});
  c.push_back({"floor", {F32({4}, {-1.5f, -0.0f, 2.0f, 0.5f})}, {}, F32({4}, {-2.0f, -0.0f, 2.0f, 0.0f})});
  c.push_back({"min", {x}, {}, F32({}, {-1.5f})});
  c.push_back({"argmax", {x}, {}, I64({}, {3})});
  c.push_back({"slice", {x}, {{"starts", Attr::ints({1, 0})}, {"ends", Attr::ints({2, 2})}, {"steps", Attr::ints({1, 2})}},
               F32({1, 1}, {2.0f})});
  c.push_back({"pad", {y}, {{"low", Attr::ints({1})}, {"high", Attr::ints({2})}, {"interior", Attr::ints({1})}},
               F32({6}, {0.0f, 2.0f, 0.0f, -4.0f, 0.0f, 0.0f})});
  c.push_back({"concat", {x, F32({1, 2}, {7.0f, 8.0f})}, {{"axis", int64_t(0)}},
               F32({3, 2}, {-1.5f, 0.0f, 2.0f, 4.0f, 7.0f, 8.0f})});
  c.push_back({"gather", {x, I64({2, 1}, {1, 0})}, {{"axis", int64_t(1)}}, F32({2, 1}, {0.0f, 2.0f})});
  c.push_back({"scatter_add", {F32({3}, {1, 1, 1}), I64({4}, {0, 2, 0, 2}), F32({4}, {1, 2, 3, 4})}, {{"axis", int64_t(0)}},
               F32({3}, {5.0f, 1.0f, 7.0f})});
  // kernel: the region relu(add(a, b)) (see runCase).
  c.push_back({"kernel", {x, y}, {}, F32({2, 2}, {0.5f, 0.0f, 4.0f, 0.0f})});
  return c;
}

HostArray runCase(const OpCase &c) {
  if (c.op != "kernel") return run(c.op, c.ins, c.attrs);
  Graph g;
  Value *a = g.addInput(c.ins[0].type), *b = g.addInput(c.ins[1].type);
  g.outputs.push_back(addKernel(g, {a, b}, addReluRegion(a->type, b->type))->result);
  std::vector<ArrayRef> refs{c.ins[0].ref(), c.ins[1].ref()};
  return interpret(g, refs).at(0);
}

} // namespace

// Walks the registry: every op has a literal case, and each case holds.
TEST(InterpRegistry, EveryOpHasACase) {
  std::vector<OpCase> cases = everyOpCases();
  std::set<std::string> covered;
  for (const OpCase &c : cases) {
    covered.insert(c.op);
    EXPECT_TRUE(same(runCase(c), c.want)) << "op " << c.op;
  }
  for (const OpDef &d : allOps())
    EXPECT_TRUE(covered.count(std::string(d.name))) << "op " << d.name << " has no interpreter case";
}

// --- unary ----------------------------------------------------------------------------------

TEST(InterpUnary, FloatNegAbsRelu) {
  HostArray x = F32({6}, {1.0f, -2.0f, 0.0f, -0.0f, kInfF, kNaNF});
  EXPECT_TRUE(same(run("neg", {x}), F32({6}, {-1.0f, 2.0f, -0.0f, 0.0f, -kInfF, kNaNF})));
  EXPECT_TRUE(same(run("abs", {x}), F32({6}, {1.0f, 2.0f, 0.0f, 0.0f, kInfF, kNaNF})));
  // relu(-0.0) is +0.0; relu(NaN) is NaN.
  EXPECT_TRUE(same(run("relu", {x}), F32({6}, {1.0f, 0.0f, 0.0f, 0.0f, kInfF, kNaNF})));
  HostArray d = F64({4}, {-3.25, 0.5, -kInf, kNaN});
  EXPECT_TRUE(same(run("relu", {d}), F64({4}, {0.0, 0.5, 0.0, kNaN})));
  EXPECT_TRUE(same(run("abs", {d}), F64({4}, {3.25, 0.5, kInf, kNaN})));
}

TEST(InterpUnary, IntegerNegAbsReluWrap) {
  HostArray x = I64({5}, {5, -7, 0, kI64Max, kI64Min});
  EXPECT_TRUE(same(run("neg", {x}), I64({5}, {-5, 7, 0, -kI64Max, kI64Min})));
  EXPECT_TRUE(same(run("abs", {x}), I64({5}, {5, 7, 0, kI64Max, kI64Min})));
  EXPECT_TRUE(same(run("relu", {x}), I64({5}, {5, 0, 0, kI64Max, 0})));
}

TEST(InterpUnary, TranscendentalsF64) {
  HostArray x = F64({4}, {0.0, 1.0, -1.0, 0.5});
  EXPECT_TRUE(near(run("exp", {x}), F64({4}, {1.0, 2.718281828459045, 0.36787944117144233, 1.6487212707001282}), 1e-15));
  EXPECT_TRUE(near(run("tanh", {x}), F64({4}, {0.0, 0.7615941559557649, -0.7615941559557649, 0.46211715726000974}), 1e-15));
  EXPECT_TRUE(near(run("sigmoid", {x}), F64({4}, {0.5, 0.7310585786300049, 0.2689414213699951, 0.6224593312018546}), 1e-15));
  HostArray p = F64({5}, {1.0, 2.718281828459045, 0.0, -1.0, 100.0});
  EXPECT_TRUE(near(run("log", {p}), F64({5}, {0.0, 1.0, -kInf, kNaN, 4.605170185988092}), 1e-15));
  EXPECT_TRUE(near(run("sqrt", {p}), F64({5}, {1.0, 1.6487212707001282, 0.0, kNaN, 10.0}), 1e-15));
  // Saturation of sigmoid far out: exp(800) overflows to inf, 1/(1+inf) = 0.
  EXPECT_TRUE(same(run("sigmoid", {F64({2}, {-800.0, 800.0})}), F64({2}, {0.0, 1.0})));
}

TEST(InterpUnary, TranscendentalsF32RoundFromDouble) {
  HostArray x = F32({4}, {0.0f, 1.0f, -2.0f, 89.0f});
  // exp(89) = 4.49e38 is finite in double and rounds to inf in f32.
  EXPECT_TRUE(near(run("exp", {x}), F32({4}, {1.0f, 2.7182817f, 0.13533528f, kInfF}), 2.5e-7));
  EXPECT_TRUE(near(run("tanh", {x}), F32({4}, {0.0f, 0.7615942f, -0.9640276f, 1.0f}), 2.5e-7));
  EXPECT_TRUE(near(run("sigmoid", {x}), F32({4}, {0.5f, 0.7310586f, 0.11920292f, 1.0f}), 2.5e-7));
  HostArray p = F32({4}, {4.0f, 2.0f, 0.0f, -0.5f});
  EXPECT_TRUE(near(run("sqrt", {p}), F32({4}, {2.0f, 1.4142135f, 0.0f, kNaNF}), 2.5e-7));
  EXPECT_TRUE(near(run("log", {p}), F32({4}, {1.3862944f, 0.6931472f, -kInfF, kNaNF}), 2.5e-7));
}

// --- binary ---------------------------------------------------------------------------------

TEST(InterpBinary, FloatArithmetic) {
  HostArray a = F32({5}, {1.0f, -2.5f, 0.0f, 1.0f, 0.1f});
  HostArray b = F32({5}, {2.0f, 0.5f, 0.0f, 0.0f, 0.2f});
  EXPECT_TRUE(same(run("add", {a, b}), F32({5}, {3.0f, -2.0f, 0.0f, 1.0f, 0.1f + 0.2f})));
  EXPECT_TRUE(same(run("sub", {a, b}), F32({5}, {-1.0f, -3.0f, 0.0f, 1.0f, 0.1f - 0.2f})));
  EXPECT_TRUE(same(run("mul", {a, b}), F32({5}, {2.0f, -1.25f, 0.0f, 0.0f, 0.1f * 0.2f})));
  EXPECT_TRUE(same(run("div", {a, b}), F32({5}, {0.5f, -5.0f, kNaNF, kInfF, 0.5f})));
  // f32 arithmetic is done in float: 16777216 + 1 rounds back to 16777216.
  EXPECT_TRUE(same(run("add", {F32({}, {16777216.0f}), F32({}, {1.0f})}), F32({}, {16777216.0f})));
}

TEST(InterpBinary, Pow) {
  HostArray a = F64({6}, {2.0, 3.0, -8.0, -2.0, 0.0, 4.0});
  HostArray b = F64({6}, {10.0, 0.5, 1.0 / 3.0, 3.0, 0.0, -0.5});
  EXPECT_TRUE(near(run("pow", {a, b}), F64({6}, {1024.0, 1.7320508075688772, kNaN, -8.0, 1.0, 0.5}), 1e-15));
  HostArray af = F32({3}, {2.0f, -1.5f, 9.0f});
  HostArray bf = F32({3}, {-2.0f, 2.0f, 0.5f});
  EXPECT_TRUE(same(run("pow", {af, bf}), F32({3}, {0.25f, 2.25f, 3.0f})));
}

TEST(InterpBinary, MaximumMinimumPropagateNaN) {
  HostArray a = F32({5}, {1.0f, kNaNF, 3.0f, -kInfF, kNaNF});
  HostArray b = F32({5}, {2.0f, 0.0f, kNaNF, -5.0f, kNaNF});
  EXPECT_TRUE(same(run("maximum", {a, b}), F32({5}, {2.0f, kNaNF, kNaNF, -5.0f, kNaNF})));
  EXPECT_TRUE(same(run("minimum", {a, b}), F32({5}, {1.0f, kNaNF, kNaNF, -kInfF, kNaNF})));
  HostArray ia = I64({3}, {kI64Min, 4, -3});
  HostArray ib = I64({3}, {kI64Max, 4, -9});
  EXPECT_TRUE(same(run("maximum", {ia, ib}), I64({3}, {kI64Max, 4, -3})));
  EXPECT_TRUE(same(run("minimum", {ia, ib}), I64({3}, {kI64Min, 4, -9})));
}

TEST(InterpBinary, IntegerWrapAround) {
  EXPECT_TRUE(same(run("add", {I64({2}, {kI64Max, -5}), I64({2}, {1, 3})}), I64({2}, {kI64Min, -2})));
  EXPECT_TRUE(same(run("sub", {I64({2}, {kI64Min, 10}), I64({2}, {1, 12})}), I64({2}, {kI64Max, -2})));
  // INT64_MAX * 2 = 2^64 - 2 -> -2; 2^62 * 4 = 2^64 -> 0; -2^63 * -1 -> -2^63.
  EXPECT_TRUE(same(run("mul", {I64({3}, {kI64Max, int64_t(1) << 62, kI64Min}), I64({3}, {2, 4, -1})}),
                   I64({3}, {-2, 0, kI64Min})));
}

TEST(InterpBinary, BroadcastColumnAgainstRow) {
  // [3,1] + [4] -> [3,4]
  HostArray col = F32({3, 1}, {0.0f, 10.0f, 20.0f});
  HostArray row = F32({4}, {1.0f, 2.0f, 3.0f, 4.0f});
  EXPECT_TRUE(same(run("add", {col, row}),
                   F32({3, 4}, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24})));
  // Operand order matters for sub: [4] - [3,1].
  EXPECT_TRUE(same(run("sub", {row, col}),
                   F32({3, 4}, {1, 2, 3, 4, -9, -8, -7, -6, -19, -18, -17, -16})));
}

TEST(InterpBinary, BroadcastScalarAndBothSides) {
  HostArray s = F32({}, {5.0f});
  HostArray t = F32({2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
  EXPECT_TRUE(same(run("add", {s, t}), F32({2, 2}, {6, 7, 8, 9})));
  EXPECT_TRUE(same(run("sub", {t, s}), F32({2, 2}, {-4, -3, -2, -1})));
  EXPECT_TRUE(same(run("mul", {s, s}), F32({}, {25.0f})));
  // [2,1,3] * [4,1] -> [2,4,3]: size-1 dims broadcast on both sides.
  HostArray a = I64({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  HostArray b = I64({4, 1}, {1, 10, 100, 1000});
  EXPECT_TRUE(same(run("mul", {a, b}),
                   I64({2, 4, 3}, {1,    2,    3,    10,   20,   30,   100,  200,  300,  1000, 2000, 3000,
                                   4,    5,    6,    40,   50,   60,   400,  500,  600,  4000, 5000, 6000})));
}

// --- comparisons and where ------------------------------------------------------------------

TEST(InterpCompare, NaNIsUnorderedAndNeIsTrue) {
  HostArray a = F32({4}, {1.0f, 2.0f, kNaNF, kNaNF});
  HostArray b = F32({4}, {1.0f, 3.0f, 1.0f, kNaNF});
  EXPECT_TRUE(same(run("eq", {a, b}), B({4}, {1, 0, 0, 0})));
  EXPECT_TRUE(same(run("ne", {a, b}), B({4}, {0, 1, 1, 1})));
  EXPECT_TRUE(same(run("lt", {a, b}), B({4}, {0, 1, 0, 0})));
  EXPECT_TRUE(same(run("le", {a, b}), B({4}, {1, 1, 0, 0})));
  EXPECT_TRUE(same(run("gt", {a, b}), B({4}, {0, 0, 0, 0})));
  EXPECT_TRUE(same(run("ge", {a, b}), B({4}, {1, 0, 0, 0})));
}

TEST(InterpCompare, IntegersBoolsAndBroadcast) {
  HostArray a = I64({2, 1}, {kI64Min, 3});
  HostArray b = I64({3}, {kI64Min, 3, kI64Max});
  EXPECT_TRUE(same(run("lt", {a, b}), B({2, 3}, {0, 1, 1, 0, 0, 1})));
  EXPECT_TRUE(same(run("eq", {a, b}), B({2, 3}, {1, 0, 0, 0, 1, 0})));
  HostArray p = B({3}, {0, 1, 1}), q = B({}, {1});
  EXPECT_TRUE(same(run("eq", {p, q}), B({3}, {0, 1, 1})));
  EXPECT_TRUE(same(run("lt", {p, q}), B({3}, {1, 0, 0})));
  EXPECT_TRUE(same(run("ge", {F64({}, {0.0}), F64({2}, {-0.0, 1e-300})}), B({2}, {1, 0})));
}

TEST(InterpWhere, BroadcastsAllThree) {
  HostArray cond = B({3, 1}, {1, 0, 1});
  HostArray a = F32({4}, {1.0f, 2.0f, 3.0f, 4.0f});
  HostArray b = F32({}, {-1.0f});
  EXPECT_TRUE(same(run("where", {cond, a, b}), F32({3, 4}, {1, 2, 3, 4, -1, -1, -1, -1, 1, 2, 3, 4})));
  HostArray ci = B({2}, {0, 1});
  EXPECT_TRUE(same(run("where", {ci, I64({2}, {7, 8}), I64({2}, {-7, -8})}), I64({2}, {-7, 8})));
  EXPECT_TRUE(same(run("where", {ci, B({}, {1}), B({}, {0})}), B({2}, {0, 1})));
}

// --- cast -----------------------------------------------------------------------------------

TEST(InterpCast, FloatToIntTruncatesAndSaturates) {
  HostArray f = F32({9}, {1.9f, -1.9f, -0.5f, kNaNF, 1e30f, -1e30f, kInfF, -kInfF, 9.223372e18f});
  EXPECT_TRUE(same(run("cast", {f}, {{"dtype", "i64"}}),
                   I64({9}, {1, -1, 0, 0, kI64Max, kI64Min, kI64Max, kI64Min, kI64Max})));
  // The largest double below 2^63 converts exactly; -2^63 is representable.
  HostArray d = F64({4}, {9223372036854774784.0, -9223372036854775808.0, -9223372036854777856.0, 123456789012.75});
  EXPECT_TRUE(same(run("cast", {d}, {{"dtype", "i64"}}),
                   I64({4}, {9223372036854774784, kI64Min, kI64Min, 123456789012})));
}

TEST(InterpCast, ToAndFromBool) {
  HostArray f = F32({5}, {0.0f, -0.0f, 0.5f, kNaNF, -kInfF});
  EXPECT_TRUE(same(run("cast", {f}, {{"dtype", "bool"}}), B({5}, {0, 0, 1, 1, 1})));
  EXPECT_TRUE(same(run("cast", {I64({3}, {0, -5, kI64Min})}, {{"dtype", "bool"}}), B({3}, {0, 1, 1})));
  HostArray b = B({2}, {1, 0});
  EXPECT_TRUE(same(run("cast", {b}, {{"dtype", "f32"}}), F32({2}, {1.0f, 0.0f})));
  EXPECT_TRUE(same(run("cast", {b}, {{"dtype", "f64"}}), F64({2}, {1.0, 0.0})));
  EXPECT_TRUE(same(run("cast", {b}, {{"dtype", "i64"}}), I64({2}, {1, 0})));
  EXPECT_TRUE(same(run("cast", {b}, {{"dtype", "bool"}}), B({2}, {1, 0})));
}

TEST(InterpCast, IntToFloatAndBetweenFloats) {
  // 2^24 + 1 rounds to 2^24 in f32 (ties to even); 2^53 + 1 to 2^53 in f64.
  HostArray i = I64({4}, {16777217, -3, kI64Max, 9007199254740993});
  EXPECT_TRUE(same(run("cast", {i}, {{"dtype", "f32"}}),
                   F32({4}, {16777216.0f, -3.0f, 9.223372036854775808e18f, 9.007199254740992e15f})));
  EXPECT_TRUE(same(run("cast", {i}, {{"dtype", "f64"}}),
                   F64({4}, {16777217.0, -3.0, 9.223372036854775808e18, 9007199254740992.0})));
  HostArray d = F64({4}, {1e300, 0.1, -1e-50, kNaN});
  EXPECT_TRUE(same(run("cast", {d}, {{"dtype", "f32"}}), F32({4}, {kInfF, 0.1f, -0.0f, kNaNF})));
  HostArray f = F32({2}, {0.1f, -kInfF});
  EXPECT_TRUE(same(run("cast", {f}, {{"dtype", "f64"}}), F64({2}, {0.100000001490116119384765625, -kInf})));
  EXPECT_TRUE(same(run("cast", {f}, {{"dtype", "f32"}}), f));
}

// --- const ----------------------------------------------------------------------------------

TEST(InterpConst, FillAndListsInEveryDType) {
  EXPECT_TRUE(same(run("const", {}, {{"value", 1.5}}), F32({}, {1.5f})));
  EXPECT_TRUE(same(run("const", {}, {{"value", 1.5}, {"shape", Attr::ints({2, 2})}}), F32({2, 2}, {1.5f, 1.5f, 1.5f, 1.5f})));
  EXPECT_TRUE(same(run("const", {}, {{"value", Attr::floats({0.1, -2.0})}, {"shape", Attr::ints({2})}, {"dtype", "f64"}}),
                   F64({2}, {0.1, -2.0})));
  // Ints keep all 64 bits (2^53 + 1 is not a double).
  EXPECT_TRUE(same(run("const", {},
                       {{"value", Attr::ints({kI64Max, -1, 9007199254740993, kI64Min})},
                        {"shape", Attr::ints({2, 2})},
                        {"dtype", "i64"}}),
                   I64({2, 2}, {kI64Max, -1, 9007199254740993, kI64Min})));
  // Floats into i64 convert like cast; mixed lists are fine; bools are 0/1.
  EXPECT_TRUE(same(run("const", {},
                       {{"value", Attr(Attr::List{Attr(2.7), Attr(int64_t(-3)), Attr(true), Attr(-1e30)})},
                        {"shape", Attr::ints({4})},
                        {"dtype", "i64"}}),
                   I64({4}, {2, -3, 1, kI64Min})));
  EXPECT_TRUE(same(run("const", {},
                       {{"value", Attr(Attr::List{Attr(0.0), Attr(int64_t(2)), Attr(false)})},
                        {"shape", Attr::ints({3})},
                        {"dtype", "bool"}}),
                   B({3}, {0, 1, 0})));
  EXPECT_TRUE(same(run("const", {}, {{"value", int64_t(7)}, {"dtype", "f32"}, {"shape", Attr::ints({0, 3})}}),
                   F32({0, 3}, {})));
}

// --- reductions -----------------------------------------------------------------------------

TEST(InterpReduce, SumAxesKeepdimNegative) {
  HostArray x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(same(run("sum", {x}), F32({}, {21.0f})));
  EXPECT_TRUE(same(run("sum", {x}, {{"keepdim", true}}), F32({1, 1}, {21.0f})));
  EXPECT_TRUE(same(run("sum", {x}, {{"axes", Attr::ints({0})}}), F32({3}, {5, 7, 9})));
  EXPECT_TRUE(same(run("sum", {x}, {{"axes", Attr::ints({-1})}, {"keepdim", true}}), F32({2, 1}, {6, 15})));
  EXPECT_TRUE(same(run("sum", {x}, {{"axes", Attr::ints({})}}), x));
  // x[i,j,k] = 12i + 4j + k; summing i and k gives 32j + 60.
  std::vector<int64_t> v(24);
  for (int64_t i = 0; i < 24; ++i) v[size_t(i)] = i;
  HostArray y = I64({2, 3, 4}, v);
  EXPECT_TRUE(same(run("sum", {y}, {{"axes", Attr::ints({0, -1})}}), I64({3}, {60, 92, 124})));
  EXPECT_TRUE(same(run("sum", {y}, {{"axes", Attr::ints({2, 0})}, {"keepdim", true}}), I64({1, 3, 1}, {60, 92, 124})));
  EXPECT_TRUE(same(run("sum", {y}, {{"axes", Attr::ints({1})}}), I64({2, 4}, {12, 15, 18, 21, 48, 51, 54, 57})));
}

TEST(InterpReduce, SumAccumulatesInDoubleAndI64Wraps) {
  // In f32, 1e8 + 1 == 1e8; the interpreter's double accumulator keeps the 1.
  EXPECT_TRUE(same(run("sum", {F32({3}, {1e8f, 1.0f, -1e8f})}), F32({}, {1.0f})));
  EXPECT_TRUE(same(run("sum", {I64({3}, {kI64Max, 1, 1})}), I64({}, {kI64Min + 1})));
}

TEST(InterpReduce, Mean) {
  HostArray x = F64({2, 3}, {1, 2, 3, 4, 5, 9});
  EXPECT_TRUE(same(run("mean", {x}, {{"axes", Attr::ints({1})}}), F64({2}, {2.0, 6.0})));
  EXPECT_TRUE(same(run("mean", {x}, {{"axes", Attr::ints({-2})}, {"keepdim", true}}), F64({1, 3}, {2.5, 3.5, 6.0})));
  EXPECT_TRUE(same(run("mean", {x}), F64({}, {4.0})));
  EXPECT_TRUE(same(run("mean", {F32({3}, {1.0f, 2.0f, kNaNF})}), F32({}, {kNaNF})));
}

TEST(InterpReduce, MaxPropagatesNaN) {
  HostArray x = F32({2, 3}, {1.0f, kNaNF, 3.0f, -kInfF, -7.0f, -2.0f});
  EXPECT_TRUE(same(run("max", {x}, {{"axes", Attr::ints({1})}}), F32({2}, {kNaNF, -2.0f})));
  EXPECT_TRUE(same(run("max", {x}, {{"axes", Attr::ints({0})}, {"keepdim", true}}), F32({1, 3}, {1.0f, kNaNF, 3.0f})));
  EXPECT_TRUE(same(run("max", {x}), F32({}, {kNaNF})));
  // NaN first, then larger numbers: it still sticks.
  EXPECT_TRUE(same(run("max", {F64({3}, {kNaN, 5.0, kInf})}), F64({}, {kNaN})));
  EXPECT_TRUE(same(run("max", {F64({2}, {-kInf, -kInf})}), F64({}, {-kInf})));
  HostArray i = I64({2, 2}, {kI64Min, kI64Min, -1, kI64Max});
  EXPECT_TRUE(same(run("max", {i}, {{"axes", Attr::ints({-1})}}), I64({2}, {kI64Min, kI64Max})));
}

// --- matmul ---------------------------------------------------------------------------------

TEST(InterpMatMul, Small) {
  HostArray a = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  HostArray b = F32({3, 2}, {7, 8, 9, 10, 11, 12});
  EXPECT_TRUE(same(run("matmul", {a, b}), F32({2, 2}, {58, 64, 139, 154})));
  HostArray ai = I64({1, 2}, {kI64Max, 1});
  HostArray bi = I64({2, 1}, {1, 1});
  EXPECT_TRUE(same(run("matmul", {ai, bi}), I64({1, 1}, {kI64Min})));
  // Accumulation in double: 1e8 + 1 - 1e8 = 1.
  EXPECT_TRUE(same(run("matmul", {F32({1, 3}, {1e8f, 1.0f, -1e8f}), F32({3, 1}, {1, 1, 1})}), F32({1, 1}, {1.0f})));
  // inf * 0 is NaN.
  EXPECT_TRUE(same(run("matmul", {F64({1, 2}, {kInf, 1.0}), F64({2, 1}, {0.0, 1.0})}), F64({1, 1}, {kNaN})));
}

TEST(InterpMatMul, BatchedWithBroadcastBatchDims) {
  // [2,1,3,4] @ [5,4,2] -> [2,5,3,2], checked against a naive loop.
  std::vector<float> av(2 * 3 * 4), bv(5 * 4 * 2);
  for (size_t i = 0; i < av.size(); ++i) av[i] = float(int(i * 7 % 11) - 5);
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = float(int(i * 5 % 13) - 6);
  std::vector<float> want(2 * 5 * 3 * 2);
  for (int p = 0; p < 2; ++p)
    for (int q = 0; q < 5; ++q)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) {
          float s = 0;
          for (int k = 0; k < 4; ++k) s += av[size_t(p * 12 + i * 4 + k)] * bv[size_t(q * 8 + k * 2 + j)];
          want[size_t(((p * 5 + q) * 3 + i) * 2 + j)] = s;
        }
  EXPECT_TRUE(same(run("matmul", {F32({2, 1, 3, 4}, av), F32({5, 4, 2}, bv)}), F32({2, 5, 3, 2}, want)));
  // The rhs batched, the lhs not: [2,3] @ [2,3,1] (column [1,0,0] picks column 0, [1,1,1] sums rows).
  HostArray a = I64({2, 3}, {1, 2, 3, 4, 5, 6});
  HostArray b = I64({2, 3, 1}, {1, 0, 0, 1, 1, 1});
  EXPECT_TRUE(same(run("matmul", {a, b}), I64({2, 2, 1}, {1, 4, 6, 15})));
}

TEST(InterpMatMul, ZeroSizes) {
  // K = 0: every output is an empty sum.
  EXPECT_TRUE(same(run("matmul", {F32({2, 0}, {}), F32({0, 3}, {})}), F32({2, 3}, {0, 0, 0, 0, 0, 0})));
  EXPECT_TRUE(same(run("matmul", {F32({0, 4}, {}), F32({4, 2}, {0, 0, 0, 0, 0, 0, 0, 0})}), F32({0, 2}, {})));
  EXPECT_TRUE(same(run("matmul", {I64({0, 2, 2}, {}), I64({2, 2}, {1, 2, 3, 4})}), I64({0, 2, 2}, {})));
}

TEST(InterpMatMul, LargeAgainstNaiveLoop) {
  const int n = 256;
  std::vector<double> a(static_cast<size_t>(n * n)), b(static_cast<size_t>(n * n)), want(static_cast<size_t>(n * n), 0.0);
  for (int i = 0; i < n * n; ++i) {
    a[size_t(i)] = double((i * 31) % 17 - 8);
    b[size_t(i)] = double((i * 13) % 19 - 9);
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int k = 0; k < n; ++k) s += a[size_t(i * n + k)] * b[size_t(k * n + j)];
      want[size_t(i * n + j)] = s;
    }
  EXPECT_TRUE(same(run("matmul", {F64({n, n}, a), F64({n, n}, b)}), F64({n, n}, want)));
}

// --- layout ---------------------------------------------------------------------------------

TEST(InterpLayout, ReshapeTransposePermuteBroadcastTo) {
  HostArray x = I64({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(same(run("reshape", {x}, {{"shape", Attr::ints({3, -1})}}), I64({3, 2}, {1, 2, 3, 4, 5, 6})));
  EXPECT_TRUE(same(run("transpose", {x}), I64({3, 2}, {1, 4, 2, 5, 3, 6})));
  EXPECT_TRUE(same(run("transpose", {x}, {{"dim0", int64_t(1)}, {"dim1", int64_t(0)}}), I64({3, 2}, {1, 4, 2, 5, 3, 6})));
  EXPECT_TRUE(same(run("transpose", {I64({3}, {1, 2, 3})}), I64({3}, {1, 2, 3})));
  EXPECT_TRUE(same(run("broadcast_to", {I64({3}, {7, 8, 9})}, {{"shape", Attr::ints({2, 3})}}),
                   I64({2, 3}, {7, 8, 9, 7, 8, 9})));
  EXPECT_TRUE(same(run("broadcast_to", {B({2, 1}, {1, 0})}, {{"shape", Attr::ints({2, 3})}}), B({2, 3}, {1, 1, 1, 0, 0, 0})));
  EXPECT_TRUE(same(run("transpose", {B({2, 2}, {1, 1, 0, 0})}), B({2, 2}, {1, 0, 1, 0})));

  // permute [2,3,4] by dims [2,0,1] -> [4,2,3]: out[k,i,j] = x[i,j,k]; transpose(0,2) -> [4,3,2].
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[size_t(i)] = float(i);
  std::vector<float> perm(24), tr(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) {
        perm[size_t(k * 6 + i * 3 + j)] = v[size_t(i * 12 + j * 4 + k)];
        tr[size_t(k * 6 + j * 2 + i)] = v[size_t(i * 12 + j * 4 + k)];
      }
  HostArray y = F32({2, 3, 4}, v);
  EXPECT_TRUE(same(run("permute", {y}, {{"dims", Attr::ints({2, 0, 1})}}), F32({4, 2, 3}, perm)));
  EXPECT_TRUE(same(run("permute", {y}, {{"dims", Attr::ints({-1, 0, -2})}}), F32({4, 2, 3}, perm)));
  EXPECT_TRUE(same(run("transpose", {y}, {{"dim0", int64_t(0)}, {"dim1", int64_t(-1)}}), F32({4, 3, 2}, tr)));
}

// --- zero-size and scalars ------------------------------------------------------------------

TEST(InterpZeroSize, EveryKindHandlesEmpty) {
  HostArray e = F32({0, 3}, {});
  EXPECT_TRUE(same(run("add", {e, F32({3}, {1, 2, 3})}), F32({0, 3}, {})));
  EXPECT_TRUE(same(run("exp", {e}), F32({0, 3}, {})));
  EXPECT_TRUE(same(run("lt", {e, F32({}, {0})}), B({0, 3}, {})));
  EXPECT_TRUE(same(run("cast", {e}, {{"dtype", "i64"}}), I64({0, 3}, {})));
  EXPECT_TRUE(same(run("transpose", {e}), F32({3, 0}, {})));
  EXPECT_TRUE(same(run("reshape", {e}, {{"shape", Attr::ints({3, 0, 5})}}), F32({3, 0, 5}, {})));
  EXPECT_TRUE(same(run("broadcast_to", {F32({1}, {4})}, {{"shape", Attr::ints({0})}}), F32({0}, {})));
  EXPECT_TRUE(same(run("where", {B({0}, {}), F32({}, {1}), F32({}, {2})}), F32({0}, {})));
  // Reductions: the empty sum is 0, the empty mean NaN; max over the non-empty axis is empty.
  EXPECT_TRUE(same(run("sum", {e}, {{"axes", Attr::ints({0})}}), F32({3}, {0, 0, 0})));
  EXPECT_TRUE(same(run("sum", {I64({0}, {})}), I64({}, {0})));
  EXPECT_TRUE(same(run("mean", {e}, {{"axes", Attr::ints({0})}}), F32({3}, {kNaNF, kNaNF, kNaNF})));
  EXPECT_TRUE(same(run("mean", {F64({0}, {})}), F64({}, {kNaN})));
  EXPECT_TRUE(same(run("max", {e}, {{"axes", Attr::ints({1})}}), F32({0}, {})));
  EXPECT_TRUE(same(run("sum", {e}, {{"axes", Attr::ints({1})}, {"keepdim", true}}), F32({0, 1}, {})));
}

TEST(InterpZeroSize, NullDataIsFineForEmptyInputs) {
  Graph g;
  Value *x = g.addInput(Type{DType::F32, {0, 4}}, "x");
  Node *n = g.addNode("neg", {x}, {}, x->type);
  g.outputs.push_back(n->result);
  std::vector<ArrayRef> in{ArrayRef{x->type, nullptr}};
  std::vector<HostArray> out = interpret(g, in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, (Type{DType::F32, {0, 4}}));
  EXPECT_TRUE(out[0].bytes.empty());
}

TEST(InterpScalar, EveryKindHandlesRankZero) {
  HostArray s = F32({}, {-2.5f});
  EXPECT_TRUE(same(run("neg", {s}), F32({}, {2.5f})));
  EXPECT_TRUE(same(run("relu", {s}), F32({}, {0.0f})));
  EXPECT_TRUE(same(run("sum", {s}), F32({}, {-2.5f})));
  EXPECT_TRUE(same(run("max", {s}, {{"axes", Attr::ints({0})}}), F32({}, {-2.5f})));
  EXPECT_TRUE(same(run("mean", {s}, {{"keepdim", true}}), F32({}, {-2.5f})));
  EXPECT_TRUE(same(run("cast", {s}, {{"dtype", "i64"}}), I64({}, {-2})));
  EXPECT_TRUE(same(run("reshape", {s}, {{"shape", Attr::ints({1, 1})}}), F32({1, 1}, {-2.5f})));
  EXPECT_TRUE(same(run("reshape", {F32({1, 1}, {3.0f})}, {{"shape", Attr::ints({})}}), F32({}, {3.0f})));
  EXPECT_TRUE(same(run("transpose", {s}), s));
  EXPECT_TRUE(same(run("permute", {s}, {{"dims", Attr::ints({})}}), s));
  EXPECT_TRUE(same(run("broadcast_to", {s}, {{"shape", Attr::ints({2, 1})}}), F32({2, 1}, {-2.5f, -2.5f})));
  EXPECT_TRUE(same(run("where", {B({}, {0}), s, F32({}, {1.0f})}), F32({}, {1.0f})));
  EXPECT_TRUE(same(run("gt", {s, F32({}, {-3.0f})}), B({}, {1})));
}

TEST(InterpLarge, MillionElementBroadcastAdd) {
  const int64_t n = 1000;
  std::vector<float> a(static_cast<size_t>(n * n)), b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n * n; ++i) a[size_t(i)] = float(i % 1000);
  for (int64_t j = 0; j < n; ++j) b[size_t(j)] = float(-j);
  HostArray r = run("add", {F32({n, n}, a), F32({n}, b)});
  ASSERT_EQ(r.type, (Type{DType::F32, {n, n}}));
  const float *p = r.data<float>();
  for (int64_t i = 0; i < n * n; ++i)
    ASSERT_EQ(p[i], 0.0f) << "element " << i;
}

// --- graphs and kernels ---------------------------------------------------------------------

TEST(InterpGraph, ChainsNodesAndOutputsThatAreInputs) {
  // y = sum(relu(x @ w + b), axes=[1]); outputs (y, x, y).
  Graph g;
  Value *x = g.addInput(Type{DType::F32, {2, 2}}, "x");
  Value *w = g.addInput(Type{DType::F32, {2, 3}}, "w");
  Value *b = g.addInput(Type{DType::F32, {3}}, "b");
  Node *mm = g.addNode("matmul", {x, w}, {}, Type{DType::F32, {2, 3}});
  Node *ad = g.addNode("add", {mm->result, b}, {}, Type{DType::F32, {2, 3}});
  Node *re = g.addNode("relu", {ad->result}, {}, Type{DType::F32, {2, 3}});
  Node *su = g.addNode("sum", {re->result}, {{"axes", Attr::ints({1})}}, Type{DType::F32, {2}});
  g.outputs = {su->result, x, su->result};
  HostArray xv = F32({2, 2}, {1, 2, 3, 4}), wv = F32({2, 3}, {1, 0, -1, 0, 1, -1}), bv = F32({3}, {0, -3, 1});
  std::vector<ArrayRef> in{xv.ref(), wv.ref(), bv.ref()};
  std::vector<HostArray> out = interpret(g, in);
  ASSERT_EQ(out.size(), 3u);
  // x @ w = [[1,2,-3],[3,4,-7]]; + b = [[1,-1,-2],[3,1,-6]]; relu; sum -> [1, 4].
  EXPECT_TRUE(same(out[0], F32({2}, {1, 4})));
  EXPECT_TRUE(same(out[1], xv));
  EXPECT_TRUE(same(out[2], F32({2}, {1, 4})));
  EXPECT_NE(out[1].bytes.data(), xv.bytes.data()) << "outputs are copies";
}

TEST(InterpKernel, RegionIsEvaluatedOnTheOperands) {
  Graph g;
  Value *x = g.addInput(Type{DType::F32, {2, 3}}, "x");
  Value *b = g.addInput(Type{DType::F32, {3}}, "b");
  Node *k = addKernel(g, {x, b}, addReluRegion(x->type, b->type));
  Node *s = g.addNode("sum", {k->result}, {}, Type{DType::F32, {}});
  g.outputs = {k->result, s->result};
  HostArray xv = F32({2, 3}, {1, -2, 3, -4, 5, -6}), bv = F32({3}, {0.5f, 1, -4});
  std::vector<ArrayRef> in{xv.ref(), bv.ref()};
  std::vector<HostArray> out = interpret(g, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(same(out[0], F32({2, 3}, {1.5f, 0, 0, 0, 6, 0})));
  EXPECT_TRUE(same(out[1], F32({}, {7.5f})));
  // evalNode runs the region too.
  std::vector<ArrayRef> ops{xv.ref(), bv.ref()};
  EXPECT_TRUE(same(evalNode(*k, ops), out[0]));
}

TEST(InterpKernel, RegionWithConstAndNestedKernel) {
  // inner: relu(add(a, b)); outer region: mul(inner(a, b), const 2).
  auto region = std::make_unique<Graph>();
  region->name = "fused_outer";
  Type t{DType::F64, {2}};
  Value *a = region->addInput(t, "a"), *c = region->addInput(t, "c");
  Node *inner = addKernel(*region, {a, c}, addReluRegion(t, t));
  Node *two = region->addNode("const", {}, {{"value", 2.0}, {"dtype", "f64"}}, Type{DType::F64, {}});
  Node *m = region->addNode("mul", {inner->result, two->result}, {}, t);
  region->outputs.push_back(m->result);
  Graph g;
  Value *x = g.addInput(t, "x"), *y = g.addInput(t, "y");
  g.outputs.push_back(addKernel(g, {x, y}, std::move(region))->result);
  HostArray xv = F64({2}, {1.25, -3}), yv = F64({2}, {1, 1});
  std::vector<ArrayRef> in{xv.ref(), yv.ref()};
  EXPECT_TRUE(same(interpret(g, in).at(0), F64({2}, {4.5, 0.0})));
}

TEST(InterpKernel, MistypedRegionIsAnError) {
  Graph g;
  Value *x = g.addInput(Type{DType::F32, {2}}, "x");
  auto region = addReluRegion(x->type, x->type);
  Node *k = g.addNode("kernel", {x, x}, {}, Type{DType::F32, {3}}); // region yields f32[2]
  k->region = std::move(region);
  g.outputs.push_back(k->result);
  HostArray xv = F32({2}, {1, 2});
  std::vector<ArrayRef> in{xv.ref()};
  EXPECT_THROW(interpret(g, in), dt::ValueError);
  Node *bare = g.addNode("kernel", {x}, {}, Type{DType::F32, {2}});
  std::vector<ArrayRef> ops{xv.ref()};
  EXPECT_THROW(evalNode(*bare, ops), dt::ValueError);
}

// --- errors ---------------------------------------------------------------------------------

TEST(InterpErrors, InputCountDTypeAndShapeAreChecked) {
  Graph g;
  Value *x = g.addInput(Type{DType::F32, {1, 784}}, "x");
  Value *w = g.addInput(Type{DType::F32, {784, 128}}, "w");
  Node *mm = g.addNode("matmul", {x, w}, {}, Type{DType::F32, {1, 128}});
  g.outputs.push_back(mm->result);
  HostArray xv(Type{DType::F32, {1, 784}}), wBad(Type{DType::F32, {784, 10}}), wI(Type{DType::I64, {784, 128}});

  std::vector<ArrayRef> one{xv.ref()};
  EXPECT_THROW(interpret(g, one), dt::ValueError);
  EXPECT_EQ(errorOf([&] { interpret(g, one); }), "interpret: @main takes 2 inputs, got 1");

  std::vector<ArrayRef> badShape{xv.ref(), wBad.ref()};
  EXPECT_THROW(interpret(g, badShape), dt::ValueError);
  EXPECT_EQ(errorOf([&] { interpret(g, badShape); }), "interpret: input 1 (%w) expects f32[784,128], got f32[784,10]");

  std::vector<ArrayRef> badDType{xv.ref(), wI.ref()};
  EXPECT_THROW(interpret(g, badDType), dt::TypeError);
  EXPECT_EQ(errorOf([&] { interpret(g, badDType); }), "interpret: input 1 (%w) expects f32[784,128], got i64[784,128]");

  std::vector<ArrayRef> noData{xv.ref(), ArrayRef{w->type, nullptr}};
  EXPECT_THROW(interpret(g, noData), dt::ValueError);
}

TEST(InterpErrors, EvalNodeChecksOperandsAndResultType) {
  Graph g;
  Value *a = g.addInput(Type{DType::F32, {3}}, "a");
  Node *wrong = g.addNode("add", {a, a}, {}, Type{DType::F32, {4}}, "r"); // the rule gives f32[3]
  HostArray av = F32({3}, {1, 2, 3});
  std::vector<ArrayRef> ops{av.ref(), av.ref()};
  EXPECT_THROW(evalNode(*wrong, ops), dt::ValueError);
  EXPECT_EQ(errorOf([&] { evalNode(*wrong, ops); }),
            "interpret: %r = add is typed f32[4] but its type rule gives f32[3]");

  Node *ok = g.addNode("add", {a, a}, {}, Type{DType::F32, {3}});
  std::vector<ArrayRef> oneOp{av.ref()};
  EXPECT_THROW(evalNode(*ok, oneOp), dt::ValueError);
  HostArray iv = I64({3}, {1, 2, 3});
  std::vector<ArrayRef> badType{av.ref(), iv.ref()};
  EXPECT_THROW(evalNode(*ok, badType), dt::TypeError);
  EXPECT_TRUE(same(evalNode(*ok, ops), F32({3}, {2, 4, 6})));

  Node *unknown = g.addNode("frobnicate", {a}, {}, a->type);
  std::vector<ArrayRef> single{av.ref()};
  EXPECT_THROW(evalNode(*unknown, single), dt::ValueError);
}

// --- floor, min, argmax ---------------------------------------------------------------------

TEST(InterpFloor, ExactOnHalvesZerosInfinitiesAndNaN) {
  EXPECT_TRUE(same(run("floor", {F32({8}, {-0.5f, 0.5f, -0.0f, 0.0f, -2.0f, 2.999f, kInfF, -kInfF})}),
                   F32({8}, {-1.0f, 0.0f, -0.0f, 0.0f, -2.0f, 2.0f, kInfF, -kInfF})));
  EXPECT_TRUE(same(run("floor", {F64({4}, {kNaN, -1e-300, 4503599627370495.5, -7.25})}),
                   F64({4}, {kNaN, -1.0, 4503599627370495.0, -8.0})));
  EXPECT_TRUE(same(run("floor", {F32({0, 2}, {})}), F32({0, 2}, {})));
  EXPECT_THROW(run("floor", {I64({1}, {3})}), dt::TypeError); // Float only: floor of an integer is itself
}

TEST(InterpReduce, MinPropagatesNaNAndKeepdim) {
  HostArray x = F32({2, 3}, {1.0f, kNaNF, 3.0f, kInfF, -7.0f, -2.0f});
  EXPECT_TRUE(same(run("min", {x}, {{"axes", Attr::ints({1})}}), F32({2}, {kNaNF, -7.0f})));
  EXPECT_TRUE(same(run("min", {x}, {{"axes", Attr::ints({0})}, {"keepdim", true}}), F32({1, 3}, {1.0f, kNaNF, -2.0f})));
  EXPECT_TRUE(same(run("min", {F64({3}, {kNaN, -5.0, -kInf})}), F64({}, {kNaN})));
  EXPECT_TRUE(same(run("min", {F64({2}, {kInf, kInf})}), F64({}, {kInf})));
  HostArray i = I64({2, 2}, {kI64Max, kI64Max, 1, kI64Min});
  EXPECT_TRUE(same(run("min", {i}, {{"axes", Attr::ints({-1})}}), I64({2}, {kI64Max, kI64Min})));
  EXPECT_TRUE(same(run("min", {F32({0, 3}, {})}, {{"axes", Attr::ints({1})}}), F32({0}, {})));
  EXPECT_EQ(errorOf([&] { run("min", {F32({0, 3}, {})}, {{"axes", Attr::ints({0})}}); }),
            "min: cannot reduce axis 0 of size 0 in f32[0,3] (no identity)");
}

TEST(InterpArgMax, FirstOccurrenceAndNaNIsTheMaximum) {
  HostArray x = F32({2, 3}, {1.0f, 3.0f, 3.0f, kNaNF, 5.0f, kNaNF});
  EXPECT_TRUE(same(run("argmax", {x}, {{"axis", int64_t(1)}}), I64({2}, {1, 0})));
  EXPECT_TRUE(same(run("argmax", {x}, {{"axis", int64_t(-2)}}), I64({3}, {1, 1, 1})));
  EXPECT_TRUE(same(run("argmax", {x}), I64({}, {3}))); // the first NaN of the flattened tensor
  EXPECT_TRUE(same(run("argmax", {x}, {{"axis", int64_t(1)}, {"keepdim", true}}), I64({2, 1}, {1, 0})));
  EXPECT_TRUE(same(run("argmax", {x}, {{"keepdim", true}}), I64({1, 1}, {3})));
  // Ties: the first wins, in every dtype; -0 and +0 tie.
  EXPECT_TRUE(same(run("argmax", {I64({5}, {-5, 7, 7, kI64Min, 7})}), I64({}, {1})));
  EXPECT_TRUE(same(run("argmax", {F64({3}, {-0.0, 0.0, -1.0})}), I64({}, {0})));
  EXPECT_TRUE(same(run("argmax", {F64({3}, {-kInf, -kInf, -kInf})}), I64({}, {0})));
  EXPECT_TRUE(same(run("argmax", {F32({3}, {-kInfF, kInfF, kNaNF})}), I64({}, {2})));
  // x[i,j,k] with the max along j at j = (i + k) % 3.
  std::vector<double> v(24, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 4; ++k) v[size_t(i * 12 + ((i + k) % 3) * 4 + k)] = 1.0;
  EXPECT_TRUE(same(run("argmax", {F64({2, 3, 4}, v)}, {{"axis", int64_t(1)}}), I64({2, 4}, {0, 1, 2, 0, 1, 2, 0, 1})));
}

TEST(InterpArgMax, ScalarsEmptyAxesAndErrors) {
  EXPECT_TRUE(same(run("argmax", {F32({}, {2.0f})}), I64({}, {0})));
  EXPECT_TRUE(same(run("argmax", {F32({}, {2.0f})}, {{"axis", int64_t(-1)}, {"keepdim", true}}), I64({}, {0})));
  EXPECT_TRUE(same(run("argmax", {F32({0, 3}, {})}, {{"axis", int64_t(1)}}), I64({0}, {})));
  EXPECT_EQ(errorOf([&] { run("argmax", {F32({0, 3}, {})}); }),
            "argmax: cannot take the argmax of the empty tensor f32[0,3] (no maximum; give an axis)");
  EXPECT_EQ(errorOf([&] { run("argmax", {F32({0, 3}, {})}, {{"axis", int64_t(0)}}); }),
            "argmax: cannot reduce axis 0 of size 0 in f32[0,3] (no maximum)");
  EXPECT_THROW(run("argmax", {F32({2}, {1, 2})}, {{"axis", int64_t(1)}}), dt::IndexError);
  EXPECT_THROW(run("argmax", {B({2}, {0, 1})}), dt::TypeError);
}

// --- slice, pad, concat ---------------------------------------------------------------------

namespace {
HostArray iota64(Shape s) {
  std::vector<int64_t> v(size_t(numElements(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = int64_t(i);
  return I64(std::move(s), v);
}
AttrMap sliceAttrs(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> steps = {}) {
  AttrMap a{{"starts", Attr::ints(starts)}, {"ends", Attr::ints(ends)}};
  if (!steps.empty()) a["steps"] = Attr::ints(steps);
  return a;
}
AttrMap padAttrs(std::vector<int64_t> low, std::vector<int64_t> high, std::vector<int64_t> interior = {}) {
  AttrMap a{{"low", Attr::ints(low)}, {"high", Attr::ints(high)}};
  if (!interior.empty()) a["interior"] = Attr::ints(interior);
  return a;
}
} // namespace

TEST(InterpSlice, StepsEmptyRangesAndScalars) {
  HostArray x = iota64({3, 4});
  EXPECT_TRUE(same(run("slice", {x}, sliceAttrs({0, 1}, {3, 4}, {2, 2})), I64({2, 2}, {1, 3, 9, 11})));
  EXPECT_TRUE(same(run("slice", {x}, sliceAttrs({1, 0}, {3, 4})), I64({2, 4}, {4, 5, 6, 7, 8, 9, 10, 11})));
  EXPECT_TRUE(same(run("slice", {x}, sliceAttrs({1, 1}, {1, 4})), I64({0, 3}, {})));
  EXPECT_TRUE(same(run("slice", {x}, sliceAttrs({0, 3}, {3, 4}, {5, 7})), I64({1, 1}, {3})));
  // ceil((end - start) / step) elements: 0:5:3 takes 0 and 3.
  EXPECT_TRUE(same(run("slice", {F32({5}, {0, 1, 2, 3, 4})}, sliceAttrs({0}, {5}, {3})), F32({2}, {0, 3})));
  EXPECT_TRUE(same(run("slice", {B({3}, {1, 0, 1})}, sliceAttrs({2}, {3})), B({1}, {1})));
  EXPECT_TRUE(same(run("slice", {F32({}, {2.5f})}, sliceAttrs({}, {})), F32({}, {2.5f})));
  EXPECT_TRUE(same(run("slice", {F32({0, 2}, {})}, sliceAttrs({0, 1}, {0, 2})), F32({0, 1}, {})));
}

TEST(InterpSlice, BadAttributesNameTheAxis) {
  HostArray x = iota64({3, 4});
  EXPECT_EQ(errorOf([&] { run("slice", {x}, sliceAttrs({2, 0}, {1, 4})); }),
            "slice: start 2 and end 1 on axis 0 of i64[3,4] must satisfy 0 <= start <= end <= 3");
  EXPECT_EQ(errorOf([&] { run("slice", {x}, sliceAttrs({0, 0}, {3, 5})); }),
            "slice: start 0 and end 5 on axis 1 of i64[3,4] must satisfy 0 <= start <= end <= 4");
  EXPECT_EQ(errorOf([&] { run("slice", {x}, sliceAttrs({-1, 0}, {3, 4})); }),
            "slice: start -1 and end 3 on axis 0 of i64[3,4] must satisfy 0 <= start <= end <= 3");
  EXPECT_EQ(errorOf([&] { run("slice", {x}, sliceAttrs({0, 0}, {3, 4}, {1, 0})); }),
            "slice: step 0 on axis 1 of i64[3,4] must be >= 1");
  EXPECT_EQ(errorOf([&] { run("slice", {x}, sliceAttrs({0}, {3, 4})); }),
            "slice: starts [0] has 1 entry but the operand i64[3,4] has rank 2");
  EXPECT_EQ(errorOf([&] { run("slice", {x}, {{"starts", Attr::ints({0, 0})}}); }),
            "slice: missing attribute 'ends' (one past the last index on each axis, start <= end <= dim)");
}

TEST(InterpPad, LowHighInteriorZerosOfEveryDType) {
  HostArray x = iota64({2, 2});
  EXPECT_TRUE(same(run("pad", {x}, padAttrs({1, 0}, {0, 2}, {0, 1})),
                   I64({3, 5}, {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 3, 0, 0})));
  EXPECT_TRUE(same(run("pad", {B({2}, {1, 1})}, padAttrs({1}, {1}, {2})), B({6}, {0, 1, 0, 0, 1, 0})));
  EXPECT_TRUE(same(run("pad", {F64({1}, {-0.0})}, padAttrs({0}, {1}, {5})), F64({2}, {-0.0, 0.0})));
  // An empty axis has no gaps: 2 + 0 + 1 zeros.
  EXPECT_TRUE(same(run("pad", {F32({0}, {})}, padAttrs({2}, {1}, {3})), F32({3}, {0, 0, 0})));
  EXPECT_TRUE(same(run("pad", {F32({0, 2}, {})}, padAttrs({0, 1}, {0, 1})), F32({0, 4}, {})));
  EXPECT_TRUE(same(run("pad", {F32({}, {4.0f})}, padAttrs({}, {})), F32({}, {4.0f})));
  EXPECT_EQ(errorOf([&] { run("pad", {x}, padAttrs({0, -1}, {0, 0})); }), "pad: low [0,-1] has a negative entry");
  EXPECT_EQ(errorOf([&] { run("pad", {x}, padAttrs({0, 0}, {0, 0}, {1})); }),
            "pad: interior [1] has 1 entry but the operand i64[2,2] has rank 2");
  EXPECT_THROW(run("pad", {x}, padAttrs({0, 0}, {int64_t(1) << 40, int64_t(1) << 40})), dt::ValueError);
}

TEST(InterpPad, SliceUndoesPad) {
  HostArray x = iota64({3, 2, 4});
  HostArray p = run("pad", {x}, padAttrs({1, 0, 2}, {2, 3, 0}, {1, 2, 0}));
  ASSERT_EQ(p.type, (Type{DType::I64, {1 + 2 + 3 + 2, 0 + 3 + 2 + 2, 2 + 0 + 4}}));
  EXPECT_TRUE(same(run("slice", {p}, sliceAttrs({1, 0, 2}, {1 + 3 + 2, 2 + 2, 6}, {2, 3, 1})), x));
}

TEST(InterpConcat, AxesEmptyOperandsAndErrors) {
  HostArray a = iota64({2, 2}), b = I64({2, 1}, {-1, -2});
  EXPECT_TRUE(same(run("concat", {a, b}, {{"axis", int64_t(1)}}), I64({2, 3}, {0, 1, -1, 2, 3, -2})));
  EXPECT_TRUE(same(run("concat", {a, b, a}, {{"axis", int64_t(-1)}}), I64({2, 5}, {0, 1, -1, 0, 1, 2, 3, -2, 2, 3})));
  EXPECT_TRUE(same(run("concat", {a, I64({0, 2}, {}), a}), I64({4, 2}, {0, 1, 2, 3, 0, 1, 2, 3}))); // axis 0 by default
  EXPECT_TRUE(same(run("concat", {F32({2}, {1, 2})}), F32({2}, {1, 2})));
  EXPECT_TRUE(same(run("concat", {F32({0}, {}), F32({0}, {})}), F32({0}, {})));
  EXPECT_TRUE(same(run("concat", {B({1}, {1}), B({2}, {0, 1})}), B({3}, {1, 0, 1})));
  EXPECT_EQ(errorOf([&] { run("concat", {a, b}, {{"axis", int64_t(0)}}); }),
            "concat: operand 1 i64[2,1] and operand 0 i64[2,2] differ on axis 1 (only axis 0 may differ)");
  EXPECT_EQ(errorOf([&] { run("concat", {a, F32({2, 2}, {0, 0, 0, 0})}); }),
            "concat: operand 1 f32[2,2] and operand 0 i64[2,2] differ in dtype (insert a cast)");
  EXPECT_EQ(errorOf([&] { run("concat", {a, I64({4}, {0, 0, 0, 0})}); }),
            "concat: operand 1 i64[4] and operand 0 i64[2,2] differ in rank");
  EXPECT_EQ(errorOf([&] { run("concat", {F32({}, {1})}); }), "concat: operands must have rank >= 1, got f32[]");
  EXPECT_EQ(errorOf([&] { run("concat", {}); }), "concat takes at least 1 operand, got 0");
  EXPECT_THROW(run("concat", {a, a}, {{"axis", int64_t(2)}}), dt::IndexError);
}

// --- gather, scatter_add --------------------------------------------------------------------

TEST(InterpGather, TorchSemanticsOnEveryAxis) {
  // torch.gather(t, 1, [[0, 0], [1, 0]]) with t = [[1, 2], [3, 4]] is [[1, 1], [4, 3]].
  HostArray t = F32({2, 2}, {1, 2, 3, 4});
  EXPECT_TRUE(same(run("gather", {t, I64({2, 2}, {0, 0, 1, 0})}, {{"axis", int64_t(1)}}), F32({2, 2}, {1, 1, 4, 3})));
  EXPECT_TRUE(same(run("gather", {t, I64({2, 2}, {0, 0, 1, 0})}, {{"axis", int64_t(0)}}), F32({2, 2}, {1, 2, 3, 2})));
  // The index may be smaller than x on other axes and larger along the axis (repeats).
  HostArray x = iota64({3, 4});
  EXPECT_TRUE(same(run("gather", {x, I64({4, 2}, {2, 0, 2, 1, 0, 0, 1, 2})}, {{"axis", int64_t(0)}}),
                   I64({4, 2}, {8, 1, 8, 5, 0, 1, 4, 9})));
  EXPECT_TRUE(same(run("gather", {x, I64({1, 5}, {3, 3, 0, 1, 2})}, {{"axis", int64_t(-1)}}), I64({1, 5}, {3, 3, 0, 1, 2})));
  EXPECT_TRUE(same(run("gather", {B({3}, {0, 1, 0}), I64({2}, {1, 1})}, {{"axis", int64_t(0)}}), B({2}, {1, 1})));
  EXPECT_TRUE(same(run("gather", {x, I64({0, 4}, {})}, {{"axis", int64_t(0)}}), I64({0, 4}, {})));
  EXPECT_TRUE(same(run("gather", {F32({0, 2}, {}), I64({0, 2}, {})}, {{"axis", int64_t(0)}}), F32({0, 2}, {})));
  EXPECT_TRUE(same(run("gather", {F32({}, {7.0f}), I64({}, {0})}, {{"axis", int64_t(0)}}), F32({}, {7.0f})));
}

TEST(InterpGather, OutOfRangeIndexAndBadShapes) {
  HostArray x = F32({3}, {1, 2, 3});
  EXPECT_THROW(run("gather", {x, I64({2}, {0, 7})}, {{"axis", int64_t(0)}}), dt::IndexError);
  EXPECT_EQ(errorOf([&] { run("gather", {x, I64({2}, {0, 7})}, {{"axis", int64_t(0)}}); }),
            "gather: index 7 is out of bounds for dimension 0 with size 3");
  EXPECT_EQ(errorOf([&] { run("gather", {x, I64({1}, {-1})}, {{"axis", int64_t(0)}}); }),
            "gather: index -1 is out of bounds for dimension 0 with size 3");
  EXPECT_EQ(errorOf([&] { run("gather", {x, F32({1}, {0})}, {{"axis", int64_t(0)}}); }),
            "gather: index has dtype f32, expected i64");
  EXPECT_EQ(errorOf([&] { run("gather", {x, I64({1, 1}, {0})}, {{"axis", int64_t(0)}}); }),
            "gather: index i64[1,1] must have the rank of f32[3] (1)");
  EXPECT_EQ(errorOf([&] { run("gather", {F32({2, 2}, {0, 0, 0, 0}), I64({1, 3}, {0, 0, 0})}, {{"axis", int64_t(0)}}); }),
            "gather: index i64[1,3] is larger than f32[2,2] on axis 1 (only axis 0 may be larger)");
  EXPECT_EQ(errorOf([&] { run("gather", {x, I64({1}, {0})}); }),
            "gather: missing attribute 'axis' (axis that index selects along (negative counts from the end))");
  EXPECT_THROW(run("gather", {F32({0, 2}, {}), I64({1, 2}, {0, 0})}, {{"axis", int64_t(0)}}), dt::IndexError);
}

TEST(InterpScatterAdd, DuplicatesAddUpInRowMajorOrder) {
  // torch: zeros(2, 3).scatter_add(0, [[0, 1, 0], [0, 0, 1]], [[1, 2, 3], [4, 5, 6]]) = [[5, 5, 3], [0, 2, 6]].
  HostArray z = F64({2, 3}, {0, 0, 0, 0, 0, 0});
  HostArray src = F64({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(same(run("scatter_add", {z, I64({2, 3}, {0, 1, 0, 0, 0, 1}), src}, {{"axis", int64_t(0)}}),
                   F64({2, 3}, {5, 5, 3, 0, 2, 6})));
  EXPECT_TRUE(same(run("scatter_add", {z, I64({2, 2}, {2, 2, 0, 1}), src}, {{"axis", int64_t(-1)}}),
                   F64({2, 3}, {0, 0, 3, 4, 5, 0})));
  // src larger than index: only index's part of src is used.
  EXPECT_TRUE(same(run("scatter_add", {F32({3}, {1, 1, 1}), I64({1}, {2}), F32({2}, {5, 100})}, {{"axis", int64_t(0)}}),
                   F32({3}, {1, 1, 6})));
  // Added in the dtype, in order: in f32, (1e8 + 1) + 1 stays 1e8; i64 wraps.
  EXPECT_TRUE(same(run("scatter_add", {F32({1}, {1e8f}), I64({2}, {0, 0}), F32({2}, {1, 1})}, {{"axis", int64_t(0)}}),
                   F32({1}, {1e8f})));
  EXPECT_TRUE(same(run("scatter_add", {I64({1}, {kI64Max}), I64({1}, {0}), I64({1}, {1})}, {{"axis", int64_t(0)}}),
                   I64({1}, {kI64Min})));
  EXPECT_TRUE(same(run("scatter_add", {F32({2}, {1, 2}), I64({0}, {}), F32({0}, {})}, {{"axis", int64_t(0)}}),
                   F32({2}, {1, 2})));
}

TEST(InterpScatterAdd, OutOfRangeIndexAndBadOperands) {
  HostArray base = F32({3}, {0, 0, 0});
  EXPECT_EQ(errorOf([&] { run("scatter_add", {base, I64({1}, {3}), F32({1}, {1})}, {{"axis", int64_t(0)}}); }),
            "scatter_add: index 3 is out of bounds for dimension 0 with size 3");
  EXPECT_THROW(run("scatter_add", {base, I64({1}, {-2}), F32({1}, {1})}, {{"axis", int64_t(0)}}), dt::IndexError);
  EXPECT_EQ(errorOf([&] { run("scatter_add", {base, I64({2}, {0, 0}), F32({1}, {1})}, {{"axis", int64_t(0)}}); }),
            "scatter_add: index i64[2] is larger than src f32[1] on axis 0");
  EXPECT_EQ(errorOf([&] { run("scatter_add", {base, I64({1}, {0}), F64({1}, {1})}, {{"axis", int64_t(0)}}); }),
            "scatter_add: src f64[1] and base f32[3] differ in dtype (insert a cast)");
  EXPECT_EQ(errorOf([&] { run("scatter_add", {B({1}, {0}), I64({1}, {0}), B({1}, {1})}, {{"axis", int64_t(0)}}); }),
            "scatter_add: base has dtype bool, expected f32, f64 or i64");
}
