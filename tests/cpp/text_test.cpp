// Tests of the IR text form (ir/Text.cpp): canonical printing, round trips of builder-made
// graphs, exact float/string/list attributes, source locations, parser error messages, and a
// mutation fuzzer proving the parser and verifier never fail other than with a user error.
#include "ir/Error.h"
#include "ir/Graph.h"
#include "ir/Ops.h"
#include "ir/Text.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace dt::ir;

namespace {

/// Appends `op(operands) {attrs}` with its inferred type, as the frontend's builder does.
Value *add(Graph &g, OpId id, std::vector<Value *> operands, AttrMap attrs = {}, std::string name = "") {
  std::vector<Type> types;
  for (Value *v : operands) types.push_back(v->type);
  const OpDef &def = opDef(id);
  Type t = inferType(def, types, attrs);
  return g.addNode(std::string(def.name), std::move(operands), std::move(attrs), t, std::move(name))->result;
}

Type f32(Shape s) { return {DType::F32, std::move(s)}; }

/// print -> parse -> print is byte-identical, and the parsed graph equals the original.
void expectRoundTrip(const Graph &g, bool checkEquals = true) {
  std::string text = print(g);
  std::unique_ptr<Graph> back;
  ASSERT_NO_THROW(back = parse(text)) << text;
  EXPECT_EQ(print(*back), text);
  if (checkEquals) {
    EXPECT_TRUE(back->equals(g)) << text;
  }
}

/// Parsing `text` throws dt::ValueError whose message is exactly `msg`.
void parseError(const std::string &text, const std::string &msg) {
  try {
    parse(text);
    ADD_FAILURE() << "no error for:\n" << text;
  } catch (const dt::ValueError &e) {
    EXPECT_EQ(std::string(e.what()), msg) << text;
  }
}

const char *kMlp = R"(func @mlp(%x: f32[64,784], %w1: f32[784,128], %b1: f32[128]) -> (f32[64,128], f32[64]) {
  %0 = matmul(%x, %w1) : f32[64,128]
  %1 = add(%0, %b1) : f32[64,128]
  %2 = relu(%1) : f32[64,128]
  %3 = sum(%2) {axes=[1], keepdim=false} : f32[64]
  return %2, %3
}
)";

const char *kKernel = R"(func @fused(%0: f32[64,128], %b1: f32[128]) -> (f32[64,128]) {
  %4 = kernel @fused_3(%0, %b1) : f32[64,128] {
    %a = add(%0, %b1) : f32[64,128]
    %r = relu(%a) : f32[64,128]
    yield %r
  }
  return %4
}
)";

} // namespace

// --- printing -----------------------------------------------------------------------------------

TEST(TextPrint, MlpFromBuilderMatchesTheDesignDoc) {
  Graph g;
  g.name = "mlp";
  Value *x = g.addInput(f32({64, 784}), "x");
  Value *w = g.addInput(f32({784, 128}), "w1");
  Value *b = g.addInput(f32({128}), "b1");
  Value *mm = add(g, OpId::MatMul, {x, w});
  Value *h = add(g, OpId::Add, {mm, b});
  Value *r = add(g, OpId::Relu, {h});
  Value *s = add(g, OpId::Sum, {r}, {{"axes", Attr::ints({1})}, {"keepdim", Attr(false)}});
  g.outputs = {r, s};
  EXPECT_EQ(print(g), kMlp);
  expectRoundTrip(g);
}

TEST(TextPrint, FloatsAreShortestAndAlwaysLookLikeFloats) {
  EXPECT_EQ(printAttr(Attr(0.1)), "0.1");
  EXPECT_EQ(printAttr(Attr(3.0)), "3.0");
  EXPECT_EQ(printAttr(Attr(-0.0)), "-0.0");
  EXPECT_EQ(printAttr(Attr(0.0)), "0.0");
  EXPECT_EQ(printAttr(Attr(1e-30)), "1e-30");
  EXPECT_EQ(printAttr(Attr(1e20)), "1e+20");
  EXPECT_EQ(printAttr(Attr(123456789012345678.0)), "123456789012345680.0");
  EXPECT_EQ(printAttr(Attr(std::numeric_limits<double>::infinity())), "inf");
  EXPECT_EQ(printAttr(Attr(-std::numeric_limits<double>::infinity())), "-inf");
  EXPECT_EQ(printAttr(Attr(std::numeric_limits<double>::quiet_NaN())), "nan");
  EXPECT_EQ(printAttr(Attr(std::numeric_limits<double>::denorm_min())), "5e-324");
  EXPECT_EQ(printAttr(Attr(int64_t(-3))), "-3");
  EXPECT_EQ(printAttr(Attr(std::numeric_limits<int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(printAttr(Attr(true)), "true");
  EXPECT_EQ(printAttr(Attr(Attr::List{})), "[]");
  EXPECT_EQ(printAttr(Attr(Attr::List{Attr(1), Attr(Attr::List{Attr(2.5), Attr("s")}), Attr(Attr::List{})})),
            "[1, [2.5, \"s\"], []]");
}

TEST(TextPrint, StringsEscapeQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(printAttr(Attr("plain")), "\"plain\"");
  EXPECT_EQ(printAttr(Attr("a\"b\\c\nd")), "\"a\\\"b\\\\c\\nd\"");
  EXPECT_EQ(printAttr(Attr(std::string("t\tr\rz\0\x7f", 7))), "\"t\\tr\\rz\\x00\\x7f\"");
  EXPECT_EQ(printAttr(Attr("h\xc3\xa9")), "\"h\xc3\xa9\""); // UTF-8 passes through
}

TEST(TextPrint, ZeroOperandsNoOutputsAndNodeLines) {
  Graph g;
  g.name = "k";
  Value *c = add(g, OpId::Const, {}, {{"value", Attr(1.5)}});
  EXPECT_EQ(printNode(*c->def), "%0 = const() {value=1.5} : f32[]");
  EXPECT_EQ(print(g), "func @k() -> () {\n  %0 = const() {value=1.5} : f32[]\n  return\n}\n");
  expectRoundTrip(g);
}

TEST(TextPrint, KernelNodeLineIsItsHeader) {
  auto g = parse(kKernel);
  EXPECT_EQ(printNode(*g->nodes[0]), "%4 = kernel @fused_3(%0, %b1) : f32[64,128]");
  EXPECT_EQ(print(*g), kKernel);
}

// --- round trips of builder-made graphs ---------------------------------------------------------

TEST(TextRoundTrip, EveryOpWithItsAttributes) {
  Graph g;
  g.name = "all_ops";
  Value *x = g.addInput(f32({2, 3}), "x");
  Value *y = g.addInput(f32({3}), "y");
  Value *i = g.addInput({DType::I64, {2, 3}}, "i");
  Value *c = g.addInput({DType::Bool, {2, 1}}, "c");
  std::vector<Value *> outs;
  for (OpId id : {OpId::Neg, OpId::Exp, OpId::Log, OpId::Abs, OpId::Sqrt, OpId::Sigmoid, OpId::Tanh, OpId::Relu,
                  OpId::Floor})
    outs.push_back(add(g, id, {x}));
  for (OpId id : {OpId::Add, OpId::Sub, OpId::Mul, OpId::Div, OpId::Pow, OpId::Maximum, OpId::Minimum, OpId::Eq,
                  OpId::Ne, OpId::Lt, OpId::Le, OpId::Gt, OpId::Ge})
    outs.push_back(add(g, id, {x, y}));
  outs.push_back(add(g, OpId::Where, {c, x, y}));
  outs.push_back(add(g, OpId::Cast, {i}, {{"dtype", Attr("f64")}}));
  outs.push_back(add(g, OpId::Const, {},
                     {{"dtype", Attr("i64")}, {"shape", Attr::ints({2})}, {"value", Attr::ints({-1, 2})}}));
  outs.push_back(add(g, OpId::MatMul, {x, add(g, OpId::Transpose, {x})}));
  outs.push_back(add(g, OpId::Sum, {i}, {{"axes", Attr::ints({-1})}, {"keepdim", Attr(true)}}));
  outs.push_back(add(g, OpId::Mean, {x}));
  outs.push_back(add(g, OpId::Max, {x}, {{"axes", Attr::ints({0, 1})}}));
  outs.push_back(add(g, OpId::Min, {i}, {{"keepdim", Attr(false)}}));
  outs.push_back(add(g, OpId::ArgMax, {x}, {{"axis", Attr(-1)}, {"keepdim", Attr(true)}}));
  outs.push_back(add(g, OpId::Slice, {x}, {{"starts", Attr::ints({0, 1})}, {"ends", Attr::ints({2, 3})},
                                           {"steps", Attr::ints({1, 2})}}));
  outs.push_back(add(g, OpId::Pad, {x}, {{"low", Attr::ints({1, 0})}, {"high", Attr::ints({0, 2})},
                                         {"interior", Attr::ints({0, 1})}}));
  outs.push_back(add(g, OpId::Concat, {x, x, x}, {{"axis", Attr(-1)}}));
  Value *idx = add(g, OpId::Const, {}, {{"dtype", Attr("i64")}, {"shape", Attr::ints({2, 2})}, {"value", Attr(0)}});
  outs.push_back(add(g, OpId::Gather, {x, idx}, {{"axis", Attr(1)}}));
  outs.push_back(add(g, OpId::ScatterAdd, {x, idx, x}, {{"axis", Attr(0)}}));
  outs.push_back(add(g, OpId::Reshape, {x}, {{"shape", Attr::ints({3, -1})}}));
  outs.push_back(add(g, OpId::Transpose, {x}, {{"dim0", Attr(0)}, {"dim1", Attr(-1)}}));
  outs.push_back(add(g, OpId::Permute, {x}, {{"dims", Attr::ints({1, 0})}}));
  outs.push_back(add(g, OpId::BroadcastTo, {y}, {{"shape", Attr::ints({4, 3})}}));
  g.outputs = outs;
  ASSERT_NO_THROW(verify(g));
  // Every op but kernel (tested below) appears.
  std::string text = print(g);
  for (const OpDef &d : allOps())
    if (d.id != OpId::Kernel) {
      EXPECT_NE(text.find(" = " + std::string(d.name) + "("), std::string::npos) << d.name;
    }
  expectRoundTrip(g);
  auto back = parse(text);
  EXPECT_NO_THROW(verify(*back));
}

TEST(TextOpFiles, EveryOpHasAnIrTestFile) {
  // tests/ir/ops/<op>.ir exists for every registered op, verifies, and uses that op.
  for (const OpDef &d : allOps()) {
    SCOPED_TRACE(std::string(d.name));
    std::string path = std::string(DT_SOURCE_DIR) + "/tests/ir/ops/" + std::string(d.name) + ".ir";
    std::ifstream in(path);
    ASSERT_TRUE(in) << "missing " << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::unique_ptr<Graph> g;
    ASSERT_NO_THROW(g = parse(ss.str()));
    ASSERT_NO_THROW(verify(*g));
    bool uses = false;
    for (const auto &n : g->nodes) uses |= n->op == d.name;
    EXPECT_TRUE(uses) << path << " has no " << d.name << " node";
  }
}

TEST(TextRoundTrip, ExactFloatAttributes) {
  // Parse does not verify, so any attribute can ride on a node here.
  Graph g;
  Value *x = g.addInput(f32({2}), "x");
  std::vector<double> vals = {0.1, 1e-30, -0.0, 3.0, 1e20, 1.0 / 3.0, std::numeric_limits<double>::denorm_min(),
                              std::numeric_limits<double>::max(), std::numeric_limits<double>::min(),
                              -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
  g.addNode("neg", {x}, {{"f", Attr::floats(vals)}, {"one", Attr(2.5e-7)}}, x->type);
  expectRoundTrip(g);
  auto back = parse(print(g));
  const Attr::List &l = back->nodes[0]->attrs.at("f").asList();
  ASSERT_EQ(l.size(), vals.size());
  for (size_t k = 0; k < vals.size(); ++k) {
    ASSERT_TRUE(l[k].isFloat()) << k;
    EXPECT_EQ(std::bit_cast<uint64_t>(l[k].asFloat()), std::bit_cast<uint64_t>(vals[k])) << k;
  }
}

TEST(TextRoundTrip, NanAndNegativeZeroKeepTheirBits) {
  Graph g;
  Value *x = g.addInput(f32({2}), "x");
  g.addNode("neg", {x},
            {{"n", Attr(std::numeric_limits<double>::quiet_NaN())},
             {"m", Attr(-std::numeric_limits<double>::quiet_NaN())},
             {"z", Attr(-0.0)}},
            x->type);
  std::string text = print(g);
  EXPECT_NE(text.find("{m=-nan, n=nan, z=-0.0}"), std::string::npos) << text;
  auto back = parse(text);
  EXPECT_EQ(print(*back), text);
  const AttrMap &a = back->nodes[0]->attrs;
  EXPECT_TRUE(std::isnan(a.at("n").asFloat()) && !std::signbit(a.at("n").asFloat()));
  EXPECT_TRUE(std::isnan(a.at("m").asFloat()) && std::signbit(a.at("m").asFloat()));
  EXPECT_TRUE(a.at("z").asFloat() == 0.0 && std::signbit(a.at("z").asFloat()));
}

TEST(TextRoundTrip, RandomDoublesReadBackBitForBit) {
  std::mt19937_64 rng(12345);
  for (int k = 0; k < 20000; ++k) {
    double d = std::bit_cast<double>(rng());
    if (std::isnan(d)) continue;
    std::string s = printAttr(Attr(d));
    auto g = parse("func @f() -> () {\n  %0 = const() {value=" + s + "} : f32[]\n  return\n}\n");
    const Attr &a = g->nodes[0]->attrs.at("value");
    ASSERT_TRUE(a.isFloat()) << s;
    ASSERT_EQ(std::bit_cast<uint64_t>(a.asFloat()), std::bit_cast<uint64_t>(d)) << s;
  }
}

TEST(TextRoundTrip, StringEscapesAndNestedLists) {
  Graph g;
  Value *x = g.addInput(f32({2}), "x");
  static const char kNasty[] = "q\"uo\\te\nline\ttab\rcr\0nul\x01\x1f\x7f end";
  const std::string nasty(kNasty, sizeof kNasty - 1);
  Attr nested(Attr::List{Attr(Attr::List{}), Attr(Attr::List{Attr(1), Attr(Attr::List{Attr(-2.5), Attr(true)})}),
                         Attr("x"), Attr(std::numeric_limits<int64_t>::max())});
  g.addNode("neg", {x}, {{"s", Attr(nasty)}, {"l", nested}, {"e", Attr("")}}, x->type);
  expectRoundTrip(g);
  auto back = parse(print(g));
  EXPECT_EQ(back->nodes[0]->attrs.at("s").asString(), nasty);
  EXPECT_EQ(back->nodes[0]->attrs.at("l"), nested);
}

TEST(TextRoundTrip, KernelRegionsFromTheBuilder) {
  Graph g;
  g.name = "fused";
  Value *a = g.addInput(f32({4, 3}), "a");
  Value *b = g.addInput(f32({3}), "b");
  Value *pre = add(g, OpId::Neg, {a});
  Node *k = g.addNode("kernel", {pre, b}, {}, f32({4}));
  k->callee = "fused_0";
  k->region = std::make_unique<Graph>();
  Graph &r = *k->region;
  r.name = "fused_0";
  Value *ra = r.addInput(pre->type, pre->name);
  Value *rb = r.addInput(b->type, b->name);
  Value *s = add(r, OpId::Mul, {ra, rb}, {}, "m");
  r.outputs = {add(r, OpId::Sum, {s}, {{"axes", Attr::ints({1})}}, "t")};
  Value *after = add(g, OpId::Exp, {k->result});
  g.outputs = {after, k->result};
  ASSERT_NO_THROW(verify(g));
  std::string text = print(g);
  EXPECT_EQ(text, "func @fused(%a: f32[4,3], %b: f32[3]) -> (f32[4], f32[4]) {\n"
                  "  %0 = neg(%a) : f32[4,3]\n"
                  "  %1 = kernel @fused_0(%0, %b) : f32[4] {\n"
                  "    %m = mul(%0, %b) : f32[4,3]\n"
                  "    %t = sum(%m) {axes=[1]} : f32[4]\n"
                  "    yield %t\n"
                  "  }\n"
                  "  %2 = exp(%1) : f32[4]\n"
                  "  return %2, %1\n"
                  "}\n");
  expectRoundTrip(g);
  auto back = parse(text);
  EXPECT_NO_THROW(verify(*back));
  const Node &kn = *back->nodes[1];
  ASSERT_TRUE(kn.region);
  EXPECT_EQ(kn.callee, "fused_0");
  ASSERT_EQ(kn.region->inputs.size(), 2u);
  EXPECT_EQ(kn.region->inputs[0]->name, "0");
  EXPECT_EQ(kn.region->inputs[1]->type, b->type);
  EXPECT_EQ(kn.region->outputs.size(), 1u);
  EXPECT_EQ(kn.region->outputs[0]->name, "t");
  EXPECT_EQ(kn.loc.line, 3);
  EXPECT_EQ(kn.region->nodes[0]->loc.line, 4);
  EXPECT_EQ(kn.region->nodes[0]->loc.col, 5);
}

TEST(TextRoundTrip, CloneThenPrintIsIdentical) {
  auto g = parse(kKernel);
  auto c = g->clone();
  EXPECT_EQ(print(*c), print(*g));
  EXPECT_TRUE(c->equals(*g));
}

// --- parsing ------------------------------------------------------------------------------------

TEST(TextParse, RecordsSourceLocationsOfResults) {
  auto g = parse(kMlp);
  ASSERT_EQ(g->nodes.size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(g->nodes[k]->loc.line, int(k) + 2);
    EXPECT_EQ(g->nodes[k]->loc.col, 3);
  }
  auto h = parse("func @f(%x: f32[]) -> (f32[]) {\n\t%y=neg(%x):f32[] return %y }");
  EXPECT_EQ(h->nodes[0]->loc.line, 2);
  EXPECT_EQ(h->nodes[0]->loc.col, 2);
}

TEST(TextParse, WhitespaceAndCommentsAreInsignificant) {
  auto g = parse(" // leading\nfunc@mlp(%x:f32[64,784],%w1:f32[784 ,128],%b1:f32[ 128 ])->(f32[64,128],f32[64]){"
                 "%0=matmul(%x,%w1):f32[64,128]//c\n%1=add(%0,%b1):f32[64,128] %2=relu(%1):f32[64,128]\r\n"
                 "%3=sum(%2){keepdim=false,axes=[1]}:f32[64]return %2,%3}//end");
  EXPECT_EQ(print(*g), kMlp);
}

TEST(TextParse, TypesAreTakenAsAnnotated) {
  // The parser does not infer: a wrong annotation survives parsing and the verifier reports it.
  auto g = parse("func @f(%x: f32[3]) -> (f64[7]) {\n  %0 = neg(%x) : f64[7]\n  return %0\n}\n");
  EXPECT_EQ(g->nodes[0]->result->type, (Type{DType::F64, {7}}));
  EXPECT_THROW(verify(*g), dt::TypeError);
}

TEST(TextParse, IntegersAndFloatsStayDistinct) {
  auto g = parse("func @f() -> () {\n  %0 = const() {value=[1, 1.0, -1, -1.0, 1e3, -9223372036854775808, "
                 "9223372036854775807, -inf, -nan]} : f32[9]\n  return\n}\n");
  const Attr::List &l = g->nodes[0]->attrs.at("value").asList();
  EXPECT_TRUE(l[0].isInt());
  EXPECT_TRUE(l[1].isFloat());
  EXPECT_EQ(l[2].asInt(), -1);
  EXPECT_TRUE(l[3].isFloat());
  EXPECT_EQ(l[4].asFloat(), 1000.0);
  EXPECT_EQ(l[5].asInt(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(l[6].asInt(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(l[7].asFloat(), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(l[8].asFloat()));
}

TEST(TextParse, ReadsHexEscapesInStrings) {
  auto g = parse("func @f(%x: f32[]) -> () {\n  %0 = neg(%x) {s=\"\\x41\\x00\\xfF\"} : f32[]\n  return\n}\n");
  EXPECT_EQ(g->nodes[0]->attrs.at("s").asString(), std::string("A\0\xff", 3));
}

// --- parse errors: position and message ----------------------------------------------------------

TEST(TextErrors, ExactMessages) {
  parseError("func @f(%x: f32[3], %y: f32[3]) -> (f32[3]) {\n  %0 = add(%x\n             %y) : f32[3]\n",
             "3:14: expected ',' or ')' after operand, found '%y'");
  parseError("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = addd(%x, %x) : f32[3]\n  return %0\n}\n",
             "2:8: unknown op 'addd'");
  parseError("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = neg(%x) : f32[3]\n  %1 = neg(%0) : f32[3]\n"
             "  return %q\n  %q = neg(%x) : f32[3]\n}\n",
             "4:10: value %q is used before it is defined (at 5:3)");
  parseError("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = add(%x, %q) : f32[3]\n  %q = neg(%x) : f32[3]\n"
             "  return %0\n}\n",
             "2:16: value %q is used before it is defined (at 3:3)");
  parseError("func @f(%x: f32[3]) -> (f32[3]) {\n  %1 = neg(%x) : f32[3]\n  %1 = neg(%x) : f32[3]\n"
             "  return %1\n}\n",
             "3:3: %1 is defined twice (first at 2:3)");
  parseError("func @f(%x: f16[3]) -> (f32[3]) {", "1:13: unknown dtype 'f16' (expected f32, f64, i64 or bool)");
  parseError("", "1:1: expected 'func' to start a function, found end of input");
  parseError("   \n  // only a comment", "2:20: expected 'func' to start a function, found end of input");
  parseError("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = neg(%x) : f32[3]\n  return %0\n",
             "4:1: expected ',' or '}' after the values of 'return', found end of input");
  parseError("func @f() -> () {\n  %0 = const() {value=\"abc} : f32[]\n",
             "2:23: unterminated string (a string must end with '\"' on the same line)");
  parseError("func @f() -> () {\n  %0 = const() {value=99999999999999999999} : f32[]\n",
             "2:23: integer 99999999999999999999 is out of range for i64");
  parseError("func @f() -> () {\n  %0 = const() {value=-9223372036854775809} : f32[]\n",
             "2:23: integer -9223372036854775809 is out of range for i64");
  parseError(std::string("func @f() -> () {\0}", 19), "1:18: unexpected character '\\x00'");
  parseError("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = kernel @k(%x) : f32[3] {\n    %1 = neg(%y) : f32[3]\n",
             "3:14: value %y is not defined");
  parseError("func @f(%x: f32[3], %y: f32[3]) -> (f32[3]) {\n  %0 = kernel @k(%x) : f32[3] {\n"
             "    %1 = add(%x, %y) : f32[3]\n    yield %1\n  }\n  return %0\n}\n",
             "3:18: value %y is not an operand of kernel @k (a kernel's region sees only the kernel's operands)");
  parseError("func @f(%x: f32[3]) -> (f32[4]) {\n  return %x\n}\n",
             "2:10: return value %x has type f32[3] but the signature declares f32[4]");
  parseError("func @f(%x: f32[3]) -> () {\n  return %x\n}\n",
             "2:3: return gives 1 value but the signature declares 0 results");
  parseError("func @f(%x: f32[2 x 3]) -> () {", "1:19: expected ',' or ']' in the shape, found 'x'");
  parseError("func @f(%x: f32[2^3]) -> () {", "1:18: unexpected character '^'");
  parseError("func @f(%x: f32[18446744073709551616]) -> () {",
             "1:17: dimension size 18446744073709551616 is too large");
  parseError("func @f(%x: f32) -> () {", "1:16: expected '[' and the shape after dtype f32 (a scalar is f32[]), found ')'");
  parseError("func f() -> () {", "1:6: expected a function name ('@name') after 'func', found 'f'");
  parseError("func @f(%x: f32[]) -> () {\n  %0 = kernel(%x) : f32[] {", "2:14: expected the kernel's symbol ('@name') after 'kernel', found '('");
  parseError("func @f() -> () {\n  %0 = const() {value=[1, 2} : f32[]", "2:28: expected ',' or ']' in the list, found '}'");
  parseError("func @f() -> () {\n  %0 = const() {value=1.5e999} : f32[]",
             "2:23: float 1.5e999 is out of range for f64 (write inf, or 0.0)");
  parseError("func @f() -> () {\n  %0 = const() {value=tru} : f32[]",
             "2:23: expected an attribute value (a number, true, false, a string or a list), found 'tru'");
  parseError("func @f() -> () {\n  return\n} extra", "3:3: expected end of input after the function's closing '}', found 'extra'");
  parseError("func @f(%) -> () {", "1:9: expected a value name after '%' (an identifier or a number), found ')'");
}

TEST(TextErrors, EveryPrefixOfValidTextFailsCleanly) {
  std::string text = kKernel;
  size_t lastBrace = text.rfind('}');
  for (size_t n = 0; n <= lastBrace; ++n) {
    SCOPED_TRACE(n);
    EXPECT_THROW(parse(text.substr(0, n)), dt::ValueError);
  }
  EXPECT_NO_THROW(parse(text.substr(0, lastBrace + 1)));
}

TEST(TextErrors, DeepNestingIsAnErrorNotAStackOverflow) {
  for (int depth : {64, 65, 100000}) {
    std::string v = std::string(size_t(depth), '[') + "1" + std::string(size_t(depth), ']');
    std::string text = "func @f() -> () {\n  %0 = const() {value=" + v + "} : f32[]\n  return\n}\n";
    if (depth <= 64) {
      EXPECT_NO_THROW(parse(text));
    } else {
      try {
        parse(text);
        ADD_FAILURE() << "depth " << depth;
      } catch (const dt::ValueError &e) {
        EXPECT_NE(std::string(e.what()).find("nested deeper than 64 levels"), std::string::npos) << e.what();
      }
    }
  }
  // Unclosed brackets only.
  EXPECT_THROW(parse("func @f() -> () {\n  %0 = const() {value=" + std::string(1000000, '[')), dt::ValueError);
  // Kernel regions nested in kernel regions.
  std::string nested = "func @f(%x: f32[]) -> () {\n";
  for (int k = 0; k < 5000; ++k) nested += "%k" + std::to_string(k) + " = kernel @k(%x) : f32[] {\n";
  try {
    parse(nested);
    ADD_FAILURE() << "nested regions parsed";
  } catch (const dt::ValueError &e) {
    EXPECT_NE(std::string(e.what()).find("kernel regions are nested deeper than"), std::string::npos) << e.what();
  }
}

TEST(TextErrors, HugeTypesAreRejected) {
  EXPECT_THROW(parse("func @f(%x: f32[4294967296,4294967296]) -> () {\n  return\n}\n"), dt::ValueError);
  EXPECT_THROW(parse("func @f(%x: f32[0,9223372036854775807,9223372036854775807]) -> () {\n  return\n}\n"),
               dt::ValueError);
  EXPECT_NO_THROW(parse("func @f(%x: f32[0,1000000000,1000000]) -> () {\n  return\n}\n"));
}

// --- fuzzing --------------------------------------------------------------------------------------

TEST(TextFuzz, MutatedTextParsesOrFailsWithAUserError) {
  const std::vector<std::string> seeds = {
      kMlp, kKernel,
      "func @c() -> (f64[3], bool[2], i64[2,2]) {\n"
      "  %a = const() {dtype=\"f64\", shape=[3], value=[0.1, -0.0, 1e-30]} : f64[3]\n"
      "  %b = const() {dtype=\"bool\", shape=[2], value=[true, false]} : bool[2]\n"
      "  %c = const() {dtype=\"i64\", shape=[2, 2], value=7} : i64[2,2]\n"
      "  %d = reshape(%c) {shape=[4]} : i64[4]\n"
      "  %e = permute(%c) {dims=[1, 0]} : i64[2,2]\n"
      "  %f = transpose(%e) {dim0=-2, dim1=-1} : i64[2,2]\n"
      "  %g = broadcast_to(%b) {shape=[3, 2]} : bool[3,2]\n"
      "  %h = where(%b, %a, %a) : f64[3]\n"
      "  %i = cast(%h) {dtype=\"f32\"} : f32[3]\n"
      "  %j = mean(%a) {axes=[0], keepdim=true} : f64[1]\n"
      "  %k = max(%d) : i64[]\n"
      "  return %a, %b, %f\n"
      "}\n"};
  // Bytes that make interesting tokens when inserted.
  static const char kAlphabet[] = "%@{}[](),:=-\">/\\.0123456789eaxfi \n\t\0\x80\xff";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);
  std::mt19937 rng(20240611);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text = seeds[size_t(iter) % seeds.size()];
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t pos = rng() % text.size();
      switch (rng() % 4) {
      case 0: text.erase(pos, 1 + rng() % 3); break;
      case 1: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      case 2: text[pos] = alphabet[rng() % alphabet.size()]; break;
      case 3: text[pos] = char(rng() & 0xff); break;
      }
    }
    SCOPED_TRACE(text);
    try {
      auto g = parse(text);
      verify(*g);
      // Whatever verifies prints canonically.
      std::string once = print(*g);
      auto again = parse(once);
      ASSERT_EQ(print(*again), once);
      ++parsed;
    } catch (const dt::ValueError &) {
      ++rejected;
    } catch (const dt::TypeError &) {
      ++rejected;
    } catch (const dt::IndexError &) {
      ++rejected;
    }
    // Anything else (std::logic_error from an assertion, bad_variant_access, ...) fails the test.
  }
  // The mutations exercise both outcomes.
  EXPECT_GT(parsed, 20);
  EXPECT_GT(rejected, 1000);
}

// A graph equals its parsed printout also with NaN attributes (NaN equals NaN as an attribute),
// and -0.0 and 0.0 are different attributes (they print differently and mean different consts).
TEST(TextRoundTrip, NaNAttributesEqualAndSignedZerosDiffer) {
  const char *text = R"(func @f() -> (f32[], f32[], f32[2]) {
  %a = const() {value=nan} : f32[]
  %b = const() {value=-0.0} : f32[]
  %c = const() {shape=[2], value=[nan, 1.0]} : f32[2]
  return %a, %b, %c
}
)";
  auto g = parse(text);
  auto back = parse(print(*g));
  EXPECT_TRUE(g->equals(*back)) << print(*g);
  EXPECT_TRUE(g->equals(*g->clone()));
  EXPECT_EQ(Attr(std::nan("")), Attr(-std::nan("")));
  EXPECT_NE(Attr(-0.0), Attr(0.0));
  EXPECT_NE(Attr(1.0), Attr(int64_t(1))); // a float and an int are different attributes
  EXPECT_EQ(Attr::floats({std::nan(""), 2.0}), Attr::floats({std::nan(""), 2.0}));
  auto zero = parse(std::string(text).replace(std::string(text).find("-0.0"), 4, "0.0"));
  EXPECT_FALSE(g->equals(*zero));
}
