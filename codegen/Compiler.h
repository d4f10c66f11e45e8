// From a verified ir::Graph to a runnable rt::Program: one LLVM function per node (a fused
// kernel node, see passes/Fusion.h, is one node; a const is evaluated once, into a buffer the
// program owns, and runs no kernel), optimized at O3 for the host CPU and added to
// the process's ORC LLJIT. Kernels are cached by their signature (op, attributes, operand and
// result types, a kernel's region body), so a second graph with the same nodes compiles nothing.
#pragma once

#include "ir/Graph.h"
#include "ir/MemoryPlan.h"
#include "ir/Ops.h"
#include "runtime/Program.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dt::codegen {

/// Compiles every node of `g` (verified by the caller) into a Program whose slots are one per
/// value. Throws dt::ValueError for graphs it cannot compile, std::runtime_error if LLVM fails.
rt::Program compile(const ir::Graph &g);
/// compile() with a memory plan (passes/MemoryPlan.h makes one): slots share the planned
/// buffers and in-place steps get kernels without noalias between the result and the operand.
/// The plan is checked first (dt::ValueError if a value lacks a buffer or does not fit it, a
/// graph input or output shares its buffer, or a result overwrites a value still read).
rt::Program compile(const ir::Graph &g, const ir::MemoryPlan &plan);

/// The LLVM IR module generated for `g`'s kernels, before (`optimized=false`) or after O3.
std::string emitLLVM(const ir::Graph &g, bool optimized);
/// The host assembly of `g`'s kernels.
std::string emitAsm(const ir::Graph &g);

// --- shape-generic (eager) kernels ---------------------------------------------------------------
// An elementwise op (Unary, Binary, Compare, Where, Cast) or a reduction (sum, mean, max, min)
// compiled once per op, attributes, dtypes and ranks; the dims come at run time in `sizes`.
// Elementwise, with K = max(result rank, 1): `sizes` holds K loop bounds (outermost first), then
// K element strides of the result, then K strides of each operand (0 on broadcast dims): a
// strided loop nest whose innermost loop has fast paths for unit/zero strides (so it
// vectorizes). Reductions, with K = max(operand rank, 1): K bounds of the input nest, K result
// strides (0 on reduced dims), K input strides, the result's element count, and the number of
// elements reduced into each (mean's divisor). shapeGenericSizes fills it for concrete types.
// Compiled graphs do not use these: their shapes stay constants.
// matmul (codegen/Gemm.h matmulGenericSizes; the static kernel gets the same numbers as
// constants), with R = max(result rank - 2, 1): [M, N, K, lhs row stride, lhs column stride, rhs
// row stride, rhs column stride (elements: K, 1, N, 1 for contiguous operands; a caller may pass
// a transposed operand's strides instead of copying it), R batch bounds, R result, R lhs and R
// rhs batch strides (elements, 0 on broadcast dims)].
// argmax: [outer, n, inner], the input split along the axis (1, numel, 1 when flattened); its
// axis and keepdim are not in the kernel's key (shapeGenericKeyAttr). The indexing ops use one
// layout for shape-generic and static kernels (codegen/LowerIndexing.cpp; a static kernel gets it
// as constants); none of their attributes is in the key, and a "copy block" is [base offset in
// the result, K bounds, K result strides, K operand strides] with K = max(rank, 1), walking the
// (contiguous) operand. pad: [result numel, copy block] (low padding in the base, interior gaps
// in the strides). concat: one copy block per operand (the kernel is keyed by operand count).
// gather: [axis, axis size, axis stride of x, index numel, K bounds of the index, K index (=
// result) strides, K x strides with 0 on the axis]. scatter_add: [axis, axis size, axis stride,
// index numel, K bounds of the index, K index strides, K base (= result) strides with 0 on the
// axis, K src strides, base numel]. A gather/scatter_add index outside [0, size) is reported
// through runtime/KernelError.h (the caller must take it after the call and throw).

/// Whether `def` has a shape-generic kernel (the elementwise and Reduce kinds).
bool hasShapeGenericKernel(const ir::OpDef &def);
/// Whether attribute `name` of `def` is part of its shape-generic kernel's key (it changes the
/// code); the others only change `sizes` (argmax's and the indexing ops' attributes).
bool shapeGenericKeyAttr(const ir::OpDef &def, std::string_view name);
/// The kernel for `def` on operands of these dtypes and ranks (their dims are ignored) giving
/// `result`'s dtype and rank; cached (by op, attributes, dtypes and ranks) like compile()'s
/// kernels. Throws dt::ValueError when the op has no shape-generic kernel or the types do not
/// type-check.
rt::KernelFn compileShapeGeneric(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                 const ir::AttrMap &attrs);
/// The `sizes` argument of `def`'s shape-generic kernel for these concrete (contiguous) operand
/// and result types and attributes: the nest is coalesced (size-1 dims dropped, contiguous dims merged) and padded
/// with leading size-1 dims to the kernel's rank.
std::vector<int64_t> shapeGenericSizes(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                       const ir::AttrMap &attrs);
/// shapeGenericSizes of an elementwise op (Unary, Binary, Compare, Where, Cast) whose operands are
/// strided views: operandStrides[i] holds operand i's element strides, one per dim (any
/// non-negative values, 0 for expanded dims); the kernel reads them in place, no dense copy.
std::vector<int64_t> shapeGenericSizesStrided(const ir::OpDef &def, std::span<const ir::Type> operandTypes,
                                              std::span<const std::vector<int64_t>> operandStrides,
                                              const ir::Type &result);
/// The LLVM IR of the shape-generic kernel, before (`optimized=false`) or after O3.
std::string emitShapeGenericLLVM(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                 const ir::AttrMap &attrs, bool optimized);

struct CacheStats {
  int64_t kernelsCompiled = 0; ///< distinct kernels JIT-compiled so far
  int64_t kernelCacheHits = 0; ///< node lowerings served from the cache
  // The on-disk object cache (codegen/Jit.h) and time per stage, for this process:
  int64_t diskHits = 0;       ///< modules loaded from the disk cache instead of compiled
  int64_t diskMisses = 0;     ///< modules compiled because the disk had no valid entry
  int64_t diskWrites = 0;     ///< entries written to the disk cache
  int64_t diskCorrupt = 0;    ///< corrupt entries detected (and recompiled)
  double optimizeSeconds = 0; ///< LLVM O3 time
  double codegenSeconds = 0;  ///< machine-code generation time
};
CacheStats cacheStats();

/// The host CPU the JIT targets, e.g. "skylake-avx512".
std::string hostCPU();

} // namespace dt::codegen
