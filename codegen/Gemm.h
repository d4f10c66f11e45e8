// The generated GEMM: C = A·B for one M x N matrix, emitted inline into the kernel being built,
// with an optional epilogue applied to each finished output value before it is stored. Used by
// lowerMatMul (static and shape-generic) and by fused matmul kernels (epilogue fusion).
//
// Algorithm (codegen/Gemm.cpp): B is packed, KC rows x NC columns at a time, into NR-wide
// zero-padded panels in a thread-local scratch (dt_gemm_scratch); A is not packed: the
// micro-kernel broadcasts its elements straight from the strided source (so a transposed A costs
// nothing, and packing reads a strided B, so a transposed B costs no separate copy either). The
// micro-kernel keeps MR x NR accumulators in registers (<lanes x T> vectors, llvm.fma for floats;
// f32: 16 lanes, f64 and i64: 8 lanes) over one KC block. Edge tiles (M % MR, N % NR) compute a
// full tile and copy its valid part out element by element.
#pragma once

#include "codegen/Lower.h"

#include "ir/Ops.h"

#include <llvm/IR/IRBuilder.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace dt::codegen {

/// The epilogue hook. Called with the builder positioned where the value is about to be stored:
///  - `acc` is the complete dot product (all of K accumulated, in the dtype: float, double or
///    i64), either a <lanes x T> vector (lanes > 1) or a scalar T (lanes == 1);
///  - `row` (i64) is the output row within the current M x N matrix (0 <= row < M);
///  - `col` (i64) is the column of the first lane; the lanes are columns col .. col+lanes-1, all
///    < N (edge tiles use lanes == 1, so no lane is ever out of range);
///  - returns the value to store, of acc's type.
/// Every output element passes through exactly one call at run time. At IR-build time the hook
/// is called several times (full tiles and edge tiles, in different basic blocks): it must build
/// its result only from its arguments and from Values that dominate the whole GEMM in the
/// function the GemmSpec was built for (see GemmSpecFn), never reuse a Value it created in an
/// earlier call. It may emit control flow as long as it leaves the builder in the block where
/// the store should go. With K == 0 the hook receives zeros.
using GemmEpilogue = std::function<llvm::Value *(llvm::IRBuilder<> &, llvm::Value *acc, llvm::Value *row,
                                                 llvm::Value *col, unsigned lanes)>;

/// A strided matrix operand: element (r, c) is ptr[r * rowStride + c * colStride] (element
/// strides, i64 Values: constants for compiled graphs, runtime values for eager kernels).
struct GemmOperand {
  llvm::Value *ptr = nullptr;
  llvm::Value *rowStride = nullptr;
  llvm::Value *colStride = nullptr;
};

/// One C[M x N] = A[M x K] · B[K x N]. C is row-major with row stride `ldc` (unit column stride)
/// and must not alias A or B. Floats accumulate in the dtype with fused multiply-adds; i64 wraps.
struct GemmSpec {
  ir::DType dtype = ir::DType::F32; ///< F32, F64 or I64
  llvm::Value *m = nullptr, *n = nullptr, *k = nullptr; ///< i64, >= 0 (any may be 0)
  GemmOperand a, b;
  llvm::Value *c = nullptr;
  llvm::Value *ldc = nullptr;
  GemmEpilogue epilogue; ///< optional (empty: store the dot products as they are)
};

/// Builds the GemmSpec of one matrix product for the function of the KernelBuilder it is given,
/// using only that KernelBuilder's pointers (out, ins, sizes: any pointers the caller chose, e.g.
/// the current batch element's matrices and epilogue operands), constants, and what it emits
/// there (loads from sizes, address arithmetic). emitGemm calls it once with its own kb and, when
/// the GEMM is split across threads, again with the KernelBuilder of the outlined function
/// (emitParallelFor, codegen/Lower.h), whose out/ins/sizes are the same pointers: so a spec and
/// its epilogue never use a Value of another function. The epilogue it returns may capture that
/// KernelBuilder by reference (it is alive while the GEMM is emitted).
using GemmSpecFn = std::function<GemmSpec(KernelBuilder &kb)>;

/// Emits the GEMM `spec(kb)` at kb's position and leaves the builder after it; marks the functions
/// for 512-bit vectors. A GEMM of at least kGemmParallelWork multiply-adds (M*N*K, decided at
/// compile time for static sizes, else at run time) with at least two tiles along the split
/// dimension is outlined and split across threads with dt_parallel_for (runtime/ThreadPool.h),
/// epilogue or not: over NR-wide column panels (each thread packs only its own columns of B) when
/// there are at least as many panels as MR-row tiles, or at least 8, or an even number of them;
/// else over row tiles. With static sizes the GEMM is cut into two halves of whole tiles (the
/// other dimension when only it halves evenly), each a GEMM of static sizes: equal halves share
/// one body, so the split costs about no extra compile time (chunks of runtime sizes compiled to
/// 5x the code); runtime sizes split into one chunk per thread. Chunk boundaries fall on tile
/// boundaries and every output element is computed by one thread with the same operations in the
/// same order (the same K blocks and micro-kernel), so results are bit-identical for any thread
/// count.
void emitGemm(KernelBuilder &kb, const GemmSpecFn &spec);

/// The M*N*K (multiply-adds) from which emitGemm splits a GEMM across threads (the runtime's
/// constant, runtime/ThreadPool.h, so tests can see it without LLVM).
inline constexpr int64_t kGemmParallelWork = rt::kGemmParallelWork;

/// The batch nest of a matmul [..., M, K] @ [..., K, N] -> `result`: the result's batch dims,
/// with the result's, the lhs's and the rhs's strides in elements (whole matrices; 0 on
/// broadcast dims), not yet coalesced.
StridedNest matmulBatchNest(const ir::Type &a, const ir::Type &b, const ir::Type &result);

/// The `sizes` of matmul's shape-generic kernel for these concrete (contiguous) operand and
/// result types: [M, N, K, lhs row and column strides, rhs row and column strides (elements),
/// then R batch bounds, R result, R lhs and R rhs batch strides (elements, 0 on broadcast dims)],
/// R = matmulGenericBatchRank(result rank); the batch nest coalesced and padded in front with
/// size-1 dims. A caller may replace the four matrix strides to pass transposed (or otherwise
/// strided) matrices without copying them; the result is always contiguous.
std::vector<int64_t> matmulGenericSizes(const ir::Type &a, const ir::Type &b, const ir::Type &result);
/// The number of batch dims (>= 1) of the shape-generic matmul kernel for a result of this rank.
size_t matmulGenericBatchRank(size_t resultRank);

} // namespace dt::codegen

/// The scratch of the generated GEMM: a thread-local, 64-byte-aligned buffer of at least `bytes`
/// bytes, reused by every GEMM on this thread (grown, never shrunk). Registered in the JIT as an
/// absolute symbol (codegen/Jit.cpp). An exception cannot unwind through JIT frames: on
/// allocation failure (a few MB at most) it prints a message and aborts.
extern "C" void *dt_gemm_scratch(int64_t bytes);
