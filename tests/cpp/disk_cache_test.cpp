// The on-disk object cache (codegen/Jit.cpp): a second process compiling the same graph loads
// its kernels from DT_CACHE_DIR instead of compiling them; truncated or garbled entries are
// detected and recompiled; concurrent processes writing the same entries leave a valid cache;
// DT_CACHE_DIR=off writes nothing. The processes are this test binary itself, run with
// --gtest_filter=DiskCacheChild.* and DT_DISK_CACHE_TEST_REPORT naming a file where the child
// writes its codegen::cacheStats().
#include "CodegenCheck.h"
#include "codegen/Compiler.h"
#include "ir/Text.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace dt;
using namespace dt::codegen_check;
namespace fs = std::filesystem;

namespace {

// A graph no other test compiles (the odd sizes make its kernels unique), so a child process
// that runs only DiskCacheChild.CompileAndReport starts with an empty in-memory kernel cache.
const char *kGraph = R"(
func @disk_cache_mlp(%x: f32[3,37], %w: f32[37,11], %b: f32[11]) -> (f32[3,11], f32[3]) {
  %0 = matmul(%x, %w) : f32[3,11]
  %1 = add(%0, %b) : f32[3,11]
  %2 = tanh(%1) : f32[3,11]
  %3 = exp(%2) : f32[3,11]
  %4 = sum(%3) {axes=[1], keepdim=false} : f32[3]
  return %2, %4
}
)";

/// Compiles and runs kGraph with the JIT and checks it against the interpreter.
void compileAndCheck() {
  auto g = ir::parse(kGraph);
  ir::verify(*g);
  std::mt19937_64 rng(11);
  std::vector<HostArray> ins;
  for (const ir::Value *v : g->inputs) ins.push_back(randomArray(v->type, rng, Domain::Moderate));
  auto jit = runJit(*g, ins);
  auto ref = runInterpreter(*g, ins);
  ASSERT_EQ(jit.size(), 2u);
  // f32 accumulation (JIT) against double (interpreter): |x| < 1, |w| < 2, so sums of |terms|
  // stay below 100.
  expectClose(jit[0], ref[0], Cmp::Accumulated, std::vector<double>(33, 1e-4));
  expectClose(jit[1], ref[1], Cmp::Accumulated, std::vector<double>(3, 1e-3));
}

// Runs in every test run (it is a plain JIT-vs-interpreter check); as a child of the tests
// below it also reports the process's cache counters.
TEST(DiskCacheChild, CompileAndReport) {
  compileAndCheck();
  if (const char *report = std::getenv("DT_DISK_CACHE_TEST_REPORT")) {
    codegen::CacheStats st = codegen::cacheStats();
    std::ofstream(report) << st.diskHits << " " << st.diskMisses << " " << st.diskWrites << " " << st.diskCorrupt << " "
                          << st.kernelsCompiled << "\n";
  }
}

struct ChildStats {
  int64_t hits = -1, misses = -1, writes = -1, corrupt = -1, compiled = -1;
};

std::string shellQuoted(const std::string &s) { return "'" + s + "'"; }

/// The shell command running the child test with this cache dir, reporting into `report`.
std::string childCommand(const std::string &cacheDir, const std::string &report) {
  std::string self = fs::read_symlink("/proc/self/exe").string();
  return "DT_CACHE_DIR=" + shellQuoted(cacheDir) + " DT_DISK_CACHE_TEST_REPORT=" + shellQuoted(report) + " " + shellQuoted(self) +
         " --gtest_filter=DiskCacheChild.CompileAndReport > " + shellQuoted(report + ".log") + " 2>&1";
}

ChildStats readReport(const std::string &report) {
  ChildStats s;
  std::ifstream in(report);
  in >> s.hits >> s.misses >> s.writes >> s.corrupt >> s.compiled;
  return s;
}

std::string slurp(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs one child; its test must pass.
ChildStats runChild(const std::string &cacheDir, const std::string &report) {
  int status = std::system(childCommand(cacheDir, report).c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed:\n" << slurp(report + ".log");
  return readReport(report);
}

std::vector<fs::path> entries(const std::string &dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto &e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

/// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("dt-disk-cache-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string sub(const std::string &name) const { return (path / name).string(); }
};

TEST(DiskCache, SecondProcessLoadsFromDisk) {
  TempDir tmp;
  std::string cache = tmp.sub("cache");
  ChildStats cold = runChild(cache, tmp.sub("r1"));
  EXPECT_EQ(cold.hits, 0);
  EXPECT_GE(cold.misses, 1);
  EXPECT_EQ(cold.writes, cold.misses);
  EXPECT_GE(cold.compiled, 1);
  std::vector<fs::path> files = entries(cache);
  ASSERT_EQ(int64_t(files.size()), cold.writes);
  for (const fs::path &p : files) EXPECT_EQ(p.extension(), ".o") << p; // no temporaries left

  ChildStats warm = runChild(cache, tmp.sub("r2"));
  EXPECT_EQ(warm.hits, cold.misses);
  EXPECT_EQ(warm.misses, 0);
  EXPECT_EQ(warm.writes, 0);
  EXPECT_EQ(warm.corrupt, 0);
  EXPECT_EQ(entries(cache).size(), files.size());
}

TEST(DiskCache, CorruptEntriesAreDetectedAndRecompiled) {
  TempDir tmp;
  std::string cache = tmp.sub("cache");
  ChildStats cold = runChild(cache, tmp.sub("r1"));
  ASSERT_GE(cold.misses, 1);
  // Damage every entry, first by truncation, then by one flipped byte in the payload.
  for (int mode = 0; mode < 2; ++mode) {
    SCOPED_TRACE(mode == 0 ? "truncated" : "flipped byte");
    std::vector<fs::path> files = entries(cache);
    ASSERT_EQ(int64_t(files.size()), cold.misses);
    for (const fs::path &p : files) {
      auto size = fs::file_size(p);
      ASSERT_GT(size, 200u);
      if (mode == 0) {
        fs::resize_file(p, size / 2);
      } else {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(std::streamoff(size - 100));
        char c = 0;
        f.read(&c, 1);
        c = char(c ^ 0x5a);
        f.seekp(std::streamoff(size - 100));
        f.write(&c, 1);
      }
    }
    ChildStats again = runChild(cache, tmp.sub("r2")); // the child checks its results are right
    EXPECT_EQ(again.hits, 0);
    EXPECT_EQ(again.corrupt, cold.misses);
    EXPECT_EQ(again.writes, cold.misses); // rewritten
    ChildStats warm = runChild(cache, tmp.sub("r3"));
    EXPECT_EQ(warm.hits, cold.misses);
    EXPECT_EQ(warm.corrupt, 0);
  }
}

TEST(DiskCache, ConcurrentWritersLeaveAValidCache) {
  TempDir tmp;
  std::string cache = tmp.sub("cache");
  // Four processes compile the same graph at once (each writes every entry).
  std::string script;
  for (int i = 0; i < 4; ++i) script += childCommand(cache, tmp.sub("c" + std::to_string(i))) + " & ";
  script += "wait";
  ASSERT_EQ(std::system(("sh -c " + shellQuoted(script)).c_str()), 0);
  for (int i = 0; i < 4; ++i) {
    ChildStats s = readReport(tmp.sub("c" + std::to_string(i)));
    EXPECT_GE(s.hits + s.misses, 1) << "child " << i << " did not finish:\n" << slurp(tmp.sub("c" + std::to_string(i)) + ".log");
    EXPECT_EQ(s.corrupt, 0) << "child " << i;
    EXPECT_NE(slurp(tmp.sub("c" + std::to_string(i)) + ".log").find("[  PASSED  ] 1 test"), std::string::npos)
        << slurp(tmp.sub("c" + std::to_string(i)) + ".log");
  }
  for (const fs::path &p : entries(cache)) EXPECT_EQ(p.extension(), ".o") << p;
  ChildStats warm = runChild(cache, tmp.sub("r"));
  EXPECT_GE(warm.hits, 1);
  EXPECT_EQ(warm.misses, 0);
  EXPECT_EQ(warm.corrupt, 0);
}

TEST(DiskCache, OffWritesNothing) {
  TempDir tmp;
  ChildStats s = runChild("off", tmp.sub("r"));
  EXPECT_EQ(s.hits, 0);
  EXPECT_EQ(s.misses, 0);
  EXPECT_EQ(s.writes, 0);
  EXPECT_FALSE(fs::exists("off"));
}

} // namespace
