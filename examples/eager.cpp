// Eager mode in C++: a tiny linear regression y = x w + b trained by backward() and a manual SGD
// step under NoGradGuard, printing the loss as it goes down. Every op runs a JIT-compiled kernel;
// backward() compiles the recorded tape once and reuses it on every later step.
#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <cmath>
#include <cstdio>
#include <exception>

using dt::Tensor;
using dt::ir::DType;

int main() {
  try {
    // Data: 64 points of y = 2 x0 - 3 x1 + 0.5 plus a small deterministic wiggle.
    const int64_t n = 64;
    std::vector<double> xs, ys;
    for (int64_t i = 0; i < n; ++i) {
      double x0 = std::sin(0.37 * double(i)), x1 = std::cos(0.91 * double(i));
      xs.push_back(x0);
      xs.push_back(x1);
      ys.push_back(2 * x0 - 3 * x1 + 0.5 + 0.01 * std::sin(5.0 * double(i)));
    }
    Tensor x = Tensor::fromValues(DType::F32, {n, 2}, xs);
    Tensor y = Tensor::fromValues(DType::F32, {n, 1}, ys);

    Tensor w = dt::zeros({2, 1});
    Tensor b = dt::zeros({1});
    w.setRequiresGrad(true);
    b.setRequiresGrad(true);

    const double lr = 0.2;
    double first = 0, last = 0;
    for (int step = 0; step <= 100; ++step) {
      Tensor pred = dt::matmul(x, w) + b;
      Tensor err = pred - y;
      Tensor loss = dt::mean(err * err);
      loss.backward();
      {
        dt::NoGradGuard noGrad; // the update is not part of the graph
        w -= w.grad() * lr;
        b -= b.grad() * lr;
      }
      w.setGrad(Tensor());
      b.setGrad(Tensor());
      last = loss.item();
      if (step == 0) first = last;
      if (step % 10 == 0) std::printf("step %3d  loss %.6f\n", step, last);
    }
    std::vector<double> wv = w.toValues(), bv = b.toValues();
    std::printf("learned w = [%.3f, %.3f], b = %.3f (true: [2, -3], 0.5)\n", wv[0], wv[1], bv[0]);
    dt::AutogradStats s = dt::autogradStats();
    std::printf("backward graphs compiled: %lld, reused: %lld\n", static_cast<long long>(s.backwardCompiles),
                static_cast<long long>(s.backwardCacheHits));
    if (!(last < first * 1e-2)) {
      std::fprintf(stderr, "the loss did not go down enough: %g -> %g\n", first, last);
      return 1;
    }
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
