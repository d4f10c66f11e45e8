// Anomaly detection for backward (dt.autograd.detect_anomaly / DT_CHECK_NAN=1): finds the tape
// node whose backward first returns a NaN or inf, walking the tape node by node as PyTorch does.
#pragma once

#include "frontend/Tensor.h"

#include <vector>

namespace dt {

/// Whether a float tensor holds a NaN (1), else an inf (2), else neither (0). Non-float and
/// traced tensors are never anomalous.
int nonFinite(const Tensor &t);

/// Runs the backward of `outputs` (seeded with `gradOutputs`, ones for an omitted one-element
/// output) one tape node at a time, from the outputs down, keeping the tape (retain_graph), and
/// throws std::runtime_error "Function 'LogBackward0' returned nan values in its 0th output."
/// for the first node whose backward returns a NaN/inf for an operand while the gradient it
/// received was finite. Returns normally when every node's gradients are finite (the caller then
/// runs the real backward). Slow by design: one small compiled graph per node.
void checkBackwardAnomaly(const std::vector<Tensor> &outputs, const std::vector<Tensor> &gradOutputs);

} // namespace dt
