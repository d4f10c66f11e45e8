// The pass pipeline (passes/PassManager.h), re-exported so that tools/ and python/ reach it
// through the frontend layer.
#pragma once

#include "passes/MemoryPlan.h"
#include "passes/Fusion.h"
#include "passes/PassManager.h"

namespace dt {

using passes::allPasses;
using passes::explainFusion;
using passes::memoryPlan;
using passes::printMemoryPlan;
using passes::PassOptions;
using passes::runPipeline;

} // namespace dt
