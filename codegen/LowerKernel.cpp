// Fused kernel nodes: one loop nest over the kernel's result shape; in the innermost loop each
// kernel operand is loaded once with its broadcast strides and the region's nodes are evaluated
// as scalar SSA values with emitScalarOp (the same per-op code as single elementwise nodes).
// broadcast_to is the identity on scalars (its broadcast is the operand's strides); consts of at
// most one element become LLVM constants.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <unordered_map>

namespace dt::codegen {

void lowerKernel(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.region, "kernel without a region");
  const ir::Graph &r = *k.region;
  DT_ASSERT(r.inputs.size() == k.operands.size() && r.outputs.size() == 1, "kernel region does not match its node");
  StridedNest nest = broadcastNest(k.result, k.operands);
  nest.coalesce();

  for (const auto &n : r.nodes)
    if (const ir::OpDef *def = ir::findOp(n->op); def && usesTranscendentals(def->id) && n->result->type.dtype == ir::DType::F32)
      kb.fn->addFnAttr("prefer-vector-width", "512");

  emitNest(kb, nest, [&](std::span<llvm::Value *const> off) {
    std::unordered_map<const ir::Value *, llvm::Value *> val;
    for (size_t i = 0; i < r.inputs.size(); ++i) val[r.inputs[i]] = kb.load(k.operands[i].dtype, kb.ins[i], off[i + 1]);
    for (const auto &n : r.nodes) {
      const ir::OpDef *def = ir::findOp(n->op);
      DT_ASSERT(def, "unknown op ", n->op, " in a kernel region");
      std::vector<llvm::Value *> xs;
      std::vector<ir::DType> types;
      for (const ir::Value *o : n->operands) {
        xs.push_back(val.at(o));
        types.push_back(o->type.dtype);
      }
      llvm::Value *v = nullptr;
      if (def->id == ir::OpId::BroadcastTo) {
        v = xs[0];
      } else if (def->kind == ir::OpKind::Const) {
        const ir::Attr *value = ir::attrOrDefault(*def, n->attrs, "value");
        DT_ASSERT(value, "const without a value");
        ir::DType t = n->result->type.dtype;
        if (value->isList()) {
          // Zero or one element (checked by describe); a zero-size const is never read.
          v = value->asList().empty() ? llvm::Constant::getNullValue(kb.elemType(t)) : constantOf(kb, t, value->asList()[0]);
        } else {
          v = constantOf(kb, t, *value);
        }
      } else {
        v = emitScalarOp(kb, def->id, xs, types, n->result->type.dtype, n->attrs);
      }
      val[n->result] = v;
    }
    kb.store(k.result.dtype, val.at(r.outputs[0]), kb.out, off[0]);
  });
}

} // namespace dt::codegen
