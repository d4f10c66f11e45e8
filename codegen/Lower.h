// What the per-op-kind lowerings share: the description of a kernel, the function being emitted
// (IRBuilder, result and operand pointers), typed loads/stores and loop-nest helpers. Loop bounds
// and strides are llvm::Value*: constants for compiled graphs today, runtime sizes later.
#pragma once

#include "ir/Ops.h"
#include "runtime/ThreadPool.h"

#include <llvm/IR/IRBuilder.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace dt::codegen {

/// What one kernel computes: a node's op, attributes and types. Two nodes with equal
/// descriptions share a kernel (see kernelKey in Compiler.cpp).
struct KernelDesc {
  const ir::OpDef *def = nullptr;
  ir::AttrMap attrs;
  std::vector<ir::Type> operands;
  ir::Type result;
  /// A multi-output kernel's further results (elementwise form only, each of the result's
  /// shape; codegen/Compiler.cpp checkKernel). Empty for every other kernel.
  std::vector<ir::Type> moreResults;
  /// For kernel nodes: the fused body (owned by the node being compiled), else nullptr.
  const ir::Graph *region = nullptr;
  /// A shape-generic elementwise kernel: only the ranks of the types count, the dims and strides
  /// are read from `sizes` (layout in codegen/Compiler.h, lowering lowerElementwiseGeneric).
  bool shapeGeneric = false;
};

/// The kernel function being emitted: `out` is the result pointer, `ins` the operand pointers
/// (all noalias), `sizes` the runtime sizes argument (unused by static-shape kernels). For a
/// multi-output kernel `ins` holds the further results' pointers first (KernelDesc::moreResults,
/// in order), then the operands': so helpers that split a nest across threads shift them too.
struct KernelBuilder {
  llvm::Module &mod;
  llvm::IRBuilder<> &b;
  llvm::Function *fn;
  llvm::Value *out;
  std::vector<llvm::Value *> ins;
  llvm::Value *sizes;

  llvm::LLVMContext &ctx() const { return b.getContext(); }
  /// The in-memory element type: float, double, i64, i8 (bool).
  llvm::Type *elemType(ir::DType t) const;
  llvm::Value *i64(int64_t v) const { return b.getInt64(uint64_t(v)); }
  /// ptr[index] as elemType(t).
  llvm::Value *load(ir::DType t, llvm::Value *ptr, llvm::Value *index) const;
  void store(ir::DType t, llvm::Value *v, llvm::Value *ptr, llvm::Value *index) const;
};

/// Emits `for (iv = 0; iv < n; ++iv) body(iv)` at the builder's position and leaves the
/// builder after the loop. The body may create blocks of its own.
void emitLoop(llvm::IRBuilder<> &b, llvm::Value *n, const std::function<void(llvm::Value *)> &body,
              const std::string &name);

/// A loop nest over `sizes` (outermost first) that walks several strided arrays at once:
/// strides[a][d] is array a's stride (in elements) along dim d, 0 on broadcast dims.
struct StridedNest {
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> strides;

  int64_t numel() const;
  /// Drops size-1 dims and merges neighbours that are contiguous in every array, so the common
  /// elementwise case becomes one flat loop with unit (or zero) innermost strides.
  void coalesce();
};

/// The nest of an elementwise result: its row-major strides, then each operand's broadcast
/// strides, over the result shape (not yet coalesced).
StridedNest broadcastNest(const ir::Type &result, std::span<const ir::Type> operands);

/// The identity of a sum/mean/max/min accumulation of dtype `t` (0, -inf/INT64_MIN, +inf/INT64_MAX).
llvm::Value *reduceIdentity(KernelBuilder &kb, ir::OpId op, ir::DType t);
/// acc op x; `reassoc` marks the float add of a horizontal accumulation (so it vectorizes).
llvm::Value *reduceCombine(KernelBuilder &kb, ir::OpId op, ir::DType t, llvm::Value *acc, llvm::Value *x, bool reassoc);

/// How a reduction maps its input onto its result: per input dim, its stride in the result (0 when
/// reduced; kept dims are row-major in their input order), and the count reduced into each element.
struct ReduceLayout {
  std::vector<int64_t> outStrides;
  int64_t count = 1;
};
ReduceLayout reduceLayout(const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &in);
/// A sum/mean/max/min of `def` into kb.out (type `out`) over a nest of the input's shape `in`:
/// `operands` are the arrays read per input element (broadcast to `in`), and `element` computes
/// the reduced value from their element offsets, emitted with the KernelBuilder it is given (the
/// function of a parallel chunk, see emitParallelNest, when the result's outermost dim is split
/// across threads). The reduced innermost dim becomes an accumulator loop. lowerReduce reads one
/// operand; a fused reduction kernel evaluates its region.
void emitReduction(KernelBuilder &kb, const ir::OpDef &def, const ir::AttrMap &attrs, const ir::Type &in,
                   const ir::Type &out, std::span<const ir::Type> operands,
                   const std::function<llvm::Value *(KernelBuilder &kb, std::span<llvm::Value *const> inOffsets)> &element);
/// One of several reductions over the same nest and axes (a multi-output reduction kernel): its
/// op (sum/mean/max/min) and result type; the first goes to kb.out, the others to kb.ins[0..)
/// (KernelBuilder: further results first).
struct ReductionOut {
  ir::OpId op;
  ir::DType operand; ///< the dtype it reduces (its operand's)
  ir::Type result;
};
/// emitReduction for several reductions sharing one walk of the nest (`attrs`: their common axes
/// and keepdim, read with the first's op): `element` gives each one's value at a point, in order.
void emitReductions(KernelBuilder &kb, std::span<const ReductionOut> outs, const ir::AttrMap &attrs, const ir::Type &in,
                    std::span<const ir::Type> operands,
                    const std::function<std::vector<llvm::Value *>(KernelBuilder &kb, std::span<llvm::Value *const> inOffsets)> &element);

/// Emits the nest; `body` receives each array's element offset (i64). Nothing runs when any size
/// is 0. Bounds and strides are passed as Values so they may later be runtime sizes.
void emitNest(KernelBuilder &kb, std::span<llvm::Value *const> sizes,
              const std::vector<std::vector<llvm::Value *>> &strides,
              const std::function<void(std::span<llvm::Value *const> offsets)> &body);
/// emitNest with the nest's static sizes and strides as constants.
void emitNest(KernelBuilder &kb, const StridedNest &nest,
              const std::function<void(std::span<llvm::Value *const> offsets)> &body);

/// Strides of an operand of shape `shape` read in a loop over `outShape` (NumPy broadcasting:
/// right-aligned, stride 0 where the operand's size is 1 or the dim is missing).
std::vector<int64_t> broadcastStrides(const ir::Shape &shape, const ir::Shape &outShape);

/// One number of a const's `value` attribute as a constant of dtype t, converted like cast.
llvm::Constant *constantOf(KernelBuilder &kb, ir::DType t, const ir::Attr &a);

/// One element of an elementwise op (Unary, Binary, Compare, Where, Cast) on scalar operands in
/// their in-memory types (bool as i8), giving the result in its in-memory type. The one
/// per-op lowering shared by single nodes (lowerElementwise) and fused regions (lowerKernel).
llvm::Value *emitScalarOp(KernelBuilder &kb, ir::OpId op, std::span<llvm::Value *const> xs,
                          std::span<const ir::DType> operandTypes, ir::DType resultType, const ir::AttrMap &attrs);

/// Ops whose f32 polynomial expansions are compute-bound (they prefer 512-bit vectors).
bool usesTranscendentals(ir::OpId op);

// --- lowerings, one per op kind (each in its own file) -----------------------------------

/// Unary, Binary, Compare, Where, Cast: a loop nest over the result with broadcast operands.
void lowerElementwise(KernelBuilder &kb, const KernelDesc &k);
/// The shape-generic form (k.shapeGeneric): bounds and strides from `sizes`, the innermost loop
/// versioned on unit/zero strides (codegen/LowerGeneric.cpp).
void lowerElementwiseGeneric(KernelBuilder &kb, const KernelDesc &k);
/// The shape-generic form of sum/mean/max/min (codegen/LowerGeneric.cpp).
void lowerReduceGeneric(KernelBuilder &kb, const KernelDesc &k);
/// The rank of a shape-generic kernel's nest: max(rank, 1) of the result (elementwise) or of the
/// operand (reductions).
size_t genericNestRank(const KernelDesc &k);

// --- runtime sizes (shape-generic kernels; codegen/LowerGeneric.cpp) -------------------------

/// Element i of the kernel's `sizes` argument, loaded at the builder's position.
llvm::Value *loadSize(KernelBuilder &kb, size_t i);
/// One block of a `sizes` layout: the nest coalesced and padded to max(rank, 1) dims (size 1,
/// stride 0 in front), as the bounds, then each array's strides.
std::vector<int64_t> flattenNest(StridedNest nest, size_t rank);
/// A strided nest whose bounds and strides are i64 Values (loaded from `sizes`, or constants).
struct ValueNest {
  std::vector<llvm::Value *> sizes;                ///< bounds, outermost first
  std::vector<std::vector<llvm::Value *>> strides; ///< strides[a][d]: array a along dim d
};
/// The block flattenNest writes (`rank` bounds, then `arrays` x `rank` strides), read by `at`
/// from element `first` on.
ValueNest readNest(const std::function<llvm::Value *(size_t)> &at, size_t first, size_t rank, size_t arrays);

// --- threads (codegen/LowerCommon.cpp) ----------------------------------------------------

/// Elementwise nests and reductions with fewer elements run on the calling thread (the
/// threshold is the runtime's, runtime/ThreadPool.h, so tests can see it without LLVM).
inline constexpr int64_t kParallelMinElements = rt::kParallelMinElements;

/// Emits a call of the runtime's dt_parallel_for(fn, ctx, n, grain) at kb's position, where fn
/// is a new internal function of kb.mod that runs the chunk [begin, end) of [0, n): its code is
/// what `chunk` emits with a KernelBuilder of that function, whose out, ins and sizes are the same
/// pointers as kb's (noalias where kb.fn's parameters are; sizes null when kb's is). `chunk` must
/// not use other Values of kb.fn: it re-derives what it needs (constants, or loads from sizes).
/// Chunks are run at once on several threads, or inline (see runtime/ThreadPool.h).
void emitParallelFor(KernelBuilder &kb, llvm::Value *n, llvm::Value *grain,
                     const std::function<void(KernelBuilder &chunk, llvm::Value *begin, llvm::Value *end)> &chunk);

/// `emit(kb', nest')` for the nest `read(kb)` whose arrays are [kb.out, kb.ins...] of
/// `arrayTypes`, split across threads along its outermost dim of size != 1 (chosen at run time
/// unless every size is a constant: shape-generic nests are padded with size-1 dims in front).
/// nest' is one chunk's: that dim's size is the chunk's length and kb'.out/ins point at the
/// chunk's first element. A nest of constant sizes with fewer than `minElements` elements is
/// emitted inline, unsplit; otherwise chunks hold at least about minElements elements (fewer
/// run inline at run time). `read` is called in kb.fn and again in the chunk's function (it may
/// only make constants or load from its KernelBuilder's sizes). Every element is computed by the
/// same code whatever the thread count, so results do not depend on it, provided `emit` writes
/// only the elements of its chunk (a reduction may split only a dim kept in its result).
void emitParallelNest(KernelBuilder &kb, std::span<const ir::DType> arrayTypes,
                      const std::function<ValueNest(KernelBuilder &kb)> &read,
                      const std::function<void(KernelBuilder &kb, const ValueNest &nest)> &emit,
                      int64_t minElements = kParallelMinElements);
/// A static nest as a ValueNest of constants.
ValueNest constantNest(KernelBuilder &kb, const StridedNest &nest);

// --- runtime sizes, continued ----------------------------------------------------------------

/// Emits the nest with the innermost loop versioned: for each mask of `unitMasks` (bit a set:
/// array a's innermost stride is 1, clear: 0) a copy with those strides constant, taken when
/// they hold at run time (it vectorizes); else a generic copy. `body` gets each array's offset.
void emitVersionedNest(KernelBuilder &kb, const ValueNest &nest, std::span<const unsigned> unitMasks,
                       const std::function<void(std::span<llvm::Value *const> offsets)> &body);
/// shapeGenericSizes of argmax: [outer, n, inner] (codegen/LowerGeneric.cpp).
std::vector<int64_t> argReduceSizes(const ir::OpDef &def, const ir::Type &in, const ir::AttrMap &attrs);
/// shapeGenericSizes of pad, concat, gather, scatter_add (codegen/LowerIndexing.cpp; the static
/// lowering uses the same layout, as constants).
std::vector<int64_t> indexingSizes(const ir::OpDef &def, std::span<const ir::Type> operands, const ir::Type &result,
                                   const ir::AttrMap &attrs);
void lowerConst(KernelBuilder &kb, const KernelDesc &k);
void lowerMatMul(KernelBuilder &kb, const KernelDesc &k);
void lowerReduce(KernelBuilder &kb, const KernelDesc &k);
/// argmax: i64 indices along an axis, static or shape-generic (`sizes` [outer, n, inner];
/// codegen/LowerGeneric.cpp).
void lowerArgReduce(KernelBuilder &kb, const KernelDesc &k);
void lowerLayout(KernelBuilder &kb, const KernelDesc &k);
/// pad, concat, gather, scatter_add, static or shape-generic (codegen/LowerIndexing.cpp).
void lowerIndexing(KernelBuilder &kb, const KernelDesc &k);
/// A fused kernel node: one loop nest over the result, each region node evaluated as a scalar
/// per element (codegen/LowerKernel.cpp).
void lowerKernel(KernelBuilder &kb, const KernelDesc &k);

} // namespace dt::codegen
