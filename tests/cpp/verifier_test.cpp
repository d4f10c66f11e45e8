// Tests of the verifier (ir/Verifier.cpp): each invariant it checks, the exception type it
// throws, and the message format "[line:col: ]<node line>: <reason>".
#include "ir/Error.h"
#include "ir/Graph.h"
#include "ir/Ops.h"
#include "ir/Text.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

#include <string>

using namespace dt::ir;

namespace {

Type f32(Shape s) { return {DType::F32, std::move(s)}; }

Value *add(Graph &g, OpId id, std::vector<Value *> operands, AttrMap attrs = {}, std::string name = "") {
  std::vector<Type> types;
  for (Value *v : operands) types.push_back(v->type);
  const OpDef &def = opDef(id);
  Type t = inferType(def, types, attrs);
  return g.addNode(std::string(def.name), std::move(operands), std::move(attrs), t, std::move(name))->result;
}

/// verify(g) throws exactly `Ex` with message `msg`.
template <typename Ex> void expectVerifyError(const Graph &g, const std::string &msg) {
  try {
    verify(g);
    ADD_FAILURE() << "verified:\n" << print(g);
  } catch (const Ex &e) {
    EXPECT_EQ(std::string(e.what()), msg);
  } catch (const std::exception &e) {
    ADD_FAILURE() << "wrong exception type, message: " << e.what();
  }
}

/// Parses `text` (which must parse) and expects verify to throw `Ex` with `msg`.
template <typename Ex> void expectTextError(const std::string &text, const std::string &msg) {
  std::unique_ptr<Graph> g;
  ASSERT_NO_THROW(g = parse(text)) << text;
  expectVerifyError<Ex>(*g, msg);
}

std::string fn(const std::string &sig, const std::string &body) {
  return "func @f(" + sig + ") {\n" + body + "}\n";
}

} // namespace

TEST(Verifier, AcceptsValidGraphs) {
  auto g = parse(R"(func @mlp(%x: f32[64,784], %w1: f32[784,128], %b1: f32[128]) -> (f32[64,128], f32[64]) {
  %0 = matmul(%x, %w1) : f32[64,128]
  %1 = add(%0, %b1) : f32[64,128]
  %2 = relu(%1) : f32[64,128]
  %3 = sum(%2) {axes=[1], keepdim=false} : f32[64]
  %4 = kernel @fused_3(%0, %b1) : f32[64,128] {
    %a = add(%0, %b1) : f32[64,128]
    %r = relu(%a) : f32[64,128]
    yield %r
  }
  return %2, %3
}
)");
  EXPECT_NO_THROW(verify(*g));
  Graph empty;
  EXPECT_NO_THROW(verify(empty));
}

TEST(Verifier, MessagesCarryLocationAndNodeLine) {
  expectTextError<dt::ValueError>(fn("%1: f32[3,4], %2: f32[5]) -> (f32[3,4]", "  %3 = add(%1, %2) : f32[3,4]\n  return %3\n"),
                                  "2:3: %3 = add(%1, %2) : f32[3,4]: shapes f32[3,4] and f32[5] do not broadcast");
  expectTextError<dt::ValueError>(fn("%x: f32[3,4], %y: f32[4]) -> (f32[3]", "  %0 = add(%x, %y) : f32[3]\n  return %0\n"),
                                  "2:3: %0 = add(%x, %y) : f32[3]: result type f32[3] does not match the inferred f32[3,4]");
  expectTextError<dt::TypeError>(fn("%x: f32[3]) -> (f32[3]", "  %0 = lt(%x, %x) : f32[3]\n  return %0\n"),
                                 "2:3: %0 = lt(%x, %x) : f32[3]: result type f32[3] does not match the inferred bool[3]");
  // Built, not parsed: no location prefix.
  Graph g;
  Value *a = g.addInput(f32({3, 4}), "1");
  Value *b = g.addInput(f32({5}), "2");
  g.addNode("add", {a, b}, {}, f32({3, 4}), "3");
  expectVerifyError<dt::ValueError>(g, "%3 = add(%1, %2) : f32[3,4]: shapes f32[3,4] and f32[5] do not broadcast");
}

TEST(Verifier, KeepsTheExceptionTypeOfTheTypeRule) {
  expectTextError<dt::TypeError>(fn("%x: f32[3], %y: f64[3]) -> (f32[3]", "  %0 = add(%x, %y) : f32[3]\n  return %0\n"),
                                 "2:3: %0 = add(%x, %y) : f32[3]: add: dtypes f32 and f64 differ (insert a cast)");
  expectTextError<dt::IndexError>(fn("%x: f32[2,3]) -> (f32[2]", "  %0 = sum(%x) {axes=[2]} : f32[2]\n  return %0\n"),
                                  "2:3: %0 = sum(%x) {axes=[2]} : f32[2]: sum: axis 2 is out of range for a tensor of "
                                  "rank 2 (expected -2 to 1)");
  expectTextError<dt::ValueError>(fn("%x: f32[2]) -> (f32[2]", "  %0 = relu(%x) {alpha=\"x\"} : f32[2]\n  return %0\n"),
                                 "2:3: %0 = relu(%x) {alpha=\"x\"} : f32[2]: relu: unknown attribute 'alpha' (relu "
                                 "takes no attributes)");
}

TEST(Verifier, RegistryChecks) {
  auto msg = [](const std::string &body) -> std::string {
    auto g = parse(fn("%x: f32[2,3], %i: i64[2,3], %c: f32[2,3]) -> (", body + "  return\n"));
    try {
      verify(*g);
    } catch (const std::exception &e) {
      return e.what();
    }
    return "verified";
  };
  EXPECT_EQ(msg("  %0 = add(%x) : f32[2,3]\n"), "2:3: %0 = add(%x) : f32[2,3]: add takes 2 operands, got 1");
  EXPECT_EQ(msg("  %0 = reshape(%x) : f32[6]\n"),
            "2:3: %0 = reshape(%x) : f32[6]: reshape: missing attribute 'shape' (new shape; one entry may be -1)");
  EXPECT_EQ(msg("  %0 = sum(%x) {axes=1} : f32[2]\n"),
            "2:3: %0 = sum(%x) {axes=1} : f32[2]: sum: attribute 'axes' must be a list of ints");
  EXPECT_EQ(msg("  %0 = exp(%i) : i64[2,3]\n"), "2:3: %0 = exp(%i) : i64[2,3]: exp: operand has dtype i64, expected f32 or f64");
  EXPECT_EQ(msg("  %0 = where(%c, %x, %x) : f32[2,3]\n"),
            "2:3: %0 = where(%c, %x, %x) : f32[2,3]: where: condition has dtype f32, expected bool");
  EXPECT_EQ(msg("  %0 = matmul(%x, %x) : f32[2,3]\n"),
            "2:3: %0 = matmul(%x, %x) : f32[2,3]: matmul: lhs f32[2,3] has 3 columns but rhs f32[2,3] has 2 rows");
  EXPECT_EQ(msg("  %0 = reshape(%x) {shape=[4]} : f32[4]\n"),
            "2:3: %0 = reshape(%x) {shape=[4]} : f32[4]: reshape: cannot reshape f32[2,3] (6 elements) to [4] (4 elements)");
  EXPECT_EQ(msg("  %0 = permute(%x) {dims=[1, 1]} : f32[3,3]\n"),
            "2:3: %0 = permute(%x) {dims=[1, 1]} : f32[3,3]: permute: dims [1,1] is not a permutation");
  EXPECT_EQ(msg("  %0 = kernel @k(%x) {a=1} : f32[2,3] {\n    yield %x\n  }\n"),
            "2:3: %0 = kernel @k(%x) {a=1} : f32[2,3]: kernel: unknown attribute 'a' (kernel takes no attributes)");
}

TEST(Verifier, SsaNamesAndOutputs) {
  {
    // An operand defined by a later node.
    Graph g;
    Value *x = g.addInput(f32({2}), "x");
    Node *first = g.addNode("neg", {x}, {}, f32({2}), "a");
    Value *later = add(g, OpId::Neg, {x}, {}, "b");
    first->operands[0] = later;
    g.outputs = {first->result};
    expectVerifyError<dt::ValueError>(g, "%a = neg(%b) : f32[2]: operand %b is used before it is defined");
  }
  {
    // An operand from another graph.
    Graph other;
    Value *foreign = other.addInput(f32({2}), "z");
    Graph g;
    g.addNode("neg", {foreign}, {}, f32({2}), "a");
    expectVerifyError<dt::ValueError>(g, "%a = neg(%z) : f32[2]: operand %z is not defined in func @main");
  }
  {
    Graph other;
    Value *foreign = other.addInput(f32({2}), "z");
    Graph g;
    g.outputs = {foreign};
    expectVerifyError<dt::ValueError>(g, "func @main: return %z: the value is not defined in func @main");
  }
  {
    Graph g;
    Value *x = g.addInput(f32({2}), "x");
    g.addNode("neg", {x}, {}, f32({2}), "x");
    expectVerifyError<dt::ValueError>(g, "%x = neg(%x) : f32[2]: result %x is defined twice");
  }
  {
    Graph g;
    g.addInput(f32({2}), "x");
    g.addInput(f32({2}), "x");
    expectVerifyError<dt::ValueError>(g, "func @main: input %x is defined twice");
  }
  {
    Graph g;
    g.addInput(f32({2}), "has space");
    expectVerifyError<dt::ValueError>(
        g, "func @main: input has the invalid name '%has space' (expected an identifier or a number)");
  }
  {
    Graph g;
    g.name = "1bad";
    expectVerifyError<dt::ValueError>(g, "func @1bad: invalid function name '1bad' (expected an identifier)");
  }
  {
    Graph g;
    Value *x = g.addInput(f32({2}), "x");
    g.addNode("frobnicate", {x}, {}, f32({2}), "y");
    expectVerifyError<dt::ValueError>(g, "%y = frobnicate(%x) : f32[2]: unknown op 'frobnicate'");
  }
  {
    Graph g;
    g.addInput(Type{DType::F32, {-1, 2}}, "x");
    expectVerifyError<dt::ValueError>(g, "func @main: input %x: type f32[-1,2] has a negative size");
  }
}

TEST(Verifier, KernelRegions) {
  auto kernel = [](const std::string &region, const std::string &type = "f32[3]") {
    return "func @f(%x: f32[3], %y: f32[3]) -> (" + type + ") {\n  %k = kernel @fused_0(%x, %y) : " + type +
           " {\n" + region + "  }\n  return %k\n}\n";
  };
  EXPECT_NO_THROW(verify(*parse(kernel("    %a = add(%x, %y) : f32[3]\n    yield %a\n"))));
  // Inside the region, errors point at the inner line.
  expectTextError<dt::ValueError>(kernel("    %a = add(%x, %y) : f32[4]\n    yield %a\n", "f32[4]"),
                                  "3:5: %a = add(%x, %y) : f32[4]: result type f32[4] does not match the inferred f32[3]");
  expectTextError<dt::ValueError>(kernel("    %a = sum(%x) : f32[]\n    yield %a\n"),
                                  "2:3: %k = kernel @fused_0(%x, %y) : f32[3]: the region yields %a of type f32[] but "
                                  "the kernel's result type is f32[3]");
  expectTextError<dt::TypeError>(kernel("    %a = lt(%x, %y) : bool[3]\n    yield %a\n"),
                                 "2:3: %k = kernel @fused_0(%x, %y) : f32[3]: the region yields %a of type bool[3] but "
                                 "the kernel's result type is f32[3]");
  expectTextError<dt::ValueError>(kernel("    yield %x, %y\n"),
                                  "2:3: %k = kernel @fused_0(%x, %y) : f32[3]: the region yields 2 values, expected 1");
  expectTextError<dt::ValueError>(
      kernel("    %i = kernel @inner(%x) : f32[3] {\n      yield %x\n    }\n    yield %i\n"),
      "3:5: %i = kernel @inner(%x) : f32[3]: a kernel region may not contain another kernel (inside @fused_0)");
  expectTextError<dt::ValueError>(
      "func @f(%x: f32[3]) -> (f32[3]) {\n  %k = kernel @k(%x, %x) : f32[3] {\n    yield %x\n  }\n  return %k\n}\n",
      "2:3: %k = kernel @k(%x, %x) : f32[3]: operand %x is passed twice (kernel operands must be distinct)");

  // Built by hand: region inputs must mirror the operands.
  Graph g;
  Value *x = g.addInput(f32({3}), "x");
  Node *k = g.addNode("kernel", {x}, {}, f32({3}), "k");
  k->callee = "fused_0";
  expectVerifyError<dt::ValueError>(g, "%k = kernel @fused_0(%x) : f32[3]: kernel has no region");
  k->region = std::make_unique<Graph>();
  Value *in = k->region->addInput(f32({4}), "x");
  k->region->outputs = {in};
  expectVerifyError<dt::ValueError>(g, "%k = kernel @fused_0(%x) : f32[3]: region input 0 is %x: f32[4] but operand 0 "
                                       "is %x: f32[3] (they must match)");
  k->callee = "";
  expectVerifyError<dt::ValueError>(g, "%k = kernel @(%x) : f32[3]: kernel has the invalid symbol '@' (expected an identifier)");

  // Only kernels have regions.
  Graph h;
  Value *y = h.addInput(f32({3}), "y");
  Node *n = h.addNode("neg", {y}, {}, f32({3}), "n");
  n->region = std::make_unique<Graph>();
  expectVerifyError<dt::ValueError>(h, "%n = neg(%y) : f32[3]: only kernel nodes have a region, not neg");
}

TEST(Verifier, VerifiedGraphsRoundTripThroughText) {
  // What the verifier accepts, the printer can write and the parser read back identically.
  Graph g;
  g.name = "f.v2";
  Value *x = g.addInput(f32({2, 0}), "input.0");
  Value *s = add(g, OpId::Sum, {x}, {{"axes", Attr::ints({-1})}}, "_s");
  Value *c = add(g, OpId::Const, {}, {{"value", Attr(-0.0)}}, "007");
  g.outputs = {add(g, OpId::Add, {s, c}), s};
  ASSERT_NO_THROW(verify(g));
  auto back = parse(print(g));
  EXPECT_TRUE(back->equals(g));
  EXPECT_EQ(print(*back), print(g));
  EXPECT_NO_THROW(verify(*back));
}
