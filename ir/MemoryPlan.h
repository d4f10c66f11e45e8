// A memory plan for a graph (plain data, made by passes/MemoryPlan.h, used by codegen::compile):
// which buffer each value lives in, and the size of each buffer. Values are keyed by name, so a
// plan made for a graph also fits its clone (and its parsed printout).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dt::ir {

struct MemoryPlan {
  /// Bytes of each buffer: at least the bytes of every value placed in it.
  std::vector<int64_t> bufferBytes;
  /// The buffer of every graph input and node result, by value name (without '%').
  std::map<std::string, int> bufferOf;
  /// Node results that take an operand's buffer (in place), by value name.
  std::vector<std::string> inPlace;
  /// Reshape results that are their operand's bytes (same buffer, no kernel), by value name.
  std::vector<std::string> aliases;
  /// Donations: (graph output index, graph input index) pairs whose output is computed straight
  /// into the input's buffer (the caller's memory is updated in place: a parameter's new value
  /// written over the old one, with no copy). Only outputs the planner was asked to donate, and
  /// only when no node reads the input after the output's node starts.
  std::vector<std::pair<int, int>> donations;
  /// Bytes of all buffers: what one run allocates with the plan (inputs included).
  int64_t plannedBytes = 0;
  /// Bytes of all values: what one run allocates with one buffer per value (no plan).
  int64_t unplannedBytes = 0;
  /// The most bytes live at once (a lower bound for any plan).
  int64_t livePeakBytes = 0;
};

} // namespace dt::ir
