// The eager Tensor: storage + shape + strides (views for reshape/transpose/permute/expand/
// slicing), dtype, and autograd state. Every op goes through dt::apply, which runs a cached JIT
// kernel and, when an operand requires grad, records a TapeNode. backward() turns the tape
// into an ir::Graph, differentiates it with passes/autodiff, compiles it (cached by structure)
// and runs it: there is no second, hand-written gradient path.
#pragma once

#include "ir/Graph.h"
#include "ir/Ops.h"
#include "runtime/Buffer.h"

#include <memory>
#include <string>
#include <vector>

namespace dt {

struct TapeNode;

struct TensorImpl {
  std::shared_ptr<rt::Buffer> storage;
  ir::DType dtype = ir::DType::F32;
  ir::Shape shape;
  std::vector<int64_t> strides; ///< in elements
  int64_t offset = 0;           ///< in elements
  bool requiresGrad = false;
  std::shared_ptr<TapeNode> gradFn;   ///< the op that made this tensor (null for leaves)
  std::shared_ptr<TensorImpl> grad;   ///< accumulated gradient (leaves)
  // Compile mode (frontend/Trace.h): a traced tensor has no storage, only a value of the graph
  // of the trace `traceId`; `tracedView` when a layout op made it.
  ir::Value *traced = nullptr;
  uint64_t traceId = 0;
  bool tracedView = false;
};

class Tensor {
public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- creation -----------------------------------------------------------------------
  /// Uninitialized contiguous tensor (its memory holds whatever was there).
  static Tensor empty(ir::DType dt, const ir::Shape &shape);
  static Tensor full(ir::DType dt, const ir::Shape &shape, double value);
  /// From row-major values converted to `dt`; the count must match the shape.
  static Tensor fromValues(ir::DType dt, const ir::Shape &shape, const std::vector<double> &values);
  /// A view of an existing buffer (no copy).
  static Tensor fromBuffer(ir::DType dt, const ir::Shape &shape, std::shared_ptr<rt::Buffer> buf,
                           std::vector<int64_t> strides = {}, int64_t offset = 0);

  // --- queries ------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  TensorImpl &impl() const;
  const std::shared_ptr<TensorImpl> &implPtr() const { return impl_; }
  ir::DType dtype() const { return impl().dtype; }
  const ir::Shape &shape() const { return impl().shape; }
  const std::vector<int64_t> &strides() const { return impl().strides; }
  ir::Type type() const { return {dtype(), shape()}; }
  int64_t dim() const { return int64_t(shape().size()); }
  int64_t numel() const { return ir::numElements(shape()); }
  bool isContiguous() const;
  /// Pointer to element 0 of this view.
  void *data() const;
  /// This tensor if contiguous, else a contiguous copy (recorded on the tape as a reshape).
  Tensor contiguous() const;
  /// All elements as double, row-major.
  std::vector<double> toValues() const;
  /// The single element of a one-element tensor (dt::ValueError otherwise).
  double item() const;
  std::string str() const;

  // --- autograd -----------------------------------------------------------------------
  bool requiresGrad() const { return impl().requiresGrad; }
  /// Only on leaves (dt::ValueError otherwise); only float tensors can require grad.
  Tensor &setRequiresGrad(bool on);
  bool isLeaf() const { return !impl().gradFn; }
  Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
  void setGrad(const Tensor &g);
  /// Sets `leaf.grad` (every change of a .grad goes through here, so a trace can see it). A
  /// gradient `computedByBackward` is a tensor of its own even when the last op that made it was
  /// a view (a transpose, a reshape): while tracing it becomes a traced tensor that is no view, so
  /// `p.grad.mul_(c)` works as in eager mode.
  static void assignGrad(const std::shared_ptr<TensorImpl> &leaf, std::shared_ptr<TensorImpl> g,
                         bool computedByBackward = false);
  bool isTraced() const { return impl().traced != nullptr; }
  const std::shared_ptr<TapeNode> &gradFn() const { return impl().gradFn; }
  /// A tensor sharing storage, without autograd history.
  Tensor detach() const;
  /// Accumulates d(this)/d(leaf) * gradient into each leaf's .grad. `gradient` may be omitted
  /// only for a one-element tensor (PyTorch's rule).
  void backward(const Tensor &gradient = {}, bool retainGraph = false) const;

private:
  std::shared_ptr<TensorImpl> impl_;
};

/// A recorded op: what backward() needs to rebuild the graph. Owned by the tensors it made.
struct TapeNode {
  ir::OpId op;
  ir::AttrMap attrs;
  ir::Type resultType;
  struct Input {
    std::shared_ptr<TapeNode> node;   ///< producer, when the operand is a non-leaf that requires grad
    std::shared_ptr<TensorImpl> leaf; ///< the leaf, when the operand is a leaf that requires grad
    Tensor value;                     ///< the operand's value, detached (null once released)
  };
  std::vector<Input> inputs;
  Tensor result; ///< the result's value, detached (null once released)
  bool released = false;
  /// PyTorch-style name, e.g. "AddBackward0".
  std::string name() const;
};

/// The one eager entry point: checks and infers the type (errors name the op and the operand
/// types), runs the op (a view for layout ops, else a cached JIT kernel), and records a
/// TapeNode when grad mode is on and a float operand requires grad.
Tensor apply(ir::OpId op, const std::vector<Tensor> &operands, const ir::AttrMap &attrs = {});

// --- grad mode ------------------------------------------------------------------------
bool gradEnabled();
void setGradEnabled(bool on);
/// RAII: grad mode off in a scope (dt::no_grad()).
class NoGradGuard {
public:
  NoGradGuard() : prev_(gradEnabled()) { setGradEnabled(false); }
  ~NoGradGuard() { setGradEnabled(prev_); }

private:
  bool prev_;
};

/// dt.autograd.grad: the gradients of sum_i <gradOutputs[i], outputs[i]> with respect to
/// `inputs` (any tensors that require grad, leaves or not). With createGraph the gradients are
/// computed by recorded eager ops, so they can be differentiated again. An input the outputs do
/// not depend on gets an undefined Tensor when allowUnused, else dt::ValueError.
std::vector<Tensor> grad(const std::vector<Tensor> &outputs, const std::vector<Tensor> &inputs,
                         const std::vector<Tensor> &gradOutputs = {}, bool retainGraph = false,
                         bool createGraph = false, bool allowUnused = false);

struct AutogradStats {
  int64_t backwardCompiles = 0; ///< backward graphs compiled (distinct structures)
  int64_t backwardCacheHits = 0;
  int64_t eagerKernelCompiles = 0;
  int64_t eagerKernelHits = 0;
};
AutogradStats autogradStats();

} // namespace dt
