// memory_plan: liveness over the node order gives every value a buffer (ir/MemoryPlan.h), reusing
// the buffers of dead values and computing elementwise results in place where safe.
//
// Rules, walking the nodes in order (node i reads its operands, then writes its result):
//   - A value dies after its last reader; a value nobody reads dies right after it is made.
//   - Graph inputs, graph outputs and consts each get a buffer of their own, shared with nothing
//     else (inputs belong to the caller, outputs are handed to it, a const's buffer is filled
//     once by codegen when it compiles, printed "(const)") and never released.
//   - In place: the result of an elementwise node (Unary, Binary, Compare, Where, Cast) or of an
//     elementwise kernel (a region with no matmul and no reduction) takes the buffer of an
//     operand that has exactly the result's type, dies at this node and is neither a graph input
//     nor a graph output (each element is read before the same element is written).
//   - Alias: a reshape whose operand is not a graph input and whose result is not a graph output
//     takes its operand's buffer (row-major data is the same bytes) and costs no kernel. An
//     operand and its aliases form one group that lives until the last reader of any member, so
//     nothing (in place or reuse) overwrites the buffer while any member is still read.
//   - Otherwise the result takes the smallest free buffer of at least its bytes (size-compatible
//     reuse: a value may live in a bigger buffer), or a new buffer of its bytes.
//   - Buffers of the operands that die at node i are freed after node i (never for node i's own
//     result, except in place), so a result never overwrites a value it reads.
//   - Donation (asked for by the caller, e.g. dt.compile for a parameter's new value): graph output
//     k is computed into graph input i's buffer when the output is a node result (not a const,
//     whose buffer codegen fills once) returned once,
//     input i is not returned and no node after the output's node reads it (the node itself may,
//     when it is elementwise and the input has the output's type: in place). Refused requests are
//     left out of plan.donations; the caller then copies the output as before.
// The graph is not changed. The `memory-plan` pass in the pass manager computes the plan (dtc
// opt prints it as comments after the graph, see printMemoryPlan).
#pragma once

#include "ir/Graph.h"
#include "ir/MemoryPlan.h"

#include <span>
#include <string>
#include <utility>

namespace dt::passes {

/// The plan for `g` (verified), by the rules above; `donate` lists the (output index, input
/// index) pairs to place together where safe (out-of-range indices throw dt::ValueError).
ir::MemoryPlan memoryPlan(const ir::Graph &g, std::span<const std::pair<int, int>> donate = {});

/// The plan as IR comment lines (so the text after a graph still parses):
///   // memory-plan: 3 buffers, 96 bytes (160 bytes with one buffer per value; 96 bytes live at most)
///   // buffer 0: 32 bytes: %x (input)
///   // buffer 1: 32 bytes: %0, %2 (in place), %3 (alias)
/// (a donated output shows as "(output, donated)" in its input's buffer).
std::string printMemoryPlan(const ir::Graph &g, const ir::MemoryPlan &plan);

/// The pipeline entry `memory-plan`: computes the plan of `g` and leaves `g` unchanged (returns 0).
int memoryPlanPass(ir::Graph &g);

} // namespace dt::passes
