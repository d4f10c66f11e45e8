// The autodiff pass against finite differences in f64, walking the registry: every op with a
// float result gets its VJP checked on random inputs (by the reference interpreter), and a few
// ops get their second derivatives checked (autodiff applied to its own output).
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/Dce.h"
#include "passes/SplitForward.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

using namespace dt;
using namespace dt::ir;

namespace {

/// One differentiable use of an op: f64 operand types, attributes, and the interval its
/// operands are drawn from (away from kinks and poles).
struct GradCase {
  std::vector<Shape> shapes;
  AttrMap attrs = {};
  double lo = -2, hi = 2;
  std::vector<DType> dtypes = {}; ///< per operand; default f64 (where's condition is bool)
  int64_t indexHi = 0;            ///< > 0: i64 operands are indices drawn from [0, indexHi)
};

std::map<OpId, std::vector<GradCase>> gradCases() {
  Attr::List none;
  return {
      {OpId::Neg, {{{{3, 4}}}}},
      {OpId::Exp, {{{{5}}}}},
      {OpId::Log, {{{{2, 3}}, {}, 0.5, 3}}},
      {OpId::Abs, {{{{7}}}}},
      {OpId::Sqrt, {{{{4}}, {}, 0.5, 3}}},
      {OpId::Sigmoid, {{{{6}}}}},
      {OpId::Tanh, {{{{2, 2}}}}},
      {OpId::Relu, {{{{9}}}}},
      {OpId::Add, {{{{3, 1}, {4}}}, {{{}, {2, 3}}}}},
      {OpId::Sub, {{{{2, 3}, {3}}}}},
      {OpId::Mul, {{{{4, 1}, {1, 3}}}}},
      {OpId::Div, {{{{3}, {2, 3}}, {}, 0.5, 2}}},
      {OpId::Pow, {{{{3}, {3}}, {}, 0.5, 2}, {{{2, 2}, {}}, {}, 0.5, 2}}},
      {OpId::Maximum, {{{{5}, {5}}}}},
      {OpId::Minimum, {{{{2, 3}, {3}}}}},
      {OpId::Where, {{{{2, 3}, {2, 3}, {3}}, {}, -2, 2, {DType::Bool, DType::F64, DType::F64}}}},
      {OpId::Cast, {{{{4}}, {{"dtype", Attr("f32")}}}}},
      {OpId::MatMul, {{{{3, 4}, {4, 2}}}, {{{2, 3, 4}, {4, 5}}}, {{{2, 1, 2, 3}, {3, 3, 2}}}}},
      {OpId::Sum, {{{{3, 4}}, {{"axes", Attr::ints({1})}, {"keepdim", Attr(false)}}}, {{{2, 3, 4}}}}},
      {OpId::Mean, {{{{3, 4}}, {{"axes", Attr::ints({0, -1})}, {"keepdim", Attr(true)}}}}},
      {OpId::Max, {{{{3, 4}}, {{"axes", Attr::ints({1})}}}, {{{5}}}}},
      {OpId::Reshape, {{{{2, 6}}, {{"shape", Attr::ints({3, -1})}}}}},
      {OpId::Transpose, {{{{2, 3}}}}},
      {OpId::Permute, {{{{2, 3, 4}}, {{"dims", Attr::ints({2, 0, 1})}}}}},
      {OpId::BroadcastTo, {{{{3, 1}}, {{"shape", Attr::ints({2, 3, 4})}}}}},
      // floor: the VJP gives no cotangent (zero), which finite differences confirm away from integers
      {OpId::Floor, {{{{6}}, {}, 0.1, 0.9}, {{{2, 3}}, {}, -2.9, -2.1}}},
      {OpId::Min, {{{{3, 4}}, {{"axes", Attr::ints({1})}}}, {{{5}}}, {{{2, 3}}, {{"axes", Attr::ints({0})}, {"keepdim", Attr(true)}}}}},
      {OpId::Slice,
       {{{{5, 4}}, {{"starts", Attr::ints({1, 0})}, {"ends", Attr::ints({5, 3})}, {"steps", Attr::ints({2, 2})}}},
        {{{7}}, {{"starts", Attr::ints({2})}, {"ends", Attr::ints({7})}, {"steps", Attr::ints({3})}}},
        {{{3, 2}}, {{"starts", Attr::ints({1, 0})}, {"ends", Attr::ints({1, 2})}}}}}, // an empty result
      {OpId::Pad,
       {{{{2, 3}}, {{"low", Attr::ints({1, 0})}, {"high", Attr::ints({0, 2})}, {"interior", Attr::ints({1, 2})}}},
        {{{0, 2}}, {{"low", Attr::ints({1, 1})}, {"high", Attr::ints({1, 0})}}}}}, // an empty operand
      {OpId::Concat,
       {{{{2, 3}, {1, 3}, {4, 3}}, {{"axis", Attr(int64_t(0))}}}, {{{2, 2}, {2, 1}}, {{"axis", Attr(int64_t(-1))}}}}},
      // indices drawn with repeats, so the scatter_add of the gather's VJP accumulates
      {OpId::Gather,
       {{{{3, 4}, {5, 4}}, {{"axis", Attr(int64_t(0))}}, -2, 2, {DType::F64, DType::I64}, 3},
        {{{3, 4}, {2, 6}}, {{"axis", Attr(int64_t(1))}}, -2, 2, {DType::F64, DType::I64}, 4}}},
      {OpId::ScatterAdd,
       {{{{3, 4}, {5, 4}, {5, 4}}, {{"axis", Attr(int64_t(0))}}, -2, 2, {DType::F64, DType::I64, DType::F64}, 3},
        {{{3, 4}, {2, 2}, {3, 3}}, {{"axis", Attr(int64_t(-1))}}, -2, 2, {DType::F64, DType::I64, DType::F64}, 4}}},
  };
}

/// Ops that have no gradient to check: no float operand has a derivative.
bool noGradient(const OpDef &d) {
  switch (d.kind) {
  case OpKind::Compare: case OpKind::Const: case OpKind::ArgReduce: case OpKind::Kernel: return true;
  case OpKind::Unary: case OpKind::Binary: case OpKind::Where: case OpKind::Cast: case OpKind::MatMul:
  case OpKind::Reduce: case OpKind::Layout: case OpKind::Indexing: return false;
  }
  return false;
}

HostArray randomArray(Type t, std::mt19937 &rng, double lo, double hi) {
  HostArray a(t);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype) {
    case DType::F64: a.data<double>()[i] = u(rng); break;
    case DType::F32: a.data<float>()[i] = float(u(rng)); break;
    case DType::Bool: a.data<uint8_t>()[i] = rng() % 2; break;
    case DType::I64: a.data<int64_t>()[i] = int64_t(rng() % 7) - 3; break;
    }
  }
  return a;
}

double at(const HostArray &a, int64_t i) {
  return a.type.dtype == DType::F32 ? double(a.data<float>()[i]) : a.data<double>()[i];
}

/// <c, f(x)> for the one-output graph g.
double dot(const Graph &g, const std::vector<HostArray> &xs, const HostArray &c) {
  std::vector<ArrayRef> refs;
  for (auto &x : xs) refs.push_back(x.ref());
  HostArray y = interpret(g, refs)[0];
  double s = 0;
  for (int64_t i = 0; i < y.type.numel(); ++i) s += at(y, i) * at(c, i);
  return s;
}

/// Checks autodiff(g) against central differences of <c, g(x)> in every float input.
void checkGradients(const Graph &g, std::vector<HostArray> xs, std::mt19937 &rng, double tol, double h = 1e-6) {
  passes::GradSpec spec{{0}, {}};
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (isFloat(g.inputs[i]->type.dtype)) spec.wrt.push_back(int(i));
  auto full = passes::autodiff(g, spec);
  ASSERT_NO_THROW(verify(*full)) << print(*full);
  HostArray c = randomArray(g.outputs[0]->type, rng, -1, 1);
  std::vector<ArrayRef> refs;
  for (auto &x : xs) refs.push_back(x.ref());
  refs.push_back(c.ref());
  std::vector<HostArray> outs = interpret(*full, refs);
  ASSERT_EQ(outs.size(), 1 + spec.wrt.size());
  for (size_t w = 0; w < spec.wrt.size(); ++w) {
    int i = spec.wrt[w];
    const HostArray &grad = outs[1 + w];
    ASSERT_EQ(grad.type, xs[i].type) << "gradient of input " << i;
    for (int64_t j = 0; j < xs[i].type.numel(); ++j) {
      double orig = xs[i].data<double>()[j];
      xs[i].data<double>()[j] = orig + h;
      double up = dot(g, xs, c);
      xs[i].data<double>()[j] = orig - h;
      double down = dot(g, xs, c);
      xs[i].data<double>()[j] = orig;
      double fd = (up - down) / (2 * h), got = at(grad, j);
      EXPECT_NEAR(got, fd, tol * (1 + std::fabs(fd))) << "d/d input " << i << "[" << j << "]\n" << print(*full);
    }
  }
}

} // namespace

TEST(Autodiff, EveryDifferentiableOpHasCases) {
  auto cases = gradCases();
  for (const OpDef &d : allOps()) {
    if (noGradient(d)) continue;
    EXPECT_TRUE(cases.count(d.id)) << "op '" << d.name << "' has a VJP rule but no gradient test case";
  }
}

TEST(Autodiff, MatchesFiniteDifferencesForEveryOp) {
  std::mt19937 rng(1234);
  for (auto &[id, list] : gradCases()) {
    const OpDef &def = opDef(id);
    for (const GradCase &gc : list) {
      Graph g;
      std::vector<Value *> ins;
      std::vector<HostArray> xs;
      for (size_t i = 0; i < gc.shapes.size(); ++i) {
        DType dt = i < gc.dtypes.size() ? gc.dtypes[i] : DType::F64;
        ins.push_back(g.addInput({dt, gc.shapes[i]}));
        xs.push_back(randomArray(ins.back()->type, rng, gc.lo, gc.hi));
        if (dt == DType::I64 && gc.indexHi > 0)
          for (int64_t j = 0; j < xs.back().type.numel(); ++j) xs.back().data<int64_t>()[j] = int64_t(rng() % gc.indexHi);
      }
      Value *y = emit(g, id, ins, gc.attrs);
      g.outputs.push_back(y);
      if (id == OpId::Cast) { // differentiate through f64 -> f32 -> f64 so the check stays in f64
        g.outputs[0] = emit(g, OpId::Cast, {y}, {{"dtype", Attr("f64")}});
      }
      SCOPED_TRACE(std::string(def.name) + "\n" + print(g));
      // Through f32 the function is piecewise constant at 1e-7: difference over a wide step.
      checkGradients(g, xs, rng, id == OpId::Cast ? 1e-5 : 1e-6, id == OpId::Cast ? 1e-2 : 1e-6);
    }
  }
}

TEST(Autodiff, SecondDerivatives) {
  // d/dx of <c, d/dx <1, f(x)>> for f = tanh, x*x*x, sum(matmul(x, x)).
  std::mt19937 rng(7);
  for (OpId id : {OpId::Tanh, OpId::Mul, OpId::MatMul, OpId::Sigmoid, OpId::Exp}) {
    Graph g;
    Value *x = g.addInput({DType::F64, {3, 3}}, "x");
    Value *y = id == OpId::Mul ? emit(g, OpId::Mul, {emit(g, OpId::Mul, {x, x}), x}) : emit(g, id, id == OpId::MatMul ? std::vector<Value *>{x, x} : std::vector<Value *>{x});
    g.outputs.push_back(emit(g, OpId::Sum, {y}));
    auto first = passes::autodiff(g, {{0}, {0}});
    // Keep only the gradient as the output; the seed (input 1) is fixed to 1.
    first->outputs.erase(first->outputs.begin());
    passes::dce(*first);
    HostArray one(Type{DType::F64, {}});
    one.data<double>()[0] = 1;
    // Bind the seed by building g2(x) = first(x, 1): make the seed a constant.
    Graph g2;
    Value *x2 = g2.addInput(x->type, "x");
    std::map<const Value *, Value *> map{{first->inputs[0], x2}};
    map[first->inputs[1]] = emit(g2, OpId::Const, {}, {{"dtype", Attr("f64")}, {"value", Attr(1.0)}});
    for (auto &n : first->nodes) {
      std::vector<Value *> ops;
      for (Value *o : n->operands) ops.push_back(map.at(o));
      map[n->result] = g2.addNode(n->op, ops, n->attrs, n->result->type)->result;
    }
    g2.outputs.push_back(map.at(first->outputs[0]));
    ASSERT_NO_THROW(verify(g2)) << print(g2);
    SCOPED_TRACE(print(g2));
    checkGradients(g2, {randomArray(x->type, rng, -1, 1)}, rng, 1e-5);
  }
}

TEST(Autodiff, UnusedInputGetsZeroAndSplitForwardCutsTheGraph) {
  Graph g;
  Value *a = g.addInput({DType::F32, {3}}, "a");
  Value *b = g.addInput({DType::F32, {3}}, "b");
  g.outputs.push_back(emit(g, OpId::Sum, {emit(g, OpId::Exp, {a})}));
  auto full = passes::autodiff(g, {{0}, {0, 1}});
  verify(*full);
  std::string text = print(*full);
  EXPECT_NE(text.find("%d_"), std::string::npos) << text;
  auto split = passes::splitForward(*full, g.nodes.size(), 1);
  verify(*split.backward);
  // The backward needs exp(a), the forward's first node, as an input.
  ASSERT_EQ(split.forwardValues, std::vector<int>{0});
  ASSERT_EQ(split.backward->outputs.size(), 2u);
  EXPECT_EQ(split.backward->outputs[1]->def->op, "const"); // d/db = 0
  (void)b;
}

TEST(Autodiff, RejectsBadSpecs) {
  Graph g;
  Value *a = g.addInput({DType::I64, {3}}, "a");
  Value *f = g.addInput({DType::F32, {3}}, "f");
  g.outputs.push_back(emit(g, OpId::Sum, {a}));
  g.outputs.push_back(f);
  EXPECT_THROW(passes::autodiff(g, {{0}, {1}}), ValueError);  // i64 output
  EXPECT_THROW(passes::autodiff(g, {{1}, {0}}), ValueError);  // i64 input
  EXPECT_THROW(passes::autodiff(g, {{5}, {1}}), ValueError);  // no such output
  EXPECT_THROW(passes::autodiff(g, {{1}, {-1}}), ValueError); // no such input
}
