// Simplify: constant folding and algebraic identities, in place.
#pragma once

#include "ir/Graph.h"

namespace dt::passes {

/// Largest result (in elements) that constant folding materializes as a `const`.
constexpr int64_t kMaxFoldElements = 64;

/// Simplifies `g` in place and returns how many nodes were folded or replaced.
///
/// Algorithm:
///  1. Walk the nodes in topological order, first rewriting each node's operands through the
///     replacement map built so far (so a chain simplifies in one sweep).
///  2. Constant folding: a pure, non-kernel node whose operands are all `const` nodes and whose
///     result has 1..kMaxFoldElements elements is evaluated by ir::evalNode and turned, in
///     place, into a `const` with those values (a splat when all are bitwise equal). The
///     values are stored as doubles (exact for f32 and f64), ints or bools, printed exactly.
///  3. Otherwise, algebraic identities (below) may name a replacement value r for the node's
///     result; it is used only when r's type equals the result type exactly (so x*1 where the
///     1 broadcasts x to a bigger shape is kept). A "const of c" is a `const` node whose every
///     element equals c. reshape(reshape(x)) is rewritten to reshape(x) by changing the operand.
///     A transpose of a matmul's last two dims, when it is the matmul's only reader and the
///     matmul is no graph output, becomes the matmul of the transposed operands in swapped order
///     ((A·B)ᵀ = Bᵀ·Aᵀ; an operand that is itself such a transpose loses it, else a transpose node
///     is inserted before): the backward of x @ wᵀ then needs no transposed copy of its result,
///     and fusion reads the remaining operand transposes through GEMM strides. A reshape that
///     only drops the dims a keepdim reduction kept becomes the reduction without keepdim (when
///     nothing else reads the reduction).
///  4. Rewrite the graph outputs through the replacement map.
///  5. Run dce to drop the nodes no longer used.
int simplify(ir::Graph &g);

} // namespace dt::passes
