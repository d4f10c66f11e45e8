// Layout ops as copies: reshape is a flat memcpy; transpose/permute, broadcast_to and slice are
// strided copies over the result (stride 0 on broadcast dims; slice reads from its start with its
// steps folded into the strides), coalesced so contiguous runs are one loop.
#include "codegen/Lower.h"

#include "ir/Error.h"

namespace dt::codegen {

void lowerLayout(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &in = k.operands[0];
  const ir::Type &out = k.result;
  StridedNest nest;
  nest.sizes = out.shape;
  nest.strides.push_back(ir::contiguousStrides(out.shape));
  llvm::Value *src = kb.ins[0];
  switch (k.def->id) {
  case ir::OpId::Reshape:
    if (out.bytes() != 0)
      kb.b.CreateMemCpy(kb.out, llvm::Align(ir::dtypeSize(out.dtype)), kb.ins[0], llvm::Align(ir::dtypeSize(in.dtype)),
                        kb.i64(int64_t(out.bytes())));
    return;
  case ir::OpId::Transpose:
  case ir::OpId::Permute: {
    // Result axis i walks operand axis perm[i].
    std::vector<int64_t> perm = ir::layoutPerm(*k.def, k.attrs, in.rank());
    std::vector<int64_t> inStrides = ir::contiguousStrides(in.shape), st(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) st[i] = inStrides[size_t(perm[i])];
    nest.strides.push_back(st);
    break;
  }
  case ir::OpId::BroadcastTo: nest.strides.push_back(broadcastStrides(in.shape, out.shape)); break;
  case ir::OpId::Slice: {
    // Result element idx is operand element starts + idx * steps.
    if (out.numel() == 0) return;
    ir::SliceAttrs a = ir::sliceAttrs(*k.def, k.attrs, in);
    std::vector<int64_t> inStrides = ir::contiguousStrides(in.shape), st(inStrides.size());
    int64_t base = 0;
    for (size_t d = 0; d < st.size(); ++d) {
      base += a.starts[d] * inStrides[d];
      st[d] = inStrides[d] * a.steps[d];
    }
    nest.strides.push_back(st);
    src = kb.b.CreateInBoundsGEP(kb.elemType(in.dtype), src, kb.i64(base));
    break;
  }
  case ir::OpId::Neg: case ir::OpId::Exp: case ir::OpId::Log: case ir::OpId::Abs: case ir::OpId::Sqrt:
  case ir::OpId::Sigmoid: case ir::OpId::Tanh: case ir::OpId::Relu: case ir::OpId::Floor: case ir::OpId::Add:
  case ir::OpId::Sub: case ir::OpId::Mul: case ir::OpId::Div: case ir::OpId::Pow: case ir::OpId::Maximum:
  case ir::OpId::Minimum: case ir::OpId::Eq: case ir::OpId::Ne: case ir::OpId::Lt: case ir::OpId::Le:
  case ir::OpId::Gt: case ir::OpId::Ge: case ir::OpId::Where: case ir::OpId::Cast: case ir::OpId::Const:
  case ir::OpId::MatMul: case ir::OpId::Sum: case ir::OpId::Mean: case ir::OpId::Max: case ir::OpId::Min:
  case ir::OpId::ArgMax: case ir::OpId::Pad: case ir::OpId::Concat: case ir::OpId::Gather:
  case ir::OpId::ScatterAdd: case ir::OpId::Kernel:
    DT_ASSERT(false, k.def->name, " is not a layout op");
  }
  nest.coalesce();
  emitNest(kb, nest, [&](std::span<llvm::Value *const> off) {
    kb.store(out.dtype, kb.load(in.dtype, src, off[1]), kb.out, off[0]);
  });
}

} // namespace dt::codegen
