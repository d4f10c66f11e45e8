// Dead-code elimination: drops nodes whose results reach no graph output.
#pragma once

#include "ir/Graph.h"

namespace dt::passes {

/// Removes, in place, every node whose result no output depends on. Returns how many were
/// removed. Graph inputs are kept even when unused (they are the graph's calling convention).
int dce(ir::Graph &g);

} // namespace dt::passes
