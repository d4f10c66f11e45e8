// VJP rules, one per op, IR -> IR: given a node and the cotangent of its result, emit the nodes
// that compute the cotangents of its operands. The autodiff pass applies them.
#pragma once

#include "ir/Graph.h"
#include "ir/Ops.h"

#include <vector>

namespace dt::passes {

/// The cotangents of `n`'s operands (nullptr where an operand gets none: integer/bool operands,
/// comparison and constant ops), appended to `g`, which already holds `n` and its operands.
/// `n`'s result must be differentiable (float); the autodiff pass never asks for others.
/// `gy` has `n`'s result type. Every returned cotangent has its operand's exact type.
/// Throws dt::ValueError for ops that have no VJP (fused kernels: differentiate before fusion).
std::vector<ir::Value *> vjp(ir::Graph &g, const ir::Node &n, ir::Value *gy);

/// Whether values of this dtype carry gradients (f32, f64).
bool differentiable(ir::DType t);

/// Sums `v` over the axes along which `shape` was broadcast to `v`'s shape (NumPy rules), so
/// the result has `shape`: the adjoint of broadcasting.
ir::Value *sumToShape(ir::Graph &g, ir::Value *v, const ir::Shape &shape);

/// A scalar constant of dtype `t`.
ir::Value *scalar(ir::Graph &g, double value, ir::DType t);

} // namespace dt::passes
