// Helpers shared by frontend/TensorOps.cpp and frontend/TensorIndexing.cpp (not a public API).
#pragma once

#include "frontend/TensorOps.h"
#include "ir/Ops.h"

#include <string>
#include <vector>

namespace dt::detail {

/// Throws dt::ValueError when `shape` has a negative size or more than 2^56 elements (so sizes
/// never overflow).
void checkShape(const ir::Shape &shape, const char *who);
/// {"dtype": "f32"} for a cast.
ir::AttrMap castAttrs(ir::DType dt);
/// {"axes": dims (omitted when absent), "keepdim": keepdim} for a reduction.
ir::AttrMap reduceAttrs(const std::optional<std::vector<int64_t>> &dims, bool keepdim);
/// The values of an integer (or bool) tensor, read on the host (no autograd).
std::vector<int64_t> hostInts(const Tensor &x);
/// A new contiguous i64 tensor holding `values`.
Tensor intTensor(const ir::Shape &shape, const std::vector<int64_t> &values);
/// The shape with `dims` (normalized, sorted) reduced away (or kept as 1).
ir::Shape reducedShape(const ir::Shape &shape, const std::vector<int64_t> &dims, bool keepdim);
/// Normalized, sorted, de-duplicated-checked dims; all dims when absent or empty.
std::vector<int64_t> normalizeDims(const std::optional<std::vector<int64_t>> &dims, int64_t rank, const char *who);

/// Throws PyTorch's RuntimeError when `x` may not be updated in place in grad mode (a leaf that
/// requires grad, or a view of one).
void checkInplace(const Tensor &x);
/// Writes `value` (x's dtype, broadcastable to x's shape) into x's storage, respecting x's
/// strides. No autograd.
void writeInto(const Tensor &x, const Tensor &value);
/// Makes every handle of `x` see `r` (storage, layout and autograd history): the out-of-place
/// form of an in-place update in grad mode.
void rebind(const Tensor &x, const Tensor &r);
/// Whether an in-place update of `x` by `other` is recorded (grad mode on and either requires
/// grad); otherwise it is written into x's storage.
bool inplaceNeedsAutograd(const Tensor &x, const Operand &other);

/// Runs `f` with grad mode off.
template <typename F> auto noGrad(F &&f) {
  NoGradGuard g;
  return f();
}

} // namespace dt::detail
