// exp, log, tanh, sigmoid and pow for f32 as straight-line IR: Cody-Waite range reduction and
// minimax/Taylor polynomials (pow: log and exp in double), special values folded into clamps or
// selected branch-free; no fast-math flags, and llvm.fma exactly where the host has FMA (else a
// multiply and an add), so the result is fixed for a host and within a few ulp of the correctly
// rounded value (tests/cpp/vector_math_test.cpp measures it). f64 calls libm (correct, scalar).
#include "codegen/VectorMath.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>
#include <llvm/TargetParser/Host.h>

#include <limits>
#include <utility>

namespace dt::codegen {

namespace {

llvm::Value *f32(llvm::IRBuilder<> &b, double v) { return llvm::ConstantFP::get(b.getFloatTy(), v); }

/// Whether the host (the JIT's target, see Jit.cpp's detectHost) has fused multiply-add.
bool hostHasFma() {
  static const bool has = [] {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    auto it = features.find("fma");
    return it != features.end() && it->second;
  }();
  return has;
}

/// a*x + c: llvm.fma (one rounding) where the host has FMA, else a multiply and an add. Never
/// contracted implicitly, so the result is fixed for a given host.
llvm::Value *mulAdd(llvm::IRBuilder<> &b, llvm::Value *a, llvm::Value *x, llvm::Value *c) {
  if (hostHasFma()) return b.CreateIntrinsic(llvm::Intrinsic::fma, {a->getType()}, {a, x, c});
  return b.CreateFAdd(b.CreateFMul(a, x), c);
}

/// Horner's rule: ((c[0]*x + c[1])*x + ...) + c[n-1], in x's type (float or double).
llvm::Value *horner(llvm::IRBuilder<> &b, llvm::Value *x, std::initializer_list<double> coeffs) {
  llvm::Value *acc = nullptr;
  for (double c : coeffs) {
    llvm::Value *k = llvm::ConstantFP::get(x->getType(), c);
    acc = acc ? mulAdd(b, acc, x, k) : k;
  }
  return acc;
}

/// select(x > hi, hi, x) and select(x < lo, lo, x): vminps/vmaxps with the operand order that
/// lets a NaN x through unchanged.
llvm::Value *clampAbove(llvm::IRBuilder<> &b, llvm::Value *x, double hi) {
  return b.CreateSelect(b.CreateFCmpOGT(x, f32(b, hi)), f32(b, hi), x);
}
llvm::Value *clampBelow(llvm::IRBuilder<> &b, llvm::Value *x, double lo) {
  return b.CreateSelect(b.CreateFCmpOLT(x, f32(b, lo)), f32(b, lo), x);
}

/// 2^k for an i32 k in [-126, 127], built from its exponent bits.
llvm::Value *pow2(llvm::IRBuilder<> &b, llvm::Value *k) {
  llvm::Value *bits = b.CreateShl(b.CreateAdd(k, b.getInt32(127)), 23);
  return b.CreateBitCast(bits, b.getFloatTy());
}

/// a = n ln2 + r with n = rint(a log2e) and |r| <= ln2/2, for |a| < 2^21 (or NaN): returns r and
/// n as an i32. n comes from the 1.5*2^23 shift (t's low mantissa bits hold it, exactly); ln2 =
/// C1 + C2 with C1 exact in 9 bits, so n*C1 is exact.
std::pair<llvm::Value *, llvm::Value *> reduceLn2(llvm::IRBuilder<> &b, llvm::Value *a) {
  const double shift = 12582912.0;
  llvm::Value *t = mulAdd(b, a, f32(b, 1.44269504088896341), f32(b, shift));
  llvm::Value *n = b.CreateFSub(t, f32(b, shift));
  llvm::Value *r = mulAdd(b, n, f32(b, -0.693359375), a);
  r = mulAdd(b, n, f32(b, 2.12194440e-4), r);
  return {r, b.CreateSub(b.CreateBitCast(t, b.getInt32Ty()), b.getInt32(0x4b400000))};
}

/// e^x for x already clamped to [-104, 89] (or NaN, which propagates: the garbage exponent it
/// makes only ever multiplies a NaN). `subnormalOrInf`: the result may overflow or be subnormal
/// (x outside [-87, 88]), which needs the scaling by 2^n in two steps; otherwise one.
llvm::Value *expClamped(llvm::IRBuilder<> &b, llvm::Value *x, bool subnormalOrInf) {
  auto [r, ni] = reduceLn2(b, x);
  // e^r = 1 + r + r^2 P(r) (Cephes expf) = 1 + r (1 + r P(r)).
  llvm::Value *y = horner(b, r, {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2,
                                 1.6666665459E-1, 5.0000001201E-1, 1.0, 1.0});
  if (!subnormalOrInf) return b.CreateFMul(y, pow2(b, ni));
  // Scale by 2^n as 2^n1 * 2^n2 (n in [-150, 129]): both factors are normal floats and the
  // first product is exact, so overflow and gradual underflow round once, correctly.
  llvm::Value *n1 = b.CreateAShr(ni, 1);
  llvm::Value *n2 = b.CreateSub(ni, n1);
  return b.CreateFMul(b.CreateFMul(y, pow2(b, n1)), pow2(b, n2));
}

llvm::Value *expF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  // Beyond these bounds the result is inf / 0 anyway; clamping keeps the exponent arithmetic in
  // range (89 > log(FLT_MAX) = 88.72, -104 < log(2^-150) = -103.97).
  return expClamped(b, clampBelow(b, clampAbove(b, x, 89.0), -104.0), true);
}

llvm::Value *logF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  llvm::Type *i32 = b.getInt32Ty();
  // Subnormals: scale into the normal range first.
  llvm::Value *sub = b.CreateFCmpOLT(x, f32(b, std::numeric_limits<float>::min()));
  llvm::Value *xs = b.CreateSelect(sub, b.CreateFMul(x, f32(b, 8388608.0)), x);
  // x = m 2^e with m in [sqrt(1/2), sqrt(2)): e is the exponent of x / sqrt(1/2), and m is x
  // with e taken off its exponent bits (both exact; musl's logf reduction).
  llvm::Value *bits = b.CreateBitCast(xs, i32);
  llvm::Value *tmp = b.CreateSub(bits, b.getInt32(0x3f3504f3)); // bits of float(sqrt(1/2))
  llvm::Value *e = b.CreateSub(b.CreateAShr(tmp, 23), b.CreateSelect(sub, b.getInt32(23), b.getInt32(0)));
  llvm::Value *m = b.CreateBitCast(b.CreateSub(bits, b.CreateAnd(tmp, b.getInt32(int32_t(0xff800000u)))), b.getFloatTy());
  llvm::Value *f = b.CreateFSub(m, f32(b, 1.0));
  llvm::Value *fe = b.CreateSIToFP(e, b.getFloatTy());
  // log(1+f) = f + f^2 Q(f), Q(f) = -1/2 + f P(f) with P a degree-6 minimax fit of
  // (log(1+f) - f + f^2/2) / f^3 on [sqrt(1/2)-1, sqrt(2)-1] (relative error of the sum < 3.4e-8,
  // made here by Lawson's reweighted least squares); e ln2 added as C1 + C2 like exp.
  llvm::Value *z = b.CreateFMul(f, f);
  llvm::Value *q = horner(b, f, {0.08569318801164627, -0.14224764704704285, 0.14941884577274323, -0.16584137082099915,
                                 0.19961042702198029, -0.25001096725463867, 0.3333396315574646, -0.5});
  llvm::Value *y = mulAdd(b, q, z, b.CreateFMul(fe, f32(b, -2.12194440e-4)));
  llvm::Value *res = mulAdd(b, fe, f32(b, 0.693359375), b.CreateFAdd(f, y));
  // Special values: +inf -> +inf, +-0 -> -inf, negative or NaN -> NaN.
  const double inf = std::numeric_limits<double>::infinity();
  res = b.CreateSelect(b.CreateFCmpOEQ(x, f32(b, inf)), x, res);
  res = b.CreateSelect(b.CreateFCmpOEQ(x, f32(b, 0.0)), f32(b, -inf), res);
  res = b.CreateSelect(b.CreateFCmpULT(x, f32(b, 0.0)), f32(b, std::numeric_limits<double>::quiet_NaN()), res);
  return res;
}

llvm::Value *tanhF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  // tanh|x| = -m / (2 + m) with m = expm1(-2|x|) in (-1, 0]: one formula for every x (no
  // cancellation for small |x|, where m = -2|x| + ...); the sign of x put back at the end (so
  // tanh(-0) = -0, and the negative quotient needs no negation). Beyond |x| = 10 the quotient
  // rounds to 1, so -2|x| is clamped at -20 and 2^n stays normal. NaN propagates.
  llvm::Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value *a = clampBelow(b, b.CreateFMul(ax, f32(b, -2.0)), -20.0);
  auto [r, ni] = reduceLn2(b, a);
  // expm1(r) = r + r^2 (1/2! + r/3! + ... + r^6/8!) (Taylor; |r| <= ln2/2, truncation < 1e-9).
  llvm::Value *h = horner(b, r, {1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5});
  llvm::Value *p = mulAdd(b, h, b.CreateFMul(r, r), r);
  // expm1(a) = 2^n expm1(r) + (2^n - 1), where 2^n - 1 is exact for n in [-24, 0].
  llvm::Value *s = pow2(b, ni);
  llvm::Value *m = mulAdd(b, s, p, b.CreateFSub(s, f32(b, 1.0)));
  llvm::Value *mag = b.CreateFDiv(m, b.CreateFAdd(m, f32(b, 2.0)));
  return b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, mag, x);
}

llvm::Value *sigmoidF32(llvm::IRBuilder<> &b, llvm::Value *x) {
  // e = e^-|x| in (0, 1]: sigmoid(x) = 1/(1+e) for x >= 0 and e/(1+e) for x < 0, which keeps
  // full relative accuracy down into the subnormals for very negative x.
  llvm::Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value *e = expClamped(b, clampBelow(b, b.CreateFNeg(ax), -104.0), true);
  llvm::Value *d = b.CreateFAdd(f32(b, 1.0), e);
  llvm::Value *num = b.CreateSelect(b.CreateFCmpOGE(x, f32(b, 0.0)), f32(b, 1.0), e);
  return b.CreateFDiv(num, d); // NaN: e is NaN, so is the quotient
}

llvm::Value *f64(llvm::IRBuilder<> &b, double v) { return llvm::ConstantFP::get(b.getDoubleTy(), v); }

/// ln(a) in double for a double a > 0 that came from a float (so it is normal as a double):
/// a = m 2^e, m in [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh(s) with s = (m-1)/(m+1), |s| < 0.172,
/// summed to s^15 (relative error < 1e-13). 0 -> -inf, inf -> inf, NaN -> NaN.
llvm::Value *logF64(llvm::IRBuilder<> &b, llvm::Value *a) {
  llvm::Type *i64 = b.getInt64Ty();
  llvm::Value *bits = b.CreateBitCast(a, i64);
  llvm::Value *e = b.CreateSub(b.CreateLShr(bits, 52), b.getInt64(1022));
  llvm::Value *m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, b.getInt64(0x000fffffffffffffLL)), b.getInt64(0x3fe0000000000000LL)),
                                   b.getDoubleTy()); // [0.5, 1)
  llvm::Value *low = b.CreateFCmpOLT(m, f64(b, 0.70710678118654752440));
  e = b.CreateSelect(low, b.CreateSub(e, b.getInt64(1)), e);
  m = b.CreateSelect(low, b.CreateFAdd(m, m), m);
  llvm::Value *s = b.CreateFDiv(b.CreateFSub(m, f64(b, 1.0)), b.CreateFAdd(m, f64(b, 1.0)));
  llvm::Value *z = b.CreateFMul(s, s);
  llvm::Value *p = horner(b, z, {2.0 / 15, 2.0 / 13, 2.0 / 11, 2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3, 2.0});
  llvm::Value *lnm = b.CreateFMul(p, s);
  llvm::Value *fe = b.CreateSIToFP(e, b.getDoubleTy());
  // e ln2 with ln2 split so that e * hi is exact (|e| < 2^8 for values from floats).
  llvm::Value *res = b.CreateFAdd(b.CreateFMul(fe, f64(b, 6.93147180369123816490e-01)),
                                  b.CreateFAdd(lnm, b.CreateFMul(fe, f64(b, 1.90821492927058770002e-10))));
  const double inf = std::numeric_limits<double>::infinity();
  res = b.CreateSelect(b.CreateFCmpOEQ(a, f64(b, 0.0)), f64(b, -inf), res);
  return b.CreateSelect(b.CreateFCmpUEQ(a, f64(b, inf)), a, res); // inf or NaN: itself
}

/// e^t in double for any t (NaN propagates, +-inf give inf/0), relative error < 1e-14: t is
/// clamped to [-800, 800] (beyond float's range either way), t = n ln2 + r with |r| <= ln2/2,
/// e^r by its Taylor series to r^13, scaled by 2^n built in two steps.
llvm::Value *expF64(llvm::IRBuilder<> &b, llvm::Value *t) {
  llvm::Value *isNaN = b.CreateFCmpUNO(t, t);
  llvm::Value *tc = b.CreateSelect(b.CreateFCmpOGT(t, f64(b, 800.0)), f64(b, 800.0), t);
  tc = b.CreateSelect(b.CreateFCmpOLT(tc, f64(b, -800.0)), f64(b, -800.0), tc);
  tc = b.CreateSelect(isNaN, f64(b, 0.0), tc);
  llvm::Value *n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(tc, f64(b, 1.44269504088896338700)));
  llvm::Value *r = b.CreateFSub(tc, b.CreateFMul(n, f64(b, 6.93147180369123816490e-01)));
  r = b.CreateFSub(r, b.CreateFMul(n, f64(b, 1.90821492927058770002e-10)));
  double c[14];
  c[0] = 1;
  for (int i = 1; i < 14; ++i) c[i] = c[i - 1] / i;
  llvm::Value *p = horner(b, r, {c[13], c[12], c[11], c[10], c[9], c[8], c[7], c[6], c[5], c[4], c[3], c[2], c[1], c[0]});
  // 2^n = 2^n1 2^n2, each factor a normal double for n in [-1155, 1155].
  llvm::Value *ni = b.CreateFPToSI(n, b.getInt64Ty());
  llvm::Value *n1 = b.CreateAShr(ni, 1);
  llvm::Value *n2 = b.CreateSub(ni, n1);
  auto pow2d = [&](llvm::Value *k) {
    return b.CreateBitCast(b.CreateShl(b.CreateAdd(k, b.getInt64(1023)), 52), b.getDoubleTy());
  };
  llvm::Value *res = b.CreateFMul(b.CreateFMul(p, pow2d(n1)), pow2d(n2));
  return b.CreateSelect(isNaN, t, res);
}

/// C's pow for floats, rounded once from a double computation: |x|^y = e^(y ln|x|) in double
/// (about 1e-13 relative, so within 1 ulp of the correctly rounded float and nearly always
/// equal to it), with the exact double results for y in {1, 2, 3, -1, -2, 0.5} that the
/// reference (libm's pow in double, rounded) gives, and C's special cases: pow(x, +-0) = 1 and
/// pow(1, y) = 1 even for NaN, pow(-1, +-inf) = 1, finite negative x with non-integer y is NaN, and
/// an odd integer y keeps the sign of x (also for -0 and -inf).
llvm::Value *powF32(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *y) {
  llvm::Type *dbl = b.getDoubleTy();
  llvm::Value *xd = b.CreateFPExt(x, dbl), *yd = b.CreateFPExt(y, dbl);
  llvm::Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, xd);
  llvm::Value *r = expF64(b, b.CreateFMul(yd, logF64(b, ax)));
  // Exact small exponents (products of floats are exact or once-rounded in double).
  llvm::Value *x2 = b.CreateFMul(ax, ax);
  auto when = [&](double v, llvm::Value *exact, llvm::Value *cur) {
    return b.CreateSelect(b.CreateFCmpOEQ(yd, f64(b, v)), exact, cur);
  };
  r = when(1.0, ax, r);
  r = when(2.0, x2, r);
  r = when(3.0, b.CreateFMul(x2, ax), r);
  r = when(-1.0, b.CreateFDiv(f64(b, 1.0), ax), r);
  r = when(-2.0, b.CreateFDiv(f64(b, 1.0), x2), r);
  r = when(0.5, b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, ax), r);
  // Integer and odd-integer exponents (every float with |y| >= 2^24 is an even integer; inf
  // counts as even, NaN as not an integer).
  llvm::Value *isInt = b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, yd), yd);
  llvm::Value *ay = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, yd);
  llvm::Value *yi = b.CreateFPToSI(b.CreateSelect(b.CreateFCmpOLT(ay, f64(b, 16777216.0)), yd, f64(b, 0.0)), b.getInt64Ty());
  llvm::Value *isOdd = b.CreateAnd(isInt, b.CreateTrunc(yi, b.getInt1Ty()));
  llvm::Value *negX = b.CreateICmpSLT(b.CreateBitCast(x, b.getInt32Ty()), b.getInt32(0)); // sign bit, -0 too
  r = b.CreateSelect(b.CreateAnd(isOdd, negX), b.CreateFNeg(r), r);
  // A finite negative base with a non-integer exponent: NaN (pow(-inf, y) is +-0 or +-inf).
  llvm::Value *finiteNeg = b.CreateAnd(b.CreateFCmpOLT(xd, f64(b, 0.0)), b.CreateFCmpOGT(xd, f64(b, -std::numeric_limits<double>::infinity())));
  r = b.CreateSelect(b.CreateAnd(finiteNeg, b.CreateNot(isInt)), f64(b, std::numeric_limits<double>::quiet_NaN()), r);
  llvm::Value *one = f64(b, 1.0);
  r = b.CreateSelect(b.CreateAnd(b.CreateFCmpOEQ(ax, one), b.CreateFCmpOEQ(ay, f64(b, std::numeric_limits<double>::infinity()))), one, r);
  r = b.CreateSelect(b.CreateFCmpOEQ(xd, one), one, r);
  r = b.CreateSelect(b.CreateFCmpOEQ(yd, f64(b, 0.0)), one, r);
  return b.CreateFPTrunc(r, b.getFloatTy());
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
  llvm::CallInst *call = b.CreateCall(f, std::vector<llvm::Value *>(args));
  // Pure (errno is never read): LICM may hoist a call on loop-invariant operands, e.g. a scalar
  // computed inside a fused kernel that broadcasts it.
  call->setDoesNotAccessMemory();
  call->setDoesNotThrow();
  call->addFnAttr(llvm::Attribute::WillReturn);
  return call;
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

llvm::Value *emitPow(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x, llvm::Value *y) {
  if (isF32(x)) return powF32(b, x, y);
  return emitLibmCall(b, m, "pow", {x, y});
}

llvm::Value *emitSigmoid(llvm::IRBuilder<> &b, llvm::Module &m, llvm::Value *x) {
  if (isF32(x)) return sigmoidF32(b, x);
  // f64: 1 / (1 + exp(-x)), the interpreter's formula, with libm's exp.
  llvm::Value *one = llvm::ConstantFP::get(b.getDoubleTy(), 1.0);
  return b.CreateFDiv(one, b.CreateFAdd(one, emitLibmCall(b, m, "exp", {b.CreateFNeg(x)})));
}

} // namespace dt::codegen
