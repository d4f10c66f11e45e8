// The PyTorch-style eager API of frontend/TensorOps.h: dtype promotion and Python-number operands,
// slicing as views (shared storage) and their gradients, indexing errors, in-place rules,
// numerically stable softmax/logsumexp, matmul's 1-D cases, cat/stack/gather gradients.
#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace dt;
using ir::DType;
using ir::Shape;

namespace {

Tensor values(std::vector<double> v, Shape s, DType dt = DType::F32) { return Tensor::fromValues(dt, s, v); }

Tensor leaf(std::vector<double> v, Shape s, DType dt = DType::F64) {
  Tensor t = Tensor::fromValues(dt, s, v);
  t.setRequiresGrad(true);
  return t;
}

/// The message of the exception `f` throws (of type E), or "" when it does not throw.
template <typename E, typename F> std::string messageOf(F &&f) {
  try {
    f();
  } catch (const E &e) {
    return e.what();
  }
  return "";
}

bool sharesStorage(const Tensor &a, const Tensor &b) { return a.impl().storage == b.impl().storage; }

} // namespace

TEST(TensorOps, PromotionTable) {
  Tensor i = values({1, 2}, {2}, DType::I64), f = values({1, 2}, {2}, DType::F32), d = values({1, 2}, {2}, DType::F64),
         b = values({1, 0}, {2}, DType::Bool);
  Tensor d0 = values({1}, {}, DType::F64), i0 = values({1}, {}, DType::I64);
  struct Case {
    std::vector<Operand> ops;
    DType want;
  };
  std::vector<Case> cases = {
      {{i, f}, DType::F32},        {{f, d}, DType::F64},         {{b, i}, DType::I64},
      {{b, b}, DType::Bool},       {{i, 2.5}, DType::F32},       {{f, 2.5}, DType::F32},
      {{d, 2.5}, DType::F64},      {{b, 1}, DType::I64},         {{b, true}, DType::Bool},
      {{i, 7}, DType::I64},        {{i, d0}, DType::F64},        {{f, d0}, DType::F32},
      {{b, i0}, DType::I64},       {{i0, 2.5}, DType::F32},      {{d0, 2.5}, DType::F64},
      {{Scalar(1), 2.5}, DType::F32},
  };
  for (size_t k = 0; k < cases.size(); ++k) EXPECT_EQ(resultType(cases[k].ops), cases[k].want) << "case " << k;
  EXPECT_EQ(promoteTypes(DType::I64, DType::F32), DType::F32);
  EXPECT_EQ(promoteTypes(DType::Bool, DType::I64), DType::I64);
  EXPECT_TRUE(canCast(DType::I64, DType::F32));
  EXPECT_FALSE(canCast(DType::F32, DType::I64));
  EXPECT_FALSE(canCast(DType::I64, DType::Bool));
}

TEST(TensorOps, ScalarOperandsKeepTheTensorsDType) {
  Tensor i = values({1, 2, 3}, {3}, DType::I64);
  Tensor r = add(i, 2.5);
  EXPECT_EQ(r.dtype(), DType::F32);
  EXPECT_EQ(r.toValues(), (std::vector<double>{3.5, 4.5, 5.5}));
  EXPECT_EQ(add(i, 2).dtype(), DType::I64);
  EXPECT_EQ(mul(values({1.5}, {1}, DType::F64), 2.5).dtype(), DType::F64);
  // Reflected forms.
  EXPECT_EQ(sub(10, i).toValues(), (std::vector<double>{9, 8, 7}));
  EXPECT_EQ(div(Scalar(6), i).toValues(), (std::vector<double>{6, 3, 2}));
  EXPECT_EQ((1.0 - values({0.25}, {1})).toValues(), (std::vector<double>{0.75}));
  // Bools: + is or, * is and, bool + int promotes.
  Tensor b = values({1, 0, 1}, {3}, DType::Bool), c = values({1, 1, 0}, {3}, DType::Bool);
  EXPECT_EQ(add(b, c).dtype(), DType::Bool);
  EXPECT_EQ(add(b, c).toValues(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(mul(b, c).toValues(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(add(b, 1).dtype(), DType::I64);
  EXPECT_EQ(add(b, 1).toValues(), (std::vector<double>{2, 1, 2}));
  EXPECT_THROW(sub(b, c), TypeError);
  EXPECT_THROW(neg(b), TypeError);
  EXPECT_THROW(add(Scalar(1), Scalar(2)), TypeError);
}

TEST(TensorOps, DivisionFloorDivisionAndPower) {
  Tensor i = values({7, -7, 6}, {3}, DType::I64), j = values({2, 2, -4}, {3}, DType::I64);
  Tensor q = div(i, j);
  EXPECT_EQ(q.dtype(), DType::F32);
  EXPECT_EQ(q.toValues(), (std::vector<double>{3.5, -3.5, -1.5}));
  Tensor fd = floorDivide(i, j); // Python's floor division
  EXPECT_EQ(fd.dtype(), DType::I64);
  EXPECT_EQ(fd.toValues(), (std::vector<double>{3, -4, -2}));
  EXPECT_EQ(remainder(i, j).toValues(), (std::vector<double>{1, 1, -2}));
  EXPECT_EQ(floorDivide(values({-7.5, 7.5}, {2}), 2).toValues(), (std::vector<double>{-4, 3}));
  EXPECT_EQ(messageOf<std::runtime_error>([&] { floorDivide(i, values({1, 0, 1}, {3}, DType::I64)); }),
            "ZeroDivisionError");
  Tensor p = pow(values({2, 3}, {2}, DType::I64), 3);
  EXPECT_EQ(p.dtype(), DType::I64);
  EXPECT_EQ(p.toValues(), (std::vector<double>{8, 27}));
  EXPECT_EQ(pow(values({2, 3}, {2}, DType::I64), 0.5).dtype(), DType::F32);
  std::vector<double> p2 = pow(2, values({1, 3}, {2})).toValues();
  EXPECT_NEAR(p2[0], 2, 1e-6);
  EXPECT_NEAR(p2[1], 8, 1e-5);
  EXPECT_THROW(pow(values({2}, {1}, DType::I64), -1), std::runtime_error);
  // Comparisons promote first: 1 (i64) < 1.5.
  Tensor lt15 = lt(values({1, 2}, {2}, DType::I64), 1.5);
  EXPECT_EQ(lt15.dtype(), DType::Bool);
  EXPECT_EQ(lt15.toValues(), (std::vector<double>{1, 0}));
}

TEST(TensorOps, CastsAreRecordedSoGradientsFlow) {
  Tensor x = leaf({1, 2}, {2}, DType::F32);
  Tensor y = sum(mul(x, values({3, 4}, {2}, DType::F64))); // f32 * f64 -> f64
  EXPECT_EQ(y.dtype(), DType::F64);
  y.backward();
  EXPECT_EQ(x.grad().dtype(), DType::F32);
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{3, 4}));
}

TEST(TensorOps, SlicesAreViewsSharingStorage) {
  Tensor x = arange(Scalar(0), Scalar(12)), m = reshape(x, {3, 4});
  EXPECT_TRUE(sharesStorage(x, m));
  Tensor v = index(m, {Slice{1, 3}, Slice{std::nullopt, std::nullopt, 2}});
  EXPECT_EQ(v.shape(), (Shape{2, 2}));
  EXPECT_TRUE(sharesStorage(v, m));
  EXPECT_FALSE(v.isContiguous());
  EXPECT_EQ(v.toValues(), (std::vector<double>{4, 6, 8, 10}));
  Tensor col = index(m, {Slice{}, int64_t(1)}); // m[:, 1]
  EXPECT_EQ(col.shape(), (Shape{3}));
  EXPECT_TRUE(sharesStorage(col, m));
  EXPECT_EQ(col.toValues(), (std::vector<double>{1, 5, 9}));
  Tensor e = index(m, {EllipsisItem{}, NewAxis{}, int64_t(-1)}); // m[..., None, -1]
  EXPECT_EQ(e.shape(), (Shape{3, 1}));
  EXPECT_EQ(e.toValues(), (std::vector<double>{3, 7, 11}));
  // Python's clamping of slice bounds.
  EXPECT_EQ(index(x, {Slice{-3, 100}}).toValues(), (std::vector<double>{9, 10, 11}));
  EXPECT_EQ(index(x, {Slice{5, 2}}).numel(), 0);
  // Writing through a view (no autograd involved) changes the base.
  Tensor row = index(m, {int64_t(0)});
  add_(row, 100);
  EXPECT_EQ(index(x, {Slice{0, 5}}).toValues(), (std::vector<double>{100, 101, 102, 103, 4}));
}

TEST(TensorOps, SliceGradientsArePadded) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = sum(mul(index(x, {Slice{}, Slice{std::nullopt, std::nullopt, 2}}), 3)); // x[:, ::2] * 3
  y.backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{3, 0, 3, 3, 0, 3}));
  Tensor z = sum(index(x, {int64_t(1), int64_t(2)})); // x[1, 2]
  z.backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{3, 0, 3, 3, 0, 4}));
}

TEST(TensorOps, IndexErrorsNameIndexDimAndSize) {
  Tensor m = zeros({3, 4});
  EXPECT_EQ(messageOf<IndexError>([&] { index(m, {int64_t(5)}); }), "index 5 is out of bounds for dimension 0 with size 3");
  EXPECT_EQ(messageOf<IndexError>([&] { index(m, {Slice{}, int64_t(-5)}); }),
            "index -5 is out of bounds for dimension 1 with size 4");
  EXPECT_EQ(messageOf<ValueError>([&] { index(m, {Slice{std::nullopt, std::nullopt, -1}}); }),
            "step must be greater than zero");
  EXPECT_THROW(index(m, {Slice{std::nullopt, std::nullopt, 0}}), ValueError);
  EXPECT_THROW(index(m, {int64_t(0), int64_t(0), int64_t(0)}), IndexError);
  EXPECT_THROW(index(m, {EllipsisItem{}, EllipsisItem{}}), IndexError);
  // Tensor indices are range-checked before any kernel runs.
  Tensor idx = values({0, 3}, {2}, DType::I64);
  EXPECT_EQ(messageOf<IndexError>([&] { index(m, {idx}); }), "index 3 is out of bounds for dimension 0 with size 3");
  EXPECT_THROW(index(m, {values({0.5}, {1})}), IndexError);
  EXPECT_THROW(gather(m, 1, values({0, 4, 1}, {3, 1}, DType::I64)), IndexError);
}

TEST(TensorOps, IntegerTensorIndexingGathersAndScattersBack) {
  Tensor x = leaf({0, 1, 2, 3, 4, 5}, {3, 2});
  Tensor idx = values({2, 0, 2, -1}, {2, 2}, DType::I64);
  Tensor r = index(x, {idx}); // shape [2, 2, 2]
  EXPECT_EQ(r.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(r.toValues(), (std::vector<double>{4, 5, 0, 1, 4, 5, 4, 5}));
  sum(r).backward(); // row 2 picked three times (once as -1), row 0 once
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{1, 1, 0, 0, 3, 3}));
  // Two index tensors: pairs of coordinates.
  Tensor p = index(x, {values({0, 2}, {2}, DType::I64), values({1, 0}, {2}, DType::I64)});
  EXPECT_EQ(p.toValues(), (std::vector<double>{1, 4}));
  // A slice then a tensor index: x[:, [1, 1, 0]].
  Tensor c = index(x, {Slice{}, values({1, 1, 0}, {3}, DType::I64)});
  EXPECT_EQ(c.shape(), (Shape{3, 3}));
  EXPECT_EQ(c.toValues(), (std::vector<double>{1, 1, 0, 3, 3, 2, 5, 5, 4}));
  // A bool mask selects.
  Tensor mask = gt(x.detach(), 2.5);
  EXPECT_EQ(index(x, {mask}).toValues(), (std::vector<double>{3, 4, 5}));
}

TEST(TensorOps, InPlaceFollowsPyTorchsRules) {
  Tensor w = leaf({1, 2}, {2});
  EXPECT_EQ(messageOf<std::runtime_error>([&] { add_(w, 1); }),
            "a leaf Variable that requires grad is being used in an in-place operation.");
  EXPECT_EQ(messageOf<std::runtime_error>([&] {
              Tensor v = index(w, {Slice{0, 1}});
              mul_(v, 2);
            }),
            "a view of a leaf Variable that requires grad is being used in an in-place operation.");
  {
    NoGradGuard g; // the optimizer's update: written into the leaf's storage
    auto storage = w.impl().storage;
    sub_(w, mul(values({1, 1}, {2}, DType::F64), 0.5));
    EXPECT_EQ(w.impl().storage, storage);
    EXPECT_EQ(w.toValues(), (std::vector<double>{0.5, 1.5}));
    EXPECT_TRUE(w.requiresGrad());
    EXPECT_TRUE(w.isLeaf());
  }
  Tensor i = values({1, 2}, {2}, DType::I64);
  EXPECT_EQ(messageOf<std::runtime_error>([&] { div_(i, 2); }),
            "result type Float can't be cast to the desired output type Long");
  EXPECT_THROW(add_(i, values({1, 2, 3}, {3, 1}, DType::I64)), ValueError); // would broadcast i
  // Strided destinations: writing into a transposed view.
  Tensor base = zeros({2, 3});
  Tensor tv = transpose(base, 0, 1);
  add_(tv, values({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(base.toValues(), (std::vector<double>{1, 3, 5, 2, 4, 6}));
  Tensor expanded = broadcastTo(zeros({1}), {3});
  EXPECT_THROW(add_(expanded, 1), std::runtime_error); // one element written three times
  // A non-leaf that requires grad is rebound to the recorded result (see TensorOps.h).
  Tensor x = leaf({1, 2}, {2});
  Tensor y = mul(x, 3);
  y += x;
  EXPECT_EQ(y.gradFn()->name(), "AddBackward0");
  sum(y).backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{4, 4}));
  // A plain tensor updated by one that requires grad becomes part of the graph.
  Tensor acc = zeros({2}, DType::F64);
  Tensor z = leaf({5, 6}, {2});
  acc += z;
  EXPECT_TRUE(acc.requiresGrad());
  sum(mul(acc, acc)).backward();
  EXPECT_EQ(z.grad().toValues(), (std::vector<double>{10, 12}));
}

TEST(TensorOps, IndexPutWritesOrRecords) {
  Tensor m = zeros({2, 3});
  indexPut(m, {int64_t(1), Slice{1, 3}}, 7);
  indexPut(m, {Slice{}, int64_t(0)}, values({1, 2}, {2}));
  EXPECT_EQ(m.toValues(), (std::vector<double>{1, 0, 0, 2, 7, 7}));
  Tensor w = leaf({1, 2, 3}, {3});
  EXPECT_THROW(indexPut(w, {int64_t(0)}, 5), std::runtime_error);
  Tensor y = mul(w, 2);
  indexPut(y, {int64_t(1)}, 0);
  indexPut(y, {values({2}, {1}, DType::I64)}, index(w, {Slice{0, 1}}));
  EXPECT_EQ(y.toValues(), (std::vector<double>{2, 0, 1}));
  sum(y).backward();
  EXPECT_EQ(w.grad().toValues(), (std::vector<double>{3, 0, 0}));
}

TEST(TensorOps, SoftmaxAndLogsumexpAreStableAtLargeInputs) {
  Tensor x = leaf({1e4, -1e4, 0, 1e4}, {2, 2});
  std::vector<double> s = softmax(x, 1).toValues(), want{1, 0, 0, 1};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(s[k], want[k], 1e-12);
  std::vector<double> lv = logSoftmax(x, 1).toValues();
  EXPECT_NEAR(lv[0], 0, 1e-12);
  EXPECT_NEAR(lv[1], -2e4, 1e-9);
  std::vector<double> l = logsumexp(x, {1}).toValues();
  EXPECT_NEAR(l[0], 1e4, 1e-9);
  EXPECT_NEAR(l[1], 1e4, 1e-9);
  Tensor lse2 = logsumexp(values({1e4, 1e4, -1e4}, {3}, DType::F64), {0});
  EXPECT_NEAR(lse2.item(), 1e4 + std::log(2.0), 1e-9);
  sum(mul(softmax(x, 0), values({1, 2, 3, 4}, {2, 2}, DType::F64))).backward();
  for (double g : x.grad().toValues()) EXPECT_TRUE(std::isfinite(g)) << g;
  // All -inf stays -inf; +inf gives +inf (no NaN from inf - inf).
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(logsumexp(values({-inf, -inf}, {2}, DType::F64), {0}).item(), -inf);
  EXPECT_EQ(logsumexp(values({inf, 1}, {2}, DType::F64), {0}).item(), inf);
  EXPECT_THROW(softmax(values({1, 2}, {2}, DType::I64), 0), TypeError);
}

TEST(TensorOps, MatmulOneDimensionalOperands) {
  Tensor v = leaf({1, 2, 3}, {3});
  Tensor m = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor dot = matmul(v, v);
  EXPECT_EQ(dot.shape(), Shape{});
  EXPECT_EQ(dot.item(), 14);
  Tensor vm = matmul(v, m);
  EXPECT_EQ(vm.shape(), (Shape{2}));
  EXPECT_EQ(vm.toValues(), (std::vector<double>{22, 28}));
  Tensor mv = matmul(transpose(m, 0, 1), v);
  EXPECT_EQ(mv.shape(), (Shape{2}));
  EXPECT_EQ(mv.toValues(), (std::vector<double>{22, 28}));
  Tensor batched = matmul(reshape(arange(Scalar(0.0), Scalar(12.0), Scalar(1.0), DType::F64), {2, 2, 3}), v);
  EXPECT_EQ(batched.shape(), (Shape{2, 2}));
  sum(vm).backward();
  EXPECT_EQ(v.grad().toValues(), (std::vector<double>{3, 7, 11}));
  EXPECT_EQ(m.grad().toValues(), (std::vector<double>{1, 1, 2, 2, 3, 3}));
  EXPECT_THROW(matmul(v, values({1, 2}, {2}, DType::F64)), ValueError);
  EXPECT_THROW(matmul(values({1}, {}, DType::F64), v), ValueError);
  EXPECT_THROW(matmul(v, values({1, 2, 3}, {3}, DType::F32)), TypeError);
}

TEST(TensorOps, CatStackGatherGradients) {
  Tensor a = leaf({1, 2}, {1, 2}), b = leaf({3, 4, 5, 6}, {2, 2});
  Tensor c = cat({a, b}, 0);
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(c.toValues(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  sum(mul(c, values({1, 2, 3, 4, 5, 6}, {3, 2}, DType::F64))).backward();
  EXPECT_EQ(a.grad().toValues(), (std::vector<double>{1, 2}));
  EXPECT_EQ(b.grad().toValues(), (std::vector<double>{3, 4, 5, 6}));
  EXPECT_EQ(cat({values({1}, {1}, DType::I64), values({2.5}, {1})}).dtype(), DType::F32); // promoted
  EXPECT_THROW(cat({a, values({1, 2, 3}, {1, 3}, DType::F64)}, 0), ValueError);

  Tensor x = leaf({1, 2}, {2}), y = leaf({3, 4}, {2});
  Tensor s = stack({x, y}, 1);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s.toValues(), (std::vector<double>{1, 3, 2, 4}));
  sum(mul(s, values({1, 2, 3, 4}, {2, 2}, DType::F64))).backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{1, 3}));
  EXPECT_EQ(y.grad().toValues(), (std::vector<double>{2, 4}));

  Tensor g = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor picked = gather(g, 1, values({2, 2, 0, 1}, {2, 2}, DType::I64));
  EXPECT_EQ(picked.toValues(), (std::vector<double>{3, 3, 4, 5}));
  sum(picked).backward();
  EXPECT_EQ(g.grad().toValues(), (std::vector<double>{0, 0, 2, 1, 1, 0}));
  EXPECT_THROW(gather(g, 1, values({0}, {1, 1})), TypeError); // index must be i64
}

TEST(TensorOps, ScatterAddAndPad) {
  Tensor base = zeros({2, 3}, DType::F64);
  Tensor src = leaf({1, 2, 3, 4}, {2, 2});
  Tensor r = scatterAdd(base, 1, values({0, 0, 2, 1}, {2, 2}, DType::I64), src);
  EXPECT_EQ(r.toValues(), (std::vector<double>{3, 0, 0, 0, 4, 3}));
  sum(mul(r, values({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64))).backward();
  EXPECT_EQ(src.grad().toValues(), (std::vector<double>{1, 1, 6, 5}));
  EXPECT_EQ(messageOf<IndexError>([&] {
              scatterAdd(base, 1, values({3}, {1, 1}, DType::I64), values({1}, {1, 1}, DType::F64));
            }),
            "index 3 is out of bounds for dimension 1 with size 3");
  EXPECT_THROW(scatterAdd(base, 1, values({0}, {1, 1}, DType::I64), values({1}, {1, 1})), TypeError);

  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor p = pad(x, {1, -1}); // last dim: one zero before, one element cropped after
  EXPECT_EQ(p.shape(), (Shape{2, 3}));
  EXPECT_EQ(p.toValues(), (std::vector<double>{0, 1, 2, 0, 4, 5}));
  Tensor q = pad(x, {0, 0, 1, 0}, Scalar(9.0)); // a row of nines before
  EXPECT_EQ(q.shape(), (Shape{3, 3}));
  EXPECT_EQ(q.toValues(), (std::vector<double>{9, 9, 9, 1, 2, 3, 4, 5, 6}));
  sum(mul(p, 2)).backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{2, 2, 0, 2, 2, 0}));
  EXPECT_THROW(pad(x, {1}), ValueError);
  EXPECT_THROW(pad(x, {-2, -2}), ValueError);
}

TEST(TensorOps, MaxWithDimSendsTheGradientToTheIndex) {
  Tensor x = leaf({3, 1, 3, 2, 5, 5}, {2, 3});
  auto [v, i] = max(x, 1);
  EXPECT_EQ(v.toValues(), (std::vector<double>{3, 5}));
  EXPECT_EQ(i.dtype(), DType::I64);
  EXPECT_EQ(i.toValues(), (std::vector<double>{0, 1})); // first occurrence
  sum(v).backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  // amax splits among ties, like PyTorch.
  Tensor y = leaf({3, 1, 3}, {3});
  amax(y, {0}).backward();
  EXPECT_EQ(y.grad().toValues(), (std::vector<double>{0.5, 0, 0.5}));
  auto [mv, mi] = min(values({4, -1, -1, 7}, {2, 2}, DType::I64), 0, true);
  EXPECT_EQ(mv.shape(), (Shape{1, 2}));
  EXPECT_EQ(mv.toValues(), (std::vector<double>{-1, -1}));
  EXPECT_EQ(mi.toValues(), (std::vector<double>{1, 0}));
  EXPECT_EQ(argmin(values({-9223372036854775808.0, 0}, {2}, DType::I64)).item(), 0);
  EXPECT_EQ(argmax(values({1, NAN, 3}, {3})).item(), 1); // NaN is the maximum
  EXPECT_EQ(max(values({1, 0}, {2}, DType::Bool)).dtype(), DType::Bool);
  EXPECT_EQ(min(values({4, 2, 9}, {3}, DType::I64)).item(), 2);
  EXPECT_THROW(max(zeros({0})), dt::IndexError);
}

TEST(TensorOps, ClampGradientIsOneInsideTheRange) {
  Tensor x = leaf({-2, 0, 1, 3}, {4});
  Tensor c = clamp(x, Operand(0.0), Operand(1.0));
  EXPECT_EQ(c.toValues(), (std::vector<double>{0, 0, 1, 1}));
  sum(c).backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{0, 1, 1, 0}));
  EXPECT_EQ(clamp(values({1, 5}, {2}, DType::I64), Operand(2.5), std::nullopt).dtype(), DType::F32);
  EXPECT_EQ(clamp(values({0, 9}, {2}), Operand(3), Operand(1)).toValues(), (std::vector<double>{1, 1})); // max wins
  EXPECT_THROW(clamp(x, std::nullopt, std::nullopt), ValueError);
}

TEST(TensorOps, ViewNeedsCompatibleStridesReshapeDoesNot) {
  Tensor m = reshape(arange(Scalar(0), Scalar(6)), {2, 3});
  Tensor tr = transpose(m, 0, 1);
  EXPECT_EQ(messageOf<std::runtime_error>([&] { view(tr, {6}); }),
            "view size is not compatible with input tensor's size and stride (at least one dimension spans across two "
            "contiguous subspaces). Use .reshape(...) instead.");
  Tensor r = reshape(tr, {6});
  EXPECT_FALSE(sharesStorage(r, m));
  EXPECT_EQ(r.toValues(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // Splitting a strided dimension is a view.
  Tensor cols = index(reshape(arange(Scalar(0), Scalar(12)), {3, 4}), {Slice{}, Slice{0, 4, 2}}); // [3,2] strided
  Tensor split = view(cols, {3, 2, 1});
  EXPECT_TRUE(sharesStorage(split, cols));
  EXPECT_EQ(split.toValues(), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(unsqueeze(tr, 0).shape(), (Shape{1, 3, 2}));
  EXPECT_TRUE(sharesStorage(unsqueeze(tr, 0), m));
  EXPECT_EQ(squeeze(zeros({1, 3, 1}), 0).shape(), (Shape{3, 1}));
  EXPECT_EQ(squeeze(zeros({1, 3, 1})).shape(), (Shape{3}));
  EXPECT_EQ(flatten(zeros({2, 3, 4}), 1).shape(), (Shape{2, 12}));
  EXPECT_EQ(expand(zeros({3, 1}), {2, -1, 4}).shape(), (Shape{2, 3, 4}));
  EXPECT_THROW(expand(zeros({3}), {4}), ValueError);
  EXPECT_EQ(reverseDims(zeros({2, 3, 4})).shape(), (Shape{4, 3, 2}));
  EXPECT_THROW(t(zeros({2, 3, 4})), ValueError);
  EXPECT_TRUE(tr.contiguous().isContiguous());
  EXPECT_FALSE(sharesStorage(tr.contiguous(), m));
}

TEST(TensorOps, CreationHelpers) {
  Tensor a = arange(Scalar(0), Scalar(1), Scalar(0.3));
  EXPECT_EQ(a.dtype(), DType::F32);
  EXPECT_EQ(a.numel(), 4);
  Tensor b = arange(Scalar(10), Scalar(0), Scalar(-3));
  EXPECT_EQ(b.dtype(), DType::I64);
  EXPECT_EQ(b.toValues(), (std::vector<double>{10, 7, 4, 1}));
  EXPECT_THROW(arange(Scalar(0), Scalar(5), Scalar(-1)), std::runtime_error);
  EXPECT_THROW(arange(Scalar(0), Scalar(5), Scalar(0)), std::runtime_error);
  EXPECT_EQ(linspace(0, 1, 5).toValues(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(eye(2, 3).toValues(), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(full({2}, Scalar(7)).dtype(), DType::I64);
  EXPECT_EQ(full({2}, Scalar(true)).dtype(), DType::Bool);
  Tensor o = oneHot(values({2, 0}, {2}, DType::I64));
  EXPECT_EQ(o.shape(), (Shape{2, 3}));
  EXPECT_EQ(o.toValues(), (std::vector<double>{0, 0, 1, 1, 0, 0}));
  EXPECT_THROW(oneHot(values({3}, {1}, DType::I64), 3), std::runtime_error);
  // clone shares nothing, and the gradient passes through it.
  Tensor x = leaf({1, 2}, {2});
  Tensor c = clone(x);
  EXPECT_FALSE(sharesStorage(c, x));
  sum(mul(c, c)).backward();
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{2, 4}));
}

TEST(TensorOps, VarianceAndStandardDeviation) {
  Tensor x = values({1, 2, 3, 4, 6, 8}, {2, 3}, DType::F64);
  EXPECT_EQ(var(x, std::vector<int64_t>{1}).toValues(), (std::vector<double>{1, 4}));
  EXPECT_EQ(var(x, std::vector<int64_t>{1}, 0).toValues(), (std::vector<double>{2.0 / 3, 8.0 / 3}));
  EXPECT_NEAR(stdDev(x).item(), std::sqrt(34.0 / 5), 1e-12);
  EXPECT_EQ(var(x, std::vector<int64_t>{1}, 1, true).shape(), (Shape{2, 1}));
  EXPECT_THROW(var(values({1, 2}, {2}, DType::I64)), TypeError);
  EXPECT_THROW(mean(values({1, 2}, {2}, DType::I64)), std::runtime_error);
  EXPECT_EQ(sum(values({1, 0, 1}, {3}, DType::Bool)).dtype(), DType::I64);
}

TEST(TensorOps, BackwardWithCreateGraphGivesSecondDerivatives) {
  Tensor x = leaf({0.5, 2}, {2});
  Tensor y = sum(mul(mul(x, x), x)); // sum x^3
  backward(y, {}, std::nullopt, true);
  EXPECT_TRUE(x.grad().requiresGrad());
  EXPECT_EQ(x.grad().toValues(), (std::vector<double>{0.75, 12}));
  std::vector<Tensor> gg = grad({sum(x.grad())}, {x}); // 6x
  EXPECT_EQ(gg[0].toValues(), (std::vector<double>{3, 12}));
  // x.grad's history reads x: a reference cycle (PyTorch has the same and says to reset .grad
  // after backward(create_graph=True)). Resetting it frees everything (LeakSanitizer checks).
  x.setGrad(Tensor());
}
