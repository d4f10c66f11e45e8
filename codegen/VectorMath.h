// Transcendentals written directly in LLVM IR (range reduction + polynomial, no calls), so the
// loops that use them vectorize. f32 only; f64 calls libm's scalar functions. (sqrt is
// llvm.sqrt, emitted by the lowering: correctly rounded and vectorizable already.)
#pragma once

#include <llvm/IR/IRBuilder.h>

namespace dt::codegen {

/// e^x for a float or double Value (scalar; the vectorizer widens it).
llvm::Value *emitExp(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x);
/// Natural logarithm: log(0) = -inf, log(x<0) = NaN, log(inf) = inf.
llvm::Value *emitLog(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x);
/// Hyperbolic tangent, saturating at +-1.
llvm::Value *emitTanh(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x);
/// 1 / (1 + e^-x), without overflow for any x.
llvm::Value *emitSigmoid(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x);
/// C's pow(x, y) (x, y both float or both double); f32 vectorizes, f64 calls libm.
llvm::Value *emitPow(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x, llvm::Value *y);
/// A call of the libm function `name` (e.g. "pow") on doubles.
llvm::Value *emitLibmCall(llvm::IRBuilder<> &b, llvm::Module &m, const char *name,
                          std::initializer_list<llvm::Value *> args);

} // namespace dt::codegen
