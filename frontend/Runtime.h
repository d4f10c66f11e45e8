// What the upper layers (python/, tools/) need from the JIT and runtime, re-exported so they never
// include codegen/ headers: the kernel-cache counters and the host CPU name.
#pragma once

#include <cstdint>
#include <string>

namespace dt {

struct CacheStats {
  int64_t kernelsCompiled = 0; ///< distinct kernels JIT-compiled so far in this process
  int64_t kernelCacheHits = 0; ///< node lowerings served from the kernel cache
  // The on-disk object cache and the LLVM time, for this process (codegen::CacheStats):
  int64_t diskHits = 0, diskMisses = 0, diskWrites = 0, diskCorrupt = 0;
  double optimizeSeconds = 0; ///< LLVM O3
  double codegenSeconds = 0;  ///< LLVM machine-code generation
};

/// The JIT's kernel-cache counters.
CacheStats cacheStats();

/// The host CPU the JIT targets, e.g. "skylake-avx512".
std::string hostCPU();

} // namespace dt
