// matmul: a correct loop nest in i-k-j order (the innermost j loop is unit-stride in the result
// and the rhs, so it vectorizes), batch dims broadcast. `contract` lets LLVM fuse a*b+c into
// FMA. (A packed, register-tiled GEMM replaces this later.)
#include "codegen/Lower.h"

#include "ir/Error.h"

namespace dt::codegen {

void lowerMatMul(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &a = k.operands[0], &bT = k.operands[1], &c = k.result;
  int64_t m = a.shape[size_t(a.rank() - 2)], kk = a.shape[size_t(a.rank() - 1)], n = bT.shape[size_t(bT.rank() - 1)];
  ir::Shape batch(c.shape.begin(), c.shape.end() - 2);
  ir::Shape aBatch(a.shape.begin(), a.shape.end() - 2), bBatch(bT.shape.begin(), bT.shape.end() - 2);

  StridedNest nest;
  nest.sizes = batch;
  auto scaled = [](std::vector<int64_t> st, int64_t f) {
    for (int64_t &s : st) s *= f;
    return st;
  };
  nest.strides.push_back(scaled(ir::contiguousStrides(batch), m * n));
  nest.strides.push_back(scaled(broadcastStrides(aBatch, batch), m * kk));
  nest.strides.push_back(scaled(broadcastStrides(bBatch, batch), kk * n));
  nest.coalesce();

  llvm::IRBuilder<> &b = kb.b;
  llvm::IRBuilderBase::FastMathFlagGuard guard(b);
  llvm::FastMathFlags fmf;
  fmf.setAllowContract(true);
  b.setFastMathFlags(fmf);
  bool fp = ir::isFloat(c.dtype);
  ir::DType t = c.dtype;
  llvm::Value *M = kb.i64(m), *K = kb.i64(kk), *N = kb.i64(n);

  emitNest(kb, nest, [&](std::span<llvm::Value *const> off) {
    llvm::Value *offC = off[0], *offA = off[1], *offB = off[2];
    emitLoop(b, M, [&](llvm::Value *i) {
      llvm::Value *rowC = b.CreateAdd(offC, b.CreateMul(i, N));
      llvm::Value *rowA = b.CreateAdd(offA, b.CreateMul(i, K));
      emitLoop(b, N, [&](llvm::Value *j) {
        kb.store(t, llvm::Constant::getNullValue(kb.elemType(t)), kb.out, b.CreateAdd(rowC, j));
      }, "jz");
      emitLoop(b, K, [&](llvm::Value *p) {
        llvm::Value *av = kb.load(t, kb.ins[0], b.CreateAdd(rowA, p));
        llvm::Value *rowB = b.CreateAdd(offB, b.CreateMul(p, N));
        emitLoop(b, N, [&](llvm::Value *j) {
          llvm::Value *ci = b.CreateAdd(rowC, j);
          llvm::Value *bv = kb.load(t, kb.ins[1], b.CreateAdd(rowB, j));
          llvm::Value *cv = kb.load(t, kb.out, ci);
          // i64 wraps: no nsw.
          llvm::Value *r = fp ? b.CreateFAdd(cv, b.CreateFMul(av, bv)) : b.CreateAdd(cv, b.CreateMul(av, bv));
          kb.store(t, r, kb.out, ci);
        }, "j");
      }, "k");
    }, "m");
  });
}

} // namespace dt::codegen
