// The registry built from ir/Ops.def, each op's attributes, and the type rules.
#include "ir/Ops.h"

#include "ir/Error.h"

#include <algorithm>
#include <unordered_map>

namespace dt::ir {

namespace {

using K = AttrSpec::Kind;

std::vector<AttrSpec> attrsOf(OpId id) {
  switch (id) {
  case OpId::Cast: return {{"dtype", K::String, true, {}, "target dtype: f32, f64, i64 or bool"}};
  case OpId::Const:
    return {{"dtype", K::String, false, Attr("f32"), "element type"},
            {"shape", K::Ints, false, Attr(Attr::List{}), "result shape"},
            {"value", K::Numbers, true, {}, "one number (filled) or numel numbers, row-major"}};
  case OpId::Sum:
  case OpId::Mean:
  case OpId::Max:
  case OpId::Min:
    return {{"axes", K::Ints, false, {}, "axes to reduce (negative counts from the end); all when absent"},
            {"keepdim", K::Bool, false, Attr(false), "keep reduced axes as size 1"}};
  case OpId::ArgMax:
    return {{"axis", K::Int, false, {}, "axis to reduce (negative counts from the end); the flattened tensor when absent"},
            {"keepdim", K::Bool, false, Attr(false), "keep the reduced axis (every axis when flattened) as size 1"}};
  case OpId::Reshape: return {{"shape", K::Ints, true, {}, "new shape; one entry may be -1"}};
  case OpId::Transpose:
    return {{"dim0", K::Int, false, Attr(int64_t(-2)), "first axis"},
            {"dim1", K::Int, false, Attr(int64_t(-1)), "second axis"}};
  case OpId::Permute: return {{"dims", K::Ints, true, {}, "a permutation of the axes"}};
  case OpId::BroadcastTo: return {{"shape", K::Ints, true, {}, "target shape"}};
  case OpId::Slice:
    return {{"starts", K::Ints, true, {}, "first index on each axis, 0 <= start <= dim"},
            {"ends", K::Ints, true, {}, "one past the last index on each axis, start <= end <= dim"},
            {"steps", K::Ints, false, {}, "stride on each axis, >= 1; all 1 when absent"}};
  case OpId::Pad:
    return {{"low", K::Ints, true, {}, "zeros before the first element of each axis, >= 0"},
            {"high", K::Ints, true, {}, "zeros after the last element of each axis, >= 0"},
            {"interior", K::Ints, false, {}, "zeros between neighbouring elements of each axis, >= 0; none when absent"}};
  case OpId::Concat:
    return {{"axis", K::Int, false, Attr(int64_t(0)), "axis to join along (negative counts from the end)"}};
  case OpId::Gather:
    return {{"axis", K::Int, true, {}, "axis that index selects along (negative counts from the end)"}};
  case OpId::ScatterAdd:
    return {{"axis", K::Int, true, {}, "axis that index selects along in base (negative counts from the end)"}};
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt:
  case OpId::Sigmoid: case OpId::Tanh: case OpId::Relu: case OpId::Floor: case OpId::Add: case OpId::Sub:
  case OpId::Mul: case OpId::Div: case OpId::Pow: case OpId::Maximum: case OpId::Minimum:
  case OpId::Eq: case OpId::Ne: case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge:
  case OpId::Where: case OpId::MatMul: case OpId::Kernel:
    return {};
  }
  return {};
}

std::vector<OpDef> buildTable() {
  std::vector<OpDef> t;
#define OP(Id, nm, kd, ar, dts, dc) \
  t.push_back(OpDef{OpId::Id, nm, OpKind::kd, ar, DTypes::dts, dc, attrsOf(OpId::Id)});
#include "ir/Ops.def"
#undef OP
  return t;
}

const std::vector<OpDef> &table() {
  static const std::vector<OpDef> t = buildTable();
  return t;
}

bool admits(DTypes set, DType t) {
  switch (set) {
  case DTypes::Numeric: return t != DType::Bool;
  case DTypes::Float: return isFloat(t);
  case DTypes::Any: return true;
  }
  return false;
}

std::string_view setName(DTypes set) {
  switch (set) {
  case DTypes::Numeric: return "f32, f64 or i64";
  case DTypes::Float: return "f32 or f64";
  case DTypes::Any: return "any dtype";
  }
  return "?";
}

std::string_view kindName(K k) {
  switch (k) {
  case K::Int: return "an int";
  case K::Float: return "a float";
  case K::Bool: return "a bool";
  case K::String: return "a string";
  case K::Ints: return "a list of ints";
  case K::Number: return "a number";
  case K::Numbers: return "a number or a list of numbers";
  }
  return "?";
}

bool attrFits(const Attr &a, K k) {
  auto isNum = [](const Attr &x) { return x.isInt() || x.isFloat() || x.isBool(); };
  switch (k) {
  case K::Int: return a.isInt();
  case K::Float: return a.isFloat() || a.isInt();
  case K::Bool: return a.isBool();
  case K::String: return a.isString();
  case K::Ints:
    return a.isList() && std::all_of(a.asList().begin(), a.asList().end(), [](auto &x) { return x.isInt(); });
  case K::Number: return isNum(a);
  case K::Numbers:
    return isNum(a) || (a.isList() && std::all_of(a.asList().begin(), a.asList().end(), isNum));
  }
  return false;
}

void checkShapeAttr(const OpDef &def, const Shape &s, std::string_view what) {
  for (int64_t d : s)
    if (d < 0) throw ValueError(fmt(def.name, ": ", what, " ", shapeStr(s), " has a negative size"));
}

Type inferLayout(const OpDef &def, const Type &x, const AttrMap &attrs) {
  switch (def.id) {
  case OpId::Reshape: {
    Shape s = attrOrDefault(def, attrs, "shape")->asInts();
    int64_t known = 1, minus = -1;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == -1) {
        if (minus >= 0) throw ValueError(fmt("reshape: only one size may be -1, got ", shapeStr(s)));
        minus = int64_t(i);
      } else if (s[i] < 0) {
        throw ValueError(fmt("reshape: invalid size in ", shapeStr(s)));
      } else {
        if (__builtin_mul_overflow(known, s[i], &known))
          throw ValueError(fmt("reshape: shape ", shapeStr(s), " has too many elements"));
      }
    }
    if (minus >= 0) {
      if (known == 0 || x.numel() % known != 0)
        throw ValueError(fmt("reshape: cannot reshape ", x.str(), " (", x.numel(), " elements) to ", shapeStr(s)));
      s[minus] = x.numel() / known;
    } else if (known != x.numel()) {
      throw ValueError(fmt("reshape: cannot reshape ", x.str(), " (", x.numel(), " elements) to ", shapeStr(s),
                           " (", known, " elements)"));
    }
    return {x.dtype, s};
  }
  case OpId::Transpose:
  case OpId::Permute: {
    std::vector<int64_t> perm = layoutPerm(def, attrs, x.rank());
    Shape s(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) s[i] = x.shape[perm[i]];
    return {x.dtype, s};
  }
  case OpId::BroadcastTo: {
    Shape s = attrOrDefault(def, attrs, "shape")->asInts();
    checkShapeAttr(def, s, "shape");
    auto b = broadcastShapes(x.shape, s);
    if (!b || *b != s)
      throw ValueError(fmt("broadcast_to: cannot broadcast ", x.str(), " to ", shapeStr(s)));
    return {x.dtype, s};
  }
  case OpId::Slice: {
    SliceAttrs a = sliceAttrs(def, attrs, x);
    Shape s(x.shape.size());
    for (size_t d = 0; d < s.size(); ++d) s[d] = (a.ends[d] - a.starts[d] + a.steps[d] - 1) / a.steps[d];
    return {x.dtype, s};
  }
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt: case OpId::Sigmoid:
  case OpId::Tanh: case OpId::Relu: case OpId::Floor: case OpId::Add: case OpId::Sub: case OpId::Mul:
  case OpId::Div: case OpId::Pow: case OpId::Maximum: case OpId::Minimum: case OpId::Eq: case OpId::Ne:
  case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge: case OpId::Where: case OpId::Cast:
  case OpId::Const: case OpId::MatMul: case OpId::Sum: case OpId::Mean: case OpId::Max: case OpId::Min:
  case OpId::ArgMax: case OpId::Pad: case OpId::Concat: case OpId::Gather: case OpId::ScatterAdd:
  case OpId::Kernel:
    break;
  }
  DT_ASSERT(false, def.name, " is not a layout op");
}

/// argmax: i64 indices; reducing an empty axis (or an empty tensor, flattened) has no answer.
Type inferArgReduce(const OpDef &def, const Type &x, const AttrMap &attrs) {
  std::optional<int64_t> axis = argAxis(def, attrs, x.rank());
  bool keep = attrOrDefault(def, attrs, "keepdim")->asBool();
  if (!axis) {
    if (x.numel() == 0)
      throw ValueError(fmt(def.name, ": cannot take the ", def.name, " of the empty tensor ", x.str(),
                           " (no maximum; give an axis)"));
    return {DType::I64, keep ? Shape(x.shape.size(), 1) : Shape{}};
  }
  if (x.rank() == 0) return {DType::I64, {}};
  if (x.shape[size_t(*axis)] == 0)
    throw ValueError(fmt(def.name, ": cannot reduce axis ", *axis, " of size 0 in ", x.str(), " (no maximum)"));
  Shape s = x.shape;
  if (keep) s[size_t(*axis)] = 1;
  else s.erase(s.begin() + *axis);
  return {DType::I64, s};
}

/// gather's and scatter_add's index: i64, of x's rank, no larger than x on the axes other than
/// `axis` (and than `src`, when given, on every axis), and not selecting along an empty axis.
void checkIndex(const OpDef &def, const Type &x, const Type &index, int64_t axis, const Type *src) {
  if (index.dtype != DType::I64)
    throw TypeError(fmt(def.name, ": index has dtype ", dtypeName(index.dtype), ", expected i64"));
  if (index.rank() != x.rank())
    throw ValueError(fmt(def.name, ": index ", index.str(), " must have the rank of ", x.str(), " (", x.rank(), ")"));
  if (src && src->rank() != x.rank())
    throw ValueError(fmt(def.name, ": src ", src->str(), " must have the rank of ", x.str(), " (", x.rank(), ")"));
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (d != axis && index.shape[size_t(d)] > x.shape[size_t(d)])
      throw ValueError(fmt(def.name, ": index ", index.str(), " is larger than ", x.str(), " on axis ", d,
                           " (only axis ", axis, " may be larger)"));
    if (src && index.shape[size_t(d)] > src->shape[size_t(d)])
      throw ValueError(fmt(def.name, ": index ", index.str(), " is larger than src ", src->str(), " on axis ", d));
  }
  if (index.numel() > 0 && x.rank() > 0 && x.shape[size_t(axis)] == 0)
    throw IndexError(fmt(def.name, ": index ", index.str(), " selects along axis ", axis, " of size 0 in ", x.str()));
}

Type inferIndexing(const OpDef &def, std::span<const Type> ops, const AttrMap &attrs) {
  switch (def.id) {
  case OpId::Pad: {
    const Type &x = ops[0];
    PadAttrs a = padAttrs(def, attrs, x);
    Shape s(x.shape.size());
    constexpr int64_t kMaxElements = int64_t(1) << 56; // as the text parser's limit on types
    int64_t numel = 1;
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t n = x.shape[d], gaps = std::max<int64_t>(n - 1, 0), inner;
      if (__builtin_mul_overflow(gaps, a.interior[d], &inner) || __builtin_add_overflow(inner, n, &s[d]) ||
          __builtin_add_overflow(s[d], a.low[d], &s[d]) || __builtin_add_overflow(s[d], a.high[d], &s[d]) ||
          s[d] > kMaxElements || (numel != 0 && s[d] > kMaxElements / std::max<int64_t>(numel, 1)))
        throw ValueError(fmt(def.name, ": padding ", x.str(), " gives more than 2^56 elements"));
      numel *= s[d];
    }
    return {x.dtype, s};
  }
  case OpId::Concat: {
    if (ops.empty()) throw ValueError(fmt(def.name, " takes at least 1 operand, got 0"));
    const Type &x0 = ops[0];
    if (x0.rank() == 0) throw ValueError(fmt(def.name, ": operands must have rank >= 1, got ", x0.str()));
    int64_t axis = opAxis(def, attrs, x0.rank());
    Shape s = x0.shape;
    s[size_t(axis)] = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      const Type &xi = ops[i];
      if (xi.dtype != x0.dtype)
        throw TypeError(fmt(def.name, ": operand ", i, " ", xi.str(), " and operand 0 ", x0.str(),
                            " differ in dtype (insert a cast)"));
      if (xi.rank() != x0.rank())
        throw ValueError(fmt(def.name, ": operand ", i, " ", xi.str(), " and operand 0 ", x0.str(), " differ in rank"));
      for (int64_t d = 0; d < x0.rank(); ++d)
        if (d != axis && xi.shape[size_t(d)] != x0.shape[size_t(d)])
          throw ValueError(fmt(def.name, ": operand ", i, " ", xi.str(), " and operand 0 ", x0.str(),
                               " differ on axis ", d, " (only axis ", axis, " may differ)"));
      s[size_t(axis)] += xi.shape[size_t(axis)];
    }
    return {x0.dtype, s};
  }
  case OpId::Gather: {
    const Type &x = ops[0], &index = ops[1];
    checkIndex(def, x, index, opAxis(def, attrs, x.rank()), nullptr);
    return {x.dtype, index.shape};
  }
  case OpId::ScatterAdd: {
    const Type &base = ops[0], &index = ops[1], &src = ops[2];
    if (!admits(def.dtypes, base.dtype))
      throw TypeError(fmt(def.name, ": base has dtype ", dtypeName(base.dtype), ", expected ", setName(def.dtypes)));
    if (src.dtype != base.dtype)
      throw TypeError(fmt(def.name, ": src ", src.str(), " and base ", base.str(), " differ in dtype (insert a cast)"));
    checkIndex(def, base, index, opAxis(def, attrs, base.rank()), &src);
    return base;
  }
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt: case OpId::Sigmoid:
  case OpId::Tanh: case OpId::Relu: case OpId::Floor: case OpId::Add: case OpId::Sub: case OpId::Mul:
  case OpId::Div: case OpId::Pow: case OpId::Maximum: case OpId::Minimum: case OpId::Eq: case OpId::Ne:
  case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge: case OpId::Where: case OpId::Cast:
  case OpId::Const: case OpId::MatMul: case OpId::Sum: case OpId::Mean: case OpId::Max: case OpId::Min:
  case OpId::ArgMax: case OpId::Reshape: case OpId::Transpose: case OpId::Permute: case OpId::BroadcastTo:
  case OpId::Slice: case OpId::Kernel:
    break;
  }
  DT_ASSERT(false, def.name, " is not an indexing op");
}

} // namespace

std::span<const OpDef> allOps() { return table(); }

const OpDef &opDef(OpId id) { return table()[size_t(id)]; }

const OpDef *findOp(std::string_view name) {
  static const std::unordered_map<std::string_view, const OpDef *> byName = [] {
    std::unordered_map<std::string_view, const OpDef *> m;
    for (const OpDef &d : table()) m[d.name] = &d;
    return m;
  }();
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second;
}

const Attr *attrOrDefault(const OpDef &def, const AttrMap &attrs, const std::string &name) {
  if (auto it = attrs.find(name); it != attrs.end()) return &it->second;
  for (const AttrSpec &s : def.attrs)
    if (s.name == name && s.def) return &*s.def;
  return nullptr;
}

int64_t normalizeAxis(int64_t axis, int64_t rank, std::string_view what) {
  int64_t r = std::max<int64_t>(rank, 1);
  if (axis < -r || axis >= r)
    throw IndexError(fmt(what, ": axis ", axis, " is out of range for a tensor of rank ", rank,
                         " (expected -", r, " to ", r - 1, ")"));
  return axis < 0 ? axis + r : axis;
}

std::vector<int64_t> reduceAxes(const OpDef &def, const AttrMap &attrs, int64_t rank) {
  std::vector<int64_t> axes;
  const Attr *a = attrOrDefault(def, attrs, "axes");
  if (!a) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    return axes;
  }
  for (int64_t ax : a->asInts()) {
    int64_t n = normalizeAxis(ax, rank, def.name);
    if (rank == 0) continue; // axis 0 / -1 of a scalar: nothing to reduce, as in PyTorch
    if (std::find(axes.begin(), axes.end(), n) != axes.end())
      throw ValueError(fmt(def.name, ": axis ", ax, " appears twice in axes"));
    axes.push_back(n);
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

namespace {
/// One entry per axis: an Ints attribute of `def` (or `fill` when absent and optional).
std::vector<int64_t> perAxis(const OpDef &def, const AttrMap &attrs, const std::string &name, const Type &x,
                             int64_t fill) {
  const Attr *a = attrOrDefault(def, attrs, name);
  if (!a) return std::vector<int64_t>(size_t(x.rank()), fill);
  std::vector<int64_t> v = a->asInts();
  if (int64_t(v.size()) != x.rank())
    throw ValueError(fmt(def.name, ": ", name, " ", shapeStr(v), " has ", v.size(), " entr", v.size() == 1 ? "y" : "ies",
                         " but the operand ", x.str(), " has rank ", x.rank()));
  return v;
}
} // namespace

SliceAttrs sliceAttrs(const OpDef &def, const AttrMap &attrs, const Type &x) {
  SliceAttrs a{perAxis(def, attrs, "starts", x, 0), perAxis(def, attrs, "ends", x, 0), perAxis(def, attrs, "steps", x, 1)};
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (a.steps[d] < 1)
      throw ValueError(fmt(def.name, ": step ", a.steps[d], " on axis ", d, " of ", x.str(), " must be >= 1"));
    if (!(0 <= a.starts[d] && a.starts[d] <= a.ends[d] && a.ends[d] <= x.shape[d]))
      throw ValueError(fmt(def.name, ": start ", a.starts[d], " and end ", a.ends[d], " on axis ", d, " of ", x.str(),
                           " must satisfy 0 <= start <= end <= ", x.shape[d]));
  }
  return a;
}

PadAttrs padAttrs(const OpDef &def, const AttrMap &attrs, const Type &x) {
  PadAttrs a{perAxis(def, attrs, "low", x, 0), perAxis(def, attrs, "high", x, 0), perAxis(def, attrs, "interior", x, 0)};
  for (auto [name, v] : {std::pair{"low", &a.low}, std::pair{"high", &a.high}, std::pair{"interior", &a.interior}})
    for (int64_t p : *v)
      if (p < 0) throw ValueError(fmt(def.name, ": ", name, " ", shapeStr(*v), " has a negative entry"));
  return a;
}

std::optional<int64_t> argAxis(const OpDef &def, const AttrMap &attrs, int64_t rank) {
  const Attr *a = attrOrDefault(def, attrs, "axis");
  if (!a) return std::nullopt;
  return normalizeAxis(a->asInt(), rank, def.name);
}

int64_t opAxis(const OpDef &def, const AttrMap &attrs, int64_t rank) {
  const Attr *a = attrOrDefault(def, attrs, "axis");
  DT_ASSERT(a, def.name, " without an axis (the type rule requires one)");
  return normalizeAxis(a->asInt(), rank, def.name);
}

std::vector<int64_t> layoutPerm(const OpDef &def, const AttrMap &attrs, int64_t rank) {
  std::vector<int64_t> perm(rank);
  for (int64_t i = 0; i < rank; ++i) perm[i] = i;
  if (def.id == OpId::Transpose) {
    if (rank < 2) {
      // transpose of a 0-D or 1-D tensor is the identity, as t.T in PyTorch; axes must still fit.
      normalizeAxis(attrOrDefault(def, attrs, "dim0")->asInt(), std::max<int64_t>(rank, 2), def.name);
      normalizeAxis(attrOrDefault(def, attrs, "dim1")->asInt(), std::max<int64_t>(rank, 2), def.name);
      return perm;
    }
    int64_t a = normalizeAxis(attrOrDefault(def, attrs, "dim0")->asInt(), rank, def.name);
    int64_t b = normalizeAxis(attrOrDefault(def, attrs, "dim1")->asInt(), rank, def.name);
    std::swap(perm[a], perm[b]);
    return perm;
  }
  DT_ASSERT(def.id == OpId::Permute);
  std::vector<int64_t> dims = attrOrDefault(def, attrs, "dims")->asInts();
  if (int64_t(dims.size()) != rank)
    throw ValueError(fmt("permute: dims has ", dims.size(), " entries but the operand has rank ", rank));
  std::vector<bool> seen(rank, false);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t d = normalizeAxis(dims[i], rank, def.name);
    if (seen[d]) throw ValueError(fmt("permute: dims ", shapeStr(dims), " is not a permutation"));
    seen[d] = true;
    perm[i] = d;
  }
  return perm;
}

bool swapsLastTwoDims(const Node &n) {
  const OpDef *def = findOp(n.op);
  if (!def || (def->id != OpId::Transpose && def->id != OpId::Permute) || n.operands.size() != 1) return false;
  int64_t rank = n.operands[0]->type.rank();
  if (rank < 2) return false;
  std::vector<int64_t> p = layoutPerm(*def, n.attrs, rank);
  for (int64_t i = 0; i < rank - 2; ++i)
    if (p[size_t(i)] != i) return false;
  return p[size_t(rank - 2)] == rank - 1 && p[size_t(rank - 1)] == rank - 2;
}

Type inferType(const OpDef &def, std::span<const Type> ops, const AttrMap &attrs) {
  if (def.arity >= 0 && int(ops.size()) != def.arity)
    throw ValueError(fmt(def.name, " takes ", def.arity, " operand", def.arity == 1 ? "" : "s", ", got ", ops.size()));
  for (auto &[k, v] : attrs) {
    auto spec = std::find_if(def.attrs.begin(), def.attrs.end(), [&](auto &s) { return s.name == k; });
    if (spec == def.attrs.end()) {
      std::string known;
      for (auto &s : def.attrs) known += (known.empty() ? "" : ", ") + s.name;
      throw ValueError(fmt(def.name, ": unknown attribute '", k, "' (", def.name, " takes ",
                           known.empty() ? std::string("no attributes") : known, ")"));
    }
    if (!attrFits(v, spec->kind))
      throw TypeError(fmt(def.name, ": attribute '", k, "' must be ", kindName(spec->kind)));
  }
  for (auto &s : def.attrs)
    if (s.required && !attrs.count(s.name))
      throw ValueError(fmt(def.name, ": missing attribute '", s.name, "' (", s.doc, ")"));

  auto checkDType = [&](const Type &t, std::string_view role) {
    if (!admits(def.dtypes, t.dtype))
      throw TypeError(fmt(def.name, ": ", role, " has dtype ", dtypeName(t.dtype), ", expected ", setName(def.dtypes)));
  };
  auto broadcast2 = [&](const Type &a, const Type &b) {
    auto s = broadcastShapes(a.shape, b.shape);
    if (!s) throw ValueError(fmt("shapes ", a.str(), " and ", b.str(), " do not broadcast"));
    return *s;
  };
  auto sameDType = [&](const Type &a, const Type &b) {
    if (a.dtype != b.dtype)
      throw TypeError(fmt(def.name, ": dtypes ", dtypeName(a.dtype), " and ", dtypeName(b.dtype),
                          " differ (insert a cast)"));
  };

  switch (def.kind) {
  case OpKind::Unary:
    checkDType(ops[0], "operand");
    return ops[0];
  case OpKind::Binary:
    sameDType(ops[0], ops[1]);
    checkDType(ops[0], "operand");
    return {ops[0].dtype, broadcast2(ops[0], ops[1])};
  case OpKind::Compare:
    sameDType(ops[0], ops[1]);
    return {DType::Bool, broadcast2(ops[0], ops[1])};
  case OpKind::Where: {
    if (ops[0].dtype != DType::Bool)
      throw TypeError(fmt("where: condition has dtype ", dtypeName(ops[0].dtype), ", expected bool"));
    sameDType(ops[1], ops[2]);
    Shape s = broadcast2(ops[1], ops[2]);
    auto all = broadcastShapes(ops[0].shape, s);
    if (!all)
      throw ValueError(fmt("shapes ", ops[0].str(), ", ", ops[1].str(), " and ", ops[2].str(), " do not broadcast"));
    return {ops[1].dtype, *all};
  }
  case OpKind::Cast: {
    const std::string &name = attrs.at("dtype").asString();
    auto t = parseDType(name);
    if (!t) throw ValueError(fmt("cast: unknown dtype '", name, "' (expected f32, f64, i64 or bool)"));
    return {*t, ops[0].shape};
  }
  case OpKind::Const: {
    const std::string &name = attrOrDefault(def, attrs, "dtype")->asString();
    auto t = parseDType(name);
    if (!t) throw ValueError(fmt("const: unknown dtype '", name, "' (expected f32, f64, i64 or bool)"));
    Shape s = attrOrDefault(def, attrs, "shape")->asInts();
    checkShapeAttr(def, s, "shape");
    const Attr &v = attrs.at("value");
    if (v.isList() && int64_t(v.asList().size()) != numElements(s))
      throw ValueError(fmt("const: value has ", v.asList().size(), " numbers but shape ", shapeStr(s), " holds ",
                           numElements(s)));
    return {*t, s};
  }
  case OpKind::MatMul: {
    sameDType(ops[0], ops[1]);
    checkDType(ops[0], "operand");
    const Type &a = ops[0], &b = ops[1];
    if (a.rank() < 2 || b.rank() < 2)
      throw ValueError(fmt("matmul: operands must have rank >= 2, got ", a.str(), " and ", b.str()));
    int64_t k1 = a.shape[a.rank() - 1], k2 = b.shape[b.rank() - 2];
    if (k1 != k2)
      throw ValueError(fmt("matmul: lhs ", a.str(), " has ", k1, " columns but rhs ", b.str(), " has ", k2, " rows"));
    Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
    auto batch = broadcastShapes(ba, bb);
    if (!batch)
      throw ValueError(fmt("matmul: batch dims of ", a.str(), " and ", b.str(), " do not broadcast"));
    batch->push_back(a.shape[a.rank() - 2]);
    batch->push_back(b.shape[b.rank() - 1]);
    return {a.dtype, *batch};
  }
  case OpKind::Reduce: {
    checkDType(ops[0], "operand");
    std::vector<int64_t> axes = reduceAxes(def, attrs, ops[0].rank());
    bool keep = attrOrDefault(def, attrs, "keepdim")->asBool();
    Shape s;
    for (int64_t i = 0; i < ops[0].rank(); ++i) {
      bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
      if (reduced && (def.id == OpId::Max || def.id == OpId::Min) && ops[0].shape[i] == 0)
        throw ValueError(fmt(def.name, ": cannot reduce axis ", i, " of size 0 in ", ops[0].str(), " (no identity)"));
      if (!reduced) s.push_back(ops[0].shape[i]);
      else if (keep) s.push_back(1);
    }
    return {ops[0].dtype, s};
  }
  case OpKind::ArgReduce:
    checkDType(ops[0], "operand");
    return inferArgReduce(def, ops[0], attrs);
  case OpKind::Layout: return inferLayout(def, ops[0], attrs);
  case OpKind::Indexing:
    // pad's and gather's x, concat's first operand (the others must match it); scatter_add
    // checks its base itself.
    if (!ops.empty() && def.id != OpId::ScatterAdd) checkDType(ops[0], "operand");
    return inferIndexing(def, ops, attrs);
  case OpKind::Kernel:
    throw ValueError("kernel: the result type comes from the region (the verifier checks it)");
  }
  DT_ASSERT(false, "unhandled op kind");
}

namespace {
std::string callContext(const OpDef &def, std::span<const Type> types, const std::string &reason) {
  std::string prefix = std::string(def.name) + ":";
  std::string msg = reason.rfind(prefix, 0) == 0 ? reason : std::string(def.name) + ": " + reason;
  bool named = std::all_of(types.begin(), types.end(), [&](const Type &t) { return msg.find(t.str()) != std::string::npos; });
  if (!named) {
    msg += "; operand types ";
    for (size_t i = 0; i < types.size(); ++i) msg += (i ? ", " : "") + types[i].str();
  }
  return msg;
}
} // namespace

Type inferTypeForCall(const OpDef &def, std::span<const Type> operands, const AttrMap &attrs) {
  try {
    return inferType(def, operands, attrs);
  } catch (const TypeError &e) {
    throw TypeError(callContext(def, operands, e.what()));
  } catch (const ValueError &e) {
    throw ValueError(callContext(def, operands, e.what()));
  } catch (const IndexError &e) {
    throw IndexError(callContext(def, operands, e.what()));
  }
}

Value *emit(Graph &g, OpId id, std::vector<Value *> operands, AttrMap attrs) {
  std::vector<Type> types;
  for (Value *v : operands) types.push_back(v->type);
  const OpDef &def = opDef(id);
  Type t = inferType(def, types, attrs);
  return g.addNode(std::string(def.name), std::move(operands), std::move(attrs), std::move(t))->result;
}

} // namespace dt::ir
