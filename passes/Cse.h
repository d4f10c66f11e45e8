// Common-subexpression elimination: merges nodes that provably compute the same value.
#pragma once

#include "ir/Graph.h"
#include "ir/Ops.h"

namespace dt::passes {

/// True when an op's result depends only on its operands and attributes and running it has no
/// other effect, so two identical nodes may be merged (or folded at compile time). Every op is
/// listed (no default): a future random or side-effecting op must answer false here.
bool isPure(ir::OpId id);

/// Merges, in place, nodes with the same op, the same operands (the same Value*), the same
/// attributes (compared by their exact text form, so 0.0 and -0.0 differ) and the same result
/// type: later ones are replaced by the first. Returns how many nodes were merged.
///
/// Algorithm: 1. walk the nodes in order, first rewriting each node's operands through the
/// replacement map; 2. skip impure ops and `kernel` nodes (kernels are never merged: comparing
/// regions is not worth it yet); 3. key the node by op, operand pointers, attributes and type;
/// 4. if the key was seen, map this result to the earlier one, else remember it; 5. rewrite the
/// graph outputs; 6. run dce to drop the merged nodes.
int cse(ir::Graph &g);

} // namespace dt::passes
