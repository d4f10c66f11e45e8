// Helpers every lowering uses: typed element access, counted loops, strided loop nests, and
// nests split across the runtime's thread pool (dt_parallel_for calling an outlined chunk).
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Module.h>

#include <algorithm>

namespace dt::codegen {

llvm::Type *KernelBuilder::elemType(ir::DType t) const {
  switch (t) {
  case ir::DType::F32: return b.getFloatTy();
  case ir::DType::F64: return b.getDoubleTy();
  case ir::DType::I64: return b.getInt64Ty();
  case ir::DType::Bool: return b.getInt8Ty();
  }
  DT_ASSERT(false, "unknown dtype");
}

llvm::Value *KernelBuilder::load(ir::DType t, llvm::Value *ptr, llvm::Value *index) const {
  llvm::Type *ty = elemType(t);
  llvm::Value *p = b.CreateInBoundsGEP(ty, ptr, index);
  // Caller-owned (wrapped) buffers are only guaranteed element alignment.
  return b.CreateAlignedLoad(ty, p, llvm::Align(ir::dtypeSize(t)));
}

void KernelBuilder::store(ir::DType t, llvm::Value *v, llvm::Value *ptr, llvm::Value *index) const {
  llvm::Value *p = b.CreateInBoundsGEP(elemType(t), ptr, index);
  b.CreateAlignedStore(v, p, llvm::Align(ir::dtypeSize(t)));
}

void emitLoop(llvm::IRBuilder<> &b, llvm::Value *n, const std::function<void(llvm::Value *)> &body,
              const std::string &name) {
  llvm::Function *fn = b.GetInsertBlock()->getParent();
  llvm::LLVMContext &ctx = b.getContext();
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *header = llvm::BasicBlock::Create(ctx, name + ".head", fn);
  auto *bodyBB = llvm::BasicBlock::Create(ctx, name + ".body", fn);
  auto *exit = llvm::BasicBlock::Create(ctx, name + ".exit", fn);
  b.CreateBr(header);

  b.SetInsertPoint(header);
  llvm::PHINode *iv = b.CreatePHI(b.getInt64Ty(), 2, name);
  iv->addIncoming(b.getInt64(0), pre);
  b.CreateCondBr(b.CreateICmpSLT(iv, n), bodyBB, exit);

  b.SetInsertPoint(bodyBB);
  body(iv);
  llvm::Value *next = b.CreateAdd(iv, b.getInt64(1), name + ".next", /*HasNUW=*/true, /*HasNSW=*/true);
  iv->addIncoming(next, b.GetInsertBlock());
  b.CreateBr(header);

  b.SetInsertPoint(exit);
}

int64_t StridedNest::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

void StridedNest::coalesce() {
  size_t arrays = strides.size();
  if (numel() == 0) {
    sizes = {0};
    for (auto &s : strides) s = {0};
    return;
  }
  std::vector<int64_t> ns;
  std::vector<std::vector<int64_t>> nst(arrays);
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    bool merge = !ns.empty();
    for (size_t a = 0; merge && a < arrays; ++a)
      merge = nst[a].back() == strides[a][d] * sizes[d];
    if (merge) {
      // (outer, inner) contiguous in every array: one dim of outer*inner with the inner stride.
      ns.back() *= sizes[d];
      for (size_t a = 0; a < arrays; ++a) nst[a].back() = strides[a][d];
    } else {
      ns.push_back(sizes[d]);
      for (size_t a = 0; a < arrays; ++a) nst[a].push_back(strides[a][d]);
    }
  }
  sizes = std::move(ns);
  strides = std::move(nst);
}

namespace {
void emitNestLevel(KernelBuilder &kb, std::span<llvm::Value *const> sizes,
                   const std::vector<std::vector<llvm::Value *>> &strides, size_t d,
                   std::vector<llvm::Value *> &offsets,
                   const std::function<void(std::span<llvm::Value *const>)> &body) {
  if (d == sizes.size()) {
    body(offsets);
    return;
  }
  emitLoop(kb.b, sizes[d], [&](llvm::Value *iv) {
    std::vector<llvm::Value *> saved = offsets;
    for (size_t a = 0; a < offsets.size(); ++a)
      offsets[a] = kb.b.CreateAdd(offsets[a], kb.b.CreateMul(iv, strides[a][d]));
    emitNestLevel(kb, sizes, strides, d + 1, offsets, body);
    offsets = std::move(saved);
  }, "i" + std::to_string(d));
}
} // namespace

void emitNest(KernelBuilder &kb, std::span<llvm::Value *const> sizes,
              const std::vector<std::vector<llvm::Value *>> &strides,
              const std::function<void(std::span<llvm::Value *const> offsets)> &body) {
  std::vector<llvm::Value *> offsets(strides.size(), kb.i64(0));
  emitNestLevel(kb, sizes, strides, 0, offsets, body);
}

void emitNest(KernelBuilder &kb, const StridedNest &nest,
              const std::function<void(std::span<llvm::Value *const> offsets)> &body) {
  std::vector<llvm::Value *> sizes;
  for (int64_t s : nest.sizes) sizes.push_back(kb.i64(s));
  std::vector<std::vector<llvm::Value *>> strides(nest.strides.size());
  for (size_t a = 0; a < nest.strides.size(); ++a)
    for (int64_t s : nest.strides[a]) strides[a].push_back(kb.i64(s));
  emitNest(kb, sizes, strides, body);
}

ValueNest constantNest(KernelBuilder &kb, const StridedNest &nest) {
  ValueNest v;
  for (int64_t s : nest.sizes) v.sizes.push_back(kb.i64(s));
  v.strides.resize(nest.strides.size());
  for (size_t a = 0; a < nest.strides.size(); ++a)
    for (int64_t s : nest.strides[a]) v.strides[a].push_back(kb.i64(s));
  return v;
}

void emitParallelFor(KernelBuilder &kb, llvm::Value *n, llvm::Value *grain,
                     const std::function<void(KernelBuilder &chunk, llvm::Value *begin, llvm::Value *end)> &chunk) {
  llvm::LLVMContext &ctx = kb.ctx();
  llvm::IRBuilder<> &b = kb.b;
  llvm::Type *ptr = b.getPtrTy(), *i64 = b.getInt64Ty(), *voidTy = b.getVoidTy();
  // The pointers the chunk gets: out, ins..., sizes (null when kb has none).
  std::vector<llvm::Value *> ptrs{kb.out};
  ptrs.insert(ptrs.end(), kb.ins.begin(), kb.ins.end());
  ptrs.push_back(kb.sizes ? kb.sizes : llvm::ConstantPointerNull::get(llvm::PointerType::getUnqual(ctx)));
  for (llvm::Value *p : ptrs) DT_ASSERT(p && p->getType()->isPointerTy(), "emitParallelFor: a kernel pointer is missing");

  // The chunk: (pointers..., begin, end), noalias where kb.fn's parameter is (a kernel computed in
  // place is not), not inlined into the trampoline so that the noalias stays on its parameters.
  std::vector<llvm::Type *> params(ptrs.size(), ptr);
  params.push_back(i64);
  params.push_back(i64);
  auto *fn = llvm::Function::Create(llvm::FunctionType::get(voidTy, params, false), llvm::GlobalValue::InternalLinkage,
                                    kb.fn->getName() + ".chunk", kb.mod);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr(llvm::Attribute::NoInline);
  for (const char *attr : {"prefer-vector-width", "min-legal-vector-width"})
    if (kb.fn->hasFnAttribute(attr)) fn->addFnAttr(kb.fn->getFnAttribute(attr));
  for (size_t i = 0; i < ptrs.size(); ++i) {
    auto *arg = llvm::dyn_cast<llvm::Argument>(ptrs[i]);
    if (arg && arg->getParent() == kb.fn && arg->hasNoAliasAttr()) fn->addParamAttr(unsigned(i), llvm::Attribute::NoAlias);
    fn->addParamAttr(unsigned(i), llvm::Attribute::NoCapture);
  }
  {
    llvm::IRBuilder<> cb(llvm::BasicBlock::Create(ctx, "entry", fn));
    KernelBuilder inner{kb.mod, cb, fn, fn->getArg(0), {}, kb.sizes ? fn->getArg(unsigned(ptrs.size() - 1)) : nullptr};
    for (size_t i = 0; i < kb.ins.size(); ++i) inner.ins.push_back(fn->getArg(unsigned(1 + i)));
    chunk(inner, fn->getArg(unsigned(ptrs.size())), fn->getArg(unsigned(ptrs.size() + 1)));
    cb.CreateRetVoid();
  }

  // The trampoline dt_parallel_for calls: body(ctx, begin, end), ctx an array of the pointers.
  auto *ctxTy = llvm::ArrayType::get(ptr, ptrs.size());
  auto *tramp = llvm::Function::Create(llvm::FunctionType::get(voidTy, {ptr, i64, i64}, false),
                                       llvm::GlobalValue::InternalLinkage, kb.fn->getName() + ".par", kb.mod);
  tramp->addFnAttr(llvm::Attribute::NoUnwind);
  {
    llvm::IRBuilder<> tb(llvm::BasicBlock::Create(ctx, "entry", tramp));
    std::vector<llvm::Value *> args;
    for (size_t i = 0; i < ptrs.size(); ++i)
      args.push_back(tb.CreateAlignedLoad(ptr, tb.CreateConstInBoundsGEP2_64(ctxTy, tramp->getArg(0), 0, i), llvm::Align(8)));
    args.push_back(tramp->getArg(1));
    args.push_back(tramp->getArg(2));
    tb.CreateCall(fn, args)->setDoesNotThrow();
    tb.CreateRetVoid();
  }

  llvm::AllocaInst *c;
  {
    llvm::IRBuilder<> entry(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
    c = entry.CreateAlloca(ctxTy, nullptr, "par.ctx");
    c->setAlignment(llvm::Align(8));
  }
  for (size_t i = 0; i < ptrs.size(); ++i)
    b.CreateAlignedStore(ptrs[i], b.CreateConstInBoundsGEP2_64(ctxTy, c, 0, i), llvm::Align(8));
  llvm::FunctionCallee pf = kb.mod.getOrInsertFunction("dt_parallel_for", llvm::FunctionType::get(voidTy, {ptr, ptr, i64, i64}, false));
  b.CreateCall(pf, {tramp, c, n, grain})->setDoesNotThrow();
}

namespace {
/// The index of the outermost dim of size != 1 (the last dim when all are 1), as an i64.
llvm::Value *splitDim(llvm::IRBuilder<> &b, std::span<llvm::Value *const> sizes) {
  llvm::Value *idx = b.getInt64(sizes.size() - 1);
  for (size_t d = sizes.size() - 1; d-- > 0;)
    idx = b.CreateSelect(b.CreateICmpNE(sizes[d], b.getInt64(1)), b.getInt64(d), idx);
  return idx;
}

/// v[idx] of Values (a select chain; folds to one Value when idx is a constant).
llvm::Value *pick(llvm::IRBuilder<> &b, std::span<llvm::Value *const> v, llvm::Value *idx) {
  llvm::Value *r = v.back();
  for (size_t d = v.size() - 1; d-- > 0;) r = b.CreateSelect(b.CreateICmpEQ(idx, b.getInt64(d)), v[d], r);
  return r;
}
} // namespace

void emitParallelNest(KernelBuilder &kb, std::span<const ir::DType> arrayTypes,
                      const std::function<ValueNest(KernelBuilder &kb)> &read,
                      const std::function<void(KernelBuilder &kb, const ValueNest &nest)> &emit, int64_t minElements) {
  ValueNest nest = read(kb);
  DT_ASSERT(nest.strides.size() == arrayTypes.size() && arrayTypes.size() == 1 + kb.ins.size(),
            "emitParallelNest: ", nest.strides.size(), " arrays, ", arrayTypes.size(), " types, ", kb.ins.size(), " operands");
  if (nest.sizes.empty()) return emit(kb, nest);
  bool constant = true;
  int64_t numel = 1;
  for (llvm::Value *s : nest.sizes) {
    auto *c = llvm::dyn_cast<llvm::ConstantInt>(s);
    constant = constant && c;
    if (c) numel *= c->getSExtValue();
  }
  if (constant && numel < minElements) return emit(kb, nest);

  llvm::IRBuilder<> &b = kb.b;
  llvm::Value *total = kb.i64(1);
  for (llvm::Value *s : nest.sizes) total = b.CreateMul(total, s);
  llvm::Value *n = pick(b, nest.sizes, splitDim(b, nest.sizes));
  // Elements per unit of the split dim (>= 1), and the grain: units per chunk, at least
  // minElements elements each.
  llvm::Value *nonzero = b.CreateICmpSGT(n, kb.i64(0));
  llvm::Value *row = b.CreateSelect(nonzero, b.CreateSDiv(total, b.CreateSelect(nonzero, n, kb.i64(1))), kb.i64(1));
  row = b.CreateSelect(b.CreateICmpSGT(row, kb.i64(0)), row, kb.i64(1));
  llvm::Value *grain = b.CreateSDiv(b.CreateAdd(kb.i64(minElements), b.CreateSub(row, kb.i64(1))), row);

  emitParallelFor(kb, n, grain, [&](KernelBuilder &c, llvm::Value *begin, llvm::Value *end) {
    ValueNest part = read(c);
    llvm::IRBuilder<> &cb = c.b;
    llvm::Value *d = splitDim(cb, part.sizes);
    llvm::Value *len = cb.CreateSub(end, begin);
    for (size_t i = 0; i < part.sizes.size(); ++i)
      part.sizes[i] = cb.CreateSelect(cb.CreateICmpEQ(d, cb.getInt64(i)), len, part.sizes[i]);
    for (size_t a = 0; a < part.strides.size(); ++a) {
      llvm::Value *shift = cb.CreateMul(begin, pick(cb, part.strides[a], d));
      llvm::Value *&p = a == 0 ? c.out : c.ins[a - 1];
      p = cb.CreateInBoundsGEP(c.elemType(arrayTypes[a]), p, shift);
    }
    emit(c, part);
  });
}

std::vector<int64_t> broadcastStrides(const ir::Shape &shape, const ir::Shape &outShape) {
  DT_ASSERT(shape.size() <= outShape.size(), ir::shapeStr(shape), " vs ", ir::shapeStr(outShape));
  std::vector<int64_t> contiguous = ir::contiguousStrides(shape);
  std::vector<int64_t> st(outShape.size(), 0);
  size_t lead = outShape.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    DT_ASSERT(shape[i] == outShape[lead + i] || shape[i] == 1, ir::shapeStr(shape), " does not broadcast to ",
              ir::shapeStr(outShape));
    st[lead + i] = shape[i] == 1 ? 0 : contiguous[i];
  }
  return st;
}

StridedNest broadcastNest(const ir::Type &result, std::span<const ir::Type> operands) {
  StridedNest nest;
  nest.sizes = result.shape;
  nest.strides.push_back(ir::contiguousStrides(result.shape));
  for (const ir::Type &t : operands) nest.strides.push_back(broadcastStrides(t.shape, result.shape));
  return nest;
}

} // namespace dt::codegen
