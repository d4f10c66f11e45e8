// The reference interpreter: plain, obviously-correct loops for every op. It is the oracle the
// JIT is tested against, not a fast path.
#pragma once

#include "ir/Graph.h"

#include <memory>
#include <span>
#include <vector>

namespace dt::ir {

/// A read-only view of caller-owned, contiguous row-major data.
struct ArrayRef {
  Type type;
  const void *data = nullptr;
};

/// An owned, contiguous row-major array (the interpreter's results).
struct HostArray {
  Type type;
  std::vector<unsigned char> bytes;

  HostArray() = default;
  explicit HostArray(Type t) : type(std::move(t)), bytes(type.bytes()) {}
  template <typename T> T *data() { return reinterpret_cast<T *>(bytes.data()); }
  template <typename T> const T *data() const { return reinterpret_cast<const T *>(bytes.data()); }
  ArrayRef ref() const { return {type, bytes.data()}; }
};

/// Runs the graph on inputs (checked against the graph's input types: count, dtype, shape;
/// dt::ValueError / dt::TypeError on mismatch) and returns one array per graph output.
std::vector<HostArray> interpret(const Graph &g, std::span<const ArrayRef> inputs);

/// Evaluates one node on its operand arrays (used for kernel regions and by tests).
HostArray evalNode(const Node &n, std::span<const ArrayRef> operands);
/// Every result of `n` (a multi-output kernel has several; any other node one).
std::vector<HostArray> evalResults(const Node &n, std::span<const ArrayRef> operands);

} // namespace dt::ir
