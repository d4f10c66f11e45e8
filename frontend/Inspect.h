// What the tools need to show the generated code, re-exported from codegen/ so that tools/ and
// python/ never include codegen headers: the LLVM IR and the assembly of a graph's kernels.
#pragma once

#include "ir/Graph.h"

#include <string>

namespace dt {

/// The LLVM IR module generated for `g`'s kernels (verified by the caller), after O3 when
/// `optimized`, else as emitted.
std::string emitLLVM(const ir::Graph &g, bool optimized);
/// The host assembly of `g`'s kernels.
std::string emitAsm(const ir::Graph &g);

} // namespace dt
