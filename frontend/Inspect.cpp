// Forwards the code-inspection entry points of frontend/Inspect.h to codegen/.
#include "frontend/Inspect.h"

#include "codegen/Compiler.h"

namespace dt {

std::string emitLLVM(const ir::Graph &g, bool optimized) { return codegen::emitLLVM(g, optimized); }

std::string emitAsm(const ir::Graph &g) { return codegen::emitAsm(g); }

} // namespace dt
