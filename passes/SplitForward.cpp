// splitForward: copy the inputs, then the backward nodes in order; a forward result that a
// backward node or a kept output uses becomes a new input at its first use.
#include "passes/SplitForward.h"

#include "ir/Error.h"

#include <unordered_map>

namespace dt::passes {

SplitResult splitForward(const ir::Graph &g, size_t numForward, size_t numForwardOutputs) {
  DT_ASSERT(numForward <= g.nodes.size() && numForwardOutputs <= g.outputs.size());
  SplitResult r;
  r.backward = std::make_unique<ir::Graph>();
  ir::Graph &b = *r.backward;
  b.name = g.name;
  std::unordered_map<const ir::Value *, ir::Value *> map;
  for (ir::Value *in : g.inputs) map[in] = b.addInput(in->type, in->name);

  std::unordered_map<const ir::Value *, int> forwardIndex;
  for (size_t k = 0; k < numForward; ++k) forwardIndex[g.nodes[k]->result] = int(k);
  auto use = [&](const ir::Value *v) {
    if (map.count(v)) return;
    auto it = forwardIndex.find(v);
    DT_ASSERT(it != forwardIndex.end(), "%", v->name, " used before it is defined");
    map[v] = b.addInput(v->type, v->name);
    r.forwardValues.push_back(it->second);
  };
  for (size_t k = numForward; k < g.nodes.size(); ++k) {
    const ir::Node &n = *g.nodes[k];
    std::vector<ir::Value *> ops;
    for (const ir::Value *o : n.operands) {
      use(o);
      ops.push_back(map.at(o));
    }
    ir::Node *c = b.addNode(n.op, ops, n.attrs, n.result->type, n.result->name);
    c->loc = n.loc;
    map[n.result] = c->result;
  }
  for (size_t i = numForwardOutputs; i < g.outputs.size(); ++i) use(g.outputs[i]);
  for (size_t i = numForwardOutputs; i < g.outputs.size(); ++i) b.outputs.push_back(map.at(g.outputs[i]));
  return r;
}

} // namespace dt::passes
