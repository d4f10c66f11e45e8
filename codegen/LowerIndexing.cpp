// Indexing ops, data movement into a fresh result buffer, one lowering each for compiled graphs
// and shape-generic (eager) kernels: the dims and the shape-like attributes (pad widths, concat
// offsets, gather's axis length and stride) come in a `sizes` layout (codegen/Compiler.h) that
// indexingSizes computes; a shape-generic kernel loads it at run time, a static one gets the
// same numbers as constants (so LLVM folds them).
//  - pad: memset 0, then a strided copy of the operand into the result (interior gaps folded into
//    the result's strides, low padding into its base offset);
//  - concat: one strided copy per operand into its range along the axis;
//  - gather / scatter_add: a loop nest over the index's shape; the index value replaces the
//    coordinate along the axis. An index outside [0, size) (negative ones included, like the
//    interpreter and torch.gather) is flagged and clamped so memory stays in bounds; after the
//    walk a cold path finds the first bad index in row-major order and reports it through
//    dt_kernel_index_error (runtime/KernelError.h), and the caller throws instead of returning the
//    result. The fast path keeps no branch. scatter_add copies base, then adds src in row-major
//    order of the index, in the dtype (i64 wraps), exactly the interpreter's order, so the two
//    agree bit for bit.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>

#include <utility>

namespace dt::codegen {

namespace {

using SizeAt = std::function<llvm::Value *(size_t)>;

/// Gather and scatter_add treat a rank-0 tensor as [1] (one element; index 0 is the only valid value).
ir::Shape atLeast1(const ir::Shape &s) { return s.empty() ? ir::Shape{1} : s; }

/// One strided copy: [base, nest of (dst strides, src strides) over the source's shape].
void appendCopy(std::vector<int64_t> &out, int64_t base, const ir::Shape &srcShape, std::vector<int64_t> dstStrides) {
  StridedNest nest;
  nest.sizes = srcShape;
  nest.strides = {std::move(dstStrides), ir::contiguousStrides(srcShape)};
  out.push_back(base);
  std::vector<int64_t> flat = flattenNest(nest, srcShape.size());
  out.insert(out.end(), flat.begin(), flat.end());
}

/// Emits the copy appendCopy describes, from element `first` of the layout: src (contiguous,
/// dtype t) into dst at the base offset. Returns the element after the block.
size_t emitCopy(KernelBuilder &kb, const SizeAt &at, size_t first, size_t rank, ir::DType t, llvm::Value *src,
                llvm::Value *dst) {
  llvm::Value *to = kb.b.CreateInBoundsGEP(kb.elemType(t), dst, at(first));
  ValueNest nest = readNest(at, first + 1, rank, 2);
  const unsigned unit[] = {0b11};
  emitVersionedNest(kb, nest, unit, [&](std::span<llvm::Value *const> off) {
    kb.store(t, kb.load(t, src, off[1]), to, off[0]);
  });
  return first + 1 + 3 * rank;
}

/// The gather / scatter_add header: [axis, axis size, axis stride, index numel], then the nest
/// over the index's shape of (index strides, data strides without the axis term[, src strides]).
std::vector<int64_t> indexWalkSizes(const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &data,
                                    const ir::Type &index, const ir::Type *src) {
  int64_t axis = ir::opAxis(def, attrs, data.rank());
  ir::Shape ds = atLeast1(data.shape), is = atLeast1(index.shape);
  std::vector<int64_t> dataStrides = ir::contiguousStrides(ds);
  std::vector<int64_t> out{axis, ds[size_t(axis)], dataStrides[size_t(axis)], index.numel()};
  dataStrides[size_t(axis)] = 0;
  StridedNest nest;
  nest.sizes = is;
  nest.strides = {ir::contiguousStrides(is), dataStrides};
  if (src) nest.strides.push_back(ir::contiguousStrides(atLeast1(src->shape)));
  std::vector<int64_t> flat = flattenNest(nest, is.size());
  out.insert(out.end(), flat.begin(), flat.end());
  return out;
}

/// The bad-index flag of a gather / scatter_add walk and its cold report.
struct IndexCheck {
  KernelBuilder &kb;
  llvm::Value *axis, *size, *count, *index;
  llvm::AllocaInst *bad = nullptr;

  IndexCheck(KernelBuilder &kb, llvm::Value *axis, llvm::Value *size, llvm::Value *count, llvm::Value *index)
      : kb(kb), axis(axis), size(size), count(count), index(index) {
    llvm::IRBuilderBase::InsertPointGuard g(kb.b);
    kb.b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
    bad = kb.b.CreateAlloca(kb.b.getInt1Ty(), nullptr, "bad");
    kb.b.CreateStore(kb.b.getFalse(), bad);
  }

  /// index[offset], flagged when outside [0, size) and then replaced by 0 (valid: the walk runs
  /// only for a non-empty index, which the type rule forbids on an empty axis).
  llvm::Value *load(llvm::Value *offset) {
    llvm::IRBuilder<> &b = kb.b;
    llvm::Value *v = kb.load(ir::DType::I64, index, offset);
    llvm::Value *out = b.CreateICmpUGE(v, size); // negative values are huge unsigned
    b.CreateStore(b.CreateOr(b.CreateLoad(b.getInt1Ty(), bad), out), bad);
    return b.CreateSelect(out, kb.i64(0), v);
  }

  /// After the walk: when flagged (unlikely), report every bad index in row-major order (the
  /// runtime keeps the first).
  void report() {
    llvm::IRBuilder<> &b = kb.b;
    llvm::LLVMContext &ctx = kb.ctx();
    auto *cold = llvm::BasicBlock::Create(ctx, "index.error", kb.fn);
    auto *done = llvm::BasicBlock::Create(ctx, "index.ok", kb.fn);
    b.CreateCondBr(b.CreateLoad(b.getInt1Ty(), bad), cold, done, llvm::MDBuilder(ctx).createBranchWeights(1, 1 << 20));
    b.SetInsertPoint(cold);
    llvm::FunctionCallee fn = kb.mod.getOrInsertFunction(
        "dt_kernel_index_error", llvm::FunctionType::get(b.getVoidTy(), {b.getInt64Ty(), b.getInt64Ty(), b.getInt64Ty()}, false));
    if (auto *f = llvm::dyn_cast<llvm::Function>(fn.getCallee())) {
      f->addFnAttr(llvm::Attribute::Cold);
      f->addFnAttr(llvm::Attribute::NoUnwind);
    }
    emitLoop(b, count, [&](llvm::Value *i) {
      llvm::Value *v = kb.load(ir::DType::I64, index, i);
      auto *call = llvm::BasicBlock::Create(ctx, "index.bad", kb.fn);
      auto *next = llvm::BasicBlock::Create(ctx, "index.next", kb.fn);
      b.CreateCondBr(b.CreateICmpUGE(v, size), call, next);
      b.SetInsertPoint(call);
      b.CreateCall(fn, {v, size, axis});
      b.CreateBr(next);
      b.SetInsertPoint(next);
    }, "scan");
    b.CreateBr(done);
    b.SetInsertPoint(done);
  }
};

void lowerPad(KernelBuilder &kb, const KernelDesc &k, const SizeAt &at) {
  // [result numel, copy block]
  ir::DType t = k.result.dtype;
  llvm::Value *bytes = kb.b.CreateMul(at(0), kb.i64(int64_t(ir::dtypeSize(t))));
  kb.b.CreateMemSet(kb.out, kb.b.getInt8(0), bytes, llvm::Align(ir::dtypeSize(t)));
  emitCopy(kb, at, 1, std::max<size_t>(k.operands[0].shape.size(), 1), t, kb.ins[0], kb.out);
}

void lowerConcat(KernelBuilder &kb, const KernelDesc &k, const SizeAt &at) {
  // One copy block per operand.
  size_t rank = std::max<size_t>(k.result.shape.size(), 1), next = 0;
  for (size_t i = 0; i < k.operands.size(); ++i) next = emitCopy(kb, at, next, rank, k.result.dtype, kb.ins[i], kb.out);
}

void lowerGather(KernelBuilder &kb, const KernelDesc &k, const SizeAt &at) {
  // [axis, size, stride, index numel, nest of (index = result, x)]
  const ir::Type &x = k.operands[0];
  size_t rank = std::max<size_t>(x.shape.size(), 1);
  llvm::Value *stride = at(2);
  IndexCheck check(kb, at(0), at(1), at(3), kb.ins[1]);
  ValueNest nest = readNest(at, 4, rank, 2);
  const unsigned versions[] = {0b11, 0b01}; // x's inner stride 1, or 0 (gathering along the last axis)
  emitVersionedNest(kb, nest, versions, [&](std::span<llvm::Value *const> off) {
    llvm::Value *v = check.load(off[0]);
    kb.store(x.dtype, kb.load(x.dtype, kb.ins[0], kb.b.CreateAdd(off[1], kb.b.CreateMul(v, stride))), kb.out, off[0]);
  });
  check.report();
}

void lowerScatterAdd(KernelBuilder &kb, const KernelDesc &k, const SizeAt &at) {
  // [axis, size, stride, index numel, nest of (index, base = result, src), base numel]
  const ir::Type &base = k.operands[0];
  ir::DType t = base.dtype;
  size_t rank = std::max<size_t>(base.shape.size(), 1);
  llvm::Value *bytes = kb.b.CreateMul(at(4 + 4 * rank), kb.i64(int64_t(ir::dtypeSize(t))));
  kb.b.CreateMemCpy(kb.out, llvm::Align(ir::dtypeSize(t)), kb.ins[0], llvm::Align(ir::dtypeSize(t)), bytes);
  llvm::Value *stride = at(2);
  IndexCheck check(kb, at(0), at(1), at(3), kb.ins[1]);
  ValueNest nest = readNest(at, 4, rank, 3);
  bool fp = ir::isFloat(t);
  emitVersionedNest(kb, nest, {}, [&](std::span<llvm::Value *const> off) {
    llvm::Value *to = kb.b.CreateAdd(off[1], kb.b.CreateMul(check.load(off[0]), stride));
    llvm::Value *cur = kb.load(t, kb.out, to), *s = kb.load(t, kb.ins[2], off[2]);
    kb.store(t, fp ? kb.b.CreateFAdd(cur, s) : kb.b.CreateAdd(cur, s), kb.out, to);
  });
  check.report();
}


using SizesFn = std::vector<int64_t> (*)(const ir::OpDef &, std::span<const ir::Type>, const ir::Type &,
                                         const ir::AttrMap &);
using LowerFn = void (*)(KernelBuilder &, const KernelDesc &, const SizeAt &);

std::vector<int64_t> padSizes(const ir::OpDef &def, std::span<const ir::Type> operands, const ir::Type &result,
                              const ir::AttrMap &attrs) {
  const ir::Type &in = operands[0];
  ir::PadAttrs a = ir::padAttrs(def, attrs, in);
  std::vector<int64_t> outStrides = ir::contiguousStrides(result.shape), st(outStrides.size());
  int64_t base = 0;
  for (size_t d = 0; d < st.size(); ++d) {
    base += a.low[d] * outStrides[d];
    st[d] = outStrides[d] * (a.interior[d] + 1);
  }
  std::vector<int64_t> out{result.numel()};
  appendCopy(out, in.numel() == 0 ? 0 : base, in.shape, st);
  return out;
}

std::vector<int64_t> concatSizes(const ir::OpDef &def, std::span<const ir::Type> operands, const ir::Type &result,
                                 const ir::AttrMap &attrs) {
  int64_t axis = ir::opAxis(def, attrs, result.rank());
  std::vector<int64_t> outStrides = ir::contiguousStrides(result.shape), out;
  int64_t at = 0;
  for (const ir::Type &in : operands) {
    appendCopy(out, in.numel() == 0 ? 0 : at * outStrides[size_t(axis)], in.shape, outStrides);
    at += in.shape[size_t(axis)];
  }
  return out;
}

std::vector<int64_t> gatherSizes(const ir::OpDef &def, std::span<const ir::Type> operands, const ir::Type &,
                                 const ir::AttrMap &attrs) {
  return indexWalkSizes(def, attrs, operands[0], operands[1], nullptr);
}

std::vector<int64_t> scatterAddSizes(const ir::OpDef &def, std::span<const ir::Type> operands, const ir::Type &,
                                     const ir::AttrMap &attrs) {
  std::vector<int64_t> out = indexWalkSizes(def, attrs, operands[0], operands[1], &operands[2]);
  out.push_back(operands[0].numel());
  return out;
}

/// Each indexing op's layout and lowering.
std::pair<SizesFn, LowerFn> indexingOp(const ir::OpDef &def) {
  switch (def.id) {
  case ir::OpId::Pad: return {padSizes, lowerPad};
  case ir::OpId::Concat: return {concatSizes, lowerConcat};
  case ir::OpId::Gather: return {gatherSizes, lowerGather};
  case ir::OpId::ScatterAdd: return {scatterAddSizes, lowerScatterAdd};
  case ir::OpId::Neg: case ir::OpId::Exp: case ir::OpId::Log: case ir::OpId::Abs: case ir::OpId::Sqrt:
  case ir::OpId::Sigmoid: case ir::OpId::Tanh: case ir::OpId::Relu: case ir::OpId::Floor: case ir::OpId::Add:
  case ir::OpId::Sub: case ir::OpId::Mul: case ir::OpId::Div: case ir::OpId::Pow: case ir::OpId::Maximum:
  case ir::OpId::Minimum: case ir::OpId::Eq: case ir::OpId::Ne: case ir::OpId::Lt: case ir::OpId::Le:
  case ir::OpId::Gt: case ir::OpId::Ge: case ir::OpId::Where: case ir::OpId::Cast: case ir::OpId::Const:
  case ir::OpId::MatMul: case ir::OpId::Sum: case ir::OpId::Mean: case ir::OpId::Max: case ir::OpId::Min:
  case ir::OpId::ArgMax: case ir::OpId::Reshape: case ir::OpId::Transpose: case ir::OpId::Permute:
  case ir::OpId::BroadcastTo: case ir::OpId::Slice: case ir::OpId::Kernel:
    break;
  }
  DT_ASSERT(false, def.name, " is not an indexing op");
}

} // namespace

std::vector<int64_t> indexingSizes(const ir::OpDef &def, std::span<const ir::Type> operands, const ir::Type &result,
                                   const ir::AttrMap &attrs) {
  return indexingOp(def).first(def, operands, result, attrs);
}

void lowerIndexing(KernelBuilder &kb, const KernelDesc &k) {
  // A static kernel gets its layout as constants; a shape-generic one loads it, every element up
  // front (before any store, so none is reloaded in a loop). The layout's length depends on the
  // ranks (and concat's operand count) only.
  std::vector<int64_t> layout = indexingSizes(*k.def, k.operands, k.result, k.attrs);
  std::vector<llvm::Value *> at;
  for (size_t i = 0; i < layout.size(); ++i) at.push_back(k.shapeGeneric ? loadSize(kb, i) : kb.i64(layout[i]));
  indexingOp(*k.def).second(kb, k, [&](size_t i) { return at.at(i); });
}

} // namespace dt::codegen
