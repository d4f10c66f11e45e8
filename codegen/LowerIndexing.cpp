// Indexing ops, data movement into a fresh result buffer:
//  - pad: memset 0, then a strided copy of the operand into the result (interior gaps folded into
//    the result's strides, low padding into its base offset);
//  - concat: one strided copy per operand into its range along the axis;
//  - gather / scatter_add: a loop nest over the index's shape; the index value replaces the
//    coordinate along the axis. The value is CLAMPED to [0, size - 1], so a bad index never reads
//    or writes out of bounds: callers validate indices (the eager frontend raises IndexError,
//    the interpreter raises dt::IndexError); the kernel's result for a bad index is that of the
//    clamped one. scatter_add copies base, then adds src in row-major order of the index, in the
//    dtype (i64 wraps), exactly the interpreter's order, so the two agree bit for bit.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>

namespace dt::codegen {

namespace {

/// `ptr + offset` elements of dtype t (no GEP for a zero offset).
llvm::Value *offsetPtr(KernelBuilder &kb, ir::DType t, llvm::Value *ptr, int64_t offset) {
  return offset == 0 ? ptr : kb.b.CreateInBoundsGEP(kb.elemType(t), ptr, kb.i64(offset));
}

/// Copies every element of `in` (contiguous, dtype t) to dst[offsetOf(idx, dstStrides)].
void stridedCopy(KernelBuilder &kb, ir::DType t, const ir::Shape &inShape, llvm::Value *src, llvm::Value *dst,
                 const std::vector<int64_t> &dstStrides) {
  StridedNest nest;
  nest.sizes = inShape;
  nest.strides = {dstStrides, ir::contiguousStrides(inShape)};
  nest.coalesce();
  emitNest(kb, nest, [&](std::span<llvm::Value *const> off) { kb.store(t, kb.load(t, src, off[1]), dst, off[0]); });
}

void lowerPad(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &in = k.operands[0], &out = k.result;
  if (out.bytes() == 0) return;
  kb.b.CreateMemSet(kb.out, kb.b.getInt8(0), kb.i64(int64_t(out.bytes())), llvm::Align(ir::dtypeSize(out.dtype)));
  if (in.numel() == 0) return;
  ir::PadAttrs a = ir::padAttrs(*k.def, k.attrs, in);
  std::vector<int64_t> outStrides = ir::contiguousStrides(out.shape), st(outStrides.size());
  int64_t base = 0;
  for (size_t d = 0; d < st.size(); ++d) {
    base += a.low[d] * outStrides[d];
    st[d] = outStrides[d] * (a.interior[d] + 1);
  }
  stridedCopy(kb, in.dtype, in.shape, kb.ins[0], offsetPtr(kb, out.dtype, kb.out, base), st);
}

void lowerConcat(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &out = k.result;
  if (out.numel() == 0) return;
  int64_t axis = ir::opAxis(*k.def, k.attrs, out.rank());
  std::vector<int64_t> outStrides = ir::contiguousStrides(out.shape);
  int64_t at = 0;
  for (size_t i = 0; i < k.operands.size(); ++i) {
    const ir::Type &in = k.operands[i];
    if (in.numel() > 0)
      stridedCopy(kb, in.dtype, in.shape, kb.ins[i], offsetPtr(kb, out.dtype, kb.out, at * outStrides[size_t(axis)]),
                  outStrides);
    at += in.shape[size_t(axis)];
  }
}

/// index clamped to [0, size - 1] (size >= 1 whenever the loop runs: the type rule rejects a
/// non-empty index into an empty axis).
llvm::Value *clampIndex(KernelBuilder &kb, llvm::Value *v, int64_t size) {
  llvm::IRBuilder<> &b = kb.b;
  v = b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, v, kb.i64(0));
  return b.CreateBinaryIntrinsic(llvm::Intrinsic::smin, v, kb.i64(size - 1));
}

/// gather and scatter_add share the walk: a nest over the index's shape with the index's
/// (contiguous) offset, the data tensor's offset without the axis term, and (scatter_add) src's
/// offset; `body` gets those offsets and the clamped index value times the axis stride.
void emitIndexWalk(KernelBuilder &kb, const ir::Shape &data, const ir::Shape &index, const ir::Shape *src,
                   int64_t axis, llvm::Value *indexPtr,
                   const std::function<void(std::span<llvm::Value *const> off, llvm::Value *axisOffset)> &body) {
  // Rank 0 is treated as [1] (one element; index 0 is the only valid value).
  ir::Shape ds = data.empty() ? ir::Shape{1} : data, is = index.empty() ? ir::Shape{1} : index;
  std::vector<int64_t> dataStrides = ir::contiguousStrides(ds);
  int64_t axisStride = dataStrides[size_t(axis)], axisSize = ds[size_t(axis)];
  dataStrides[size_t(axis)] = 0;
  StridedNest nest;
  nest.sizes = is;
  nest.strides = {ir::contiguousStrides(is), dataStrides};
  if (src) nest.strides.push_back(ir::contiguousStrides(src->empty() ? ir::Shape{1} : *src));
  nest.coalesce();
  emitNest(kb, nest, [&](std::span<llvm::Value *const> off) {
    llvm::Value *v = clampIndex(kb, kb.load(ir::DType::I64, indexPtr, off[0]), axisSize);
    body(off, kb.b.CreateMul(v, kb.i64(axisStride)));
  });
}

void lowerGather(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &x = k.operands[0], &index = k.operands[1], &out = k.result;
  if (out.numel() == 0) return;
  int64_t axis = ir::opAxis(*k.def, k.attrs, x.rank());
  emitIndexWalk(kb, x.shape, index.shape, nullptr, axis, kb.ins[1],
                [&](std::span<llvm::Value *const> off, llvm::Value *axisOffset) {
                  llvm::Value *v = kb.load(x.dtype, kb.ins[0], kb.b.CreateAdd(off[1], axisOffset));
                  kb.store(out.dtype, v, kb.out, off[0]); // out has index's shape: index's offset
                });
}

void lowerScatterAdd(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &base = k.operands[0], &index = k.operands[1], &src = k.operands[2], &out = k.result;
  if (out.bytes() == 0) return;
  kb.b.CreateMemCpy(kb.out, llvm::Align(ir::dtypeSize(out.dtype)), kb.ins[0], llvm::Align(ir::dtypeSize(base.dtype)),
                    kb.i64(int64_t(out.bytes())));
  if (index.numel() == 0) return;
  int64_t axis = ir::opAxis(*k.def, k.attrs, base.rank());
  bool fp = ir::isFloat(out.dtype);
  emitIndexWalk(kb, base.shape, index.shape, &src.shape, axis, kb.ins[1],
                [&](std::span<llvm::Value *const> off, llvm::Value *axisOffset) {
                  llvm::Value *at = kb.b.CreateAdd(off[1], axisOffset);
                  llvm::Value *cur = kb.load(out.dtype, kb.out, at), *s = kb.load(src.dtype, kb.ins[2], off[2]);
                  kb.store(out.dtype, fp ? kb.b.CreateFAdd(cur, s) : kb.b.CreateAdd(cur, s), kb.out, at);
                });
}

} // namespace

void lowerIndexing(KernelBuilder &kb, const KernelDesc &k) {
  switch (k.def->id) {
  case ir::OpId::Pad: lowerPad(kb, k); return;
  case ir::OpId::Concat: lowerConcat(kb, k); return;
  case ir::OpId::Gather: lowerGather(kb, k); return;
  case ir::OpId::ScatterAdd: lowerScatterAdd(kb, k); return;
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
  DT_ASSERT(false, k.def->name, " is not an indexing op");
}

} // namespace dt::codegen
