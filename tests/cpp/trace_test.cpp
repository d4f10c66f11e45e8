// Compile mode from C++ (frontend/Trace.h): a training step traced into one graph (forward,
// backward, in-place SGD update) runs compiled and leaves the same state as the eager step;
// values are refused while tracing; a trace that throws leaves nothing behind.
#include "frontend/Trace.h"
#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <gtest/gtest.h>

#include <functional>

using namespace dt;
using ir::DType;

namespace {

struct Model {
  Tensor w, b;
};

Model makeModel() {
  Model m;
  m.w = Tensor::fromValues(DType::F32, {3, 2}, {0.1, -0.2, 0.3, 0.4, -0.5, 0.6});
  m.b = Tensor::fromValues(DType::F32, {2}, {0.01, -0.02});
  m.w.setRequiresGrad(true);
  m.b.setRequiresGrad(true);
  return m;
}

/// loss = sum(tanh(x @ w + b)^2); w -= 0.1 * dw; b -= 0.1 * db (grads set to None first).
Tensor step(Model &m, const Tensor &x) {
  m.w.setGrad(Tensor());
  m.b.setGrad(Tensor());
  Tensor h = dt::tanh(dt::add(dt::matmul(x, m.w), m.b));
  Tensor loss = dt::sum(dt::mul(h, h));
  loss.backward();
  NoGradGuard ng;
  dt::sub_(m.w, dt::mul(m.w.grad(), 0.1));
  dt::sub_(m.b, dt::mul(m.b.grad(), 0.1));
  return loss;
}

std::unique_ptr<Trace> traceStep(Model &m, const Tensor &x) {
  auto tr = std::make_unique<Trace>("step");
  tr->begin();
  tr->addArg(x);
  Tensor loss = step(m, x);
  tr->end({loss});
  loss = Tensor();
  tr->compile("simplify,cse,dce,fusion");
  return tr;
}

void expectNear(const Tensor &a, const Tensor &b) {
  std::vector<double> va = a.toValues(), vb = b.toValues();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], 1e-6) << "element " << i;
}

} // namespace

TEST(Trace, CompiledStepMatchesEager) {
  Model eager = makeModel(), comp = makeModel();
  Tensor x = Tensor::fromValues(DType::F32, {4, 3}, {1, 2, 3, -1, 0, 1, 0.5, 0.5, 0.5, 2, -2, 1});
  std::unique_ptr<Trace> tr = traceStep(comp, x);
  // Tracing changed nothing: the parameters are untouched and have no grads.
  expectNear(comp.w, eager.w);
  EXPECT_FALSE(comp.w.grad().defined());
  EXPECT_FALSE(tr->escaped());
  EXPECT_EQ(tr->checkGuards(), "");
  for (int i = 0; i < 5; ++i) {
    Tensor le = step(eager, x);
    std::vector<Tensor> out = tr->run({x});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NEAR(out[0].item(), le.item(), 1e-5);
    expectNear(comp.w, eager.w);
    expectNear(comp.b, eager.b);
    ASSERT_TRUE(comp.w.grad().defined());
    expectNear(comp.w.grad(), eager.w.grad());
  }
  // The stages print and the fused program has fewer nodes than the traced step.
  EXPECT_NE(tr->stage("traced").find("matmul"), std::string::npos);
  EXPECT_GT(tr->stage("grad").size(), tr->stage("traced").size());
  EXPECT_NE(tr->stage("fused").find("kernel @"), std::string::npos);
  EXPECT_THROW(tr->stage("bogus"), ValueError);
}

TEST(Trace, ValuesAreRefusedWhileTracing) {
  Tensor x = Tensor::fromValues(DType::F32, {2}, {1, 2});
  Trace tr("f");
  tr.begin();
  tr.addArg(x);
  Tensor y = dt::mul(x, 2.0);
  EXPECT_TRUE(y.isTraced());
  EXPECT_THROW(y.toValues(), TraceError);
  EXPECT_THROW(dt::sum(y).item(), TraceError);
  EXPECT_THROW(x.toValues(), TraceError); // an argument's value would be baked in
  Tensor c = Tensor::fromValues(DType::F32, {2}, {5, 6});
  EXPECT_EQ(c.toValues(), (std::vector<double>{5, 6})); // made in the trace: readable
  tr.abort();
  EXPECT_EQ(x.toValues(), (std::vector<double>{1, 2}));
  EXPECT_THROW(y.toValues(), TraceError); // a traced tensor used after its trace
  EXPECT_THROW(dt::add(y, 1.0), TraceError);
}

TEST(Trace, AbortRestoresGrads) {
  Model m = makeModel();
  Tensor x = Tensor::fromValues(DType::F32, {1, 3}, {1, 1, 1});
  step(m, x);
  std::vector<double> g = m.w.grad().toValues();
  Trace tr("f");
  tr.begin();
  tr.addArg(x);
  step(m, x);
  tr.abort();
  EXPECT_EQ(m.w.grad().toValues(), g);
}

TEST(Trace, OneActiveTracePerThread) {
  Trace a("a"), b("b");
  a.begin();
  EXPECT_THROW(b.begin(), TraceError);
  a.abort();
  EXPECT_EQ(activeTrace(), nullptr);
}
