// The JIT against the reference interpreter for the data-movement ops: argmax (ties, NaN,
// every axis), slice, pad, concat, gather and scatter_add, for every dtype each admits, on
// scalar, size-1, zero-size and odd-length shapes; and that the gather/scatter_add kernels
// report out-of-range indices (runtime/KernelError.h) without reading or writing out of bounds.
#include "CodegenCheck.h"
#include "runtime/KernelError.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <limits>
#include <optional>

using namespace dt;
using namespace dt::codegen_check;

// --- argmax ----------------------------------------------------------------------------------

namespace {

/// Elements drawn from a tiny set, so ties (and for floats NaNs, +0 and -0) are everywhere.
void tieHeavy(std::vector<HostArray> &args, std::mt19937_64 &rng) {
  HostArray &a = args[0];
  static const double pool[] = {0.0, -0.0, 1.0, 1.0, 1.0, -1.0, std::numeric_limits<double>::quiet_NaN()};
  for (int64_t i = 0; i < a.type.numel(); ++i) {
    double v = pool[rng() % (a.type.dtype == DType::I64 ? 6 : 7)];
    switch (a.type.dtype) {
    case DType::F32: a.data<float>()[i] = float(v); break;
    case DType::F64: a.data<double>()[i] = v; break;
    case DType::I64: a.data<int64_t>()[i] = int64_t(v); break;
    case DType::Bool: a.data<uint8_t>()[i] = uint8_t(v != 0); break;
    }
  }
}

} // namespace

TEST(CodegenArgMax, EveryDTypeAxisAndKeepdim) {
  uint64_t seed = 7500;
  const std::vector<Shape> shapes = {{}, {1}, {7}, {17}, {33}, {1000}, {3, 1}, {2, 0, 3}, {4, 5, 6}, {1, 1, 9}, {64, 33}};
  const ir::OpDef *def = ir::findOp("argmax");
  ASSERT_NE(def, nullptr);
  for (DType t : admitted(*def))
    for (const Shape &s : shapes) {
      std::vector<std::optional<int64_t>> axes = {std::nullopt, int64_t(-1)};
      for (int64_t d = 0; d < int64_t(s.size()); ++d) axes.push_back(d);
      for (const auto &ax : axes)
        for (bool keep : {false, true}) {
          if (keep && ax && *ax != -1) continue; // keepdim only changes the result's shape, not the loops
          ir::AttrMap attrs{{"keepdim", keep}};
          if (ax) attrs["axis"] = *ax;
          try {
            std::vector<Type> ts{Type{t, s}};
            ir::inferType(*def, ts, attrs);
          } catch (const ValueError &) {
            continue; // an empty axis (or empty tensor) has no argmax
          }
          checkOp("argmax", {{t, s}}, attrs, seed++);
          checkOp("argmax", {{t, s}}, attrs, seed++, false, tieHeavy);
        }
    }
}

TEST(CodegenArgMax, FirstNaNAndFirstTieWin) {
  const float nan = kNaNF;
  HostArray x(Type{DType::F32, {2, 5}});
  float vals[] = {1.0f, 3.0f, nan, 3.0f, nan, -0.0f, 0.0f, 0.0f, -1.0f, -0.0f};
  std::memcpy(x.bytes.data(), vals, sizeof vals);
  auto g = oneNode("argmax", {x.type}, {{"axis", int64_t(1)}});
  HostArray r = runJit(*g, {x})[0];
  EXPECT_EQ(r.data<int64_t>()[0], 2);
  EXPECT_EQ(r.data<int64_t>()[1], 0); // -0 and +0 tie: the first
  auto flat = oneNode("argmax", {x.type});
  EXPECT_EQ(runJit(*flat, {x})[0].data<int64_t>()[0], 2);
}

// --- slice, pad, concat, gather, scatter_add -------------------------------------------------

namespace {

ir::AttrMap sliceOf(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> steps) {
  return {{"starts", ir::Attr::ints(starts)}, {"ends", ir::Attr::ints(ends)}, {"steps", ir::Attr::ints(steps)}};
}

/// Index operand `which` drawn from [0, hi).
FixArgs indicesIn(size_t which, int64_t hi) {
  return [which, hi](std::vector<HostArray> &args, std::mt19937_64 &rng) {
    HostArray &a = args[which];
    for (int64_t i = 0; i < a.type.numel(); ++i) a.data<int64_t>()[i] = int64_t(rng() % uint64_t(hi));
  };
}

} // namespace

TEST(CodegenLayout, SliceEveryDTypeAndShape) {
  uint64_t seed = 8000;
  struct Case {
    Shape shape;
    ir::AttrMap attrs;
  };
  const std::vector<Case> cases = {
      {{}, sliceOf({}, {}, {})},
      {{1}, sliceOf({0}, {1}, {1})},
      {{7}, sliceOf({0}, {7}, {1})},
      {{17}, sliceOf({1}, {16}, {3})},
      {{5}, sliceOf({2}, {2}, {1})}, // empty
      {{1000}, sliceOf({3}, {999}, {7})},
      {{33}, sliceOf({32}, {33}, {5})},
      {{3, 4}, sliceOf({1, 0}, {3, 4}, {1, 3})},
      {{2, 0, 3}, sliceOf({1, 0, 1}, {2, 0, 3}, {1, 1, 2})},
      {{4, 5, 6}, sliceOf({1, 2, 0}, {4, 5, 6}, {2, 1, 2})},
      {{4, 5, 6}, sliceOf({0, 0, 1}, {4, 5, 5}, {1, 1, 1})},
      {{1, 1, 9}, sliceOf({0, 0, 8}, {1, 1, 9}, {1, 1, 1})},
      {{64, 33}, sliceOf({5, 0}, {64, 33}, {2, 1})},
      {{3, 4}, {{"starts", ir::Attr::ints({0, 1})}, {"ends", ir::Attr::ints({3, 3})}}}, // steps absent
  };
  for (DType t : ir::kAllDTypes)
    for (const Case &c : cases) checkOp("slice", {{t, c.shape}}, c.attrs, seed++);
}

TEST(CodegenIndexing, PadEveryDTypeAndShape) {
  uint64_t seed = 8500;
  struct Case {
    Shape shape;
    std::vector<int64_t> low, high, interior;
  };
  const std::vector<Case> cases = {
      {{}, {}, {}, {}},
      {{1}, {0}, {0}, {0}},
      {{1}, {2}, {3}, {4}},
      {{7}, {1}, {0}, {1}},
      {{17}, {0}, {5}, {2}},
      {{0}, {2}, {1}, {3}},
      {{1000}, {3}, {0}, {0}},
      {{3, 1}, {1, 2}, {0, 1}, {0, 0}},
      {{2, 0, 3}, {1, 1, 1}, {0, 1, 0}, {1, 1, 1}},
      {{4, 5, 6}, {0, 1, 2}, {1, 0, 2}, {1, 0, 2}},
      {{1, 1, 9}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},
      {{33, 2}, {1, 0}, {0, 31}, {0, 0}},
  };
  for (DType t : ir::kAllDTypes)
    for (const Case &c : cases)
      checkOp("pad", {{t, c.shape}},
              {{"low", ir::Attr::ints(c.low)}, {"high", ir::Attr::ints(c.high)}, {"interior", ir::Attr::ints(c.interior)}},
              seed++);
}

TEST(CodegenIndexing, ConcatEveryDTypeAndShape) {
  uint64_t seed = 9000;
  struct Case {
    std::vector<Shape> shapes;
    int64_t axis;
  };
  const std::vector<Case> cases = {
      {{{1}}, 0},
      {{{7}, {17}, {1}}, 0},
      {{{0}, {3}, {0}}, 0},
      {{{0}, {0}}, -1},
      {{{3, 1}, {3, 4}}, 1},
      {{{3, 1}, {2, 1}, {1, 1}}, 0},
      {{{2, 0, 3}, {2, 5, 3}}, 1},
      {{{2, 0, 3}, {2, 0, 3}}, 0},
      {{{4, 5, 6}, {4, 5, 1}, {4, 5, 33}}, -1},
      {{{1, 1, 9}, {1, 1, 9}}, 1},
      {{{1000}, {1001}}, 0},
  };
  for (DType t : ir::kAllDTypes)
    for (const Case &c : cases) {
      std::vector<Type> ts;
      for (const Shape &s : c.shapes) ts.push_back({t, s});
      checkOp("concat", ts, {{"axis", c.axis}}, seed++);
    }
}

namespace {
struct IndexCase {
  Shape x, index;
  int64_t axis;
};
/// gather cases (x, index, axis); scatter_add uses them as (base, index, src = index's shape
/// grown by 0..1 on each axis).
const std::vector<IndexCase> kIndexCases = {
    {{}, {}, 0},           {{1}, {1}, 0},          {{7}, {17}, 0},          {{17}, {7}, -1},
    {{3}, {0}, 0},         {{3, 4}, {5, 4}, 0},    {{3, 4}, {2, 9}, 1},     {{3, 4}, {3, 1}, -1},
    {{2, 0, 3}, {2, 0, 3}, 0}, {{2, 3, 3}, {2, 0, 3}, 1}, {{4, 5, 6}, {3, 7, 2}, 1}, {{1, 1, 9}, {1, 1, 33}, 2},
    {{64, 33}, {64, 33}, 0}, {{1000}, {1000}, 0},
};
} // namespace

TEST(CodegenIndexing, GatherEveryDTypeAndShape) {
  uint64_t seed = 9500;
  for (DType t : ir::kAllDTypes)
    for (const IndexCase &c : kIndexCases) {
      int64_t axis = c.x.empty() ? 0 : (c.axis + int64_t(c.x.size())) % int64_t(c.x.size());
      int64_t n = c.x.empty() ? 1 : c.x[size_t(axis)];
      checkOp("gather", {{t, c.x}, {DType::I64, c.index}}, {{"axis", c.axis}}, seed++, false, indicesIn(1, n));
    }
}

TEST(CodegenIndexing, ScatterAddEveryDTypeAndShape) {
  uint64_t seed = 10000;
  const ir::OpDef *def = ir::findOp("scatter_add");
  ASSERT_NE(def, nullptr);
  for (DType t : admitted(*def))
    for (const IndexCase &c : kIndexCases)
      for (int grow : {0, 1}) {
        int64_t axis = c.x.empty() ? 0 : (c.axis + int64_t(c.x.size())) % int64_t(c.x.size());
        int64_t n = c.x.empty() ? 1 : c.x[size_t(axis)];
        Shape src = c.index;
        for (int64_t &d : src) d += grow;
        checkOp("scatter_add", {{t, c.x}, {DType::I64, c.index}, {t, src}}, {{"axis", c.axis}}, seed++, false,
                indicesIn(1, n));
      }
}

TEST(CodegenIndexing, OutOfRangeIndicesRaiseLikeTheInterpreterAndStayInBounds) {
  // The interpreter rejects bad indices (negative ones too); the compiled program throws the same
  // message for the first bad index in row-major order (rt::IndexOutOfBounds, a std::out_of_range,
  // which the frontend rethrows as dt::IndexError), and its kernel never touches memory outside
  // its buffers: x sits in the middle of a larger buffer of sentinels, and the sentinels stay.
  const int64_t bad[] = {2, 7, -5, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), 3, -1};
  HostArray x(Type{DType::F64, {3}});
  for (int i = 0; i < 3; ++i) x.data<double>()[i] = 10.0 + i;
  HostArray index(Type{DType::I64, {7}});
  std::memcpy(index.bytes.data(), bad, sizeof bad);
  auto messageOf = [](const std::function<void()> &f) {
    try {
      f();
    } catch (const std::out_of_range &e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };

  auto g = oneNode("gather", {x.type, index.type}, {{"axis", int64_t(0)}});
  std::string want = messageOf([&] { runInterpreter(*g, {x, index}); });
  EXPECT_EQ(want, "gather: index 7 is out of bounds for dimension 0 with size 3");
  rt::Program p = codegen::compile(*g);
  auto storage = std::make_shared<std::vector<double>>(64, -999.0);
  std::memcpy(storage->data() + 30, x.bytes.data(), x.bytes.size());
  auto xb = rt::Buffer::wrap(storage->data() + 30, x.bytes.size(), storage);
  auto ib = rt::Buffer::allocate(index.bytes.size());
  std::memcpy(ib->data(), index.bytes.data(), index.bytes.size());
  std::vector<std::shared_ptr<rt::Buffer>> ins{xb, ib};
  EXPECT_THROW(p.run(ins), rt::IndexOutOfBounds);
  EXPECT_EQ(messageOf([&] { p.run(ins); }), want);
  for (int i = 0; i < 64; ++i) {
    if (i >= 30 && i < 33) continue; // x
    EXPECT_EQ((*storage)[size_t(i)], -999.0) << i;
  }
  EXPECT_FALSE(rt::takeKernelError()); // taken by run()

  // The same program on good indices afterwards: no stale error.
  const int64_t good[] = {2, 0, 1, 1, 0, 2, 2};
  std::memcpy(ib->data(), good, sizeof good);
  auto outs = p.run(ins);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(static_cast<double *>(outs[0]->data())[i], 10.0 + double(good[i])) << i;

  // scatter_add, along axis 1 of [2,3] with a [2,2] index: the first bad one in row-major order.
  HostArray base(Type{DType::I64, {2, 3}}), sidx(Type{DType::I64, {2, 2}}), src(Type{DType::I64, {2, 2}});
  const int64_t sbad[] = {0, 2, -1, 3};
  std::memcpy(sidx.bytes.data(), sbad, sizeof sbad);
  auto s = oneNode("scatter_add", {base.type, sidx.type, src.type}, {{"axis", int64_t(1)}});
  std::string swant = messageOf([&] { runInterpreter(*s, {base, sidx, src}); });
  EXPECT_EQ(swant, "scatter_add: index -1 is out of bounds for dimension 1 with size 3");
  EXPECT_EQ(messageOf([&] { runJit(*s, {base, sidx, src}); }), swant);
}
