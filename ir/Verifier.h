// The verifier: SSA well-formedness, op arity/attributes/dtypes/shapes via the registry, and
// that each annotated result type equals the inferred one.
#pragma once

#include "ir/Graph.h"

namespace dt::ir {

/// Throws dt::ValueError / dt::TypeError for the first problem, as
/// "[line:col: ]%3 = add(%1, %2) : f32[3,4]: shapes f32[3,4] and f32[5] do not broadcast".
void verify(const Graph &g);

} // namespace dt::ir
