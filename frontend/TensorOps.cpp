// The eager API's arithmetic: dtype promotion, Python-number operands, creation helpers,
// elementwise functions, matmul, reductions and their composites (softmax, logsumexp, var),
// in-place updates and backward(create_graph). Shape ops and indexing: TensorIndexing.cpp.
#include "frontend/TensorOps.h"

#include "frontend/TensorOpsDetail.h"
#include "frontend/Trace.h"
#include "ir/Error.h"
#include "ir/Ops.h"
#include "runtime/Copy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace dt {

using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::OpId;
using ir::Shape;

// --- shared helpers -------------------------------------------------------------------------

namespace detail {

void checkShape(const Shape &shape, const char *who) {
  constexpr int64_t kMaxElements = int64_t(1) << 56;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw ValueError(fmt(who, ": negative dimension ", d, " in shape ", ir::shapeStr(shape)));
    if (d > 0 && n > kMaxElements / d)
      throw ValueError(fmt(who, ": shape ", ir::shapeStr(shape), " has more than 2^56 elements"));
    n *= d;
  }
}

AttrMap castAttrs(DType dt) { return {{"dtype", Attr(std::string(ir::dtypeName(dt)))}}; }

AttrMap reduceAttrs(const std::optional<std::vector<int64_t>> &dims, bool keepdim) {
  AttrMap a{{"keepdim", Attr(keepdim)}};
  if (dims && !dims->empty()) a["axes"] = Attr::ints(*dims);
  return a;
}

std::vector<int64_t> hostInts(const Tensor &x) {
  DT_ASSERT(!ir::isFloat(x.dtype()), "hostInts of a ", ir::dtypeName(x.dtype()), " tensor");
  Tensor d = noGrad([&] { return x.contiguous(); });
  std::vector<int64_t> out(size_t(d.numel()));
  if (out.empty()) return out;
  if (d.dtype() == DType::I64) {
    std::memcpy(out.data(), d.data(), out.size() * sizeof(int64_t));
  } else {
    const uint8_t *p = static_cast<const uint8_t *>(d.data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i] != 0;
  }
  return out;
}

Tensor intTensor(const Shape &shape, const std::vector<int64_t> &values) {
  Tensor t = Tensor::empty(DType::I64, shape);
  DT_ASSERT(int64_t(values.size()) == t.numel(), "intTensor: ", values.size(), " values for ", ir::shapeStr(shape));
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(int64_t));
  return t;
}

Shape reducedShape(const Shape &shape, const std::vector<int64_t> &dims, bool keepdim) {
  Shape s;
  for (int64_t i = 0; i < int64_t(shape.size()); ++i) {
    bool reduced = std::find(dims.begin(), dims.end(), i) != dims.end();
    if (!reduced) s.push_back(shape[i]);
    else if (keepdim) s.push_back(1);
  }
  return s;
}

std::vector<int64_t> normalizeDims(const std::optional<std::vector<int64_t>> &dims, int64_t rank, const char *who) {
  std::vector<int64_t> out;
  if (!dims || dims->empty()) {
    for (int64_t i = 0; i < rank; ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : *dims) {
    int64_t n = ir::normalizeAxis(d, rank, who);
    if (rank == 0) continue;
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw ValueError(fmt(who, ": dim ", d, " appears multiple times in the list of dims"));
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
bool isViewOp(OpId id) {
  return id == OpId::Reshape || id == OpId::Transpose || id == OpId::Permute || id == OpId::BroadcastTo ||
         id == OpId::Slice;
}
} // namespace

void checkInplace(const Tensor &x) {
  if (!gradEnabled() || !x.requiresGrad()) return;
  if (x.isLeaf()) throw std::runtime_error("a leaf Variable that requires grad is being used in an in-place operation.");
  // A view (through layout ops) of a leaf's storage: PyTorch refuses this too.
  const TapeNode *n = x.gradFn().get();
  while (n && isViewOp(n->op) && !n->inputs.empty()) {
    const TapeNode::Input &in = n->inputs[0];
    if (in.leaf) {
      if (in.leaf->storage == x.impl().storage)
        throw std::runtime_error("a view of a leaf Variable that requires grad is being used in an in-place operation.");
      return;
    }
    n = in.node.get();
  }
}

void writeInto(const Tensor &x, const Tensor &value) {
  NoGradGuard g;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (x.strides()[i] == 0 && x.shape()[i] > 1)
      throw std::runtime_error("unsupported operation: more than one element of the written-to tensor refers to a single "
                               "memory location. Please clone() the tensor before performing the operation.");
  Tensor v = value;
  if (v.dtype() != x.dtype()) v = to(v, x.dtype());
  if (v.shape() != x.shape()) v = broadcastTo(v, x.shape());
  if (Trace *tr = activeTrace()) {
    tr->write(x, v);
    return;
  }
  v = v.contiguous();
  if (x.numel() == 0) return;
  if (v.impl().storage == x.impl().storage) v = clone(v); // overlapping source: copy it first
  rt::copyToStrided(x.data(), x.strides().data(), v.data(), ir::dtypeSize(x.dtype()), int(x.dim()), x.shape().data());
}

void rebind(const Tensor &x, const Tensor &r) {
  TensorImpl &xi = x.impl();
  const TensorImpl &ri = r.impl();
  DT_ASSERT(xi.dtype == ri.dtype && xi.shape == ri.shape, "rebind of ", x.type().str(), " to ", r.type().str());
  if (activeTrace() && !xi.traced)
    throw TraceError("an in-place op that autograd records (on a tensor that requires grad, or with an operand "
                     "that does) was applied to a tensor from outside the compiled function; write it out of "
                     "place, or do it under dt.no_grad()");
  xi.traced = ri.traced;
  xi.traceId = ri.traceId;
  xi.tracedView = ri.tracedView;
  xi.storage = ri.storage;
  xi.strides = ri.strides;
  xi.offset = ri.offset;
  xi.requiresGrad = ri.requiresGrad;
  xi.gradFn = ri.gradFn;
}

bool inplaceNeedsAutograd(const Tensor &x, const Operand &other) {
  if (!gradEnabled()) return false;
  return x.requiresGrad() || (other.isTensor() && other.tensor().requiresGrad());
}

} // namespace detail

using namespace detail;

namespace {

int category(DType t) {
  switch (t) {
  case DType::Bool: return 0;
  case DType::I64: return 1;
  case DType::F32:
  case DType::F64: return 2;
  }
  return 0;
}

int rankOf(DType t) {
  switch (t) {
  case DType::Bool: return 0;
  case DType::I64: return 1;
  case DType::F32: return 2;
  case DType::F64: return 3;
  }
  return 0;
}

int64_t castToI64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return int64_t(v);
}

/// Writes `n` copies of `s` converted to `dt` at `p`.
void fillScalar(void *p, DType dt, int64_t n, const Scalar &s) {
  switch (dt) {
  case DType::F32: std::fill_n(static_cast<float *>(p), n, float(s.v)); break;
  case DType::F64: std::fill_n(static_cast<double *>(p), n, s.v); break;
  case DType::I64: std::fill_n(static_cast<int64_t *>(p), n, s.kind == Scalar::Kind::Float ? castToI64(s.v) : s.i); break;
  case DType::Bool: std::fill_n(static_cast<uint8_t *>(p), n, uint8_t(s.kind == Scalar::Kind::Float ? s.v != 0 : s.i != 0)); break;
  }
}

Tensor asTensor(const Operand &o, DType dt) { return o.isTensor() ? to(o.tensor(), dt) : scalarTensor(o.scalar(), dt); }

void needTensor(const char *who, std::initializer_list<const Operand *> ops) {
  for (const Operand *o : ops)
    if (o->isTensor()) {
      if (!o->tensor().defined()) throw ValueError(fmt(who, ": an operand is an undefined tensor"));
      return;
    }
  throw TypeError(fmt(who, ": expected at least one tensor operand, got only numbers"));
}

Tensor unaryOp(OpId id, const Tensor &x) { return apply(id, {x}); }
Tensor binaryOp(OpId id, const Tensor &a, const Tensor &b) { return apply(id, {a, b}); }

/// The float dtype a transcendental of `x` computes in (PyTorch: integers -> the default f32).
Tensor floatOperand(const Tensor &x) { return ir::isFloat(x.dtype()) ? x : to(x, DType::F32); }

[[noreturn]] void boolUnsupported(const char *what) {
  throw TypeError(fmt(what, " is not supported for bool tensors"));
}

/// add/mul/maximum/minimum of bools: computed in i64 and mapped back to bool (or / and).
Tensor arith(OpId id, const char *who, const Operand &a, const Operand &b) {
  needTensor(who, {&a, &b});
  DType dt = resultType({a, b});
  if (dt == DType::Bool)
    return to(binaryOp(id, asTensor(a, DType::I64), asTensor(b, DType::I64)), DType::Bool);
  return binaryOp(id, asTensor(a, dt), asTensor(b, dt));
}

Tensor compare(OpId id, const char *who, const Operand &a, const Operand &b) {
  needTensor(who, {&a, &b});
  DType dt = resultType({a, b});
  return binaryOp(id, asTensor(a, dt), asTensor(b, dt));
}

void checkBool(const char *who, const Operand &a, const Operand &b) {
  for (const Operand *o : {&a, &b}) {
    DType t = o->isTensor() ? o->tensor().dtype() : o->scalar().defaultDType();
    if (t != DType::Bool)
      throw TypeError(fmt(who, ": only bool tensors are supported (bitwise operations on ", torchTypeName(t),
                          " are not implemented)"));
  }
}

Tensor &inplace(Tensor &x, const Operand &other, Tensor (*fn)(const Operand &, const Operand &), const char *who) {
  checkInplace(x);
  bool autograd = inplaceNeedsAutograd(x, other);
  Tensor r = autograd ? fn(x, other) : noGrad([&] { return fn(x, other); });
  if (!canCast(r.dtype(), x.dtype()))
    throw std::runtime_error(fmt("result type ", torchTypeName(r.dtype()), " can't be cast to the desired output type ",
                                 torchTypeName(x.dtype())));
  if (r.shape() != x.shape())
    throw ValueError(fmt(who, ": output with shape ", ir::shapeStr(x.shape()), " doesn't match the broadcast shape ",
                         ir::shapeStr(r.shape())));
  if (autograd) {
    rebind(x, to(r, x.dtype()));
  } else {
    writeInto(x, r);
  }
  return x;
}

} // namespace

// --- dtypes --------------------------------------------------------------------------------

DType Scalar::defaultDType() const {
  switch (kind) {
  case Kind::Bool: return DType::Bool;
  case Kind::Int: return DType::I64;
  case Kind::Float: return DType::F32;
  }
  return DType::F32;
}

DType promoteTypes(DType a, DType b) { return rankOf(a) >= rankOf(b) ? a : b; }

bool canCast(DType from, DType to) { return category(from) <= category(to); }

std::string_view torchTypeName(DType t) {
  switch (t) {
  case DType::F32: return "Float";
  case DType::F64: return "Double";
  case DType::I64: return "Long";
  case DType::Bool: return "Bool";
  }
  return "?";
}

DType resultType(const std::vector<Operand> &operands) {
  std::optional<DType> dimR, zeroR, wrapR;
  auto update = [](std::optional<DType> &r, DType t) { r = r ? promoteTypes(*r, t) : t; };
  for (const Operand &o : operands) {
    if (o.isTensor()) update(o.tensor().dim() > 0 ? dimR : zeroR, o.tensor().dtype());
    else update(wrapR, o.scalar().defaultDType());
  }
  // PyTorch's combine_categories: a lower-priority group only raises the category.
  auto combine = [](std::optional<DType> higher, std::optional<DType> lower) -> std::optional<DType> {
    if (!higher) return lower;
    if (!lower || ir::isFloat(*higher)) return higher;
    if (*higher == DType::Bool || ir::isFloat(*lower)) return promoteTypes(*higher, *lower);
    return higher;
  };
  std::optional<DType> r = combine(dimR, combine(zeroR, wrapR));
  if (!r) throw ValueError("result_type: no operands");
  return *r;
}

Tensor to(const Tensor &x, DType dt) {
  if (x.dtype() == dt) return x;
  return apply(OpId::Cast, {x}, castAttrs(dt));
}

Tensor scalarTensor(Scalar s, DType dt) {
  Tensor t = Tensor::empty(dt, {});
  fillScalar(t.data(), dt, 1, s);
  return t;
}

Tensor clone(const Tensor &x) {
  // An identity copy that autograd (or a trace) records.
  if ((gradEnabled() && x.requiresGrad()) || activeTrace()) return apply(OpId::Cast, {x}, castAttrs(x.dtype()));
  Tensor out = Tensor::empty(x.dtype(), x.shape());
  if (x.numel())
    rt::copyStrided(out.data(), x.data(), ir::dtypeSize(x.dtype()), int(x.dim()), x.shape().data(), x.strides().data());
  return out;
}

// --- creation -------------------------------------------------------------------------------

Tensor zeros(const Shape &shape, DType dt) {
  checkShape(shape, "zeros");
  return Tensor::full(dt, shape, 0.0);
}
Tensor ones(const Shape &shape, DType dt) {
  checkShape(shape, "ones");
  return Tensor::full(dt, shape, 1.0);
}

Tensor full(const Shape &shape, Scalar value, std::optional<DType> dt) {
  checkShape(shape, "full");
  DType d = dt.value_or(value.defaultDType());
  Tensor t = Tensor::empty(d, shape);
  fillScalar(t.data(), d, t.numel(), value);
  return t;
}

Tensor zerosLike(const Tensor &x, std::optional<DType> dt) { return zeros(x.shape(), dt.value_or(x.dtype())); }
Tensor onesLike(const Tensor &x, std::optional<DType> dt) { return ones(x.shape(), dt.value_or(x.dtype())); }
Tensor fullLike(const Tensor &x, Scalar value, std::optional<DType> dt) {
  return full(x.shape(), value, dt.value_or(x.dtype()));
}

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dt) {
  bool anyFloat = start.isFloat() || end.isFloat() || step.isFloat();
  DType d = dt.value_or(anyFloat ? DType::F32 : DType::I64);
  if (step.v == 0) throw std::runtime_error("step must be nonzero");
  if (!std::isfinite(start.v) || !std::isfinite(end.v))
    throw std::runtime_error(fmt("unsupported range: ", start.v, " -> ", end.v));
  if (!((step.v > 0 && end.v >= start.v) || (step.v < 0 && end.v <= start.v)))
    throw std::runtime_error("upper bound and lower bound inconsistent with step sign");
  double n = std::ceil((end.v - start.v) / step.v);
  if (!(n < 1e12)) throw std::runtime_error(fmt("arange: too many elements (", n, ")"));
  int64_t count = int64_t(n);
  Tensor t = Tensor::empty(d, {count});
  bool exactInts = !anyFloat && d == DType::I64;
  for (int64_t k = 0; k < count; ++k) {
    Scalar v = exactInts ? Scalar(static_cast<long long>(start.i + k * step.i)) : Scalar(start.v + double(k) * step.v);
    switch (d) {
    case DType::F32: static_cast<float *>(t.data())[k] = float(v.v); break;
    case DType::F64: static_cast<double *>(t.data())[k] = v.v; break;
    case DType::I64: static_cast<int64_t *>(t.data())[k] = v.isFloat() ? castToI64(v.v) : v.i; break;
    case DType::Bool: static_cast<uint8_t *>(t.data())[k] = v.v != 0; break;
    }
  }
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dt) {
  if (steps < 0) throw std::runtime_error("number of steps must be non-negative");
  checkShape({steps}, "linspace");
  Tensor t = Tensor::empty(dt, {steps});
  // PyTorch's formula: from the start in the first half, from the end in the second.
  auto value = [&](int64_t i) {
    if (steps == 1) return start;
    double step = (end - start) / double(steps - 1);
    return i < steps / 2 ? start + step * double(i) : end - step * double(steps - 1 - i);
  };
  for (int64_t i = 0; i < steps; ++i) {
    switch (dt) {
    case DType::F32: {
      float s = float(start), e = float(end);
      float step = steps > 1 ? (e - s) / float(steps - 1) : 0.0f;
      static_cast<float *>(t.data())[i] = steps == 1 ? s : i < steps / 2 ? s + step * float(i) : e - step * float(steps - 1 - i);
      break;
    }
    case DType::F64: static_cast<double *>(t.data())[i] = value(i); break;
    case DType::I64: static_cast<int64_t *>(t.data())[i] = castToI64(value(i)); break;
    case DType::Bool: static_cast<uint8_t *>(t.data())[i] = value(i) != 0; break;
    }
  }
  return t;
}

Tensor eye(int64_t n, int64_t m, DType dt) {
  if (n < 0) throw std::runtime_error(fmt("n must be greater or equal to 0, got ", n));
  if (m < 0) m = n;
  checkShape({n, m}, "eye");
  Tensor t = zeros({n, m}, dt);
  Tensor one = scalarTensor(Scalar(1), dt);
  size_t es = ir::dtypeSize(dt);
  for (int64_t i = 0; i < std::min(n, m); ++i)
    std::memcpy(static_cast<char *>(t.data()) + size_t(i * m + i) * es, one.data(), es);
  return t;
}

// --- elementwise ----------------------------------------------------------------------------

Tensor add(const Operand &a, const Operand &b) { return arith(OpId::Add, "add", a, b); }
Tensor mul(const Operand &a, const Operand &b) { return arith(OpId::Mul, "mul", a, b); }
Tensor maximum(const Operand &a, const Operand &b) { return arith(OpId::Maximum, "maximum", a, b); }
Tensor minimum(const Operand &a, const Operand &b) { return arith(OpId::Minimum, "minimum", a, b); }

Tensor sub(const Operand &a, const Operand &b) {
  needTensor("sub", {&a, &b});
  if (resultType({a, b}) == DType::Bool)
    throw TypeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                    "`logical_xor()` operator instead.");
  return arith(OpId::Sub, "sub", a, b);
}

Tensor div(const Operand &a, const Operand &b) {
  needTensor("div", {&a, &b});
  DType dt = resultType({a, b});
  if (!ir::isFloat(dt)) dt = DType::F32;
  return binaryOp(OpId::Div, asTensor(a, dt), asTensor(b, dt));
}

Tensor floorDivide(const Operand &a, const Operand &b) {
  needTensor("floor_divide", {&a, &b});
  DType dt = resultType({a, b});
  if (ir::isFloat(dt)) return unaryOp(OpId::Floor, binaryOp(OpId::Div, asTensor(a, dt), asTensor(b, dt)));
  if (dt == DType::Bool) throw TypeError("floor_divide is not supported for bool tensors");
  // Integers: the divisors are checked on the host (PyTorch raises rather than producing junk),
  // then floor(f64(a) / f64(b)) is exact below 2^53.
  Tensor bi = asTensor(b, DType::I64);
  std::vector<int64_t> bv = hostInts(bi);
  if (std::find(bv.begin(), bv.end(), 0) != bv.end()) throw std::runtime_error("ZeroDivisionError");
  Tensor q = unaryOp(OpId::Floor, binaryOp(OpId::Div, asTensor(a, DType::F64), to(bi, DType::F64)));
  return to(q, DType::I64);
}

Tensor remainder(const Operand &a, const Operand &b) {
  needTensor("remainder", {&a, &b});
  DType dt = resultType({a, b});
  if (dt == DType::Bool) throw TypeError("remainder is not supported for bool tensors");
  Tensor ta = asTensor(a, dt), tb = asTensor(b, dt);
  return sub(ta, mul(floorDivide(ta, tb), tb));
}

Tensor pow(const Operand &a, const Operand &b) {
  needTensor("pow", {&a, &b});
  DType dt = resultType({a, b});
  if (ir::isFloat(dt)) return binaryOp(OpId::Pow, asTensor(a, dt), asTensor(b, dt));
  // Integers (and bools) compute in f64 and convert back: exact while results stay below 2^53.
  Tensor eb = asTensor(b, DType::I64);
  std::vector<int64_t> ev = hostInts(eb);
  if (std::any_of(ev.begin(), ev.end(), [](int64_t e) { return e < 0; }))
    throw std::runtime_error("Integers to negative integer powers are not allowed.");
  // Rounded (floor(p + 0.5)) rather than truncated: pow may miss an exact integer by an ulp.
  Tensor p = binaryOp(OpId::Pow, asTensor(a, DType::F64), to(eb, DType::F64));
  return to(unaryOp(OpId::Floor, binaryOp(OpId::Add, p, scalarTensor(Scalar(0.5), DType::F64))), dt);
}

Tensor eq(const Operand &a, const Operand &b) { return compare(OpId::Eq, "eq", a, b); }
Tensor ne(const Operand &a, const Operand &b) { return compare(OpId::Ne, "ne", a, b); }
Tensor lt(const Operand &a, const Operand &b) { return compare(OpId::Lt, "lt", a, b); }
Tensor le(const Operand &a, const Operand &b) { return compare(OpId::Le, "le", a, b); }
Tensor gt(const Operand &a, const Operand &b) { return compare(OpId::Gt, "gt", a, b); }
Tensor ge(const Operand &a, const Operand &b) { return compare(OpId::Ge, "ge", a, b); }

Tensor logicalAnd(const Operand &a, const Operand &b) {
  needTensor("and", {&a, &b});
  checkBool("and", a, b);
  return apply(OpId::Where, {asTensor(a, DType::Bool), asTensor(b, DType::Bool), scalarTensor(false, DType::Bool)});
}
Tensor logicalOr(const Operand &a, const Operand &b) {
  needTensor("or", {&a, &b});
  checkBool("or", a, b);
  return apply(OpId::Where, {asTensor(a, DType::Bool), scalarTensor(true, DType::Bool), asTensor(b, DType::Bool)});
}
Tensor logicalXor(const Operand &a, const Operand &b) {
  needTensor("xor", {&a, &b});
  checkBool("xor", a, b);
  return binaryOp(OpId::Ne, asTensor(a, DType::Bool), asTensor(b, DType::Bool));
}
Tensor logicalNot(const Tensor &x) {
  if (x.dtype() != DType::Bool)
    throw TypeError(fmt("~ (bitwise not) is only supported for bool tensors here, got ", torchTypeName(x.dtype())));
  return binaryOp(OpId::Eq, x, scalarTensor(false, DType::Bool));
}

Tensor where(const Tensor &cond, const Operand &a, const Operand &b) {
  if (!cond.defined()) throw ValueError("where: the condition is an undefined tensor");
  if (cond.dtype() != DType::Bool)
    throw TypeError(fmt("where expected condition to be a boolean tensor, but got a tensor with dtype ",
                        torchTypeName(cond.dtype())));
  for (const Operand *o : {&a, &b})
    if (o->isTensor() && !o->tensor().defined()) throw ValueError("where: an operand is an undefined tensor");
  DType dt = resultType({a, b});
  return apply(OpId::Where, {cond, asTensor(a, dt), asTensor(b, dt)});
}

Tensor neg(const Tensor &x) {
  if (x.dtype() == DType::Bool)
    throw TypeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
                    "use the `~` or `logical_not()` operator instead.");
  return unaryOp(OpId::Neg, x);
}
Tensor abs(const Tensor &x) {
  if (x.dtype() == DType::Bool) boolUnsupported("abs");
  return unaryOp(OpId::Abs, x);
}
Tensor exp(const Tensor &x) { return unaryOp(OpId::Exp, floatOperand(x)); }
Tensor log(const Tensor &x) { return unaryOp(OpId::Log, floatOperand(x)); }
Tensor sqrt(const Tensor &x) { return unaryOp(OpId::Sqrt, floatOperand(x)); }
Tensor sigmoid(const Tensor &x) { return unaryOp(OpId::Sigmoid, floatOperand(x)); }
Tensor tanh(const Tensor &x) { return unaryOp(OpId::Tanh, floatOperand(x)); }
Tensor relu(const Tensor &x) {
  if (x.dtype() == DType::Bool) boolUnsupported("relu");
  return unaryOp(OpId::Relu, x);
}
Tensor floor(const Tensor &x) {
  if (!ir::isFloat(x.dtype())) return clone(x);
  return unaryOp(OpId::Floor, x);
}

Tensor clamp(const Tensor &x, const std::optional<Operand> &lo, const std::optional<Operand> &hi) {
  if (!lo && !hi) throw ValueError("clamp: At least one of 'min' or 'max' must not be None");
  std::vector<Operand> ops{x};
  if (lo) ops.push_back(*lo);
  if (hi) ops.push_back(*hi);
  DType dt = resultType(ops);
  if (dt == DType::Bool) boolUnsupported("clamp");
  // min(max(x, lo), hi) as wheres, so the gradient is 1 exactly where lo <= x <= hi and NaN
  // passes through (comparisons with NaN are false).
  Tensor r = to(x, dt);
  if (lo) {
    Tensor l = asTensor(*lo, dt);
    r = apply(OpId::Where, {binaryOp(OpId::Lt, r, l), l, r});
  }
  if (hi) {
    Tensor h = asTensor(*hi, dt);
    r = apply(OpId::Where, {binaryOp(OpId::Gt, r, h), h, r});
  }
  return r;
}

// --- matmul ---------------------------------------------------------------------------------

Tensor matmul(const Tensor &a, const Tensor &b) {
  if (!a.defined() || !b.defined()) throw ValueError("matmul: an operand is an undefined tensor");
  if (a.dim() == 0 || b.dim() == 0)
    throw ValueError(fmt("both arguments to matmul need to be at least 1D, but they are ", a.dim(), "D and ", b.dim(), "D"));
  if (a.dtype() != b.dtype())
    throw TypeError(fmt("expected m1 and m2 to have the same dtype, but got: ", torchTypeName(a.dtype()),
                        " != ", torchTypeName(b.dtype())));
  if (a.dtype() == DType::Bool) boolUnsupported("matmul");
  if (a.dim() == 1 && b.dim() == 1 && a.shape()[0] != b.shape()[0])
    throw ValueError(fmt("matmul: inconsistent tensor size, expected tensor [", a.shape()[0],
                         "] and src [", b.shape()[0], "] to have the same number of elements, but got ",
                         a.shape()[0], " and ", b.shape()[0], " elements respectively"));
  Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
  Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
  Tensor r = apply(OpId::MatMul, {a2, b2});
  if (a.dim() == 1 && b.dim() == 1) return reshape(r, {});
  if (a.dim() == 1) return squeeze(r, -2);
  if (b.dim() == 1) return squeeze(r, -1);
  return r;
}

// --- reductions -----------------------------------------------------------------------------

Tensor sum(const Tensor &x, std::optional<std::vector<int64_t>> dims, bool keepdim) {
  Tensor in = ir::isFloat(x.dtype()) ? x : to(x, DType::I64);
  return apply(OpId::Sum, {in}, reduceAttrs(dims, keepdim));
}

Tensor mean(const Tensor &x, std::optional<std::vector<int64_t>> dims, bool keepdim) {
  if (!ir::isFloat(x.dtype()))
    throw std::runtime_error(fmt("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                                 "complex dtype. Got: ", torchTypeName(x.dtype())));
  return apply(OpId::Mean, {x}, reduceAttrs(dims, keepdim));
}

namespace {
/// max/min over `dims` (all when empty); bools go through i64.
Tensor extreme(OpId id, const char *who, const Tensor &x, const std::optional<std::vector<int64_t>> &dims, bool keepdim) {
  std::vector<int64_t> axes = normalizeDims(dims, x.dim(), who);
  for (int64_t a : axes)
    if (x.shape()[a] == 0) {
      if (!dims || dims->empty())
        throw IndexError(fmt(who, "(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                                     "the reduction dim with the 'dim' argument."));
      throw IndexError(fmt(who, "(): Expected reduction dim ", a, " to have non-zero size."));
    }
  if (x.dtype() == DType::Bool) return to(apply(id, {to(x, DType::I64)}, reduceAttrs(dims, keepdim)), DType::Bool);
  return apply(id, {x}, reduceAttrs(dims, keepdim));
}

/// A tensor whose argmax is x's argmin, exactly: -x for floats (NaN stays the maximum),
/// ~x = -x - 1 for integers (no overflow at INT64_MIN).
Tensor reversedOrder(const Tensor &x) {
  if (ir::isFloat(x.dtype())) return neg(x);
  Tensor i = to(x, DType::I64);
  return binaryOp(OpId::Sub, unaryOp(OpId::Neg, i), scalarTensor(Scalar(1), DType::I64));
}
} // namespace

Tensor max(const Tensor &x) { return extreme(OpId::Max, "max", x, std::nullopt, false); }
Tensor min(const Tensor &x) { return extreme(OpId::Min, "min", x, std::nullopt, false); }
Tensor amax(const Tensor &x, const std::vector<int64_t> &dims, bool keepdim) {
  return extreme(OpId::Max, "amax", x, dims, keepdim);
}
Tensor amin(const Tensor &x, const std::vector<int64_t> &dims, bool keepdim) {
  return extreme(OpId::Min, "amin", x, dims, keepdim);
}

Tensor argmax(const Tensor &x, std::optional<int64_t> dim, bool keepdim) {
  if (dim) {
    int64_t d = ir::normalizeAxis(*dim, x.dim(), "argmax");
    if (x.dim() > 0 && x.shape()[d] == 0)
      throw IndexError(fmt("argmax(): Expected reduction dim ", d, " to have non-zero size."));
  } else if (x.numel() == 0) {
    throw IndexError("argmax(): Expected reduction dim to be specified for input.numel() == 0.");
  }
  Tensor in = x.dtype() == DType::Bool ? to(x, DType::I64) : x;
  if (x.dim() == 0) return zeros({}, DType::I64); // the only element
  AttrMap attrs{{"keepdim", Attr(keepdim)}};
  if (dim) attrs["axis"] = Attr(*dim);
  return apply(OpId::ArgMax, {in}, attrs);
}

Tensor argmin(const Tensor &x, std::optional<int64_t> dim, bool keepdim) {
  if (x.dim() == 0 || x.numel() == 0) return argmax(x, dim, keepdim);
  return argmax(noGrad([&] { return reversedOrder(x.detach()); }), dim, keepdim);
}

namespace {
std::pair<Tensor, Tensor> extremeDim(const Tensor &x, int64_t dim, bool keepdim, bool isMax) {
  int64_t d = ir::normalizeAxis(dim, x.dim(), isMax ? "max" : "min");
  if (x.dim() == 0) return {reshape(x, {}), zeros({}, DType::I64)};
  Tensor idx = isMax ? argmax(x, d, true) : argmin(x, d, true);
  // The values are gathered at the indices, so the gradient goes to that element only (as
  // PyTorch's max(dim)), not split among ties like amax.
  Tensor values = gather(x, d, idx);
  if (!keepdim) {
    values = squeeze(values, d);
    idx = squeeze(idx, d);
  }
  return {values, idx};
}
} // namespace

std::pair<Tensor, Tensor> max(const Tensor &x, int64_t dim, bool keepdim) { return extremeDim(x, dim, keepdim, true); }
std::pair<Tensor, Tensor> min(const Tensor &x, int64_t dim, bool keepdim) { return extremeDim(x, dim, keepdim, false); }

namespace {
void needFloat(const Tensor &x, const char *who) {
  if (!ir::isFloat(x.dtype()))
    throw TypeError(fmt(who, ": expected a floating point tensor, got ", torchTypeName(x.dtype()),
                        " (convert it with .float())"));
}
/// The maximum over `dims`, kept, detached, with infinities replaced by 0 (so an all -inf row
/// stays -inf rather than NaN in logsumexp).
Tensor stableShift(const Tensor &x, const std::vector<int64_t> &dims) {
  return noGrad([&] {
    Tensor m = amax(x.detach(), dims, true);
    Tensor inf = scalarTensor(std::numeric_limits<double>::infinity(), m.dtype());
    return apply(OpId::Where, {binaryOp(OpId::Eq, unaryOp(OpId::Abs, m), inf), scalarTensor(0.0, m.dtype()), m});
  });
}
} // namespace

Tensor softmax(const Tensor &x, int64_t dim) {
  needFloat(x, "softmax");
  std::vector<int64_t> dims{ir::normalizeAxis(dim, x.dim(), "softmax")};
  if (x.numel() == 0) return clone(x);
  Tensor e = exp(sub(x, stableShift(x, dims)));
  return div(e, sum(e, dims, true));
}

Tensor logSoftmax(const Tensor &x, int64_t dim) {
  needFloat(x, "log_softmax");
  std::vector<int64_t> dims{ir::normalizeAxis(dim, x.dim(), "log_softmax")};
  if (x.numel() == 0) return clone(x);
  Tensor z = sub(x, stableShift(x, dims));
  return sub(z, log(sum(exp(z), dims, true)));
}

Tensor logsumexp(const Tensor &x, const std::vector<int64_t> &dims, bool keepdim) {
  Tensor xf = floatOperand(x);
  std::vector<int64_t> axes = normalizeDims(dims, x.dim(), "logsumexp");
  for (int64_t a : axes)
    if (x.shape()[a] == 0) // log(0): PyTorch's value for an empty reduction
      return full(reducedShape(x.shape(), axes, keepdim), -std::numeric_limits<double>::infinity(), xf.dtype());
  Tensor m = stableShift(xf, axes);
  Tensor r = add(log(sum(exp(sub(xf, m)), axes, true)), m);
  return keepdim ? r : reshape(r, reducedShape(x.shape(), axes, false));
}

Tensor var(const Tensor &x, std::optional<std::vector<int64_t>> dims, double correction, bool keepdim) {
  if (!ir::isFloat(x.dtype())) throw TypeError("std and var only support floating point and complex dtypes");
  std::vector<int64_t> axes = normalizeDims(dims, x.dim(), "var");
  int64_t n = 1;
  for (int64_t a : axes) n *= x.shape()[a];
  std::optional<std::vector<int64_t>> ax = axes.empty() ? std::nullopt : std::optional(axes);
  Tensor d = sub(x, mean(x, ax, true));
  Tensor ss = sum(mul(d, d), ax, keepdim);
  return div(ss, std::max(double(n) - correction, 0.0));
}

Tensor stdDev(const Tensor &x, std::optional<std::vector<int64_t>> dims, double correction, bool keepdim) {
  return sqrt(var(x, std::move(dims), correction, keepdim));
}

// --- in-place -------------------------------------------------------------------------------

Tensor &add_(Tensor &x, const Operand &other) { return inplace(x, other, &add, "add_"); }
Tensor &sub_(Tensor &x, const Operand &other) { return inplace(x, other, &sub, "sub_"); }
Tensor &mul_(Tensor &x, const Operand &other) { return inplace(x, other, &mul, "mul_"); }
Tensor &div_(Tensor &x, const Operand &other) { return inplace(x, other, &div, "div_"); }

Tensor &copy_(Tensor &x, const Operand &src) {
  checkInplace(x);
  Tensor s = src.isTensor() ? src.tensor() : scalarTensor(src.scalar(), x.dtype());
  if (!s.defined()) throw ValueError("copy_: the source is an undefined tensor");
  if (!ir::broadcastShapes(s.shape(), x.shape()) || *ir::broadcastShapes(s.shape(), x.shape()) != x.shape())
    throw ValueError(fmt("copy_: the source of shape ", ir::shapeStr(s.shape()), " cannot be broadcast to ",
                         ir::shapeStr(x.shape())));
  if (inplaceNeedsAutograd(x, src)) {
    Tensor r = to(s, x.dtype());
    if (r.shape() != x.shape()) r = broadcastTo(r, x.shape());
    if (r.implPtr() == x.implPtr() || r.impl().storage == x.impl().storage) r = clone(r);
    rebind(x, r);
  } else {
    writeInto(x, s);
  }
  return x;
}

Tensor &fill_(Tensor &x, Scalar value) { return copy_(x, scalarTensor(value, x.dtype())); }
Tensor &zero_(Tensor &x) { return fill_(x, Scalar(0)); }

// --- operators ------------------------------------------------------------------------------

Tensor operator+(const Tensor &a, const Operand &b) { return add(a, b); }
Tensor operator+(Scalar a, const Tensor &b) { return add(a, b); }
Tensor operator-(const Tensor &a, const Operand &b) { return sub(a, b); }
Tensor operator-(Scalar a, const Tensor &b) { return sub(a, b); }
Tensor operator*(const Tensor &a, const Operand &b) { return mul(a, b); }
Tensor operator*(Scalar a, const Tensor &b) { return mul(a, b); }
Tensor operator/(const Tensor &a, const Operand &b) { return div(a, b); }
Tensor operator/(Scalar a, const Tensor &b) { return div(a, b); }
Tensor operator-(const Tensor &x) { return neg(x); }
Tensor &operator+=(Tensor &a, const Operand &b) { return add_(a, b); }
Tensor &operator-=(Tensor &a, const Operand &b) { return sub_(a, b); }
Tensor &operator*=(Tensor &a, const Operand &b) { return mul_(a, b); }
Tensor &operator/=(Tensor &a, const Operand &b) { return div_(a, b); }

// --- autograd -------------------------------------------------------------------------------

void backward(const Tensor &t, const Tensor &gradient, std::optional<bool> retainGraph, bool createGraph) {
  bool retain = retainGraph.value_or(createGraph);
  if (!createGraph) {
    t.backward(gradient, retain);
    return;
  }
  if (!t.requiresGrad())
    throw std::runtime_error("element 0 of tensors does not require grad and does not have a grad_fn");
  // The leaves reachable from t, then dt::grad with create_graph, accumulated with recorded adds.
  std::vector<Tensor> leaves;
  if (t.isLeaf()) {
    leaves.push_back(t);
  } else {
    std::unordered_set<const void *> seen;
    std::vector<const TapeNode *> stack{t.gradFn().get()};
    while (!stack.empty()) {
      const TapeNode *n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      for (const TapeNode::Input &in : n->inputs) {
        if (in.node) stack.push_back(in.node.get());
        else if (in.leaf && seen.insert(in.leaf.get()).second) leaves.push_back(Tensor(in.leaf));
      }
    }
  }
  std::vector<Tensor> grads = dt::grad({t}, leaves, {gradient}, retain, true, true);
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor old = leaves[i].grad();
    Tensor::assignGrad(leaves[i].implPtr(), (old.defined() ? add(old, grads[i]) : grads[i]).implPtr(),
                       /*computedByBackward=*/true);
  }
}

} // namespace dt
