// Shape-generic kernels (eager mode) for elementwise ops and reductions, and argmax (static and
// shape-generic, one lowering): the loop bounds
// and strides are read from the kernel's `sizes` argument (layouts in codegen/Compiler.h), so one
// kernel serves every shape of a given rank. Also the helpers every shape-generic lowering shares
// (LowerIndexing.cpp too): reading `sizes`, flattening a nest into it, and the strided nest whose
// innermost loop is versioned: when each array's inner stride is 1 or 0 as a version expects, a
// copy with constant strides runs (it vectorizes); else a generic copy.
#include "codegen/Compiler.h"
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace dt::codegen {

llvm::Value *loadSize(KernelBuilder &kb, size_t i) {
  llvm::Value *p = kb.b.CreateConstInBoundsGEP1_64(kb.b.getInt64Ty(), kb.sizes, i);
  return kb.b.CreateAlignedLoad(kb.b.getInt64Ty(), p, llvm::Align(8));
}

std::vector<int64_t> flattenNest(StridedNest nest, size_t rank) {
  nest.coalesce();
  rank = std::max<size_t>(rank, 1);
  DT_ASSERT(nest.sizes.size() <= rank, "coalesced nest of rank ", nest.sizes.size(), " exceeds ", rank);
  size_t pad = rank - nest.sizes.size();
  std::vector<int64_t> out(pad, 1);
  out.insert(out.end(), nest.sizes.begin(), nest.sizes.end());
  for (const auto &st : nest.strides) {
    out.insert(out.end(), pad, 0);
    out.insert(out.end(), st.begin(), st.end());
  }
  return out;
}

ValueNest readNest(const std::function<llvm::Value *(size_t)> &at, size_t first, size_t rank, size_t arrays) {
  ValueNest nest;
  for (size_t d = 0; d < rank; ++d) nest.sizes.push_back(at(first + d));
  nest.strides.resize(arrays);
  for (size_t a = 0; a < arrays; ++a)
    for (size_t d = 0; d < rank; ++d) nest.strides[a].push_back(at(first + rank * (1 + a) + d));
  return nest;
}

void emitVersionedNest(KernelBuilder &kb, const ValueNest &nest, std::span<const unsigned> unitMasks,
                       const std::function<void(std::span<llvm::Value *const> offsets)> &body) {
  llvm::IRBuilder<> &b = kb.b;
  llvm::LLVMContext &ctx = kb.ctx();
  DT_ASSERT(!nest.sizes.empty(), "a versioned nest needs at least one dim");
  size_t last = nest.sizes.size() - 1, arrays = nest.strides.size();
  std::span<llvm::Value *const> outerSizes(nest.sizes.data(), last);
  std::vector<std::vector<llvm::Value *>> outerStrides(arrays);
  for (size_t a = 0; a < arrays; ++a) outerStrides[a].assign(nest.strides[a].begin(), nest.strides[a].end() - 1);

  emitNest(kb, outerSizes, outerStrides, [&](std::span<llvm::Value *const> base) {
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    llvm::Value *n = nest.sizes[last];
    auto *done = llvm::BasicBlock::Create(ctx, "inner.done", fn);
    for (unsigned m : unitMasks) {
      llvm::Value *cond = b.getTrue();
      for (size_t a = 0; a < arrays; ++a)
        cond = b.CreateAnd(cond, b.CreateICmpEQ(nest.strides[a][last], kb.i64((m >> a) & 1)));
      auto *then = llvm::BasicBlock::Create(ctx, "inner.v" + std::to_string(m), fn);
      auto *next = llvm::BasicBlock::Create(ctx, "inner.next", fn);
      b.CreateCondBr(cond, then, next);
      b.SetInsertPoint(then);
      emitLoop(b, n, [&](llvm::Value *iv) {
        std::vector<llvm::Value *> off;
        for (size_t a = 0; a < arrays; ++a) off.push_back((m >> a) & 1 ? b.CreateAdd(base[a], iv) : base[a]);
        body(off);
      }, "j" + std::to_string(m));
      b.CreateBr(done);
      b.SetInsertPoint(next);
    }
    emitLoop(b, n, [&](llvm::Value *iv) {
      std::vector<llvm::Value *> off;
      for (size_t a = 0; a < arrays; ++a) off.push_back(b.CreateAdd(base[a], b.CreateMul(iv, nest.strides[a][last])));
      body(off);
    }, "j");
    b.CreateBr(done);
    b.SetInsertPoint(done);
  });
}

size_t genericNestRank(const KernelDesc &k) {
  const ir::Type &walked = k.def->kind == ir::OpKind::Reduce ? k.operands.at(0) : k.result;
  return std::max<size_t>(walked.shape.size(), 1);
}

void lowerElementwiseGeneric(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.shapeGeneric, k.def->name, ": not a shape-generic kernel");
  size_t rank = genericNestRank(k), arrays = 1 + k.operands.size();

  if (usesTranscendentals(k.def->id) && k.result.dtype == ir::DType::F32)
    kb.fn->addFnAttr("prefer-vector-width", "512");

  std::vector<ir::DType> types;
  for (const ir::Type &t : k.operands) types.push_back(t.dtype);

  // Versions of the innermost loop: the result's inner stride is 1 (bit 0), each operand's 1 (bit
  // set) or 0 (a broadcast). All operands 0 cannot happen with a unit result stride (the result is
  // their broadcast). Where (three operands) gets only the all-unit version, to bound code size.
  std::vector<unsigned> masks;
  unsigned all = (1u << k.operands.size()) - 1;
  if (k.operands.size() <= 2) {
    for (unsigned m = all; m > 0; --m) masks.push_back(m << 1 | 1);
  } else {
    masks.push_back(all << 1 | 1);
  }
  std::vector<ir::DType> arrayTypes{k.result.dtype};
  arrayTypes.insert(arrayTypes.end(), types.begin(), types.end());
  // Split across threads along the outermost dim of size != 1 when large (emitParallelNest).
  // Every bound and stride is loaded up front, before any store, so none is reloaded in a loop.
  emitParallelNest(kb, arrayTypes, [&](KernelBuilder &c) { return readNest([&](size_t i) { return loadSize(c, i); }, 0, rank, arrays); },
                   [&](KernelBuilder &c, const ValueNest &part) {
                     emitVersionedNest(c, part, masks, [&](std::span<llvm::Value *const> off) {
                       std::vector<llvm::Value *> xs;
                       for (size_t i = 0; i < k.operands.size(); ++i)
                         xs.push_back(c.load(k.operands[i].dtype, c.ins[i], off[i + 1]));
                       c.store(k.result.dtype, emitScalarOp(c, k.def->id, xs, types, k.result.dtype, k.attrs), c.out, off[0]);
                     });
                   });
}

std::vector<int64_t> shapeGenericSizesStrided(const ir::OpDef &def, std::span<const ir::Type> operandTypes,
                                              std::span<const std::vector<int64_t>> operandStrides,
                                              const ir::Type &result) {
  bool elementwise = def.kind == ir::OpKind::Unary || def.kind == ir::OpKind::Binary || def.kind == ir::OpKind::Compare ||
                     def.kind == ir::OpKind::Where || def.kind == ir::OpKind::Cast;
  if (!elementwise) throw ValueError(fmt("codegen: ", def.name, " takes no strided operands (expected an elementwise op)"));
  if (operandStrides.size() != operandTypes.size())
    throw ValueError(fmt("codegen: ", def.name, ": ", operandStrides.size(), " stride lists for ", operandTypes.size(), " operands"));
  for (const ir::Type &t : operandTypes)
    if (auto out = ir::broadcastShapes(t.shape, result.shape); !out || *out != result.shape)
      throw ValueError(fmt("codegen: shape-generic operand ", t.str(), " does not broadcast to the result ", result.str()));
  StridedNest nest = broadcastNest(result, operandTypes);
  size_t rank = result.shape.size();
  for (size_t i = 0; i < operandTypes.size(); ++i) {
    const ir::Shape &s = operandTypes[i].shape;
    if (operandStrides[i].size() != s.size())
      throw ValueError(fmt("codegen: ", def.name, ": operand ", i, " ", operandTypes[i].str(), " has ",
                           operandStrides[i].size(), " strides"));
    for (size_t d = 0; d < s.size(); ++d) {
      if (operandStrides[i][d] < 0)
        throw ValueError(fmt("codegen: ", def.name, ": operand ", i, " has a negative stride ", operandStrides[i][d]));
      if (s[d] != 1) nest.strides[i + 1][rank - s.size() + d] = operandStrides[i][d];
    }
  }
  return flattenNest(nest, rank);
}

// --- reductions ----------------------------------------------------------------------------------
// The same rules as lowerReduce (codegen/LowerReduce.cpp), with the nest read from `sizes`:
// K bounds, K result strides (0 on reduced dims), K input strides, the result's element count,
// then the number of elements reduced into each result element (for mean).

void lowerReduceGeneric(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.shapeGeneric && k.def->kind == ir::OpKind::Reduce, k.def->name, ": not a shape-generic reduction");
  llvm::IRBuilder<> &b = kb.b;
  llvm::LLVMContext &ctx = kb.ctx();
  ir::OpId op = k.def->id;
  ir::DType t = k.operands[0].dtype, outT = k.result.dtype;
  size_t rank = genericNestRank(k);
  ValueNest nest = readNest([&](size_t i) { return loadSize(kb, i); }, 0, rank, 2);
  const std::vector<llvm::Value *> &sizes = nest.sizes;
  const std::vector<std::vector<llvm::Value *>> &strides = nest.strides;
  llvm::Value *outN = loadSize(kb, 3 * rank), *count = loadSize(kb, 3 * rank + 1);
  llvm::Type *ty = kb.elemType(t);
  llvm::AllocaInst *slot;
  {
    llvm::IRBuilderBase::InsertPointGuard g(b);
    b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
    slot = b.CreateAlloca(ty, nullptr, "acc");
  }

  emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outT, reduceIdentity(kb, op, t), kb.out, o); }, "init");

  size_t last = rank - 1;
  llvm::Function *fn = kb.fn;
  auto *horizontal = llvm::BasicBlock::Create(ctx, "horizontal", fn);
  auto *vertical = llvm::BasicBlock::Create(ctx, "vertical", fn);
  auto *walked = llvm::BasicBlock::Create(ctx, "walked", fn);
  b.CreateCondBr(b.CreateICmpEQ(strides[0][last], kb.i64(0)), horizontal, vertical);

  // The innermost dim is reduced: a scalar accumulator over it (reassoc: it vectorizes), with a
  // unit-stride copy of the accumulation loop.
  b.SetInsertPoint(horizontal);
  std::span<llvm::Value *const> outerSizes(sizes.data(), last);
  std::vector<std::vector<llvm::Value *>> outerStrides(2);
  for (size_t a = 0; a < 2; ++a) outerStrides[a].assign(strides[a].begin(), strides[a].begin() + long(last));
  llvm::Value *innerN = sizes[last], *innerStride = strides[1][last];
  emitNest(kb, outerSizes, outerStrides, [&](std::span<llvm::Value *const> off) {
    b.CreateStore(reduceIdentity(kb, op, t), slot);
    auto *unit = llvm::BasicBlock::Create(ctx, "r.unit", fn);
    auto *strided = llvm::BasicBlock::Create(ctx, "r.strided", fn);
    auto *done = llvm::BasicBlock::Create(ctx, "r.done", fn);
    b.CreateCondBr(b.CreateICmpEQ(innerStride, kb.i64(1)), unit, strided);
    for (bool isUnit : {true, false}) {
      b.SetInsertPoint(isUnit ? unit : strided);
      emitLoop(b, innerN, [&](llvm::Value *r) {
        llvm::Value *x = kb.load(t, kb.ins[0], b.CreateAdd(off[1], isUnit ? r : b.CreateMul(r, innerStride)));
        b.CreateStore(reduceCombine(kb, op, t, b.CreateLoad(ty, slot), x, true), slot);
      }, isUnit ? "ru" : "r");
      b.CreateBr(done);
    }
    b.SetInsertPoint(done);
    llvm::Value *cur = kb.load(outT, kb.out, off[0]);
    kb.store(outT, reduceCombine(kb, op, t, cur, b.CreateLoad(ty, slot), false), kb.out, off[0]);
  });
  b.CreateBr(walked);

  // Otherwise out[o] = op(out[o], x[i]) over the whole nest.
  b.SetInsertPoint(vertical);
  emitNest(kb, sizes, strides, [&](std::span<llvm::Value *const> off) {
    llvm::Value *cur = kb.load(outT, kb.out, off[0]);
    kb.store(outT, reduceCombine(kb, op, t, cur, kb.load(t, kb.ins[0], off[1]), false), kb.out, off[0]);
  });
  b.CreateBr(walked);

  b.SetInsertPoint(walked);
  if (op == ir::OpId::Mean) {
    llvm::Value *n = b.CreateSIToFP(count, kb.elemType(outT)); // rounded once, like lowerReduce's constant
    emitLoop(b, outN, [&](llvm::Value *o) { kb.store(outT, b.CreateFDiv(kb.load(outT, kb.out, o), n), kb.out, o); }, "mean");
  }
}

// --- argmax (static and shape-generic) ------------------------------------------------------------
// The tensor split as outer x n x inner along the axis (1 x numel x 1 when flattened), the three
// constants or read from `sizes`: for each (outer, inner) pair a scalar scan over the axis keeps
// the best value and its index; a later element takes over only when strictly greater (first
// occurrence wins) or, for floats, when it is NaN while the best is not (the first NaN wins;
// nothing takes over from a NaN).

std::vector<int64_t> argReduceSizes(const ir::OpDef &def, const ir::Type &in, const ir::AttrMap &attrs) {
  std::optional<int64_t> axis = ir::argAxis(def, attrs, in.rank());
  int64_t outer = 1, n = in.numel(), inner = 1;
  if (axis && in.rank() > 0) {
    n = in.shape[size_t(*axis)];
    for (int64_t d = 0; d < in.rank(); ++d) {
      if (d < *axis) outer *= in.shape[size_t(d)];
      if (d > *axis) inner *= in.shape[size_t(d)];
    }
  }
  return {outer, n, inner};
}

void lowerArgReduce(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.def->id == ir::OpId::ArgMax, k.def->name, " is not an arg-reduction");
  const ir::Type &in = k.operands[0];
  llvm::IRBuilder<> &b = kb.b;
  // A static kernel gets [outer, n, inner] as constants, a shape-generic one loads them.
  std::vector<int64_t> split = argReduceSizes(*k.def, in, k.attrs);
  auto at = [&](size_t i) { return k.shapeGeneric ? loadSize(kb, i) : kb.i64(split[i]); };
  llvm::Value *outer = at(0), *n = at(1), *inner = at(2);
  llvm::Value *rowLength = b.CreateMul(n, inner);
  bool fp = ir::isFloat(in.dtype);
  llvm::Type *ty = kb.elemType(in.dtype);
  llvm::AllocaInst *bestSlot, *atSlot;
  {
    llvm::IRBuilderBase::InsertPointGuard g(b);
    b.SetInsertPoint(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
    bestSlot = b.CreateAlloca(ty, nullptr, "best");
    atSlot = b.CreateAlloca(b.getInt64Ty(), nullptr, "at");
  }
  // n >= 1 whenever a result element exists (the type rule rejects an empty axis).
  emitLoop(b, outer, [&](llvm::Value *p) {
    emitLoop(b, inner, [&](llvm::Value *q) {
      // row = p * n * inner + q; element j of the row is at row + j * inner.
      llvm::Value *row = b.CreateAdd(b.CreateMul(p, rowLength), q);
      b.CreateStore(kb.load(in.dtype, kb.ins[0], row), bestSlot);
      b.CreateStore(kb.i64(0), atSlot);
      emitLoop(b, b.CreateSub(n, kb.i64(1)), [&](llvm::Value *j) {
        llvm::Value *kk = b.CreateAdd(j, kb.i64(1));
        llvm::Value *v = kb.load(in.dtype, kb.ins[0], b.CreateAdd(row, b.CreateMul(kk, inner)));
        llvm::Value *best = b.CreateLoad(ty, bestSlot);
        llvm::Value *takes = fp ? b.CreateAnd(b.CreateFCmpUGT(v, best), b.CreateFCmpORD(best, best))
                                : b.CreateICmpSGT(v, best);
        b.CreateStore(b.CreateSelect(takes, v, best), bestSlot);
        b.CreateStore(b.CreateSelect(takes, kk, b.CreateLoad(b.getInt64Ty(), atSlot)), atSlot);
      }, "k");
      kb.store(ir::DType::I64, b.CreateLoad(b.getInt64Ty(), atSlot), kb.out, b.CreateAdd(b.CreateMul(p, inner), q));
    }, "q");
  }, "p");
}

} // namespace dt::codegen
