// Reverse-mode autodiff over the IR (see passes/Autodiff.h for the algorithm).
#include "passes/Autodiff.h"

#include "ir/Error.h"
#include "ir/Ops.h"
#include "passes/Vjp.h"

#include <unordered_map>
#include <unordered_set>

namespace dt::passes {

using ir::Value;

std::unique_ptr<ir::Graph> autodiff(const ir::Graph &src, const GradSpec &spec) {
  std::unique_ptr<ir::Graph> g = src.clone();
  for (int o : spec.outputs) {
    if (o < 0 || o >= int(g->outputs.size()))
      throw ValueError(fmt("autodiff: output index ", o, " is out of range (the graph has ", g->outputs.size(), " outputs)"));
    if (!differentiable(g->outputs[o]->type.dtype))
      throw ValueError(fmt("autodiff: output %", g->outputs[o]->name, " has type ", g->outputs[o]->type.str(),
                           "; only f32/f64 outputs can be differentiated"));
  }
  for (int i : spec.wrt) {
    if (i < 0 || i >= int(g->inputs.size()))
      throw ValueError(fmt("autodiff: input index ", i, " is out of range (the graph has ", g->inputs.size(), " inputs)"));
    if (!differentiable(g->inputs[i]->type.dtype))
      throw ValueError(fmt("autodiff: input %", g->inputs[i]->name, " has type ", g->inputs[i]->type.str(),
                           "; only f32/f64 inputs have gradients"));
  }

  // 2. Seeds.
  std::unordered_map<const Value *, Value *> ct;
  auto accumulate = [&](const Value *v, Value *c) {
    DT_ASSERT(c->type == v->type, "cotangent of %", v->name, " has type ", c->type.str(), ", expected ", v->type.str());
    auto [it, fresh] = ct.try_emplace(v, c);
    if (!fresh) it->second = ir::emit(*g, ir::OpId::Add, {it->second, c});
  };
  for (int o : spec.outputs) {
    Value *out = g->outputs[o];
    accumulate(out, g->addInput(out->type, g->uniqueName("d_" + out->name)));
  }

  // 3. Nodes on a path wrt -> outputs: forward reachability from wrt, backward from outputs.
  std::unordered_set<const Value *> fromWrt;
  for (int i : spec.wrt) fromWrt.insert(g->inputs[i]);
  size_t forwardNodes = src.nodes.size();
  for (size_t k = 0; k < forwardNodes; ++k) {
    const ir::Node &n = *g->nodes[k];
    for (const Value *o : n.operands)
      if (fromWrt.count(o) && differentiable(n.result->type.dtype)) {
        fromWrt.insert(n.result);
        break;
      }
  }

  // 4. Reverse walk over the forward nodes (the backward nodes are appended behind them).
  for (size_t k = forwardNodes; k-- > 0;) {
    const ir::Node &n = *g->nodes[k];
    auto it = ct.find(n.result);
    if (it == ct.end() || !fromWrt.count(n.result)) continue;
    std::vector<Value *> grads = vjp(*g, n, it->second);
    DT_ASSERT(grads.size() == n.operands.size() || n.operands.empty(), "VJP of ", n.op, " returned ",
              grads.size(), " cotangents for ", n.operands.size(), " operands");
    for (size_t i = 0; i < grads.size(); ++i)
      if (grads[i] && fromWrt.count(n.operands[i])) accumulate(n.operands[i], grads[i]);
  }

  // 5. Gradients as outputs.
  for (int i : spec.wrt) {
    Value *in = g->inputs[i];
    auto it = ct.find(in);
    Value *grad = it != ct.end() ? it->second : nullptr;
    if (!grad) {
      grad = ir::emit(*g, ir::OpId::Const, {},
                      {{"dtype", ir::Attr(std::string(ir::dtypeName(in->type.dtype)))},
                       {"shape", ir::Attr::ints(in->type.shape)},
                       {"value", ir::Attr(0.0)}});
    }
    g->outputs.push_back(grad);
  }
  return g;
}

} // namespace dt::passes
