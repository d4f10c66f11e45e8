// The reference interpreter: one plain loop per op of ir/Ops.def, the oracle the JIT is tested
// against. Semantics follow the common numeric contract (docs/DESIGN): f32 arithmetic in float,
// transcendentals in double via libm then rounded, NaN-propagating max/min/relu, wrapping i64.
#include "ir/Interpreter.h"

#include "ir/Error.h"
#include "ir/Ops.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <unordered_map>

namespace dt::ir {

namespace {

// --- element types --------------------------------------------------------------------------

/// Carries a C element type through a generic lambda: float, double, int64_t, uint8_t (bool).
template <typename T> struct Tag {
  using type = T;
};

template <typename T> constexpr DType dtypeOf() {
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  else if constexpr (std::is_same_v<T, double>) return DType::F64;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::I64;
  else {
    static_assert(std::is_same_v<T, uint8_t>, "bool is stored as uint8_t");
    return DType::Bool;
  }
}

template <typename T> constexpr bool kIsInt = std::is_same_v<T, int64_t>;
template <typename T> constexpr bool kIsBool = std::is_same_v<T, uint8_t>;

/// Calls f(Tag<T>{}) for the C type of `t`, instantiating only the types the set S admits (so a
/// float-only op is never compiled for int64_t). The type rule has already checked the dtype.
template <DTypes S, typename F> void visit(DType t, F &&f) {
  switch (t) {
  case DType::F32: f(Tag<float>{}); return;
  case DType::F64: f(Tag<double>{}); return;
  case DType::I64:
    if constexpr (S != DTypes::Float) {
      f(Tag<int64_t>{});
      return;
    }
    break;
  case DType::Bool:
    if constexpr (S == DTypes::Any) {
      f(Tag<uint8_t>{});
      return;
    }
    break;
  }
  DT_ASSERT(false, "dtype ", dtypeName(t), " reached an op that does not admit it");
}

template <typename T> const T *dataOf(const ArrayRef &a) {
  DT_ASSERT(a.type.dtype == dtypeOf<T>(), "array of ", a.type.str(), " read as ", dtypeName(dtypeOf<T>()));
  return static_cast<const T *>(a.data);
}
template <typename T> T *dataOf(HostArray &a) {
  DT_ASSERT(a.type.dtype == dtypeOf<T>(), "array of ", a.type.str(), " written as ", dtypeName(dtypeOf<T>()));
  return a.data<T>();
}

// --- scalar semantics -----------------------------------------------------------------------
// i64 arithmetic goes through uint64_t: two's complement wrap-around without C++ UB.

template <typename T> T negOf(T x) {
  if constexpr (kIsInt<T>) return int64_t(uint64_t(0) - uint64_t(x));
  else return -x;
}
template <typename T> T absOf(T x) {
  if constexpr (kIsInt<T>) return x < 0 ? negOf(x) : x; // abs(INT64_MIN) wraps to INT64_MIN
  else return std::fabs(x);
}
template <typename T> T reluOf(T x) {
  if constexpr (kIsInt<T>) return x > 0 ? x : 0;
  else return x > 0 ? x : (std::isnan(x) ? x : T(0)); // relu(-0.0) = +0.0, relu(NaN) = NaN
}
template <typename T> T addOf(T a, T b) {
  if constexpr (kIsInt<T>) return int64_t(uint64_t(a) + uint64_t(b));
  else return a + b;
}
template <typename T> T subOf(T a, T b) {
  if constexpr (kIsInt<T>) return int64_t(uint64_t(a) - uint64_t(b));
  else return a - b;
}
template <typename T> T mulOf(T a, T b) {
  if constexpr (kIsInt<T>) return int64_t(uint64_t(a) * uint64_t(b));
  else return a * b;
}
template <typename T> T maximumOf(T a, T b) {
  if constexpr (!kIsInt<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return a > b ? a : b;
}
template <typename T> T minimumOf(T a, T b) {
  if constexpr (!kIsInt<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return a < b ? a : b;
}

/// Conversion between any two element types (cast, const):
/// float->i64 truncates toward zero and saturates, NaN -> 0 (like llvm.fptosi.sat);
/// x->bool is x != 0 (NaN -> true); bool->x is 0 or 1; other pairs are C conversions
/// (i64->float and f64->f32 round to nearest).
template <typename To, typename From> To castTo(From x) {
  if constexpr (std::is_same_v<To, From>) return x;
  else if constexpr (kIsBool<To>) return x != From(0) ? 1 : 0;
  else if constexpr (kIsBool<From>) return x != 0 ? To(1) : To(0);
  else if constexpr (kIsInt<To>) {
    static_assert(std::is_floating_point_v<From>);
    if (std::isnan(x)) return 0;
    if (x >= From(0x1p63)) return std::numeric_limits<int64_t>::max();
    if (x < From(-0x1p63)) return std::numeric_limits<int64_t>::min();
    return int64_t(x);
  } else {
    return static_cast<To>(x);
  }
}

// --- index arithmetic -----------------------------------------------------------------------

/// Calls fn(linear, idx) for every multi-index of `shape` in row-major order.
template <typename Fn> void forEachIndex(const Shape &shape, Fn &&fn) {
  int64_t n = numElements(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t lin = 0; lin < n; ++lin) {
    fn(lin, idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/// The element offset an index of some iteration space reaches through `strides`.
int64_t offsetOf(const std::vector<int64_t> &idx, const std::vector<int64_t> &strides) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * strides[d];
  return off;
}

/// Strides (one per dim of `out`) that read an operand of shape `operand` NumPy-broadcast to
/// `out`: the operand aligns to the trailing dims; missing and size-1 dims get stride 0.
/// offsetOf(outIndex, broadcastStrides(operand, out)) is the operand element for outIndex.
std::vector<int64_t> broadcastStrides(const Shape &operand, const Shape &out) {
  DT_ASSERT(operand.size() <= out.size(), shapeStr(operand), " does not broadcast to ", shapeStr(out));
  std::vector<int64_t> own = contiguousStrides(operand), st(out.size(), 0);
  size_t lead = out.size() - operand.size();
  for (size_t d = 0; d < operand.size(); ++d) {
    DT_ASSERT(operand[d] == 1 || operand[d] == out[lead + d], shapeStr(operand), " does not broadcast to ",
              shapeStr(out));
    st[lead + d] = operand[d] == 1 ? 0 : own[d];
  }
  return st;
}

// --- elementwise kinds ----------------------------------------------------------------------

/// out[i] = f(x[i]) for a unary op of dtype set S.
template <DTypes S, typename F> void mapUnary(const ArrayRef &x, HostArray &out, F f) {
  visit<S>(x.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *in = dataOf<T>(x);
    T *o = dataOf<T>(out);
    for (int64_t i = 0, n = out.type.numel(); i < n; ++i) o[i] = f(in[i]);
  });
}

/// out[idx] = f(a[idx'], b[idx'']) with NumPy broadcasting; f returns T, or bool for comparisons.
template <DTypes S, typename F> void mapBinary(const ArrayRef &a, const ArrayRef &b, HostArray &out, F f) {
  visit<S>(a.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using R = decltype(f(T{}, T{}));
    using Out = std::conditional_t<std::is_same_v<R, bool>, uint8_t, T>;
    const T *pa = dataOf<T>(a), *pb = dataOf<T>(b);
    Out *o = dataOf<Out>(out);
    std::vector<int64_t> sa = broadcastStrides(a.type.shape, out.type.shape);
    std::vector<int64_t> sb = broadcastStrides(b.type.shape, out.type.shape);
    forEachIndex(out.type.shape, [&](int64_t i, const std::vector<int64_t> &idx) {
      o[i] = Out(f(pa[offsetOf(idx, sa)], pb[offsetOf(idx, sb)]));
    });
  });
}

/// out = cond ? a : b, all three broadcast.
void evalWhere(const ArrayRef &cond, const ArrayRef &a, const ArrayRef &b, HostArray &out) {
  visit<DTypes::Any>(a.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const uint8_t *pc = dataOf<uint8_t>(cond);
    const T *pa = dataOf<T>(a), *pb = dataOf<T>(b);
    T *o = dataOf<T>(out);
    std::vector<int64_t> sc = broadcastStrides(cond.type.shape, out.type.shape);
    std::vector<int64_t> sa = broadcastStrides(a.type.shape, out.type.shape);
    std::vector<int64_t> sb = broadcastStrides(b.type.shape, out.type.shape);
    forEachIndex(out.type.shape, [&](int64_t i, const std::vector<int64_t> &idx) {
      o[i] = pc[offsetOf(idx, sc)] ? pa[offsetOf(idx, sa)] : pb[offsetOf(idx, sb)];
    });
  });
}

void evalCast(const ArrayRef &x, HostArray &out) {
  visit<DTypes::Any>(x.type.dtype, [&](auto fromTag) {
    using From = typename decltype(fromTag)::type;
    visit<DTypes::Any>(out.type.dtype, [&](auto toTag) {
      using To = typename decltype(toTag)::type;
      const From *in = dataOf<From>(x);
      To *o = dataOf<To>(out);
      for (int64_t i = 0, n = out.type.numel(); i < n; ++i) o[i] = castTo<To>(in[i]);
    });
  });
}

// --- const ----------------------------------------------------------------------------------

/// One number of a const's `value`, converted like a cast; ints keep all 64 bits.
template <typename T> T constElement(const Attr &a) {
  if (a.isInt()) return castTo<T>(a.asInt());
  if (a.isBool()) return castTo<T>(uint8_t(a.asBool() ? 1 : 0));
  if (a.isFloat()) return castTo<T>(a.asFloat());
  throw TypeError("const: attribute 'value' must be a number or a list of numbers");
}

void evalConst(const Node &n, HostArray &out) {
  const Attr *value = n.attr("value");
  DT_ASSERT(value, "const without a value (the type rule requires one)");
  visit<DTypes::Any>(out.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T *o = dataOf<T>(out);
    int64_t numel = out.type.numel();
    if (!value->isList()) {
      T v = constElement<T>(*value);
      for (int64_t i = 0; i < numel; ++i) o[i] = v;
      return;
    }
    const Attr::List &l = value->asList();
    if (int64_t(l.size()) != numel)
      throw ValueError(fmt("const: value has ", l.size(), " numbers but ", out.type.str(), " holds ", numel));
    for (int64_t i = 0; i < numel; ++i) o[i] = constElement<T>(l[size_t(i)]);
  });
}

// --- matmul ---------------------------------------------------------------------------------

/// [...,M,K] @ [...,K,N] -> [...,M,N]; batch dims broadcast. Floats accumulate in double and
/// round once at the end, i64 in uint64_t (wrapping).
void evalMatMul(const ArrayRef &a, const ArrayRef &b, HostArray &out) {
  visit<DTypes::Numeric>(a.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<kIsInt<T>, uint64_t, double>;
    const Shape &as = a.type.shape, &bs = b.type.shape, &os = out.type.shape;
    DT_ASSERT(as.size() >= 2 && bs.size() >= 2 && os.size() >= 2);
    int64_t m = as[as.size() - 2], k = as[as.size() - 1], n = bs[bs.size() - 1];
    DT_ASSERT(bs[bs.size() - 2] == k && os[os.size() - 2] == m && os[os.size() - 1] == n);
    Shape batch(os.begin(), os.end() - 2);
    std::vector<int64_t> sa = broadcastStrides(Shape(as.begin(), as.end() - 2), batch);
    std::vector<int64_t> sb = broadcastStrides(Shape(bs.begin(), bs.end() - 2), batch);
    const T *pa = dataOf<T>(a), *pb = dataOf<T>(b);
    T *po = dataOf<T>(out);
    std::vector<Acc> acc(static_cast<size_t>(n));
    forEachIndex(batch, [&](int64_t bi, const std::vector<int64_t> &idx) {
      const T *am = pa + offsetOf(idx, sa) * m * k; // batch strides count whole matrices
      const T *bm = pb + offsetOf(idx, sb) * k * n;
      T *om = po + bi * m * n;
      for (int64_t i = 0; i < m; ++i) {
        std::fill(acc.begin(), acc.end(), Acc(0));
        for (int64_t p = 0; p < k; ++p) {
          Acc aip = Acc(am[i * k + p]);
          for (int64_t j = 0; j < n; ++j) acc[size_t(j)] += aip * Acc(bm[p * n + j]);
        }
        for (int64_t j = 0; j < n; ++j) om[i * n + j] = T(acc[size_t(j)]);
      }
    });
  });
}

// --- reductions -----------------------------------------------------------------------------

/// sum / mean / max / min over `axes`. Each input element goes to the output element whose index is
/// the input's with the reduced axes zeroed (the keepdim layout equals the dropped one).
void evalReduce(OpId id, const ArrayRef &x, const std::vector<int64_t> &axes, HostArray &out) {
  const Shape &xs = x.type.shape;
  Shape kept = xs;
  int64_t count = 1; // elements folded into each output element
  for (int64_t ax : axes) {
    count *= xs[size_t(ax)];
    kept[size_t(ax)] = 1;
  }
  DT_ASSERT(numElements(kept) == out.type.numel(), "reduction of ", x.type.str(), " into ", out.type.str());
  std::vector<int64_t> st = contiguousStrides(kept);
  for (int64_t ax : axes) st[size_t(ax)] = 0;
  int64_t outN = out.type.numel();

  visit<DTypes::Numeric>(x.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *in = dataOf<T>(x);
    T *o = dataOf<T>(out);
    if (id == OpId::Max || id == OpId::Min) {
      DT_ASSERT(count > 0 || outN == 0, "max/min over a zero-size axis (the type rule rejects it)");
      bool isMax = id == OpId::Max;
      T identity = kIsInt<T> ? (isMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max())
                             : (isMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity());
      std::vector<T> acc(size_t(outN), identity);
      forEachIndex(xs, [&](int64_t i, const std::vector<int64_t> &idx) {
        T &m = acc[size_t(offsetOf(idx, st))];
        if constexpr (!kIsInt<T>) {
          if (std::isnan(in[i])) m = in[i]; // NaN sticks: nothing compares past it
        }
        if (isMax ? in[i] > m : in[i] < m) m = in[i];
      });
      std::copy(acc.begin(), acc.end(), o);
      return;
    }
    DT_ASSERT(id == OpId::Sum || id == OpId::Mean);
    using Acc = std::conditional_t<kIsInt<T>, uint64_t, double>;
    std::vector<Acc> acc(size_t(outN), Acc(0));
    forEachIndex(xs, [&](int64_t i, const std::vector<int64_t> &idx) { acc[size_t(offsetOf(idx, st))] += Acc(in[i]); });
    for (int64_t i = 0; i < outN; ++i) {
      if (id == OpId::Sum) {
        o[i] = T(acc[size_t(i)]);
      } else if constexpr (!kIsInt<T>) {
        o[i] = count == 0 ? std::numeric_limits<T>::quiet_NaN() : T(acc[size_t(i)] / double(count));
      } else {
        DT_ASSERT(false, "mean of i64 (the type rule rejects it)");
      }
    }
  });
}

/// An axis split of a row-major shape: outer (dims before it) x n (the axis) x inner (after).
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit splitAt(const Shape &s, int64_t axis) {
  AxisSplit a;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) {
    if (d < axis) a.outer *= s[size_t(d)];
    else if (d == axis) a.n = s[size_t(d)];
    else a.inner *= s[size_t(d)];
  }
  return a;
}

/// argmax along `axis` (the flattened tensor when absent): the first index of the maximum; a NaN
/// is the maximum (the first NaN wins), as PyTorch.
void evalArgMax(const ArrayRef &x, std::optional<int64_t> axis, HostArray &out) {
  AxisSplit a = axis ? splitAt(x.type.shape, *axis) : AxisSplit{1, x.type.numel(), 1};
  DT_ASSERT(a.outer * a.inner == out.type.numel(), "argmax of ", x.type.str(), " into ", out.type.str());
  visit<DTypes::Numeric>(x.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *in = dataOf<T>(x);
    int64_t *o = dataOf<int64_t>(out);
    for (int64_t p = 0; p < a.outer; ++p)
      for (int64_t q = 0; q < a.inner; ++q) {
        const T *row = in + p * a.n * a.inner + q;
        DT_ASSERT(a.n > 0, "argmax over an empty axis (the type rule rejects it)");
        T best = row[0];
        int64_t at = 0;
        for (int64_t k = 1; k < a.n; ++k) {
          T v = row[k * a.inner];
          bool takes;
          if constexpr (kIsInt<T>) takes = v > best;
          else takes = !std::isnan(best) && (std::isnan(v) || v > best);
          if (takes) {
            best = v;
            at = k;
          }
        }
        o[p * a.inner + q] = at;
      }
  });
}

// --- layout ---------------------------------------------------------------------------------

/// out[idx] = in[base + offsetOf(idx, strides)] for every output index.
void gather(const ArrayRef &in, const std::vector<int64_t> &strides, HostArray &out, int64_t base = 0) {
  visit<DTypes::Any>(in.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *pi = dataOf<T>(in);
    T *o = dataOf<T>(out);
    forEachIndex(out.type.shape,
                 [&](int64_t i, const std::vector<int64_t> &idx) { o[i] = pi[base + offsetOf(idx, strides)]; });
  });
}

/// slice: element idx of the result is operand element starts + idx * steps.
void evalSlice(const Node &n, const OpDef &def, const ArrayRef &x, HostArray &out) {
  SliceAttrs a = sliceAttrs(def, n.attrs, x.type);
  std::vector<int64_t> own = contiguousStrides(x.type.shape), st(own.size());
  int64_t base = 0;
  for (size_t d = 0; d < own.size(); ++d) {
    base += a.starts[d] * own[d];
    st[d] = own[d] * a.steps[d];
  }
  if (out.type.numel() > 0) gather(x, st, out, base);
}

// --- indexing -------------------------------------------------------------------------------

/// Copies every element of `in` to out[base + offsetOf(idx, outStrides)].
void scatterCopy(const ArrayRef &in, HostArray &out, const std::vector<int64_t> &outStrides, int64_t base) {
  visit<DTypes::Any>(in.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *pi = dataOf<T>(in);
    T *o = dataOf<T>(out);
    forEachIndex(in.type.shape,
                 [&](int64_t i, const std::vector<int64_t> &idx) { o[base + offsetOf(idx, outStrides)] = pi[i]; });
  });
}

/// pad: zeros (the HostArray starts zeroed: 0, 0.0 and false are all-zero bytes), then operand
/// element idx goes to low + idx * (interior + 1).
void evalPad(const Node &n, const OpDef &def, const ArrayRef &x, HostArray &out) {
  PadAttrs a = padAttrs(def, n.attrs, x.type);
  std::fill(out.bytes.begin(), out.bytes.end(), 0);
  std::vector<int64_t> own = contiguousStrides(out.type.shape), st(own.size());
  int64_t base = 0;
  for (size_t d = 0; d < own.size(); ++d) {
    base += a.low[d] * own[d];
    st[d] = own[d] * (a.interior[d] + 1);
  }
  if (x.type.numel() > 0) scatterCopy(x, out, st, base);
}

/// concat: operand i lands at offset (sizes of operands before it) along the axis.
void evalConcat(const Node &n, const OpDef &def, std::span<const ArrayRef> xs, HostArray &out) {
  int64_t axis = opAxis(def, n.attrs, out.type.rank());
  std::vector<int64_t> st = contiguousStrides(out.type.shape);
  int64_t at = 0;
  for (const ArrayRef &x : xs) {
    if (x.type.numel() > 0) scatterCopy(x, out, st, at * st[size_t(axis)]);
    at += x.type.shape[size_t(axis)];
  }
}

/// The i64 index value at `i`, checked against the axis size (torch's message).
int64_t checkedIndex(const OpDef &def, const int64_t *index, int64_t i, int64_t axis, int64_t size) {
  int64_t v = index[i];
  if (v < 0 || v >= size)
    throw IndexError(fmt(def.name, ": index ", v, " is out of bounds for dimension ", axis, " with size ", size));
  return v;
}

/// A rank-0 operand as a one-element vector: gather/scatter_add on scalars index axis 0 of [1].
Shape atLeast1(const Shape &s) { return s.empty() ? Shape{1} : s; }

/// gather: out[idx] = x[idx with idx[axis] replaced by index[idx]].
void evalGather(const Node &n, const OpDef &def, const ArrayRef &x, const ArrayRef &index, HostArray &out) {
  Shape xs = atLeast1(x.type.shape), is = atLeast1(index.type.shape);
  int64_t axis = opAxis(def, n.attrs, x.type.rank());
  std::vector<int64_t> st = contiguousStrides(xs);
  int64_t axisStride = st[size_t(axis)];
  st[size_t(axis)] = 0;
  const int64_t *pidx = dataOf<int64_t>(index);
  visit<DTypes::Any>(x.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = dataOf<T>(x);
    T *o = dataOf<T>(out);
    forEachIndex(is, [&](int64_t i, const std::vector<int64_t> &idx) {
      int64_t v = checkedIndex(def, pidx, i, axis, xs[size_t(axis)]);
      o[i] = px[offsetOf(idx, st) + v * axisStride];
    });
  });
}

/// scatter_add: out = base, then out[idx with idx[axis] replaced by index[idx]] += src[idx] for
/// every idx of index in row-major order, adding in the dtype (i64 wraps).
void evalScatterAdd(const Node &n, const OpDef &def, const ArrayRef &base, const ArrayRef &index, const ArrayRef &src,
                    HostArray &out) {
  Shape bs = atLeast1(base.type.shape), is = atLeast1(index.type.shape), ss = atLeast1(src.type.shape);
  int64_t axis = opAxis(def, n.attrs, base.type.rank());
  std::vector<int64_t> st = contiguousStrides(bs), srcSt = contiguousStrides(ss);
  int64_t axisStride = st[size_t(axis)];
  st[size_t(axis)] = 0;
  if (!out.bytes.empty()) std::memcpy(out.bytes.data(), base.data, out.bytes.size());
  const int64_t *pidx = dataOf<int64_t>(index);
  visit<DTypes::Numeric>(base.type.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *ps = dataOf<T>(src);
    T *o = dataOf<T>(out);
    forEachIndex(is, [&](int64_t i, const std::vector<int64_t> &idx) {
      int64_t v = checkedIndex(def, pidx, i, axis, bs[size_t(axis)]);
      T &dst = o[offsetOf(idx, st) + v * axisStride];
      dst = addOf(dst, ps[offsetOf(idx, srcSt)]);
    });
  });
}

// --- nodes ----------------------------------------------------------------------------------

std::string nodeName(const Node &n) {
  return fmt(n.result ? "%" + n.result->name + " = " : std::string(), n.op,
             n.callee.empty() ? "" : " @" + n.callee);
}

std::vector<HostArray> evalKernel(const Node &n, std::span<const ArrayRef> operands) {
  if (!n.region) throw ValueError(fmt("interpret: ", nodeName(n), " has no region"));
  std::vector<Value *> results = n.results();
  if (n.region->outputs.size() != results.size())
    throw ValueError(fmt("interpret: the region of ", nodeName(n), " yields ", n.region->outputs.size(),
                         " values, expected ", results.size()));
  std::vector<HostArray> r = interpret(*n.region, operands);
  for (size_t i = 0; i < r.size(); ++i)
    if (r[i].type != results[i]->type)
      throw ValueError(fmt("interpret: the region of ", nodeName(n), " yields ", r[i].type.str(), " for %",
                           results[i]->name, " but it is typed ", results[i]->type.str()));
  return r;
}

/// The operand arrays must match the node's operand values (count, type, data present).
void checkOperands(const Node &n, std::span<const ArrayRef> operands) {
  if (operands.size() != n.operands.size())
    throw ValueError(fmt("interpret: ", nodeName(n), " has ", n.operands.size(), " operands, got ",
                         operands.size(), " arrays"));
  for (size_t i = 0; i < operands.size(); ++i) {
    DT_ASSERT(n.operands[i], "operand ", i, " of ", nodeName(n), " is null");
    const Type &want = n.operands[i]->type, &got = operands[i].type;
    if (want != got) {
      std::string msg = fmt("interpret: operand ", i, " (%", n.operands[i]->name, ") of ", nodeName(n),
                            " expects ", want.str(), ", got ", got.str());
      if (want.dtype != got.dtype) throw TypeError(msg);
      throw ValueError(msg);
    }
    if (got.numel() > 0 && !operands[i].data)
      throw ValueError(fmt("interpret: operand ", i, " of ", nodeName(n), " has no data"));
  }
}

} // namespace

std::vector<HostArray> evalResults(const Node &n, std::span<const ArrayRef> operands) {
  if (n.moreResults.empty()) {
    std::vector<HostArray> r;
    r.push_back(evalNode(n, operands));
    return r;
  }
  DT_ASSERT(n.op == "kernel", n.op, " node with several results");
  checkOperands(n, operands);
  return evalKernel(n, operands);
}

HostArray evalNode(const Node &n, std::span<const ArrayRef> operands) {
  const OpDef *def = findOp(n.op);
  if (!def) throw ValueError(fmt("interpret: unknown op '", n.op, "'"));
  DT_ASSERT(n.result, n.op, " node without a result");
  checkOperands(n, operands);
  if (def->kind == OpKind::Kernel) {
    if (!n.moreResults.empty())
      throw ValueError(fmt("interpret: ", nodeName(n), " has ", n.numResults(), " results; evaluate it with evalResults"));
    return std::move(evalKernel(n, operands)[0]);
  }

  // A hand-built node may carry a wrong result type; writing through it would overrun buffers.
  std::vector<Type> types;
  for (const ArrayRef &a : operands) types.push_back(a.type);
  Type rule = inferType(*def, types, n.attrs);
  if (rule != n.result->type)
    throw ValueError(fmt("interpret: ", nodeName(n), " is typed ", n.result->type.str(), " but its type rule gives ",
                         rule.str()));

  HostArray out(n.result->type);
  using D = DTypes;
  auto x = [&](size_t i) -> const ArrayRef & { return operands[i]; };
  switch (def->id) {
  case OpId::Neg: mapUnary<D::Numeric>(x(0), out, [](auto v) { return negOf(v); }); break;
  case OpId::Abs: mapUnary<D::Numeric>(x(0), out, [](auto v) { return absOf(v); }); break;
  case OpId::Relu: mapUnary<D::Numeric>(x(0), out, [](auto v) { return reluOf(v); }); break;
  case OpId::Floor: mapUnary<D::Float>(x(0), out, [](auto v) { return std::floor(v); }); break; // exact
  // Transcendentals: in double via libm, rounded once to the dtype.
  case OpId::Exp: mapUnary<D::Float>(x(0), out, [](auto v) { return decltype(v)(std::exp(double(v))); }); break;
  case OpId::Log: mapUnary<D::Float>(x(0), out, [](auto v) { return decltype(v)(std::log(double(v))); }); break;
  case OpId::Sqrt: mapUnary<D::Float>(x(0), out, [](auto v) { return decltype(v)(std::sqrt(double(v))); }); break;
  case OpId::Tanh: mapUnary<D::Float>(x(0), out, [](auto v) { return decltype(v)(std::tanh(double(v))); }); break;
  case OpId::Sigmoid:
    mapUnary<D::Float>(x(0), out, [](auto v) { return decltype(v)(1.0 / (1.0 + std::exp(-double(v)))); });
    break;
  case OpId::Add: mapBinary<D::Numeric>(x(0), x(1), out, [](auto a, auto b) { return addOf(a, b); }); break;
  case OpId::Sub: mapBinary<D::Numeric>(x(0), x(1), out, [](auto a, auto b) { return subOf(a, b); }); break;
  case OpId::Mul: mapBinary<D::Numeric>(x(0), x(1), out, [](auto a, auto b) { return mulOf(a, b); }); break;
  case OpId::Div: mapBinary<D::Float>(x(0), x(1), out, [](auto a, auto b) { return a / b; }); break;
  case OpId::Pow:
    mapBinary<D::Float>(x(0), x(1), out,
                        [](auto a, auto b) { return decltype(a)(std::pow(double(a), double(b))); });
    break;
  case OpId::Maximum: mapBinary<D::Numeric>(x(0), x(1), out, [](auto a, auto b) { return maximumOf(a, b); }); break;
  case OpId::Minimum: mapBinary<D::Numeric>(x(0), x(1), out, [](auto a, auto b) { return minimumOf(a, b); }); break;
  // Comparisons: C++ semantics give "ne is true with NaN, the others false".
  case OpId::Eq: mapBinary<D::Any>(x(0), x(1), out, [](auto a, auto b) { return a == b; }); break;
  case OpId::Ne: mapBinary<D::Any>(x(0), x(1), out, [](auto a, auto b) { return a != b; }); break;
  case OpId::Lt: mapBinary<D::Any>(x(0), x(1), out, [](auto a, auto b) { return a < b; }); break;
  case OpId::Le: mapBinary<D::Any>(x(0), x(1), out, [](auto a, auto b) { return a <= b; }); break;
  case OpId::Gt: mapBinary<D::Any>(x(0), x(1), out, [](auto a, auto b) { return a > b; }); break;
  case OpId::Ge: mapBinary<D::Any>(x(0), x(1), out, [](auto a, auto b) { return a >= b; }); break;
  case OpId::Where: evalWhere(x(0), x(1), x(2), out); break;
  case OpId::Cast: evalCast(x(0), out); break;
  case OpId::Const: evalConst(n, out); break;
  case OpId::MatMul: evalMatMul(x(0), x(1), out); break;
  case OpId::Sum:
  case OpId::Mean:
  case OpId::Max:
  case OpId::Min: evalReduce(def->id, x(0), reduceAxes(*def, n.attrs, x(0).type.rank()), out); break;
  case OpId::ArgMax: evalArgMax(x(0), argAxis(*def, n.attrs, x(0).type.rank()), out); break;
  case OpId::Reshape:
    if (out.bytes.size()) std::memcpy(out.bytes.data(), x(0).data, out.bytes.size());
    break;
  case OpId::Transpose:
  case OpId::Permute: {
    // Result axis i is operand axis perm[i].
    std::vector<int64_t> perm = layoutPerm(*def, n.attrs, x(0).type.rank());
    std::vector<int64_t> own = contiguousStrides(x(0).type.shape), st(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) st[i] = own[size_t(perm[i])];
    gather(x(0), st, out);
    break;
  }
  case OpId::BroadcastTo: gather(x(0), broadcastStrides(x(0).type.shape, out.type.shape), out); break;
  case OpId::Slice: evalSlice(n, *def, x(0), out); break;
  case OpId::Pad: evalPad(n, *def, x(0), out); break;
  case OpId::Concat: evalConcat(n, *def, operands, out); break;
  case OpId::Gather: evalGather(n, *def, x(0), x(1), out); break;
  case OpId::ScatterAdd: evalScatterAdd(n, *def, x(0), x(1), x(2), out); break;
  case OpId::Kernel: DT_ASSERT(false, "kernel nodes are evaluated above"); break;
  }
  return out;
}

std::vector<HostArray> interpret(const Graph &g, std::span<const ArrayRef> inputs) {
  if (inputs.size() != g.inputs.size())
    throw ValueError(fmt("interpret: @", g.name, " takes ", g.inputs.size(), " input", g.inputs.size() == 1 ? "" : "s",
                         ", got ", inputs.size()));
  std::unordered_map<const Value *, ArrayRef> env;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Type &want = g.inputs[i]->type, &got = inputs[i].type;
    if (want != got) {
      std::string msg =
          fmt("interpret: input ", i, " (%", g.inputs[i]->name, ") expects ", want.str(), ", got ", got.str());
      if (want.dtype != got.dtype) throw TypeError(msg);
      throw ValueError(msg);
    }
    if (got.numel() > 0 && !inputs[i].data)
      throw ValueError(fmt("interpret: input ", i, " (%", g.inputs[i]->name, ") has no data"));
    env[g.inputs[i]] = inputs[i];
  }

  std::unordered_map<const Value *, HostArray> results; // node-stable: ArrayRefs into it stay valid
  std::vector<ArrayRef> operands;
  for (const auto &n : g.nodes) {
    operands.clear();
    for (const Value *v : n->operands) {
      auto it = env.find(v);
      if (it == env.end())
        throw ValueError(fmt("interpret: operand %", v ? v->name : "?", " of ", nodeName(*n), " is not defined before use"));
      operands.push_back(it->second);
    }
    if (n->moreResults.empty()) {
      HostArray &r = results[n->result] = evalNode(*n, operands);
      env[n->result] = r.ref();
      continue;
    }
    std::vector<HostArray> rs = evalResults(*n, operands);
    std::vector<Value *> vs = n->results();
    for (size_t i = 0; i < vs.size(); ++i) {
      HostArray &r = results[vs[i]] = std::move(rs[i]);
      env[vs[i]] = r.ref();
    }
  }

  std::vector<HostArray> outs;
  for (const Value *v : g.outputs) {
    auto it = env.find(v);
    if (it == env.end()) throw ValueError(fmt("interpret: output %", v ? v->name : "?", " of @", g.name, " is not defined"));
    HostArray copy(it->second.type);
    if (copy.bytes.size()) std::memcpy(copy.bytes.data(), it->second.data, copy.bytes.size());
    outs.push_back(std::move(copy));
  }
  return outs;
}

} // namespace dt::ir
