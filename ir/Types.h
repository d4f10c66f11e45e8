// Element types, shapes and tensor types of the IR: the static facts every value carries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dt::ir {

enum class DType : uint8_t { F32, F64, I64, Bool };

constexpr DType kAllDTypes[] = {DType::F32, DType::F64, DType::I64, DType::Bool};

/// "f32", "f64", "i64", "bool".
std::string_view dtypeName(DType t);
std::optional<DType> parseDType(std::string_view name);
/// Bytes per element (bool is one byte, 0 or 1).
size_t dtypeSize(DType t);
inline bool isFloat(DType t) { return t == DType::F32 || t == DType::F64; }

using Shape = std::vector<int64_t>;

/// "[2,3]"; "[]" for a scalar.
std::string shapeStr(const Shape &s);
/// The element count; saturates at INT64_MAX instead of overflowing.
int64_t numElements(const Shape &s);
/// Row-major strides in elements.
std::vector<int64_t> contiguousStrides(const Shape &s);

/// NumPy broadcasting of two shapes; nullopt when they do not broadcast.
std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b);

/// A tensor type: dtype and static shape. Printed "f32[64,128]", "bool[]".
struct Type {
  DType dtype = DType::F32;
  Shape shape;

  int64_t rank() const { return int64_t(shape.size()); }
  int64_t numel() const { return numElements(shape); }
  size_t bytes() const { return size_t(numel()) * dtypeSize(dtype); }
  std::string str() const;
  bool operator==(const Type &o) const = default;
};

} // namespace dt::ir
