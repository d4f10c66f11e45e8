// Shape-generic elementwise and reduction kernels (eager mode): the loop bounds and strides are read from the
// kernel's `sizes` argument (layout in codegen/Compiler.h), so one kernel serves every shape of a
// given rank. The innermost loop is versioned: when the result's inner stride is 1 and each
// operand's is 1 or 0, a copy with constant strides runs (it vectorizes); else a generic copy.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <limits>

namespace dt::codegen {

size_t genericNestRank(const KernelDesc &k) {
  const ir::Type &walked = k.def->kind == ir::OpKind::Reduce ? k.operands.at(0) : k.result;
  return std::max<size_t>(walked.shape.size(), 1);
}

void lowerElementwiseGeneric(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.shapeGeneric, k.def->name, ": not a shape-generic kernel");
  llvm::IRBuilder<> &b = kb.b;
  llvm::LLVMContext &ctx = kb.ctx();
  size_t rank = genericNestRank(k), arrays = 1 + k.operands.size();

  // Every bound and stride is loaded up front, before any store, so none is reloaded in a loop.
  auto sizeAt = [&](size_t i) {
    llvm::Value *p = b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), kb.sizes, i);
    return b.CreateAlignedLoad(b.getInt64Ty(), p, llvm::Align(8));
  };
  std::vector<llvm::Value *> sizes;
  for (size_t d = 0; d < rank; ++d) sizes.push_back(sizeAt(d));
  std::vector<std::vector<llvm::Value *>> strides(arrays);
  for (size_t a = 0; a < arrays; ++a)
    for (size_t d = 0; d < rank; ++d) strides[a].push_back(sizeAt(rank * (1 + a) + d));

  if (usesTranscendentals(k.def->id) && k.result.dtype == ir::DType::F32)
    kb.fn->addFnAttr("prefer-vector-width", "512");

  std::vector<ir::DType> types;
  for (const ir::Type &t : k.operands) types.push_back(t.dtype);
  auto element = [&](const std::vector<llvm::Value *> &off) {
    std::vector<llvm::Value *> xs;
    for (size_t i = 0; i < k.operands.size(); ++i) xs.push_back(kb.load(k.operands[i].dtype, kb.ins[i], off[i + 1]));
    kb.store(k.result.dtype, emitScalarOp(kb, k.def->id, xs, types, k.result.dtype, k.attrs), kb.out, off[0]);
  };

  // Versions of the innermost loop: bit i of a mask set means operand i's inner stride is 1, clear
  // means 0 (a broadcast). All operands 0 cannot happen with a unit result stride (the result is
  // their broadcast). Where (three operands) gets only the all-unit version, to bound code size.
  std::vector<unsigned> masks;
  unsigned all = (1u << k.operands.size()) - 1;
  if (k.operands.size() <= 2) {
    for (unsigned m = all; m > 0; --m) masks.push_back(m);
  } else {
    masks.push_back(all);
  }

  std::span<llvm::Value *const> outerSizes(sizes.data(), rank - 1);
  std::vector<std::vector<llvm::Value *>> outerStrides(arrays);
  for (size_t a = 0; a < arrays; ++a) outerStrides[a].assign(strides[a].begin(), strides[a].end() - 1);

  emitNest(kb, outerSizes, outerStrides, [&](std::span<llvm::Value *const> base) {
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    llvm::Value *n = sizes[rank - 1];
    auto *done = llvm::BasicBlock::Create(ctx, "inner.done", fn);
    llvm::Value *outUnit = b.CreateICmpEQ(strides[0][rank - 1], kb.i64(1));
    for (unsigned m : masks) {
      llvm::Value *cond = outUnit;
      for (size_t i = 0; i < k.operands.size(); ++i)
        cond = b.CreateAnd(cond, b.CreateICmpEQ(strides[i + 1][rank - 1], kb.i64((m >> i) & 1)));
      auto *then = llvm::BasicBlock::Create(ctx, "inner.v" + std::to_string(m), fn);
      auto *next = llvm::BasicBlock::Create(ctx, "inner.next", fn);
      b.CreateCondBr(cond, then, next);
      b.SetInsertPoint(then);
      emitLoop(b, n, [&](llvm::Value *iv) {
        std::vector<llvm::Value *> off{b.CreateAdd(base[0], iv)};
        for (size_t i = 0; i < k.operands.size(); ++i)
          off.push_back((m >> i) & 1 ? b.CreateAdd(base[i + 1], iv) : base[i + 1]);
        element(off);
      }, "j" + std::to_string(m));
      b.CreateBr(done);
      b.SetInsertPoint(next);
    }
    emitLoop(b, n, [&](llvm::Value *iv) {
      std::vector<llvm::Value *> off;
      for (size_t a = 0; a < arrays; ++a) off.push_back(b.CreateAdd(base[a], b.CreateMul(iv, strides[a][rank - 1])));
      element(off);
    }, "j");
    b.CreateBr(done);
    b.SetInsertPoint(done);
  });
}

// --- reductions ----------------------------------------------------------------------------------
// The same rules as lowerReduce (codegen/LowerReduce.cpp), with the nest read from `sizes`:
// K bounds, K result strides (0 on reduced dims), K input strides, the result's element count,
// then the number of elements reduced into each result element (for mean).


void lowerReduceGeneric(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.shapeGeneric && k.def->kind == ir::OpKind::Reduce, k.def->name, ": not a shape-generic reduction");
  llvm::IRBuilder<> &b = kb.b;
  llvm::LLVMContext &ctx = kb.ctx();
  ir::OpId op = k.def->id;
  ir::DType t = k.operands[0].dtype, outT = k.result.dtype;
  size_t rank = genericNestRank(k);
  auto sizeAt = [&](size_t i) {
    llvm::Value *p = b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), kb.sizes, i);
    return b.CreateAlignedLoad(b.getInt64Ty(), p, llvm::Align(8));
  };
  std::vector<llvm::Value *> sizes;
  std::vector<std::vector<llvm::Value *>> strides(2);
  for (size_t d = 0; d < rank; ++d) sizes.push_back(sizeAt(d));
  for (size_t a = 0; a < 2; ++a)
    for (size_t d = 0; d < rank; ++d) strides[a].push_back(sizeAt(rank * (1 + a) + d));
  llvm::Value *outN = sizeAt(3 * rank), *count = sizeAt(3 * rank + 1);
  llvm::Type *ty = kb.elemType(t);
  llvm::AllocaInst *slot;
  {
    llvm::IRBuilderBase::InsertPointGuard g(b);
    b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
    slot = b.CreateAlloca(ty, nullptr, "acc");
  }

  emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outT, reduceIdentity(kb, op, t), kb.out, o); }, "init");

  size_t last = rank - 1;
  llvm::Function *fn = kb.fn;
  auto *horizontal = llvm::BasicBlock::Create(ctx, "horizontal", fn);
  auto *vertical = llvm::BasicBlock::Create(ctx, "vertical", fn);
  auto *walked = llvm::BasicBlock::Create(ctx, "walked", fn);
  b.CreateCondBr(b.CreateICmpEQ(strides[0][last], kb.i64(0)), horizontal, vertical);

  // The innermost dim is reduced: a scalar accumulator over it (reassoc: it vectorizes), with a
  // unit-stride copy of the accumulation loop.
  b.SetInsertPoint(horizontal);
  std::span<llvm::Value *const> outerSizes(sizes.data(), last);
  std::vector<std::vector<llvm::Value *>> outerStrides(2);
  for (size_t a = 0; a < 2; ++a) outerStrides[a].assign(strides[a].begin(), strides[a].begin() + long(last));
  llvm::Value *innerN = sizes[last], *innerStride = strides[1][last];
  emitNest(kb, outerSizes, outerStrides, [&](std::span<llvm::Value *const> off) {
    b.CreateStore(reduceIdentity(kb, op, t), slot);
    auto *unit = llvm::BasicBlock::Create(ctx, "r.unit", fn);
    auto *strided = llvm::BasicBlock::Create(ctx, "r.strided", fn);
    auto *done = llvm::BasicBlock::Create(ctx, "r.done", fn);
    b.CreateCondBr(b.CreateICmpEQ(innerStride, kb.i64(1)), unit, strided);
    for (bool isUnit : {true, false}) {
      b.SetInsertPoint(isUnit ? unit : strided);
      emitLoop(b, innerN, [&](llvm::Value *r) {
        llvm::Value *x = kb.load(t, kb.ins[0], b.CreateAdd(off[1], isUnit ? r : b.CreateMul(r, innerStride)));
        b.CreateStore(reduceCombine(kb, op, t, b.CreateLoad(ty, slot), x, true), slot);
      }, isUnit ? "ru" : "r");
      b.CreateBr(done);
    }
    b.SetInsertPoint(done);
    llvm::Value *cur = kb.load(outT, kb.out, off[0]);
    kb.store(outT, reduceCombine(kb, op, t, cur, b.CreateLoad(ty, slot), false), kb.out, off[0]);
  });
  b.CreateBr(walked);

  // Otherwise out[o] = op(out[o], x[i]) over the whole nest.
  b.SetInsertPoint(vertical);
  emitNest(kb, sizes, strides, [&](std::span<llvm::Value *const> off) {
    llvm::Value *cur = kb.load(outT, kb.out, off[0]);
    kb.store(outT, reduceCombine(kb, op, t, cur, kb.load(t, kb.ins[0], off[1]), false), kb.out, off[0]);
  });
  b.CreateBr(walked);

  b.SetInsertPoint(walked);
  if (op == ir::OpId::Mean) {
    llvm::Value *n = b.CreateSIToFP(count, kb.elemType(outT)); // rounded once, like lowerReduce's constant
    emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outT, b.CreateFDiv(kb.load(outT, kb.out, o), n), kb.out, o); }, "mean");
  }
}

} // namespace dt::codegen
