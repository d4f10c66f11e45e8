// From a verified ir::Graph to a runnable rt::Program: one LLVM function per node (a fused
// kernel node, see passes/Fusion.h, is one node), optimized at O3 for the host CPU and added to
// the process's ORC LLJIT. Kernels are cached by their signature (op, attributes, operand and
// result types, a kernel's region body), so a second graph with the same nodes compiles nothing.
#pragma once

#include "ir/Graph.h"
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

/// Whether `def` has a shape-generic kernel (the elementwise and Reduce kinds).
bool hasShapeGenericKernel(const ir::OpDef &def);
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
/// The LLVM IR of the shape-generic kernel, before (`optimized=false`) or after O3.
std::string emitShapeGenericLLVM(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                 const ir::AttrMap &attrs, bool optimized);

struct CacheStats {
  int64_t kernelsCompiled = 0; ///< distinct kernels JIT-compiled so far
  int64_t kernelCacheHits = 0; ///< node lowerings served from the cache
};
CacheStats cacheStats();

/// The host CPU the JIT targets, e.g. "skylake-avx512".
std::string hostCPU();

} // namespace dt::codegen
