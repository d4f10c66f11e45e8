// The eager API's shape functions and indexing: reshape/view (views whenever the strides allow,
// as PyTorch's computeStride), squeeze/unsqueeze/flatten/expand, cat/stack/gather/one_hot, and
// x[...] / x[...] = v: ints and slices are strided views recorded as `slice` (+ reshape),
// integer tensors index with gather, bool masks become integer tensors.
#include "frontend/TensorOps.h"

#include "frontend/TensorOpsDetail.h"
#include "frontend/Trace.h"
#include "ir/Error.h"
#include "ir/Ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>

namespace dt {

using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::OpId;
using ir::Shape;
using namespace detail;

namespace {

std::string sizeStr(const Shape &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void needDefined(const Tensor &x, const char *who) {
  if (!x.defined()) throw ValueError(fmt(who, ": the operand is an undefined tensor"));
}

} // namespace

// --- reshape and views ----------------------------------------------------------------------

std::optional<std::vector<int64_t>> viewStrides(const Shape &oldShape, const std::vector<int64_t> &oldStrides,
                                                const Shape &newShape) {
  std::vector<int64_t> newStrides(newShape.size());
  if (ir::numElements(oldShape) == 0 || oldShape.empty()) {
    // No elements (any strides do), or a scalar viewed as [1, 1, ...].
    return oldShape == newShape ? oldStrides : ir::contiguousStrides(newShape);
  }
  // PyTorch's computeStride: walk chunks of the old shape that are contiguous among
  // themselves; the new dims must tile each chunk exactly.
  int64_t viewD = int64_t(newShape.size()) - 1;
  int64_t chunkBaseStride = oldStrides.back();
  int64_t tensorNumel = 1, viewNumel = 1;
  for (int64_t tensorD = int64_t(oldShape.size()) - 1; tensorD >= 0; --tensorD) {
    tensorNumel *= oldShape[tensorD];
    if (tensorD == 0 ||
        (oldShape[tensorD - 1] != 1 && oldStrides[tensorD - 1] != tensorNumel * chunkBaseStride)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
        newStrides[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= newShape[viewD];
        --viewD;
      }
      if (viewNumel != tensorNumel) return std::nullopt;
      if (tensorD > 0) {
        chunkBaseStride = oldStrides[tensorD - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD != -1) return std::nullopt;
  return newStrides;
}

Tensor reshape(const Tensor &x, const Shape &shape) {
  needDefined(x, "reshape");
  return apply(OpId::Reshape, {x}, {{"shape", Attr::ints(shape)}});
}

Tensor view(const Tensor &x, const Shape &shape) {
  needDefined(x, "view");
  AttrMap attrs{{"shape", Attr::ints(shape)}};
  ir::Type t = ir::inferType(ir::opDef(OpId::Reshape), std::vector<ir::Type>{x.type()}, attrs);
  if (x.isContiguous()) return apply(OpId::Reshape, {x}, attrs);
  if (t.shape == x.shape()) { // an alias: the identity permutation keeps any strides
    std::vector<int64_t> dims(size_t(x.dim()));
    std::iota(dims.begin(), dims.end(), 0);
    return apply(OpId::Permute, {x}, {{"dims", Attr::ints(dims)}});
  }
  if (!viewStrides(x.shape(), x.strides(), t.shape))
    throw std::runtime_error("view size is not compatible with input tensor's size and stride (at least one dimension "
                             "spans across two contiguous subspaces). Use .reshape(...) instead.");
  return apply(OpId::Reshape, {x}, attrs); // a strided view (see layoutView in Tensor.cpp)
}

Tensor flatten(const Tensor &x, int64_t startDim, int64_t endDim) {
  needDefined(x, "flatten");
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = ir::normalizeAxis(startDim, x.dim(), "flatten"), e = ir::normalizeAxis(endDim, x.dim(), "flatten");
  if (s > e) throw ValueError("flatten() has invalid args: start_dim cannot come after end_dim");
  Shape out(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t i = s; i <= e; ++i) n *= x.shape()[i];
  out.push_back(n);
  out.insert(out.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, out);
}

Tensor squeeze(const Tensor &x, std::optional<int64_t> dim) {
  needDefined(x, "squeeze");
  Shape out;
  if (dim) {
    int64_t d = ir::normalizeAxis(*dim, x.dim(), "squeeze");
    for (int64_t i = 0; i < x.dim(); ++i)
      if (i != d || x.shape()[i] != 1) out.push_back(x.shape()[i]);
  } else {
    for (int64_t s : x.shape())
      if (s != 1) out.push_back(s);
  }
  return reshape(x, out);
}

Tensor unsqueeze(const Tensor &x, int64_t dim) {
  needDefined(x, "unsqueeze");
  int64_t d = ir::normalizeAxis(dim, x.dim() + 1, "unsqueeze");
  Shape out = x.shape();
  out.insert(out.begin() + d, 1);
  return reshape(x, out);
}

Tensor transpose(const Tensor &x, int64_t dim0, int64_t dim1) {
  needDefined(x, "transpose");
  if (x.dim() < 2) {
    ir::normalizeAxis(dim0, x.dim(), "transpose");
    ir::normalizeAxis(dim1, x.dim(), "transpose");
    return reshape(x, x.shape());
  }
  return apply(OpId::Transpose, {x}, {{"dim0", Attr(dim0)}, {"dim1", Attr(dim1)}});
}

Tensor permute(const Tensor &x, const std::vector<int64_t> &dims) {
  needDefined(x, "permute");
  return apply(OpId::Permute, {x}, {{"dims", Attr::ints(dims)}});
}

Tensor t(const Tensor &x) {
  needDefined(x, "t");
  if (x.dim() > 2) throw ValueError(fmt("t() expects a tensor with <= 2 dimensions, but self is ", x.dim(), "D"));
  return transpose(x, 0, x.dim() < 2 ? 0 : 1);
}

Tensor reverseDims(const Tensor &x) {
  needDefined(x, "T");
  std::vector<int64_t> dims(size_t(x.dim()));
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = x.dim() - 1 - i;
  return permute(x, dims);
}

Tensor expand(const Tensor &x, const Shape &sizes) {
  needDefined(x, "expand");
  int64_t lead = int64_t(sizes.size()) - x.dim();
  if (lead < 0)
    throw ValueError(fmt("expand: the number of sizes provided (", sizes.size(),
                         ") must be greater or equal to the number of dimensions in the tensor (", x.dim(), ")"));
  Shape target = sizes;
  for (int64_t i = 0; i < int64_t(sizes.size()); ++i) {
    if (i < lead) {
      if (sizes[i] < 0)
        throw ValueError(fmt("expand: the expanded size of the tensor (", sizes[i],
                             ") isn't allowed in a leading, non-existing dimension ", i));
      continue;
    }
    int64_t have = x.shape()[i - lead];
    if (sizes[i] == -1) target[i] = have;
    else if (have != 1 && have != sizes[i])
      throw ValueError(fmt("expand: the expanded size of the tensor (", sizes[i], ") must match the existing size (",
                           have, ") at non-singleton dimension ", i, ".  Target sizes: ", sizeStr(sizes),
                           ".  Tensor sizes: ", sizeStr(x.shape())));
  }
  return broadcastTo(x, target);
}

Tensor broadcastTo(const Tensor &x, const Shape &shape) {
  needDefined(x, "broadcast_to");
  if (x.shape() == shape) return x;
  checkShape(shape, "broadcast_to");
  return apply(OpId::BroadcastTo, {x}, {{"shape", Attr::ints(shape)}});
}

// --- joining and gathering ------------------------------------------------------------------

Tensor cat(const std::vector<Tensor> &xs, int64_t dim) {
  if (xs.empty()) throw ValueError("cat(): expected a non-empty list of Tensors");
  std::vector<Operand> ops;
  for (const Tensor &x : xs) {
    needDefined(x, "cat");
    ops.push_back(x);
  }
  int64_t rank = xs[0].dim();
  if (rank == 0) throw ValueError("cat: zero-dimensional tensor (at position 0) cannot be concatenated");
  int64_t d = ir::normalizeAxis(dim, rank, "cat");
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i].dim() != rank)
      throw ValueError(fmt("cat: Tensors must have same number of dimensions: got ", rank, " and ", xs[i].dim(),
                           " (tensor 0 is ", xs[0].type().str(), ", tensor ", i, " is ", xs[i].type().str(), ")"));
    for (int64_t k = 0; k < rank; ++k)
      if (k != d && xs[i].shape()[k] != xs[0].shape()[k])
        throw ValueError(fmt("cat: Sizes of tensors must match except in dimension ", d, ". Expected size ",
                             xs[0].shape()[k], " but got size ", xs[i].shape()[k], " for tensor number ", i,
                             " in the list (", xs[0].type().str(), " and ", xs[i].type().str(), ")"));
  }
  DType dt = resultType(ops);
  std::vector<Tensor> parts;
  for (const Tensor &x : xs) parts.push_back(to(x, dt));
  return apply(OpId::Concat, parts, {{"axis", Attr(d)}});
}

Tensor stack(const std::vector<Tensor> &xs, int64_t dim) {
  if (xs.empty()) throw ValueError("stack expects a non-empty TensorList");
  for (const Tensor &x : xs) needDefined(x, "stack");
  for (size_t i = 1; i < xs.size(); ++i)
    if (xs[i].shape() != xs[0].shape())
      throw ValueError(fmt("stack expects each tensor to be equal size, but got ", sizeStr(xs[0].shape()),
                           " at entry 0 and ", sizeStr(xs[i].shape()), " at entry ", i));
  int64_t d = ir::normalizeAxis(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (const Tensor &x : xs) parts.push_back(unsqueeze(x, d));
  return cat(parts, d);
}

Tensor gather(const Tensor &x, int64_t dim, const Tensor &index) {
  needDefined(x, "gather");
  needDefined(index, "gather");
  if (index.dtype() != DType::I64)
    throw TypeError(fmt("gather(): Expected dtype int64 for index, got ", torchTypeName(index.dtype())));
  int64_t rank = std::max<int64_t>(x.dim(), 1);
  if (std::max<int64_t>(index.dim(), 1) != rank)
    throw ValueError(fmt("gather: Index tensor must have the same number of dimensions as input tensor (input ",
                         x.type().str(), ", index ", index.type().str(), ")"));
  int64_t d = ir::normalizeAxis(dim, x.dim(), "gather");
  if (x.dim() == 0 || index.dim() == 0) {
    Tensor x1 = reshape(x, {x.numel()}), i1 = reshape(index, {index.numel()});
    return reshape(gather(x1, 0, i1), index.shape());
  }
  for (int64_t k = 0; k < rank; ++k)
    if (k != d && index.shape()[k] > x.shape()[k])
      throw ValueError(fmt("gather: Size does not match at dimension ", k, " expected index ", index.type().str(),
                           " to be smaller than self ", x.type().str(), " apart from dimension ", d));
  int64_t n = x.shape()[d];
  // Checked here when the values exist; a traced index is checked by the compiled kernel.
  if (!traceHidesValue(index.impl()))
    for (int64_t v : hostInts(index))
      if (v < 0 || v >= n)
        throw IndexError(fmt("index ", v, " is out of bounds for dimension ", d, " with size ", n));
  return apply(OpId::Gather, {x, index}, {{"axis", Attr(d)}});
}

Tensor scatterAdd(const Tensor &x, int64_t dim, const Tensor &index, const Tensor &src) {
  needDefined(x, "scatter_add");
  needDefined(index, "scatter_add");
  needDefined(src, "scatter_add");
  if (index.dtype() != DType::I64)
    throw TypeError(fmt("scatter_add(): Expected dtype int64 for index, got ", torchTypeName(index.dtype())));
  if (src.dtype() != x.dtype())
    throw TypeError(fmt("scatter_add(): Expected self.dtype to be equal to src.dtype (", torchTypeName(x.dtype()),
                        " and ", torchTypeName(src.dtype()), ")"));
  int64_t d = ir::normalizeAxis(dim, x.dim(), "scatter_add");
  if (x.dim() == 0 || index.dim() == 0 || src.dim() == 0) {
    if (x.dim() > 1 || index.dim() > 1 || src.dim() > 1)
      throw ValueError(fmt("scatter_add: Index tensor must have the same number of dimensions as self tensor (self ",
                           x.type().str(), ", index ", index.type().str(), ", src ", src.type().str(), ")"));
    Tensor r = scatterAdd(reshape(x, {x.numel()}), 0, reshape(index, {index.numel()}), reshape(src, {src.numel()}));
    return reshape(r, x.shape());
  }
  if (index.dim() != x.dim() || src.dim() != x.dim())
    throw ValueError(fmt("scatter_add: Index tensor must have the same number of dimensions as self tensor (self ",
                         x.type().str(), ", index ", index.type().str(), ", src ", src.type().str(), ")"));
  int64_t n = x.shape()[d];
  // Checked here when the values exist; a traced index is checked by the compiled kernel.
  if (!traceHidesValue(index.impl()))
    for (int64_t v : hostInts(index))
      if (v < 0 || v >= n)
        throw IndexError(fmt("index ", v, " is out of bounds for dimension ", d, " with size ", n));
  return apply(OpId::ScatterAdd, {x, index, src}, {{"axis", Attr(d)}});
}

Tensor pad(const Tensor &x, const std::vector<int64_t> &pads, Scalar value) {
  needDefined(x, "pad");
  if (pads.size() % 2) throw ValueError(fmt("pad: Padding length must be divisible by 2, got ", pads.size()));
  if (int64_t(pads.size() / 2) > x.dim())
    throw ValueError(fmt("pad: Padding length should be less than or equal to two times the input dimension but got "
                         "padding length ", pads.size(), " and input of dimension ", x.dim()));
  int64_t rank = x.dim();
  std::vector<int64_t> low(size_t(rank), 0), high(size_t(rank), 0);
  for (size_t k = 0; k < pads.size() / 2; ++k) {
    low[size_t(rank) - 1 - k] = pads[2 * k];
    high[size_t(rank) - 1 - k] = pads[2 * k + 1];
  }
  // Negative padding crops first.
  std::vector<int64_t> starts(size_t(rank), 0), ends = x.shape();
  bool crop = false;
  for (int64_t a = 0; a < rank; ++a) {
    if (low[a] < 0) starts[a] = -low[a], low[a] = 0, crop = true;
    if (high[a] < 0) ends[a] += high[a], high[a] = 0, crop = true;
    if (ends[a] < starts[a])
      throw ValueError(fmt("pad: The input size ", x.shape()[a], ", plus negative padding ", -starts[a], " and ",
                           ends[a] - x.shape()[a], " resulted in a negative output size, which is invalid. Check "
                           "dimension ", a, " of your input."));
  }
  Tensor c = crop ? apply(OpId::Slice, {x}, {{"starts", Attr::ints(starts)}, {"ends", Attr::ints(ends)}}) : x;
  AttrMap attrs{{"low", Attr::ints(low)}, {"high", Attr::ints(high)}};
  Tensor r = apply(OpId::Pad, {c}, attrs);
  bool zero = value.kind == Scalar::Kind::Float ? value.v == 0 && !std::signbit(value.v) : value.i == 0;
  if (zero) return r;
  Tensor inside = apply(OpId::Pad, {full(c.shape(), Scalar(true), DType::Bool)}, attrs);
  return dt::where(inside, r, scalarTensor(value, x.dtype()));
}

Tensor oneHot(const Tensor &indices, int64_t numClasses) {
  needDefined(indices, "one_hot");
  if (indices.dtype() != DType::I64)
    throw TypeError("one_hot is only applicable to index tensor of type LongTensor.");
  if (numClasses >= 0 && traceHidesValue(indices.impl())) {
    // Traced: the class values are unknown until the compiled program runs. They pass through a
    // gather from the class list, whose kernel rejects a value outside [0, num_classes) with an
    // IndexError, so a bad class raises there rather than give a zero row. (num_classes=-1 needs
    // the largest value now: hostInts below raises TraceError.)
    Tensor classes = arange(Scalar(0), Scalar(static_cast<long long>(numClasses)));
    Tensor checked = reshape(gather(classes, 0, reshape(indices, {indices.numel()})), indices.shape());
    return to(eq(unsqueeze(checked, -1), classes), DType::I64);
  }
  std::vector<int64_t> v = hostInts(indices);
  if (numClasses < 0) {
    if (numClasses != -1) throw ValueError(fmt("one_hot: num_classes should be -1 or positive, got ", numClasses));
    if (v.empty()) throw std::runtime_error("Can not infer total number of classes from empty tensor.");
    numClasses = *std::max_element(v.begin(), v.end()) + 1;
  }
  for (int64_t c : v) {
    if (c < 0) throw std::runtime_error("Class values must be non-negative.");
    if (c >= numClasses) throw std::runtime_error("Class values must be smaller than num_classes.");
  }
  Tensor classes = arange(Scalar(0), Scalar(static_cast<long long>(numClasses)));
  return to(eq(unsqueeze(indices, -1), classes), DType::I64);
}

// --- indexing -------------------------------------------------------------------------------

namespace {

/// x[items] split into its parts: the slice of every axis, the reshape that drops int-indexed
/// axes and inserts new ones, and the tensor indices with their axis in the reshaped result.
struct IndexPlan {
  std::vector<int64_t> starts, ends, steps;
  Shape viewShape;                            ///< after the slice and the reshape
  std::vector<std::pair<int64_t, Tensor>> tensors; ///< (axis in viewShape, i64 index)
  bool sliced = false;
};

/// An index item after bool masks were expanded; `mask` is set for the index tensors a mask
/// became (its shape, and which of its dims this one is) so the mask's shape can be checked.
struct Item {
  IndexItem item;
  const Tensor *mask = nullptr;
  int64_t maskDim = 0;
};

/// Bool masks become one i64 index per mask dimension (their nonzero positions).
std::vector<Item> expandMasks(const std::vector<IndexItem> &items) {
  std::vector<Item> out;
  for (const IndexItem &it : items) {
    const Tensor *t = std::get_if<Tensor>(&it);
    if (!t || !t->defined() || t->dtype() != DType::Bool) {
      out.push_back({it});
      continue;
    }
    if (t->dim() == 0) throw IndexError("indexing with a 0-dimensional bool tensor is not supported");
    if (traceHidesValue(t->impl())) traceValueNeeded("indexing with a bool mask (the result's shape depends on its values)");
    std::vector<int64_t> m = hostInts(*t);
    std::vector<int64_t> strides = ir::contiguousStrides(t->shape());
    std::vector<std::vector<int64_t>> coords(size_t(t->dim()));
    for (int64_t flat = 0; flat < int64_t(m.size()); ++flat) {
      if (!m[flat]) continue;
      for (int64_t k = 0; k < t->dim(); ++k) coords[k].push_back(flat / strides[k] % t->shape()[k]);
    }
    for (int64_t k = 0; k < t->dim(); ++k)
      out.push_back({intTensor({int64_t(coords[k].size())}, coords[k]), t, k});
  }
  return out;
}

/// Entries of a slice start:stop:step (0 <= start <= stop, step >= 1), without overflow.
int64_t sliceLength(int64_t start, int64_t stop, int64_t step) {
  return stop == start ? 0 : 1 + (stop - start - 1) / step;
}

IndexPlan planIndex(const Tensor &x, const std::vector<IndexItem> &items) {
  std::vector<Item> expanded = expandMasks(items);
  int64_t consuming = 0, ellipses = 0;
  for (const Item &it : expanded) {
    if (std::holds_alternative<EllipsisItem>(it.item)) ++ellipses;
    else if (!std::holds_alternative<NewAxis>(it.item)) ++consuming;
  }
  if (ellipses > 1) throw IndexError("an index can only have a single ellipsis ('...')");
  if (consuming > x.dim())
    throw IndexError(fmt("too many indices for tensor of dimension ", x.dim()));

  IndexPlan p;
  p.starts.assign(size_t(x.dim()), 0);
  p.steps.assign(size_t(x.dim()), 1);
  p.ends = x.shape();
  int64_t axis = 0;
  auto fullAxis = [&] { p.viewShape.push_back(x.shape()[axis++]); };
  for (const Item &entry : expanded) {
    const IndexItem &it = entry.item;
    if (std::holds_alternative<EllipsisItem>(it)) {
      for (int64_t k = 0; k < x.dim() - consuming; ++k) fullAxis();
    } else if (std::holds_alternative<NewAxis>(it)) {
      p.viewShape.push_back(1);
    } else if (const int64_t *i = std::get_if<int64_t>(&it)) {
      int64_t n = x.shape()[axis];
      if (*i < -n || *i >= n)
        throw IndexError(fmt("index ", *i, " is out of bounds for dimension ", axis, " with size ", n));
      int64_t at = *i < 0 ? *i + n : *i;
      p.starts[axis] = at;
      p.ends[axis] = at + 1;
      ++axis; // dropped by the reshape
    } else if (const Slice *s = std::get_if<Slice>(&it)) {
      int64_t n = x.shape()[axis];
      int64_t step = s->step.value_or(1);
      if (step <= 0) throw ValueError("step must be greater than zero");
      auto clampIdx = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
      int64_t start = s->start ? clampIdx(*s->start) : 0;
      int64_t stop = s->stop ? clampIdx(*s->stop) : n;
      stop = std::max(stop, start);
      int64_t len = sliceLength(start, stop, step);
      if (len <= 1) { // the step does not matter (and a huge one would overflow the view's stride)
        step = 1;
        stop = start + len;
      }
      p.starts[axis] = start;
      p.ends[axis] = stop;
      p.steps[axis] = step;
      p.viewShape.push_back(len);
      ++axis;
    } else {
      const Tensor &t = std::get<Tensor>(it);
      if (!t.defined()) throw ValueError("index: an index tensor is undefined");
      if (t.dtype() != DType::I64)
        throw IndexError(fmt("tensors used as indices must be long, int, byte or bool tensors, got ",
                             torchTypeName(t.dtype())));
      if (entry.mask && entry.mask->shape()[entry.maskDim] != x.shape()[axis])
        throw IndexError(fmt("The shape of the mask ", sizeStr(entry.mask->shape()), " at index ", entry.maskDim,
                             " does not match the shape of the indexed tensor ", sizeStr(x.shape()), " at index ",
                             axis));
      p.tensors.emplace_back(int64_t(p.viewShape.size()), t);
      fullAxis();
    }
  }
  while (axis < x.dim()) fullAxis();
  for (int64_t k = 0; k < x.dim(); ++k)
    if (p.starts[k] != 0 || p.ends[k] != x.shape()[k] || p.steps[k] != 1) p.sliced = true;
  return p;
}

/// The basic-indexing view of x (slice + reshape), without the tensor indices.
Tensor basicView(const Tensor &x, const IndexPlan &p) {
  Tensor v = x;
  if (p.sliced)
    v = apply(OpId::Slice, {x},
              {{"starts", Attr::ints(p.starts)}, {"ends", Attr::ints(p.ends)}, {"steps", Attr::ints(p.steps)}});
  if (v.shape() != p.viewShape) v = reshape(v, p.viewShape);
  if (v.implPtr() == x.implPtr()) v = view(x, x.shape()); // x[...] is a new view, never x itself
  return v;
}

/// Broadcast i64 index values to `shape` (host).
std::vector<int64_t> broadcastValues(const Tensor &idx, const Shape &shape) {
  Tensor b = noGrad([&] { return broadcastTo(idx, shape); });
  return hostInts(b);
}

/// Advanced indexing of v by (axis, index) pairs, PyTorch's placement rules.
Tensor advancedIndex(const Tensor &v, const std::vector<std::pair<int64_t, Tensor>> &tensors) {
  // Broadcast the index shapes together.
  Shape b;
  for (size_t j = 0; j < tensors.size(); ++j) {
    auto s = ir::broadcastShapes(b, tensors[j].second.shape());
    if (!s) {
      std::string shapes;
      for (size_t k = 0; k < tensors.size(); ++k) shapes += (k ? ", " : "") + sizeStr(tensors[k].second.shape());
      throw IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes " + shapes);
    }
    b = *s;
  }
  int64_t n = ir::numElements(b);
  // The linear index into the merged indexed axes, range-checked and normalized on the host; or,
  // while tracing index tensors whose values are unknown, normalized by tensor ops and checked at
  // run time by gathers' kernels (IndexError): one index tensor by the gather below itself;
  // several each by a gather from [0, size) first (an out-of-range index could land in range
  // once merged), then merged.
  std::vector<int64_t> linear(size_t(n), 0);
  std::optional<Tensor> traced;
  bool anyTraced = false;
  for (const auto &[axis, idx] : tensors) anyTraced = anyTraced || traceHidesValue(idx.impl());
  int64_t merged = 1;
  for (const auto &[axis, idx] : tensors) {
    int64_t size = v.shape()[axis];
    merged *= size;
    if (anyTraced) {
      Scalar s(static_cast<long long>(size));
      Tensor norm = where(lt(idx, Scalar(0)), add(idx, s), idx);
      if (tensors.size() == 1) {
        traced = norm;
        break;
      }
      Tensor checked = reshape(gather(arange(Scalar(0), s), 0, reshape(norm, {norm.numel()})), norm.shape());
      checked = broadcastTo(checked, b);
      traced = traced ? add(mul(*traced, s), checked) : checked;
      continue;
    }
    std::vector<int64_t> vals = broadcastValues(idx, b);
    for (int64_t k = 0; k < n; ++k) {
      int64_t i = vals[k];
      if (i < -size || i >= size)
        throw IndexError(fmt("index ", i, " is out of bounds for dimension ", axis, " with size ", size));
      linear[k] = linear[k] * size + (i < 0 ? i + size : i);
    }
  }
  // Eager rows of a contiguous tensor, nothing to differentiate (a DataLoader's batch,
  // x[idx]): the indices are checked above, so the rows are copied as they are.
  if (tensors.size() == 1 && tensors[0].first == 0 && !activeTrace() && !(gradEnabled() && v.requiresGrad()) &&
      v.isContiguous()) {
    Shape outShape = b;
    outShape.insert(outShape.end(), v.shape().begin() + 1, v.shape().end());
    Tensor r = Tensor::empty(v.dtype(), outShape);
    size_t row = size_t(v.numel() / std::max<int64_t>(v.shape()[0], 1)) * ir::dtypeSize(v.dtype());
    if (row > 0) {
      const char *src = static_cast<const char *>(v.data());
      char *dst = static_cast<char *>(r.data());
      for (int64_t k = 0; k < n; ++k) std::memcpy(dst + size_t(k) * row, src + size_t(linear[size_t(k)]) * row, row);
    }
    return r;
  }
  bool adjacent = true;
  for (size_t j = 1; j < tensors.size(); ++j) adjacent = adjacent && tensors[j].first == tensors[j - 1].first + 1;

  // Move the indexed axes to the front, merge them into one, gather along it.
  std::vector<int64_t> perm, rest;
  for (const auto &[axis, idx] : tensors) perm.push_back(axis);
  for (int64_t k = 0; k < v.dim(); ++k)
    if (std::find(perm.begin(), perm.end(), k) == perm.end()) rest.push_back(k);
  perm.insert(perm.end(), rest.begin(), rest.end());
  bool identity = true;
  for (size_t k = 0; k < perm.size(); ++k) identity = identity && perm[k] == int64_t(k);
  Tensor w = identity ? v : permute(v, perm);
  Shape mergedShape{merged}, restShape;
  for (int64_t k : rest) restShape.push_back(v.shape()[k]);
  mergedShape.insert(mergedShape.end(), restShape.begin(), restShape.end());
  w = reshape(w, mergedShape);

  Shape gshape = mergedShape;
  gshape[0] = n;
  Shape ishape(gshape.size(), 1);
  ishape[0] = n;
  Tensor index = broadcastTo(traced ? reshape(*traced, ishape) : intTensor(ishape, linear), gshape);
  Tensor r = apply(OpId::Gather, {w, index}, {{"axis", Attr(int64_t(0))}});

  Shape outShape = b;
  outShape.insert(outShape.end(), restShape.begin(), restShape.end());
  r = reshape(r, outShape);
  int64_t first = tensors[0].first;
  if (!adjacent || first == 0) return r;
  // Adjacent indices: the broadcast dims go where the first indexed axis was.
  std::vector<int64_t> back;
  int64_t nb = int64_t(b.size());
  for (int64_t k = 0; k < first; ++k) back.push_back(nb + k);
  for (int64_t k = 0; k < nb; ++k) back.push_back(k);
  for (int64_t k = nb + first; k < int64_t(outShape.size()); ++k) back.push_back(k);
  return permute(r, back);
}

} // namespace

Tensor index(const Tensor &x, const std::vector<IndexItem> &items) {
  needDefined(x, "index");
  IndexPlan p = planIndex(x, items);
  Tensor v = basicView(x, p);
  if (p.tensors.empty()) return v;
  return advancedIndex(v, p.tensors);
}

void indexPut(Tensor &x, const std::vector<IndexItem> &items, const Operand &value) {
  needDefined(x, "index_put");
  if (value.isTensor()) needDefined(value.tensor(), "index_put");
  checkInplace(x);
  // Which elements of x are written: index a tensor of their (row-major) positions.
  std::vector<int64_t> all(size_t(x.numel()));
  std::iota(all.begin(), all.end(), 0);
  Tensor pos = noGrad([&] { return index(intTensor(x.shape(), all), items); });
  Tensor val = value.isTensor() ? value.tensor() : scalarTensor(value.scalar(), x.dtype());
  auto b = ir::broadcastShapes(val.shape(), pos.shape());
  if (!b || *b != pos.shape())
    throw ValueError(fmt("shape mismatch: value tensor of shape ", sizeStr(val.shape()),
                         " cannot be broadcast to indexing result of shape ", sizeStr(pos.shape())));
  std::vector<int64_t> where = hostInts(pos);

  if (!inplaceNeedsAutograd(x, value)) {
    Tensor src = noGrad([&] { return broadcastTo(to(val, x.dtype()), pos.shape()).contiguous(); });
    if (src.impl().storage == x.impl().storage) src = clone(src);
    const char *s = static_cast<const char *>(src.data());
    char *base = static_cast<char *>(x.data());
    size_t es = ir::dtypeSize(x.dtype());
    std::vector<int64_t> cs = ir::contiguousStrides(x.shape());
    for (size_t k = 0; k < where.size(); ++k) {
      int64_t off = 0;
      for (int64_t d = 0; d < x.dim(); ++d) off += where[k] / cs[d] % x.shape()[d] * x.strides()[d];
      std::memcpy(base + off * int64_t(es), s + k * es, es);
    }
    return;
  }
  // Recorded: x = where(mask, scatter of the value, x). (Duplicate positions add up here,
  // where PyTorch keeps one of the writes.)
  std::vector<int64_t> mask(size_t(x.numel()), 0);
  for (int64_t w : where) mask[size_t(w)] = 1;
  Tensor m = noGrad([&] { return to(intTensor(x.shape(), mask), DType::Bool); });
  Tensor flatVal = reshape(broadcastTo(to(val, x.dtype()), pos.shape()), {pos.numel()});
  Tensor scattered = apply(OpId::ScatterAdd, {zeros({x.numel()}, x.dtype()), intTensor({pos.numel()}, where), flatVal},
                           {{"axis", Attr(int64_t(0))}});
  rebind(x, dt::where(m, reshape(scattered, x.shape()), x));
}

} // namespace dt
