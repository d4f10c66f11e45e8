// Cuts a forward+backward graph (as the autodiff pass makes it) at the forward/backward
// boundary: eager backward() already holds the forward values, so it runs only the backward.
#pragma once

#include "ir/Graph.h"

#include <memory>
#include <vector>

namespace dt::passes {

struct SplitResult {
  std::unique_ptr<ir::Graph> backward;
  /// For each input of `backward` past the original graph's inputs: the index of the forward
  /// node whose result it stands for.
  std::vector<int> forwardValues;
};

/// `g`'s first `numForward` nodes are the forward computation. Returns a graph without them:
/// each forward result that a later node or a kept output uses becomes a new input (appended
/// after g's inputs, in order of first use). The first `numForwardOutputs` outputs (the forward
/// results) are dropped, so the graph computes only the gradients.
SplitResult splitForward(const ir::Graph &g, size_t numForward, size_t numForwardOutputs);

} // namespace dt::passes
