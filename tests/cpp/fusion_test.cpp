// Fusion (passes/Fusion.h): which groups become kernels (elementwise chains, reductions with
// their elementwise producers, matmuls with their epilogues), that fused graphs verify,
// round-trip through the text form and compute what the unfused graph computes (interpreter
// bit for bit, JIT against both), that the fused loop vectorizes, and explainFusion's reasons.
#include "CodegenCheck.h"
#include "MlpStepGraph.h"
#include "ThreadCheck.h"

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

TEST(Fusion, MatmulTakesItsEpilogueButNotItsOperands) {
  auto g = parseOk(kMatmulChain);
  auto f = fused(*g, 2);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"kernel", "kernel"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[0]->region), (std::vector<std::string>{"mul", "relu"}));
  EXPECT_EQ(ops(*f->nodes[1]->region), (std::vector<std::string>{"matmul", "add", "tanh"}));
  EXPECT_EQ(f->nodes[1]->operands, (std::vector<ir::Value *>{f->nodes[0]->result, f->inputs[2], f->inputs[3]}));
  EXPECT_EQ(f->nodes[0]->callee, "fused_0");
  EXPECT_EQ(f->nodes[1]->callee, "fused_1");

  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%1 -> %2: %2 = matmul: not elementwise"), std::string::npos) << why;
  EXPECT_EQ(why.find("%2 -> %3"), std::string::npos) << why; // fused
}

TEST(Fusion, ProducerWithOutsideUsesIsNotDuplicated) {
  auto g = parseOk(kSharedProducer);
  auto f = fused(*g, 1);
  // exp is computed exactly once, in the one kernel, which also computes neg(exp) + a (a
  // consumer whose inputs are all ready where exp runs) and stores both: the two reductions read
  // exp from its buffer.
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"kernel", "sum", "max"})) << ir::print(*f);
  int exps = 0;
  for (const auto &n : f->nodes)
    if (n->region)
      for (const auto &r : n->region->nodes) exps += r->op == "exp";
  EXPECT_EQ(exps, 1);
  const ir::Node &k = *f->nodes[0];
  EXPECT_EQ(ops(*k.region), (std::vector<std::string>{"mul", "exp", "neg", "add"}));
  ASSERT_EQ(k.numResults(), 2u);
  EXPECT_EQ(k.result->name, "1");
  EXPECT_EQ(k.moreResults[0]->name, "5");
  EXPECT_EQ(k.moreResults[0]->def, &k);
  EXPECT_EQ(f->nodes[1]->operands, (std::vector<ir::Value *>{k.result}));
  EXPECT_EQ(f->outputs[2], k.moreResults[0]);

  std::string why = passes::explainFusion(*g);
  EXPECT_EQ(why.find("%1 -> %4"), std::string::npos) << why; // in one kernel
  EXPECT_NE(why.find("%1 -> %2: %1 has 2 uses outside the group (only an elementwise kernel has several results"), std::string::npos) << why;
  EXPECT_NE(why.find("%1 -> %3: %1 has 2 uses outside the group"), std::string::npos) << why;
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
func @f(%x: f32[4], %y: f32[3,4], %w: f32[4,4]) -> (f32[4], f32[3,4]) {
  %0 = add(%x, %x) : f32[4]
  %1 = add(%0, %y) : f32[3,4]
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
  // A graph output is stored; it could be a further result of %1's kernel only with its shape.
  EXPECT_NE(why.find("%0 -> %1: %0 is a graph output and its type f32[4] is not the group's shape [3,4]"), std::string::npos) << why;
  EXPECT_NE(why.find("%2 -> %3: %3 = sum: only elementwise ops fuse into a matmul's epilogue"), std::string::npos) << why;
  EXPECT_NE(why.find("%3 -> %4: %3 = sum: a reduction ends its kernel (fusing its consumer would recompute the sum for "
                     "every element)"),
            std::string::npos)
      << why;
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
  // Reductions after a two-result kernel: the same results as unfused.
  {
    auto g = parseOk(kSharedProducer);
    auto f = g->clone();
    ASSERT_EQ(passes::fusion(*f), 1);
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

// --- reductions and matmul epilogues -------------------------------------------------------------

/// The JIT of the fused graph `f` against the interpreter on the unfused `g`, on moderate inputs,
/// within `tol` absolute (accumulations: the interpreter sums in double, the JIT in the dtype).
void expectFusedClose(const ir::Graph &g, const ir::Graph &f, uint64_t seed, double tol) {
  auto ins = randomInputs(g, seed, Domain::Moderate);
  auto jit = runJit(f, ins);
  auto ref = runInterpreter(g, ins);
  ASSERT_EQ(jit.size(), ref.size());
  for (size_t i = 0; i < jit.size(); ++i)
    expectClose(jit[i], ref[i], Cmp::Accumulated, std::vector<double>(size_t(ref[i].type.numel()), tol));
  // The interpreter gives the same bits on both forms (same ops, same order per element).
  expectBitwiseEqual(runInterpreter(f, ins), ref);
}

/// The kernels of g whose region starts with a matmul / ends in a reduction.
/// Regions whose first node (after transposes of a matmul's operands), or last, is of `kind`.
int regionsStartingWith(const ir::Graph &g, ir::OpKind kind, bool last = false) {
  int k = 0;
  for (const auto &n : g.nodes)
    if (n->region && !n->region->nodes.empty()) {
      size_t first = 0;
      while (!last && first + 1 < n->region->nodes.size() && n->region->nodes[first]->op == "transpose") ++first;
      const ir::Node &r = last ? *n->region->nodes.back() : *n->region->nodes[first];
      k += ir::findOp(r.op)->kind == kind;
    }
  return k;
}

TEST(Fusion, SumOfProductIsOneKernel) {
  auto g = parseOk(R"(
func @f(%x: f32[40,30], %y: f32[40,30]) -> (f32[]) {
  %m = mul(%x, %y) : f32[40,30]
  %s = sum(%m) : f32[]
  return %s
}
)");
  auto f = fused(*g, 1);
  ASSERT_EQ(ops(*f), (std::vector<std::string>{"kernel"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[0]->region), (std::vector<std::string>{"mul", "sum"}));
  EXPECT_EQ(f->nodes[0]->result->type.str(), "f32[]");
  EXPECT_EQ(passes::explainFusion(*g), "");
  for (uint64_t seed : {1u, 2u}) expectFusedClose(*g, *f, seed, 1200 * 4 * 1e-6);
}

TEST(Fusion, ReductionsFuseOverEveryAxisLayout) {
  // Horizontal (innermost axis reduced), vertical (outer axis reduced), both, keepdim, mean's
  // division, max/min, and broadcast operands of the reduced nest.
  const char *texts[] = {
      R"(func @f(%a: f32[16,10], %b: f32[10]) -> (f32[16]) {
  %two = const() {value=2.0} : f32[]
  %d = sub(%a, %b) : f32[16,10]
  %p = pow(%d, %two) : f32[16,10]
  %m = mean(%p) {axes=[1]} : f32[16]
  return %m
})",
      R"(func @f(%a: f32[6,7,9], %c: f32[7,1]) -> (f32[1,7,9]) {
  %e = exp(%a) : f32[6,7,9]
  %m = mul(%e, %c) : f32[6,7,9]
  %r = max(%m) {axes=[0], keepdim=true} : f32[1,7,9]
  return %r
})",
      R"(func @f(%a: f32[5,8,3], %b: f32[5,8,3]) -> (f32[8]) {
  %m = minimum(%a, %b) : f32[5,8,3]
  %n = neg(%m) : f32[5,8,3]
  %r = min(%n) {axes=[0, 2]} : f32[8]
  return %r
})",
      R"(func @f(%a: f32[33], %b: f32[]) -> (f32[1]) {
  %m = add(%a, %b) : f32[33]
  %s = sigmoid(%m) : f32[33]
  %r = sum(%s) {keepdim=true} : f32[1]
  return %r
})",
  };
  for (const char *text : texts) {
    auto g = parseOk(text);
    SCOPED_TRACE(ir::print(*g));
    auto f = fused(*g, 1);
    ASSERT_EQ(ops(*f), (std::vector<std::string>{"kernel"})) << ir::print(*f);
    EXPECT_EQ(regionsStartingWith(*f, ir::OpKind::Reduce, /*last=*/true), 1) << ir::print(*f);
    for (uint64_t seed : {3u, 4u}) expectFusedClose(*g, *f, seed, 400 * 1e-6);
  }
}

TEST(Fusion, IntegerSumOfProductsWrapsLikeTheInterpreter) {
  auto g = parseOk(R"(
func @f(%a: i64[9,70], %b: i64[70]) -> (i64[9]) {
  %m = mul(%a, %b) : i64[9,70]
  %s = sum(%m) {axes=[1]} : i64[9]
  return %s
}
)");
  auto f = fused(*g, 1);
  for (uint64_t seed : {5u, 6u}) {
    auto ins = randomInputs(*g, seed, Domain::General); // some huge values: products and sums wrap
    expectBitwiseEqual(runJit(*f, ins), runInterpreter(*g, ins));
  }
}

TEST(Fusion, ZeroSizeReductionKernels) {
  auto g = parseOk(R"(
func @f(%a: f32[0,4], %b: f32[4]) -> (f32[4], f32[0], f32[]) {
  %m = mul(%a, %b) : f32[0,4]
  %s = sum(%m) {axes=[0]} : f32[4]
  %e = exp(%a) : f32[0,4]
  %x = max(%e) {axes=[1]} : f32[0]
  %n = neg(%a) : f32[0,4]
  %r = mean(%n) : f32[]
  return %s, %x, %r
}
)");
  auto f = fused(*g, 3);
  auto ins = randomInputs(*g, 1);
  expectBitwiseEqual(runJit(*f, ins), runInterpreter(*g, ins)); // zeros, nothing, NaN
}

TEST(Fusion, ReductionConsumersAndSharedOperandsStayOutside) {
  // exp(x - max(x)): the max's consumer is not fused into it; the sum fuses with exp(sub) since
  // exp has no other use; the log + add after the sum are a kernel of their own.
  auto g = parseOk(R"(
func @f(%x: f32[4,10]) -> (f32[4,1]) {
  %m = max(%x) {axes=[1], keepdim=true} : f32[4,1]
  %d = sub(%x, %m) : f32[4,10]
  %e = exp(%d) : f32[4,10]
  %s = sum(%e) {axes=[1], keepdim=true} : f32[4,1]
  %l = log(%s) : f32[4,1]
  %r = add(%l, %m) : f32[4,1]
  return %r
}
)");
  auto f = fused(*g, 2);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"max", "kernel", "kernel"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[1]->region), (std::vector<std::string>{"sub", "exp", "sum"}));
  EXPECT_EQ(ops(*f->nodes[2]->region), (std::vector<std::string>{"log", "add"}));
  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%m -> %d: %m = max: a reduction ends its kernel (fusing its consumer would recompute the max for "
                     "every element)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("%s -> %l: %s = sum: a reduction ends its kernel"), std::string::npos) << why;
  EXPECT_NE(why.find("%m -> %r: %m = max: a reduction ends its kernel"), std::string::npos) << why;
  for (uint64_t seed : {7u, 8u}) expectFusedClose(*g, *f, seed, 1e-5);
}

const char *kEpilogues = R"(
func @f(%x: f32[3,13,20], %w: f32[20,37], %b: f32[37], %v: f32[9,9]) -> (f32[3,13,37], f32[9,9]) {
  %half = const() {value=0.5} : f32[]
  %mm = matmul(%x, %w) : f32[3,13,37]
  %s = add(%mm, %b) : f32[3,13,37]
  %g = sigmoid(%s) : f32[3,13,37]
  %r = mul(%g, %half) : f32[3,13,37]
  %sq = matmul(%v, %v) : f32[9,9]
  %t = add(%sq, %v) : f32[9,9]
  %u = tanh(%t) : f32[9,9]
  return %r, %u
}
)";

TEST(Fusion, MatmulEpiloguesAreOneKernelEach) {
  // Batched with a bias row, sigmoid and a scale; and a square matmul whose operand is read by
  // its epilogue too (x @ x + x). Edge tiles: 13 rows, 37 and 9 columns.
  auto g = parseOk(kEpilogues);
  auto f = fused(*g, 2);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"kernel", "kernel"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[0]->region), (std::vector<std::string>{"matmul", "add", "sigmoid", "const", "mul"}));
  EXPECT_EQ(ops(*f->nodes[1]->region), (std::vector<std::string>{"matmul", "add", "tanh"}));
  EXPECT_EQ(f->nodes[1]->operands, (std::vector<ir::Value *>{f->inputs[3]}));
  EXPECT_EQ(passes::explainFusion(*g), "");
  for (uint64_t seed : {9u, 10u}) expectFusedClose(*g, *f, seed, 20 * 4 * 1e-6);
}

TEST(Fusion, MatmulEpilogueMatchesTheUnfusedGemmBitForBitOnIeeeOps) {
  // relu(x @ w + b) * c: only IEEE ops after the dot product, so the fused kernel stores exactly
  // what the unfused matmul + elementwise kernels store.
  auto g = parseOk(R"(
func @f(%x: f32[33,64], %w: f32[64,50], %b: f32[50], %c: f32[33,1]) -> (f32[33,50]) {
  %mm = matmul(%x, %w) : f32[33,50]
  %s = add(%mm, %b) : f32[33,50]
  %r = relu(%s) : f32[33,50]
  %o = mul(%r, %c) : f32[33,50]
  return %o
}
)");
  auto f = fused(*g, 1);
  for (uint64_t seed : {11u, 12u}) {
    auto ins = randomInputs(*g, seed, Domain::Moderate);
    expectBitwiseEqual(runJit(*f, ins), runJit(*g, ins));
  }
}

TEST(Fusion, MatmulIsNeverComputedTwice) {
  auto g = parseOk(R"(
func @f(%x: f32[8,16], %w: f32[16,4], %z: f32[2,8,4], %i: i64[8,16], %j: i64[16,4]) -> (f32[8,4], f32[8,4], f32[8,4], f32[2,8,4], bool[8,4]) {
  %mm = matmul(%x, %w) : f32[8,4]
  %r = relu(%mm) : f32[8,4]
  %t = tanh(%mm) : f32[8,4]
  %m2 = matmul(%x, %w) : f32[8,4]
  %n2 = neg(%m2) : f32[8,4]
  %m3 = matmul(%x, %w) : f32[8,4]
  %b3 = add(%m3, %z) : f32[2,8,4]
  %m4 = matmul(%i, %j) : i64[8,4]
  %z4 = const() {dtype="i64", value=0} : i64[]
  %c4 = gt(%m4, %z4) : bool[8,4]
  return %r, %t, %m2, %b3, %c4
}
)");
  // No matmul joins a kernel; relu(%mm) and tanh(%mm) become one two-result kernel (siblings).
  auto f = fused(*g, 1);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"matmul", "kernel", "matmul", "neg", "matmul", "add", "matmul", "const", "gt"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[1]->region), (std::vector<std::string>{"relu", "tanh"}));
  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%mm -> %r: the group has several results (%t too), a matmul kernel has one"), std::string::npos) << why;
  EXPECT_NE(why.find("%mm -> %t: the group has several results (%t too), a matmul kernel has one"), std::string::npos) << why;
  EXPECT_NE(why.find("%m2 -> %n2: %m2 is a graph output (it is stored as it is)"), std::string::npos) << why;
  EXPECT_NE(why.find("%m3 -> %b3: the group's result f32[2,8,4] is not the matmul's type f32[8,4]"), std::string::npos) << why;
  EXPECT_NE(why.find("%m4 -> %c4: the group's result bool[8,4] is not the matmul's type i64[8,4]"), std::string::npos) << why;
}

TEST(Fusion, OneMatmulPerKernelAndItsOperandsStayMaterialized) {
  // add(a @ b, c @ d): one matmul heads the kernel, the other stays a node. relu(x) feeds both
  // the matmul and its epilogue: it is materialized (a kernel of its own), not fused after it.
  auto g = parseOk(R"(
func @f(%a: f32[6,5], %b: f32[5,7], %c: f32[6,3], %d: f32[3,7], %x: f32[7,7]) -> (f32[6,7], f32[7,7]) {
  %p = matmul(%a, %b) : f32[6,7]
  %q = matmul(%c, %d) : f32[6,7]
  %s = add(%p, %q) : f32[6,7]
  %rx = relu(%x) : f32[7,7]
  %e = exp(%rx) : f32[7,7]
  %mm = matmul(%e, %x) : f32[7,7]
  %o = sub(%mm, %e) : f32[7,7]
  return %s, %o
}
)");
  auto f = fused(*g, 3);
  EXPECT_EQ(ops(*f), (std::vector<std::string>{"matmul", "kernel", "kernel", "kernel"})) << ir::print(*f);
  EXPECT_EQ(ops(*f->nodes[1]->region), (std::vector<std::string>{"matmul", "add"}));
  EXPECT_EQ(ops(*f->nodes[2]->region), (std::vector<std::string>{"relu", "exp"}));
  EXPECT_EQ(ops(*f->nodes[3]->region), (std::vector<std::string>{"matmul", "sub"}));
  std::string why = passes::explainFusion(*g);
  EXPECT_NE(why.find("%e -> %o: %e is an operand of the group's matmul %mm (matmul operands are materialized)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("%q -> %s: the group already holds matmul %p (one matmul per kernel)"), std::string::npos) << why;
  for (uint64_t seed : {13u, 14u}) expectFusedClose(*g, *f, seed, 10 * 20 * 1e-6);
}

TEST(Fusion, MlpTrainingStepHasFewKernelsAndMatchesTheInterpreter) {
  auto g = mlp_step::trainingStep(16);
  int matmuls = 0;
  for (const auto &n : g->nodes) matmuls += n->op == "matmul";
  int kernels = passes::fusion(*g->clone());
  auto f = fused(*g, kernels);
  int nodes = 0, fusedMatmuls = 0, fusedReductions = 0;
  for (const auto &n : f->nodes) nodes += n->op != "const";
  fusedMatmuls = regionsStartingWith(*f, ir::OpKind::MatMul);
  fusedReductions = regionsStartingWith(*f, ir::OpKind::Reduce, /*last=*/true);
  // Forward: 2 matmul epilogues; the loss chain's reductions take their producers.
  EXPECT_GE(fusedMatmuls, 2) << ir::print(*f);
  EXPECT_GE(fusedReductions, 3) << ir::print(*f);
  // Documented in docs/passes.md: 23 nodes for 5 matmuls, all five fused with an epilogue (the
  // forward bias/relu, the backward relu mask, the two weight updates), 11 other fused kernels
  // (one of them stores three results: the shifted logits, their exp and a mask the backward
  // reads), 2 reshapes, and 5 reductions read by more than one consumer (max and 4 sums),
  // materialized rather than computed twice; the 3 transposes are read by their matmuls' GEMMs
  // through strides, inside the kernels.
  EXPECT_EQ(matmuls, 5);
  EXPECT_EQ(fusedMatmuls, 5) << ir::print(*f);
  EXPECT_LE(nodes, 23) << ir::print(*f);
  for (const auto &n : f->nodes) EXPECT_NE(n->op, "transpose") << ir::print(*f);
  auto ins = randomInputs(*g, 15, Domain::Moderate);
  for (auto &a : ins)
    if (a.type.shape.empty()) a.data<float>()[0] = 1.0f; // d_loss
  auto jit = runJit(*f, ins);
  auto ref = runInterpreter(*g, ins);
  ASSERT_EQ(jit.size(), ref.size());
  for (size_t i = 0; i < jit.size(); ++i)
    expectClose(jit[i], ref[i], Cmp::Accumulated, std::vector<double>(size_t(ref[i].type.numel()), 2e-3));
}


// Multi-output kernels (sibling elementwise loops and sibling row/column reductions, each big
// enough to split across threads) give the bytes of the unfused graph at 1, 2 and 3 threads, and
// the 2- and 3-thread runs do split.
TEST(Fusion, MultiOutputKernelsSplitAcrossThreadsBitForBit) {
  auto g = parseOk(R"(
func @f(%x: f32[512,300], %y: f32[512,300], %b: f32[300]) -> (f32[512,300], f32[512,300], f32[512], f32[512], f32[300], f32[300]) {
  %e = exp(%x) : f32[512,300]
  %p = mul(%e, %b) : f32[512,300]
  %t = tanh(%y) : f32[512,300]
  %q = mul(%x, %y) : f32[512,300]
  %s = sum(%q) {axes=[1]} : f32[512]
  %m = max(%x) {axes=[1]} : f32[512]
  %c = sum(%p) {axes=[0]} : f32[300]
  %n = min(%y) {axes=[0]} : f32[300]
  return %p, %t, %s, %m, %c, %n
}
)");
  auto f = g->clone();
  passes::fusion(*f);
  ASSERT_NO_THROW(ir::verify(*f));
  std::vector<size_t> results;
  for (const auto &n : f->nodes) results.push_back(n->numResults());
  // one elementwise kernel (%p and %t), one for the two row reductions, one for the two column
  // reductions (the column sum reads %p from the first)
  EXPECT_EQ(results, (std::vector<size_t>{2, 2, 2})) << ir::print(*f);
  ThreadCountGuard guard;
  auto ins = randomInputs(*g, 21, Domain::Moderate);
  setNumThreads(1);
  expectBitwiseEqual(sameAtThreadCounts(*f, ins, true), runJit(*g, ins));
}

} // namespace
} // namespace dt
