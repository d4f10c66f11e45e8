// Shared by fusion_test.cpp and memory_plan_test.cpp: the compiled MLP training step as IR, a
// 784-128-10 MLP with a softmax cross-entropy loss, differentiated by autodiff and followed by
// an SGD update of every parameter (outputs: the loss, then the four new parameters).
#pragma once

#include "ir/Ops.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/PassManager.h"

#include <memory>
#include <string>

namespace dt::mlp_step {

inline std::string forwardText(int batch) {
  std::string b = std::to_string(batch);
  return R"(
func @step(%x: f32[)" + b + R"(,784], %y: f32[)" + b + R"(,10], %w1: f32[784,128], %b1: f32[128], %w2: f32[128,10], %b2: f32[10]) -> (f32[]) {
  %0 = matmul(%x, %w1) : f32[)" + b + R"(,128]
  %1 = add(%0, %b1) : f32[)" + b + R"(,128]
  %h = relu(%1) : f32[)" + b + R"(,128]
  %2 = matmul(%h, %w2) : f32[)" + b + R"(,10]
  %z = add(%2, %b2) : f32[)" + b + R"(,10]
  %m = max(%z) {axes=[1], keepdim=true} : f32[)" + b + R"(,1]
  %d = sub(%z, %m) : f32[)" + b + R"(,10]
  %e = exp(%d) : f32[)" + b + R"(,10]
  %s = sum(%e) {axes=[1], keepdim=true} : f32[)" + b + R"(,1]
  %l = log(%s) : f32[)" + b + R"(,1]
  %lp = sub(%d, %l) : f32[)" + b + R"(,10]
  %t = mul(%lp, %y) : f32[)" + b + R"(,10]
  %r = sum(%t) {axes=[1]} : f32[)" + b + R"(]
  %n = neg(%r) : f32[)" + b + R"(]
  %loss = mean(%n) : f32[]
  return %loss
}
)";
}

/// The training step (verified, simplified): inputs x, y, w1, b1, w2, b2 and the loss cotangent
/// %d_loss (feed 1); outputs the loss and w - 0.1 * grad for each parameter.
inline std::unique_ptr<ir::Graph> trainingStep(int batch = 64) {
  std::unique_ptr<ir::Graph> fwd = ir::parse(forwardText(batch));
  ir::verify(*fwd);
  std::unique_ptr<ir::Graph> g = passes::autodiff(*fwd, {{0}, {2, 3, 4, 5}});
  ir::Value *lr = ir::emit(*g, ir::OpId::Const, {}, {{"value", ir::Attr(0.1)}});
  for (size_t i = 1; i < g->outputs.size(); ++i) {
    ir::Value *param = g->inputs[i + 1];
    ir::Value *step = ir::emit(*g, ir::OpId::Mul, {g->outputs[i], lr});
    g->outputs[i] = ir::emit(*g, ir::OpId::Sub, {param, step});
  }
  ir::verify(*g);
  return passes::runPipeline(std::move(g), "simplify,cse,dce");
}

} // namespace dt::mlp_step
