// What the upper layers (python/, tools/) need from the JIT and runtime, re-exported so they never
// include codegen/ headers: the kernel-cache counters and the host CPU name.
#pragma once

#include <cstdint>
#include <string>

namespace dt {

struct CacheStats {
  int64_t kernelsCompiled = 0; ///< distinct kernels JIT-compiled so far in this process
  int64_t kernelCacheHits = 0; ///< node lowerings served from the kernel cache
};

/// The JIT's kernel-cache counters.
CacheStats cacheStats();

/// The host CPU the JIT targets, e.g. "skylake-avx512".
std::string hostCPU();

} // namespace dt
