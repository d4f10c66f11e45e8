// Elementwise fusion (passes/Fusion.h): which groups become kernels, that fused graphs verify,
// round-trip through the text form and compute what the unfused graph computes (interpreter
// bit for bit, JIT against both), that the fused loop vectorizes, and explainFusion's reasons.
#include "CodegenCheck.h"

#include "codegen/Compiler.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Fusion.h"

#include <gtest/gtest.h>

#include <regex>

namespace dt {
namespace {

using namespace codegen_check;

std::unique_ptr<ir::Graph> parseOk(const std::string &text) {
  std::unique_ptr<ir::Graph> g = ir::parse(text);
  ir::verify(*g);
  return g;
}

/// A fused copy of g, checked: it verifies and survives print -> parse unchanged.
std::unique_ptr<ir::Graph> fused(const ir::Graph &g, int expectKernels) {
  auto f = g.clone();
  EXPECT_EQ(passes::fusion(*f), expectKernels);
  EXPECT_NO_THROW(ir::verify(*f)) << ir::print(*f);
  std::string text = ir::print(*f);
  std::unique_ptr<ir::Graph> back = ir::parse(text);
  EXPECT_TRUE(back->equals(*f)) << text << "\nreparsed:\n" << ir::print(*back);
  return f;
}

std::vector<std::string> ops(const ir::Graph &g) {
  std::vector<std::string> r;
  for (const auto &n : g.nodes) r.push_back(n->op);
  return r;
}

std::vector<HostArray> randomInputs(const ir::Graph &g, uint64_t seed, Domain d = Domain::General) {
  std::mt19937_64 rng(seed);
  std::vector<HostArray> ins;
  for (const ir::Value *v : g.inputs) ins.push_back(randomArray(v->type, rng, d));
  return ins;
}

void expectBitwiseEqual(const std::vector<HostArray> &a, const std::vector<HostArray> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].type, b[i].type) << "output " << i;
    EXPECT_TRUE(a[i].bytes == b[i].bytes) << "output " << i << " differs";
  }
}

const char *kSigmoidAffine = R"(
func @f(%a: f32[1000], %b: f32[1000], %c: f32[1000], %d: f32[1000]) -> (f32[1000]) {
  %m = mul(%a, %b) : f32[1000]
  %s = add(%m, %c) : f32[1000]
  %g = sigmoid(%s) : f32[1000]
  %r = mul(%g, %d) : f32[1000]
  return %r
}
)";

const char *kMatmulChain = R"(
func @f(%x: f32[8,16], %y: f32[8,16], %w: f32[16,4], %b: f32[4]) -> (f32[8,4]) {
  %0 = mul(%x, %y) : f32[8,16]
  %1 = relu(%0) : f32[8,16]
  %2 = matmul(%1, %w) : f32[8,4]
  %3 = add(%2, %b) : f32[8,4]
  %4 = tanh(%3) : f32[8,4]
  return %4
}
)";

const char *kSharedProducer = R"(
func @f(%a: f32[6,5], %b: f32[6,5]) -> (f32[], f32[5], f32[6,5]) {
  %0 = mul(%a, %b) : f32[6,5]
  %1 = exp(%0) : f32[6,5]
  %2 = sum(%1) : f32[]
  %3 = max(%1) {axes=[0]} : f32[5]
  %4 = neg(%1) : f32[6,5]
  %5 = add(%4, %a) : f32[6,5]
  return %2, %3, %5
}
)";

const char *kBroadcasting = R"(
func @f(%x: f32[64,128], %b: f32[128], %c: f32[64,1]) -> (f32[64,128]) {
  %h = const() {value=0.5} : f32[]
  %0 = add(%x, %b) : f32[64,128]
  %1 = mul(%0, %h) : f32[64,128]
  %2 = broadcast_to(%c) {shape=[64, 128]} : f32[64,128]
  %3 = sub(%1, %2) : f32[64,128]
  %4 = relu(%3) : f32[64,128]
  return %4
}
)";

const char *kMixedDtypes = R"(
func @f(%x: f32[37], %y: f32[37], %n: i64[37]) -> (f32[37]) {
  %z = const() {value=0.0} : f32[]
  %p = gt(%x, %z) : bool[37]
  %c = cast(%n) {dtype="f32"} : f32[37]
  %m = maximum(%x, %y) : f32[37]
  %w = where(%p, %m, %c) : f32[37]
  %r = abs(%w) : f32[37]
  return %r
}
)";

TEST(Fusion, SigmoidOfAffineBecomesOneKernel) {
  auto g = parseOk(kSigmoidAffine);
  auto f = fused(*g, 1);
  ASSERT_EQ(f->nodes.size(), 1u) << ir::print(*f);
  const ir::Node &k = *f->nodes[0];
  EXPECT_EQ(k.op, "kernel");
  EXPECT_EQ(k.callee, "fused_0");
  ASSERT_TRUE(k.region);
  EXPECT_EQ(k.region->name, "fused_0");
  EXPECT_EQ(ops(*k.region), (std::vector<std::string>{"mul", "add", "sigmoid", "mul"}));
  ASSERT_EQ(k.operands.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(k.operands[i], f->inputs[i]); // a, b, c, d in first-use order
  EXPECT_EQ(k.result, f->outputs[0]);
  EXPECT_EQ(k.result->name, "r");
  EXPECT_EQ(passes::explainFusion(*g), "");
}

TEST(Fusion, MatmulSplitsTheChainIntoKernelMatmulKernel) {
  auto g = parseOk(kMatmulChain);
  auto f = fused(*g, 2);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"kernel", "matmul", "kernel"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[0]->region), (std::vector<std::string>{"mul", "relu"}));
  EXPECT_EQ(ops(*f->nodes[2]->region), (std::vector<std::string>{"add", "tanh"}));
  EXPECT_EQ(f->nodes[1]->operands[0], f->nodes[0]->result);
  EXPECT_EQ(f->nodes[2]->operands[0], f->nodes[1]->result);
  EXPECT_EQ(f->nodes[0]->callee, "fused_0");
  EXPECT_EQ(f->nodes[2]->callee, "fused_1");

  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%1 -> %2: %2 = matmul: not elementwise"), std::string::npos) << why;
  EXPECT_NE(why.find("%2 -> %3: %2 = matmul: not elementwise"), std::string::npos) << why;
}

TEST(Fusion, ProducerWithOutsideUsesIsNotDuplicated) {
  auto g = parseOk(kSharedProducer);
  auto f = fused(*g, 2);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"kernel", "sum", "max", "kernel"})) << ir::print(*f);
  // exp is computed exactly once, in the first kernel, and read by the other three consumers.
  int exps = 0;
  for (const auto &n : f->nodes)
    if (n->region)
      for (const auto &r : n->region->nodes) exps += r->op == "exp";
  EXPECT_EQ(exps, 1);
  EXPECT_EQ(ops(*f->nodes[0]->region), (std::vector<std::string>{"mul", "exp"}));
  EXPECT_EQ(ops(*f->nodes[3]->region), (std::vector<std::string>{"neg", "add"}));
  EXPECT_EQ(f->nodes[3]->operands, (std::vector<ir::Value *>{f->nodes[0]->result, f->inputs[0]}));

  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%1 -> %4: %1 has 2 uses outside the group"), std::string::npos) << why;
  EXPECT_NE(why.find("%1 -> %2: %2 = sum: not elementwise"), std::string::npos) << why;
  EXPECT_NE(why.find("%1 -> %3: %3 = max: not elementwise"), std::string::npos) << why;
}

TEST(Fusion, BroadcastingOperandsAndScalarConstsFuse) {
  auto g = parseOk(kBroadcasting);
  auto f = fused(*g, 1);
  ASSERT_EQ(ops(*f), (std::vector<std::string>{"kernel"})) << ir::print(*f); // the const moved inside
  const ir::Node &k = *f->nodes[0];
  EXPECT_EQ(k.operands, (std::vector<ir::Value *>{f->inputs[0], f->inputs[1], f->inputs[2]}));
  EXPECT_EQ(ops(*k.region), (std::vector<std::string>{"add", "const", "mul", "broadcast_to", "sub", "relu"}));
  EXPECT_EQ(f->values.size(), 4u); // three inputs and the kernel's result
}

TEST(Fusion, GraphOutputsAndSingletonsStayOrdinaryNodes) {
  auto g = parseOk(R"(
func @f(%x: f32[4], %w: f32[4,4]) -> (f32[4], f32[4]) {
  %0 = add(%x, %x) : f32[4]
  %1 = relu(%0) : f32[4]
  %2 = matmul(%w, %w) : f32[4,4]
  %3 = sum(%2) {axes=[0]} : f32[4]
  %4 = neg(%3) : f32[4]
  return %0, %1
}
)");
  auto f = fused(*g, 0);
  EXPECT_EQ(ops(*f), ops(*g));
  EXPECT_TRUE(f->equals(*g));
  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%0 -> %1: %0 is a graph output"), std::string::npos) << why;
  EXPECT_NE(why.find("%2 -> %3: %2 = matmul: not elementwise"), std::string::npos) << why;
  EXPECT_NE(why.find("%3 -> %4: %3 = sum: not elementwise"), std::string::npos) << why;
}

TEST(Fusion, IsIdempotent) {
  auto g = parseOk(kMatmulChain);
  auto f = fused(*g, 2);
  auto again = fused(*f, 0);
  EXPECT_TRUE(again->equals(*f));
}

TEST(Fusion, InterpreterGivesBitwiseEqualResults) {
  for (const char *text : {kSigmoidAffine, kMatmulChain, kSharedProducer, kBroadcasting, kMixedDtypes}) {
    auto g = parseOk(text);
    SCOPED_TRACE(ir::print(*g));
    auto f = g->clone();
    passes::fusion(*f);
    for (uint64_t seed : {1u, 2u, 3u}) {
      auto ins = randomInputs(*g, seed);
      expectBitwiseEqual(runInterpreter(*f, ins), runInterpreter(*g, ins));
    }
  }
}

TEST(Fusion, JitOfFusedGraphMatchesInterpreterAndUnfusedJit) {
  struct Case {
    const char *text;
    Cmp cmp;
  };
  // Exact where every op is IEEE arithmetic; ulps where transcendentals or matmul enter.
  for (const Case &c : {Case{kSigmoidAffine, Cmp::Ulp}, Case{kBroadcasting, Cmp::Exact}, Case{kMixedDtypes, Cmp::Exact}}) {
    auto g = parseOk(c.text);
    SCOPED_TRACE(ir::print(*g));
    auto f = g->clone();
    ASSERT_EQ(passes::fusion(*f), 1);
    for (uint64_t seed : {11u, 12u}) {
      auto ins = randomInputs(*g, seed, Domain::Moderate);
      auto jit = runJit(*f, ins);
      auto ref = runInterpreter(*g, ins);
      ASSERT_EQ(jit.size(), ref.size());
      for (size_t i = 0; i < jit.size(); ++i) expectClose(jit[i], ref[i], c.cmp);
      // The fused loop runs the same scalar code as the one-node kernels: bit for bit.
      expectBitwiseEqual(jit, runJit(*g, ins));
      // Special values (NaN, inf, signed zeros) too, against the unfused JIT.
      auto special = randomInputs(*g, seed, Domain::General);
      expectBitwiseEqual(runJit(*f, special), runJit(*g, special));
    }
  }
  // The graphs with a matmul and reductions between kernels.
  for (const char *text : {kMatmulChain, kSharedProducer}) {
    auto g = parseOk(text);
    SCOPED_TRACE(ir::print(*g));
    auto f = g->clone();
    ASSERT_EQ(passes::fusion(*f), 2);
    auto ins = randomInputs(*g, 5, Domain::Moderate);
    expectBitwiseEqual(runJit(*f, ins), runJit(*g, ins));
  }
}

TEST(Fusion, FusedSigmoidKernelVectorizesWithoutCalls) {
  auto g = parseOk(kSigmoidAffine);
  auto f = g->clone();
  ASSERT_EQ(passes::fusion(*f), 1);
  std::string text = codegen::emitLLVM(*f, /*optimized=*/true);
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(<(8|16) x float>)"))) << text;
  EXPECT_NE(text.find("fdiv <"), std::string::npos) << text; // sigmoid's 1/(1+e^-x), vectorized
  EXPECT_FALSE(std::regex_search(text, std::regex(R"(call [^@\n]*@(?!llvm\.))"))) << text;
  EXPECT_EQ(text.find("call float"), std::string::npos) << text;
}

TEST(Fusion, KernelCacheKeyIgnoresNamesButNotBodies) {
  // Same body under other names and another callee: served from the cache.
  auto g = parseOk(kMatmulChain);
  auto f = g->clone();
  passes::fusion(*f);
  codegen::compile(*f);
  auto renamed = parseOk(R"(
func @h(%p: f32[8,16], %q: f32[8,16]) -> (f32[8,16]) {
  %u = mul(%p, %q) : f32[8,16]
  %v = relu(%u) : f32[8,16]
  return %v
}
)");
  passes::fusion(*renamed);
  int64_t before = codegen::cacheStats().kernelsCompiled;
  codegen::compile(*renamed);
  EXPECT_EQ(codegen::cacheStats().kernelsCompiled, before);
  // A different body (relu -> neg) compiles a new kernel.
  auto other = parseOk(R"(
func @h(%p: f32[8,16], %q: f32[8,16]) -> (f32[8,16]) {
  %u = mul(%p, %q) : f32[8,16]
  %v = neg(%u) : f32[8,16]
  return %v
}
)");
  passes::fusion(*other);
  before = codegen::cacheStats().kernelsCompiled;
  codegen::compile(*other);
  EXPECT_EQ(codegen::cacheStats().kernelsCompiled, before + 1);
  auto ins = randomInputs(*other, 9);
  expectClose(runJit(*other, ins)[0], runInterpreter(*other, ins)[0], Cmp::Exact); // NaN payloads may differ
}

} // namespace
} // namespace dt
