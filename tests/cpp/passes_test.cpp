// Tests of the pass manager and the simplify / cse / dce passes on builder-made graphs.
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Cse.h"
#include "passes/Dce.h"
#include "passes/PassManager.h"
#include "passes/Simplify.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

namespace {

using namespace dt;
using namespace dt::ir;

Value *cst(Graph &g, Attr value, Shape shape = {}, std::string dtype = "f32") {
  return emit(g, OpId::Const, {}, {{"value", value}, {"shape", Attr::ints(shape)}, {"dtype", Attr(dtype)}});
}

int count(const Graph &g, const std::string &op) {
  int n = 0;
  for (const auto &node : g.nodes) n += node->op == op;
  return n;
}

TEST(PassesSimplify, FoldsConstantsExactly) {
  Graph g;
  Value *x = g.addInput({DType::F32, {2}}, "x");
  Value *a = cst(g, Attr(Attr::List{Attr(0.1), Attr(2.0)}), {2});
  Value *b = cst(g, Attr(0.2), {2});
  Value *s = emit(g, OpId::Add, {a, b});
  g.outputs = {emit(g, OpId::Mul, {x, s})};
  EXPECT_EQ(passes::simplify(g), 1);
  verify(g);
  ASSERT_EQ(g.nodes.size(), 2u); // the folded const and the mul
  const Node &c = *g.nodes[0];
  EXPECT_EQ(c.op, "const");
  const Attr::List &l = c.attr("value")->asList();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(float(l[0].asFloat()), 0.1f + 0.2f);
  EXPECT_EQ(float(l[1].asFloat()), 2.0f + 0.2f);
  // Printing and parsing back gives the same graph (the floats are exact).
  auto back = parse(print(g));
  EXPECT_TRUE(back->equals(g));
}

TEST(PassesSimplify, FoldsSplatAndOtherDTypes) {
  Graph g;
  Value *a = cst(g, Attr(int64_t(3)), {2, 2}, "i64");
  Value *b = emit(g, OpId::Neg, {a});
  g.outputs = {emit(g, OpId::Gt, {b, cst(g, Attr(int64_t(-4)), {}, "i64")})};
  passes::simplify(g);
  verify(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0]->op, "const");
  EXPECT_EQ(g.outputs[0]->type, (Type{DType::Bool, {2, 2}}));
  auto out = interpret(g, {});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[0].data<uint8_t>()[i], 1);
}

TEST(PassesSimplify, DoesNotFoldLargeResults) {
  Graph g;
  Value *a = cst(g, Attr(1.5), {65});
  g.outputs = {emit(g, OpId::Exp, {a})};
  EXPECT_EQ(passes::simplify(g), 0);
  EXPECT_EQ(count(g, "exp"), 1);
}

/// One graph per identity: `build` returns (the node to simplify, the value it must become).
void expectIdentity(const std::function<std::pair<Value *, Value *>(Graph &)> &build) {
  Graph g;
  auto [node, want] = build(g);
  g.outputs = {node};
  passes::simplify(g);
  verify(g);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0], want) << print(g);
}

TEST(PassesSimplify, AlgebraicIdentities) {
  auto in = [](Graph &g) { return g.addInput({DType::F32, {2, 3}}, "x"); };
  expectIdentity([&](Graph &g) { Value *x = in(g); return std::pair{emit(g, OpId::Mul, {x, cst(g, 1.0)}), x}; });
  expectIdentity([&](Graph &g) { Value *x = in(g); return std::pair{emit(g, OpId::Mul, {cst(g, 1.0, {3}), x}), x}; });
  expectIdentity([&](Graph &g) { Value *x = in(g); return std::pair{emit(g, OpId::Add, {x, cst(g, 0.0)}), x}; });
  expectIdentity([&](Graph &g) { Value *x = in(g); return std::pair{emit(g, OpId::Add, {cst(g, 0.0), x}), x}; });
  expectIdentity([&](Graph &g) { Value *x = in(g); return std::pair{emit(g, OpId::Sub, {x, cst(g, 0.0)}), x}; });
  expectIdentity([&](Graph &g) { Value *x = in(g); return std::pair{emit(g, OpId::Div, {x, cst(g, 1.0)}), x}; });
  expectIdentity([&](Graph &g) {
    Value *x = in(g);
    return std::pair{emit(g, OpId::Neg, {emit(g, OpId::Neg, {x})}), x};
  });
  expectIdentity([&](Graph &g) {
    Value *x = in(g);
    return std::pair{emit(g, OpId::Transpose, {emit(g, OpId::Transpose, {x})}), x};
  });
  expectIdentity([&](Graph &g) {
    Value *x = in(g);
    return std::pair{emit(g, OpId::Reshape, {emit(g, OpId::Reshape, {x}, {{"shape", Attr::ints({6})}})},
                          {{"shape", Attr::ints({2, 3})}}),
                     x};
  });
  expectIdentity([&](Graph &g) {
    Value *x = in(g);
    return std::pair{emit(g, OpId::BroadcastTo, {x}, {{"shape", Attr::ints({2, 3})}}), x};
  });
  expectIdentity([&](Graph &g) {
    Value *x = in(g);
    return std::pair{emit(g, OpId::Cast, {x}, {{"dtype", Attr("f32")}}), x};
  });
}

TEST(PassesSimplify, ReshapeOfReshapeBecomesOneReshape) {
  Graph g;
  Value *x = g.addInput({DType::F32, {2, 3}}, "x");
  Value *r1 = emit(g, OpId::Reshape, {x}, {{"shape", Attr::ints({6})}});
  g.outputs = {emit(g, OpId::Reshape, {r1}, {{"shape", Attr::ints({3, 2})}})};
  passes::simplify(g);
  verify(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0]->op, "reshape");
  EXPECT_EQ(g.nodes[0]->operands[0], x);
}

TEST(PassesSimplify, KeepsWhatIsNotAnIdentity) {
  // x * 1 where the 1 broadcasts x to a bigger shape.
  {
    Graph g;
    Value *x = g.addInput({DType::F32, {3}}, "x");
    g.outputs = {emit(g, OpId::Mul, {x, cst(g, 1.0, {2, 3})})};
    passes::simplify(g);
    EXPECT_EQ(count(g, "mul"), 1);
  }
  // x * c where c is not all ones.
  {
    Graph g;
    Value *x = g.addInput({DType::F32, {2}}, "x");
    g.outputs = {emit(g, OpId::Mul, {x, cst(g, Attr(Attr::List{Attr(1.0), Attr(2.0)}), {2})})};
    passes::simplify(g);
    EXPECT_EQ(count(g, "mul"), 1);
  }
  // Two transposes of a cube that keep the shape but do not compose to the identity.
  {
    Graph g;
    Value *x = g.addInput({DType::F32, {2, 2, 2}}, "x");
    Value *t1 = emit(g, OpId::Transpose, {x}, {{"dim0", Attr(0)}, {"dim1", Attr(1)}});
    g.outputs = {emit(g, OpId::Transpose, {t1}, {{"dim0", Attr(1)}, {"dim1", Attr(2)}})};
    EXPECT_EQ(g.outputs[0]->type, x->type);
    passes::simplify(g);
    EXPECT_EQ(count(g, "transpose"), 2);
  }
  // A permute undone by its inverse permutation is the identity.
  {
    Graph g;
    Value *x = g.addInput({DType::F32, {2, 3, 4}}, "x");
    Value *p = emit(g, OpId::Permute, {x}, {{"dims", Attr::ints({2, 0, 1})}});
    g.outputs = {emit(g, OpId::Permute, {p}, {{"dims", Attr::ints({1, 2, 0})}})};
    passes::simplify(g);
    EXPECT_EQ(g.outputs[0], x);
  }
}

TEST(PassesCse, MergesIdenticalNodes) {
  Graph g;
  Value *x = g.addInput({DType::F32, {3}}, "x");
  Value *y = g.addInput({DType::F32, {3}}, "y");
  Value *a = emit(g, OpId::Add, {x, y});
  Value *b = emit(g, OpId::Add, {x, y});
  g.outputs = {emit(g, OpId::Mul, {a, b})};
  EXPECT_EQ(passes::cse(g), 1);
  verify(g);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1]->operands[0], a);
  EXPECT_EQ(g.nodes[1]->operands[1], a);
}

TEST(PassesCse, KeepsDifferentAttributesOperandsAndSignedZeros) {
  Graph g;
  Value *x = g.addInput({DType::F32, {2, 2}}, "x");
  Value *s0 = emit(g, OpId::Sum, {x}, {{"axes", Attr::ints({0})}});
  Value *s1 = emit(g, OpId::Sum, {x}, {{"axes", Attr::ints({1})}});
  Value *sub1 = emit(g, OpId::Sub, {s0, s1});
  Value *sub2 = emit(g, OpId::Sub, {s1, s0});
  Value *pz = cst(g, 0.0);
  Value *nz = cst(g, -0.0);
  g.outputs = {sub1, sub2, pz, nz};
  EXPECT_EQ(passes::cse(g), 0);
  EXPECT_EQ(g.nodes.size(), 6u);
}

TEST(PassesCse, PurityCoversEveryOp) {
  for (const OpDef &d : allOps()) EXPECT_EQ(passes::isPure(d.id), d.id != OpId::Kernel) << d.name;
}

TEST(PassesDce, DropsDeadNodesKeepsInputs) {
  Graph g;
  Value *x = g.addInput({DType::F32, {3}}, "x");
  Value *unused = g.addInput({DType::F32, {3}}, "unused");
  emit(g, OpId::Exp, {x});
  g.outputs = {emit(g, OpId::Neg, {x})};
  EXPECT_EQ(passes::dce(g), 1);
  EXPECT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.inputs[1], unused);
  EXPECT_EQ(count(g, "exp"), 0);
}

std::unique_ptr<Graph> smallGraph() {
  auto g = std::make_unique<Graph>();
  Value *x = g->addInput({DType::F32, {3}}, "x");
  Value *a = emit(*g, OpId::Add, {emit(*g, OpId::Exp, {x}), cst(*g, 0.0)});
  Value *b = emit(*g, OpId::Exp, {x});
  g->outputs = {emit(*g, OpId::Sum, {emit(*g, OpId::Mul, {a, b})})};
  return g;
}

TEST(PassesManager, UnknownPassListsKnownOnes) {
  try {
    passes::parsePipeline("simplify,bogus");
    FAIL() << "expected a ValueError";
  } catch (const ValueError &e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown pass 'bogus'"), std::string::npos) << m;
    for (const char *p : {"autodiff", "cse", "dce", "simplify"}) EXPECT_NE(m.find(p), std::string::npos) << m;
  }
  EXPECT_THROW(passes::parsePipeline("cse,,dce"), ValueError);
  EXPECT_EQ(passes::parsePipeline(" simplify , cse "), (std::vector<std::string>{"simplify", "cse"}));
}

TEST(PassesManager, PrintsAfterEachPassOrWhenChanged) {
  std::ostringstream all, changed;
  auto g1 = passes::runPipeline(smallGraph(), "dce,simplify,cse,dce", {true, true, false, &all});
  auto g2 = passes::runPipeline(smallGraph(), "dce,simplify,cse,dce", {true, false, true, &changed});
  EXPECT_TRUE(g1->equals(*g2));
  std::string a = all.str(), c = changed.str();
  EXPECT_NE(a.find("// ----- IR after dce -----\n"), std::string::npos);
  EXPECT_NE(a.find("// ----- IR after simplify -----\n"), std::string::npos);
  EXPECT_NE(a.find("// ----- IR after cse -----\n"), std::string::npos);
  // Only simplify and cse change this graph (dce has nothing dead before or after them).
  EXPECT_EQ(c.find("IR after dce"), std::string::npos) << c;
  EXPECT_NE(c.find("// ----- IR after simplify -----\n"), std::string::npos);
  EXPECT_NE(c.find("// ----- IR after cse -----\n"), std::string::npos);
  // exp(x)+0 became exp(x) and the two exps merged: mul(exp(x), exp(x)) is left.
  EXPECT_EQ(count(*g1, "add"), 0);
  EXPECT_EQ(count(*g1, "exp"), 1);
  EXPECT_EQ(count(*g1, "mul"), 1);
}

TEST(PassesManager, VerifyEachNamesTheBrokenPass) {
  passes::registerPass("test_break", "breaks the result type (test only)", [](std::unique_ptr<Graph> g) {
    g->nodes.back()->result->type = Type{DType::F64, {7}};
    return g;
  });
  try {
    passes::runPipeline(smallGraph(), "simplify,test_break,dce");
    FAIL() << "expected a verification error";
  } catch (const std::exception &e) {
    EXPECT_NE(std::string(e.what()).find("pass 'test_break' produced invalid IR"), std::string::npos) << e.what();
  }
  // Without verifyEach the broken graph goes through.
  EXPECT_NO_THROW(passes::runPipeline(smallGraph(), "test_break", {false, false, false, nullptr}));
}

TEST(PassesManager, AutodiffDifferentiatesOutputZeroWrtFloatInputs) {
  auto g = std::make_unique<Graph>();
  Value *x = g->addInput({DType::F32, {3}}, "x");
  g->addInput({DType::I64, {3}}, "k");
  Value *w = g->addInput({DType::F32, {3}}, "w");
  g->outputs = {emit(*g, OpId::Sum, {emit(*g, OpId::Mul, {x, w})})};
  auto d = passes::runPipeline(std::move(g), "autodiff,simplify,cse,dce");
  // Inputs x, k, w and the cotangent of the loss; outputs the loss, d/dx and d/dw.
  ASSERT_EQ(d->inputs.size(), 4u);
  ASSERT_EQ(d->outputs.size(), 3u);
  float xs[3] = {1, 2, 3}, ws[3] = {4, 5, 6}, one = 1;
  int64_t ks[3] = {0, 0, 0};
  std::vector<ArrayRef> in = {{d->inputs[0]->type, xs}, {d->inputs[1]->type, ks}, {d->inputs[2]->type, ws},
                              {d->inputs[3]->type, &one}};
  auto out = interpret(*d, in);
  EXPECT_EQ(out[0].data<float>()[0], 32.0f);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[1].data<float>()[i], ws[i]);
    EXPECT_EQ(out[2].data<float>()[i], xs[i]);
  }
  Graph ints;
  ints.addInput({DType::I64, {3}}, "k");
  ints.outputs = {ints.inputs[0]};
  EXPECT_THROW(passes::autodiffAll(ints), ValueError);
}

// --- simplify + cse + dce preserve the interpreter's results on random graphs -------------

/// A random graph over f32[2,3] inputs, built to give the passes work: constant subtrees,
/// identities (x*1, x+0, neg neg, transpose pairs, reshape pairs), duplicated nodes.
std::unique_ptr<Graph> randomGraph(std::mt19937 &rng) {
  auto g = std::make_unique<Graph>();
  std::vector<Value *> pool = {g->addInput({DType::F32, {2, 3}}, "a"), g->addInput({DType::F32, {2, 3}}, "b"),
                               g->addInput({DType::F32, {2, 3}}, "c")};
  auto pick = [&] { return pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)]; };
  auto anyConst = [&]() -> Value * {
    switch (rng() % 4) {
    case 0: return cst(*g, 1.0);
    case 1: return cst(*g, 0.0, {3});
    case 2: return cst(*g, Attr(Attr::List{Attr(0.5), Attr(-1.25), Attr(2.0)}), {3});
    default: return emit(*g, OpId::Exp, {cst(*g, 0.3, {2, 3})});
    }
  };
  const OpId binary[] = {OpId::Add, OpId::Sub, OpId::Mul, OpId::Div, OpId::Maximum};
  for (int i = 0; i < 12; ++i) {
    Value *v = nullptr;
    switch (rng() % 7) {
    case 0: case 1: case 2: {
      Value *l = pick(), *r = rng() % 2 ? pick() : anyConst();
      if (rng() % 2) std::swap(l, r);
      if (l->def && l->def->op == "const" && r->def && r->def->op == "const") l = pick();
      v = emit(*g, binary[rng() % 5], {l, r});
      break;
    }
    case 3: v = emit(*g, OpId::Neg, {emit(*g, OpId::Neg, {pick()})}); break;
    case 4: v = emit(*g, OpId::Transpose, {emit(*g, OpId::Transpose, {pick()})}); break;
    case 5: {
      Value *r = emit(*g, OpId::Reshape, {pick()}, {{"shape", Attr::ints({3, 2})}});
      v = emit(*g, OpId::Reshape, {emit(*g, OpId::Reshape, {r}, {{"shape", Attr::ints({6})}})},
               {{"shape", Attr::ints({2, 3})}});
      break;
    }
    default: v = emit(*g, OpId::Tanh, {pick()}); break;
    }
    pool.push_back(v);
  }
  g->outputs = {pool.back(), pool[pool.size() - 2], pool[pool.size() - 5]};
  return g;
}

TEST(PassesRandom, SimplifyCseDcePreserveResults) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> u(-2, 2);
  int totalRemoved = 0;
  for (int trial = 0; trial < 40; ++trial) {
    auto g = randomGraph(rng);
    verify(*g);
    std::vector<std::vector<float>> data(3, std::vector<float>(6));
    std::vector<ArrayRef> in;
    for (int i = 0; i < 3; ++i) {
      for (float &f : data[size_t(i)]) f = u(rng);
      in.push_back({g->inputs[size_t(i)]->type, data[size_t(i)].data()});
    }
    auto before = interpret(*g, in);
    size_t nodesBefore = g->nodes.size();
    std::string text = print(*g);
    auto opt = passes::runPipeline(std::move(g), "simplify,cse,dce");
    totalRemoved += int(nodesBefore - opt->nodes.size());
    auto after = interpret(*opt, in);
    ASSERT_EQ(before.size(), after.size());
    for (size_t o = 0; o < before.size(); ++o) {
      ASSERT_EQ(before[o].type, after[o].type);
      for (int64_t i = 0; i < before[o].type.numel(); ++i) {
        float x = before[o].data<float>()[i], y = after[o].data<float>()[i];
        if (std::isnan(x) || std::isnan(y)) {
          EXPECT_TRUE(std::isnan(x) && std::isnan(y)) << text;
          continue;
        }
        EXPECT_TRUE(x == y || std::fabs(x - y) <= 1e-6 * std::max(1.0f, std::fabs(x))) << x << " vs " << y << "\n"
                                                                                     << text << print(*opt);
      }
    }
  }
  EXPECT_GT(totalRemoved, 40); // the passes did real work
}

} // namespace
