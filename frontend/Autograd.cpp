// backward() and dt::grad: 1. walk the tape from the outputs into an ir::Graph (the forward);
// 2. differentiate it with passes/autodiff; 3. cut off the forward (its values are on the
// tape); 4. compile the backward graph (cached by its printed text) and run it on the saved
// values — or, with create_graph, run it node by node through dt::apply so that it is itself
// recorded; 5. free the tape unless retain_graph.
#include "frontend/Tensor.h"

#include "codegen/Compiler.h"
#include "frontend/Trace.h"
#include "ir/Error.h"
#include "ir/Text.h"
#include "passes/Autodiff.h"
#include "passes/Dce.h"
#include "passes/MemoryPlan.h"
#include "passes/PassManager.h"
#include "passes/SplitForward.h"

#include <atomic>
#include <optional>
#include <mutex>
#include <unordered_map>

namespace dt {

AutogradStats eagerKernelStats(); // frontend/Tensor.cpp

namespace {

std::atomic<int64_t> gBackwardCompiles{0}, gBackwardHits{0};

const char *kFreedMessage =
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward.";

/// The forward graph rebuilt from the tape.
struct TapeGraph {
  std::unique_ptr<ir::Graph> forward = std::make_unique<ir::Graph>();
  std::vector<std::shared_ptr<TapeNode>> nodes; ///< forward node k was recorded by nodes[k]
  std::vector<Tensor> inputs;                   ///< the tensor bound to each forward input
  std::vector<int> targetInput;                 ///< forward input of each target, or -1 (unused)
};

TapeGraph buildTapeGraph(const std::vector<Tensor> &outputs, const std::vector<Tensor> &targets) {
  TapeGraph tg;
  ir::Graph &g = *tg.forward;
  tg.targetInput.assign(targets.size(), -1);
  std::unordered_map<const TapeNode *, size_t> cut;         // non-leaf targets: node -> target index
  std::unordered_map<const TensorImpl *, size_t> leafTarget; // leaf targets
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].isLeaf()) leafTarget.emplace(targets[i].implPtr().get(), i);
    else cut.emplace(targets[i].gradFn().get(), i);
  }

  // Topological order by an iterative post-order walk (no recursion: tapes can be long).
  std::vector<std::shared_ptr<TapeNode>> order;
  std::unordered_map<const TapeNode *, int> state; // 1 = on the stack, 2 = done
  for (const Tensor &out : outputs) {
    if (!out.gradFn() || cut.count(out.gradFn().get()) || state[out.gradFn().get()]) continue;
    std::vector<std::pair<std::shared_ptr<TapeNode>, size_t>> stack{{out.gradFn(), 0}};
    state[out.gradFn().get()] = 1;
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      if (node->released) throw std::runtime_error(kFreedMessage);
      if (next < node->inputs.size()) {
        const std::shared_ptr<TapeNode> &child = node->inputs[next++].node;
        if (child && !cut.count(child.get()) && !state[child.get()]) {
          state[child.get()] = 1;
          stack.emplace_back(child, 0);
        }
        continue;
      }
      state[node.get()] = 2;
      order.push_back(node);
      stack.pop_back();
    }
  }

  std::unordered_map<const TapeNode *, ir::Value *> nodeValue;
  std::unordered_map<const TensorImpl *, ir::Value *> leafValue;
  auto input = [&](const Tensor &bound) {
    tg.inputs.push_back(bound);
    return g.addInput(bound.type());
  };
  auto leafInput = [&](const std::shared_ptr<TensorImpl> &leaf) {
    auto it = leafValue.find(leaf.get());
    if (it != leafValue.end()) return it->second;
    ir::Value *v = input(Tensor(leaf));
    leafValue[leaf.get()] = v;
    if (auto t = leafTarget.find(leaf.get()); t != leafTarget.end()) tg.targetInput[t->second] = int(g.inputs.size() - 1);
    return v;
  };
  auto cutInput = [&](const std::shared_ptr<TapeNode> &node) {
    auto it = nodeValue.find(node.get());
    if (it != nodeValue.end()) return it->second;
    size_t target = cut.at(node.get());
    ir::Value *v = input(targets[target]);
    tg.targetInput[target] = int(g.inputs.size() - 1);
    return nodeValue[node.get()] = v;
  };

  for (const std::shared_ptr<TapeNode> &n : order) {
    std::vector<ir::Value *> ops;
    for (const TapeNode::Input &in : n->inputs) {
      if (in.node) ops.push_back(cut.count(in.node.get()) ? cutInput(in.node) : nodeValue.at(in.node.get()));
      else if (in.leaf) ops.push_back(leafInput(in.leaf));
      else ops.push_back(input(in.value));
    }
    nodeValue[n.get()] = g.addNode(std::string(ir::opDef(n->op).name), ops, n->attrs, n->resultType)->result;
    tg.nodes.push_back(n);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor &out = outputs[i];
    if (!out.requiresGrad())
      throw std::runtime_error(fmt("element ", i, " of tensors does not require grad and does not have a grad_fn"));
    if (out.isLeaf()) g.outputs.push_back(leafInput(out.implPtr()));
    else if (cut.count(out.gradFn().get())) g.outputs.push_back(cutInput(out.gradFn()));
    else g.outputs.push_back(nodeValue.at(out.gradFn().get()));
  }
  return tg;
}

/// A tensor with `node`'s saved result as data and `node` as grad_fn: the live forward value.
Tensor liveResult(const std::shared_ptr<TapeNode> &node) {
  Tensor t = node->result.detach();
  t.impl().requiresGrad = true;
  t.impl().gradFn = node;
  return t;
}

std::shared_ptr<rt::Buffer> bufferOf(const Tensor &t) {
  Tensor d = t.contiguous();
  return rt::Buffer::wrap(d.data(), t.type().bytes(), d.impl().storage);
}

/// The gradient of each target (undefined where the outputs do not depend on it).
std::vector<Tensor> runBackward(const std::vector<Tensor> &outputs, const std::vector<Tensor> &gradOutputs,
                                const std::vector<Tensor> &targets, bool retainGraph, bool createGraph) {
  std::vector<Tensor> seeds = gradOutputs;
  seeds.resize(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor &out = outputs[i];
    if (!seeds[i].defined()) {
      if (out.numel() != 1)
        throw std::runtime_error(fmt("grad can be implicitly created only for scalar outputs (output ", i,
                                     " has shape ", ir::shapeStr(out.shape()), ")"));
      seeds[i] = Tensor::full(out.dtype(), out.shape(), 1.0);
    } else if (seeds[i].shape() != out.shape() || seeds[i].dtype() != out.dtype()) {
      throw std::runtime_error(fmt("Mismatch in shape or dtype: grad_output[", i, "] is ", seeds[i].type().str(),
                                   " and output[", i, "] is ", out.type().str()));
    }
  }

  Trace *trace = activeTrace();
  if (trace) trace->noteBackward(outputs);
  TapeGraph tg = buildTapeGraph(outputs, targets);
  passes::GradSpec spec;
  for (size_t i = 0; i < outputs.size(); ++i) spec.outputs.push_back(int(i));
  std::vector<size_t> targetOfWrt;
  for (size_t i = 0; i < targets.size(); ++i)
    if (tg.targetInput[i] >= 0) {
      spec.wrt.push_back(tg.targetInput[i]);
      targetOfWrt.push_back(i);
    }
  std::unique_ptr<ir::Graph> full = passes::autodiff(*tg.forward, spec);
  passes::SplitResult split = passes::splitForward(*full, tg.forward->nodes.size(), outputs.size());
  passes::dce(*split.backward);
  ir::Graph &bw = *split.backward;

  // Bindings: forward inputs, seeds, then the forward values the backward needs.
  std::vector<Tensor> bound = tg.inputs;
  bound.insert(bound.end(), seeds.begin(), seeds.end());
  for (int k : split.forwardValues)
    bound.push_back(createGraph ? liveResult(tg.nodes[k]) : tg.nodes[k]->result);
  DT_ASSERT(bound.size() == bw.inputs.size(), "backward graph has ", bw.inputs.size(), " inputs, bound ", bound.size());

  std::vector<Tensor> grads;
  if (createGraph || trace) {
    // Node by node through dt::apply: recorded on the tape (create_graph) or into the trace.
    std::optional<NoGradGuard> noGrad;
    if (!createGraph) noGrad.emplace();
    std::unordered_map<const ir::Value *, Tensor> env;
    for (size_t i = 0; i < bound.size(); ++i) env[bw.inputs[i]] = bound[i];
    for (const auto &n : bw.nodes) {
      std::vector<Tensor> ops;
      for (const ir::Value *o : n->operands) ops.push_back(env.at(o));
      env[n->result] = apply(ir::findOp(n->op)->id, ops, n->attrs);
    }
    for (const ir::Value *o : bw.outputs) grads.push_back(env.at(o));
  } else {
    NoGradGuard noGrad;
    static std::mutex mu;
    static std::unordered_map<std::string, std::shared_ptr<rt::Program>> cache;
    std::string key = ir::print(bw);
    std::shared_ptr<rt::Program> prog;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = cache.find(key);
      if (it != cache.end()) {
        prog = it->second;
        ++gBackwardHits;
      } else {
        // The same passes as dt.compile: the backward's elementwise chains fuse into kernels.
        std::unique_ptr<ir::Graph> opt = passes::runPipeline(bw.clone(), kCompilePipeline);
        prog = std::make_shared<rt::Program>(codegen::compile(*opt, passes::memoryPlan(*opt)));
        cache.emplace(key, prog);
        ++gBackwardCompiles;
      }
    }
    std::vector<std::shared_ptr<rt::Buffer>> bufs;
    for (const Tensor &t : bound) bufs.push_back(bufferOf(t));
    std::vector<std::shared_ptr<rt::Buffer>> outs = prog->run(bufs);
    for (size_t i = 0; i < outs.size(); ++i)
      grads.push_back(Tensor::fromBuffer(bw.outputs[i]->type.dtype, bw.outputs[i]->type.shape, outs[i]));
  }

  if (!retainGraph)
    for (const std::shared_ptr<TapeNode> &n : tg.nodes) {
      n->released = true;
      for (TapeNode::Input &in : n->inputs) in.value = Tensor();
      n->result = Tensor();
    }

  std::vector<Tensor> result(targets.size());
  for (size_t w = 0; w < targetOfWrt.size(); ++w) result[targetOfWrt[w]] = grads[w];
  return result;
}

} // namespace

void Tensor::backward(const Tensor &gradient, bool retainGraph) const {
  if (!requiresGrad())
    throw std::runtime_error("element 0 of tensors does not require grad and does not have a grad_fn");
  // The leaves: every leaf requiring grad reachable from this tensor.
  std::vector<Tensor> leaves;
  if (isLeaf()) {
    leaves.push_back(*this);
  } else {
    std::unordered_map<const void *, bool> seen;
    std::vector<TapeNode *> stack{gradFn().get()};
    while (!stack.empty()) {
      TapeNode *n = stack.back();
      stack.pop_back();
      if (seen[n]) continue;
      seen[n] = true;
      if (n->released) throw std::runtime_error(kFreedMessage);
      for (const TapeNode::Input &in : n->inputs) {
        if (in.node) stack.push_back(in.node.get());
        else if (in.leaf && !seen[in.leaf.get()]) {
          seen[in.leaf.get()] = true;
          leaves.push_back(Tensor(in.leaf));
        }
      }
    }
  }
  std::vector<Tensor> grads = runBackward({*this}, {gradient}, leaves, retainGraph, false);
  NoGradGuard noGrad;
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor old = leaves[i].grad();
    Tensor::assignGrad(leaves[i].implPtr(), (old.defined() ? apply(ir::OpId::Add, {old, grads[i]}) : grads[i]).implPtr(),
                       /*computedByBackward=*/true);
  }
}

std::vector<Tensor> grad(const std::vector<Tensor> &outputs, const std::vector<Tensor> &inputs,
                         const std::vector<Tensor> &gradOutputs, bool retainGraph, bool createGraph, bool allowUnused) {
  if (outputs.empty()) throw ValueError("grad: outputs is empty");
  if (!gradOutputs.empty() && gradOutputs.size() != outputs.size())
    throw ValueError(fmt("grad: got ", gradOutputs.size(), " grad_outputs for ", outputs.size(), " outputs"));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].requiresGrad())
      throw std::runtime_error(fmt("One of the differentiated Tensors (input ", i, ") does not require grad"));
  std::vector<Tensor> grads = runBackward(outputs, gradOutputs, inputs, retainGraph || createGraph, createGraph);
  for (size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined() && !allowUnused)
      throw std::runtime_error(fmt("One of the differentiated Tensors (input ", i,
                                   ") appears to not have been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior."));
  return grads;
}

AutogradStats autogradStats() {
  AutogradStats s = eagerKernelStats();
  s.backwardCompiles = gBackwardCompiles;
  s.backwardCacheHits = gBackwardHits;
  return s;
}

} // namespace dt
