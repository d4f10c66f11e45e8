// Backward anomaly detection: the tape's nodes differentiated one at a time (each a one-node
// dt::grad with the node's inputs as cut targets), so a NaN/inf gradient is blamed on the node
// whose backward made it, with PyTorch's message.
#include "frontend/Anomaly.h"

#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <cmath>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace dt {

namespace {

template <typename T> int scan(const Tensor &t) {
  Tensor d = t.detach().contiguous();
  const T *p = static_cast<const T *>(d.data());
  int found = 0;
  for (int64_t i = 0, n = d.numel(); i < n; ++i) {
    if (std::isnan(p[i])) return 1;
    if (std::isinf(p[i])) found = 2;
  }
  return found;
}

/// `node`'s saved result with `node` as grad_fn (what dt::grad needs to differentiate it).
Tensor live(const std::shared_ptr<TapeNode> &node) {
  Tensor t = node->result.detach();
  t.impl().requiresGrad = true;
  t.impl().gradFn = node;
  return t;
}

/// The nodes reachable from `outputs`, each after every node that consumes it.
std::vector<std::shared_ptr<TapeNode>> consumersFirst(const std::vector<Tensor> &outputs) {
  std::vector<std::shared_ptr<TapeNode>> post;
  std::unordered_set<const TapeNode *> seen;
  for (const Tensor &out : outputs) {
    if (!out.defined() || !out.gradFn() || seen.count(out.gradFn().get())) continue;
    std::vector<std::pair<std::shared_ptr<TapeNode>, size_t>> stack{{out.gradFn(), 0}};
    seen.insert(out.gradFn().get());
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      if (next < node->inputs.size()) {
        const std::shared_ptr<TapeNode> &child = node->inputs[next++].node;
        if (child && seen.insert(child.get()).second) stack.emplace_back(child, 0);
        continue;
      }
      post.push_back(node);
      stack.pop_back();
    }
  }
  return {post.rbegin(), post.rend()};
}

} // namespace

int nonFinite(const Tensor &t) {
  if (!t.defined() || t.isTraced() || t.numel() == 0) return 0;
  switch (t.dtype()) {
  case ir::DType::F32: return scan<float>(t);
  case ir::DType::F64: return scan<double>(t);
  case ir::DType::I64:
  case ir::DType::Bool: return 0;
  }
  return 0;
}

void checkBackwardAnomaly(const std::vector<Tensor> &outputs, const std::vector<Tensor> &gradOutputs) {
  NoGradGuard noGrad;
  std::unordered_map<const TapeNode *, Tensor> received; // the summed gradient of each node's result
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor &out = outputs[i];
    if (!out.defined() || !out.gradFn()) continue;
    Tensor seed = i < gradOutputs.size() ? gradOutputs[i] : Tensor();
    if (!seed.defined()) {
      if (out.numel() != 1) return; // the real backward reports the missing gradient
      seed = Tensor::full(out.dtype(), out.shape(), 1.0);
    }
    if (seed.shape() != out.shape() || seed.dtype() != out.dtype()) return; // likewise
    Tensor &g = received[out.gradFn().get()];
    g = g.defined() ? add(g, seed) : seed;
  }
  for (const std::shared_ptr<TapeNode> &node : consumersFirst(outputs)) {
    if (node->released) return; // the real backward reports the freed graph
    auto it = received.find(node.get());
    if (it == received.end() || nonFinite(it->second)) continue; // unused, or a sum that overflowed
    std::vector<Tensor> targets;
    std::vector<size_t> operand;
    for (size_t k = 0; k < node->inputs.size(); ++k) {
      const TapeNode::Input &in = node->inputs[k];
      if (in.node && in.node->released) return;
      if (in.node) targets.push_back(live(in.node));
      else if (in.leaf) targets.push_back(Tensor(in.leaf));
      else continue;
      operand.push_back(k);
    }
    if (targets.empty()) continue;
    std::vector<Tensor> grads = grad({live(node)}, targets, {it->second}, /*retainGraph=*/true,
                                     /*createGraph=*/false, /*allowUnused=*/true);
    for (size_t j = 0; j < grads.size(); ++j) {
      if (int bad = nonFinite(grads[j]))
        throw std::runtime_error(fmt("Function '", node->name(), "' returned ", bad == 1 ? "nan" : "inf",
                                     " values in its ", operand[j], "th output. (dt.autograd.detect_anomaly: the "
                                     "forward op was ", ir::opDef(node->op).name, " with result ",
                                     node->resultType.str(), ")"));
      const TapeNode::Input &in = node->inputs[operand[j]];
      if (!in.node || !grads[j].defined()) continue;
      Tensor &g = received[in.node.get()];
      g = g.defined() ? add(g, grads[j]) : grads[j];
    }
  }
}

} // namespace dt
