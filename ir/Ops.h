// The op registry: one OpDef per op (ir/Ops.def), its attributes with defaults, and its type
// rule. Everything that handles ops (interpreter, autodiff, codegen) is keyed by OpId.
#pragma once

#include "ir/Graph.h"

#include <optional>
#include <span>
#include <string_view>

namespace dt::ir {

enum class OpId : uint8_t {
#define OP(Id, name, kind, arity, dtypes, doc) Id,
#include "ir/Ops.def"
#undef OP
};

enum class OpKind : uint8_t {
  Unary, Binary, Compare, Where, Cast, Const, MatMul, Reduce,
  ArgReduce, ///< an i64 index along an axis (argmax)
  Layout,    ///< same elements, new shape/strides: a view in eager mode (reshape, transpose, slice, ...)
  Indexing,  ///< data movement into a new buffer at computed positions (pad, concat, gather, scatter_add)
  Kernel
};
enum class DTypes : uint8_t { Numeric, Float, Any };

/// One attribute an op takes. A missing attribute takes `def` (absent if !required && !def).
struct AttrSpec {
  std::string name;
  enum class Kind { Int, Float, Bool, String, Ints, Number, Numbers } kind;
  bool required = false;
  std::optional<Attr> def; ///< default, when the attribute is optional and has one
  std::string doc;
};

struct OpDef {
  OpId id;
  std::string_view name;
  OpKind kind;
  int arity; ///< -1 = variadic
  DTypes dtypes;
  std::string_view doc;
  std::vector<AttrSpec> attrs;
};

/// All ops, in OpId order.
std::span<const OpDef> allOps();
const OpDef &opDef(OpId id);
/// nullptr for an unknown name.
const OpDef *findOp(std::string_view name);

/// The attribute's value or the op's default for it; nullptr when neither exists.
const Attr *attrOrDefault(const OpDef &def, const AttrMap &attrs, const std::string &name);

/// The result type of `op(operands) {attrs}`. Throws dt::ValueError / dt::TypeError with the
/// reason (e.g. "shapes f32[3,4] and f32[5] do not broadcast"), without the node's text: the
/// verifier and the builders add that. Checks arity, attribute names and kinds, dtypes.
Type inferType(const OpDef &def, std::span<const Type> operands, const AttrMap &attrs);

/// inferType for a user-facing call: the same exception type, its message prefixed by the op
/// name and naming every operand type, e.g. "add: shapes f32[3,4] and f32[5] do not broadcast".
Type inferTypeForCall(const OpDef &def, std::span<const Type> operands, const AttrMap &attrs);

/// Appends `op(operands) {attrs}` to `g` with its inferred type (errors as inferType, prefixed by
/// the op name) and returns the result. Passes build IR with this.
Value *emit(Graph &g, OpId id, std::vector<Value *> operands, AttrMap attrs = {});

// --- helpers shared by the type rules, interpreter and lowerings -------------------------

/// Reduction axes of a sum/mean/max node, normalized to [0, rank) and sorted; all axes when
/// the attribute is absent.
std::vector<int64_t> reduceAxes(const OpDef &def, const AttrMap &attrs, int64_t rank);
/// The permutation a transpose/permute node applies: result axis i = operand axis perm[i].
std::vector<int64_t> layoutPerm(const OpDef &def, const AttrMap &attrs, int64_t rank);
/// Whether node `n` (any op) is a transpose/permute that swaps the last two dims of its operand
/// and keeps the others (a matrix transpose per batch: a matmul can read it through swapped
/// strides).
bool swapsLastTwoDims(const Node &n);
/// Normalizes an axis for a tensor of `rank` dims; throws dt::IndexError when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank, std::string_view what);

/// A slice node's attributes, one entry per axis of `operand`, checked (0 <= start <= end <=
/// dim, step >= 1; steps all 1 when absent). Throws dt::ValueError otherwise.
struct SliceAttrs {
  std::vector<int64_t> starts, ends, steps;
};
SliceAttrs sliceAttrs(const OpDef &def, const AttrMap &attrs, const Type &operand);
/// A pad node's attributes, one entry per axis of `operand`, checked (all >= 0; interior all 0
/// when absent). Throws dt::ValueError otherwise.
struct PadAttrs {
  std::vector<int64_t> low, high, interior;
};
PadAttrs padAttrs(const OpDef &def, const AttrMap &attrs, const Type &operand);
/// argmax's axis normalized to [0, max(rank, 1)), or nullopt (the flattened tensor).
std::optional<int64_t> argAxis(const OpDef &def, const AttrMap &attrs, int64_t rank);
/// The `axis` of concat / gather / scatter_add normalized to [0, max(rank, 1)).
int64_t opAxis(const OpDef &def, const AttrMap &attrs, int64_t rank);

} // namespace dt::ir
