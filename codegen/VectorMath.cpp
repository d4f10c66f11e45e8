// exp, log, tanh and sigmoid for f32 as straight-line IR: Cody-Waite range reduction and the
// Cephes minimax polynomials, special values selected branch-free, exact IEEE operations only
// (no fast-math flags), so the result is the same on every host and within ~2 ulp of the
// correctly rounded value. f64 calls libm (correct, scalar).
#include "codegen/VectorMath.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <limits>

namespace dt::codegen {

namespace {

llvm::Value *f32(llvm::IRBuilder<> &b, double v) { return llvm::ConstantFP::get(b.getFloatTy(), v); }

/// Horner's rule: ((c[0]*x + c[1])*x + ...) + c[n-1].
llvm::Value *horner(llvm::IRBuilder<> &b, llvm::Value *x, std::initializer_list<double> coeffs) {
  llvm::Value *acc = nullptr;
  for (double c : coeffs)
    acc = acc ? b.CreateFAdd(b.CreateFMul(acc, x), f32(b, c)) : f32(b, c);
  return acc;
}

/// 2^k for an i32 k in [-126, 127], built from its exponent bits.
llvm::Value *pow2(llvm::IRBuilder<> &b, llvm::Value *k) {
  llvm::Value *bits = b.CreateShl(b.CreateAdd(k, b.getInt32(127)), 23);
  return b.CreateBitCast(bits, b.getFloatTy());
}

llvm::Value *expF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  llvm::Value *isNaN = b.CreateFCmpUNO(x, x);
  // Beyond these bounds the result is inf / 0 anyway; clamping keeps the exponent arithmetic in
  // range (89 > log(FLT_MAX) = 88.72, -104 < log(2^-150) = -103.97). NaN is fixed up at the end.
  llvm::Value *xc = b.CreateSelect(b.CreateFCmpOGT(x, f32(b, 89.0)), f32(b, 89.0), x);
  xc = b.CreateSelect(b.CreateFCmpOLT(xc, f32(b, -104.0)), f32(b, -104.0), xc);
  xc = b.CreateSelect(isNaN, f32(b, 0.0), xc);
  // x = n ln2 + r, |r| <= ln2/2; ln2 = C1 + C2 with C1 exact in 9 bits, so n*C1 is exact.
  llvm::Value *n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(xc, f32(b, 1.44269504088896341)));
  llvm::Value *r = b.CreateFSub(xc, b.CreateFMul(n, f32(b, 0.693359375)));
  r = b.CreateFSub(r, b.CreateFMul(n, f32(b, -2.12194440e-4)));
  // e^r = 1 + r + r^2 P(r) (Cephes expf).
  llvm::Value *z = b.CreateFMul(r, r);
  llvm::Value *p = horner(b, r, {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2,
                                 1.6666665459E-1, 5.0000001201E-1});
  llvm::Value *y = b.CreateFAdd(b.CreateFAdd(b.CreateFMul(p, z), r), f32(b, 1.0));
  // Scale by 2^n as 2^n1 * 2^n2 (n in [-150, 129]): both factors are normal floats and the
  // first product is exact, so overflow and gradual underflow round once, correctly.
  llvm::Value *ni = b.CreateFPToSI(n, b.getInt32Ty());
  llvm::Value *n1 = b.CreateAShr(ni, 1);
  llvm::Value *n2 = b.CreateSub(ni, n1);
  llvm::Value *res = b.CreateFMul(b.CreateFMul(y, pow2(b, n1)), pow2(b, n2));
  return b.CreateSelect(isNaN, x, res);
}

llvm::Value *logF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  llvm::Type *i32 = b.getInt32Ty();
  // Subnormals: scale into the normal range first.
  llvm::Value *sub = b.CreateFCmpOLT(x, f32(b, std::numeric_limits<float>::min()));
  llvm::Value *xs = b.CreateSelect(sub, b.CreateFMul(x, f32(b, 8388608.0)), x);
  llvm::Value *bias = b.CreateSelect(sub, b.getInt32(126 + 23), b.getInt32(126));
  // x = m 2^e with m in [0.5, 1).
  llvm::Value *bits = b.CreateBitCast(xs, i32);
  llvm::Value *e = b.CreateSub(b.CreateLShr(bits, 23), bias);
  llvm::Value *m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, b.getInt32(0x007fffff)), b.getInt32(0x3f000000)),
                                   b.getFloatTy());
  // Move m to [sqrt(1/2), sqrt(2)) and subtract 1 (both steps exact).
  llvm::Value *low = b.CreateFCmpOLT(m, f32(b, 0.707106781186547524));
  e = b.CreateSelect(low, b.CreateSub(e, b.getInt32(1)), e);
  llvm::Value *f = b.CreateFSub(b.CreateSelect(low, b.CreateFAdd(m, m), m), f32(b, 1.0));
  llvm::Value *fe = b.CreateSIToFP(e, b.getFloatTy());
  // log(1+f) = f - f^2/2 + f^3 P(f) (Cephes logf); e ln2 added as C1 + C2 like exp.
  llvm::Value *z = b.CreateFMul(f, f);
  llvm::Value *p = horner(b, f, {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
                                 1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1,
                                 3.3333331174E-1});
  llvm::Value *y = b.CreateFMul(b.CreateFMul(p, f), z);
  y = b.CreateFAdd(y, b.CreateFMul(fe, f32(b, -2.12194440e-4)));
  y = b.CreateFAdd(y, b.CreateFMul(z, f32(b, -0.5)));
  llvm::Value *res = b.CreateFAdd(b.CreateFAdd(f, y), b.CreateFMul(fe, f32(b, 0.693359375)));
  // Special values: +inf -> +inf, +-0 -> -inf, negative or NaN -> NaN.
  const double inf = std::numeric_limits<double>::infinity();
  res = b.CreateSelect(b.CreateFCmpOEQ(x, f32(b, inf)), x, res);
  res = b.CreateSelect(b.CreateFCmpOEQ(x, f32(b, 0.0)), f32(b, -inf), res);
  res = b.CreateSelect(b.CreateFCmpULT(x, f32(b, 0.0)), f32(b, std::numeric_limits<double>::quiet_NaN()), res);
  return res;
}

llvm::Value *tanhF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  llvm::Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  // |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf); tiny x stay exact.
  llvm::Value *z = b.CreateFMul(x, x);
  llvm::Value *p = horner(b, z, {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2, 1.33314422036E-1,
                                 -3.33332819422E-1});
  llvm::Value *small = b.CreateFAdd(b.CreateFMul(b.CreateFMul(p, z), x), x);
  small = b.CreateSelect(b.CreateFCmpOEQ(x, f32(b, 0.0)), x, small); // tanh(-0) = -0
  // Otherwise (1 - e)/(1 + e) with e = e^-2|x| in (0, 0.29]: no overflow, +-1 for large |x|,
  // NaN for NaN.
  llvm::Value *e = expF32(b, b.CreateFMul(ax, f32(b, -2.0)));
  llvm::Value *t = b.CreateFDiv(b.CreateFSub(f32(b, 1.0), e), b.CreateFAdd(f32(b, 1.0), e));
  llvm::Value *large = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, t, x);
  return b.CreateSelect(b.CreateFCmpOLT(ax, f32(b, 0.625)), small, large);
}

llvm::Value *sigmoidF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  // e = e^-|x| in (0, 1]: sigmoid(x) = 1/(1+e) for x >= 0 and e/(1+e) for x < 0, which keeps
  // full relative accuracy down into the subnormals for very negative x.
  llvm::Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value *e = expF32(b, b.CreateFNeg(ax));
  llvm::Value *d = b.CreateFAdd(f32(b, 1.0), e);
  llvm::Value *num = b.CreateSelect(b.CreateFCmpOGE(x, f32(b, 0.0)), f32(b, 1.0), e);
  return b.CreateFDiv(num, d); // NaN: e is NaN, so is the quotient
}

bool isF32(llvm::Value *x) {
  if (x->getType()->isFloatTy()) return true;
  DT_ASSERT(x->getType()->isDoubleTy(), "transcendentals take float or double");
  return false;
}

} // namespace

llvm::Value *emitLibmCall(llvm::IRBuilder<> &b, llvm::Module &m, const char *name,
                          std::initializer_list<llvm::Value *> args) {
  std::vector<llvm::Type *> params(args.size(), b.getDoubleTy());
  llvm::FunctionCallee f = m.getOrInsertFunction(name, llvm::FunctionType::get(b.getDoubleTy(), params, false));
  return b.CreateCall(f, std::vector<llvm::Value *>(args));
}

llvm::Value *emitExp(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x) {
  return isF32(x) ? expF32(b, x) : emitLibmCall(b, m, "exp", {x});
}

llvm::Value *emitLog(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x) {
  return isF32(x) ? logF32(b, x) : emitLibmCall(b, m, "log", {x});
}

llvm::Value *emitTanh(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x) {
  return isF32(x) ? tanhF32(b, x) : emitLibmCall(b, m, "tanh", {x});
}

llvm::Value *emitSigmoid(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x) {
  if (isF32(x)) return sigmoidF32(b, x);
  // f64: 1 / (1 + exp(-x)), the interpreter's formula, with libm's exp.
  llvm::Value *one = llvm::ConstantFP::get(b.getDoubleTy(), 1.0);
  return b.CreateFDiv(one, b.CreateFAdd(one, emitLibmCall(b, m, "exp", {b.CreateFNeg(x)})));
}

} // namespace dt::codegen
