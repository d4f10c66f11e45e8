// matmul: the batch dims (broadcast) as a strided loop nest around one generated GEMM per matrix
// (codegen/Gemm.h). Static kernels take M, N, K and the batch nest as constants; the shape-generic
// kernel reads the same numbers from `sizes` (layout: matmulGenericSizes, codegen/Compiler.h).
#include "codegen/Gemm.h"
#include "codegen/Lower.h"

#include "ir/Error.h"

namespace dt::codegen {

void lowerMatMul(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Type &a = k.operands.at(0), &bT = k.operands.at(1), &c = k.result;
  llvm::IRBuilder<> &b = kb.b;
  size_t rank = matmulGenericBatchRank(size_t(c.rank()));
  size_t count = 7 + 4 * rank;
  // [M, N, K, lhs / rhs matrix strides, batch bounds, result / lhs / rhs batch strides], as
  // constants or loaded up front.
  std::vector<llvm::Value *> v;
  if (k.shapeGeneric) {
    for (size_t i = 0; i < count; ++i)
      v.push_back(b.CreateAlignedLoad(b.getInt64Ty(), b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), kb.sizes, i),
                                      llvm::Align(8)));
  } else {
    std::vector<int64_t> sizes = matmulGenericSizes(a, bT, c);
    DT_ASSERT(sizes.size() == count, "matmul sizes: ", sizes.size(), " numbers, expected ", count);
    for (int64_t x : sizes) v.push_back(kb.i64(x));
  }
  llvm::Value *m = v[0], *n = v[1], *kk = v[2];
  std::span<llvm::Value *const> bounds(v.data() + 7, rank);
  std::vector<std::vector<llvm::Value *>> strides(3);
  for (size_t arr = 0; arr < 3; ++arr)
    strides[arr].assign(v.begin() + long(7 + rank * (1 + arr)), v.begin() + long(7 + rank * (2 + arr)));

  llvm::Type *ty = kb.elemType(c.dtype);
  emitNest(kb, bounds, strides, [&](std::span<llvm::Value *const> off) {
    GemmSpec s;
    s.dtype = c.dtype;
    s.m = m;
    s.n = n;
    s.k = kk;
    s.a = {b.CreateInBoundsGEP(ty, kb.ins[0], off[1]), v[3], v[4]};
    s.b = {b.CreateInBoundsGEP(ty, kb.ins[1], off[2]), v[5], v[6]};
    s.c = b.CreateInBoundsGEP(ty, kb.out, off[0]);
    s.ldc = n;
    emitGemm(kb, s);
  });
}

} // namespace dt::codegen
