// Simplify: constant folding and algebraic identities (see Simplify.h for the algorithm).
#include "passes/Simplify.h"

#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "passes/Cse.h"
#include "passes/Dce.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

namespace dt::passes {
namespace {

using ir::OpId;

bool isConst(const ir::Value *v) { return v->def && v->def->op == "const"; }

/// True when `v` is defined by a const whose every element equals `c`.
bool isConstOf(const ir::Value *v, double c) {
  if (!isConst(v)) return false;
  const ir::Attr *a = v->def->attr("value");
  if (!a) return false;
  auto eq = [&](const ir::Attr &e) {
    if (e.isBool()) return (e.asBool() ? 1.0 : 0.0) == c;
    if (e.isInt() || e.isFloat()) return e.asFloat() == c;
    return false;
  };
  if (!a->isList()) return eq(*a);
  for (const ir::Attr &e : a->asList())
    if (!eq(e)) return false;
  return true;
}

/// The value of element i of `arr` as an attribute (double for floats, so f32 stays exact).
ir::Attr elementAttr(const ir::HostArray &arr, int64_t i) {
  switch (arr.type.dtype) {
  case ir::DType::F32: return ir::Attr(double(arr.data<float>()[i]));
  case ir::DType::F64: return ir::Attr(arr.data<double>()[i]);
  case ir::DType::I64: return ir::Attr(arr.data<int64_t>()[i]);
  case ir::DType::Bool: return ir::Attr(arr.data<uint8_t>()[i] != 0);
  }
  DT_ASSERT(false, "elementAttr: unknown dtype");
  return {};
}

/// Evaluates a node whose operands are all consts; turns it into a const in place.
void fold(ir::Node &n) {
  std::vector<ir::HostArray> args;
  args.reserve(n.operands.size());
  for (const ir::Value *v : n.operands) args.push_back(ir::evalNode(*v->def, {}));
  std::vector<ir::ArrayRef> refs;
  for (const ir::HostArray &a : args) refs.push_back(a.ref());
  ir::HostArray out = ir::evalNode(n, refs);
  DT_ASSERT(out.type == n.result->type, "fold: evaluated type differs from the node's type");
  int64_t numel = out.type.numel();
  size_t es = ir::dtypeSize(out.type.dtype);
  bool splat = true;
  for (int64_t i = 1; i < numel && splat; ++i)
    splat = std::memcmp(out.bytes.data(), out.bytes.data() + size_t(i) * es, es) == 0;
  ir::Attr value;
  if (splat) {
    value = elementAttr(out, 0);
  } else {
    ir::Attr::List l;
    for (int64_t i = 0; i < numel; ++i) l.push_back(elementAttr(out, i));
    value = ir::Attr(std::move(l));
  }
  n.op = "const";
  n.operands.clear();
  n.attrs = {{"value", std::move(value)}}; // dtype f32 and shape [] are the defaults
  if (out.type.dtype != ir::DType::F32) n.attrs["dtype"] = ir::Attr(std::string(ir::dtypeName(out.type.dtype)));
  if (!out.type.shape.empty()) n.attrs["shape"] = ir::Attr::ints(out.type.shape);
}

/// The permutation of a transpose/permute node.
std::vector<int64_t> permOf(const ir::Node &n) {
  return ir::layoutPerm(*ir::findOp(n.op), n.attrs, n.operands[0]->type.rank());
}

/// The identity that applies to `n`, as the value that replaces its result, or nullptr.
ir::Value *identity(ir::Node &n, OpId id, bool &rewrote) {
  auto defIs = [](const ir::Value *v, OpId want) {
    if (!v->def) return false;
    const ir::OpDef *d = ir::findOp(v->def->op);
    return d && d->id == want;
  };
  switch (id) {
  case OpId::Mul:
    if (isConstOf(n.operands[1], 1)) return n.operands[0]; // x * 1 = x
    if (isConstOf(n.operands[0], 1)) return n.operands[1]; // 1 * x = x
    return nullptr;
  case OpId::Add:
    // x + 0 = x and 0 + x = x (numerically; for x = -0.0 the sum would be +0.0).
    if (isConstOf(n.operands[1], 0)) return n.operands[0];
    if (isConstOf(n.operands[0], 0)) return n.operands[1];
    return nullptr;
  case OpId::Sub:
    if (isConstOf(n.operands[1], 0)) return n.operands[0]; // x - 0 = x
    return nullptr;
  case OpId::Div:
    if (isConstOf(n.operands[1], 1)) return n.operands[0]; // x / 1 = x
    return nullptr;
  case OpId::Neg:
    if (defIs(n.operands[0], OpId::Neg)) return n.operands[0]->def->operands[0]; // -(-x) = x
    return nullptr;
  case OpId::Transpose:
  case OpId::Permute: {
    // P2(P1(x)) = x when the permutations compose to the identity: result axis i of the outer
    // node is axis p2[i] of the inner result, i.e. axis p1[p2[i]] of x.
    ir::Value *in = n.operands[0];
    if (!defIs(in, OpId::Transpose) && !defIs(in, OpId::Permute)) return nullptr;
    std::vector<int64_t> p2 = permOf(n), p1 = permOf(*in->def);
    for (size_t i = 0; i < p2.size(); ++i)
      if (p1[size_t(p2[i])] != int64_t(i)) return nullptr;
    return in->def->operands[0];
  }
  case OpId::Reshape:
    // reshape(reshape(x, s1), s2) = reshape(x, s2): row-major order is unchanged by both.
    if (defIs(n.operands[0], OpId::Reshape)) {
      n.operands[0] = n.operands[0]->def->operands[0];
      rewrote = true;
    }
    return n.operands[0]; // reshape(x) to x's own shape = x (the type check decides)
  case OpId::BroadcastTo: return n.operands[0]; // broadcast_to(x, shape(x)) = x
  case OpId::Cast: return n.operands[0];        // cast(x, dtype(x)) = x
  case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt: case OpId::Sigmoid:
  case OpId::Tanh: case OpId::Relu: case OpId::Floor: case OpId::Pow: case OpId::Maximum:
  case OpId::Minimum: case OpId::Eq: case OpId::Ne: case OpId::Lt: case OpId::Le: case OpId::Gt:
  case OpId::Ge: case OpId::Where: case OpId::Const: case OpId::MatMul: case OpId::Sum:
  case OpId::Mean: case OpId::Max: case OpId::Min: case OpId::ArgMax: case OpId::Slice:
  case OpId::Pad: case OpId::Concat: case OpId::Gather: case OpId::ScatterAdd: case OpId::Kernel:
    return nullptr;
  }
  DT_ASSERT(false, "identity: unknown OpId");
  return nullptr;
}

/// (A·B)ᵀ = Bᵀ·Aᵀ: turns transpose node g.nodes[i] of a matmul read by nothing else into that
/// matmul, inserting transposes of the operands before it where needed. Returns how many nodes
/// it inserted, or nullopt when the rule does not apply.
std::optional<size_t> transposeOfMatmul(ir::Graph &g, size_t i) {
  ir::Node &n = *g.nodes[i];
  if (!ir::swapsLastTwoDims(n)) return std::nullopt;
  ir::Value *mv = n.operands[0];
  ir::Node *m = mv->def;
  const ir::OpDef *md = m ? ir::findOp(m->op) : nullptr;
  if (!md || md->id != OpId::MatMul || m->operands[0]->type.rank() != m->operands[1]->type.rank() ||
      m->operands[0]->type.rank() < 2 || std::count(g.outputs.begin(), g.outputs.end(), mv))
    return std::nullopt;
  for (const auto &u : g.nodes)
    if (u.get() != &n && std::count(u->operands.begin(), u->operands.end(), mv)) return std::nullopt;
  size_t inserted = 0;
  auto transposed = [&](ir::Value *x) -> ir::Value * {
    if (x->def && ir::swapsLastTwoDims(*x->def)) return x->def->operands[0];
    ir::Shape s = x->type.shape;
    std::swap(s[s.size() - 2], s[s.size() - 1]);
    ir::Node *t = g.addNode("transpose", {x}, {}, ir::Type{x->type.dtype, s});
    t->loc = n.loc;
    std::unique_ptr<ir::Node> owned = std::move(g.nodes.back());
    g.nodes.pop_back();
    g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(i + inserted), std::move(owned));
    ++inserted;
    return t->result;
  };
  ir::Value *a = m->operands[0], *b = m->operands[1];
  ir::Value *bt = transposed(b), *at = transposed(a);
  ir::Node &t = *g.nodes[i + inserted];
  t.op = "matmul";
  t.attrs.clear();
  t.operands = {bt, at};
  return inserted;
}

/// A reshape that only drops the size-1 dims a keepdim reduction kept becomes that reduction
/// without keepdim (the same row-major data), when nothing else reads the reduction: the
/// reduction then writes its final shape itself (a graph output needs no copy of it).
bool reshapeOfKeepdimReduce(ir::Graph &g, ir::Node &n) {
  const ir::OpDef *def = ir::findOp(n.op);
  if (!def || def->id != OpId::Reshape) return false;
  ir::Value *rv = n.operands[0];
  ir::Node *r = rv->def;
  const ir::OpDef *rd = r ? ir::findOp(r->op) : nullptr;
  if (!rd || rd->kind != ir::OpKind::Reduce || std::count(g.outputs.begin(), g.outputs.end(), rv)) return false;
  const ir::Attr *keep = r->attr("keepdim");
  if (!keep || !keep->isBool() || !keep->asBool()) return false;
  ir::AttrMap attrs = r->attrs;
  attrs["keepdim"] = ir::Attr(false);
  ir::Type t = ir::inferType(*rd, std::vector<ir::Type>{r->operands[0]->type}, attrs);
  if (t != n.result->type) return false;
  for (const auto &u : g.nodes)
    if (u.get() != &n && std::count(u->operands.begin(), u->operands.end(), rv)) return false;
  n.op = r->op;
  n.attrs = std::move(attrs);
  n.operands = {r->operands[0]};
  return true;
}

} // namespace

int simplify(ir::Graph &g) {
  std::unordered_map<const ir::Value *, ir::Value *> repl;
  auto resolve = [&](ir::Value *v) {
    auto it = repl.find(v);
    return it == repl.end() ? v : it->second;
  };
  int changed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (ir::Value *&v : g.nodes[i]->operands) v = resolve(v);
    if (std::optional<size_t> k = transposeOfMatmul(g, i)) {
      i += *k; // past the transposes inserted before it
      ++changed;
    } else if (reshapeOfKeepdimReduce(g, *g.nodes[i])) {
      ++changed;
    }
    ir::Node &n = *g.nodes[i];
    const ir::OpDef *def = ir::findOp(n.op);
    if (!def || def->kind == ir::OpKind::Kernel || n.region || !isPure(def->id)) continue;
    if (def->id == OpId::Const) continue;
    int64_t numel = n.result->type.numel();
    bool allConst = std::all_of(n.operands.begin(), n.operands.end(), isConst);
    if (allConst && numel >= 1 && numel <= kMaxFoldElements) {
      fold(n);
      ++changed;
      continue;
    }
    bool rewrote = false;
    ir::Value *r = identity(n, def->id, rewrote);
    if (rewrote) ++changed;
    if (r && r != n.result && r->type == n.result->type) {
      repl[n.result] = r;
      ++changed;
    }
  }
  for (ir::Value *&v : g.outputs) v = resolve(v);
  dce(g);
  return changed;
}

} // namespace dt::passes
