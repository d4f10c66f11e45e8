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

/// The reductions over `nest` (arrays: the results, then the operands) into the `outN` result
/// elements of each from its pointer on (the first kb.out, the others kb.ins[0..)): fill them with
/// the identity, walk the nest once, divide for mean. `horizontal`: the innermost dim is reduced
/// (an accumulator loop over it, one accumulator per reduction).
void emitReductionNest(KernelBuilder &kb, std::span<const ReductionOut> outs, int64_t count,
                       const ValueNest &nest, llvm::Value *outN, bool horizontal,
                       const std::function<std::vector<llvm::Value *>(KernelBuilder &, std::span<llvm::Value *const>)> &element) {
  llvm::IRBuilder<> &b = kb.b;
  size_t nOuts = outs.size();
  size_t nArrays = nest.strides.size();
  auto outPtr = [&](size_t j) { return j == 0 ? kb.out : kb.ins[j - 1]; };
  auto inTypeOf = [&](size_t j) { return outs[j].operand; };
  for (size_t j = 0; j < nOuts; ++j)
    emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outs[j].result.dtype, reduceIdentity(kb, outs[j].op, inTypeOf(j)), outPtr(j), o); },
             "init");
  if (!horizontal) {
    emitNest(kb, nest.sizes, nest.strides, [&](std::span<llvm::Value *const> off) {
      std::vector<llvm::Value *> xs = element(kb, off.subspan(nOuts));
      for (size_t j = 0; j < nOuts; ++j) {
        ir::DType t = outs[j].result.dtype;
        llvm::Value *cur = kb.load(t, outPtr(j), off[j]);
        kb.store(t, reduceCombine(kb, outs[j].op, inTypeOf(j), cur, xs[j], false), outPtr(j), off[j]);
      }
    });
  } else {
    // Outer dims as a nest; the innermost (reduced) dim as an accumulator loop.
    size_t last = nest.sizes.size() - 1;
    std::span<llvm::Value *const> sizes(nest.sizes.data(), last);
    std::vector<std::vector<llvm::Value *>> strides(nArrays);
    for (size_t a = 0; a < nArrays; ++a) strides[a].assign(nest.strides[a].begin(), nest.strides[a].begin() + long(last));
    llvm::Value *innerN = nest.sizes[last];
    std::vector<llvm::AllocaInst *> slots;
    {
      llvm::IRBuilderBase::InsertPointGuard g(b);
      b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
      for (size_t j = 0; j < nOuts; ++j) slots.push_back(b.CreateAlloca(kb.elemType(inTypeOf(j)), nullptr, "acc"));
    }
    emitNest(kb, sizes, strides, [&](std::span<llvm::Value *const> off) {
      for (size_t j = 0; j < nOuts; ++j) b.CreateStore(reduceIdentity(kb, outs[j].op, inTypeOf(j)), slots[j]);
      emitLoop(b, innerN, [&](llvm::Value *i) {
        std::vector<llvm::Value *> inOff;
        for (size_t a = nOuts; a < nArrays; ++a) inOff.push_back(b.CreateAdd(off[a], b.CreateMul(i, nest.strides[a][last])));
        std::vector<llvm::Value *> xs = element(kb, inOff);
        for (size_t j = 0; j < nOuts; ++j)
          b.CreateStore(reduceCombine(kb, outs[j].op, inTypeOf(j), b.CreateLoad(kb.elemType(inTypeOf(j)), slots[j]), xs[j], true),
                        slots[j]);
      }, "r");
      for (size_t j = 0; j < nOuts; ++j) {
        ir::DType t = outs[j].result.dtype;
        llvm::Value *cur = kb.load(t, outPtr(j), off[j]);
        llvm::Value *acc = b.CreateLoad(kb.elemType(inTypeOf(j)), slots[j]);
        kb.store(t, reduceCombine(kb, outs[j].op, inTypeOf(j), cur, acc, false), outPtr(j), off[j]);
      }
    });
  }
  for (size_t j = 0; j < nOuts; ++j) {
    if (outs[j].op != ir::OpId::Mean) continue;
    ir::DType t = outs[j].result.dtype;
    llvm::Value *n = llvm::ConstantFP::get(kb.elemType(t), double(count));
    emitLoop(b, outN, [&](llvm::Value *o) { kb.store(t, b.CreateFDiv(kb.load(t, outPtr(j), o), n), outPtr(j), o); }, "mean");
  }
}

} // namespace

void emitReductions(KernelBuilder &kb, std::span<const ReductionOut> outs, const ir::AttrMap &attrs, const ir::Type &in,
                    std::span<const ir::Type> operands,
                    const std::function<std::vector<llvm::Value *>(KernelBuilder &kb, std::span<llvm::Value *const> inOffsets)> &element) {
  DT_ASSERT(!outs.empty(), "emitReductions without a reduction");
  const ir::OpDef &def = ir::opDef(outs[0].op);
  ReduceLayout layout = reduceLayout(def, attrs, in);
  int64_t outN = outs[0].result.numel();
  if (outN == 0) return;

  StridedNest nest;
  nest.sizes = in.shape;
  for (size_t j = 0; j < outs.size(); ++j) nest.strides.push_back(layout.outStrides);
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
    emitReductionNest(kb, outs, layout.count, constantNest(kb, nest), kb.i64(outN), horizontal, element);
    return;
  }
  std::vector<ir::DType> arrays;
  for (const ReductionOut &o : outs) arrays.push_back(o.result.dtype);
  for (const ir::Type &t : operands) arrays.push_back(t.dtype);
  emitParallelNest(kb, arrays, [&](KernelBuilder &c) { return constantNest(c, nest); },
                   [&](KernelBuilder &c, const ValueNest &part) {
                     llvm::Value *rows = c.b.CreateMul(part.sizes[0], part.strides[0][0]);
                     emitReductionNest(c, outs, layout.count, part, rows, horizontal, element);
                   });
}

void emitReduction(KernelBuilder &kb, const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &in,
                   const ir::Type &out, std::span<const ir::Type> operands,
                   const std::function<llvm::Value *(KernelBuilder &kb, std::span<llvm::Value *const> inOffsets)> &element) {
  ReductionOut one{def.id, in.dtype, out};
  emitReductions(kb, {&one, 1}, attrs, in, operands, [&](KernelBuilder &c, std::span<llvm::Value *const> off) {
    return std::vector<llvm::Value *>{element(c, off)};
  });
}

void lowerReduce(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &in = k.operands[0];
  emitReduction(kb, *k.def, k.attrs, in, k.result, k.operands,
                [&](KernelBuilder &c, std::span<llvm::Value *const> off) { return c.load(in.dtype, c.ins[0], off[0]); });
}

} // namespace dt::codegen
