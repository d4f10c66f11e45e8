// const: writes its literal. A single number becomes a fill loop; a list becomes a private
// constant array copied with llvm.memcpy.
#include "codegen/Lower.h"

#include "ir/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Module.h>

#include <cmath>
#include <limits>

namespace dt::codegen {

/// One number of the `value` attribute as a constant of dtype t, converted like cast (and like
/// the interpreter): ints keep all 64 bits, float -> i64 truncates and saturates, -> bool is
/// x != 0.
llvm::Constant *constantOf(KernelBuilder &kb, ir::DType t, const ir::Attr &a) {
  double d = a.isBool() ? (a.asBool() ? 1.0 : 0.0) : a.asFloat();
  switch (t) {
  case ir::DType::F32: // an int rounds once, straight to float
    return llvm::ConstantFP::get(kb.b.getFloatTy(), double(a.isInt() ? float(a.asInt()) : float(d)));
  case ir::DType::F64: return llvm::ConstantFP::get(kb.b.getDoubleTy(), d);
  case ir::DType::I64: {
    int64_t v;
    if (a.isInt()) v = a.asInt();
    else if (std::isnan(d)) v = 0;
    else if (d >= 9223372036854775808.0) v = std::numeric_limits<int64_t>::max();
    else if (d < -9223372036854775808.0) v = std::numeric_limits<int64_t>::min();
    else v = int64_t(d);
    return kb.b.getInt64(uint64_t(v));
  }
  case ir::DType::Bool: return kb.b.getInt8(a.isInt() ? a.asInt() != 0 : d != 0.0);
  }
  DT_ASSERT(false, "unknown dtype");
}

void lowerConst(KernelBuilder &kb, const KernelDesc &k) {
  const ir::Attr *value = ir::attrOrDefault(*k.def, k.attrs, "value");
  DT_ASSERT(value, "const without a value");
  ir::DType t = k.result.dtype;
  int64_t n = k.result.numel();
  if (n == 0) return;
  if (!value->isList()) {
    llvm::Constant *c = constantOf(kb, t, *value);
    emitLoop(kb.b, kb.i64(n), [&](llvm::Value *i) { kb.store(t, c, kb.out, i); }, "i");
    return;
  }
  const ir::Attr::List &items = value->asList();
  DT_ASSERT(int64_t(items.size()) == n, "const has ", items.size(), " values for ", k.result.str());
  std::vector<llvm::Constant *> elems;
  elems.reserve(items.size());
  for (const ir::Attr &a : items) elems.push_back(constantOf(kb, t, a));
  auto *arrTy = llvm::ArrayType::get(kb.elemType(t), uint64_t(n));
  auto *g = new llvm::GlobalVariable(kb.mod, arrTy, /*isConstant=*/true, llvm::GlobalValue::PrivateLinkage,
                                     llvm::ConstantArray::get(arrTy, elems), kb.fn->getName() + ".value");
  g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  g->setAlignment(llvm::Align(64));
  kb.b.CreateMemCpy(kb.out, llvm::Align(ir::dtypeSize(t)), g, llvm::Align(64), kb.i64(n * int64_t(ir::dtypeSize(t))));
}

} // namespace dt::codegen
