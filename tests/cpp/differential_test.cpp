// Differential testing: random valid graphs (ops drawn from the registry) run by the reference
// interpreter, the JIT as is, the JIT after the full pass pipeline, and eagerly through
// dt::apply; for f64 graphs, autodiff's gradients against central finite differences (and
// against eager backward()). DT_DIFF_SEED=N reruns one graph verbosely; DT_DIFF_COUNT and
// DT_DIFF_START choose the range of seeds (`make fuzz-long` runs many).
#include "CodegenCheck.h"

#include "frontend/Tensor.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/Dce.h"
#include "passes/PassManager.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <unordered_map>

namespace dt {
namespace {

using codegen_check::Domain;
using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::HostArray;
using ir::OpDef;
using ir::OpId;
using ir::OpKind;
using ir::Shape;
using ir::Type;
using ir::Value;

/// The full optimizing pipeline applied before the second compile.
constexpr const char *kPipeline = "simplify,cse,dce,fusion";

int64_t envInt(const char *name, int64_t def) {
  const char *s = std::getenv(name);
  return s && *s ? std::strtoll(s, nullptr, 10) : def;
}

// --- what the generator knows about each value ------------------------------------------------

struct ValInfo {
  /// Computed by a transcendental or a float accumulation (or from such a value): the JIT may
  /// differ from the interpreter by rounding, so discontinuous ops (floor, comparisons, casts to
  /// i64/bool, argmax, pow's exponent) never take it, and it is compared with a tolerance.
  bool inexact = false;
};

struct InputSpec {
  int64_t indexBound = -1; ///< >= 0: an i64 index input with values in [0, indexBound)
};

/// Whether `id` rounds differently in the JIT than in the interpreter (on float data).
bool roundsDifferently(OpId id) {
  switch (id) {
  case OpId::Exp: case OpId::Log: case OpId::Sqrt: case OpId::Sigmoid: case OpId::Tanh: case OpId::Pow:
  case OpId::Sum: case OpId::Mean: case OpId::MatMul:
    return true;
  case OpId::Neg: case OpId::Abs: case OpId::Relu: case OpId::Floor: case OpId::Add: case OpId::Sub:
  case OpId::Mul: case OpId::Div: case OpId::Maximum: case OpId::Minimum: case OpId::Eq: case OpId::Ne:
  case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge: case OpId::Where: case OpId::Cast:
  case OpId::Const: case OpId::Max: case OpId::Min: case OpId::ArgMax: case OpId::Reshape:
  case OpId::Transpose: case OpId::Permute: case OpId::BroadcastTo: case OpId::Slice: case OpId::Pad:
  case OpId::Concat: case OpId::Gather: case OpId::ScatterAdd: case OpId::Kernel:
    return false;
  }
  return true;
}

bool admits(const OpDef &def, DType t) {
  switch (def.dtypes) {
  case ir::DTypes::Numeric: return t != DType::Bool;
  case ir::DTypes::Float: return ir::isFloat(t);
  case ir::DTypes::Any: return true;
  }
  return false;
}

// --- the generator ------------------------------------------------------------------------------

class Generator {
public:
  /// `f64Only`: every float value is f64 (graphs whose gradients are checked).
  Generator(uint64_t seed, bool f64Only) : rng_(seed), f64Only_(f64Only) {}

  struct Result {
    std::unique_ptr<ir::Graph> graph;
    std::vector<InputSpec> inputs;
    std::unordered_map<const Value *, ValInfo> info;
    int rejected = 0; ///< candidate nodes the type rules refused (then another was drawn)
  };

  Result generate() {
    res_.graph = std::make_unique<ir::Graph>();
    res_.graph->name = "diff";
    g_ = res_.graph.get();
    // A base shape that inputs broadcast against: rank 0-3 (sometimes 4).
    int rank = pickWeighted({10, 25, 35, 25, 5});
    for (int i = 0; i < rank; ++i) base_.push_back(randDim());
    DType main = f64Only_ ? DType::F64 : pickDType();
    int nIn = 1 + int(rng_() % 3);
    for (int i = 0; i < nIn; ++i) newInput({rng_() % 5 ? main : pickDType(), variant(base_)});
    int nOps = 1 + int(rng_() % 8);
    for (int step = 0; step < nOps; ++step) {
      for (int attempt = 0; attempt < 12; ++attempt)
        if (addRandomNode()) break;
    }
    // Outputs: the last node and a few others (never an input: the passes do not care).
    std::vector<Value *> results;
    for (auto &n : g_->nodes) results.push_back(n->result);
    if (results.empty()) results.push_back(emitCast(g_->inputs[0], DType::F64));
    g_->outputs.push_back(results.back());
    int extra = int(rng_() % 3);
    for (int i = 0; i < extra; ++i) {
      Value *v = results[rng_() % results.size()];
      if (std::find(g_->outputs.begin(), g_->outputs.end(), v) == g_->outputs.end()) g_->outputs.push_back(v);
    }
    return std::move(res_);
  }

private:
  std::mt19937_64 rng_;
  bool f64Only_;
  Result res_;
  ir::Graph *g_ = nullptr;
  Shape base_;

  bool coin(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int pickWeighted(std::initializer_list<int> w) {
    int total = std::accumulate(w.begin(), w.end(), 0), r = int(rng_() % uint64_t(total)), i = 0;
    for (int x : w) {
      if (r < x) return i;
      r -= x;
      ++i;
    }
    return i - 1;
  }
  int64_t randDim() {
    static const int64_t dims[] = {0, 1, 1, 1, 2, 2, 3, 3, 4, 5};
    return coin(0.04) ? 0 : dims[1 + rng_() % 9];
  }
  DType pickDType() {
    if (f64Only_) return coin(0.8) ? DType::F64 : coin(0.5) ? DType::I64 : DType::Bool;
    return ir::kAllDTypes[pickWeighted({40, 25, 20, 15})];
  }
  /// A shape that broadcasts with `s`: some leading dims dropped, some dims set to 1 (or, where
  /// `s` has 1, to a new size), sometimes a new leading dim.
  Shape variant(const Shape &s) {
    Shape out(s.begin() + int64_t(rng_() % (s.size() + 1)) * coin(0.3), s.end());
    for (int64_t &d : out) {
      if (d == 1 && coin(0.3)) d = randDim();
      else if (coin(0.25)) d = 1;
    }
    if (out.size() < 4 && coin(0.1)) out.insert(out.begin(), 1 + int64_t(rng_() % 3));
    return out;
  }

  bool inexact(const Value *v) { return res_.info[v].inexact; }
  Value *newInput(Type t, int64_t indexBound = -1) {
    Value *v = g_->addInput(std::move(t));
    res_.inputs.push_back({indexBound});
    res_.info[v] = {};
    return v;
  }
  Value *addNode(const OpDef &def, std::vector<Value *> ops, AttrMap attrs, const Type &t) {
    bool inex = false;
    for (Value *o : ops) inex |= inexact(o) && ir::isFloat(o->type.dtype);
    inex = ir::isFloat(t.dtype) && (inex || roundsDifferently(def.id));
    ir::Node *n = g_->addNode(std::string(def.name), std::move(ops), std::move(attrs), t);
    res_.info[n->result] = {inex};
    return n->result;
  }
  /// op(ops) {attrs} when the type rule accepts it, else nullptr.
  Value *tryNode(const OpDef &def, std::vector<Value *> ops, AttrMap attrs) {
    std::vector<Type> types;
    for (Value *o : ops) types.push_back(o->type);
    try {
      Type t = ir::inferType(def, types, attrs);
      return addNode(def, std::move(ops), std::move(attrs), t);
    } catch (const ValueError &) {
    } catch (const TypeError &) {
    } catch (const IndexError &) {
    }
    ++res_.rejected;
    return nullptr;
  }
  Value *emitCast(Value *v, DType to) {
    if (v->type.dtype == to) return v;
    return tryNode(ir::opDef(OpId::Cast), {v}, {{"dtype", Attr(std::string(ir::dtypeName(to)))}});
  }

  /// A pool value (input or node result) satisfying `ok`, preferring recent ones; nullptr if none.
  template <typename P> Value *pick(P ok) {
    std::vector<Value *> c;
    for (Value *v : g_->inputs)
      if (ok(v)) c.push_back(v);
    for (auto &n : g_->nodes)
      if (ok(n->result)) c.push_back(n->result);
    if (c.empty()) return nullptr;
    if (c.size() > 3 && coin(0.6)) return c[c.size() - 1 - rng_() % 3];
    return c[rng_() % c.size()];
  }
  /// An operand of a dtype `def` admits: a pool value, or a cast of one. `exact`: only values
  /// the JIT computes exactly (for discontinuous ops). `minRank`: at least that rank.
  Value *operand(const OpDef &def, bool exact, int64_t minRank = 0) {
    auto fits = [&](Value *v) { return v->type.rank() >= minRank && !(exact && inexact(v)); };
    if (coin(0.85))
      if (Value *v = pick([&](Value *v) { return fits(v) && admits(def, v->type.dtype); })) return v;
    Value *v = pick(fits);
    if (!v) return newInput({allowedDType(def), minRank > int64_t(base_.size()) ? Shape(size_t(minRank), 2) : base_});
    if (admits(def, v->type.dtype)) return v;
    DType to = allowedDType(def);
    if (inexact(v) && !ir::isFloat(to)) return nullptr;
    return emitCast(v, to);
  }
  DType allowedDType(const OpDef &def) {
    for (int i = 0; i < 20; ++i) {
      DType t = pickDType();
      if (admits(def, t)) return t;
    }
    return DType::F64;
  }
  /// A second operand of dtype `dt` whose shape broadcasts with `s`.
  Value *partner(DType dt, const Shape &s, bool exact) {
    switch (pickWeighted({40, 30, 20})) {
    case 0:
      if (Value *v = pick([&](Value *v) {
            return v->type.dtype == dt && !(exact && inexact(v)) && ir::broadcastShapes(v->type.shape, s);
          }))
        return v;
      [[fallthrough]];
    case 1: return newInput({dt, variant(s)});
    default: return constant(dt, variant(s));
    }
  }
  Value *constant(DType dt, const Shape &s) {
    AttrMap a;
    a["dtype"] = Attr(std::string(ir::dtypeName(dt)));
    a["shape"] = Attr::ints(s);
    int64_t n = ir::numElements(s);
    auto one = [&]() -> Attr {
      static const double picks[] = {0, 1, -1, 0.5, 2, -3, 0.25};
      double x = coin(0.5) ? picks[rng_() % 7] : std::uniform_real_distribution<double>(-3, 3)(rng_);
      switch (dt) {
      case DType::F32:
      case DType::F64: return Attr(double(float(x)));
      case DType::I64: return Attr(int64_t(std::floor(x * 3)));
      case DType::Bool: return Attr(x > 0);
      }
      return Attr(0.0);
    };
    if (n > 1 && n <= 24 && coin(0.5)) {
      Attr::List l;
      for (int64_t i = 0; i < n; ++i) l.push_back(one());
      a["value"] = Attr(std::move(l));
    } else {
      a["value"] = one();
    }
    return tryNode(ir::opDef(OpId::Const), {}, std::move(a));
  }
  /// An i64 index of `shape` with values in [0, bound): an input, or sometimes a const.
  Value *index(const Shape &shape, int64_t bound) {
    int64_t n = ir::numElements(shape);
    if (n <= 12 && coin(0.25)) {
      Attr::List l;
      for (int64_t i = 0; i < n; ++i) l.push_back(Attr(int64_t(rng_() % uint64_t(std::max<int64_t>(bound, 1)))));
      return tryNode(ir::opDef(OpId::Const), {},
                     {{"dtype", Attr("i64")}, {"shape", Attr::ints(shape)}, {"value", n ? Attr(std::move(l)) : Attr(int64_t(0))}});
    }
    return newInput({DType::I64, shape}, bound);
  }
  /// The shape of a gather/scatter_add index into `x` along `ax`: 0-4 along the axis (0 when
  /// the axis is empty), at most x's dims elsewhere.
  Shape indexShape(const Shape &x, int64_t ax) {
    Shape is = x;
    for (size_t d = 0; d < is.size(); ++d) {
      if (int64_t(d) == ax) is[d] = int64_t(rng_() % 5);
      else if (coin(0.3)) is[d] = int64_t(rng_() % uint64_t(is[d] + 1));
    }
    if (x[size_t(ax)] == 0) is[size_t(ax)] = 0;
    return is;
  }
  std::vector<int64_t> randomAxes(int64_t rank) {
    std::vector<int64_t> axes;
    for (int64_t d = 0; d < rank; ++d)
      if (coin(0.5)) axes.push_back(coin(0.3) ? d - rank : d);
    std::shuffle(axes.begin(), axes.end(), rng_);
    return axes;
  }
  int64_t randomAxis(int64_t rank) {
    int64_t r = std::max<int64_t>(rank, 1);
    int64_t a = int64_t(rng_() % uint64_t(r));
    return coin(0.3) ? a - r : a;
  }

  /// One node of a random registry op, built from the pool. False when it did not type-check.
  bool addRandomNode() {
    auto ops = ir::allOps();
    const OpDef &def = ops[rng_() % ops.size()];
    if (f64Only_ && def.id == OpId::Cast) return addCast(def);
    switch (def.kind) {
    case OpKind::Unary: {
      Value *x = operand(def, def.id == OpId::Floor);
      return x && tryNode(def, {x}, {});
    }
    case OpKind::Binary: {
      Value *a = operand(def, false);
      if (!a) return false;
      Value *b = coin(0.1) ? a : partner(a->type.dtype, a->type.shape, def.id == OpId::Pow);
      if (!b) return false;
      if (def.id == OpId::Pow && inexact(b)) return false;
      return coin(0.5) ? tryNode(def, {a, b}, {}) != nullptr : tryNode(def, {b, a}, {}) != nullptr;
    }
    case OpKind::Compare: {
      Value *a = operand(def, true);
      if (!a) return false;
      Value *b = coin(0.1) ? a : partner(a->type.dtype, a->type.shape, true);
      return b && tryNode(def, {a, b}, {});
    }
    case OpKind::Where: {
      Value *c = pick([&](Value *v) { return v->type.dtype == DType::Bool; });
      if (!c) c = newInput({DType::Bool, variant(base_)});
      Value *a = operand(def, false);
      if (!a) return false;
      Value *b = partner(a->type.dtype, a->type.shape, false);
      return b && tryNode(def, {c, a, b}, {});
    }
    case OpKind::Cast: return addCast(def);
    case OpKind::Const: return constant(pickDType(), coin(0.5) ? Shape{} : variant(base_)) != nullptr;
    case OpKind::MatMul: {
      Value *a = operand(def, false, 2);
      if (!a) return false;
      const Shape &s = a->type.shape;
      int64_t k = s[s.size() - 1];
      Shape bs = {k, randDim()};
      Shape batch(s.begin(), s.end() - 2);
      Shape vb = variant(batch);
      bs.insert(bs.begin(), vb.begin(), vb.end());
      Value *b = pick([&](Value *v) {
        return v->type.dtype == a->type.dtype && v->type.rank() >= 2 && v->type.shape[size_t(v->type.rank() - 2)] == k;
      });
      if (!b || coin(0.5)) b = newInput({a->type.dtype, bs});
      return coin(0.85) ? tryNode(def, {a, b}, {}) != nullptr : tryNode(def, {b, a}, {}) != nullptr;
    }
    case OpKind::Reduce: {
      Value *x = operand(def, false);
      if (!x) return false;
      AttrMap a;
      if (coin(0.75)) a["axes"] = Attr::ints(randomAxes(x->type.rank()));
      if (coin(0.5)) a["keepdim"] = Attr(coin(0.5));
      return tryNode(def, {x}, a);
    }
    case OpKind::ArgReduce: {
      Value *x = operand(def, true);
      if (!x) return false;
      AttrMap a;
      if (coin(0.7)) a["axis"] = Attr(randomAxis(x->type.rank()));
      if (coin(0.5)) a["keepdim"] = Attr(coin(0.5));
      return tryNode(def, {x}, a);
    }
    case OpKind::Layout: return addLayout(def);
    case OpKind::Indexing: return addIndexing(def);
    case OpKind::Kernel: return false; // made by the fusion pass, not by users
    }
    return false;
  }

  bool addCast(const OpDef &def) {
    Value *x = pick([](Value *) { return true; });
    DType to = pickDType();
    if (f64Only_ && x->type.dtype == DType::F64 && !ir::isFloat(to) && inexact(x)) to = DType::F64;
    if (inexact(x) && !ir::isFloat(to)) to = f64Only_ ? DType::F64 : DType::F32;
    return tryNode(def, {x}, {{"dtype", Attr(std::string(ir::dtypeName(to)))}});
  }

  bool addLayout(const OpDef &def) {
    Value *x = operand(def, false);
    if (!x) return false;
    const Shape &s = x->type.shape;
    int64_t r = x->type.rank();
    switch (def.id) {
    case OpId::Reshape: {
      Shape t = s;
      switch (rng_() % 5) {
      case 0: t = {x->type.numel()}; break;
      case 1: t.insert(t.begin() + int64_t(rng_() % (t.size() + 1)), 1); break;
      case 2:
        if (r >= 2) {
          size_t i = rng_() % size_t(r - 1);
          t[i] *= t[i + 1];
          t.erase(t.begin() + int64_t(i) + 1);
        }
        break;
      case 3:
        for (size_t i = 0; i < t.size(); ++i)
          if (t[i] % 2 == 0 && t[i] > 0) {
            t[i] /= 2;
            t.insert(t.begin() + int64_t(i), 2);
            break;
          }
        break;
      default: t.erase(std::remove(t.begin(), t.end(), 1), t.end()); break;
      }
      if (!t.empty() && coin(0.3)) t[rng_() % t.size()] = -1;
      return tryNode(def, {x}, {{"shape", Attr::ints(t)}});
    }
    case OpId::Transpose: {
      AttrMap a;
      if (coin(0.6)) {
        a["dim0"] = Attr(randomAxis(r));
        a["dim1"] = Attr(randomAxis(r));
      }
      return tryNode(def, {x}, a);
    }
    case OpId::Permute: {
      std::vector<int64_t> p(static_cast<size_t>(r));
      std::iota(p.begin(), p.end(), 0);
      std::shuffle(p.begin(), p.end(), rng_);
      return tryNode(def, {x}, {{"dims", Attr::ints(p)}});
    }
    case OpId::BroadcastTo: {
      Shape t = s;
      for (int64_t &d : t)
        if (d == 1 && coin(0.6)) d = randDim();
      if (t.size() < 4 && coin(0.5)) t.insert(t.begin(), randDim());
      return tryNode(def, {x}, {{"shape", Attr::ints(t)}});
    }
    case OpId::Slice: {
      std::vector<int64_t> st, en, sp;
      for (int64_t d : s) {
        int64_t a = int64_t(rng_() % uint64_t(d + 1)), b = int64_t(rng_() % uint64_t(d + 1));
        if (coin(0.3)) a = 0, b = d;
        st.push_back(std::min(a, b));
        en.push_back(std::max(a, b));
        sp.push_back(coin(0.6) ? 1 : 1 + int64_t(rng_() % 3));
      }
      AttrMap a = {{"starts", Attr::ints(st)}, {"ends", Attr::ints(en)}};
      if (coin(0.7)) a["steps"] = Attr::ints(sp);
      return tryNode(def, {x}, a);
    }
    default: DT_ASSERT(false, def.name, " is not a layout op");
    }
    return false;
  }

  bool addIndexing(const OpDef &def) {
    switch (def.id) {
    case OpId::Pad: {
      Value *x = operand(def, false);
      if (!x) return false;
      std::vector<int64_t> lo, hi, in;
      for (int64_t i = 0; i < x->type.rank(); ++i) {
        lo.push_back(int64_t(rng_() % 3));
        hi.push_back(int64_t(rng_() % 3));
        in.push_back(int64_t(rng_() % 2));
      }
      AttrMap a = {{"low", Attr::ints(lo)}, {"high", Attr::ints(hi)}};
      if (coin(0.5)) a["interior"] = Attr::ints(in);
      return tryNode(def, {x}, a);
    }
    case OpId::Concat: {
      Value *x = operand(def, false, 1);
      if (!x) return false;
      int64_t r = x->type.rank(), axis = randomAxis(r), ax = axis < 0 ? axis + r : axis;
      std::vector<Value *> ops = {x};
      int more = int(rng_() % 3);
      for (int i = 0; i < more; ++i) {
        Value *o = pick([&](Value *v) {
          if (v->type.dtype != x->type.dtype || v->type.rank() != r) return false;
          for (int64_t d = 0; d < r; ++d)
            if (d != ax && v->type.shape[size_t(d)] != x->type.shape[size_t(d)]) return false;
          return true;
        });
        if (!o || coin(0.4)) {
          Shape s = x->type.shape;
          s[size_t(ax)] = coin(0.1) ? 0 : 1 + int64_t(rng_() % 3);
          o = newInput({x->type.dtype, s});
        }
        ops.push_back(o);
      }
      AttrMap a;
      if (axis != 0 || coin(0.5)) a["axis"] = Attr(axis);
      return tryNode(def, ops, a);
    }
    case OpId::Gather: {
      Value *x = operand(def, false, 1);
      if (!x) return false;
      int64_t r = x->type.rank(), axis = randomAxis(r), ax = axis < 0 ? axis + r : axis;
      Shape is = indexShape(x->type.shape, ax);
      int64_t bound = x->type.shape[size_t(ax)];
      Value *i = index(is, bound);
      return i && tryNode(def, {x, i}, {{"axis", Attr(axis)}});
    }
    case OpId::ScatterAdd: {
      Value *base = operand(def, false, 1);
      if (!base) return false;
      int64_t r = base->type.rank(), axis = randomAxis(r), ax = axis < 0 ? axis + r : axis;
      Shape is = indexShape(base->type.shape, ax);
      int64_t bound = base->type.shape[size_t(ax)];
      Shape ss = is;
      for (int64_t &d : ss)
        if (coin(0.3)) d += int64_t(rng_() % 2);
      Value *src = pick([&](Value *v) {
        if (v->type.dtype != base->type.dtype || v->type.rank() != r) return false;
        for (int64_t d = 0; d < r; ++d)
          if (v->type.shape[size_t(d)] < is[size_t(d)]) return false;
        return true;
      });
      if (!src || coin(0.5)) src = newInput({base->type.dtype, ss});
      Value *i = index(is, bound);
      return i && tryNode(def, {base, i, src}, {{"axis", Attr(axis)}});
    }
    default: DT_ASSERT(false, def.name, " is not an indexing op");
    }
    return false;
  }
};

// --- running a graph four ways -------------------------------------------------------------------

HostArray toHost(const Tensor &t) {
  Tensor c = t.contiguous();
  HostArray h(c.type());
  if (!h.bytes.empty()) std::memcpy(h.bytes.data(), c.data(), h.bytes.size());
  return h;
}

Tensor toTensor(const HostArray &h) {
  Tensor t = Tensor::empty(h.type.dtype, h.type.shape);
  if (!h.bytes.empty()) std::memcpy(t.data(), h.bytes.data(), h.bytes.size());
  return t;
}

/// Every value of `g` computed node by node with ir::evalNode (inputs first).
std::unordered_map<const Value *, HostArray> traceInterpreter(const ir::Graph &g, const std::vector<HostArray> &ins) {
  std::unordered_map<const Value *, HostArray> env;
  for (size_t i = 0; i < ins.size(); ++i) env[g.inputs[i]] = ins[i];
  for (auto &n : g.nodes) {
    std::vector<ir::ArrayRef> refs;
    for (Value *o : n->operands) refs.push_back(env.at(o).ref());
    env[n->result] = ir::evalNode(*n, refs);
  }
  return env;
}

/// Evaluates `g` node by node through dt::apply (views for layout ops, shape-generic kernels).
std::vector<Tensor> runEager(const ir::Graph &g, const std::vector<Tensor> &ins) {
  std::unordered_map<const Value *, Tensor> env;
  for (size_t i = 0; i < ins.size(); ++i) env[g.inputs[i]] = ins[i];
  for (auto &n : g.nodes) {
    std::vector<Tensor> xs;
    for (Value *o : n->operands) xs.push_back(env.at(o));
    env[n->result] = apply(ir::findOp(n->op)->id, xs, n->attrs);
  }
  std::vector<Tensor> outs;
  for (Value *v : g.outputs) outs.push_back(env.at(v));
  return outs;
}

/// The largest finite |element| of the float values of a trace: the scale of rounding errors.
double magnitude(const std::unordered_map<const Value *, HostArray> &env) {
  double m = 1;
  for (auto &[v, a] : env)
    for (int64_t i = 0; i < a.type.numel(); ++i) {
      double x = a.type.dtype == DType::F32 ? double(a.data<float>()[i])
                 : a.type.dtype == DType::F64 ? a.data<double>()[i] : 0;
      if (std::isfinite(x)) m = std::max(m, std::fabs(x));
    }
  return m;
}

/// The first mismatch between `got` and `want`, or "" when they agree: exact values (NaN equal
/// to NaN, +0 equal to -0) unless `inexact`, then within rtol * (|want| + scale).
std::string compare(const HostArray &got, const HostArray &want, bool inexact, double scale) {
  if (got.type != want.type) return "type " + got.type.str() + ", expected " + want.type.str();
  for (int64_t i = 0; i < want.type.numel(); ++i) {
    double a, b;
    switch (want.type.dtype) {
    case DType::F32: a = got.data<float>()[i], b = want.data<float>()[i]; break;
    case DType::F64: a = got.data<double>()[i], b = want.data<double>()[i]; break;
    case DType::I64:
      if (got.data<int64_t>()[i] != want.data<int64_t>()[i])
        return "element " + std::to_string(i) + ": " + std::to_string(got.data<int64_t>()[i]) + ", expected " +
               std::to_string(want.data<int64_t>()[i]);
      continue;
    case DType::Bool:
      if (got.data<uint8_t>()[i] != want.data<uint8_t>()[i])
        return "element " + std::to_string(i) + ": " + std::to_string(got.data<uint8_t>()[i]) + ", expected " +
               std::to_string(want.data<uint8_t>()[i]);
      continue;
    }
    bool ok;
    if (std::isnan(a) || std::isnan(b)) ok = std::isnan(a) && std::isnan(b);
    else if (!inexact || std::isinf(a) || std::isinf(b)) ok = a == b;
    else ok = std::fabs(a - b) <= (want.type.dtype == DType::F32 ? 1e-3 : 1e-9) * (std::fabs(b) + scale);
    if (!ok) {
      std::ostringstream os;
      os.precision(17);
      os << "element " << i << ": " << a << ", expected " << b << (inexact ? " (with tolerance)" : " (exactly)");
      return os.str();
    }
  }
  return "";
}

std::vector<HostArray> runJitOn(const ir::Graph &g, const std::vector<HostArray> &ins) {
  return codegen_check::runJit(g, ins);
}

HostArray randomInput(const Type &t, const InputSpec &spec, std::mt19937_64 &rng, Domain d, bool gradDomain) {
  if (spec.indexBound >= 0) {
    HostArray a(t);
    for (int64_t i = 0; i < t.numel(); ++i) a.data<int64_t>()[i] = int64_t(rng() % uint64_t(std::max<int64_t>(spec.indexBound, 1)));
    return a;
  }
  if (gradDomain && t.dtype == DType::F64) {
    // General position away from kinks: |x| in [0.3, 1.5], a third of them negative.
    HostArray a(t);
    std::uniform_real_distribution<double> u(0.3, 1.5);
    for (int64_t i = 0; i < t.numel(); ++i) a.data<double>()[i] = (rng() % 3 ? 1 : -1) * u(rng);
    return a;
  }
  return codegen_check::randomArray(t, rng, d);
}

/// The same graph keeping only output `k` (and what it needs): the smallest graph to report.
std::string reduced(const ir::Graph &g, size_t k) {
  auto c = g.clone();
  c->outputs = {c->outputs[k]};
  passes::dce(*c);
  return ir::print(*c);
}

struct Figures {
  int64_t graphs = 0, nodes = 0, rejected = 0, gradGraphs = 0, gradSkipped = 0, failures = 0;
  std::map<std::string, int64_t> opCounts;
  /// Seconds spent in each way of running (what a run's time goes to).
  double secsJit = 0, secsPipeline = 0, secsEager = 0, secsGrad = 0;
};

/// Adds the seconds since construction to `acc` when destroyed.
struct Stopwatch {
  double &acc;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  explicit Stopwatch(double &a) : acc(a) {}
  ~Stopwatch() { acc += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

/// Runs one seed. Returns "" when every way agrees, else what differed (with the seed's graph).
std::string checkSeed(uint64_t seed, Figures &fig, bool verbose) {
  bool gradMode = seed % 4 == 0;
  Generator gen(seed, gradMode);
  Generator::Result r = gen.generate();
  const ir::Graph &g = *r.graph;
  fig.graphs++;
  fig.nodes += int64_t(g.nodes.size());
  fig.rejected += r.rejected;
  for (auto &n : g.nodes) fig.opCounts[n->op]++;
  std::string text = ir::print(g);
  if (verbose) std::cout << "seed " << seed << (gradMode ? " (f64, gradients)" : "") << ":\n" << text;
  auto fail = [&](const std::string &what) {
    return "seed " + std::to_string(seed) + ": " + what + "\n--- graph (DT_DIFF_SEED=" + std::to_string(seed) +
           " ./dt_tests --gtest_filter='Differential.*' reproduces) ---\n" + text;
  };
  try {
    ir::verify(g);
  } catch (const std::exception &e) {
    return fail(std::string("the generator made an invalid graph: ") + e.what());
  }

  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  Domain domain = rng() % 5 == 0 ? Domain::General : Domain::Moderate;
  std::vector<HostArray> ins;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    ins.push_back(randomInput(g.inputs[i]->type, r.inputs[i], rng, domain, gradMode));

  // The reference: node by node (keeping every value, for the scale) and ir::interpret itself.
  std::unordered_map<const Value *, HostArray> env;
  std::vector<HostArray> ref;
  try {
    env = traceInterpreter(g, ins);
    ref = codegen_check::runInterpreter(g, ins);
  } catch (const std::exception &e) {
    return fail(std::string("the interpreter threw: ") + e.what());
  }
  double scale = magnitude(env);
  auto check = [&](const std::string &way, const ir::Graph &h, const std::vector<HostArray> &got) -> std::string {
    if (got.size() != ref.size()) return way + ": " + std::to_string(got.size()) + " outputs, expected " + std::to_string(ref.size());
    for (size_t k = 0; k < ref.size(); ++k) {
      bool inexact = r.info[g.outputs[k]].inexact;
      std::string d = compare(got[k], ref[k], inexact, scale);
      if (!env.count(g.outputs[k]) || !(compare(env.at(g.outputs[k]), ref[k], false, 0).empty()))
        return way + ": ir::interpret and evalNode differ on output " + std::to_string(k);
      if (!d.empty()) {
        std::string msg = way + ": output " + std::to_string(k) + " " + d + "\n--- smallest graph ---\n" + reduced(g, k);
        if (&h != &g) msg += "--- " + way + " graph ---\n" + ir::print(h);
        return msg;
      }
    }
    return "";
  };

  // (a) the JIT on the graph as is.
  try {
    Stopwatch sw(fig.secsJit);
    if (std::string d = check("jit", g, runJitOn(g, ins)); !d.empty()) return fail(d);
  } catch (const std::exception &e) {
    return fail(std::string("jit threw: ") + e.what());
  }
  // (b) the JIT after the pipeline.
  std::unique_ptr<ir::Graph> opt;
  Stopwatch swPipeline(fig.secsPipeline);
  try {
    opt = passes::runPipeline(g.clone(), kPipeline);
  } catch (const std::exception &e) {
    return fail(std::string("the pipeline threw: ") + e.what());
  }
  try {
    if (std::string d = check("pipeline+jit", *opt, runJitOn(*opt, ins)); !d.empty()) return fail(d);
  } catch (const std::exception &e) {
    return fail(std::string("pipeline+jit threw: ") + e.what() + "\n" + ir::print(*opt));
  }
  // (c) eager, node by node.
  std::vector<Tensor> eagerIns;
  for (const HostArray &a : ins) eagerIns.push_back(toTensor(a));
  try {
    Stopwatch sw(fig.secsEager);
    NoGradGuard noGrad;
    std::vector<Tensor> outs = runEager(g, eagerIns);
    std::vector<HostArray> got;
    for (const Tensor &t : outs) got.push_back(toHost(t));
    if (std::string d = check("eager", g, got); !d.empty()) return fail(d);
  } catch (const std::exception &e) {
    return fail(std::string("eager threw: ") + e.what());
  }
  if (!gradMode) return "";

  // (d) gradients of L = sum_k <cot_k, out_k> over the f64 outputs w.r.t. the f64 inputs.
  passes::GradSpec spec;
  for (size_t k = 0; k < g.outputs.size(); ++k)
    if (g.outputs[k]->type.dtype == DType::F64) spec.outputs.push_back(int(k));
  int64_t wrtElems = 0;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (g.inputs[i]->type.dtype == DType::F64) {
      spec.wrt.push_back(int(i));
      wrtElems += g.inputs[i]->type.numel();
    }
  bool finite = true;
  for (int k : spec.outputs)
    for (int64_t i = 0; i < ref[size_t(k)].type.numel(); ++i) finite &= std::isfinite(ref[size_t(k)].data<double>()[i]);
  if (spec.outputs.empty() || spec.wrt.empty() || !finite || wrtElems > 64 || scale > 1e6) {
    fig.gradSkipped++;
    return "";
  }
  fig.gradGraphs++;
  Stopwatch swGrad(fig.secsGrad);
  std::vector<HostArray> cots;
  for (int k : spec.outputs) {
    HostArray c(g.outputs[size_t(k)]->type);
    for (int64_t i = 0; i < c.type.numel(); ++i) c.data<double>()[i] = std::uniform_real_distribution<double>(-1, 1)(rng);
    cots.push_back(std::move(c));
  }
  auto loss = [&](const std::vector<HostArray> &xs) {
    std::vector<HostArray> outs = codegen_check::runInterpreter(g, xs);
    double l = 0;
    for (size_t j = 0; j < spec.outputs.size(); ++j)
      for (int64_t i = 0; i < cots[j].type.numel(); ++i)
        l += cots[j].data<double>()[i] * outs[size_t(spec.outputs[j])].data<double>()[i];
    return l;
  };
  std::unique_ptr<ir::Graph> dg;
  std::vector<HostArray> adIns = ins, adRef, adJit;
  for (const HostArray &c : cots) adIns.push_back(c);
  try {
    dg = passes::autodiff(g, spec);
    ir::verify(*dg);
    adRef = codegen_check::runInterpreter(*dg, adIns);
    auto dopt = passes::runPipeline(dg->clone(), kPipeline);
    adJit = runJitOn(*dopt, adIns);
  } catch (const std::exception &e) {
    return fail(std::string("autodiff threw: ") + e.what() + (dg ? "\n--- backward graph ---\n" + ir::print(*dg) : ""));
  }
  size_t nOut = g.outputs.size();
  for (size_t j = 0; j < spec.wrt.size(); ++j) {
    const HostArray &ad = adRef[nOut + j], &adj = adJit[nOut + j];
    std::vector<HostArray> xs = ins;
    HostArray &x = xs[size_t(spec.wrt[j])];
    for (int64_t i = 0; i < x.type.numel(); ++i) {
      double x0 = x.data<double>()[i], h = 1e-6 * std::max(1.0, std::fabs(x0));
      x.data<double>()[i] = x0 + h;
      double lp = loss(xs);
      x.data<double>()[i] = x0 - h;
      double lm = loss(xs);
      x.data<double>()[i] = x0;
      double fd = (lp - lm) / (2 * h), a = ad.data<double>()[i], aj = adj.data<double>()[i];
      auto where = [&] {
        std::ostringstream os;
        os.precision(17);
        os << "d/d input " << spec.wrt[j] << " element " << i << ": autodiff " << a << ", finite differences " << fd
           << ", autodiff+pipeline+jit " << aj << "\n--- backward graph ---\n" << ir::print(*dg);
        return os.str();
      };
      if (!(std::fabs(a - fd) <= 1e-5 * (std::fabs(fd) + std::fabs(a)) + 1e-6 * scale)) return fail("gradient " + where());
      if (!(std::fabs(aj - a) <= 1e-9 * (std::fabs(a) + scale))) return fail("jit gradient " + where());
    }
  }
  // Eager backward() on the same loss gives the same gradients.
  try {
    std::vector<Tensor> leaves;
    for (size_t i = 0; i < eagerIns.size(); ++i) {
      Tensor t = toTensor(ins[i]);
      if (t.dtype() == DType::F64) t.setRequiresGrad(true);
      leaves.push_back(t);
    }
    std::vector<Tensor> outs = runEager(g, leaves);
    Tensor l = Tensor::full(DType::F64, {}, 0.0);
    for (size_t j = 0; j < spec.outputs.size(); ++j)
      l = apply(OpId::Add, {l, apply(OpId::Sum, {apply(OpId::Mul, {outs[size_t(spec.outputs[j])], toTensor(cots[j])})})});
    if (!l.requiresGrad()) return "";
    l.backward();
    for (size_t j = 0; j < spec.wrt.size(); ++j) {
      Tensor gr = leaves[size_t(spec.wrt[j])].grad();
      HostArray got = gr.defined() ? toHost(gr) : HostArray(g.inputs[size_t(spec.wrt[j])]->type);
      if (std::string d = compare(got, adRef[nOut + j], true, scale); !d.empty())
        return fail("eager backward: d/d input " + std::to_string(spec.wrt[j]) + " " + d +
                    "\n--- backward graph ---\n" + ir::print(*dg));
    }
  } catch (const std::exception &e) {
    return fail(std::string("eager backward threw: ") + e.what());
  }
  return "";
}

TEST(Differential, RandomGraphs) {
  int64_t only = envInt("DT_DIFF_SEED", -1);
  int64_t start = only >= 0 ? only : envInt("DT_DIFF_START", 1);
  int64_t count = only >= 0 ? 1 : envInt("DT_DIFF_COUNT", 1000);
  Figures fig;
  std::vector<std::string> failures;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = start; s < start + count && failures.size() < 10; ++s) {
    std::string d = checkSeed(uint64_t(s), fig, only >= 0);
    if (!d.empty()) {
      failures.push_back(d);
      ADD_FAILURE() << d;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "differential: seeds " << start << ".." << start + count - 1 << ": " << fig.graphs << " graphs, "
            << fig.nodes << " nodes (" << fig.rejected << " candidates refused by the type rules), " << fig.gradGraphs
            << " gradient checks (" << fig.gradSkipped << " f64 graphs skipped: non-finite or too large), "
            << failures.size() << " failing seeds, " << secs << " s (jit " << fig.secsJit << ", pipeline+jit+eager "
            << fig.secsPipeline << ", of which eager " << fig.secsEager << ", gradients " << fig.secsGrad << ")\n  ops:";
  for (auto &[op, n] : fig.opCounts) std::cout << " " << op << "=" << n;
  codegen::CacheStats cs = codegen::cacheStats();
  AutogradStats as = autogradStats();
  std::cout << "\n  kernels compiled " << cs.kernelsCompiled << " (cache hits " << cs.kernelCacheHits
            << "), eager kernels compiled " << as.eagerKernelCompiles << " (hits " << as.eagerKernelHits << ")\n";
  // Every registry op a user can write was generated (kernel nodes come from fusion).
  if (count >= 500)
    for (const OpDef &d : ir::allOps())
      if (d.kind != OpKind::Kernel) EXPECT_GT(fig.opCounts[std::string(d.name)], 0) << d.name << " was never generated";
}

} // namespace
} // namespace dt
