// sum, mean, max, min over reduceAxes (argmax is in LowerGeneric.cpp). The result is first filled
// with the identity, then the input is walked in row-major order (dims of one kind coalesced;
// large nests split across threads by result rows, see emitReduction):
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


namespace {

/// The reduction over `nest` (arrays: the result, then the operands) into the `outN` result
/// elements from kb.out on: fill them with the identity, walk the nest, divide for mean.
/// `horizontal`: the innermost dim is reduced (an accumulator loop over it).
void emitReductionNest(KernelBuilder &kb, ir::OpId op, ir::DType inT, ir::DType outT, int64_t count,
                       const ValueNest &nest, llvm::Value *outN, bool horizontal,
                       const std::function<llvm::Value *(KernelBuilder &, std::span<llvm::Value *const>)> &element) {
  llvm::IRBuilder<> &b = kb.b;
  size_t nOps = nest.strides.size() - 1;
  emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outT, reduceIdentity(kb, op, inT), kb.out, o); }, "init");
  if (!horizontal) {
    emitNest(kb, nest.sizes, nest.strides, [&](std::span<llvm::Value *const> off) {
      llvm::Value *x = element(kb, off.subspan(1));
      llvm::Value *cur = kb.load(outT, kb.out, off[0]);
      kb.store(outT, reduceCombine(kb, op, inT, cur, x, false), kb.out, off[0]);
    });
  } else {
    // Outer dims as a nest; the innermost (reduced) dim as an accumulator loop.
    size_t last = nest.sizes.size() - 1;
    std::span<llvm::Value *const> sizes(nest.sizes.data(), last);
    std::vector<std::vector<llvm::Value *>> strides(nOps + 1);
    for (size_t a = 0; a <= nOps; ++a) strides[a].assign(nest.strides[a].begin(), nest.strides[a].begin() + long(last));
    llvm::Value *innerN = nest.sizes[last];
    llvm::Type *ty = kb.elemType(inT);
    llvm::AllocaInst *slot;
    {
      llvm::IRBuilderBase::InsertPointGuard g(b);
      b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
      slot = b.CreateAlloca(ty, nullptr, "acc");
    }
    emitNest(kb, sizes, strides, [&](std::span<llvm::Value *const> off) {
      b.CreateStore(reduceIdentity(kb, op, inT), slot);
      emitLoop(b, innerN, [&](llvm::Value *j) {
        std::vector<llvm::Value *> inOff;
        for (size_t i = 0; i < nOps; ++i) inOff.push_back(b.CreateAdd(off[i + 1], b.CreateMul(j, nest.strides[i + 1][last])));
        llvm::Value *x = element(kb, inOff);
        b.CreateStore(reduceCombine(kb, op, inT, b.CreateLoad(ty, slot), x, true), slot);
      }, "r");
      llvm::Value *cur = kb.load(outT, kb.out, off[0]);
      kb.store(outT, reduceCombine(kb, op, inT, cur, b.CreateLoad(ty, slot), false), kb.out, off[0]);
    });
  }
  if (op == ir::OpId::Mean) {
    llvm::Value *n = llvm::ConstantFP::get(kb.elemType(outT), double(count));
    emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outT, b.CreateFDiv(kb.load(outT, kb.out, o), n), kb.out, o); }, "mean");
  }
}

} // namespace

void emitReduction(KernelBuilder &kb, const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &in,
                   const ir::Type &out, std::span<const ir::Type> operands,
                   const std::function<llvm::Value *(KernelBuilder &kb, std::span<llvm::Value *const> inOffsets)> &element) {
  ir::OpId op = def.id;
  ReduceLayout layout = reduceLayout(def, attrs, in);
  int64_t outN = out.numel();
  if (outN == 0) return;

  StridedNest nest;
  nest.sizes = in.shape;
  nest.strides.push_back(layout.outStrides);
  for (const ir::Type &t : operands) nest.strides.push_back(broadcastStrides(t.shape, in.shape));
  nest.coalesce();
  // (An empty input coalesces to one dim of size 0 with stride 0: the walk runs nothing, and the
  // result keeps the identity; mean: 0/0 = NaN.)
  bool horizontal = !nest.sizes.empty() && nest.strides[0].back() == 0;
  // When the outermost dim is kept in the result (its result stride s != 0, and the result is
  // row-major in the kept dims), a chunk of its rows [begin, end) owns the result elements
  // [begin*s, end*s): it fills, reduces and divides just those, so the nest splits across threads
  // with each result element computed as on one thread. A full reduction, or one whose outermost
  // dim is reduced, runs on the calling thread.
  if (nest.sizes.empty() || nest.strides[0][0] == 0) {
    emitReductionNest(kb, op, in.dtype, out.dtype, layout.count, constantNest(kb, nest), kb.i64(outN), horizontal, element);
    return;
  }
  std::vector<ir::DType> arrays{out.dtype};
  for (const ir::Type &t : operands) arrays.push_back(t.dtype);
  emitParallelNest(kb, arrays, [&](KernelBuilder &c) { return constantNest(c, nest); },
                   [&](KernelBuilder &c, const ValueNest &part) {
                     llvm::Value *rows = c.b.CreateMul(part.sizes[0], part.strides[0][0]);
                     emitReductionNest(c, op, in.dtype, out.dtype, layout.count, part, rows, horizontal, element);
                   });
}

void lowerReduce(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &in = k.operands[0];
  emitReduction(kb, *k.def, k.attrs, in, k.result, k.operands,
                [&](KernelBuilder &c, std::span<llvm::Value *const> off) { return c.load(in.dtype, c.ins[0], off[0]); });
}

} // namespace dt::codegen
