// Elementwise fusion (algorithm in Fusion.h): group discovery shared by fusion() and
// explainFusion(), then the in-place rewrite of each group into a kernel node with a region.
#include "passes/Fusion.h"

#include "ir/Error.h"
#include "ir/Ops.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace dt::passes {

namespace {

using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Value;

bool isFusible(const Node &n) {
  const ir::OpDef *def = ir::findOp(n.op);
  if (!def) return false;
  switch (def->kind) {
  case OpKind::Unary:
  case OpKind::Binary:
  case OpKind::Compare:
  case OpKind::Where:
  case OpKind::Cast: return true;
  case OpKind::Layout: return def->id == ir::OpId::BroadcastTo;
  case OpKind::Const:
  case OpKind::MatMul:
  case OpKind::Reduce:
  case OpKind::ArgReduce:
  case OpKind::Indexing:
  case OpKind::Kernel: return false;
  }
  return false;
}

/// A const cheap enough to clone into every region that reads it.
bool isScalarConst(const Node *n) { return n && n->op == "const" && n->result->type.numel() <= 1; }

bool broadcastsTo(const ir::Shape &s, const ir::Shape &out) {
  auto b = ir::broadcastShapes(s, out);
  return b && *b == out;
}

struct Groups {
  std::unordered_map<const Node *, size_t> index;             ///< topological position
  std::unordered_map<const Value *, std::vector<const Node *>> users; ///< distinct reading nodes
  std::unordered_set<const Value *> outputs;
  std::unordered_map<const Node *, int> groupOf;              ///< fusible nodes only
  std::vector<std::vector<const Node *>> members;             ///< per group, topological order
  std::vector<const Node *> roots;

  bool fused(int gid) const { return members[size_t(gid)].size() >= 2; }
  int group(const Node *n) const {
    auto it = groupOf.find(n);
    return it == groupOf.end() ? -1 : it->second;
  }
  /// Distinct users of v outside group gid.
  int usesOutside(const Value *v, int gid) const {
    int k = 0;
    auto it = users.find(v);
    if (it != users.end())
      for (const Node *u : it->second) k += group(u) != gid;
    return k;
  }
  /// Why producer p (a fusible node) may not join group gid, or "" if it may.
  std::string blocker(const Node *p, int gid) const {
    const Value *v = p->result;
    int outside = usesOutside(v, gid);
    bool out = outputs.count(v) > 0;
    if (outside > 0 || out) {
      std::string r = "%" + v->name;
      if (outside > 0) r += fmt(" has ", outside, outside == 1 ? " use" : " uses", " outside the group");
      if (outside > 0 && out) r += " and";
      if (out) r += " is a graph output";
      return r;
    }
    const ir::Shape &shape = roots[size_t(gid)]->result->type.shape;
    if (!broadcastsTo(v->type.shape, shape))
      return fmt("%", v->name, " of type ", v->type.str(), " does not broadcast to the group's shape");
    for (const Value *o : p->operands)
      if (!broadcastsTo(o->type.shape, shape))
        return fmt("%", v->name, "'s operand %", o->name, " of type ", o->type.str(),
                   " does not broadcast to the group's shape");
    return "";
  }
};

Groups findGroups(const Graph &g) {
  Groups gr;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node *n = g.nodes[i].get();
    gr.index[n] = i;
    for (const Value *o : n->operands) {
      auto &us = gr.users[o];
      if (std::find(us.begin(), us.end(), n) == us.end()) us.push_back(n);
    }
  }
  gr.outputs.insert(g.outputs.begin(), g.outputs.end());

  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node *root = g.nodes[k].get();
    if (gr.groupOf.count(root) || !isFusible(*root)) continue;
    int gid = int(gr.members.size());
    gr.members.push_back({root});
    gr.roots.push_back(root);
    gr.groupOf[root] = gid;
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t m = 0; m < gr.members[size_t(gid)].size(); ++m) {
        const Node *member = gr.members[size_t(gid)][m];
        for (const Value *o : member->operands) {
          const Node *p = o->def;
          if (!p || gr.groupOf.count(p) || !isFusible(*p) || !gr.blocker(p, gid).empty()) continue;
          gr.groupOf[p] = gid;
          gr.members[size_t(gid)].push_back(p);
          changed = true;
        }
      }
    }
    auto &ms = gr.members[size_t(gid)];
    std::sort(ms.begin(), ms.end(), [&](const Node *a, const Node *b) { return gr.index.at(a) < gr.index.at(b); });
  }
  return gr;
}

} // namespace

int fusion(Graph &g) {
  Groups gr = findGroups(g);

  std::unordered_set<std::string> callees;
  for (const auto &n : g.nodes)
    if (!n->callee.empty()) callees.insert(n->callee);
  int nextName = 0;
  auto freshCallee = [&] {
    std::string s;
    do s = "fused_" + std::to_string(nextName++);
    while (callees.count(s));
    callees.insert(s);
    return s;
  };

  // Build every kernel first (the old nodes are still intact), then splice them in.
  std::unordered_map<const Node *, std::unique_ptr<Node>> kernelFor; // root -> kernel
  std::unordered_set<const Node *> erased;
  // Walk groups in topological order of their roots so callee numbers follow the program order.
  std::vector<int> order;
  for (size_t gid = 0; gid < gr.members.size(); ++gid)
    if (gr.fused(int(gid))) order.push_back(int(gid));
  std::sort(order.begin(), order.end(), [&](int a, int b) { return gr.index.at(gr.roots[size_t(a)]) < gr.index.at(gr.roots[size_t(b)]); });

  for (int gid : order) {
    const Node *root = gr.roots[size_t(gid)];
    auto k = std::make_unique<Node>();
    k->op = "kernel";
    k->callee = freshCallee();
    k->loc = root->loc;
    k->region = std::make_unique<Graph>();
    Graph &r = *k->region;
    r.name = k->callee;
    std::unordered_map<const Value *, Value *> map;
    for (const Node *m : gr.members[size_t(gid)]) {
      std::vector<Value *> ops;
      for (Value *o : m->operands) {
        if (!map.count(o)) {
          DT_ASSERT(!(o->def && gr.group(o->def) == gid), "fusion: member %", o->name, " used before it is defined");
          if (isScalarConst(o->def)) {
            map[o] = r.addNode("const", {}, o->def->attrs, o->type, o->name)->result;
          } else {
            k->operands.push_back(o);
            map[o] = r.addInput(o->type, o->name);
          }
        }
        ops.push_back(map.at(o));
      }
      map[m->result] = r.addNode(m->op, ops, m->attrs, m->result->type, m->result->name)->result;
      if (m != root) erased.insert(m);
    }
    r.outputs.push_back(map.at(root->result));
    kernelFor[root] = std::move(k);
  }
  if (kernelFor.empty()) return 0;

  // Scalar consts whose every use is now inside regions.
  for (const auto &n : g.nodes) {
    if (!isScalarConst(n.get()) || gr.outputs.count(n->result)) continue;
    bool outside = false;
    auto it = gr.users.find(n->result);
    if (it != gr.users.end())
      for (const Node *u : it->second) {
        int gid = gr.group(u);
        outside |= gid < 0 || !gr.fused(gid);
      }
    if (!outside) erased.insert(n.get());
  }

  for (auto &slot : g.nodes) {
    auto it = kernelFor.find(slot.get());
    if (it == kernelFor.end()) continue;
    Node &k = *it->second;
    k.result = slot->result;
    k.result->def = &k;
    slot = std::move(it->second); // destroys the root node; its value lives on in the kernel
  }
  std::erase_if(g.values, [&](const std::unique_ptr<Value> &v) { return v->def && erased.count(v->def); });
  std::erase_if(g.nodes, [&](const std::unique_ptr<Node> &n) { return erased.count(n.get()) > 0; });
  return int(kernelFor.size());
}

std::string explainFusion(const Graph &g) {
  Groups gr = findGroups(g);
  std::string out;
  for (const auto &np : g.nodes) {
    const Node *c = np.get();
    int cg = gr.group(c);
    std::unordered_set<const Node *> seen;
    for (const Value *o : c->operands) {
      const Node *p = o->def;
      if (!p || !seen.insert(p).second) continue;
      int pg = gr.group(p);
      if (pg >= 0 && pg == cg) continue; // fused together (or both the same lone node: impossible)
      std::string why;
      if (isScalarConst(p)) {
        continue; // cloned into the consumer's region when it has one; never a real boundary
      } else if (p->op == "const") {
        why = fmt("%", o->name, " = const: not elementwise (", o->type.numel(), " elements stay a kernel operand)");
      } else if (!isFusible(*p)) {
        why = fmt("%", o->name, " = ", p->op, ": not elementwise");
      } else if (!isFusible(*c)) {
        why = fmt("%", c->result->name, " = ", c->op, ": not elementwise");
      } else {
        why = gr.blocker(p, cg);
        DT_ASSERT(!why.empty(), "fusion: %", o->name, " could have joined %", c->result->name, "'s group");
      }
      out += fmt("%", o->name, " -> %", c->result->name, ": ", why, "\n");
    }
  }
  return out;
}

} // namespace dt::passes
