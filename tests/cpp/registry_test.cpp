// Walks the op registry and proves every op has an interpreter kernel and a codegen lowering:
// a table gives each op its smallest valid node per dtype, a test checks the table covers the
// registry, and each sample is interpreted and JIT-compiled (results compared). The one op
// without a lowering yet, `kernel`, is listed explicitly with its reason.
#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "runtime/Buffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

using namespace dt;
using ir::DType;
using ir::Type;

namespace {

/// A node's operand types and attributes; `values` fixes some operands' elements (in-range
/// indices), the others get sampleInput's.
struct Sample {
  std::vector<Type> operands;
  ir::AttrMap attrs;
  std::map<size_t, std::vector<int64_t>> values = {};
};
using SampleFn = std::function<Sample(DType)>;

std::string dtName(DType t) { return std::string(ir::dtypeName(t)); }

/// The smallest interesting node of each op, for a given dtype.
const std::map<std::string, SampleFn> &samples() {
  static const std::map<std::string, SampleFn> table = [] {
    std::map<std::string, SampleFn> m;
    auto unary = [](DType t) { return Sample{{{t, {3}}}, {}}; };
    auto binary = [](DType t) { return Sample{{{t, {2, 3}}, {t, {3}}}, {}}; };
    for (const char *op : {"neg", "exp", "log", "abs", "sqrt", "sigmoid", "tanh", "relu", "floor"}) m[op] = unary;
    for (const char *op : {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"})
      m[op] = binary;
    m["where"] = [](DType t) { return Sample{{{DType::Bool, {2, 1}}, {t, {3}}, {t, {}}}, {}}; };
    m["cast"] = [](DType t) { return Sample{{{t, {4}}}, {{"dtype", t == DType::F32 ? "i64" : "f32"}}}; };
    m["const"] = [](DType t) {
      return Sample{{}, {{"dtype", dtName(t)}, {"shape", ir::Attr::ints({2})}, {"value", ir::Attr::floats({1, 0})}}};
    };
    m["matmul"] = [](DType t) { return Sample{{{t, {2, 3}}, {t, {3, 2}}}, {}}; };
    for (const char *op : {"sum", "mean", "max", "min"})
      m[op] = [](DType t) { return Sample{{{t, {2, 3}}}, {{"axes", ir::Attr::ints({1})}}}; };
    m["argmax"] = [](DType t) { return Sample{{{t, {2, 3}}}, {{"axis", int64_t(1)}}}; };
    m["reshape"] = [](DType t) { return Sample{{{t, {2, 3}}}, {{"shape", ir::Attr::ints({3, 2})}}}; };
    m["transpose"] = [](DType t) { return Sample{{{t, {2, 3}}}, {}}; };
    m["permute"] = [](DType t) { return Sample{{{t, {2, 3, 1}}}, {{"dims", ir::Attr::ints({2, 0, 1})}}}; };
    m["broadcast_to"] = [](DType t) { return Sample{{{t, {3}}}, {{"shape", ir::Attr::ints({2, 3})}}}; };
    m["slice"] = [](DType t) {
      return Sample{{{t, {4, 3}}},
                    {{"starts", ir::Attr::ints({1, 0})}, {"ends", ir::Attr::ints({4, 3})}, {"steps", ir::Attr::ints({2, 1})}}};
    };
    m["pad"] = [](DType t) {
      return Sample{{{t, {2, 3}}},
                    {{"low", ir::Attr::ints({1, 0})}, {"high", ir::Attr::ints({0, 2})}, {"interior", ir::Attr::ints({0, 1})}}};
    };
    m["concat"] = [](DType t) { return Sample{{{t, {2, 3}}, {t, {1, 3}}, {t, {2, 3}}}, {{"axis", int64_t(0)}}}; };
    m["gather"] = [](DType t) {
      return Sample{{{t, {3, 2}}, {DType::I64, {2, 2}}}, {{"axis", int64_t(0)}}, {{1, {2, 0, 1, 1}}}};
    };
    m["scatter_add"] = [](DType t) {
      return Sample{{{t, {3, 2}}, {DType::I64, {2, 2}}, {t, {2, 2}}}, {{"axis", int64_t(0)}}, {{1, {2, 0, 2, 2}}}};
    };
    return m;
  }();
  return table;
}

/// Ops deliberately without a sample, each with the reason.
const std::map<std::string, std::string> kNotSampled = {
    {"kernel", "has no type rule of its own (its region gives its type): checked by "
               "KernelIsInterpretedAndLowered below and by fusion_test.cpp"}};

std::vector<DType> admitted(const ir::OpDef &def) {
  std::vector<DType> out;
  for (DType t : ir::kAllDTypes) {
    switch (def.dtypes) {
    case ir::DTypes::Numeric:
      if (t != DType::Bool) out.push_back(t);
      break;
    case ir::DTypes::Float:
      if (ir::isFloat(t)) out.push_back(t);
      break;
    case ir::DTypes::Any: out.push_back(t); break;
    }
  }
  return out;
}

/// Deterministic, small, in-domain inputs (positive floats so log/sqrt/pow are finite).
ir::HostArray sampleInput(const Type &t, int salt) {
  ir::HostArray a(t);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int v = int((i * 7 + salt * 3) % 5) + 1;
    switch (t.dtype) {
    case DType::F32: a.data<float>()[i] = float(v) * 0.5f; break;
    case DType::F64: a.data<double>()[i] = double(v) * 0.5; break;
    case DType::I64: a.data<int64_t>()[i] = v - 3; break;
    case DType::Bool: a.data<uint8_t>()[i] = uint8_t(v % 2); break;
    }
  }
  return a;
}

} // namespace

TEST(RegistryTable, CoversEveryOp) {
  std::set<std::string> registry;
  for (const ir::OpDef &def : ir::allOps()) {
    std::string name(def.name);
    registry.insert(name);
    bool sampled = samples().count(name) > 0, excused = kNotSampled.count(name) > 0;
    EXPECT_TRUE(sampled != excused) << "op '" << name << "' needs exactly one of: a sample in the registry test's table, "
                                    << "or an entry in kNotSampled with the reason";
  }
  for (auto &[name, fn] : samples()) EXPECT_TRUE(registry.count(name)) << "sample for unknown op '" << name << "'";
  for (auto &[name, why] : kNotSampled) EXPECT_TRUE(registry.count(name)) << "kNotSampled names unknown op '" << name << "'";
}

TEST(RegistryLowering, EveryOpHasAnInterpreterKernelAndACodegenLowering) {
  for (const ir::OpDef &def : ir::allOps()) {
    std::string name(def.name);
    auto it = samples().find(name);
    if (it == samples().end()) continue; // kNotSampled, checked above and below
    for (DType t : admitted(def)) {
      Sample s = it->second(t);
      SCOPED_TRACE(name + " on " + dtName(t));
      ir::Graph g;
      std::vector<ir::Value *> ins;
      for (const Type &ty : s.operands) ins.push_back(g.addInput(ty));
      Type rt;
      ASSERT_NO_THROW(rt = ir::inferType(def, s.operands, s.attrs));
      g.outputs.push_back(g.addNode(name, ins, s.attrs, rt)->result);

      std::vector<ir::HostArray> args;
      std::vector<ir::ArrayRef> refs;
      std::vector<std::shared_ptr<rt::Buffer>> bufs;
      for (size_t i = 0; i < s.operands.size(); ++i) {
        args.push_back(sampleInput(s.operands[i], int(i)));
        if (auto v = s.values.find(i); v != s.values.end()) {
          ASSERT_EQ(int64_t(v->second.size()), s.operands[i].numel());
          ASSERT_EQ(s.operands[i].dtype, DType::I64);
          std::memcpy(args.back().bytes.data(), v->second.data(), args.back().bytes.size());
        }
        auto b = rt::Buffer::allocate(args.back().bytes.size());
        std::memcpy(b->data(), args.back().bytes.data(), args.back().bytes.size());
        bufs.push_back(b);
      }
      for (const ir::HostArray &a : args) refs.push_back(a.ref());

      std::vector<ir::HostArray> want;
      ASSERT_NO_THROW(want = ir::interpret(g, refs)) << "interpreter lacks " << name;
      rt::Program p;
      ASSERT_NO_THROW(p = codegen::compile(g)) << "codegen lacks " << name;
      std::vector<std::shared_ptr<rt::Buffer>> got;
      ASSERT_NO_THROW(got = p.run(bufs));
      ASSERT_EQ(got.size(), 1u);
      ASSERT_EQ(got[0]->size(), want[0].bytes.size());
      for (int64_t i = 0; i < rt.numel(); ++i) {
        switch (rt.dtype) {
        case DType::F32:
          EXPECT_NEAR(static_cast<float *>(got[0]->data())[i], want[0].data<float>()[i], 1e-5) << i;
          break;
        case DType::F64:
          EXPECT_NEAR(static_cast<double *>(got[0]->data())[i], want[0].data<double>()[i], 1e-12) << i;
          break;
        case DType::I64: EXPECT_EQ(static_cast<int64_t *>(got[0]->data())[i], want[0].data<int64_t>()[i]) << i; break;
        case DType::Bool: EXPECT_EQ(static_cast<uint8_t *>(got[0]->data())[i], want[0].data<uint8_t>()[i]) << i; break;
        }
      }
    }
  }
}

TEST(RegistryLowering, KernelIsInterpretedAndLowered) {
  ASSERT_TRUE(kNotSampled.count("kernel"));
  ir::Graph g;
  ir::Value *x = g.addInput({DType::F32, {3}});
  ir::Node *k = g.addNode("kernel", {x}, {}, {DType::F32, {3}});
  k->callee = "fused_0";
  k->region = std::make_unique<ir::Graph>();
  k->region->name = "fused_0";
  ir::Value *rx = k->region->addInput({DType::F32, {3}}, x->name);
  k->region->outputs.push_back(k->region->addNode("neg", {rx}, {}, {DType::F32, {3}})->result);
  g.outputs.push_back(k->result);

  ir::HostArray a = sampleInput({DType::F32, {3}}, 0);
  std::vector<ir::ArrayRef> refs{a.ref()};
  auto r = ir::interpret(g, refs);
  EXPECT_EQ(r[0].data<float>()[0], -a.data<float>()[0]);

  rt::Program p;
  ASSERT_NO_THROW(p = codegen::compile(g));
  auto in = rt::Buffer::allocate(a.bytes.size());
  std::memcpy(in->data(), a.bytes.data(), a.bytes.size());
  std::vector<std::shared_ptr<rt::Buffer>> bufs{in};
  auto got = p.run(bufs);
  ASSERT_EQ(got.size(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(static_cast<float *>(got[0]->data())[i], -a.data<float>()[i]) << i;
}
