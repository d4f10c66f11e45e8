// Helpers every lowering uses: typed element access, counted loops and strided loop nests.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Module.h>

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
