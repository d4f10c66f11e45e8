// Fused kernel nodes (passes/Fusion.h), in three forms told apart by the region's shape:
//  - elementwise: one loop nest over the result; in the innermost loop each operand is loaded
//    once with its broadcast strides and the region's nodes are evaluated as scalar SSA values
//    with emitScalarOp (the same per-op code as single elementwise nodes); a multi-output kernel
//    stores each value it yields (all of the result's shape) in the same iteration;
//  - a reduction (the region ends in sum/mean/max/min): the reduction's loop nest over its
//    operand's shape, where each element is computed by the region's elementwise body and
//    folded straight into the accumulator (never stored), horizontal (scalar accumulator over a
//    reduced innermost dim) or vertical (into the result) like lowerReduce; a multi-output one
//    ends in several reductions over the same nest and axes, one accumulator each;
//  - a matmul epilogue (the region starts with a matmul): the generated GEMM (codegen/Gemm.h),
//    one per batch matrix, whose epilogue hook evaluates the region's body on each finished dot
//    product (lane by lane, on scalars) before it is stored: the matmul's result is never stored
//    unfinished or read back.
// broadcast_to is the identity on scalars (its broadcast is the operand's strides); consts of at
// most one element become LLVM constants.
#include "codegen/Gemm.h"
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace dt::codegen {

namespace {

using ValueMap = std::unordered_map<const ir::Value *, llvm::Value *>;

enum class KernelForm { Elementwise, Reduction, MatMulEpilogue };

/// The position of the region's matmul (after the transposes of its operands), or -1.
int matmulAt(const ir::Graph &r) {
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const ir::OpDef *def = ir::findOp(r.nodes[i]->op);
    if (def->kind == ir::OpKind::MatMul) return int(i);
    if (def->kind != ir::OpKind::Layout || def->id == ir::OpId::BroadcastTo) return -1;
  }
  return -1;
}

/// Which of the three forms a region has (describe in Compiler.cpp has checked the region).
KernelForm kernelForm(const ir::Graph &r) {
  if (r.nodes.empty()) return KernelForm::Elementwise; // yields an input: a copy
  if (matmulAt(r) >= 0) return KernelForm::MatMulEpilogue;
  if (ir::findOp(r.nodes.back()->op)->kind == ir::OpKind::Reduce) return KernelForm::Reduction;
  return KernelForm::Elementwise;
}

/// Evaluates region nodes [first, last) on scalars; `val` holds the already-known values.
void emitRegionNodes(KernelBuilder &kb, const ir::Graph &r, size_t first, size_t last, ValueMap &val) {
  for (size_t i = first; i < last; ++i) {
    const ir::Node &n = *r.nodes[i];
    const ir::OpDef *def = ir::findOp(n.op);
    DT_ASSERT(def, "unknown op ", n.op, " in a kernel region");
    std::vector<llvm::Value *> xs;
    std::vector<ir::DType> types;
    for (const ir::Value *o : n.operands) {
      xs.push_back(val.at(o));
      types.push_back(o->type.dtype);
    }
    llvm::Value *v = nullptr;
    if (def->id == ir::OpId::BroadcastTo) {
      v = xs[0];
    } else if (def->kind == ir::OpKind::Const) {
      const ir::Attr *value = ir::attrOrDefault(*def, n.attrs, "value");
      DT_ASSERT(value, "const without a value");
      ir::DType t = n.result->type.dtype;
      if (value->isList()) {
        // Zero or one element (checked by describe); a zero-size const is never read.
        v = value->asList().empty() ? llvm::Constant::getNullValue(kb.elemType(t)) : constantOf(kb, t, value->asList()[0]);
      } else {
        v = constantOf(kb, t, *value);
      }
    } else {
      v = emitScalarOp(kb, def->id, xs, types, n.result->type.dtype, n.attrs);
    }
    val[n.result] = v;
  }
}

/// Region inputs read by some node in [first, end) of the region.
std::vector<bool> inputsRead(const ir::Graph &r, size_t first) {
  std::unordered_set<const ir::Value *> read;
  for (size_t i = first; i < r.nodes.size(); ++i)
    for (const ir::Value *o : r.nodes[i]->operands) read.insert(o);
  std::vector<bool> used;
  for (const ir::Value *in : r.inputs) used.push_back(read.count(in) > 0);
  return used;
}

void lowerElementwiseKernel(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Graph &r = *k.region;
  // A multi-output kernel: the further results (the first's shape) are arrays 1..R of the nest,
  // and kb.ins[0..R) (codegen/Lower.h KernelBuilder); the operands follow.
  size_t more = k.moreResults.size();
  std::vector<ir::Type> arrayTypes(k.moreResults);
  arrayTypes.insert(arrayTypes.end(), k.operands.begin(), k.operands.end());
  StridedNest nest = broadcastNest(k.result, arrayTypes);
  nest.coalesce();
  std::vector<ir::DType> arrays{k.result.dtype};
  for (const ir::Type &t : arrayTypes) arrays.push_back(t.dtype);
  // Split across threads when large (codegen/Lower.h, emitParallelNest).
  emitParallelNest(kb, arrays, [&](KernelBuilder &c) { return constantNest(c, nest); },
                   [&](KernelBuilder &c, const ValueNest &part) {
                     emitNest(c, part.sizes, part.strides, [&](std::span<llvm::Value *const> off) {
                       // Every operand is loaded before any result is stored: a result may be
                       // written in place of an operand (same element, the memory plan).
                       ValueMap val;
                       for (size_t i = 0; i < r.inputs.size(); ++i)
                         val[r.inputs[i]] = c.load(k.operands[i].dtype, c.ins[more + i], off[1 + more + i]);
                       emitRegionNodes(c, r, 0, r.nodes.size(), val);
                       c.store(k.result.dtype, val.at(r.outputs[0]), c.out, off[0]);
                       for (size_t j = 0; j < more; ++j)
                         c.store(k.moreResults[j].dtype, val.at(r.outputs[1 + j]), c.ins[j], off[1 + j]);
                     });
                   });
}

void lowerReductionKernel(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Graph &r = *k.region;
  // The region ends in one reduction per result (sibling reductions over the same nest and axes,
  // checked by describe), which the region yields in order; the nodes before compute their
  // operands.
  size_t nOuts = 1 + k.moreResults.size(), body = r.nodes.size() - nOuts;
  const ir::Node &first = *r.nodes[body];
  const ir::Type &in = first.operands[0]->type; // the shape of the loop nest
  std::vector<ReductionOut> outs;
  for (size_t j = 0; j < nOuts; ++j) {
    const ir::Node &red = *r.nodes[body + j];
    outs.push_back({ir::findOp(red.op)->id, red.operands[0]->type.dtype, red.result->type});
  }
  // The element of each reduction's operand at these operand offsets, computed by the region body.
  emitReductions(kb, outs, first.attrs, in, k.operands, [&](KernelBuilder &c, std::span<llvm::Value *const> inOff) {
    ValueMap val;
    for (size_t i = 0; i < k.operands.size(); ++i)
      val[r.inputs[i]] = c.load(k.operands[i].dtype, c.ins[nOuts - 1 + i], inOff[i]);
    emitRegionNodes(c, r, 0, body, val);
    std::vector<llvm::Value *> xs;
    for (size_t j = 0; j < nOuts; ++j) xs.push_back(val.at(r.nodes[body + j]->operands[0]));
    return xs;
  });
}

void lowerEpilogueKernel(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Graph &r = *k.region;
  size_t at = size_t(matmulAt(r));
  const ir::Node &mm = *r.nodes[at];
  const ir::Type &c = k.result; // the matmul's type too (checked by describe)
  llvm::IRBuilder<> &b = kb.b;
  // The region input each matmul operand reads, and whether through a transpose of its last two
  // dims (then its row and column strides swap: no copy).
  std::vector<size_t> ab;
  std::vector<bool> swapped;
  for (const ir::Value *o : mm.operands) {
    swapped.push_back(o->def != nullptr); // checked: a leading transpose of a region input
    const ir::Value *in = o->def ? o->def->operands[0] : o;
    ab.push_back(size_t(std::find(r.inputs.begin(), r.inputs.end(), in) - r.inputs.begin()));
    DT_ASSERT(ab.back() < r.inputs.size(), "matmul operand %", o->name, " is not a region input");
  }
  const ir::Type &a = mm.operands[0]->type, &bT = mm.operands[1]->type;
  int64_t m = a.shape[size_t(a.rank() - 2)], kk = a.shape[size_t(a.rank() - 1)], n = bT.shape[size_t(bT.rank() - 1)];
  size_t rank = size_t(c.rank());
  auto matrix = [&](int x, llvm::Value *ptr, int64_t cols) -> GemmOperand { // row-major [rows, cols] or its transpose
    return swapped[size_t(x)] ? GemmOperand{ptr, kb.i64(1), kb.i64(x == 0 ? m : kk)} : GemmOperand{ptr, kb.i64(cols), kb.i64(1)};
  };

  // The batch nest walks the result, the matmul's operands (a transposed one has the same batch
  // strides) and every operand the epilogue reads (its broadcast strides over the batch dims);
  // the last two dims of an epilogue operand are its row and column strides within one M x N
  // matrix.
  std::vector<bool> read = inputsRead(r, at + 1);
  StridedNest nest = matmulBatchNest(a, bT, c);
  std::vector<std::pair<int64_t, int64_t>> rowCol(k.operands.size(), {0, 0});
  for (size_t i = 0; i < k.operands.size(); ++i) {
    std::vector<int64_t> st = read[i] ? broadcastStrides(k.operands[i].shape, c.shape) : std::vector<int64_t>(rank, 0);
    rowCol[i] = {st[rank - 2], st[rank - 1]};
    nest.strides.push_back(std::vector<int64_t>(st.begin(), st.end() - 2));
  }
  nest.coalesce();

  llvm::Type *ty = kb.elemType(c.dtype);
  emitNest(kb, nest, [&](std::span<llvm::Value *const> off) {
    // This batch element's matrices as the pointers of the GEMM's KernelBuilder (a GEMM split
    // across threads rebuilds its spec and epilogue from them, codegen/Gemm.h GemmSpecFn): C, A,
    // B, then every region input at its batch offset.
    KernelBuilder mat{kb.mod, b, kb.fn, b.CreateInBoundsGEP(ty, kb.out, off[0]), {}, kb.sizes};
    mat.ins.push_back(b.CreateInBoundsGEP(ty, kb.ins[ab[0]], off[1]));
    mat.ins.push_back(b.CreateInBoundsGEP(ty, kb.ins[ab[1]], off[2]));
    for (size_t i = 0; i < k.operands.size(); ++i)
      mat.ins.push_back(read[i] ? b.CreateInBoundsGEP(kb.elemType(k.operands[i].dtype), kb.ins[i], off[3 + i]) : kb.ins[i]);
    emitGemm(mat, [&](KernelBuilder &g) {
      GemmSpec s;
      s.dtype = c.dtype;
      s.m = g.i64(m);
      s.n = g.i64(n);
      s.k = g.i64(kk);
      s.a = matrix(0, g.ins[0], kk);
      s.b = matrix(1, g.ins[1], n);
      s.c = g.out;
      s.ldc = g.i64(n);
      if (at + 1 == r.nodes.size()) return s; // no epilogue (only transposed operands): the plain GEMM
      // Each lane is one output element: its operands are loaded at (row, col + lane) and the
      // region's body runs on scalars (the same code as every other kernel).
      s.epilogue = [&](llvm::IRBuilder<> &hb, llvm::Value *acc, llvm::Value *row, llvm::Value *col, unsigned lanes) {
        DT_ASSERT(&hb == &g.b, "the GEMM epilogue runs on its spec's builder");
        llvm::Value *res = lanes > 1 ? llvm::PoisonValue::get(acc->getType()) : nullptr;
        for (unsigned l = 0; l < lanes; ++l) {
          llvm::Value *cl = lanes > 1 ? hb.CreateAdd(col, g.i64(l)) : col;
          ValueMap val;
          val[mm.result] = lanes > 1 ? hb.CreateExtractElement(acc, uint64_t(l)) : acc;
          for (size_t i = 0; i < r.inputs.size(); ++i) {
            if (!read[i]) continue;
            llvm::Value *el = hb.CreateAdd(hb.CreateMul(row, g.i64(rowCol[i].first)), hb.CreateMul(cl, g.i64(rowCol[i].second)));
            val[r.inputs[i]] = g.load(k.operands[i].dtype, g.ins[2 + i], el);
          }
          emitRegionNodes(g, r, at + 1, r.nodes.size(), val);
          llvm::Value *y = val.at(r.outputs[0]);
          res = lanes > 1 ? hb.CreateInsertElement(res, y, uint64_t(l)) : y;
        }
        return res;
      };
      return s;
    });
  });
}

} // namespace

void lowerKernel(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(k.region, "kernel without a region");
  const ir::Graph &r = *k.region;
  DT_ASSERT(r.inputs.size() == k.operands.size() && r.outputs.size() == 1 + k.moreResults.size(),
            "kernel region does not match its node");

  for (const auto &n : r.nodes)
    if (const ir::OpDef *def = ir::findOp(n->op); def && usesTranscendentals(def->id) && n->result->type.dtype == ir::DType::F32)
      kb.fn->addFnAttr("prefer-vector-width", "512");

  switch (kernelForm(r)) {
  case KernelForm::Elementwise: lowerElementwiseKernel(kb, k); return;
  case KernelForm::Reduction: lowerReductionKernel(kb, k); return;
  case KernelForm::MatMulEpilogue: lowerEpilogueKernel(kb, k); return;
  }
  DT_ASSERT(false, "unknown kernel form");
}

} // namespace dt::codegen
