// A Program: kernel function pointers and a buffer plan, executed in order. It knows nothing of
// the IR or of LLVM: codegen fills it in, frontend runs it.
#pragma once

#include "runtime/Buffer.h"

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace dt::rt {

/// Every generated kernel has this signature: `bufs` holds the result's pointer first (a
/// multi-output kernel's results, in order), then one per operand; `sizes` carries runtime sizes
/// for shape-generic (eager) kernels, else null.
using KernelFn = void (*)(void *const *bufs, const int64_t *sizes);

struct Step {
  KernelFn fn = nullptr;
  std::vector<int> slots;     ///< result slot(s), then operand slots
  std::vector<int64_t> sizes; ///< passed as `sizes` (empty: nullptr)
  std::string name;           ///< for profiles and errors
};

struct Program {
  std::vector<size_t> slotBytes; ///< bytes of each slot
  /// The memory plan: the buffer each slot lives in (several slots may share one when their
  /// values are never live at once; a step may write its result over an operand only when codegen
  /// compiled it for that). Empty: every slot has a buffer of its own.
  std::vector<int> slotBuffer;
  /// Bytes of each planned buffer (>= the bytes of every slot in it). An input's buffer is the
  /// caller's, an output's is allocated alone (no other slot may share either); the others are
  /// carved from one arena per run.
  std::vector<size_t> bufferBytes;
  /// Slots whose value is fixed when the program is made (a graph's `const` nodes, filled once
  /// by codegen): their buffers belong to the program, no step writes them, and an output that is
  /// one is copied.
  std::vector<std::pair<int, std::shared_ptr<Buffer>>> constants;
  std::vector<int> inputSlots;   ///< slot of each graph input
  std::vector<int> outputSlots;  ///< slot of each graph output
  std::vector<Step> steps;
  std::shared_ptr<void> keepAlive; ///< whatever owns the kernels' code

  /// Runs the steps. `inputs[i]` must hold slotBytes[inputSlots[i]] bytes (checked: a count or
  /// size mismatch throws std::invalid_argument). Every output gets a new buffer the caller owns;
  /// an output that is an input is copied; an output the plan donated to an input (codegen
  /// checked it) is that input's buffer, updated in place. `into[k]`, when given and non-null, is
  /// the buffer output k is written into instead of a new one (its bytes checked): the caller
  /// promises it overlaps no input and no other `into` buffer. It is ignored for an output that
  /// is an input, is donated, or whose slot is returned more than once.
  std::vector<std::shared_ptr<Buffer>> run(std::span<const std::shared_ptr<Buffer>> inputs,
                                           std::span<const std::shared_ptr<Buffer>> into = {}) const;
};

} // namespace dt::rt
