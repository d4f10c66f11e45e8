// Common-subexpression elimination (see Cse.h for the algorithm).
#include "passes/Cse.h"

#include "ir/Error.h"
#include "ir/Text.h"
#include "passes/Dce.h"

#include <cstdio>
#include <string>
#include <unordered_map>

namespace dt::passes {

bool isPure(ir::OpId id) {
  using ir::OpId;
  switch (id) {
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt:
  case OpId::Sigmoid: case OpId::Tanh: case OpId::Relu: case OpId::Floor:
  case OpId::Add: case OpId::Sub: case OpId::Mul: case OpId::Div: case OpId::Pow:
  case OpId::Maximum: case OpId::Minimum:
  case OpId::Eq: case OpId::Ne: case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge:
  case OpId::Where: case OpId::Cast: case OpId::Const: case OpId::MatMul:
  case OpId::Sum: case OpId::Mean: case OpId::Max: case OpId::Min: case OpId::ArgMax:
  case OpId::Reshape: case OpId::Transpose: case OpId::Permute: case OpId::BroadcastTo:
  case OpId::Slice: case OpId::Pad: case OpId::Concat: case OpId::Gather: case OpId::ScatterAdd:
    return true;
  case OpId::Kernel:
    return false; // its region decides; passes do not look inside regions
  }
  DT_ASSERT(false, "isPure: unknown OpId");
  return false;
}

int cse(ir::Graph &g) {
  std::unordered_map<const ir::Value *, ir::Value *> repl;
  auto resolve = [&](ir::Value *v) {
    auto it = repl.find(v);
    return it == repl.end() ? v : it->second;
  };
  std::unordered_map<std::string, ir::Value *> seen;
  int merged = 0;
  for (auto &np : g.nodes) {
    ir::Node &n = *np;
    for (ir::Value *&v : n.operands) v = resolve(v);
    const ir::OpDef *def = ir::findOp(n.op);
    if (!def || def->kind == ir::OpKind::Kernel || n.region || !isPure(def->id)) continue;
    std::string key = n.op + "(";
    char buf[32];
    for (const ir::Value *v : n.operands) {
      std::snprintf(buf, sizeof buf, "%p,", static_cast<const void *>(v));
      key += buf;
    }
    key += "){";
    for (const auto &[name, a] : n.attrs) key += name + "=" + ir::printAttr(a) + ",";
    key += "}:" + n.result->type.str();
    auto [it, inserted] = seen.emplace(std::move(key), n.result);
    if (!inserted) {
      repl[n.result] = it->second;
      ++merged;
    }
  }
  for (ir::Value *&v : g.outputs) v = resolve(v);
  if (merged) dce(g);
  return merged;
}

} // namespace dt::passes
