// The ORC LLJIT wrapper, in the manner of Kaleidoscope's JIT: created from the detected host,
// owns its TargetMachine, turns every llvm::Error into std::runtime_error, never drops one.
#include "codegen/Jit.h"

#include "ir/Error.h"

#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <stdexcept>

namespace dt::codegen {

namespace {

[[noreturn]] void fail(const std::string &what, llvm::Error err) {
  throw std::runtime_error("LLVM: " + what + ": " + llvm::toString(std::move(err)));
}

void check(const std::string &what, llvm::Error err) {
  if (err) fail(what, std::move(err));
}

template <typename T> T unwrap(const std::string &what, llvm::Expected<T> v) {
  if (!v) fail(what, v.takeError());
  return std::move(*v);
}

void initNativeTarget() {
  static const bool done = [] {
    // These return true on failure.
    if (llvm::InitializeNativeTarget() || llvm::InitializeNativeTargetAsmPrinter() ||
        llvm::InitializeNativeTargetAsmParser())
      throw std::runtime_error("LLVM: cannot initialize the native target");
    return true;
  }();
  (void)done;
}

} // namespace

struct Jit::Impl {
  std::unique_ptr<llvm::orc::JITTargetMachineBuilder> jtmb;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::string cpu;
};

Jit::Jit() : impl_(std::make_unique<Impl>()) {
  initNativeTarget();
  auto jtmb = unwrap("detecting the host", llvm::orc::JITTargetMachineBuilder::detectHost());
  jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  impl_->cpu = jtmb.getCPU();
  impl_->tm = unwrap("creating the target machine", jtmb.createTargetMachine());
  impl_->jtmb = std::make_unique<llvm::orc::JITTargetMachineBuilder>(jtmb);
  impl_->lljit = unwrap("creating the LLJIT", llvm::orc::LLJITBuilder()
                                                  .setJITTargetMachineBuilder(std::move(jtmb))
                                                  .create());
  // Kernels call libm (pow, f64 exp/log/tanh): resolve them from whatever the process has loaded,
  // searched first from the JITDylib kernels live in. (LLJIT also links a process-symbols
  // JITDylib, which the native platform requires; this makes the dependency explicit.)
  auto gen = unwrap("creating the process symbol generator",
                    llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                        impl_->lljit->getDataLayout().getGlobalPrefix()));
  impl_->lljit->getMainJITDylib().addGenerator(std::move(gen));
}

Jit::~Jit() = default;

const std::string &Jit::cpuName() const { return impl_->cpu; }

void Jit::configure(llvm::Module &m) const {
  m.setTargetTriple(impl_->tm->getTargetTriple().str());
  m.setDataLayout(impl_->lljit->getDataLayout());
}

void Jit::optimize(llvm::Module &m) const {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  pto.LoopUnrolling = true;
  llvm::PassBuilder pb(impl_->tm.get(), pto);
  // Must precede registerFunctionAnalyses, which would register a default one.
  llvm::TargetLibraryInfoImpl tlii(llvm::Triple(m.getTargetTriple()));
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(m, mam);
}

std::string Jit::assembly(const llvm::Module &m) const {
  std::unique_ptr<llvm::Module> clone = llvm::CloneModule(m);
  // A fresh TargetMachine: code generation mutates per-module state of the one it uses.
  auto tm = unwrap("creating the target machine", impl_->jtmb->createTargetMachine());
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream os(text);
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile))
    throw std::runtime_error("LLVM: the target cannot emit assembly");
  pm.run(*clone);
  return std::string(text.str());
}

void Jit::addModule(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx) {
  check("adding a module", impl_->lljit->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx))));
}

uint64_t Jit::lookup(const std::string &name) {
  auto addr = unwrap("looking up " + name, impl_->lljit->lookup(name));
  return addr.getValue();
}

} // namespace dt::codegen
