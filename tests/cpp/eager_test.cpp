// Eager tensors through dt::apply, and backward()/dt::grad through the tape -> graph ->
// autodiff -> JIT path: values, caching, retain_graph, create_graph, and that the tape frees.
#include "frontend/Tensor.h"
#include "ir/Error.h"
#include "runtime/Buffer.h"

#include <gtest/gtest.h>

#include <cmath>

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
