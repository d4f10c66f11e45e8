// From a verified ir::Graph to a runnable rt::Program: one LLVM function per node (a fused
// kernel node, see passes/Fusion.h, is one node), optimized at O3 for the host CPU and added to
// the process's ORC LLJIT. Kernels are cached by their signature (op, attributes, operand and
// result types, a kernel's region body), so a second graph with the same nodes compiles nothing.
#pragma once

#include "ir/Graph.h"
#include "runtime/Program.h"

#include <cstdint>
#include <string>

namespace dt::codegen {

/// Compiles every node of `g` (verified by the caller) into a Program whose slots are one per
/// value. Throws dt::ValueError for graphs it cannot compile, std::runtime_error if LLVM fails.
rt::Program compile(const ir::Graph &g);

/// The LLVM IR module generated for `g`'s kernels, before (`optimized=false`) or after O3.
std::string emitLLVM(const ir::Graph &g, bool optimized);
/// The host assembly of `g`'s kernels.
std::string emitAsm(const ir::Graph &g);

struct CacheStats {
  int64_t kernelsCompiled = 0; ///< distinct kernels JIT-compiled so far
  int64_t kernelCacheHits = 0; ///< node lowerings served from the cache
};
CacheStats cacheStats();

/// The host CPU the JIT targets, e.g. "skylake-avx512".
std::string hostCPU();

} // namespace dt::codegen
