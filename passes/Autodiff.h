// The autodiff pass: reverse-mode differentiation of a graph, IR -> IR, by the VJP rules of
// passes/Vjp.h. Its result is an ordinary graph, so it can be differentiated again.
#pragma once

#include "ir/Graph.h"

#include <memory>
#include <vector>

namespace dt::passes {

struct GradSpec {
  std::vector<int> outputs; ///< indices of the outputs to differentiate (each must be float)
  std::vector<int> wrt;     ///< indices of the inputs to differentiate with respect to
};

/// A new graph holding `g` followed by its backward:
///   inputs  = g's inputs, then one cotangent `%d_<output>` per selected output (same type);
///   outputs = g's outputs, then one gradient per `wrt` input (same type as that input):
///             the sum over selected outputs i of <cotangent_i, d output_i / d input>.
/// An input that no selected output depends on gets a zero gradient. Throws dt::ValueError for
/// indices out of range or non-float outputs/inputs.
///
/// Algorithm: 1. clone g; 2. add the cotangent inputs; 3. mark the nodes on a path from a wrt
/// input to a selected output; 4. walk those nodes in reverse, applying each one's VJP rule to
/// the sum of its result's cotangents; 5. return the accumulated cotangent of each wrt input.
std::unique_ptr<ir::Graph> autodiff(const ir::Graph &g, const GradSpec &spec);

} // namespace dt::passes
