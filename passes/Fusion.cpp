// Fusion (rules in Fusion.h): group discovery shared by fusion() and explainFusion(), then the
// in-place rewrite of each group into a kernel node with a region.
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

/// The kind of op a node is, for fusion.
enum class Role { Elementwise, Reduction, MatMul, Other };

Role roleOf(const Node &n) {
  const ir::OpDef *def = ir::findOp(n.op);
  if (!def) return Role::Other;
  switch (def->kind) {
  case OpKind::Unary:
  case OpKind::Binary:
  case OpKind::Compare:
  case OpKind::Where:
  case OpKind::Cast: return Role::Elementwise;
  case OpKind::Layout: return def->id == ir::OpId::BroadcastTo ? Role::Elementwise : Role::Other;
  case OpKind::Reduce: return Role::Reduction;
  case OpKind::MatMul: return Role::MatMul;
  case OpKind::Const:
  case OpKind::ArgReduce:
  case OpKind::Indexing:
  case OpKind::Kernel: return Role::Other;
  }
  return Role::Other;
}

/// The most results a multi-output kernel gets.
constexpr size_t kMaxResults = 8;

/// A const cheap enough to clone into every region that reads it.
bool isScalarConst(const Node *n) { return n && n->op == "const" && n->result->type.numel() <= 1; }

bool broadcastsTo(const ir::Shape &s, const ir::Shape &out) {
  auto b = ir::broadcastShapes(s, out);
  return b && *b == out;
}

std::string uses(int k) { return fmt(k, k == 1 ? " use" : " uses"); }

struct Groups {
  std::unordered_map<const Node *, size_t> index;             ///< topological position
  std::unordered_map<const Value *, std::vector<const Node *>> users; ///< distinct reading nodes
  std::unordered_set<const Value *> outputs;
  std::unordered_map<const Node *, int> groupOf;              ///< grouped nodes only
  std::vector<std::vector<const Node *>> members;             ///< per group, region order
  std::vector<const Node *> roots;
  std::vector<ir::Shape> shapes;          ///< per group: the shape of its loop nest
  std::vector<const Node *> matmuls;      ///< per group: its matmul (epilogue groups) or nullptr
  /// Per group: broadcast_to nodes with uses elsewhere, cloned into the region (index arithmetic,
  /// free to repeat), so no fused kernel reads a materialized broadcast it could compute.
  std::vector<std::unordered_set<const Node *>> clones;
  std::unordered_set<const Node *> clonedAnywhere;

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
  /// Why the value of p may not be computed inside group gid only: it is read outside or is a
  /// graph output. "" if neither.
  std::string escapes(const Node *p, int gid) const {
    const Value *v = p->result;
    int outside = usesOutside(v, gid);
    bool out = outputs.count(v) > 0;
    if (outside == 0 && !out) return "";
    std::string r = "%" + v->name;
    if (outside > 0) r += fmt(" has ", uses(outside), " outside the group");
    if (outside > 0 && out) r += " and";
    if (out) r += " is a graph output";
    return r;
  }
  /// Whether group gid is elementwise: its root is elementwise and it holds no matmul (only such a
  /// group may have several results).
  bool elementwiseGroup(int gid) const {
    return roleOf(*roots[size_t(gid)]) == Role::Elementwise && !matmuls[size_t(gid)];
  }
  /// Members of gid other than its root whose values are read outside it or returned: the
  /// kernel's further results.
  std::vector<const Node *> furtherResults(int gid) const {
    std::vector<const Node *> out;
    for (const Node *m : members[size_t(gid)])
      if (m != roots[size_t(gid)] && !clones[size_t(gid)].count(m) && !escapes(m, gid).empty()) out.push_back(m);
    return out;
  }
  /// Why elementwise producer p may not join group gid, neither computed inside only nor as a
  /// further result of an elementwise group, or "" if it may. A further result has the group's
  /// exact shape (it is stored at every point of the nest) and every reader outside comes after the
  /// group's root (the kernel takes the root's place).
  std::string joinBlocker(const Node *p, int gid) const {
    if (std::string b = placeBlocker(p, gid); !b.empty()) return b;
    std::string e = escapes(p, gid);
    if (e.empty()) return "";
    if (!elementwiseGroup(gid))
      return e + fmt(" (only an elementwise kernel has several results; the group of %", roots[size_t(gid)]->result->name,
                     matmuls[size_t(gid)] ? " holds a matmul" : " ends in a reduction", ")");
    if (p->result->type.shape != shapes[size_t(gid)])
      return e + fmt(" and its type ", p->result->type.str(), " is not the group's shape ", ir::shapeStr(shapes[size_t(gid)]),
                     " (a further result is stored at every point of the nest)");
    if (furtherResults(gid).size() + 1 >= kMaxResults)
      return e + fmt(" (the group already has ", kMaxResults, " results)");
    size_t rootAt = index.at(roots[size_t(gid)]);
    if (auto it = users.find(p->result); it != users.end())
      for (const Node *u : it->second)
        if (group(u) != gid && index.at(u) < rootAt)
          return e + fmt(" and %", u->result->name, " reads it before the group's root %", roots[size_t(gid)]->result->name,
                         " (where the kernel runs)");
    return "";
  }
  /// Whether p may be computed in gid's nest at all (use conditions aside), or "" if it may.
  std::string placeBlocker(const Node *p, int gid) const {
    const Value *v = p->result;
    if (const Node *m = matmuls[size_t(gid)])
      if (std::find(m->operands.begin(), m->operands.end(), v) != m->operands.end())
        return fmt("%", v->name, " is an operand of the group's matmul %", m->result->name, " (matmul operands are materialized)");
    const ir::Shape &shape = shapes[size_t(gid)];
    if (!broadcastsTo(v->type.shape, shape))
      return fmt("%", v->name, " of type ", v->type.str(), " does not broadcast to the group's shape");
    for (const Value *o : p->operands)
      if (!broadcastsTo(o->type.shape, shape))
        return fmt("%", v->name, "'s operand %", o->name, " of type ", o->type.str(),
                   " does not broadcast to the group's shape");
    return "";
  }
  /// Why matmul p may not become the head of group gid's region (its epilogue), or "" if it may.
  std::string matmulBlocker(const Node *p, int gid) const {
    const Node *root = roots[size_t(gid)];
    if (roleOf(*root) != Role::Elementwise)
      return fmt("%", root->result->name, " = ", root->op, ": only elementwise ops fuse into a matmul's epilogue");
    if (const Node *m = matmuls[size_t(gid)]; m && m != p)
      return fmt("the group already holds matmul %", m->result->name, " (one matmul per kernel)");
    if (auto more = furtherResults(gid); !more.empty())
      return fmt("the group has several results (%", more[0]->result->name, " too), a matmul kernel has one");
    if (std::string e = escapes(p, gid); !e.empty())
      return e + (usesOutside(p->result, gid) > 0 ? " (the matmul would be computed twice)" : " (it is stored as it is)");
    for (const Value *o : p->operands)
      if (o->def && group(o->def) == gid)
        return fmt("its operand %", o->name, " is computed in the group (matmul operands are materialized)");
    if (p->result->type != root->result->type)
      return fmt("the group's result ", root->result->type.str(), " is not the matmul's type ", p->result->type.str(),
                 " (the epilogue runs on the matmul's output tile)");
    return "";
  }
};

/// Where the value of v is computed once fusion is done: its node's place, or its kernel's (the
/// root's) when a fused group computes it; -1 for a graph input.
int64_t placeOf(const Groups &gr, const Value *v) {
  if (!v->def) return -1;
  int gid = gr.group(v->def);
  return int64_t(gr.index.at(gid >= 0 && gr.fused(gid) ? gr.roots[size_t(gid)] : v->def));
}

/// Sibling fusion: an elementwise group joins an earlier one of the same nest shape when every
/// value its members read from outside it is computed in the earlier group or before that
/// group's kernel runs (the merged kernel takes the earlier root's place, so nothing it reads is
/// computed later). Independent loops over the same points become one loop with several results
/// (e.g. the step counters of an optimizer, or two masks of one label vector). Reduction groups
/// over the same axes of one shape merge the same way: one walk, one accumulator per reduction
/// (e.g. the sums of a loss and of its mask).
void mergeSiblings(Groups &gr) {
  // Two groups may merge when both are elementwise over one nest, or both reductions (no matmul)
  // of operands of one shape over the same axes into the same result shape.
  auto reductionGroup = [&](int gid) { return roleOf(*gr.roots[size_t(gid)]) == Role::Reduction && !gr.matmuls[size_t(gid)]; };
  auto sameKind = [&](int a, int b) {
    if (gr.shapes[size_t(a)] != gr.shapes[size_t(b)]) return false;
    if (gr.elementwiseGroup(a) && gr.elementwiseGroup(b)) return true;
    if (!reductionGroup(a) || !reductionGroup(b)) return false;
    const Node &ra = *gr.roots[size_t(a)], &rb = *gr.roots[size_t(b)];
    int64_t rank = int64_t(gr.shapes[size_t(a)].size());
    return ra.result->type.shape == rb.result->type.shape &&
           ir::reduceAxes(*ir::findOp(ra.op), ra.attrs, rank) == ir::reduceAxes(*ir::findOp(rb.op), rb.attrs, rank);
  };
  std::vector<int> order;
  for (size_t gid = 0; gid < gr.members.size(); ++gid)
    if (!gr.members[gid].empty() && (gr.elementwiseGroup(int(gid)) || reductionGroup(int(gid)))) order.push_back(int(gid));
  std::sort(order.begin(), order.end(), [&](int a, int b) { return gr.index.at(gr.roots[size_t(a)]) < gr.index.at(gr.roots[size_t(b)]); });
  auto results = [&](int gid) { return 1 + gr.furtherResults(gid).size(); };
  std::vector<int> open; // groups others may join, in program order
  for (int x : order) {
    int into = -1;
    for (int t : open) {
      if (!sameKind(t, x) || results(t) + results(x) > kMaxResults) continue;
      int64_t at = int64_t(gr.index.at(gr.roots[size_t(t)]));
      bool ready = true;
      for (const Node *m : gr.members[size_t(x)])
        for (const Value *o : m->operands) {
          int og = o->def ? gr.group(o->def) : -1;
          // (a scalar const is cloned into the region, a clone is computed there; a value of t is
          // known at each point, except a reduction's, known only once the walk is done)
          if (og == t && roleOf(*o->def) == Role::Reduction) ready = false;
          if (og == x || og == t || isScalarConst(o->def) || (o->def && gr.clones[size_t(x)].count(o->def))) continue;
          ready = ready && placeOf(gr, o) < at;
        }
      if (ready) {
        into = t;
        break;
      }
    }
    if (into < 0) {
      open.push_back(x);
      continue;
    }
    auto &ms = gr.members[size_t(into)];
    for (const Node *m : gr.members[size_t(x)]) {
      if (gr.clones[size_t(x)].count(m)) {
        if (!gr.clones[size_t(into)].insert(m).second) continue; // the same broadcast, cloned once
      } else {
        gr.groupOf[m] = into;
      }
      ms.push_back(m);
    }
    gr.members[size_t(x)].clear();
    gr.clones[size_t(x)].clear();
    // Program order, except that a reduction kernel's reductions come last (each group's root:
    // nothing in the group reads them), in program order too.
    auto last = [&](const Node *n) { return roleOf(*n) == Role::Reduction; };
    std::sort(ms.begin(), ms.end(), [&](const Node *a, const Node *b) {
      if (last(a) != last(b)) return last(b);
      return gr.index.at(a) < gr.index.at(b);
    });
  }
}

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
    Role role = roleOf(*root);
    if (gr.groupOf.count(root) || gr.clonedAnywhere.count(root) || (role != Role::Elementwise && role != Role::Reduction))
      continue;
    int gid = int(gr.members.size());
    gr.members.push_back({root});
    gr.roots.push_back(root);
    gr.shapes.push_back(role == Role::Reduction ? root->operands[0]->type.shape : root->result->type.shape);
    gr.matmuls.push_back(nullptr);
    gr.clones.emplace_back();
    gr.groupOf[root] = gid;
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t m = 0; m < gr.members[size_t(gid)].size(); ++m) {
        const Node *member = gr.members[size_t(gid)][m];
        // A matmul's operands are materialized inputs; a clone's operand is read where it is.
        if (roleOf(*member) == Role::MatMul || gr.clones[size_t(gid)].count(member)) continue;
        for (const Value *o : member->operands) {
          const Node *p = o->def;
          if (!p || gr.groupOf.count(p) || gr.clones[size_t(gid)].count(p)) continue;
          Role pr = roleOf(*p);
          if (p->op == "broadcast_to" && !gr.escapes(p, gid).empty() && gr.placeBlocker(p, gid).empty()) {
            gr.clones[size_t(gid)].insert(p);
            gr.clonedAnywhere.insert(p);
            gr.members[size_t(gid)].push_back(p);
            changed = true;
            continue;
          }
          bool joins = (pr == Role::Elementwise && gr.joinBlocker(p, gid).empty()) ||
                       (pr == Role::MatMul && gr.matmulBlocker(p, gid).empty());
          if (!joins) continue;
          gr.groupOf[p] = gid;
          gr.members[size_t(gid)].push_back(p);
          if (pr == Role::MatMul) {
            gr.matmuls[size_t(gid)] = p;
            // A broadcast cloned for the epilogue that the matmul reads: the matmul needs it
            // materialized, so the epilogue reads that too.
            for (const Value *mo : p->operands)
              if (mo->def && gr.clones[size_t(gid)].erase(mo->def)) std::erase(gr.members[size_t(gid)], mo->def);
          }
          changed = true;
        }
      }
    }
    // Region order: the matmul first (its operands are all outside the group), then program order.
    auto &ms = gr.members[size_t(gid)];
    std::sort(ms.begin(), ms.end(), [&](const Node *a, const Node *b) {
      bool am = roleOf(*a) == Role::MatMul, bm = roleOf(*b) == Role::MatMul;
      if (am != bm) return am;
      return gr.index.at(a) < gr.index.at(b);
    });
  }
  // A matmul operand that is a transpose of the last two dims is read by the GEMM through swapped
  // strides: the transpose is cloned into the matmul's region, ahead of it (a matmul without an
  // epilogue gets a group of its own for that), and stays a node only for readers elsewhere.
  for (const auto &np : g.nodes) {
    const Node *mm = np.get();
    if (roleOf(*mm) != Role::MatMul) continue;
    std::vector<const Node *> ts;
    for (const Value *o : mm->operands) // (a transpose of one cloned here stays outside: the region reads inputs)
      if (o->def && ir::swapsLastTwoDims(*o->def) && std::find(ts.begin(), ts.end(), o->def) == ts.end() &&
          std::find(ts.begin(), ts.end(), o->def->operands[0]->def) == ts.end())
        ts.push_back(o->def);
    if (ts.empty()) continue;
    int gid = gr.group(mm);
    if (gid < 0) {
      gid = int(gr.members.size());
      gr.members.push_back({mm});
      gr.roots.push_back(mm);
      gr.shapes.push_back(mm->result->type.shape);
      gr.matmuls.push_back(mm);
      gr.clones.emplace_back();
      gr.groupOf[mm] = gid;
    }
    auto &ms = gr.members[size_t(gid)];
    for (const Node *t : ts) {
      gr.clones[size_t(gid)].insert(t);
      gr.clonedAnywhere.insert(t);
    }
    ms.insert(ms.begin(), ts.begin(), ts.end());
  }
  mergeSiblings(gr);
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
      if (m != root && !gr.clones[size_t(gid)].count(m)) erased.insert(m);
    }
    r.outputs.push_back(map.at(root->result));
    // Members read outside the group are further results (an elementwise group only): their
    // values now come from the kernel.
    for (const Node *m : gr.furtherResults(gid)) {
      r.outputs.push_back(map.at(m->result));
      k->moreResults.push_back(m->result);
      m->result->def = k.get();
    }
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
  // Broadcasts every reader of which computes them in its region.
  for (const Node *b : gr.clonedAnywhere) {
    if (gr.outputs.count(b->result)) continue;
    bool outside = false;
    for (const Node *u : gr.users.at(b->result)) {
      int gid = gr.group(u);
      outside |= gid < 0 || !gr.fused(gid) || !gr.clones[size_t(gid)].count(b);
    }
    if (!outside) erased.insert(b);
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
    Role cr = roleOf(*c);
    std::unordered_set<const Node *> seen;
    for (const Value *o : c->operands) {
      const Node *p = o->def;
      if (!p || !seen.insert(p).second) continue;
      int pg = gr.group(p);
      if (pg >= 0 && pg == cg) continue; // fused together
      if (cg >= 0 && gr.clones[size_t(cg)].count(p)) continue; // a broadcast computed in c's region
      if (isScalarConst(p)) continue;    // cloned into the consumer's region when it has one
      Role pr = roleOf(*p);
      std::string why;
      if (pg >= 0 && gr.fused(pg) && gr.roots[size_t(pg)] != p) {
        why = fmt("%", o->name, " is a further result of the kernel of %", gr.roots[size_t(pg)]->result->name,
                  " (computed and stored there, read here)");
      } else if (p->op == "const") {
        why = fmt("%", o->name, " = const: not elementwise (", o->type.numel(), " elements stay a kernel operand)");
      } else if (pr == Role::Reduction) {
        why = fmt("%", o->name, " = ", p->op, ": a reduction ends its kernel (fusing its consumer would recompute the ",
                  p->op, " for every element)");
      } else if (pr == Role::MatMul) {
        why = cr == Role::Elementwise ? gr.matmulBlocker(p, cg)
                                      : fmt("%", c->result->name, " = ", c->op, ": only elementwise ops fuse into a matmul's epilogue");
        DT_ASSERT(!why.empty(), "fusion: matmul %", o->name, " could have joined %", c->result->name, "'s group");
      } else if (pr != Role::Elementwise) {
        why = fmt("%", o->name, " = ", p->op, ": not elementwise");
      } else if (cr == Role::Elementwise || cr == Role::Reduction) {
        why = gr.joinBlocker(p, cg);
        DT_ASSERT(!why.empty(), "fusion: %", o->name, " could have joined %", c->result->name, "'s group");
      } else {
        why = fmt("%", c->result->name, " = ", c->op, ": not elementwise");
      }
      out += fmt("%", o->name, " -> %", c->result->name, ": ", why, "\n");
    }
  }
  return out;
}

} // namespace dt::passes
