// Tests of frontend/: Array conversion and printing, GraphBuilder type errors, and compiled graphs
// checked against the reference interpreter through the C++ API.
#include "frontend/Array.h"
#include "frontend/GraphBuilder.h"
#include "ir/Error.h"
#include "ir/Text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>

using dt::Array;
using dt::GraphBuilder;
using dt::Var;
using dt::ir::DType;
using dt::ir::Shape;

namespace {

/// Deterministic values in [-1, 1) that differ element to element.
std::vector<double> wave(int64_t n, double phase) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = std::sin(0.37 * double(i) + phase);
  return v;
}

Array waveArray(DType dt, Shape shape, double phase) {
  return Array::fromValues(dt, shape, wave(dt::ir::numElements(shape), phase));
}

/// Runs `f`, expects it to throw E, and returns the message.
template <typename E, typename F> std::string messageOf(F &&f) {
  try {
    f();
  } catch (const E &e) {
    return e.what();
  } catch (const std::exception &e) {
    ADD_FAILURE() << "wrong exception type, message: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no exception";
  return "";
}

bool bitEqual(const Array &a, const Array &b) {
  return a.type == b.type && a.buffer->size() == b.buffer->size() &&
         std::memcmp(a.buffer->data(), b.buffer->data(), a.buffer->size()) == 0;
}

/// The MLP of DESIGN section 3.
struct Mlp {
  GraphBuilder gb{"mlp"};
  Var x = gb.input(DType::F32, {64, 784}, "x");
  Var w1 = gb.input(DType::F32, {784, 128}, "w1");
  Var b1 = gb.input(DType::F32, {128}, "b1");
  Var h = dt::relu(dt::matmul(x, w1) + b1);
  Var s = dt::sum(h, {1});
  Mlp() {
    gb.output(h);
    gb.output(s);
  }
};

} // namespace

// --- Array ------------------------------------------------------------------------------------

TEST(FrontendArray, FromValuesConvertsToDType) {
  Array f = Array::fromValues(DType::F32, {3}, {0.1, -2.5, 1e10});
  EXPECT_EQ(f.data<float>()[0], 0.1f);
  EXPECT_EQ(f.data<float>()[2], 1e10f);
  Array i = Array::fromValues(DType::I64, {4}, {2.7, -2.7, NAN, 1e30});
  EXPECT_EQ(i.toValues(), (std::vector<double>{2, -2, 0, 9223372036854775807.0}));
  EXPECT_EQ(i.data<int64_t>()[3], INT64_MAX);
  Array b = Array::fromValues(DType::Bool, {3}, {0, 2, NAN});
  EXPECT_EQ(b.data<uint8_t>()[0], 0);
  EXPECT_EQ(b.data<uint8_t>()[1], 1);
  EXPECT_EQ(b.data<uint8_t>()[2], 1);
  Array z = Array::zeros({DType::F64, {2, 0, 3}});
  EXPECT_EQ(z.buffer->size(), 0u);
  EXPECT_TRUE(z.toValues().empty());
}

TEST(FrontendArray, FromValuesSizeMismatch) {
  std::string msg = messageOf<dt::ValueError>([] { Array::fromValues(DType::F32, {2, 2}, {1, 2, 3}); });
  EXPECT_NE(msg.find("[2,2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 elements"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 3"), std::string::npos) << msg;
  messageOf<dt::ValueError>([] { Array::zeros({DType::F32, {2, -1}}); });
}

TEST(FrontendArray, Str) {
  EXPECT_EQ(Array::fromValues(DType::F32, {2, 2}, {1, 2, 3, 4}).str(), "f32[2,2] [[1, 2], [3, 4]]");
  EXPECT_EQ(Array::fromValues(DType::F32, {}, {2.5}).str(), "f32[] 2.5");
  EXPECT_EQ(Array::fromValues(DType::F64, {2}, {1.0 / 3, -1e-7}).str(), "f64[2] [0.333333, -1e-07]");
  EXPECT_EQ(Array::fromValues(DType::I64, {3}, {1, -2, 3e12}).str(), "i64[3] [1, -2, 3000000000000]");
  EXPECT_EQ(Array::fromValues(DType::Bool, {1, 2}, {1, 0}).str(), "bool[1,2] [[true, false]]");
  EXPECT_EQ(Array::zeros({DType::F32, {0}}).str(), "f32[0] []");
  EXPECT_EQ(Array::fromValues(DType::F32, {2}, {NAN, -INFINITY}).str(), "f32[2] [nan, -inf]");
  // Long arrays are summarised; short axes of a large array are not.
  std::vector<double> v(2000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  EXPECT_EQ(Array::fromValues(DType::F32, {2000}, v).str(), "f32[2000] [0, 1, 2, ..., 1997, 1998, 1999]");
  EXPECT_EQ(Array::fromValues(DType::F32, {2, 1000}, v).str(),
            "f32[2,1000] [[0, 1, 2, ..., 997, 998, 999], [1000, 1001, 1002, ..., 1997, 1998, 1999]]");
  EXPECT_EQ(Array{}.str(), "f32[] <no buffer>");
  EXPECT_THROW(Array{}.toValues(), dt::ValueError);
}

// --- GraphBuilder -----------------------------------------------------------------------------

TEST(FrontendBuilder, MlpPrintsAsDesigned) {
  Mlp m;
  auto g = m.gb.build();
  std::ostringstream os;
  os << *g;
  std::string text = os.str();
  for (const char *line : {"func @mlp(%x: f32[64,784], %w1: f32[784,128], %b1: f32[128]) -> (f32[64,128], f32[64])",
                           "matmul(%x, %w1) : f32[64,128]", "relu(", "sum(", "{axes=[1], keepdim=false} : f32[64]"})
    EXPECT_NE(text.find(line), std::string::npos) << "missing `" << line << "` in\n" << text;
  EXPECT_EQ(g->nodes.size(), 4u);
  EXPECT_EQ(g->outputs.size(), 2u);
  // The printed text is the contract: it parses back to the same graph.
  auto again = dt::ir::parse(text);
  EXPECT_TRUE(again->equals(*g)) << text;
}

TEST(FrontendBuilder, MlpCompiledMatchesInterpreter) {
  Mlp m;
  auto g = m.gb.build();
  Array x = waveArray(DType::F32, {64, 784}, 0.0), w1 = waveArray(DType::F32, {784, 128}, 1.0),
        b1 = waveArray(DType::F32, {128}, 2.0);
  dt::CompiledGraph f = dt::compile(*g);
  std::vector<Array> jit = f({x, w1, b1});
  std::vector<Array> ref = dt::interpret(*g, {x, w1, b1});
  ASSERT_EQ(jit.size(), 2u);
  ASSERT_EQ(ref.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(jit[i].type, g->outputs[i]->type);
    EXPECT_EQ(ref[i].type, g->outputs[i]->type);
  }
  // f32 accumulation (JIT) against double accumulation (interpreter): the tolerance scales with
  // the sum of |terms| of each dot product.
  const float *xs = x.data<float>(), *ws = w1.data<float>(), *bs = b1.data<float>();
  const float *hj = jit[0].data<float>(), *hr = ref[0].data<float>();
  std::vector<double> rowTol(64, 0.0);
  int bad = 0;
  for (int r = 0; r < 64; ++r) {
    for (int c = 0; c < 128; ++c) {
      double mag = std::fabs(bs[c]);
      for (int k = 0; k < 784; ++k) mag += std::fabs(double(xs[r * 784 + k]) * ws[k * 128 + c]);
      double tol = 4e-6 * mag + 1e-7;
      rowTol[r] += tol + 4e-6 * std::fabs(hr[r * 128 + c]);
      if (std::fabs(double(hj[r * 128 + c]) - hr[r * 128 + c]) > tol && bad++ < 5)
        ADD_FAILURE() << "h[" << r << "," << c << "]: jit " << hj[r * 128 + c] << " vs interpreter " << hr[r * 128 + c];
    }
  }
  for (int r = 0; r < 64; ++r)
    EXPECT_NEAR(jit[1].data<float>()[r], ref[1].data<float>()[r], rowTol[r]) << "row " << r;
  // The relu really cut something and the graph is not trivially zero.
  int zeros = 0;
  for (int i = 0; i < 64 * 128; ++i) zeros += hr[i] == 0.0f;
  EXPECT_GT(zeros, 100);
  EXPECT_LT(zeros, 64 * 128 - 100);
}

TEST(FrontendBuilder, ElementwiseBitExactWithInterpreter) {
  GraphBuilder gb("ew");
  Var x = gb.input(DType::F32, {3, 5}, "x");
  Var y = gb.input(DType::F32, {5}, "y");
  Var a = (x * 2.0 + y) / 3.0 - x;
  Var c = dt::where(dt::gt(x, y), dt::maximum(a, y), dt::minimum(-a, 1.5 - y));
  Var i = dt::cast(c * 100.0, DType::I64);
  gb.output(c);
  gb.output(i);
  gb.output(dt::transpose(dt::broadcastTo(y, {3, 5})));
  auto g = gb.build();
  Array xa = waveArray(DType::F32, {3, 5}, 0.3), ya = waveArray(DType::F32, {5}, 1.1);
  std::vector<Array> jit = dt::compile(*g)({xa, ya});
  std::vector<Array> ref = dt::interpret(*g, {xa, ya});
  ASSERT_EQ(jit.size(), 3u);
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(bitEqual(jit[k], ref[k])) << jit[k].str() << "\nvs\n" << ref[k].str();
  EXPECT_EQ(jit[1].type, (dt::ir::Type{DType::I64, {3, 5}}));
  EXPECT_EQ(jit[2].type, (dt::ir::Type{DType::F32, {5, 3}}));
  // A hand check of one element: x[0,0] = sin(0.3), y[0] = sin(1.1).
  float x0 = float(std::sin(0.3)), y0 = float(std::sin(1.1));
  float a0 = (x0 * 2.0f + y0) / 3.0f - x0;
  float c0 = x0 > y0 ? std::max(a0, y0) : std::min(-a0, 1.5f - y0);
  EXPECT_EQ(ref[0].data<float>()[0], c0);
}

TEST(FrontendBuilder, TypeErrorsNameOpAndOperands) {
  GraphBuilder gb("errs");
  Var a = gb.input(DType::F32, {3, 4}, "a");
  Var b = gb.input(DType::F32, {5}, "b");
  Var i = gb.input(DType::I64, {3, 4}, "i");
  size_t nodes = gb.graph().nodes.size();

  EXPECT_EQ(messageOf<dt::ValueError>([&] { a + b; }), "add: shapes f32[3,4] and f32[5] do not broadcast");
  std::string msg = messageOf<dt::TypeError>([&] { a * i; });
  EXPECT_EQ(msg.rfind("mul: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("f32[3,4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("i64[3,4]"), std::string::npos) << msg;
  msg = messageOf<dt::TypeError>([&] { dt::exp(i); });
  EXPECT_EQ(msg.rfind("exp: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("i64[3,4]"), std::string::npos) << msg;
  msg = messageOf<dt::ValueError>([&] { dt::matmul(a, a); });
  EXPECT_EQ(msg.rfind("matmul: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("4 columns"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 rows"), std::string::npos) << msg;
  msg = messageOf<dt::IndexError>([&] { dt::transpose(a, 0, 5); });
  EXPECT_EQ(msg.rfind("transpose: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("axis 5"), std::string::npos) << msg;
  msg = messageOf<dt::IndexError>([&] { dt::sum(a, {2}); });
  EXPECT_EQ(msg.rfind("sum: ", 0), 0u) << msg;
  msg = messageOf<dt::ValueError>([&] { dt::reshape(a, {5, 2}); });
  EXPECT_NE(msg.find("f32[3,4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[5,2]"), std::string::npos) << msg;
  msg = messageOf<dt::TypeError>([&] { dt::where(a, a, a); });
  EXPECT_NE(msg.find("bool"), std::string::npos) << msg;
  messageOf<dt::ValueError>([&] { gb.constant({1, 2, 3}, {2, 2}); });
  messageOf<dt::ValueError>([&] { gb.input(DType::F32, {2}, "a"); });
  // A failed op appends nothing.
  EXPECT_EQ(gb.graph().nodes.size(), nodes);

  GraphBuilder other("other");
  Var o = other.input(DType::F32, {3, 4}, "o");
  msg = messageOf<dt::ValueError>([&] { a + o; });
  EXPECT_NE(msg.find("different GraphBuilder"), std::string::npos) << msg;
  messageOf<dt::ValueError>([&] { gb.output(o); });
  messageOf<dt::ValueError>([&] { dt::relu(Var{}); });
}

TEST(FrontendBuilder, ScalarsTakeTheOperandDType) {
  GraphBuilder gb("scal");
  Var x = gb.input(DType::F64, {2}, "x");
  Var k = gb.input(DType::I64, {2}, "k");
  gb.output(2.0 - x * 3.0);
  gb.output(k + 5.0);
  auto g = gb.build();
  int consts = 0;
  for (auto &n : g->nodes) {
    if (n->op != "const") continue;
    ++consts;
    EXPECT_TRUE(n->result->type.shape.empty());
  }
  EXPECT_EQ(consts, 3);
  std::vector<Array> out = dt::interpret(
      *g, {Array::fromValues(DType::F64, {2}, {1, 2}), Array::fromValues(DType::I64, {2}, {-7, 40})});
  EXPECT_EQ(out[0].type, (dt::ir::Type{DType::F64, {2}}));
  EXPECT_EQ(out[0].toValues(), (std::vector<double>{-1, -4}));
  EXPECT_EQ(out[1].type, (dt::ir::Type{DType::I64, {2}}));
  EXPECT_EQ(out[1].toValues(), (std::vector<double>{-2, 45}));
}

TEST(FrontendBuilder, ReductionAttributes) {
  GraphBuilder gb("red");
  Var x = gb.input(DType::F32, {2, 3, 4}, "x");
  Var all = dt::sum(x);
  Var ax = dt::mean(x, {-1, 0}, true);
  Var kd = dt::max(x, {}, true);
  EXPECT_TRUE(all.value->def->attrs.empty());
  EXPECT_EQ(all.shape(), Shape{});
  EXPECT_EQ(ax.value->def->attrs.at("axes"), dt::ir::Attr::ints({-1, 0}));
  EXPECT_EQ(ax.value->def->attrs.at("keepdim"), dt::ir::Attr(true));
  EXPECT_EQ(ax.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(kd.value->def->attrs.count("axes"), 0u);
  EXPECT_EQ(kd.shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(dt::sum(x, {1}).value->def->attrs.at("keepdim"), dt::ir::Attr(false));
}

TEST(FrontendBuilder, BuildIsAVerifiedSnapshot) {
  GraphBuilder gb("snap");
  Var x = gb.input(DType::F32, {4}, "x");
  gb.output(dt::exp(x));
  auto first = gb.build();
  gb.output(dt::tanh(x));
  auto second = gb.build();
  EXPECT_EQ(first->nodes.size(), 1u);
  EXPECT_EQ(first->outputs.size(), 1u);
  EXPECT_EQ(second->nodes.size(), 2u);
  EXPECT_EQ(second->outputs.size(), 2u);
  EXPECT_NE(first->inputs[0], gb.graph().inputs[0]); // a copy, not the builder's graph
}

// --- CompiledGraph and interpret input checks ---------------------------------------------------

TEST(FrontendCompiled, InputChecks) {
  GraphBuilder gb("mlp");
  Var x = gb.input(DType::F32, {4, 8}, "x");
  Var w1 = gb.input(DType::F32, {8, 16}, "w1");
  gb.output(dt::relu(dt::matmul(x, w1)));
  auto g = gb.build();
  dt::CompiledGraph f = dt::compile(*g);
  Array xa = Array::zeros({DType::F32, {4, 8}}), wa = Array::zeros({DType::F32, {8, 16}});

  using Run = std::function<std::vector<Array>(const std::vector<Array> &)>;
  Run compiled = [&](const std::vector<Array> &in) { return f(in); };
  Run interp = [&](const std::vector<Array> &in) { return dt::interpret(*g, in); };
  for (auto &[who, run] : {std::pair<std::string, Run>{"compiled graph @mlp", compiled},
                           std::pair<std::string, Run>{"interpret @mlp", interp}}) {
    SCOPED_TRACE(who);
    EXPECT_EQ(messageOf<dt::ValueError>([&] { run({xa}); }),
              who + ": expects 2 inputs (%x: f32[4,8], %w1: f32[8,16]), got 1");
    EXPECT_EQ(messageOf<dt::ValueError>([&] { run({xa, Array::zeros({DType::F32, {8, 10}})}); }),
              who + ": input 1 (%w1) expects f32[8,16], got f32[8,10]");
    EXPECT_EQ(messageOf<dt::TypeError>([&] { run({Array::zeros({DType::F64, {4, 8}}), wa}); }),
              who + ": input 0 (%x) expects f32[4,8], got f64[4,8]");
    std::string msg = messageOf<dt::ValueError>([&] { run({xa, Array{{DType::F32, {8, 16}}, nullptr}}); });
    EXPECT_NE(msg.find("no buffer"), std::string::npos) << msg;
    // Correct inputs still work afterwards.
    std::vector<Array> out = run({xa, wa});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, (dt::ir::Type{DType::F32, {4, 16}}));
  }
}

TEST(FrontendCompiled, RejectsInvalidGraph) {
  auto g = dt::ir::parse("func @bad(%a: f32[3,4], %b: f32[5]) -> (f32[3,4]) {\n"
                         "  %0 = add(%a, %b) : f32[3,4]\n"
                         "  return %0\n"
                         "}\n");
  std::string msg = messageOf<dt::ValueError>([&] { dt::compile(*g); });
  EXPECT_NE(msg.find("do not broadcast"), std::string::npos) << msg;
  msg = messageOf<dt::ValueError>([&] { dt::interpret(*g, {}); });
  EXPECT_NE(msg.find("do not broadcast"), std::string::npos) << msg;
}
