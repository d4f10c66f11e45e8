// Elementwise ops (Unary, Binary, Compare, Where, Cast): one loop nest over the result shape
// (split across threads when large), operands read with broadcast strides; the element
// computation is exact IEEE (no fast-math flags) so the JIT agrees bit for bit with the
// interpreter on f32 arithmetic.
#include "codegen/Lower.h"
#include "codegen/VectorMath.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

namespace dt::codegen {

namespace {

using ir::DType;
using ir::OpId;

llvm::Value *zeroOf(llvm::Type *t) { return llvm::Constant::getNullValue(t); }

/// NaN-propagating max/min, the interpreter's exact rule (so signed zeros agree too):
/// max(a, b) = isnan(a) ? a : isnan(b) ? b : a > b ? a : b, and min likewise with <.
llvm::Value *emitMaxMin(llvm::IRBuilder<> &b, DType t, llvm::Value *x, llvm::Value *y, bool isMax) {
  if (t == DType::I64) return b.CreateSelect(isMax ? b.CreateICmpSGT(x, y) : b.CreateICmpSLT(x, y), x, y);
  llvm::Value *r = b.CreateSelect(isMax ? b.CreateFCmpOGT(x, y) : b.CreateFCmpOLT(x, y), x, y);
  r = b.CreateSelect(b.CreateFCmpUNO(y, y), y, r);
  return b.CreateSelect(b.CreateFCmpUNO(x, x), x, r);
}

llvm::Value *emitUnary(KernelBuilder &kb, OpId op, DType t, llvm::Value *x) {
  llvm::IRBuilder<> &b = kb.b;
  bool fp = ir::isFloat(t);
  switch (op) {
  case OpId::Neg: return fp ? b.CreateFNeg(x) : b.CreateSub(zeroOf(x->getType()), x); // i64 wraps
  case OpId::Abs:
    return fp ? b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x)
              : b.CreateBinaryIntrinsic(llvm::Intrinsic::abs, x, b.getFalse()); // abs(INT64_MIN) wraps
  case OpId::Relu:
    // x > 0 or NaN: x; else +0.
    return fp ? b.CreateSelect(b.CreateFCmpUGT(x, zeroOf(x->getType())), x, zeroOf(x->getType()))
              : b.CreateSelect(b.CreateICmpSGT(x, zeroOf(x->getType())), x, zeroOf(x->getType()));
  case OpId::Exp: return emitExp(b, kb.mod, x);
  case OpId::Log: return emitLog(b, kb.mod, x);
  case OpId::Sqrt: return b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x); // correctly rounded
  case OpId::Sigmoid: return emitSigmoid(b, kb.mod, x);
  case OpId::Tanh: return emitTanh(b, kb.mod, x);
  case OpId::Floor: return b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, x); // exact
  case OpId::Add: case OpId::Sub: case OpId::Mul: case OpId::Div: case OpId::Pow:
  case OpId::Maximum: case OpId::Minimum: case OpId::Eq: case OpId::Ne: case OpId::Lt:
  case OpId::Le: case OpId::Gt: case OpId::Ge: case OpId::Where: case OpId::Cast:
  case OpId::Const: case OpId::MatMul: case OpId::Sum: case OpId::Mean: case OpId::Max:
  case OpId::Reshape: case OpId::Transpose: case OpId::Permute: case OpId::BroadcastTo:
  case OpId::Min: case OpId::ArgMax: case OpId::Slice: case OpId::Pad: case OpId::Concat:
  case OpId::Gather: case OpId::ScatterAdd:
  case OpId::Kernel:
    break;
  }
  DT_ASSERT(false, ir::opDef(op).name, " is not a unary op");
}

llvm::Value *emitBinary(KernelBuilder &kb, OpId op, DType t, llvm::Value *x, llvm::Value *y) {
  llvm::IRBuilder<> &b = kb.b;
  bool fp = ir::isFloat(t);
  switch (op) {
  // i64 arithmetic wraps: no nsw/nuw.
  case OpId::Add: return fp ? b.CreateFAdd(x, y) : b.CreateAdd(x, y);
  case OpId::Sub: return fp ? b.CreateFSub(x, y) : b.CreateSub(x, y);
  case OpId::Mul: return fp ? b.CreateFMul(x, y) : b.CreateMul(x, y);
  case OpId::Div: DT_ASSERT(fp); return b.CreateFDiv(x, y);
  case OpId::Pow: {
    DT_ASSERT(fp);
    // C's pow: f32 vectorizable (codegen/VectorMath.cpp, within 1 ulp), f64 libm.
    return emitPow(b, kb.mod, x, y);
  }
  case OpId::Maximum: return emitMaxMin(b, t, x, y, /*isMax=*/true);
  case OpId::Minimum: return emitMaxMin(b, t, x, y, /*isMax=*/false);
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt:
  case OpId::Sigmoid: case OpId::Tanh: case OpId::Relu: case OpId::Eq: case OpId::Ne:
  case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge: case OpId::Where: case OpId::Cast:
  case OpId::Const: case OpId::MatMul: case OpId::Sum: case OpId::Mean: case OpId::Max:
  case OpId::Reshape: case OpId::Transpose: case OpId::Permute: case OpId::BroadcastTo:
  case OpId::Floor: case OpId::Min: case OpId::ArgMax: case OpId::Slice: case OpId::Pad: case OpId::Concat:
  case OpId::Gather: case OpId::ScatterAdd:
  case OpId::Kernel:
    break;
  }
  DT_ASSERT(false, ir::opDef(op).name, " is not a binary op");
}

/// An i1: ordered float comparisons (false with NaN) except ne (true with NaN); signed for i64,
/// unsigned for bool bytes.
llvm::Value *emitCompare(KernelBuilder &kb, OpId op, DType t, llvm::Value *x, llvm::Value *y) {
  using P = llvm::CmpInst::Predicate;
  bool fp = ir::isFloat(t), sgn = t == DType::I64;
  P p = P::BAD_ICMP_PREDICATE;
  switch (op) {
  case OpId::Eq: p = fp ? P::FCMP_OEQ : P::ICMP_EQ; break;
  case OpId::Ne: p = fp ? P::FCMP_UNE : P::ICMP_NE; break;
  case OpId::Lt: p = fp ? P::FCMP_OLT : sgn ? P::ICMP_SLT : P::ICMP_ULT; break;
  case OpId::Le: p = fp ? P::FCMP_OLE : sgn ? P::ICMP_SLE : P::ICMP_ULE; break;
  case OpId::Gt: p = fp ? P::FCMP_OGT : sgn ? P::ICMP_SGT : P::ICMP_UGT; break;
  case OpId::Ge: p = fp ? P::FCMP_OGE : sgn ? P::ICMP_SGE : P::ICMP_UGE; break;
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt:
  case OpId::Sigmoid: case OpId::Tanh: case OpId::Relu: case OpId::Add: case OpId::Sub:
  case OpId::Mul: case OpId::Div: case OpId::Pow: case OpId::Maximum: case OpId::Minimum:
  case OpId::Where: case OpId::Cast: case OpId::Const: case OpId::MatMul: case OpId::Sum:
  case OpId::Mean: case OpId::Max: case OpId::Reshape: case OpId::Transpose: case OpId::Permute:
  case OpId::Floor: case OpId::Min: case OpId::ArgMax: case OpId::Slice: case OpId::Pad: case OpId::Concat:
  case OpId::Gather: case OpId::ScatterAdd:
  case OpId::BroadcastTo: case OpId::Kernel:
    DT_ASSERT(false, ir::opDef(op).name, " is not a comparison");
  }
  return kb.b.CreateCmp(p, x, y);
}

/// x (of dtype `from`, as loaded) converted to dtype `to` (as stored).
llvm::Value *emitCast(KernelBuilder &kb, DType from, DType to, llvm::Value *x) {
  llvm::IRBuilder<> &b = kb.b;
  llvm::Type *toTy = kb.elemType(to);
  // Bool in: 0/1 from any nonzero byte.
  if (from == DType::Bool) {
    llvm::Value *bit = b.CreateICmpNE(x, b.getInt8(0));
    return ir::isFloat(to) ? b.CreateUIToFP(bit, toTy) : b.CreateZExt(bit, toTy);
  }
  // Bool out: x != 0 (NaN != 0 is true).
  if (to == DType::Bool) {
    llvm::Value *bit = ir::isFloat(from) ? b.CreateFCmpUNE(x, zeroOf(x->getType())) : b.CreateICmpNE(x, zeroOf(x->getType()));
    return b.CreateZExt(bit, toTy);
  }
  if (from == to) return x;
  if (ir::isFloat(from) && ir::isFloat(to))
    return to == DType::F64 ? b.CreateFPExt(x, toTy) : b.CreateFPTrunc(x, toTy);
  if (ir::isFloat(from)) // -> i64: truncate toward zero, saturate, NaN -> 0
    return b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {toTy, x->getType()}, {x});
  return b.CreateSIToFP(x, toTy); // i64 -> float, round to nearest
}

} // namespace

bool usesTranscendentals(OpId op) {
  return op == OpId::Exp || op == OpId::Log || op == OpId::Tanh || op == OpId::Sigmoid;
}

llvm::Value *emitScalarOp(KernelBuilder &kb, OpId op, std::span<llvm::Value *const> xs,
                          std::span<const DType> operandTypes, DType resultType, const ir::AttrMap &attrs) {
  (void)attrs; // cast's dtype attribute is resultType; no other elementwise op has attributes
  const ir::OpDef &def = ir::opDef(op);
  DT_ASSERT(def.arity < 0 || xs.size() == size_t(def.arity), def.name, ": expected ", def.arity, " operands, given ", xs.size());
  DT_ASSERT(xs.size() == operandTypes.size(), def.name, ": ", xs.size(), " operands but ", operandTypes.size(), " types");
  DType t = operandTypes.empty() ? resultType : operandTypes[0];
  switch (def.kind) {
  case ir::OpKind::Unary: return emitUnary(kb, op, t, xs[0]);
  case ir::OpKind::Binary: return emitBinary(kb, op, t, xs[0], xs[1]);
  case ir::OpKind::Compare: return kb.b.CreateZExt(emitCompare(kb, op, t, xs[0], xs[1]), kb.b.getInt8Ty());
  case ir::OpKind::Where: return kb.b.CreateSelect(kb.b.CreateICmpNE(xs[0], kb.b.getInt8(0)), xs[1], xs[2]);
  case ir::OpKind::Cast: return emitCast(kb, t, resultType, xs[0]);
  case ir::OpKind::Const: case ir::OpKind::MatMul: case ir::OpKind::Reduce: case ir::OpKind::ArgReduce:
  case ir::OpKind::Layout: case ir::OpKind::Indexing: case ir::OpKind::Kernel:
    break;
  }
  DT_ASSERT(false, def.name, " is not elementwise");
}

void lowerElementwise(KernelBuilder &kb, const KernelDesc &k) {
  StridedNest nest = broadcastNest(k.result, k.operands);
  nest.coalesce();

  // Polynomial transcendentals are compute-bound: 512-bit vectors pay off (LLVM-NOTES).
  if (usesTranscendentals(k.def->id) && k.result.dtype == DType::F32)
    kb.fn->addFnAttr("prefer-vector-width", "512");

  std::vector<DType> types;
  for (const ir::Type &t : k.operands) types.push_back(t.dtype);
  std::vector<DType> arrays{k.result.dtype};
  arrays.insert(arrays.end(), types.begin(), types.end());
  // Large nests are split across threads along their outermost dim (bit-identical results: every
  // element is computed by the same code).
  emitParallelNest(kb, arrays, [&](KernelBuilder &c) { return constantNest(c, nest); },
                   [&](KernelBuilder &c, const ValueNest &part) {
                     emitNest(c, part.sizes, part.strides, [&](std::span<llvm::Value *const> off) {
                       std::vector<llvm::Value *> xs;
                       for (size_t i = 0; i < k.operands.size(); ++i)
                         xs.push_back(c.load(k.operands[i].dtype, c.ins[i], off[i + 1]));
                       c.store(k.result.dtype, emitScalarOp(c, k.def->id, xs, types, k.result.dtype, k.attrs), c.out, off[0]);
                     });
                   });
}

} // namespace dt::codegen
