// A small MLP forward pass through the C++ API: build the graph, print its IR, JIT-compile it,
// run it, and check the result against the reference interpreter (`make demo` runs this).
#include "frontend/GraphBuilder.h"
#include "frontend/Runtime.h"
#include "ir/Error.h"
#include "ir/Text.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>

using dt::Array;
using dt::Var;
using dt::ir::DType;

namespace {

/// Deterministic inputs: a smooth wave per tensor, scaled like a small random init.
Array wave(dt::ir::Shape shape, double phase, double scale) {
  std::vector<double> v(size_t(dt::ir::numElements(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.7 * double(i) + phase);
  return Array::fromValues(DType::F32, std::move(shape), v);
}

/// |a - b| <= atol + rtol * |b| everywhere, with matching types.
bool allClose(const Array &a, const Array &b, double rtol, double atol) {
  if (a.type != b.type) return false;
  std::vector<double> x = a.toValues(), y = b.toValues();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) return false;
  return true;
}

int run() {
  // 1. Trace: a two-layer MLP, x[4,8] -> Linear(8,16) + relu -> Linear(16,3) -> logits.
  dt::GraphBuilder gb("mlp");
  Var x = gb.input(DType::F32, {4, 8}, "x");
  Var w1 = gb.input(DType::F32, {8, 16}, "w1");
  Var b1 = gb.input(DType::F32, {16}, "b1");
  Var w2 = gb.input(DType::F32, {16, 3}, "w2");
  Var b2 = gb.input(DType::F32, {3}, "b2");
  Var h = dt::relu(dt::matmul(x, w1) + b1);
  Var logits = dt::matmul(h, w2) + b2;
  gb.output(logits);
  gb.output(dt::mean(logits));
  std::unique_ptr<dt::ir::Graph> g = gb.build(); // verified

  std::cout << "--- IR ---\n" << *g;

  // 2. Compile: one native kernel per node, JIT-compiled for this CPU.
  dt::CompiledGraph f = dt::compile(*g);
  std::cout << "--- compiled for " << dt::hostCPU() << " (" << dt::cacheStats().kernelsCompiled
            << " kernels in the cache) ---\n";

  // 3. Run on deterministic inputs.
  std::vector<Array> inputs = {wave({4, 8}, 0.0, 1.0), wave({8, 16}, 0.5, 0.35), wave({16}, 1.0, 0.1),
                               wave({16, 3}, 1.5, 0.25), wave({3}, 2.0, 0.1)};
  std::vector<Array> out = f(inputs);
  std::cout << "logits = " << out[0].str() << "\nmean   = " << out[1].str() << "\n";

  // 4. Check against the reference interpreter (f32 sums may differ in the last bits).
  std::vector<Array> ref = dt::interpret(*g, inputs);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!allClose(out[i], ref[i], 1e-5, 1e-6)) {
      std::cerr << "MISMATCH in output " << i << ":\n  jit         " << out[i].str() << "\n  interpreter "
                << ref[i].str() << "\n";
      return 1;
    }
  }
  std::cout << "JIT matches the interpreter\n";
  return 0;
}

} // namespace

int main() {
  try {
    return run();
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
