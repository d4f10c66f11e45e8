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

#include <set>

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

/// Runtime buffers holding copies of `ins`.
std::vector<std::shared_ptr<rt::Buffer>> buffersOf(const std::vector<HostArray> &ins) {
  std::vector<std::shared_ptr<rt::Buffer>> bufs;
  for (const HostArray &a : ins) {
    auto b = rt::Buffer::allocate(a.bytes.size());
    if (!a.bytes.empty()) std::memcpy(b->data(), a.bytes.data(), a.bytes.size());
    bufs.push_back(b);
  }
  return bufs;
}

/// Runs a compiled program on copies of `ins`.
std::vector<HostArray> run(const rt::Program &p, const ir::Graph &g, const std::vector<HostArray> &ins) {
  auto outs = p.run(buffersOf(ins));
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

// Reshapes of reshapes: %r and %s are %a's bytes (aliases); %t = neg(%s) works in place of the
// group, %u is a graph output so it stays a copy.
const char *kChainOfReshapes = R"(
func @f(%x: f32[12]) -> (f32[12]) {
  %a = abs(%x) : f32[12]
  %r = reshape(%a) {shape=[3, 4]} : f32[3,4]
  %s = reshape(%r) {shape=[4, 3]} : f32[4,3]
  %t = neg(%s) : f32[4,3]
  %u = reshape(%t) {shape=[12]} : f32[12]
  return %u
}
)";

// %r aliases %a, which is read again after %b: %b must not work in place of %r. %c then works
// in place of the dead group {%a, %r}, %e aliases %c and %f = mul(%e, %b) works in place of %e.
const char *kAfterInPlace = R"(
func @f(%x: f32[6], %y: f32[2,3]) -> (f32[2,3]) {
  %a = abs(%x) : f32[6]
  %r = reshape(%a) {shape=[2, 3]} : f32[2,3]
  %b = neg(%r) : f32[2,3]
  %c = add(%a, %a) : f32[6]
  %e = reshape(%c) {shape=[2, 3]} : f32[2,3]
  %f = mul(%e, %b) : f32[2,3]
  %o = add(%f, %y) : f32[2,3]
  return %o
}
)";

// Reshapes of an input and to an output stay copies (inputs and outputs keep their own buffers).
const char *kInputOutputReshapes = R"(
func @f(%x: f32[6]) -> (f32[2,3], f32[3,2]) {
  %r = reshape(%x) {shape=[2, 3]} : f32[2,3]
  %a = neg(%r) : f32[2,3]
  %o = reshape(%a) {shape=[3, 2]} : f32[3,2]
  return %r, %o
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
  // reshape is an alias: %c's buffer, which then lives until sum reads %r, so sum takes a new
  // buffer; exp(%y) then reuses the 400-byte buffer of the dead {%c, %r} (size-compatible reuse).
  EXPECT_EQ(buf("r"), 2);
  EXPECT_EQ(p.aliases, (std::vector<std::string>{"r"}));
  EXPECT_EQ(buf("s"), 3);
  EXPECT_EQ(buf("t"), 2);
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
  graphs.push_back(parseOk(kAfterInPlace));
  graphs.push_back(parseOk(kChainOfReshapes));
  {
    auto fused = mlp_step::trainingStep(8);
    passes::fusion(*fused);
    graphs.push_back(std::move(fused));
  }
  for (const auto &g : graphs) {
    ir::MemoryPlan p = passes::memoryPlan(*g);
    // An alias (a reshape in its operand's buffer) joins its operand's group; a group is read
    // until the last reader of any member.
    std::set<std::string> aliases(p.aliases.begin(), p.aliases.end());
    std::unordered_map<const ir::Value *, const ir::Value *> rootOf;
    auto root = [&](const ir::Value *v) { return rootOf.count(v) ? rootOf.at(v) : v; };
    for (const auto &n : g->nodes)
      if (aliases.count(n->result->name)) {
        EXPECT_EQ(n->op, "reshape") << "%" << n->result->name;
        EXPECT_EQ(p.bufferOf.at(n->result->name), p.bufferOf.at(n->operands[0]->name)) << "%" << n->result->name;
        rootOf[n->result] = root(n->operands[0]);
      }
    std::unordered_map<const ir::Value *, size_t> last;
    for (size_t i = 0; i < g->nodes.size(); ++i)
      for (const ir::Value *o : g->nodes[i]->operands) last[root(o)] = i;
    std::map<int, const ir::Value *> holder;
    for (const ir::Value *v : g->inputs) holder[p.bufferOf.at(v->name)] = v;
    for (size_t i = 0; i < g->nodes.size(); ++i) {
      const ir::Node &n = *g->nodes[i];
      const ir::Value *r = n.result;
      int b = p.bufferOf.at(r->name);
      EXPECT_GE(p.bufferBytes[size_t(b)], int64_t(r->type.bytes()));
      if (aliases.count(r->name)) {
        EXPECT_EQ(holder[b], root(n.operands[0])) << "alias %" << r->name;
        continue;
      }
      if (auto it = holder.find(b); it != holder.end()) {
        const ir::Value *h = it->second;
        EXPECT_TRUE(!last.count(h) || last.at(h) <= i) << "%" << r->name << " overwrites %" << h->name;
        if (last.count(h) && last.at(h) == i)
          for (const ir::Value *o : n.operands)
            if (root(o) == h) EXPECT_EQ(o->type, r->type) << "%" << r->name << " in place of %" << o->name;
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
    // (Aliased reshapes share their operand's buffer, so they count as values with no buffer.)
    EXPECT_LE(p.bufferBytes.size(), p.bufferOf.size() * 2 / 3) << passes::printMemoryPlan(*g, p);
    EXPECT_LE(p.livePeakBytes, p.plannedBytes);
    EXPECT_GT(io, 0);
    auto ins = randomInputs(*g, 3);
    for (auto &a : ins)
      if (a.type.shape.empty()) a.data<float>()[0] = 1.0f; // d_loss
    expectBitwiseEqual(run(codegen::compile(*g, p), *g, ins), run(codegen::compile(*g), *g, ins));
  }
}

/// codegen::compile(g, p) throws a ValueError whose message contains `what`.
void expectPlanRejected(const ir::Graph &g, const ir::MemoryPlan &p, const std::string &what) {
  try {
    codegen::compile(g, p);
    ADD_FAILURE() << "accepted a plan: " << passes::printMemoryPlan(g, p);
  } catch (const ValueError &e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
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
  auto expectError = [&](const ir::MemoryPlan &p, const std::string &what) { expectPlanRejected(*g, p, what); };
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

TEST(MemoryPlan, ReshapesAliasTheirOperandAndCostNoKernel) {
  auto g = parseOk(kChainOfReshapes);
  ir::MemoryPlan p = passes::memoryPlan(*g);
  EXPECT_EQ(passes::printMemoryPlan(*g, p),
            "// memory-plan: 3 buffers, 144 bytes (288 bytes with one buffer per value; 144 bytes live at most)\n"
            "// buffer 0: 48 bytes: %x (input)\n"
            "// buffer 1: 48 bytes: %a, %r (alias), %s (alias), %t (in place)\n"
            "// buffer 2: 48 bytes: %u (output)\n");
  EXPECT_EQ(codegen::compile(*g, p).steps.size(), 3u); // abs, neg, the output's reshape
  EXPECT_EQ(codegen::compile(*g).steps.size(), 5u);

  auto h = parseOk(kAfterInPlace);
  ir::MemoryPlan q = passes::memoryPlan(*h);
  EXPECT_EQ(q.aliases, (std::vector<std::string>{"r", "e"}));
  EXPECT_EQ(q.inPlace, (std::vector<std::string>{"c", "f"}));
  EXPECT_NE(q.bufferOf.at("b"), q.bufferOf.at("a")); // %a is read after %b
  EXPECT_EQ(q.bufferOf.at("f"), q.bufferOf.at("a"));

  auto k = parseOk(kInputOutputReshapes);
  ir::MemoryPlan pk = passes::memoryPlan(*k);
  EXPECT_TRUE(pk.aliases.empty());
  EXPECT_EQ(codegen::compile(*k, pk).steps.size(), 3u);
}

TEST(MemoryPlan, AliasedReshapesGiveTheInterpretersResults) {
  // Only exact f32 arithmetic, so the JIT and the interpreter agree bit for bit.
  for (const char *text : {kChainOfReshapes, kAfterInPlace, kInputOutputReshapes}) {
    auto g = parseOk(text);
    ir::MemoryPlan p = passes::memoryPlan(*g);
    rt::Program planned = codegen::compile(*g, p);
    for (uint64_t seed : {1u, 2u, 3u}) {
      auto ins = randomInputs(*g, seed);
      expectBitwiseEqual(run(planned, *g, ins), runInterpreter(*g, ins));
    }
  }
  // Fused: a reshape's alias feeds an in-place elementwise kernel.
  auto g = parseOk(kAfterInPlace);
  passes::fusion(*g);
  ir::MemoryPlan p = passes::memoryPlan(*g);
  EXPECT_FALSE(p.aliases.empty()) << ir::print(*g);
  auto ins = randomInputs(*g, 4);
  expectBitwiseEqual(run(codegen::compile(*g, p), *g, ins), runInterpreter(*g, ins));
}

TEST(MemoryPlan, CodegenRejectsUnsafeAliases) {
  auto g = parseOk(R"(
func @f(%x: f32[4]) -> (f32[2,2]) {
  %a = abs(%x) : f32[4]
  %r = reshape(%a) {shape=[2, 2]} : f32[2,2]
  %b = neg(%a) : f32[4]
  %c = reshape(%b) {shape=[2, 2]} : f32[2,2]
  %d = add(%r, %c) : f32[2,2]
  return %d
}
)");
  ir::MemoryPlan good = passes::memoryPlan(*g);
  EXPECT_EQ(good.aliases, (std::vector<std::string>{"r", "c"}));
  EXPECT_NO_THROW(codegen::compile(*g, good));
  auto expectError = [&](const ir::MemoryPlan &p, const std::string &what) { expectPlanRejected(*g, p, what); };
  ir::MemoryPlan p = good;
  p.aliases.push_back("b");
  expectError(p, "codegen: memory plan: %b is an alias but is neg, expected reshape");
  p = good;
  p.bufferOf["r"] = p.bufferOf["b"];
  expectError(p, "alias %r is in buffer");
  p = good;
  p.bufferOf["b"] = p.bufferOf["a"]; // %b = neg(%a) in place, but %a's alias %r is read by %d
  p.bufferOf["c"] = p.bufferOf["a"];
  expectError(p, "%b overwrites %a in buffer");
}

TEST(MemoryPlan, ThePassLeavesTheGraphUnchanged) {
  auto g = parseOk(kChain);
  auto h = passes::runPipeline(g->clone(), "memory-plan");
  EXPECT_TRUE(h->equals(*g));
}


// An SGD-like update: the new %w (output 1) may be written over input %w, the new %m (output 2)
// over input %m; %x is read by the matmul after %m's update, so output 0 may not take it.
const char *kUpdate = R"(
func @f(%w: f32[4,3], %m: f32[4,3], %g: f32[4,3], %x: f32[2,4]) -> (f32[2,3], f32[4,3], f32[4,3], f32[4,3]) {
  %m1 = add(%m, %g) : f32[4,3]
  %lr = const() {value=0.5} : f32[]
  %d = mul(%m1, %lr) : f32[4,3]
  %w1 = sub(%w, %d) : f32[4,3]
  %y = matmul(%x, %w1) : f32[2,3]
  %x2 = matmul(%x, %w) : f32[2,3]
  return %y, %w1, %m1, %d
}
)";

TEST(MemoryPlan, DonatedOutputsAreComputedIntoTheirInputsBuffer) {
  auto g = parseOk(kUpdate);
  // Asked: %w1 into %w (refused: %w is read by %x2 after %w1's node), %m1 into %m (granted, in
  // place: add reads %m elementwise), %y into %x (refused: %x is read later, and types differ),
  // %d into %g (granted: %g's last reader is %m1, before %d).
  std::vector<std::pair<int, int>> ask = {{1, 0}, {2, 1}, {0, 3}, {3, 2}};
  ir::MemoryPlan p = passes::memoryPlan(*g, ask);
  EXPECT_EQ(p.donations, (std::vector<std::pair<int, int>>{{2, 1}, {3, 2}}));
  EXPECT_EQ(p.bufferOf.at("m1"), p.bufferOf.at("m"));
  EXPECT_EQ(p.bufferOf.at("d"), p.bufferOf.at("g"));
  EXPECT_NE(p.bufferOf.at("w1"), p.bufferOf.at("w"));
  EXPECT_NE(std::find(p.inPlace.begin(), p.inPlace.end(), "m1"), p.inPlace.end());
  std::string text = passes::printMemoryPlan(*g, p);
  EXPECT_NE(text.find("%m (input), %m1 (output, donated)"), std::string::npos) << text;

  // Run it: the donated outputs are the inputs' own buffers, updated; the results equal the
  // interpreter's and an undonated run's.
  rt::Program prog = codegen::compile(*g, p);
  std::vector<HostArray> ins = randomInputs(*g, 5);
  std::vector<HostArray> want = run(codegen::compile(*g), *g, ins);
  std::vector<std::shared_ptr<rt::Buffer>> bufs = buffersOf(ins);
  auto outs = prog.run(bufs);
  EXPECT_EQ(outs[2]->data(), bufs[1]->data());
  EXPECT_EQ(outs[3]->data(), bufs[2]->data());
  EXPECT_NE(outs[1]->data(), bufs[0]->data());
  for (size_t i = 0; i < outs.size(); ++i)
    EXPECT_EQ(std::memcmp(outs[i]->data(), want[i].bytes.data(), want[i].bytes.size()), 0) << "output " << i;
  EXPECT_EQ(std::memcmp(bufs[0]->data(), ins[0].bytes.data(), ins[0].bytes.size()), 0) << "%w was not donated";

  // Bad requests: out of range throws; a codegen given a donation the graph cannot take refuses it.
  std::vector<std::pair<int, int>> bad = {{4, 0}};
  EXPECT_THROW(passes::memoryPlan(*g, bad), ValueError);
  ir::MemoryPlan forged = p;
  forged.donations.emplace_back(1, 0);
  forged.bufferOf["w1"] = forged.bufferOf.at("w");
  expectPlanRejected(*g, forged, "overwrites %w in buffer");
}

TEST(MemoryPlan, OutputsCanBeWrittenIntoGivenBuffers) {
  auto g = parseOk(kUpdate);
  ir::MemoryPlan p = passes::memoryPlan(*g);
  for (const rt::Program &prog : {codegen::compile(*g, p), codegen::compile(*g)}) {
    std::vector<HostArray> ins = randomInputs(*g, 6);
    std::vector<std::shared_ptr<rt::Buffer>> bufs = buffersOf(ins);
    std::vector<std::shared_ptr<rt::Buffer>> into(4);
    into[1] = rt::Buffer::allocate(48);
    into[3] = rt::Buffer::allocate(48);
    auto outs = prog.run(bufs, into);
    EXPECT_EQ(outs[1], into[1]);
    EXPECT_EQ(outs[3], into[3]);
    std::vector<HostArray> want = run(prog, *g, ins);
    for (size_t i = 0; i < outs.size(); ++i)
      EXPECT_EQ(std::memcmp(outs[i]->data(), want[i].bytes.data(), want[i].bytes.size()), 0) << "output " << i;
    into[1] = rt::Buffer::allocate(12);
    EXPECT_THROW(prog.run(bufs, into), std::invalid_argument);
  }
}

TEST(MemoryPlan, ConstsAreFilledOnceAndNeverOverwritten) {
  // %z is read by the in-place-able add and would be a free buffer after it; %c is returned and
  // asked to be donated to %x (refused: codegen fills a const's buffer once).
  auto g = parseOk(R"(
func @f(%x: f32[4], %y: f32[4]) -> (f32[4], f32[4]) {
  %z = const() {shape=[4], value=[1.0, 2.0, 3.0, 4.0]} : f32[4]
  %a = add(%z, %y) : f32[4]
  %b = neg(%a) : f32[4]
  %c = const() {shape=[4], value=0.5} : f32[4]
  %d = mul(%b, %c) : f32[4]
  return %d, %c
}
)");
  std::vector<std::pair<int, int>> ask = {{1, 0}};
  ir::MemoryPlan p = passes::memoryPlan(*g, ask);
  EXPECT_TRUE(p.donations.empty());
  EXPECT_NE(p.bufferOf.at("a"), p.bufferOf.at("z")); // not in place over the const
  EXPECT_NE(passes::printMemoryPlan(*g, p).find("%z (const)"), std::string::npos) << passes::printMemoryPlan(*g, p);
  for (const rt::Program &prog : {codegen::compile(*g, p), codegen::compile(*g)}) {
    EXPECT_EQ(prog.steps.size(), 3u); // add, neg, mul: the consts run no kernel
    EXPECT_EQ(prog.constants.size(), 2u);
    std::vector<HostArray> ins = randomInputs(*g, 8);
    std::vector<HostArray> first = run(prog, *g, ins), second = run(prog, *g, ins);
    expectBitwiseEqual(first, second);
    expectBitwiseEqual(first, runInterpreter(*g, ins));
  }
  // A plan that lets another value share a const's buffer is refused.
  ir::MemoryPlan bad = p;
  bad.bufferOf["b"] = bad.bufferOf.at("z");
  expectPlanRejected(*g, bad, "const %z shares buffer");
}


// An Adam-like update fused into one kernel with three results (the new parameter and both
// moments), each donated to its input: the plan grants all three (the kernel reads every input
// element only where it writes the same element), the program writes them in place, and the
// results equal the unfused graph's bit for bit, threaded (2^17 elements) or not.
TEST(MemoryPlan, MultiOutputKernelResultsAreDonatedInPlace) {
  for (int64_t n : {int64_t(12), int64_t(1) << 17}) {
    std::string t = "f32[" + std::to_string(n) + "]";
    auto g = parseOk("func @adam(%g: " + t + ", %m: " + t + ", %v: " + t + ", %p: " + t + ") -> (" + t + ", " + t + ", " + t +
                     ") {\n"
                     "  %b1 = const() {value=0.9} : f32[]\n"
                     "  %m0 = mul(%m, %b1) : " + t + "\n"
                     "  %mn = add(%m0, %g) : " + t + "\n"
                     "  %gg = mul(%g, %g) : " + t + "\n"
                     "  %vn = add(%v, %gg) : " + t + "\n"
                     "  %s = sqrt(%vn) : " + t + "\n"
                     "  %q = div(%mn, %s) : " + t + "\n"
                     "  %pn = sub(%p, %q) : " + t + "\n"
                     "  return %pn, %mn, %vn\n}\n");
    auto f = g->clone();
    ASSERT_EQ(passes::fusion(*f), 1);
    ASSERT_EQ(f->nodes.size(), 1u) << ir::print(*f);
    ASSERT_EQ(f->nodes[0]->numResults(), 3u) << ir::print(*f);
    std::vector<std::pair<int, int>> ask = {{0, 3}, {1, 1}, {2, 2}};
    ir::MemoryPlan p = passes::memoryPlan(*f, ask);
    EXPECT_EQ(p.donations, ask);
    EXPECT_EQ(p.bufferOf.at("pn"), p.bufferOf.at("p"));
    EXPECT_EQ(p.bufferOf.at("mn"), p.bufferOf.at("m"));
    EXPECT_EQ(p.bufferOf.at("vn"), p.bufferOf.at("v"));
    std::string text = passes::printMemoryPlan(*f, p);
    EXPECT_NE(text.find("%v (input), %vn (output, donated)"), std::string::npos) << text;

    std::vector<HostArray> ins = randomInputs(*g, 9);
    for (HostArray &a : ins) // positive second moments, so sqrt stays real
      for (int64_t i = 0; i < n; ++i) a.data<float>()[i] = std::abs(a.data<float>()[i]) + 0.5f;
    std::vector<HostArray> want = run(codegen::compile(*g), *g, ins);
    rt::Program prog = codegen::compile(*f, p);
    std::vector<std::shared_ptr<rt::Buffer>> bufs = buffersOf(ins);
    auto outs = prog.run(bufs);
    EXPECT_EQ(outs[0]->data(), bufs[3]->data());
    EXPECT_EQ(outs[1]->data(), bufs[1]->data());
    EXPECT_EQ(outs[2]->data(), bufs[2]->data());
    for (size_t i = 0; i < outs.size(); ++i)
      EXPECT_EQ(std::memcmp(outs[i]->data(), want[i].bytes.data(), want[i].bytes.size()), 0) << "output " << i << ", n " << n;
    // And without a plan (every result in a buffer of its own) against the interpreter.
    expectBitwiseEqual(run(codegen::compile(*f), *f, ins), want);
  }
}

// Two results of one kernel may not share a buffer, and a result may not overwrite an operand a
// later node still reads: codegen checks each result of a multi-output kernel like any result.
TEST(MemoryPlan, CodegenChecksEveryResultOfAMultiOutputKernel) {
  auto g = parseOk(R"(
func @f(%x: f32[4]) -> (f32[4]) {
  %a, %b = kernel @fused_0(%x) : f32[4], f32[4] {
    %a = neg(%x) : f32[4]
    %b = exp(%x) : f32[4]
    yield %a, %b
  }
  %c = add(%a, %b) : f32[4]
  return %c
}
)");
  ir::MemoryPlan p = passes::memoryPlan(*g);
  EXPECT_NE(p.bufferOf.at("a"), p.bufferOf.at("b"));
  std::vector<HostArray> ins = randomInputs(*g, 3);
  expectBitwiseEqual(run(codegen::compile(*g, p), *g, ins), run(codegen::compile(*g), *g, ins));
  ir::MemoryPlan shared = p;
  shared.bufferOf["b"] = shared.bufferOf.at("a");
  expectPlanRejected(*g, shared, "%b overwrites %a in buffer");
}

} // namespace
} // namespace dt
