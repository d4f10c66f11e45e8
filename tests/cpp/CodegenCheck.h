// Shared by the codegen tests (codegen_test.cpp, codegen_indexing_test.cpp): one-node graphs,
// running them through the interpreter and the JIT, random inputs by domain, and checkOp, which
// compares the two on the same inputs (exactly, in ulps, or within an accumulation bound).
#pragma once

#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"
#include "runtime/Buffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace dt::codegen_check {

using ir::DType;
using ir::HostArray;
using ir::OpId;
using ir::Shape;
using ir::Type;

constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();

// --- graphs and running them -----------------------------------------------------------------

/// A graph `result = op(inputs...) {attrs}` with the result type from the op's type rule.
inline std::unique_ptr<ir::Graph> oneNode(const std::string &op, const std::vector<Type> &ins, const ir::AttrMap &attrs = {}) {
  auto g = std::make_unique<ir::Graph>();
  g->name = "t";
  std::vector<ir::Value *> vs;
  for (const Type &t : ins) vs.push_back(g->addInput(t));
  const ir::OpDef *def = ir::findOp(op);
  EXPECT_NE(def, nullptr) << op;
  Type rt = ir::inferType(*def, ins, attrs);
  ir::Node *n = g->addNode(op, vs, attrs, rt);
  g->outputs.push_back(n->result);
  return g;
}

inline std::vector<HostArray> runInterpreter(const ir::Graph &g, const std::vector<HostArray> &ins) {
  std::vector<ir::ArrayRef> refs;
  for (const HostArray &a : ins) refs.push_back(a.ref());
  return ir::interpret(g, refs);
}

/// Compiles and runs g; inputs are copied into runtime buffers (or, with `misalign`, wrapped
/// at an address that is only element-aligned).
inline std::vector<HostArray> runJit(const ir::Graph &g, const std::vector<HostArray> &ins, bool misalign = false) {
  rt::Program p = codegen::compile(g);
  std::vector<std::shared_ptr<rt::Buffer>> bufs;
  for (const HostArray &a : ins) {
    if (misalign) {
      size_t esz = ir::dtypeSize(a.type.dtype);
      auto storage = std::make_shared<std::vector<unsigned char>>(a.bytes.size() + 64 + esz);
      uintptr_t base = reinterpret_cast<uintptr_t>(storage->data());
      size_t shift = (64 - base % 64) % 64 + esz; // 64-byte aligned + one element
      if (!a.bytes.empty()) std::memcpy(storage->data() + shift, a.bytes.data(), a.bytes.size());
      bufs.push_back(rt::Buffer::wrap(storage->data() + shift, a.bytes.size(), storage));
    } else {
      auto b = rt::Buffer::allocate(a.bytes.size());
      if (!a.bytes.empty()) std::memcpy(b->data(), a.bytes.data(), a.bytes.size());
      bufs.push_back(b);
    }
  }
  auto outs = p.run(bufs);
  std::vector<HostArray> res;
  for (size_t i = 0; i < outs.size(); ++i) {
    HostArray h(g.outputs[i]->type);
    EXPECT_EQ(outs[i]->size(), h.bytes.size());
    if (!h.bytes.empty()) std::memcpy(h.bytes.data(), outs[i]->data(), h.bytes.size());
    res.push_back(std::move(h));
  }
  return res;
}

// --- random inputs ---------------------------------------------------------------------------

enum class Domain {
  General,  ///< moderate values, small integers, wide magnitudes and special values
  Moderate, ///< finite values in [-2, 2] (accumulations)
  Positive, ///< mostly positive, some zeros, negatives and specials (log, sqrt)
  PowBase,  ///< pow's base: positive, plus negative integers-exponent cases via PowExp
  PowExp,
};

inline double specialValue(std::mt19937_64 &rng) {
  static const double s[] = {std::numeric_limits<double>::quiet_NaN(), INFINITY, -INFINITY, 0.0, -0.0, 1e-40, -1e-40,
                             3e38, -3e38, 88.5, -88.5, -103.5, 1.0, -1.0};
  return s[rng() % (sizeof s / sizeof s[0])];
}

inline double randomReal(std::mt19937_64 &rng, Domain d) {
  std::uniform_real_distribution<double> u(0, 1);
  double r = u(rng);
  switch (d) {
  case Domain::General:
    if (r < 0.05) return specialValue(rng);
    if (r < 0.25) return double(int(rng() % 5) - 2);
    if (r < 0.4) return (rng() % 2 ? 1 : -1) * std::exp(u(rng) * 40 - 20);
    return u(rng) * 10 - 5;
  case Domain::Moderate: return u(rng) * 4 - 2;
  case Domain::Positive:
    if (r < 0.05) return specialValue(rng);
    if (r < 0.1) return -u(rng) * 3;
    if (r < 0.3) return std::exp(u(rng) * 60 - 30);
    return u(rng) * 10;
  case Domain::PowBase:
    if (r < 0.05) return specialValue(rng);
    if (r < 0.2) return -u(rng) * 3;
    return u(rng) * 4;
  case Domain::PowExp:
    if (r < 0.05) return specialValue(rng);
    if (r < 0.3) return double(int(rng() % 7) - 3);
    return u(rng) * 6 - 3;
  }
  return 0;
}

inline HostArray randomArray(const Type &t, std::mt19937_64 &rng, Domain d) {
  HostArray a(t);
  int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
    case DType::F32: a.data<float>()[i] = float(randomReal(rng, d)); break;
    case DType::F64: a.data<double>()[i] = randomReal(rng, d); break;
    case DType::I64:
      // Mostly small, some anywhere in the range (wrap-around of add/mul/neg/abs/sum).
      a.data<int64_t>()[i] = d == Domain::Moderate || rng() % 4 ? int64_t(rng() % 201) - 100 : int64_t(rng());
      break;
    case DType::Bool: a.data<uint8_t>()[i] = uint8_t(rng() % 2); break;
    }
  }
  return a;
}

// --- comparison ------------------------------------------------------------------------------

inline int64_t orderedBits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i < 0 ? int64_t(INT32_MIN) - i : i;
}

/// Distance in units in the last place (denormals count as ulps too).
inline int64_t ulpDiff(float a, float b) { return std::llabs(orderedBits(a) - orderedBits(b)); }

enum class Cmp {
  Exact,       ///< identical values (NaN matches NaN; for f32/f64 +0 and -0 must match too)
  ValueEqual,  ///< == for numbers, NaN matches NaN (+0 == -0)
  Ulp,         ///< f32: <= 4 ulp or 1e-7 absolute; f64: 1e-12 relative
  Accumulated, ///< |jit - ref| <= tol[i] (scaled by the sum of |terms|)
};

template <typename T> bool sameFloat(T a, T b, Cmp cmp, double tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  switch (cmp) {
  case Cmp::Exact: return a == b && std::signbit(a) == std::signbit(b);
  case Cmp::ValueEqual: return a == b;
  case Cmp::Ulp:
    if (std::isinf(a) || std::isinf(b)) return a == b;
    if constexpr (std::is_same_v<T, float>) return ulpDiff(a, b) <= 4 || std::fabs(double(a) - double(b)) <= 1e-7;
    else return std::fabs(a - b) <= 1e-12 * std::fabs(b) || a == b;
  case Cmp::Accumulated:
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::fabs(double(a) - double(b)) <= tol;
  }
  return false;
}

/// Compares element by element; reports the first few mismatches with inputs' context.
inline void expectClose(const HostArray &jit, const HostArray &ref, Cmp cmp, const std::vector<double> &tol = {}) {
  ASSERT_EQ(jit.type, ref.type);
  int64_t n = ref.type.numel();
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 5; ++i) {
    bool ok = true;
    std::ostringstream got, want;
    got.precision(9);
    want.precision(9);
    double t = tol.empty() ? 0 : tol[size_t(i)];
    switch (ref.type.dtype) {
    case DType::F32: {
      float a = jit.data<float>()[i], b = ref.data<float>()[i];
      ok = sameFloat(a, b, cmp, t);
      got << a;
      want << b;
      if (!ok && cmp == Cmp::Ulp) got << " (" << ulpDiff(a, b) << " ulp)";
      break;
    }
    case DType::F64: {
      double a = jit.data<double>()[i], b = ref.data<double>()[i];
      ok = sameFloat(a, b, cmp, t);
      got << std::setprecision(17) << a;
      want << std::setprecision(17) << b;
      break;
    }
    case DType::I64:
      ok = jit.data<int64_t>()[i] == ref.data<int64_t>()[i];
      got << jit.data<int64_t>()[i];
      want << ref.data<int64_t>()[i];
      break;
    case DType::Bool:
      ok = jit.data<uint8_t>()[i] == ref.data<uint8_t>()[i];
      got << int(jit.data<uint8_t>()[i]);
      want << int(ref.data<uint8_t>()[i]);
      break;
    }
    if (!ok) {
      ++bad;
      ADD_FAILURE() << "element " << i << " of " << ref.type.str() << ": jit " << got.str() << ", interpreter "
                    << want.str() << (cmp == Cmp::Accumulated ? " (tolerance " + std::to_string(t) + ")" : "");
    }
  }
}

// --- one differential check ------------------------------------------------------------------

inline Domain domainOf(OpId op, size_t operand) {
  switch (op) {
  case OpId::Log:
  case OpId::Sqrt: return Domain::Positive;
  case OpId::Pow: return operand == 0 ? Domain::PowBase : Domain::PowExp;
  case OpId::Sum:
  case OpId::Mean:
  case OpId::MatMul: return Domain::Moderate;
  default: return Domain::General;
  }
}

inline Cmp cmpOf(OpId op) {
  switch (op) {
  case OpId::Exp:
  case OpId::Log:
  case OpId::Tanh:
  case OpId::Sigmoid: return Cmp::Ulp;
  case OpId::Sum:
  case OpId::Mean:
  case OpId::MatMul: return Cmp::Accumulated;
  case OpId::Max:
  case OpId::Min: return Cmp::ValueEqual; // which of +0/-0 a max/min keeps is not specified
  default: return Cmp::Exact;
  }
}

inline std::string describe(const std::string &op, const std::vector<Type> &ins, const ir::AttrMap &attrs, uint64_t seed) {
  std::ostringstream os;
  os << op << "(";
  for (size_t i = 0; i < ins.size(); ++i) os << (i ? ", " : "") << ins[i].str();
  os << ")";
  if (!attrs.empty()) {
    os << " {";
    for (auto &[k, v] : attrs) {
      os << k << "=";
      if (v.isInt()) os << v.asInt();
      else if (v.isBool()) os << (v.asBool() ? "true" : "false");
      else if (v.isString()) os << v.asString();
      else if (v.isFloat()) os << v.asFloat();
      else {
        os << "[";
        for (const ir::Attr &x : v.asList())
          os << (x.isInt() ? std::to_string(x.asInt()) : x.isBool() ? (x.asBool() ? "true" : "false") : std::to_string(x.asFloat())) << ",";
        os << "]";
      }
      os << " ";
    }
    os << "}";
  }
  os << " seed " << seed;
  return os.str();
}

/// Adjusts the random inputs before a check (e.g. in-range indices).
using FixArgs = std::function<void(std::vector<HostArray> &, std::mt19937_64 &)>;

/// Runs op on random inputs through the JIT and the interpreter and compares them.
inline void checkOp(const std::string &op, const std::vector<Type> &ins, const ir::AttrMap &attrs, uint64_t seed,
             bool misalign = false, const FixArgs &fix = {}) {
  SCOPED_TRACE(describe(op, ins, attrs, seed));
  const ir::OpDef *def = ir::findOp(op);
  ASSERT_NE(def, nullptr);
  auto g = oneNode(op, ins, attrs);
  std::mt19937_64 rng(seed);
  std::vector<HostArray> args;
  for (size_t i = 0; i < ins.size(); ++i) args.push_back(randomArray(ins[i], rng, domainOf(def->id, i)));
  if (fix) fix(args, rng);
  auto ref = runInterpreter(*g, args);
  auto jit = runJit(*g, args, misalign);
  ASSERT_EQ(jit.size(), 1u);
  Cmp cmp = cmpOf(def->id);
  DType rt = g->outputs[0]->type.dtype;
  if (cmp != Cmp::Accumulated || !ir::isFloat(rt)) {
    expectClose(jit[0], ref[0], cmp == Cmp::Accumulated ? Cmp::Exact : cmp);
    return;
  }
  // Accumulations: the JIT sums in the dtype in its own order, the interpreter in double. Bound
  // the difference by 2 n eps sum|terms| (the standard error bound), sum|terms| from the
  // interpreter on |inputs|.
  std::vector<HostArray> absArgs = args;
  for (HostArray &a : absArgs)
    for (int64_t i = 0; i < a.type.numel(); ++i) {
      if (a.type.dtype == DType::F32) a.data<float>()[i] = std::fabs(a.data<float>()[i]);
      else a.data<double>()[i] = std::fabs(a.data<double>()[i]);
    }
  auto absRef = runInterpreter(*g, absArgs);
  double terms = 1;
  if (def->id == OpId::MatMul) terms = double(ins[0].shape.back());
  else
    for (int64_t ax : ir::reduceAxes(*def, attrs, ins[0].rank())) terms *= double(ins[0].shape[size_t(ax)]);
  double eps = rt == DType::F32 ? 0x1p-24 : 0x1p-53;
  std::vector<double> tol;
  for (int64_t i = 0; i < absRef[0].type.numel(); ++i) {
    double s = rt == DType::F32 ? double(absRef[0].data<float>()[i]) : absRef[0].data<double>()[i];
    tol.push_back(2 * (terms + 2) * eps * s);
  }
  expectClose(jit[0], ref[0], Cmp::Accumulated, tol);
}

inline std::vector<DType> admitted(const ir::OpDef &def) {
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

inline std::vector<const ir::OpDef *> opsOfKind(ir::OpKind k) {
  std::vector<const ir::OpDef *> out;
  for (const ir::OpDef &d : ir::allOps())
    if (d.kind == k) out.push_back(&d);
  return out;
}

} // namespace dt::codegen_check
