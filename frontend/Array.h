// dt::Array: a typed, contiguous host array backed by a runtime buffer. It is what compiled
// graphs take and return through the C++ API.
#pragma once

#include "ir/Types.h"
#include "runtime/Buffer.h"

#include <memory>
#include <string>
#include <vector>

namespace dt {

struct Array {
  ir::Type type;
  std::shared_ptr<rt::Buffer> buffer;

  /// Zero-filled.
  static Array zeros(ir::Type t);
  /// From row-major values converted to dtype `dt` (size must equal the shape's element count).
  static Array fromValues(ir::DType dt, ir::Shape shape, const std::vector<double> &values);
  /// All elements as double, row-major.
  std::vector<double> toValues() const;

  template <typename T> T *data() const { return static_cast<T *>(buffer->data()); }
  /// Like numpy's repr, e.g. `f32[2,2] [[1, 2], [3, 4]]`.
  std::string str() const;
};

} // namespace dt
