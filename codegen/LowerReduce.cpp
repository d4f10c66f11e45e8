// sum, mean, max, min over reduceAxes (argmax is in LowerGeneric.cpp). The result is first filled with the identity, then the input
// is walked in row-major order (dims of one kind coalesced):
//  - when its innermost dim is reduced, a scalar accumulator runs over it (a horizontal
//    reduction; `reassoc` on the f32/f64 adds lets it vectorize) and is folded into the result;
//  - otherwise out[o] = op(out[o], x[i]) with the innermost dim unit-stride in both (vertical,
//    vectorizes with no flags).
// mean divides the sum by n (fdiv, so 0/0 = NaN for an empty mean). max/min are NaN-propagating
// (llvm.maximum/minimum: -0 < +0, any NaN wins); over an empty axis they are rejected by the type
// rule.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <limits>

namespace dt::codegen {

llvm::Value *reduceIdentity(KernelBuilder &kb, ir::OpId op, ir::DType t) {
  llvm::Type *ty = kb.elemType(t);
  if (op == ir::OpId::Max)
    return ir::isFloat(t) ? llvm::ConstantFP::getInfinity(ty, /*Negative=*/true) : kb.i64(std::numeric_limits<int64_t>::min());
  if (op == ir::OpId::Min)
    return ir::isFloat(t) ? llvm::ConstantFP::getInfinity(ty, /*Negative=*/false) : kb.i64(std::numeric_limits<int64_t>::max());
  return llvm::Constant::getNullValue(ty);
}

llvm::Value *reduceCombine(KernelBuilder &kb, ir::OpId op, ir::DType t, llvm::Value *acc, llvm::Value *x, bool reassoc) {
  llvm::IRBuilder<> &b = kb.b;
  if (op == ir::OpId::Max)
    return b.CreateBinaryIntrinsic(ir::isFloat(t) ? llvm::Intrinsic::maximum : llvm::Intrinsic::smax, acc, x);
  if (op == ir::OpId::Min)
    return b.CreateBinaryIntrinsic(ir::isFloat(t) ? llvm::Intrinsic::minimum : llvm::Intrinsic::smin, acc, x);
  if (!ir::isFloat(t)) return b.CreateAdd(acc, x); // i64 wraps
  llvm::IRBuilderBase::FastMathFlagGuard guard(b);
  llvm::FastMathFlags fmf;
  fmf.setAllowReassoc(reassoc);
  b.setFastMathFlags(fmf);
  return b.CreateFAdd(acc, x);
}

ReduceLayout reduceLayout(const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &in) {
  std::vector<int64_t> axes = ir::reduceAxes(def, attrs, in.rank());
  ReduceLayout l;
  l.outStrides.assign(size_t(in.rank()), 0);
  int64_t acc = 1;
  for (int64_t d = in.rank() - 1; d >= 0; --d) {
    if (std::binary_search(axes.begin(), axes.end(), d)) {
      l.count *= in.shape[size_t(d)];
    } else {
      l.outStrides[size_t(d)] = acc;
      acc *= in.shape[size_t(d)];
    }
  }
  return l;
}


void emitReduction(KernelBuilder &kb, const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &in,
                   const ir::Type &out, std::span<const ir::Type> operands,
                   const std::function<llvm::Value *(std::span<llvm::Value *const> inOffsets)> &element) {
  llvm::IRBuilder<> &b = kb.b;
  ir::OpId op = def.id;
  ReduceLayout layout = reduceLayout(def, attrs, in);
  int64_t outN = out.numel();
  if (outN == 0) return;
  size_t nOps = operands.size();

  emitLoop(b, kb.i64(outN), [&](llvm::Value *o) { kb.store(out.dtype, reduceIdentity(kb, op, in.dtype), kb.out, o); }, "init");

  StridedNest nest;
  nest.sizes = in.shape;
  nest.strides.push_back(layout.outStrides);
  for (const ir::Type &t : operands) nest.strides.push_back(broadcastStrides(t.shape, in.shape));
  nest.coalesce();
  if (nest.numel() != 0) {
    bool horizontal = !nest.sizes.empty() && nest.strides[0].back() == 0;
    if (!horizontal) {
      emitNest(kb, nest, [&](std::span<llvm::Value *const> off) {
        llvm::Value *x = element(off.subspan(1));
        llvm::Value *cur = kb.load(out.dtype, kb.out, off[0]);
        kb.store(out.dtype, reduceCombine(kb, op, in.dtype, cur, x, false), kb.out, off[0]);
      });
    } else {
      // Outer dims as a nest; the innermost (reduced) dim as an accumulator loop.
      size_t last = nest.sizes.size() - 1;
      std::vector<llvm::Value *> sizes;
      std::vector<std::vector<llvm::Value *>> strides(nOps + 1);
      for (size_t d = 0; d < last; ++d) {
        sizes.push_back(kb.i64(nest.sizes[d]));
        for (size_t a = 0; a <= nOps; ++a) strides[a].push_back(kb.i64(nest.strides[a][d]));
      }
      llvm::Value *innerN = kb.i64(nest.sizes[last]);
      llvm::Type *ty = kb.elemType(in.dtype);
      llvm::AllocaInst *slot;
      {
        llvm::IRBuilderBase::InsertPointGuard g(b);
        b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
        slot = b.CreateAlloca(ty, nullptr, "acc");
      }
      emitNest(kb, sizes, strides, [&](std::span<llvm::Value *const> off) {
        b.CreateStore(reduceIdentity(kb, op, in.dtype), slot);
        emitLoop(b, innerN, [&](llvm::Value *j) {
          std::vector<llvm::Value *> inOff;
          for (size_t i = 0; i < nOps; ++i) inOff.push_back(b.CreateAdd(off[i + 1], b.CreateMul(j, kb.i64(nest.strides[i + 1][last]))));
          llvm::Value *x = element(inOff);
          b.CreateStore(reduceCombine(kb, op, in.dtype, b.CreateLoad(ty, slot), x, true), slot);
        }, "r");
        llvm::Value *cur = kb.load(out.dtype, kb.out, off[0]);
        kb.store(out.dtype, reduceCombine(kb, op, in.dtype, cur, b.CreateLoad(ty, slot), false), kb.out, off[0]);
      });
    }
  }

  if (op == ir::OpId::Mean) {
    llvm::Value *n = llvm::ConstantFP::get(kb.elemType(out.dtype), double(layout.count));
    emitLoop(b, kb.i64(outN), [&](llvm::Value *o) {
      kb.store(out.dtype, b.CreateFDiv(kb.load(out.dtype, kb.out, o), n), kb.out, o);
    }, "mean");
  }
}

void lowerReduce(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &in = k.operands[0];
  emitReduction(kb, *k.def, k.attrs, in, k.result, k.operands,
                [&](std::span<llvm::Value *const> off) { return kb.load(in.dtype, kb.ins[0], off[0]); });
}

} // namespace dt::codegen
