// memory_plan (passes/MemoryPlan.h): buffer reuse by liveness, in-place results, inputs and
// outputs alone in their buffers, the printed plan; codegen::compile with a plan (its checks and
// the in-place kernels) gives the same results as without one, with far fewer bytes on the MLP
// training step.
#include "CodegenCheck.h"
#include "MlpStepGraph.h"

#include "codegen/Compiler.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Fusion.h"
#include "passes/MemoryPlan.h"

#include <gtest/gtest.h>

namespace dt {
namespace {

using namespace codegen_check;

std::unique_ptr<ir::Graph> parseOk(const std::string &text) {
  std::unique_ptr<ir::Graph> g = ir::parse(text);
  ir::verify(*g);
  return g;
}

std::vector<HostArray> randomInputs(const ir::Graph &g, uint64_t seed, Domain d = Domain::Moderate) {
  std::mt19937_64 rng(seed);
  std::vector<HostArray> ins;
  for (const ir::Value *v : g.inputs) ins.push_back(randomArray(v->type, rng, d));
  return ins;
}

/// Runs a compiled program on copies of `ins`.
std::vector<HostArray> run(const rt::Program &p, const ir::Graph &g, const std::vector<HostArray> &ins) {
  std::vector<std::shared_ptr<rt::Buffer>> bufs;
  for (const HostArray &a : ins) {
    auto b = rt::Buffer::allocate(a.bytes.size());
    if (!a.bytes.empty()) std::memcpy(b->data(), a.bytes.data(), a.bytes.size());
    bufs.push_back(b);
  }
  auto outs = p.run(bufs);
  std::vector<HostArray> res;
  for (size_t i = 0; i < outs.size(); ++i) {
    HostArray h(g.outputs[i]->type);
    if (!h.bytes.empty()) std::memcpy(h.bytes.data(), outs[i]->data(), h.bytes.size());
    res.push_back(std::move(h));
  }
  return res;
}

void expectBitwiseEqual(const std::vector<HostArray> &a, const std::vector<HostArray> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].bytes == b[i].bytes) << "output " << i << " differs";
}

const char *kChain = R"(
func @f(%x: f32[100], %y: f32[10]) -> (f32[10], f32[]) {
  %a = exp(%x) : f32[100]
  %b = neg(%a) : f32[100]
  %c = add(%b, %x) : f32[100]
  %r = reshape(%c) {shape=[10, 10]} : f32[10,10]
  %s = sum(%r) {axes=[1]} : f32[10]
  %t = exp(%y) : f32[10]
  %u = mul(%s, %t) : f32[10]
  %dead = neg(%u) : f32[10]
  %o = add(%u, %t) : f32[10]
  %m = max(%o) : f32[]
  return %u, %m
}
)";

TEST(MemoryPlan, ReusesDeadBuffersAndWorksInPlace) {
  auto g = parseOk(kChain);
  ir::MemoryPlan p = passes::memoryPlan(*g);
  auto buf = [&](const std::string &v) { return p.bufferOf.at(v); };
  // Inputs: their own buffers, never reused (even %x after its last use).
  EXPECT_EQ(buf("x"), 0);
  EXPECT_EQ(buf("y"), 1);
  // exp(%x) cannot overwrite the input; neg and add then work in place over it.
  EXPECT_EQ(buf("a"), 2);
  EXPECT_EQ(buf("b"), 2);
  EXPECT_EQ(buf("c"), 2);
  // reshape is not elementwise: a new buffer, while %c is read. %c is dead after it, so sum's
  // 40 bytes go to its 400-byte buffer (size-compatible reuse), and exp(%y) to %r's.
  EXPECT_EQ(buf("r"), 3);
  EXPECT_EQ(buf("s"), 2);
  EXPECT_EQ(buf("t"), 3);
  // %u is a graph output: a buffer of its own, never in place.
  for (const auto &[name, b] : p.bufferOf)
    if (name != "u") EXPECT_NE(b, buf("u")) << name;
  EXPECT_EQ(p.bufferBytes[size_t(buf("u"))], 40);
  // %s died at %u: %dead (read by nobody, so freed at once) takes its buffer.
  EXPECT_EQ(buf("dead"), buf("s"));
  // %o = add(%u, %t): %u is an output, %t dies here: in place over %t.
  EXPECT_EQ(buf("o"), buf("t"));
  EXPECT_EQ(p.inPlace, (std::vector<std::string>{"b", "c", "o"}));
  EXPECT_LT(p.plannedBytes, p.unplannedBytes);
  EXPECT_LE(p.livePeakBytes, p.plannedBytes);
  int64_t all = 0;
  for (const ir::Value *v : g->inputs) all += int64_t(v->type.bytes());
  for (const auto &n : g->nodes) all += int64_t(n->result->type.bytes());
  EXPECT_EQ(p.unplannedBytes, all);
}

TEST(MemoryPlan, NoValueIsOverwrittenWhileItIsStillRead) {
  // For each node, the result's buffer holds no value read later (checked independently of the
  // pass, by replaying the node order), and inputs/outputs are alone in their buffers.
  std::vector<std::unique_ptr<ir::Graph>> graphs;
  graphs.push_back(parseOk(kChain));
  graphs.push_back(mlp_step::trainingStep(8));
  for (const auto &g : graphs) {
    ir::MemoryPlan p = passes::memoryPlan(*g);
    std::unordered_map<const ir::Value *, size_t> last;
    for (size_t i = 0; i < g->nodes.size(); ++i)
      for (const ir::Value *o : g->nodes[i]->operands) last[o] = i;
    std::map<int, const ir::Value *> holder;
    for (const ir::Value *v : g->inputs) holder[p.bufferOf.at(v->name)] = v;
    for (size_t i = 0; i < g->nodes.size(); ++i) {
      const ir::Value *r = g->nodes[i]->result;
      int b = p.bufferOf.at(r->name);
      EXPECT_GE(p.bufferBytes[size_t(b)], int64_t(r->type.bytes()));
      if (auto it = holder.find(b); it != holder.end()) {
        const ir::Value *h = it->second;
        EXPECT_TRUE(!last.count(h) || last.at(h) <= i) << "%" << r->name << " overwrites %" << h->name;
        if (last.count(h) && last.at(h) == i) EXPECT_EQ(h->type, r->type) << "%" << r->name << " in place of %" << h->name;
      }
      holder[b] = r;
    }
    std::map<int, int> count;
    for (const auto &[name, b] : p.bufferOf) ++count[b];
    for (const auto &vs : {g->inputs, g->outputs})
      for (const ir::Value *v : vs) EXPECT_EQ(count[p.bufferOf.at(v->name)], 1) << "%" << v->name;
  }
}

TEST(MemoryPlan, PrintedAsCommentsThatStillParse) {
  auto g = parseOk(R"(
func @f(%x: f32[4]) -> (f32[4]) {
  %a = exp(%x) : f32[4]
  %b = neg(%a) : f32[4]
  %c = sum(%b) : f32[]
  %d = mul(%b, %c) : f32[4]
  return %d
}
)");
  ir::MemoryPlan p = passes::memoryPlan(*g);
  std::string text = passes::printMemoryPlan(*g, p);
  EXPECT_EQ(text, "// memory-plan: 4 buffers, 52 bytes (68 bytes with one buffer per value; 52 bytes live at most)\n"
                  "// buffer 0: 16 bytes: %x (input)\n"
                  "// buffer 1: 16 bytes: %a, %b (in place)\n"
                  "// buffer 2: 4 bytes: %c\n"
                  "// buffer 3: 16 bytes: %d (output)\n");
  auto back = ir::parse(ir::print(*g) + text);
  EXPECT_TRUE(back->equals(*g));
}

TEST(MemoryPlan, CompiledWithThePlanGivesTheSameResults) {
  for (const std::string &text : {std::string(kChain)}) {
    auto g = parseOk(text);
    ir::MemoryPlan p = passes::memoryPlan(*g);
    rt::Program plain = codegen::compile(*g), planned = codegen::compile(*g, p);
    EXPECT_EQ(planned.bufferBytes.size(), p.bufferBytes.size());
    for (uint64_t seed : {1u, 2u}) {
      auto ins = randomInputs(*g, seed);
      expectBitwiseEqual(run(planned, *g, ins), run(plain, *g, ins));
    }
    // The output buffers belong to the caller: a second run does not touch them.
    std::vector<std::shared_ptr<rt::Buffer>> in1, in2;
    for (const ir::Value *v : g->inputs) {
      in1.push_back(rt::Buffer::allocate(v->type.bytes()));
      in2.push_back(rt::Buffer::allocate(v->type.bytes()));
      for (size_t i = 0; i < size_t(v->type.numel()); ++i) static_cast<float *>(in2.back()->data())[i] = 1.5f;
    }
    auto out1 = planned.run(in1);
    std::vector<std::vector<char>> saved;
    for (const auto &b : out1) saved.emplace_back(static_cast<char *>(b->data()), static_cast<char *>(b->data()) + b->size());
    auto out2 = planned.run(in2);
    for (size_t i = 0; i < out1.size(); ++i) {
      EXPECT_EQ(std::memcmp(out1[i]->data(), saved[i].data(), saved[i].size()), 0) << "output " << i;
      EXPECT_NE(std::memcmp(out1[i]->data(), out2[i]->data(), saved[i].size()), 0) << "output " << i;
    }
  }
}

TEST(MemoryPlan, MlpTrainingStepUsesLessMemoryWithTheSameResults) {
  for (bool fuse : {false, true}) {
    SCOPED_TRACE(fuse ? "fused" : "unfused");
    auto g = mlp_step::trainingStep(64);
    if (fuse) passes::fusion(*g);
    ir::MemoryPlan p = passes::memoryPlan(*g);
    // Inputs and outputs (w1 and its update: 400 KB each) and x's transpose for the w1 gradient
    // (200 KB, live until the end) are most of the bytes: the plan saves on the rest, and
    // needs fewer buffers than values.
    int64_t io = 0;
    for (const auto &vs : {g->inputs, g->outputs})
      for (const ir::Value *v : vs) io += int64_t(v->type.bytes());
    EXPECT_LT(p.plannedBytes, p.unplannedBytes) << passes::printMemoryPlan(*g, p);
    EXPECT_LT(p.bufferBytes.size(), p.bufferOf.size() * 2 / 3) << passes::printMemoryPlan(*g, p);
    EXPECT_LE(p.livePeakBytes, p.plannedBytes);
    EXPECT_GT(io, 0);
    auto ins = randomInputs(*g, 3);
    for (auto &a : ins)
      if (a.type.shape.empty()) a.data<float>()[0] = 1.0f; // d_loss
    expectBitwiseEqual(run(codegen::compile(*g, p), *g, ins), run(codegen::compile(*g), *g, ins));
  }
}

TEST(MemoryPlan, CodegenRejectsUnsafePlans) {
  auto g = parseOk(R"(
func @f(%x: f32[4], %y: f32[4]) -> (f32[4]) {
  %a = exp(%x) : f32[4]
  %b = neg(%a) : f32[4]
  %c = add(%a, %b) : f32[4]
  return %c
}
)");
  ir::MemoryPlan good = passes::memoryPlan(*g);
  EXPECT_NO_THROW(codegen::compile(*g, good));
  auto expectError = [&](ir::MemoryPlan p, const std::string &what) {
    try {
      codegen::compile(*g, p);
      ADD_FAILURE() << "accepted a plan: " << passes::printMemoryPlan(*g, p);
    } catch (const ValueError &e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  ir::MemoryPlan p = good;
  p.bufferOf["b"] = p.bufferOf["a"]; // %b = neg(%a) over %a, but %a is read again by %c
  expectError(p, "codegen: memory plan: %b overwrites %a in buffer");
  p = good;
  p.bufferOf["a"] = p.bufferOf["x"];
  expectError(p, "graph input/output %x shares buffer");
  p = good;
  p.bufferOf.erase("c");
  expectError(p, "value %c has no buffer");
  p = good;
  p.bufferBytes[size_t(p.bufferOf["a"])] = 8;
  expectError(p, "value %a of 16 bytes does not fit buffer");
}

TEST(MemoryPlan, ThePassLeavesTheGraphUnchanged) {
  auto g = parseOk(kChain);
  auto h = passes::runPipeline(g->clone(), "memory-plan");
  EXPECT_TRUE(h->equals(*g));
}

} // namespace
} // namespace dt
