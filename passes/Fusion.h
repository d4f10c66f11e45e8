// Elementwise fusion: maximal single-output groups of elementwise nodes become one `kernel` node
// whose region holds the group's body (DESIGN section 3), so codegen runs them as one loop nest.
//
// Fusible nodes: op kinds Unary, Binary, Compare, Where, Cast, and broadcast_to (pure index
// arithmetic inside a kernel, never materialized). Every value of a group broadcasts to the
// group's output shape (elementwise results do by construction; the pass checks it anyway), so
// the kernel evaluates each region node once per output element.
//
// Algorithm:
//   1. Count the uses of every value: the distinct nodes that read it, plus "graph output".
//   2. Walk the nodes backwards (consumers before producers). Each fusible node not yet in a group
//      starts a new group, as its root (the group's one output).
//   3. Grow the group to a fixpoint: a member's operand defined by a fusible node that is in no
//      group joins it when every use of that value is a member (so nothing is computed twice or
//      materialized as well as fused) and it is not a graph output; a producer with uses outside
//      stays outside and becomes a kernel operand.
//   4. Consts of at most one element read by a group are cloned into its region (operand-free
//      nodes); a const left without outside uses is then removed. Larger consts stay operands.
//   5. A group of two or more fusible nodes becomes `%root = kernel @fused_N(operands) { ... }`
//      in the root's place (the root's value, name and uses are kept; operands are the distinct
//      outside values the group reads, in first-use order; the region's inputs mirror them by
//      name and type). A group of one node stays an ordinary node.
// matmul, reductions, argmax, layout ops other than broadcast_to, indexing ops and existing
// kernels are never fused; they stay separate nodes. Later steps: fuse a reduction with its
// elementwise producers (loop nest with the reduction innermost) and matmul epilogues (bias add,
// activation applied to the matmul's output tile before it is stored).
#pragma once

#include "ir/Graph.h"

#include <string>

namespace dt::passes {

/// Fuses `g` in place (see the algorithm above). Returns the number of kernel nodes created.
int fusion(ir::Graph &g);

/// For each neighbouring pair (producer -> consumer) that fusion would leave unfused, one line
/// "%p -> %c: reason", e.g. "%3 -> %4: %3 = matmul: not elementwise" or
/// "%2 -> %5: %2 has 2 uses outside the group". Empty when everything fuses.
std::string explainFusion(const ir::Graph &g);

} // namespace dt::passes
