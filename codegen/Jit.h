// The JIT: one ORC LLJIT for the host CPU plus its TargetMachine (for the O3 pipeline and asm
// dumps). Every LLVM Expected/Error becomes a std::runtime_error carrying LLVM's message. ORC and
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

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace dt::codegen
