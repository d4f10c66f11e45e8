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
  std::vector<int64_t> constant;
  if (!k.shapeGeneric) {
    constant = matmulGenericSizes(a, bT, c);
    DT_ASSERT(constant.size() == count, "matmul sizes: ", constant.size(), " numbers, expected ", count);
  }
  // [M, N, K, lhs / rhs matrix strides, batch bounds, result / lhs / rhs batch strides], as
  // constants or loaded up front, in the function of `f` (the kernel, or a GEMM's parallel chunk).
  auto numbers = [&](KernelBuilder &f, size_t n) {
    std::vector<llvm::Value *> v;
    for (size_t i = 0; i < n; ++i)
      v.push_back(k.shapeGeneric ? f.b.CreateAlignedLoad(f.b.getInt64Ty(),
                                                         f.b.CreateConstInBoundsGEP1_64(f.b.getInt64Ty(), f.sizes, i),
                                                         llvm::Align(8))
                                 : f.i64(constant[i]));
    return v;
  };
  std::vector<llvm::Value *> v = numbers(kb, count);
  std::span<llvm::Value *const> bounds(v.data() + 7, rank);
  std::vector<std::vector<llvm::Value *>> strides(3);
  for (size_t arr = 0; arr < 3; ++arr)
    strides[arr].assign(v.begin() + long(7 + rank * (1 + arr)), v.begin() + long(7 + rank * (2 + arr)));

  llvm::Type *ty = kb.elemType(c.dtype);
  emitNest(kb, bounds, strides, [&](std::span<llvm::Value *const> off) {
    // This batch element's matrices: C, A, B (a split GEMM re-derives its spec from them).
    KernelBuilder mat{kb.mod, b, kb.fn, b.CreateInBoundsGEP(ty, kb.out, off[0]),
                      {b.CreateInBoundsGEP(ty, kb.ins[0], off[1]), b.CreateInBoundsGEP(ty, kb.ins[1], off[2])}, kb.sizes};
    emitGemm(mat, [&](KernelBuilder &f) {
      std::vector<llvm::Value *> w = &f == &mat ? v : numbers(f, 7);
      GemmSpec s;
      s.dtype = c.dtype;
      s.m = w[0];
      s.n = w[1];
      s.k = w[2];
      s.a = {f.ins[0], w[3], w[4]};
      s.b = {f.ins[1], w[5], w[6]};
      s.c = f.out;
      s.ldc = w[1];
      return s;
    });
  });
}

} // namespace dt::codegen
