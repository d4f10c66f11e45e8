// Fusion: maximal groups of nodes become one `kernel` node whose region holds the group's body
// (DESIGN section 3), so codegen runs each group as one loop nest. Three kinds of group:
//   - elementwise: ops of kind Unary, Binary, Compare, Where, Cast, and broadcast_to (pure index
//     arithmetic inside a kernel, never materialized); every value broadcasts to the root's shape;
//   - a reduction (sum/mean/max/min) with the elementwise group that produces its operand: the
//     loop nest is the operand's shape with the reduction innermost, each element is computed by
//     the body and folded into the accumulator (never stored); the region ends in the reduction;
//   - a matmul with its epilogue: an elementwise group whose result has the matmul's exact type
//     and which reads the matmul's result, fused after it (bias add, activation, scaling, applied
//     to each output element before it is stored); the region starts with the matmul.
//
// Algorithm:
//   1. Count the uses of every value: the distinct nodes that read it, plus "graph output".
//   2. Walk the nodes backwards (consumers before producers). Each elementwise or reduction node
//      not yet in a group starts a new group, as its root (the group's one output).
//   3. Grow the group to a fixpoint: a member's operand defined by an elementwise node that is in
//      no group joins it when every use of that value is a member (so nothing is computed twice),
//      it is not a graph output, it and its operands broadcast to the group's nest shape, and it
//      is not an operand of the group's matmul. A value read outside the group (or returned) may
//      still join an elementwise group (no matmul, no reduction) as a further result when it has
//      the group's exact shape and every outside reader comes after the root: the kernel stores
//      it, computed once (at most 8 results per kernel). A matmul joins
//      an elementwise group (at most one per group) on the same use conditions when the group's
//      root has the matmul's type and none of the matmul's operands is computed in the group;
//      the matmul's operands are never grown into (they are materialized).
//   3b. Siblings: walking the elementwise groups in program order, one joins an earlier one of
//      the same nest shape when every value it reads from outside is computed in that group or
//      before that group's root (the merged kernel runs in the earlier root's place). Reduction
//      groups over the same axes of one operand shape merge alike (not reading each other's
//      reductions); the merged region ends in all their reductions.
//   4. Consts of at most one element read by a group are cloned into its region (operand-free
//      nodes); a const left without outside uses is then removed. Larger consts stay operands.
//   5. A group of two or more nodes becomes `%root, %more... = kernel @fused_N(operands) { ... }`
//      in the root's place (the root's value, name and uses are kept, then each member read
//      outside the group, in region order, as a further result; operands are the distinct outside
//      values the group reads, in first-use order; the region's inputs mirror them by name and
//      type; a matmul comes first, the rest in program order). A group of one node stays an
//      ordinary node.
// Never fused: a reduction's result into its consumers (an elementwise consumer of max(x) would
// recompute the max for every element: the reduction always ends its kernel), a matmul with
// more than one consumer or that is a graph output (it would be computed twice), argmax, layout
// ops other than broadcast_to, indexing ops and existing kernels.
#pragma once

#include "ir/Graph.h"

#include <string>

namespace dt::passes {

/// Fuses `g` in place (see the algorithm above). Returns the number of kernel nodes created.
int fusion(ir::Graph &g);

/// For each neighbouring pair (producer -> consumer) that fusion would leave unfused, one line
/// "%p -> %c: reason", e.g. "%3 -> %4: %4 = argmax: not elementwise",
/// "%2 -> %5: %2 has 2 uses outside the group", "%m -> %d: %m = max: a reduction ends its
/// kernel (...)" or "%mm -> %r: %mm has 1 use outside the group (the matmul would be computed
/// twice)". Empty when everything fuses.
std::string explainFusion(const ir::Graph &g);

} // namespace dt::passes
