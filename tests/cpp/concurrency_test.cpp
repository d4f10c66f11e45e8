// Thread safety of the compile caches and the eager path: several std::threads compile and run
// distinct graphs (distinct kernels, so the JIT and its cache are hit concurrently) and run eager
// ops with backward at once; every result equals the one computed on one thread (and the
// interpreter's). Also: 1,000 eager and 1,000 compiled training steps leave the live buffer count
// flat (the leak check that `make test-asan` runs under LeakSanitizer too).
#include "codegen/Compiler.h"
#include "frontend/Tensor.h"
#include "ir/Interpreter.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/PassManager.h"
#include "runtime/Buffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace dt {
namespace {

using ir::Attr;
using ir::DType;
using ir::OpId;

constexpr int kThreads = 4;

/// A small graph whose kernels depend on (n, k): each thread and round compiles new ones.
std::string graphText(int n, int k) {
  std::string x = "f32[" + std::to_string(n) + "," + std::to_string(k) + "]";
  std::string w = "f32[" + std::to_string(k) + ",3]";
  std::string y = "f32[" + std::to_string(n) + ",3]";
  return "func @g(%x: " + x + ", %w: " + w + ") -> (" + y + ", f32[3]) {\n"
         "  %0 = matmul(%x, %w) : " + y + "\n"
         "  %1 = tanh(%0) : " + y + "\n"
         "  %2 = mul(%1, %0) : " + y + "\n"
         "  %3 = sum(%2) {axes=[0]} : f32[3]\n"
         "  return %2, %3\n}\n";
}

std::vector<ir::HostArray> inputsFor(const ir::Graph &g, int salt) {
  std::vector<ir::HostArray> ins;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    ir::HostArray a(g.inputs[i]->type);
    for (int64_t j = 0; j < a.type.numel(); ++j) a.data<float>()[j] = float((j * 7 + salt + int(i)) % 11) / 8 - 0.6f;
    ins.push_back(std::move(a));
  }
  return ins;
}

/// Compiles `text` (after the pipeline) and runs it: the outputs' bytes.
std::vector<std::vector<unsigned char>> compileAndRun(const std::string &text, int salt) {
  auto g = ir::parse(text);
  ir::verify(*g);
  auto opt = passes::runPipeline(g->clone(), "simplify,cse,dce,fusion");
  rt::Program p = codegen::compile(*opt);
  std::vector<std::shared_ptr<rt::Buffer>> bufs;
  for (const ir::HostArray &a : inputsFor(*g, salt)) {
    auto b = rt::Buffer::allocate(a.bytes.size());
    std::memcpy(b->data(), a.bytes.data(), a.bytes.size());
    bufs.push_back(b);
  }
  std::vector<std::vector<unsigned char>> out;
  for (auto &b : p.run(bufs)) {
    auto *d = static_cast<unsigned char *>(b->data());
    out.emplace_back(d, d + b->size());
  }
  return out;
}

TEST(Concurrency, ThreadsCompileDistinctGraphsAtOnce) {
  constexpr int kRounds = 6;
  // Expected results first, on this thread, for shapes no thread compiles before it runs (the
  // threads use k + 100 so their kernels are new to the cache when they race).
  std::vector<std::vector<std::vector<std::vector<unsigned char>>>> want(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int r = 0; r < kRounds; ++r) {
      auto g = ir::parse(graphText(t + 1, r + 100 + 10 * t));
      std::vector<ir::ArrayRef> refs;
      auto ins = inputsFor(*g, t + r);
      for (auto &a : ins) refs.push_back(a.ref());
      std::vector<std::vector<unsigned char>> w;
      for (auto &o : ir::interpret(*g, refs)) w.push_back(o.bytes);
      want[size_t(t)].push_back(w);
    }
  std::vector<std::vector<std::vector<std::vector<unsigned char>>>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int r = 0; r < kRounds; ++r) got[size_t(t)].push_back(compileAndRun(graphText(t + 1, r + 100 + 10 * t), t + r));
      } catch (const std::exception &e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (auto &th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[size_t(t)], "") << "thread " << t;
    ASSERT_EQ(got[size_t(t)].size(), size_t(kRounds));
    for (int r = 0; r < kRounds; ++r) {
      const auto &g = got[size_t(t)][size_t(r)], &w = want[size_t(t)][size_t(r)];
      ASSERT_EQ(g.size(), w.size());
      // Output 0 is elementwise after a matmul whose k-sum the JIT orders its own way: compare
      // as floats with a tolerance; within the run, every thread agrees with the interpreter.
      for (size_t o = 0; o < g.size(); ++o) {
        ASSERT_EQ(g[o].size(), w[o].size());
        const float *a = reinterpret_cast<const float *>(g[o].data()), *b = reinterpret_cast<const float *>(w[o].data());
        for (size_t i = 0; i < g[o].size() / 4; ++i)
          EXPECT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(b[i]))) << "thread " << t << " round " << r << " output " << o;
      }
    }
  }
  // The same graph compiled by every thread at once gives identical bytes everywhere.
  std::vector<std::vector<std::vector<unsigned char>>> same(kThreads);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { same[size_t(t)] = compileAndRun(graphText(7, 333), 1); });
  for (auto &th : threads) th.join();
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(same[size_t(t)], same[0]) << "thread " << t;
}

/// An eager step: loss = sum(tanh(x @ w + b)^2); returns the loss and w's and b's gradients.
std::vector<double> eagerStep(int n, int salt) {
  std::vector<double> xv, wv, bv;
  for (int i = 0; i < n * 4; ++i) xv.push_back(double((i * 5 + salt) % 9) / 9 - 0.4);
  for (int i = 0; i < 4 * 3; ++i) wv.push_back(double((i * 3 + salt) % 7) / 7 - 0.5);
  for (int i = 0; i < 3; ++i) bv.push_back(0.1 * i - 0.1);
  Tensor x = Tensor::fromValues(DType::F64, {n, 4}, xv);
  Tensor w = Tensor::fromValues(DType::F64, {4, 3}, wv), b = Tensor::fromValues(DType::F64, {3}, bv);
  w.setRequiresGrad(true);
  b.setRequiresGrad(true);
  Tensor h = apply(OpId::Tanh, {apply(OpId::Add, {apply(OpId::MatMul, {x, w}), b})});
  Tensor loss = apply(OpId::Sum, {apply(OpId::Mul, {h, h})});
  loss.backward();
  std::vector<double> out = {loss.item()};
  for (double v : w.grad().toValues()) out.push_back(v);
  for (double v : b.grad().toValues()) out.push_back(v);
  return out;
}

TEST(Concurrency, EagerOpsAndBackwardFromThreads) {
  constexpr int kSteps = 20;
  std::vector<std::vector<std::vector<double>>> want(kThreads), got(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kSteps; ++s) want[size_t(t)].push_back(eagerStep(1 + (t * kSteps + s) % 9, t * 31 + s));
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        // Grad mode is per thread: one thread turning it off does not affect the others.
        if (t == 0) {
          NoGradGuard g;
          Tensor a = Tensor::fromValues(DType::F64, {2}, {1, 2});
          a.setRequiresGrad(true);
          if (apply(OpId::Exp, {a}).requiresGrad()) errors[0] = "no_grad leaked into an op";
        }
        for (int s = 0; s < kSteps; ++s) got[size_t(t)].push_back(eagerStep(1 + (t * kSteps + s) % 9, t * 31 + s));
      } catch (const std::exception &e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (auto &th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[size_t(t)], "") << "thread " << t;
    EXPECT_EQ(got[size_t(t)], want[size_t(t)]) << "thread " << t;
  }
}

// --- leaks -----------------------------------------------------------------------------------

TEST(Leaks, ThousandEagerTrainingStepsKeepLiveBuffersFlat) {
  std::vector<double> wv(12), bv(3, 0.0);
  for (int i = 0; i < 12; ++i) wv[size_t(i)] = 0.1 * (i % 5) - 0.2;
  Tensor w = Tensor::fromValues(DType::F32, {4, 3}, wv), b = Tensor::fromValues(DType::F32, {3}, bv);
  w.setRequiresGrad(true);
  b.setRequiresGrad(true);
  Tensor x = Tensor::full(DType::F32, {8, 4}, 0.5), y = Tensor::full(DType::F32, {8, 3}, 0.25);
  Tensor lr = Tensor::full(DType::F32, {}, 0.01);
  auto step = [&] {
    Tensor d = apply(OpId::Sub, {apply(OpId::Tanh, {apply(OpId::Add, {apply(OpId::MatMul, {x, w}), b})}), y});
    Tensor loss = apply(OpId::Mean, {apply(OpId::Mul, {d, d})});
    loss.backward();
    NoGradGuard noGrad;
    // SGD, out of place on the leaves' values: new leaves each step, as a functional update.
    Tensor nw = apply(OpId::Sub, {w, apply(OpId::Mul, {lr, w.grad()})});
    Tensor nb = apply(OpId::Sub, {b, apply(OpId::Mul, {lr, b.grad()})});
    w = nw.detach();
    b = nb.detach();
    w.setRequiresGrad(true);
    b.setRequiresGrad(true);
    return loss.item();
  };
  double first = step();
  for (int i = 0; i < 10; ++i) step(); // warm the caches
  int64_t live = rt::Buffer::liveCount();
  double last = 0;
  for (int i = 0; i < 1000; ++i) last = step();
  EXPECT_EQ(rt::Buffer::liveCount(), live) << "buffers leaked over 1000 eager steps";
  EXPECT_LT(last, first) << "the loss went down";
}

TEST(Leaks, ThousandCompiledTrainingStepsKeepLiveBuffersFlat) {
  auto g = ir::parse("func @loss(%x: f32[8,4], %w: f32[4,3], %y: f32[8,3]) -> (f32[]) {\n"
                     "  %0 = matmul(%x, %w) : f32[8,3]\n"
                     "  %1 = sub(%0, %y) : f32[8,3]\n"
                     "  %2 = mul(%1, %1) : f32[8,3]\n"
                     "  %3 = mean(%2) : f32[]\n"
                     "  return %3\n}\n");
  ir::verify(*g);
  auto step = passes::runPipeline(passes::autodiff(*g, {{0}, {1}}), "simplify,cse,dce,fusion");
  rt::Program p = codegen::compile(*step);
  auto x = rt::Buffer::allocate(8 * 4 * 4), w = rt::Buffer::allocate(4 * 3 * 4), y = rt::Buffer::allocate(8 * 3 * 4),
       one = rt::Buffer::allocate(4);
  for (int i = 0; i < 32; ++i) static_cast<float *>(x->data())[i] = 0.1f * float(i % 7) - 0.3f;
  for (int i = 0; i < 12; ++i) static_cast<float *>(w->data())[i] = 0; // buffers start uninitialized
  for (int i = 0; i < 24; ++i) static_cast<float *>(y->data())[i] = 0.2f * float(i % 3);
  *static_cast<float *>(one->data()) = 1;
  float first = 0, last = 0;
  auto run = [&] {
    std::vector<std::shared_ptr<rt::Buffer>> ins = {x, w, y, one};
    auto outs = p.run(ins);
    const float *gw = static_cast<const float *>(outs[1]->data());
    float *wd = static_cast<float *>(w->data());
    for (int i = 0; i < 12; ++i) wd[i] -= 0.05f * gw[i];
    return *static_cast<const float *>(outs[0]->data());
  };
  first = run();
  int64_t live = rt::Buffer::liveCount();
  for (int i = 0; i < 1000; ++i) last = run();
  EXPECT_EQ(rt::Buffer::liveCount(), live) << "buffers leaked over 1000 compiled steps";
  EXPECT_LT(last, first) << "the loss went down";
}

} // namespace
} // namespace dt
