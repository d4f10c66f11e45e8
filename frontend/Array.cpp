// dt::Array: construction from values, conversion back to doubles, and a numpy-like repr.
#include "frontend/Array.h"

#include "ir/Error.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace dt {

namespace {

/// Past this many elements str() shows only the first and last kEdgeItems of each long axis.
constexpr int64_t kSummaryThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

/// double -> i64 as the IR's cast does: truncate toward zero, saturate, NaN -> 0.
int64_t toI64(double x) {
  if (std::isnan(x)) return 0;
  if (x >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  if (x < -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return int64_t(x);
}

void storeValue(ir::DType dt, void *base, int64_t i, double x) {
  switch (dt) {
  case ir::DType::F32: static_cast<float *>(base)[i] = float(x); return;
  case ir::DType::F64: static_cast<double *>(base)[i] = x; return;
  case ir::DType::I64: static_cast<int64_t *>(base)[i] = toI64(x); return;
  case ir::DType::Bool: static_cast<uint8_t *>(base)[i] = x != 0 ? 1 : 0; return; // NaN -> true
  }
  DT_ASSERT(false, "unhandled dtype");
}

double loadValue(ir::DType dt, const void *base, int64_t i) {
  switch (dt) {
  case ir::DType::F32: return static_cast<const float *>(base)[i];
  case ir::DType::F64: return static_cast<const double *>(base)[i];
  case ir::DType::I64: return double(static_cast<const int64_t *>(base)[i]);
  case ir::DType::Bool: return static_cast<const uint8_t *>(base)[i] != 0 ? 1.0 : 0.0;
  }
  DT_ASSERT(false, "unhandled dtype");
}

std::string formatElement(ir::DType dt, const void *base, int64_t i) {
  char buf[64];
  switch (dt) {
  case ir::DType::F32:
    std::snprintf(buf, sizeof buf, "%.6g", double(static_cast<const float *>(base)[i]));
    return buf;
  case ir::DType::F64:
    std::snprintf(buf, sizeof buf, "%.6g", static_cast<const double *>(base)[i]);
    return buf;
  case ir::DType::I64:
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(static_cast<const int64_t *>(base)[i]));
    return buf;
  case ir::DType::Bool: return static_cast<const uint8_t *>(base)[i] != 0 ? "true" : "false";
  }
  DT_ASSERT(false, "unhandled dtype");
}

/// The buffer must exist and hold exactly the type's bytes before anyone reads it.
void checkStorage(const Array &a, std::string_view what) {
  if (!a.buffer) throw ValueError(fmt(what, ": array of type ", a.type.str(), " has no buffer"));
  if (a.buffer->size() != a.type.bytes())
    throw ValueError(fmt(what, ": array of type ", a.type.str(), " needs ", a.type.bytes(), " bytes, its buffer holds ",
                         a.buffer->size()));
}

void checkShape(const ir::Shape &s, std::string_view what) {
  for (int64_t d : s)
    if (d < 0) throw ValueError(fmt(what, ": shape ", ir::shapeStr(s), " has a negative size"));
}

/// Appends axis `dim` of the block starting at element `offset` to `out`, numpy style.
void formatAxis(const Array &a, const std::vector<int64_t> &strides, size_t dim, int64_t offset, bool summarize,
                std::string &out) {
  const ir::Shape &shape = a.type.shape;
  if (dim == shape.size()) {
    out += formatElement(a.type.dtype, a.buffer->data(), offset);
    return;
  }
  int64_t n = shape[dim];
  bool cut = summarize && n > 2 * kEdgeItems;
  out += '[';
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      out += "..., ";
      i = n - kEdgeItems;
    }
    formatAxis(a, strides, dim + 1, offset + i * strides[dim], summarize, out);
    if (i + 1 < n) out += ", ";
  }
  out += ']';
}

} // namespace

Array Array::zeros(ir::Type t) {
  checkShape(t.shape, "Array.zeros");
  Array a;
  a.buffer = rt::Buffer::allocate(t.bytes());
  a.type = std::move(t);
  return a;
}

Array Array::fromValues(ir::DType dt, ir::Shape shape, const std::vector<double> &values) {
  checkShape(shape, "Array.fromValues");
  int64_t n = ir::numElements(shape);
  if (int64_t(values.size()) != n)
    throw ValueError(fmt("Array.fromValues: shape ", ir::shapeStr(shape), " holds ", n, " elements, got ",
                         values.size(), " values"));
  Array a = zeros({dt, std::move(shape)});
  for (int64_t i = 0; i < n; ++i) storeValue(dt, a.buffer->data(), i, values[size_t(i)]);
  return a;
}

std::vector<double> Array::toValues() const {
  checkStorage(*this, "Array.toValues");
  int64_t n = type.numel();
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = loadValue(type.dtype, buffer->data(), i);
  return out;
}

std::string Array::str() const {
  std::string out = type.str() + " ";
  if (!buffer) return out + "<no buffer>";
  if (buffer->size() != type.bytes()) return out + fmt("<buffer of ", buffer->size(), " bytes>");
  formatAxis(*this, ir::contiguousStrides(type.shape), 0, 0, type.numel() > kSummaryThreshold, out);
  return out;
}

} // namespace dt
