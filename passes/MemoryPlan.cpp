// memory_plan (rules in MemoryPlan.h): last uses, then one walk over the nodes that assigns
// buffers from a free list, and the plan's text form.
#include "passes/MemoryPlan.h"

#include "ir/Error.h"
#include "ir/Ops.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace dt::passes {

namespace {

using ir::Node;
using ir::Value;

bool isElementwiseKind(ir::OpKind k) {
  switch (k) {
  case ir::OpKind::Unary:
  case ir::OpKind::Binary:
  case ir::OpKind::Compare:
  case ir::OpKind::Where:
  case ir::OpKind::Cast: return true;
  case ir::OpKind::Const:
  case ir::OpKind::MatMul:
  case ir::OpKind::Reduce:
  case ir::OpKind::ArgReduce:
  case ir::OpKind::Layout:
  case ir::OpKind::Indexing:
  case ir::OpKind::Kernel: return false;
  }
  return false;
}

/// Whether n reads each operand element only at the position of the result element it writes:
/// elementwise ops and kernels whose region is elementwise only (no matmul, no reduction).
bool elementwiseNode(const Node &n) {
  const ir::OpDef *def = ir::findOp(n.op);
  if (!def) return false;
  if (def->kind != ir::OpKind::Kernel) return isElementwiseKind(def->kind);
  if (!n.region) return false;
  for (const auto &r : n.region->nodes) {
    const ir::OpDef *rd = ir::findOp(r->op);
    if (!rd || (!isElementwiseKind(rd->kind) && rd->kind != ir::OpKind::Const && rd->id != ir::OpId::BroadcastTo)) return false;
  }
  return true;
}

} // namespace

ir::MemoryPlan memoryPlan(const ir::Graph &g, std::span<const std::pair<int, int>> donate) {
  ir::MemoryPlan plan;
  std::unordered_set<const Value *> inputs(g.inputs.begin(), g.inputs.end());
  std::unordered_set<const Value *> outputs(g.outputs.begin(), g.outputs.end());
  // Inputs, outputs and consts (codegen fills a const's buffer once, when it compiles) keep a
  // buffer of their own that nothing else ever writes.
  auto isConst = [](const Value *v) { return v->def && v->def->op == "const"; };
  auto pinned = [&](const Value *v) { return inputs.count(v) || outputs.count(v) || isConst(v); };
  // Each value's group: a reshape alias joins its operand's group (root = the first value).
  std::unordered_map<const Value *, const Value *> rootOf;
  auto root = [&](const Value *v) {
    auto it = rootOf.find(v);
    return it == rootOf.end() ? v : it->second;
  };
  std::vector<bool> alias(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node &n = *g.nodes[i];
    const ir::OpDef *def = ir::findOp(n.op);
    if (!def || def->id != ir::OpId::Reshape || n.operands.size() != 1 || pinned(n.operands[0]) || outputs.count(n.result)) continue;
    alias[i] = true;
    rootOf[n.result] = root(n.operands[0]);
  }
  std::unordered_map<const Value *, int64_t> lastUse; // node index of the last reader of any group member
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const Value *o : g.nodes[i]->operands) lastUse[root(o)] = int64_t(i);

  // Donations: the node result that is donated, and the input whose buffer it takes.
  std::unordered_map<const Value *, const Value *> donatedInto;
  {
    std::unordered_map<const Value *, size_t> nodeOf;
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (const Value *r : g.nodes[i]->results()) nodeOf[r] = i;
    std::unordered_set<const Value *> taken;
    for (auto [k, in] : donate) {
      if (k < 0 || size_t(k) >= g.outputs.size() || in < 0 || size_t(in) >= g.inputs.size())
        throw ValueError(fmt("memory_plan: donation of output ", k, " to input ", in, ": the graph has ", g.outputs.size(),
                             " outputs and ", g.inputs.size(), " inputs"));
      const Value *v = g.outputs[size_t(k)], *x = g.inputs[size_t(in)];
      auto p = nodeOf.find(v);
      if (p == nodeOf.end() || isConst(v) || std::count(g.outputs.begin(), g.outputs.end(), v) != 1 || outputs.count(x) ||
          !(v->type == x->type) || taken.count(x) || taken.count(v))
        continue;
      const Node &n = *g.nodes[p->second];
      auto lu = lastUse.find(x);
      bool readHere = std::find(n.operands.begin(), n.operands.end(), x) != n.operands.end();
      bool readAfter = lu != lastUse.end() && lu->second > int64_t(p->second);
      if (readAfter || (readHere && !elementwiseNode(n))) continue;
      taken.insert(x);
      taken.insert(v);
      donatedInto[v] = x;
      plan.donations.emplace_back(k, in);
    }
  }

  std::vector<int> freeList; // buffers of dead groups
  std::unordered_map<const Value *, int> bufOf;
  auto newBuffer = [&](const Value *v) {
    plan.bufferBytes.push_back(int64_t(v->type.bytes()));
    return int(plan.bufferBytes.size()) - 1;
  };
  auto assign = [&](const Value *v, int b) {
    DT_ASSERT(plan.bufferOf.emplace(v->name, b).second, "memory_plan: value %", v->name, " defined twice");
    bufOf[v] = b;
    plan.unplannedBytes += int64_t(v->type.bytes());
  };

  int64_t live = 0;
  for (const Value *v : g.inputs) {
    assign(v, newBuffer(v));
    live += int64_t(v->type.bytes());
  }
  plan.livePeakBytes = live;

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node &n = *g.nodes[i];
    std::vector<Value *> results = n.results();
    std::unordered_set<const Value *> inPlaceOf; // the roots whose buffers results take over
    int64_t reused = 0; // bytes of those roots: in place, a result replaces them
    for (const Value *r : results) {
      int64_t bytes = int64_t(r->type.bytes());
      int buf = -1;
      const Value *took = nullptr;
      if (alias[i]) {
        buf = bufOf.at(n.operands[0]);
        plan.aliases.push_back(r->name);
      }
      auto d = donatedInto.find(r);
      bool donated = d != donatedInto.end();
      if (donated) {
        buf = bufOf.at(d->second);
        if (std::find(n.operands.begin(), n.operands.end(), d->second) != n.operands.end()) plan.inPlace.push_back(r->name);
      }
      if (buf < 0 && !outputs.count(r) && elementwiseNode(n)) {
        for (const Value *o : n.operands)
          if (o->type == r->type && lastUse.at(root(o)) == int64_t(i) && !pinned(root(o)) && !inPlaceOf.count(root(o))) {
            buf = bufOf.at(o);
            took = root(o);
            inPlaceOf.insert(took);
            plan.inPlace.push_back(r->name);
            break;
          }
      }
      if (buf < 0 && !pinned(r)) {
        auto best = freeList.end();
        for (auto it = freeList.begin(); it != freeList.end(); ++it)
          if (plan.bufferBytes[size_t(*it)] >= bytes && (best == freeList.end() || plan.bufferBytes[size_t(*it)] < plan.bufferBytes[size_t(*best)]))
            best = it;
        if (best != freeList.end()) {
          buf = *best;
          freeList.erase(best);
        }
      }
      if (buf < 0) buf = newBuffer(r);
      assign(r, buf);
      if (!alias[i] && !donated) live += bytes; // an alias or a donated output adds no bytes
      if (took) reused += int64_t(took->type.bytes());
    }
    plan.livePeakBytes = std::max(plan.livePeakBytes, live - reused);

    // Free the groups that die here (each once): an operand's whose last reader is this node, and
    // a result's if nobody reads it.
    std::unordered_set<const Value *> done;
    std::vector<const Value *> members(n.operands.begin(), n.operands.end());
    members.insert(members.end(), results.begin(), results.end());
    for (const Value *m : members) {
      const Value *g0 = root(m);
      if (!done.insert(g0).second || pinned(g0) || outputs.count(m)) continue;
      auto lu = lastUse.find(g0);
      if (lu != lastUse.end() && lu->second > int64_t(i)) continue;
      live -= int64_t(g0->type.bytes());
      if (!inPlaceOf.count(g0)) freeList.push_back(bufOf.at(g0));
    }
  }
  for (int64_t b : plan.bufferBytes) plan.plannedBytes += b;
  return plan;
}

std::string printMemoryPlan(const ir::Graph &g, const ir::MemoryPlan &plan) {
  std::vector<std::vector<std::string>> held(plan.bufferBytes.size());
  std::unordered_set<std::string> inPlace(plan.inPlace.begin(), plan.inPlace.end());
  std::unordered_set<std::string> aliases(plan.aliases.begin(), plan.aliases.end());
  std::unordered_set<const Value *> outputs(g.outputs.begin(), g.outputs.end());
  std::unordered_set<const Value *> donated;
  for (auto [k, in] : plan.donations)
    if (k >= 0 && size_t(k) < g.outputs.size()) donated.insert(g.outputs[size_t(k)]);
  auto note = [&](const Value *v, const char *role) {
    auto it = plan.bufferOf.find(v->name);
    if (it == plan.bufferOf.end() || it->second < 0 || size_t(it->second) >= held.size())
      throw ValueError(fmt("memory plan: value %", v->name, " has no buffer"));
    std::string s = "%" + v->name;
    if (*role) s += fmt(" (", role, ")");
    held[size_t(it->second)].push_back(s);
  };
  for (const Value *v : g.inputs) note(v, outputs.count(v) ? "input, output" : "input");
  for (const auto &n : g.nodes)
    for (const Value *r : n->results())
      note(r, n->op == "const" && !outputs.count(r) ? "const"
              : donated.count(r)                    ? "output, donated"
              : outputs.count(r)                    ? "output"
              : inPlace.count(r->name)              ? "in place"
              : aliases.count(r->name)              ? "alias"
                                                    : "");

  std::string out = fmt("// memory-plan: ", plan.bufferBytes.size(), plan.bufferBytes.size() == 1 ? " buffer, " : " buffers, ",
                        plan.plannedBytes, " bytes (", plan.unplannedBytes, " bytes with one buffer per value; ",
                        plan.livePeakBytes, " bytes live at most)\n");
  for (size_t b = 0; b < held.size(); ++b) {
    out += fmt("// buffer ", b, ": ", plan.bufferBytes[b], " bytes:");
    for (size_t j = 0; j < held[b].size(); ++j) out += (j ? ", " : " ") + held[b][j];
    out += "\n";
  }
  return out;
}

int memoryPlanPass(ir::Graph &g) {
  memoryPlan(g);
  return 0;
}

} // namespace dt::passes
