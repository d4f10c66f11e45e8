// Forwards frontend/Runtime.h to codegen/, keeping codegen's headers out of python/ and tools/.
#include "frontend/Runtime.h"

#include "codegen/Compiler.h"

namespace dt {

CacheStats cacheStats() {
  codegen::CacheStats s = codegen::cacheStats();
  return {s.kernelsCompiled, s.kernelCacheHits, s.diskHits, s.diskMisses, s.diskWrites, s.diskCorrupt, s.optimizeSeconds,
          s.codegenSeconds};
}

std::string hostCPU() { return codegen::hostCPU(); }

} // namespace dt
