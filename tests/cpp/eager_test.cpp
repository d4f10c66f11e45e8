// Eager tensors through dt::apply, and backward()/dt::grad through the tape -> graph ->
// autodiff -> JIT path: values, caching, retain_graph, create_graph, and that the tape frees.
#include "frontend/Tensor.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "runtime/Buffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace dt;
using ir::Attr;
using ir::DType;
using ir::OpId;

namespace {
Tensor leaf(std::vector<double> v, ir::Shape s, DType dt = DType::F64) {
  Tensor t = Tensor::fromValues(dt, s, v);
  t.setRequiresGrad(true);
  return t;
}
Tensor op(OpId id, std::vector<Tensor> xs, ir::AttrMap attrs = {}) { return apply(id, xs, attrs); }
} // namespace

TEST(Eager, ForwardValuesAndViews) {
  Tensor a = Tensor::fromValues(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor t = op(OpId::Transpose, {a});
  EXPECT_FALSE(t.isContiguous());
  EXPECT_EQ(t.shape(), (ir::Shape{3, 2}));
  EXPECT_EQ(t.toValues(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  Tensor s = op(OpId::Add, {t, Tensor::fromValues(DType::F32, {2}, {10, 20})});
  EXPECT_EQ(s.toValues(), (std::vector<double>{11, 24, 12, 25, 13, 26}));
  Tensor b = op(OpId::BroadcastTo, {Tensor::fromValues(DType::F32, {3, 1}, {1, 2, 3})}, {{"shape", Attr::ints({3, 2})}});
  EXPECT_EQ(b.toValues(), (std::vector<double>{1, 1, 2, 2, 3, 3}));
  EXPECT_THROW(op(OpId::Add, {a, Tensor::fromValues(DType::F32, {4}, {1, 2, 3, 4})}), ValueError);
  try {
    op(OpId::Add, {a, Tensor::fromValues(DType::F32, {4}, {1, 2, 3, 4})});
  } catch (const ValueError &e) {
    EXPECT_NE(std::string(e.what()).find("add"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[2,3]"), std::string::npos) << e.what();
  }
}

TEST(Eager, BackwardMatchesCalculus) {
  Tensor x = leaf({0.5, -1, 2}, {3});
  // y = sum(exp(x) * x)  =>  dy/dx = exp(x) (1 + x)
  Tensor y = op(OpId::Sum, {op(OpId::Mul, {op(OpId::Exp, {x}), x})});
  EXPECT_FALSE(y.isLeaf());
  EXPECT_EQ(y.gradFn()->name(), "SumBackward0");
  y.backward();
  std::vector<double> g = x.grad().toValues(), xv = x.toValues();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], std::exp(xv[i]) * (1 + xv[i]), 1e-12);
  // Accumulates.
  Tensor y2 = op(OpId::Sum, {op(OpId::Mul, {op(OpId::Exp, {x}), x})});
  y2.backward();
  std::vector<double> g2 = x.grad().toValues();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g2[i], 2 * g[i], 1e-12);
}

TEST(Eager, MatmulBroadcastGradients) {
  Tensor w = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor b = leaf({0.5, -0.5}, {2});
  Tensor x = Tensor::fromValues(DType::F64, {4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  Tensor loss = op(OpId::Mean, {op(OpId::Relu, {op(OpId::Add, {op(OpId::MatMul, {x, w}), b})})});
  loss.backward();
  // All pre-activations are positive, so dL/db = 4 rows / 8 elements = 0.5 each, and
  // dL/dw[k][j] = sum_i x[i][k] / 8.
  EXPECT_EQ(b.grad().toValues(), (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(w.grad().toValues(), (std::vector<double>{0.25, 0.25, 0.25, 0.25, 0.25, 0.25}));
}

TEST(Eager, BackwardGraphIsCompiledOnceForARepeatedStructure) {
  Tensor w = leaf({0.1, 0.2, 0.3}, {3}, DType::F32);
  AutogradStats before = autogradStats();
  for (int step = 0; step < 5; ++step) {
    Tensor x = Tensor::fromValues(DType::F32, {3}, {double(step), 1, 2});
    Tensor loss = op(OpId::Sum, {op(OpId::Tanh, {op(OpId::Mul, {x, w})})});
    loss.backward();
  }
  AutogradStats after = autogradStats();
  EXPECT_EQ(after.backwardCompiles - before.backwardCompiles, 1);
  EXPECT_EQ(after.backwardCacheHits - before.backwardCacheHits, 4);
}

TEST(Eager, PyTorchErrors) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = op(OpId::Mul, {x, x});
  EXPECT_THROW(y.backward(), std::runtime_error); // non-scalar without gradient
  Tensor s = op(OpId::Sum, {y});
  s.backward();
  EXPECT_THROW(s.backward(), std::runtime_error); // graph freed
  Tensor c = Tensor::fromValues(DType::F64, {2}, {1, 2});
  EXPECT_THROW(c.backward(), std::runtime_error); // does not require grad
  EXPECT_THROW(Tensor::fromValues(DType::I64, {1}, {1}).setRequiresGrad(true), std::runtime_error);
  EXPECT_THROW(s.setRequiresGrad(false), std::runtime_error); // non-leaf
  // retain_graph keeps the tape.
  Tensor z = op(OpId::Sum, {op(OpId::Mul, {x, x})});
  z.backward({}, true);
  EXPECT_NO_THROW(z.backward());
}

TEST(Eager, GradOfGrad) {
  Tensor x = leaf({0.5, 2}, {2});
  Tensor y = op(OpId::Sum, {op(OpId::Mul, {op(OpId::Mul, {x, x}), x})}); // sum x^3
  std::vector<Tensor> g = grad({y}, {x}, {}, false, true);                // 3x^2
  EXPECT_TRUE(g[0].requiresGrad());
  EXPECT_EQ(g[0].toValues(), (std::vector<double>{0.75, 12}));
  std::vector<Tensor> gg = grad({op(OpId::Sum, {g[0]})}, {x}); // 6x
  EXPECT_EQ(gg[0].toValues(), (std::vector<double>{3, 12}));
  // Gradient with respect to a non-leaf.
  Tensor a = leaf({1, 2}, {2});
  Tensor h = op(OpId::Exp, {a});
  Tensor out = op(OpId::Sum, {op(OpId::Mul, {h, h})});
  std::vector<Tensor> gh = grad({out}, {h});
  std::vector<double> hv = h.toValues();
  EXPECT_NEAR(gh[0].toValues()[1], 2 * hv[1], 1e-12);
}

TEST(Eager, TapeFreesItself) {
  Tensor w = leaf({0.1, 0.2, 0.3, 0.4}, {2, 2}, DType::F32);
  auto step = [&] {
    Tensor x = Tensor::fromValues(DType::F32, {3, 2}, {1, 2, 3, 4, 5, 6});
    Tensor loss = op(OpId::Sum, {op(OpId::Sigmoid, {op(OpId::MatMul, {x, w})})});
    loss.backward();
    w.setGrad(Tensor());
  };
  for (int i = 0; i < 10; ++i) step(); // warm the caches
  int64_t live = rt::Buffer::liveCount();
  for (int i = 0; i < 2000; ++i) step();
  EXPECT_EQ(rt::Buffer::liveCount(), live);
}

TEST(Eager, SliceIsAStridedViewPadConcatGatherAreNewBuffers) {
  // slice of a transposed (strided) tensor composes strides and offset: no copy.
  Tensor a = Tensor::fromValues(DType::F64, {3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor t = op(OpId::Transpose, {a}); // [4,3]: t[i][j] = a[j][i]
  Tensor s = op(OpId::Slice, {t}, {{"starts", Attr::ints({1, 0})}, {"ends", Attr::ints({4, 3})}, {"steps", Attr::ints({2, 2})}});
  EXPECT_EQ(s.shape(), (ir::Shape{2, 2}));
  EXPECT_EQ(s.impl().storage, a.impl().storage);
  EXPECT_EQ(s.impl().offset, 1);
  EXPECT_EQ(s.strides(), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(s.toValues(), (std::vector<double>{1, 9, 3, 11}));
  Tensor ss = op(OpId::Slice, {s}, {{"starts", Attr::ints({1, 1})}, {"ends", Attr::ints({2, 2})}});
  EXPECT_EQ(ss.toValues(), (std::vector<double>{11}));
  EXPECT_EQ(ss.impl().storage, a.impl().storage);
  Tensor empty = op(OpId::Slice, {a}, {{"starts", Attr::ints({3, 0})}, {"ends", Attr::ints({3, 4})}});
  EXPECT_EQ(empty.shape(), (ir::Shape{0, 4}));
  EXPECT_TRUE(empty.toValues().empty());
  // Ops that run kernels on a strided operand.
  Tensor p = op(OpId::Pad, {s}, {{"low", Attr::ints({0, 1})}, {"high", Attr::ints({1, 0})}});
  EXPECT_NE(p.impl().storage, a.impl().storage);
  EXPECT_EQ(p.toValues(), (std::vector<double>{0, 1, 9, 0, 3, 11, 0, 0, 0}));
  Tensor row = op(OpId::Slice, {s}, {{"starts", Attr::ints({1, 0})}, {"ends", Attr::ints({2, 2})}});
  Tensor c = op(OpId::Concat, {s, row}, {{"axis", Attr(int64_t(0))}});
  EXPECT_EQ(c.toValues(), (std::vector<double>{1, 9, 3, 11, 3, 11}));
  Tensor i = Tensor::fromValues(DType::I64, {1, 2}, {1, 0});
  EXPECT_EQ(op(OpId::Gather, {s, i}, {{"axis", Attr(int64_t(0))}}).toValues(), (std::vector<double>{3, 9}));
  EXPECT_EQ(op(OpId::ArgMax, {t}, {{"axis", Attr(int64_t(1))}}).toValues(), (std::vector<double>{2, 2, 2, 2}));
  EXPECT_EQ(op(OpId::Min, {s}).toValues(), (std::vector<double>{1}));
}

TEST(Eager, GradientsThroughSliceConcatAndGather) {
  // y = sum(w * slice(x)) + sum(gather(x, index)): dx = pad(w) + scatter of ones.
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {6});
  Tensor w = Tensor::fromValues(DType::F64, {2}, {10, 20});
  Tensor s = op(OpId::Slice, {x}, {{"starts", Attr::ints({1})}, {"ends", Attr::ints({5})}, {"steps", Attr::ints({3})}});
  Tensor i = Tensor::fromValues(DType::I64, {3}, {0, 0, 5});
  Tensor g = op(OpId::Gather, {x, i}, {{"axis", Attr(int64_t(0))}});
  Tensor y = op(OpId::Add, {op(OpId::Sum, {op(OpId::Mul, {w, s})}), op(OpId::Sum, {op(OpId::Concat, {g, s})})});
  y.backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{2, 11, 0, 0, 21, 1}));
}

// --- shape-generic elementwise kernels: one compile per op, dtypes and ranks, any dims ---------

namespace {
/// Deterministic values of dtype dt (bool: 0/1), with a few specials for floats.
Tensor sample(DType dt, ir::Shape s, uint64_t seed) {
  int64_t n = ir::numElements(s);
  std::vector<double> v(static_cast<size_t>(n), 0.0);
  uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    double u = double(x >> 11) / double(1ull << 53); // [0, 1)
    if (dt == DType::Bool) v[size_t(i)] = u < 0.5;
    else if (dt == DType::I64) v[size_t(i)] = std::floor(u * 2000 - 1000);
    else v[size_t(i)] = u * 20 - 10;
  }
  if (ir::isFloat(dt) && n > 3) {
    v[1] = std::nan("");
    v[2] = -0.0;
    v[3] = 3e38;
  }
  return Tensor::fromValues(dt, s, v);
}

/// The interpreter's result of one op on the tensors' values.
ir::HostArray interpretOp(OpId id, const std::vector<Tensor> &xs, const ir::AttrMap &attrs, const ir::Type &result) {
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

/// Runs `id` eagerly on each operand list and checks against the interpreter: bitwise, or for
/// f32 within 4 ulp / 1e-7 absolute (transcendentals). Returns the eager kernel compiles it took.
int64_t checkShapes(OpId id, const std::vector<std::vector<Tensor>> &cases, const ir::AttrMap &attrs, bool ulps) {
  int64_t before = autogradStats().eagerKernelCompiles;
  for (const auto &xs : cases) {
    Tensor y = apply(id, xs, attrs);
    ir::HostArray want = interpretOp(id, xs, attrs, y.type());
    std::string what = std::string(ir::opDef(id).name) + " -> " + y.type().str();
    EXPECT_TRUE(y.isContiguous()) << what;
    if (y.numel() == 0) continue;
    if (!ulps) {
      EXPECT_EQ(std::memcmp(y.data(), want.bytes.data(), want.bytes.size()), 0) << what;
      continue;
    }
    EXPECT_EQ(y.dtype(), DType::F32) << what;
    if (y.dtype() != DType::F32) continue;
    const float *got = static_cast<const float *>(y.data());
    for (int64_t i = 0; i < y.numel(); ++i) {
      float g = got[i], w = want.data<float>()[i];
      if (std::isnan(w) || std::isinf(w)) {
        EXPECT_EQ(std::memcmp(&g, &w, 4) == 0 || (std::isnan(g) && std::isnan(w)), true) << what << " at " << i;
        continue;
      }
      int32_t gi, wi;
      std::memcpy(&gi, &g, 4);
      std::memcpy(&wi, &w, 4);
      bool close = std::abs(int64_t(gi) - int64_t(wi)) <= 4 || std::abs(double(g) - double(w)) <= 1e-7;
      EXPECT_TRUE(close) << what << " at " << i << ": " << g << " vs " << w;
    }
  }
  return autogradStats().eagerKernelCompiles - before;
}
} // namespace

TEST(Eager, ShapeGenericAddCompilesOnceForEveryShapeOfARank) {
  // Rank-5 shapes (used by no other test, so the kernel is new here): same shape, broadcasting
  // along inner and outer dims (inner stride 0), zero size, all ones, odd lengths.
  std::vector<std::pair<ir::Shape, ir::Shape>> shapes = {
      {{2, 3, 1, 4, 5}, {2, 3, 1, 4, 5}}, {{1, 3, 1, 1, 7}, {2, 1, 4, 5, 1}}, {{2, 0, 1, 4, 5}, {1, 1, 1, 4, 5}},
      {{1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}}, {{3, 1, 5, 17, 33}, {1, 1, 1, 1, 33}}, {{1, 1, 1, 1, 1}, {3, 2, 1, 5, 9}}};
  for (DType dt : {DType::F32, DType::I64}) {
    std::vector<std::vector<Tensor>> cases;
    uint64_t seed = 1;
    for (auto &[a, b] : shapes) cases.push_back({sample(dt, a, seed++), sample(dt, b, seed++)});
    EXPECT_EQ(checkShapes(OpId::Add, cases, {}, false), 1) << ir::dtypeName(dt);
    EXPECT_EQ(checkShapes(OpId::Add, cases, {}, false), 0) << ir::dtypeName(dt);
  }
  // Scalars and mixed ranks: one kernel per rank signature, whatever the dims.
  std::vector<std::vector<Tensor>> mixed = {{sample(DType::F32, {4, 7}, 1), sample(DType::F32, {}, 2)},
                                            {sample(DType::F32, {9, 1}, 3), sample(DType::F32, {}, 4)},
                                            {sample(DType::F32, {0, 3}, 5), sample(DType::F32, {}, 6)}};
  checkShapes(OpId::Sub, {mixed[0]}, {}, false); // may be compiled by an earlier test
  EXPECT_EQ(checkShapes(OpId::Sub, mixed, {}, false), 0);
  std::vector<std::vector<Tensor>> scalars = {{sample(DType::F64, {}, 7), sample(DType::F64, {}, 8)}};
  checkShapes(OpId::Mul, scalars, {}, false);
}

TEST(Eager, ShapeGenericExpWhereCastMatchTheInterpreter) {
  std::vector<ir::Shape> shapes = {{2, 3, 1, 4, 5}, {1, 1, 1, 1, 1}, {3, 0, 2, 1, 1}, {1, 7, 1, 1, 13}, {5, 1, 3, 2, 33}};
  std::vector<std::vector<Tensor>> unary;
  uint64_t seed = 100;
  for (const ir::Shape &s : shapes) unary.push_back({sample(DType::F32, s, seed++)});
  EXPECT_EQ(checkShapes(OpId::Exp, unary, {}, true), 1);

  // where(cond, x, y) with broadcasting of each operand in turn.
  std::vector<std::vector<Tensor>> where;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ir::Shape s = shapes[i], inner = s, outer = s;
    inner.back() = 1;
    outer.front() = 1;
    where.push_back({sample(DType::Bool, i % 2 ? inner : s, seed++), sample(DType::F64, i % 3 == 1 ? outer : s, seed++),
                     sample(DType::F64, i % 3 == 2 ? inner : s, seed++)});
  }
  EXPECT_EQ(checkShapes(OpId::Where, where, {}, false), 1);

  // Casts: f32 -> i64 saturates (3e38) and maps NaN to 0; f32 -> bool; i64 -> f64.
  for (auto [from, to] : {std::pair{DType::F32, DType::I64}, std::pair{DType::F32, DType::Bool}, std::pair{DType::I64, DType::F64}}) {
    std::vector<std::vector<Tensor>> casts;
    for (const ir::Shape &s : shapes) casts.push_back({sample(from, s, seed++)});
    ir::AttrMap attrs{{"dtype", Attr(std::string(ir::dtypeName(to)))}};
    EXPECT_EQ(checkShapes(OpId::Cast, casts, attrs, false), 1) << ir::dtypeName(from) << "->" << ir::dtypeName(to);
  }
}

TEST(Eager, ShapeGenericReductionsCompileOnceAndMatchTheInterpreter) {
  // Rank-4 inputs: reduced innermost (horizontal) and not (vertical), zero-size kept and reduced
  // dims (sum 0, mean NaN), size-1 dims and odd lengths.
  std::vector<ir::Shape> shapes = {{2, 3, 4, 5}, {1, 1, 1, 1}, {3, 0, 2, 7}, {0, 2, 3, 1}, {5, 17, 1, 33}};
  auto values = [](DType dt, const ir::Shape &s, uint64_t seed) {
    std::vector<double> v(static_cast<size_t>(ir::numElements(s)), 0.0);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::floor(std::sin(double(i * 7 + seed)) * 1000) / 64;
    return Tensor::fromValues(dt, s, v);
  };
  std::vector<ir::AttrMap> attrSets = {{{"axes", Attr::ints({1, 3})}},
                                       {{"axes", Attr::ints({0, 2})}, {"keepdim", Attr(true)}},
                                       {}};
  uint64_t seed = 0;
  for (OpId id : {OpId::Sum, OpId::Mean, OpId::Max}) {
    for (const ir::AttrMap &attrs : attrSets) {
      for (DType dt : {DType::F32, DType::F64}) {
        int64_t before = autogradStats().eagerKernelCompiles, afterFirst = -1;
        for (const ir::Shape &s : shapes) {
          if (id == OpId::Max && ir::numElements(s) == 0) continue; // max over an empty axis is rejected
          if (afterFirst < 0 && &s != &shapes.front()) afterFirst = autogradStats().eagerKernelCompiles;
          Tensor x = values(dt, s, seed++);
          Tensor y = apply(id, {x}, attrs);
          ir::HostArray want = interpretOp(id, {x}, attrs, y.type());
          std::string what = std::string(ir::opDef(id).name) + " " + x.type().str() + " -> " + y.type().str();
          std::vector<double> got = y.toValues();
          ASSERT_EQ(int64_t(got.size()), y.numel()) << what;
          int64_t count = y.numel() == 0 ? 0 : x.numel() / std::max<int64_t>(y.numel(), 1);
          for (size_t i = 0; i < got.size(); ++i) {
            double w = dt == DType::F32 ? double(want.data<float>()[i]) : want.data<double>()[i];
            if (std::isnan(w)) {
              EXPECT_TRUE(std::isnan(got[i])) << what << " at " << i;
              continue;
            }
            // Values are multiples of 1/64 below 16: f32 sums of a few hundred are close to exact.
            double tol = id == OpId::Max ? 0 : 1e-6 * double(count) * 16;
            EXPECT_LE(std::abs(got[i] - w), tol) << what << " at " << i << ": " << got[i] << " vs " << w;
          }
        }
        // The first shape compiles the kernel (unless an earlier test in this process did); no
        // other shape compiles anything.
        EXPECT_LE(afterFirst - before, 1) << ir::opDef(id).name << " " << ir::dtypeName(dt);
        EXPECT_EQ(autogradStats().eagerKernelCompiles, afterFirst) << ir::opDef(id).name << " " << ir::dtypeName(dt);
      }
    }
  }
}
