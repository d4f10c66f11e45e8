// The PyTorch-style eager API over dt::apply: dtype promotion (torch.result_type), Python-number
// operands, elementwise/reduction/shape functions, composites (softmax, var, clamp, ...),
// indexing and slicing as views, in-place updates with PyTorch's rules, and creation helpers.
// Every function here is a composition of registry ops run through dt::apply, so each one is
// recorded on the tape and differentiated by the one VJP table.
#pragma once

#include "frontend/Tensor.h"

#include <cstdint>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

namespace dt {

// --- Python numbers ---------------------------------------------------------------------

/// A Python number (PyTorch's "wrapped scalar"): in dtype promotion it only raises the
/// category (bool < integral < floating), it never widens a tensor's dtype within a category.
struct Scalar {
  enum class Kind : uint8_t { Bool, Int, Float };
  double v = 0;      ///< the value (for Int, rounded to double)
  int64_t i = 0;     ///< the exact value for Int and Bool
  Kind kind = Kind::Float;

  Scalar(double x) : v(x), i(int64_t(0)), kind(Kind::Float) {}
  Scalar(float x) : Scalar(double(x)) {}
  Scalar(bool b) : v(b ? 1 : 0), i(b ? 1 : 0), kind(Kind::Bool) {}
  Scalar(int x) : Scalar(static_cast<long long>(x)) {}
  Scalar(long x) : Scalar(static_cast<long long>(x)) {}
  Scalar(long long x) : v(double(x)), i(int64_t(x)), kind(Kind::Int) {}

  /// The dtype a wrapped scalar of this kind has on its own: bool, i64 or f32.
  ir::DType defaultDType() const;
  bool isFloat() const { return kind == Kind::Float; }
};

// --- dtypes and promotion ---------------------------------------------------------------

/// torch.promote_types on our four dtypes: bool < i64 < f32 < f64.
ir::DType promoteTypes(ir::DType a, ir::DType b);
/// torch.can_cast: whether `from` may be written into `to` (no lower category).
bool canCast(ir::DType from, ir::DType to);
/// PyTorch's spelling of a dtype in messages: "Float", "Double", "Long", "Bool".
std::string_view torchTypeName(ir::DType t);

/// A tensor or a Python number: the operand of an elementwise function.
struct Operand {
  std::variant<Tensor, Scalar> v;
  Operand(const Tensor &t) : v(t) {}
  Operand(Scalar s) : v(s) {}
  Operand(double x) : v(Scalar(x)) {}
  Operand(int x) : v(Scalar(x)) {}
  Operand(long x) : v(Scalar(x)) {}
  Operand(long long x) : v(Scalar(x)) {}
  Operand(bool x) : v(Scalar(x)) {}
  bool isTensor() const { return std::holds_alternative<Tensor>(v); }
  const Tensor &tensor() const { return std::get<Tensor>(v); }
  const Scalar &scalar() const { return std::get<Scalar>(v); }
};

/// torch.result_type over several operands: dimensioned tensors first, then zero-dim tensors,
/// then Python numbers, each group only raising the category of the one before.
ir::DType resultType(const std::vector<Operand> &operands);

/// `x` converted to `dt` (x itself when it already has it). Recorded, so gradients flow.
Tensor to(const Tensor &x, ir::DType dt);
/// A 0-d tensor holding `s` converted to `dt`.
Tensor scalarTensor(Scalar s, ir::DType dt);
/// A copy that shares no storage with `x` (recorded: the gradient passes through).
Tensor clone(const Tensor &x);

// --- creation ---------------------------------------------------------------------------

Tensor zeros(const ir::Shape &shape, ir::DType dt = ir::DType::F32);
Tensor ones(const ir::Shape &shape, ir::DType dt = ir::DType::F32);
/// dtype defaults to the value's: bool, i64 or f32 (torch.full).
Tensor full(const ir::Shape &shape, Scalar value, std::optional<ir::DType> dt = std::nullopt);
Tensor zerosLike(const Tensor &x, std::optional<ir::DType> dt = std::nullopt);
Tensor onesLike(const Tensor &x, std::optional<ir::DType> dt = std::nullopt);
Tensor fullLike(const Tensor &x, Scalar value, std::optional<ir::DType> dt = std::nullopt);
/// torch.arange: ceil((end - start) / step) values; i64 unless an argument is a float.
Tensor arange(Scalar start, Scalar end, Scalar step = Scalar(1), std::optional<ir::DType> dt = std::nullopt);
Tensor linspace(double start, double end, int64_t steps, ir::DType dt = ir::DType::F32);
/// n x m identity (m = n when negative).
Tensor eye(int64_t n, int64_t m = -1, ir::DType dt = ir::DType::F32);

// --- elementwise ------------------------------------------------------------------------
// Binary functions promote their operands (resultType), cast them (recorded) and apply the op.
// At least one operand must be a tensor.

Tensor add(const Operand &a, const Operand &b);
Tensor sub(const Operand &a, const Operand &b);
Tensor mul(const Operand &a, const Operand &b);
/// True division: integer and bool operands give f32.
Tensor div(const Operand &a, const Operand &b);
/// floor(a / b); for integers Python's floor division (exact below 2^53; division by zero is a
/// RuntimeError as in PyTorch).
Tensor floorDivide(const Operand &a, const Operand &b);
/// Python's %: a - floor(a / b) * b (the sign of b).
Tensor remainder(const Operand &a, const Operand &b);
Tensor pow(const Operand &a, const Operand &b);
Tensor maximum(const Operand &a, const Operand &b);
Tensor minimum(const Operand &a, const Operand &b);
Tensor eq(const Operand &a, const Operand &b);
Tensor ne(const Operand &a, const Operand &b);
Tensor lt(const Operand &a, const Operand &b);
Tensor le(const Operand &a, const Operand &b);
Tensor gt(const Operand &a, const Operand &b);
Tensor ge(const Operand &a, const Operand &b);
/// Logical and/or/xor of bool tensors (PyTorch's & | ^ on bool); other dtypes are a TypeError.
Tensor logicalAnd(const Operand &a, const Operand &b);
Tensor logicalOr(const Operand &a, const Operand &b);
Tensor logicalXor(const Operand &a, const Operand &b);
Tensor logicalNot(const Tensor &x);
/// cond ? a : b; cond must be bool; a and b are promoted together.
Tensor where(const Tensor &cond, const Operand &a, const Operand &b);

Tensor neg(const Tensor &x);
Tensor abs(const Tensor &x);
/// exp/log/sqrt/sigmoid/tanh of an integer or bool tensor compute in f32 (as PyTorch).
Tensor exp(const Tensor &x);
Tensor log(const Tensor &x);
Tensor sqrt(const Tensor &x);
Tensor sigmoid(const Tensor &x);
Tensor tanh(const Tensor &x);
Tensor relu(const Tensor &x);
/// Rounds down; the identity on integers.
Tensor floor(const Tensor &x);
/// min(max(x, lo), hi) in PyTorch's order (hi wins when lo > hi); gradient 1 where
/// lo <= x <= hi. At least one bound is required; tensor bounds broadcast.
Tensor clamp(const Tensor &x, const std::optional<Operand> &lo, const std::optional<Operand> &hi);

// --- matmul -----------------------------------------------------------------------------

/// torch.matmul: 1-D operands are promoted to matrices and the added dimension removed.
Tensor matmul(const Tensor &a, const Tensor &b);

// --- reductions -------------------------------------------------------------------------
// `dims` absent or empty = all dimensions (PyTorch's rule for sum/mean).

/// Integer and bool inputs sum to i64.
Tensor sum(const Tensor &x, std::optional<std::vector<int64_t>> dims = std::nullopt, bool keepdim = false);
/// Floating point only (RuntimeError like PyTorch otherwise).
Tensor mean(const Tensor &x, std::optional<std::vector<int64_t>> dims = std::nullopt, bool keepdim = false);
/// Full reductions (the gradient is split evenly among ties, as PyTorch's max()).
Tensor max(const Tensor &x);
Tensor min(const Tensor &x);
/// (values, indices) along `dim`; the gradient goes to the selected index only.
std::pair<Tensor, Tensor> max(const Tensor &x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor &x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor &x, const std::vector<int64_t> &dims = {}, bool keepdim = false);
Tensor amin(const Tensor &x, const std::vector<int64_t> &dims = {}, bool keepdim = false);
/// Index of the first maximum (NaN counts as the maximum); flattened when dim is absent.
Tensor argmax(const Tensor &x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor &x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
/// Numerically stable: shifted by the (detached) maximum.
Tensor softmax(const Tensor &x, int64_t dim);
Tensor logSoftmax(const Tensor &x, int64_t dim);
Tensor logsumexp(const Tensor &x, const std::vector<int64_t> &dims, bool keepdim = false);
/// sum((x - mean)^2) / max(N - correction, 0).
Tensor var(const Tensor &x, std::optional<std::vector<int64_t>> dims = std::nullopt, double correction = 1,
           bool keepdim = false);
Tensor stdDev(const Tensor &x, std::optional<std::vector<int64_t>> dims = std::nullopt, double correction = 1,
              bool keepdim = false);

// --- shape and layout -------------------------------------------------------------------

/// A view when the strides allow it, else a copy (one size may be -1).
Tensor reshape(const Tensor &x, const ir::Shape &shape);
/// Always a view; RuntimeError with PyTorch's hint when the strides do not allow one.
Tensor view(const Tensor &x, const ir::Shape &shape);
/// The strides a view of `shape` over (oldShape, oldStrides) would have, if one exists
/// (PyTorch's computeStride).
std::optional<std::vector<int64_t>> viewStrides(const ir::Shape &oldShape, const std::vector<int64_t> &oldStrides,
                                                const ir::Shape &newShape);
Tensor flatten(const Tensor &x, int64_t startDim = 0, int64_t endDim = -1);
/// All size-1 dims, or only `dim` (a no-op when that dim's size is not 1).
Tensor squeeze(const Tensor &x, std::optional<int64_t> dim = std::nullopt);
Tensor unsqueeze(const Tensor &x, int64_t dim);
Tensor transpose(const Tensor &x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor &x, const std::vector<int64_t> &dims);
/// t(): transpose of a tensor with <= 2 dims.
Tensor t(const Tensor &x);
/// .T: all dims reversed.
Tensor reverseDims(const Tensor &x);
/// torch.expand: -1 keeps a size; new leading dims may be added.
Tensor expand(const Tensor &x, const ir::Shape &sizes);
Tensor broadcastTo(const Tensor &x, const ir::Shape &shape);
/// Promotes the dtypes; all other dims must agree.
Tensor cat(const std::vector<Tensor> &xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor> &xs, int64_t dim = 0);
/// torch.gather; index values are range-checked first (IndexError).
Tensor gather(const Tensor &x, int64_t dim, const Tensor &index);
/// torch.scatter_add: x with src[i][j] added at [index[i][j]][j] (dim 0); x and src must share
/// a dtype; index values are range-checked first (IndexError).
Tensor scatterAdd(const Tensor &x, int64_t dim, const Tensor &index, const Tensor &src);
/// torch.nn.functional.pad, constant mode: pads = (before, after) for the last dim, then for the
/// one before it, ...; negative entries crop. Recorded as slice + pad (+ where for a nonzero value).
Tensor pad(const Tensor &x, const std::vector<int64_t> &pads, Scalar value = Scalar(0.0));
/// i64 one-hot of i64 `indices` (numClasses = max + 1 when negative).
Tensor oneHot(const Tensor &indices, int64_t numClasses = -1);

// --- indexing ---------------------------------------------------------------------------

struct Slice {
  std::optional<int64_t> start = std::nullopt, stop = std::nullopt, step = std::nullopt;
};
struct NewAxis {};
struct EllipsisItem {};
/// One entry of x[...]: an int, a slice, None, Ellipsis, or an i64 (or bool mask) tensor.
using IndexItem = std::variant<int64_t, Slice, NewAxis, EllipsisItem, Tensor>;

/// x[items] with NumPy/PyTorch semantics. Ints and slices give views (recorded as slice +
/// reshape); integer tensors index with gather semantics (copies); bool masks select.
Tensor index(const Tensor &x, const std::vector<IndexItem> &items);
/// x[items] = value (PyTorch's rules for in-place updates, see add_).
void indexPut(Tensor &x, const std::vector<IndexItem> &items, const Operand &value);

// --- in-place ---------------------------------------------------------------------------
// PyTorch's rules: in grad mode a leaf that requires grad (or a view of one) may not be
// updated in place (RuntimeError). When no autograd is involved (grad mode off, or neither
// operand requires grad) the result is written into x's storage, so views of x see it.
// DIFFERENCE FROM PYTORCH: when autograd is involved (grad mode on and x is a non-leaf that
// requires grad, or `other` requires grad), x is rebound to the out-of-place result (every
// handle of x sees the new value and grad_fn, but views of x's old storage do not).
// The result dtype must be castable to x's dtype (RuntimeError otherwise, as PyTorch).

Tensor &add_(Tensor &x, const Operand &other);
Tensor &sub_(Tensor &x, const Operand &other);
Tensor &mul_(Tensor &x, const Operand &other);
Tensor &div_(Tensor &x, const Operand &other);
/// x = src (broadcast to x's shape, cast to x's dtype).
Tensor &copy_(Tensor &x, const Operand &src);
Tensor &fill_(Tensor &x, Scalar value);
Tensor &zero_(Tensor &x);

// --- operators --------------------------------------------------------------------------

Tensor operator+(const Tensor &a, const Operand &b);
Tensor operator+(Scalar a, const Tensor &b);
Tensor operator-(const Tensor &a, const Operand &b);
Tensor operator-(Scalar a, const Tensor &b);
Tensor operator*(const Tensor &a, const Operand &b);
Tensor operator*(Scalar a, const Tensor &b);
Tensor operator/(const Tensor &a, const Operand &b);
Tensor operator/(Scalar a, const Tensor &b);
Tensor operator-(const Tensor &x);
Tensor &operator+=(Tensor &a, const Operand &b);
Tensor &operator-=(Tensor &a, const Operand &b);
Tensor &operator*=(Tensor &a, const Operand &b);
Tensor &operator/=(Tensor &a, const Operand &b);

// --- autograd ---------------------------------------------------------------------------

/// t.backward(gradient, retain_graph, create_graph): like Tensor::backward, and with
/// createGraph the accumulated .grad is itself recorded (higher-order gradients).
/// retainGraph defaults to createGraph.
void backward(const Tensor &t, const Tensor &gradient = {}, std::optional<bool> retainGraph = std::nullopt,
              bool createGraph = false);

} // namespace dt
