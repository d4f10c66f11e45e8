// The JIT: one ORC LLJIT for the host CPU plus its TargetMachine (for the O3 pipeline and asm
// dumps), with an on-disk object cache so a second process starts warm. Every LLVM Expected/Error becomes a std::runtime_error carrying LLVM's message. ORC and
// PassBuilder headers stay in Jit.cpp because they compile slowly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace dt::codegen {

/// What the JIT has done so far in this process: the on-disk object cache and time per stage.
struct JitStats {
  int64_t diskHits = 0;        ///< modules loaded from the disk cache (no O3, no machine code)
  int64_t diskMisses = 0;      ///< modules not found on disk (or rejected), compiled and written
  int64_t diskWrites = 0;      ///< entries written
  int64_t diskCorrupt = 0;     ///< entries rejected as truncated or garbled (then recompiled)
  int64_t diskWriteErrors = 0; ///< entries that could not be written (the compile still works)
  double optimizeSeconds = 0;  ///< in the O3 pipeline
  double codegenSeconds = 0;   ///< in machine-code generation
  double diskSeconds = 0;      ///< hashing the IR, reading and writing entries
};

class Jit {
public:
  /// Detects the host and builds the LLJIT (libm and the rest of the process resolvable).
  Jit();
  ~Jit();
  Jit(const Jit &) = delete;
  Jit &operator=(const Jit &) = delete;

  /// The CPU the code is generated for, e.g. "skylake-avx512".
  const std::string &cpuName() const;
  /// Gives a fresh module the host's target triple and data layout.
  void configure(llvm::Module &m) const;
  /// The O3 pipeline of the new pass manager, tuned for the host (TargetLibraryInfo, TTI).
  void optimize(llvm::Module &m) const;
  /// Host assembly of `m` (a clone is code-generated; `m` is untouched).
  std::string assembly(const llvm::Module &m) const;
  /// Hands an (optimized) module to the JIT; its functions become lookup-able.
  void addModule(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx);
  /// The address of a function of an added module (compiles it on first lookup).
  uint64_t lookup(const std::string &name);

  /// optimize() then addModule(), through the on-disk object cache: the key is a SHA-256 of the
  /// module's IR before optimization, the host CPU and its features and the library and LLVM
  /// versions. A valid entry is loaded instead (no O3, no machine code); otherwise the object is
  /// written when the module is compiled (at its first lookup). Entries are written atomically
  /// and checksummed, so concurrent writers and corrupt entries are safe.
  void optimizeAndAdd(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx);
  /// The cache directory: $DT_CACHE_DIR, else $XDG_CACHE_HOME/dumbtorch, else ~/.cache/dumbtorch;
  /// "" (no disk cache) when DT_CACHE_DIR=off. Read at every compile.
  static std::string diskCacheDir();
  JitStats stats() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace dt::codegen
