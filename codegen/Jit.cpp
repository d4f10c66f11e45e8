// The ORC LLJIT wrapper, in the manner of Kaleidoscope's JIT: created from the detected host,
// owns its TargetMachine, turns every llvm::Error into std::runtime_error, never drops one.
// Objects are cached on disk (DT_CACHE_DIR) through an llvm::ObjectCache, keyed by the module's IR.
#include "codegen/Jit.h"

#include "codegen/Gemm.h" // dt_gemm_scratch
#include "runtime/KernelError.h" // dt_kernel_index_error
#include "runtime/ThreadPool.h" // dt_parallel_for

#include "ir/Error.h"

#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/ObjectCache.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/xxhash.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <random>
#include <stdexcept>
#include <unistd.h>

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

// --- the on-disk object cache ---------------------------------------------------------------------
// An entry is <dir>/<sha256 of the key>.o: a 64-byte header (magic, payload size, xxh3 checksum of
// the payload, the first 32 bytes of the key hash again), then the object file. Written to a
// unique temporary name in the same directory and renamed into place, so readers see a whole
// entry or none, and concurrent writers of one key (whose objects are identical) simply replace
// each other. A short, mismatched or garbled entry is rejected and recompiled.

constexpr char kMagic[16] = "dumbtorch-obj-1";
constexpr size_t kHeaderBytes = 64;
/// Part of every key: a new dumbtorch build (this file's compile time stands in for the library
/// version and for changes to the O3 pipeline) or a new LLVM never reuses an old object.
constexpr const char *kLibraryVersion = "dumbtorch 0.1.0 (built " __DATE__ " " __TIME__ ") LLVM " LLVM_VERSION_STRING;

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void putU64(char *p, uint64_t v) { std::memcpy(p, &v, 8); }
uint64_t getU64(const char *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::string hexOf(llvm::ArrayRef<uint8_t> bytes) {
  static const char *digits = "0123456789abcdef";
  std::string out;
  for (uint8_t c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

/// The llvm::ObjectCache the compile layer consults: a module whose identifier is
/// "dtcache:<hex>" has its object written under that name once compiled. Loads happen before
/// optimization (Jit::optimizeAndAdd), through load().
class DiskObjectCache : public llvm::ObjectCache {
public:
  std::atomic<int64_t> hits{0}, misses{0}, writes{0}, corrupt{0}, writeErrors{0};
  std::atomic<int64_t> diskNanos{0};

  static std::optional<std::string> keyOf(const llvm::Module &m) {
    llvm::StringRef id = m.getModuleIdentifier();
    if (!id.consume_front("dtcache:")) return std::nullopt;
    return id.str();
  }

  /// The entry's payload if `dir/key.o` exists and is whole; counts a rejected entry.
  std::unique_ptr<llvm::MemoryBuffer> load(const std::string &dir, const std::string &key) {
    auto t0 = std::chrono::steady_clock::now();
    auto done = [&] { diskNanos += int64_t(secondsSince(t0) * 1e9); };
    std::string path = dir + "/" + key + ".o";
    auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
    if (!file) {
      done();
      return nullptr;
    }
    llvm::StringRef data = (*file)->getBuffer();
    bool ok = data.size() >= kHeaderBytes && std::memcmp(data.data(), kMagic, sizeof kMagic) == 0 &&
              getU64(data.data() + 16) == data.size() - kHeaderBytes &&
              getU64(data.data() + 24) == llvm::xxh3_64bits(data.drop_front(kHeaderBytes)) &&
              key.size() == 64 && data.substr(32, 32) == llvm::StringRef(key).take_front(32);
    if (!ok) {
      ++corrupt;
      done();
      return nullptr;
    }
    auto obj = llvm::MemoryBuffer::getMemBufferCopy(data.drop_front(kHeaderBytes), "dtcache:" + key);
    done();
    return obj;
  }

  /// Writes `dir/key.o` atomically (temporary file + rename); failures are counted, not thrown:
  /// a cache that cannot be written only costs the next process a compile.
  void store(const std::string &dir, const std::string &key, llvm::StringRef obj) {
    auto t0 = std::chrono::steady_clock::now();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string tmp = dir + "/." + key + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(std::random_device{}());
    char header[kHeaderBytes] = {};
    std::memcpy(header, kMagic, sizeof kMagic);
    putU64(header + 16, obj.size());
    putU64(header + 24, llvm::xxh3_64bits(obj));
    std::memcpy(header + 32, key.data(), std::min<size_t>(32, key.size()));
    bool ok = false;
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(header, kHeaderBytes);
      out.write(obj.data(), std::streamsize(obj.size()));
      out.flush();
      ok = bool(out);
    }
    if (ok) {
      std::filesystem::rename(tmp, dir + "/" + key + ".o", ec);
      ok = !ec;
    }
    if (ok) {
      ++writes;
    } else {
      ++writeErrors;
      std::filesystem::remove(tmp, ec);
    }
    diskNanos += int64_t(secondsSince(t0) * 1e9);
  }

  void notifyObjectCompiled(const llvm::Module *m, llvm::MemoryBufferRef obj) override {
    auto key = keyOf(*m);
    std::string dir = Jit::diskCacheDir();
    if (key && !dir.empty()) store(dir, *key, obj.getBuffer());
  }

  /// Jit::optimizeAndAdd looked the entry up before optimizing (a hit never reaches the
  /// compiler), so there is nothing to find here.
  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module *) override { return nullptr; }
};

/// The IR compiler of the LLJIT: LLVM's SimpleCompiler with the disk cache, timed.
class TimedCompiler : public llvm::orc::IRCompileLayer::IRCompiler {
public:
  TimedCompiler(std::unique_ptr<llvm::orc::TMOwningSimpleCompiler> inner, std::atomic<int64_t> &nanos)
      : IRCompiler(inner->getManglingOptions()), inner_(std::move(inner)), nanos_(nanos) {}
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> operator()(llvm::Module &m) override {
    auto t0 = std::chrono::steady_clock::now();
    auto obj = (*inner_)(m);
    nanos_ += int64_t(secondsSince(t0) * 1e9);
    return obj;
  }

private:
  std::unique_ptr<llvm::orc::TMOwningSimpleCompiler> inner_;
  std::atomic<int64_t> &nanos_;
};

} // namespace

struct Jit::Impl {
  std::unique_ptr<llvm::orc::JITTargetMachineBuilder> jtmb;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::string cpu;
  std::string features;
  DiskObjectCache disk;
  std::atomic<int64_t> optimizeNanos{0}, codegenNanos{0};
};

Jit::Jit() : impl_(std::make_unique<Impl>()) {
  initNativeTarget();
  auto jtmb = unwrap("detecting the host", llvm::orc::JITTargetMachineBuilder::detectHost());
  jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  impl_->cpu = jtmb.getCPU();
  impl_->features = jtmb.getFeatures().getString();
  impl_->tm = unwrap("creating the target machine", jtmb.createTargetMachine());
  impl_->jtmb = std::make_unique<llvm::orc::JITTargetMachineBuilder>(jtmb);
  Impl *impl = impl_.get();
  impl_->lljit = unwrap("creating the LLJIT",
                        llvm::orc::LLJITBuilder()
                            .setJITTargetMachineBuilder(std::move(jtmb))
                            .setCompileFunctionCreator(
                                [impl](llvm::orc::JITTargetMachineBuilder b)
                                    -> llvm::Expected<std::unique_ptr<llvm::orc::IRCompileLayer::IRCompiler>> {
                                  auto tm = b.createTargetMachine();
                                  if (!tm) return tm.takeError();
                                  auto inner = std::make_unique<llvm::orc::TMOwningSimpleCompiler>(std::move(*tm), &impl->disk);
                                  return std::make_unique<TimedCompiler>(std::move(inner), impl->codegenNanos);
                                })
                            .create());
  // Kernels call libm (pow, f64 exp/log/tanh): resolve them from whatever the process has loaded,
  // searched first from the JITDylib kernels live in. (LLJIT also links a process-symbols
  // JITDylib, which the native platform requires; this makes the dependency explicit.)
  auto gen = unwrap("creating the process symbol generator",
                    llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                        impl_->lljit->getDataLayout().getGlobalPrefix()));
  impl_->lljit->getMainJITDylib().addGenerator(std::move(gen));
  // Runtime helpers kernels call, by address (the extension's symbols are not exported).
  llvm::orc::SymbolMap helpers;
  helpers[impl_->lljit->mangleAndIntern("dt_gemm_scratch")] = {
      llvm::orc::ExecutorAddr::fromPtr(&dt_gemm_scratch), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  helpers[impl_->lljit->mangleAndIntern("dt_parallel_for")] = {
      llvm::orc::ExecutorAddr::fromPtr(&dt_parallel_for), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  helpers[impl_->lljit->mangleAndIntern("dt_kernel_index_error")] = {
      llvm::orc::ExecutorAddr::fromPtr(&dt_kernel_index_error), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  check("defining the runtime helpers", impl_->lljit->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(helpers))));
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
  auto t0 = std::chrono::steady_clock::now();
  mpm.run(m, mam);
  impl_->optimizeNanos += int64_t(secondsSince(t0) * 1e9);
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

std::string Jit::diskCacheDir() {
  const char *env = std::getenv("DT_CACHE_DIR");
  if (env && std::strcmp(env, "off") == 0) return "";
  if (env && *env) return env;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/dumbtorch";
  if (const char *home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/dumbtorch";
  return "";
}

void Jit::optimizeAndAdd(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx) {
  std::string dir = diskCacheDir();
  if (dir.empty()) {
    optimize(*m);
    addModule(std::move(m), std::move(ctx));
    return;
  }
  // The key: everything the object depends on. The module is printed before optimization, so
  // a warm start skips O3 as well as machine-code generation.
  auto t0 = std::chrono::steady_clock::now();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << kLibraryVersion << "\ncpu " << impl_->cpu << "\nfeatures " << impl_->features << "\n";
  m->print(os, nullptr);
  os.flush();
  std::string key = hexOf(llvm::SHA256::hash(llvm::ArrayRef(reinterpret_cast<const uint8_t *>(text.data()), text.size())));
  impl_->disk.diskNanos += int64_t(secondsSince(t0) * 1e9);
  if (auto obj = impl_->disk.load(dir, key)) {
    ++impl_->disk.hits;
    check("adding a cached object", impl_->lljit->addObjectFile(std::move(obj)));
    return; // the module and its context are no longer needed
  }
  ++impl_->disk.misses;
  m->setModuleIdentifier("dtcache:" + key); // the ObjectCache writes the object under this key
  optimize(*m);
  addModule(std::move(m), std::move(ctx));
}

JitStats Jit::stats() const {
  JitStats st;
  st.diskHits = impl_->disk.hits;
  st.diskMisses = impl_->disk.misses;
  st.diskWrites = impl_->disk.writes;
  st.diskCorrupt = impl_->disk.corrupt;
  st.diskWriteErrors = impl_->disk.writeErrors;
  st.optimizeSeconds = double(impl_->optimizeNanos) * 1e-9;
  st.codegenSeconds = double(impl_->codegenNanos) * 1e-9;
  st.diskSeconds = double(impl_->disk.diskNanos) * 1e-9;
  return st;
}

} // namespace dt::codegen
