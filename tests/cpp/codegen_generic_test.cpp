// Shape-generic (eager) elementwise and reduction kernels in codegen: the `sizes` layout
// shapeGenericSizes fills, one compile serving several shapes of a rank, vector ops in the
// optimized IR, and the errors for ops that have no such kernel.
#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/Ops.h"

#include <gtest/gtest.h>

#include <vector>

using namespace dt;
using ir::DType;
using ir::OpId;
using ir::Type;

TEST(CodegenGeneric, SizesAreCoalescedAndPaddedToTheResultRank) {
  // [2,3,4] + [4]: the result is contiguous, the operand repeats along the merged outer dims.
  std::vector<Type> ops = {{DType::F32, {2, 3, 4}}, {DType::F32, {4}}};
  EXPECT_EQ(codegen::shapeGenericSizes(ir::opDef(OpId::Add), ops, {DType::F32, {2, 3, 4}}, {}),
            (std::vector<int64_t>{1, 6, 4, /*out*/ 0, 4, 1, /*a*/ 0, 4, 1, /*b*/ 0, 0, 1}));
  // Same shapes: one flat loop.
  std::vector<Type> same = {{DType::F32, {2, 3, 4}}, {DType::F32, {2, 3, 4}}};
  EXPECT_EQ(codegen::shapeGenericSizes(ir::opDef(OpId::Add), same, {DType::F32, {2, 3, 4}}, {}),
            (std::vector<int64_t>{1, 1, 24, 0, 0, 1, 0, 0, 1, 0, 0, 1}));
  // Scalars: rank 1, one element, zero strides.
  std::vector<Type> scalars = {{DType::F64, {}}, {DType::F64, {}}};
  EXPECT_EQ(codegen::shapeGenericSizes(ir::opDef(OpId::Add), scalars, {DType::F64, {}}, {}), (std::vector<int64_t>{1, 0, 0, 0}));
  // Zero size: a zero bound.
  std::vector<Type> empty = {{DType::F32, {0, 3}}, {DType::F32, {3}}};
  EXPECT_EQ(codegen::shapeGenericSizes(ir::opDef(OpId::Add), empty, {DType::F32, {0, 3}}, {}), (std::vector<int64_t>{1, 0, 0, 0, 0, 0, 0, 0}));
  std::vector<Type> bad = {{DType::F32, {2}}, {DType::F32, {3}}};
  EXPECT_THROW(codegen::shapeGenericSizes(ir::opDef(OpId::Add), bad, {DType::F32, {3}}, {}), ValueError);
}

TEST(CodegenGeneric, OneKernelRunsEveryShapeOfItsRank) {
  const ir::OpDef &mul = ir::opDef(OpId::Mul);
  // i64 rank 3 x rank 1: a signature no other test compiles.
  std::vector<Type> first = {{DType::I64, {2, 2, 3}}, {DType::I64, {3}}};
  int64_t before = codegen::cacheStats().kernelsCompiled;
  rt::KernelFn fn = codegen::compileShapeGeneric(mul, first, {DType::I64, {2, 2, 3}}, {});
  EXPECT_EQ(codegen::cacheStats().kernelsCompiled, before + 1);
  struct Case {
    ir::Shape a, b, out;
  };
  for (const Case &c : {Case{{2, 2, 3}, {3}, {2, 2, 3}}, Case{{1, 5, 1}, {7}, {1, 5, 7}}, Case{{3, 1, 4}, {1}, {3, 1, 4}},
                        Case{{2, 0, 3}, {3}, {2, 0, 3}}}) {
    std::vector<Type> ts = {{DType::I64, c.a}, {DType::I64, c.b}};
    Type out{DType::I64, c.out};
    EXPECT_EQ(codegen::compileShapeGeneric(mul, ts, out, {}), fn);
    std::vector<int64_t> a(size_t(ir::numElements(c.a))), b(size_t(ir::numElements(c.b))), y(size_t(out.numel()), -1);
    for (size_t i = 0; i < a.size(); ++i) a[i] = int64_t(i) + 1;
    for (size_t i = 0; i < b.size(); ++i) b[i] = 10 * (int64_t(i) + 1);
    std::vector<void *> bufs = {y.data(), a.data(), b.data()};
    std::vector<int64_t> sizes = codegen::shapeGenericSizes(mul, ts, out, {});
    fn(bufs.data(), sizes.data());
    // The same product by plain broadcasting index arithmetic.
    int64_t n0 = c.out[0], n1 = c.out[1], n2 = c.out[2];
    for (int64_t i = 0; i < n0; ++i)
      for (int64_t j = 0; j < n1; ++j)
        for (int64_t k = 0; k < n2; ++k) {
          int64_t ia = (c.a[0] == 1 ? 0 : i) * c.a[1] * c.a[2] + (c.a[1] == 1 ? 0 : j) * c.a[2] + (c.a[2] == 1 ? 0 : k);
          int64_t ib = c.b[0] == 1 ? 0 : k;
          EXPECT_EQ(y[size_t((i * n1 + j) * n2 + k)], a[size_t(ia)] * b[size_t(ib)]) << ir::shapeStr(c.out);
        }
  }
  EXPECT_EQ(codegen::cacheStats().kernelsCompiled, before + 1);
}

TEST(CodegenGeneric, ReductionSizes) {
  // sum over axis 1 of [2,3,4]: result strides (4, 0, 1); no dims merge.
  const ir::OpDef &sum = ir::opDef(OpId::Sum);
  std::vector<Type> in = {{DType::F32, {2, 3, 4}}};
  ir::AttrMap axis1{{"axes", ir::Attr::ints({1})}};
  EXPECT_EQ(codegen::shapeGenericSizes(sum, in, {DType::F32, {2, 4}}, axis1),
            (std::vector<int64_t>{2, 3, 4, /*out*/ 4, 0, 1, /*in*/ 12, 4, 1, /*outN*/ 8, /*count*/ 3}));
  // Over everything: one flat horizontal loop.
  EXPECT_EQ(codegen::shapeGenericSizes(sum, in, {DType::F32, {}}, {}), (std::vector<int64_t>{1, 1, 24, 0, 0, 0, 0, 0, 1, 1, 24}));
}

TEST(CodegenGeneric, F32RowSumVectorizes) {
  // A row sum reduces the innermost dim: the reassoc accumulation becomes vector adds.
  std::vector<Type> in = {{DType::F32, {5, 7}}};
  std::string ir = codegen::emitShapeGenericLLVM(ir::opDef(OpId::Sum), in, {DType::F32, {5}},
                                                 {{"axes", ir::Attr::ints({1})}}, true);
  EXPECT_NE(ir.find("fadd reassoc <"), std::string::npos) << ir;
}

TEST(CodegenGeneric, F32AddVectorizes) {
  std::vector<Type> ops = {{DType::F32, {5, 7}}, {DType::F32, {5, 7}}};
  std::string ir = codegen::emitShapeGenericLLVM(ir::opDef(OpId::Add), ops, {DType::F32, {5, 7}}, {}, true);
  EXPECT_NE(ir.find("fadd <"), std::string::npos) << ir;
  EXPECT_NE(ir.find("x float>"), std::string::npos) << ir;
  // The unit-stride version and both scalar-broadcast versions (one operand's inner stride 0)
  // of the innermost loop each vectorize: three vector loops at least (the loop vectorizer names
  // its loop blocks vector.body*), one of them adding a splat (the broadcast scalar).
  size_t vectorLoops = 0;
  for (size_t p = ir.find("\nvector.body"); p != std::string::npos; p = ir.find("\nvector.body", p + 1)) ++vectorLoops;
  EXPECT_GE(vectorLoops, 3u) << ir;
  EXPECT_NE(ir.find("x float> %broadcast.splat"), std::string::npos) << ir;
  // Before optimization it reads its bounds from `sizes`: no vector ops yet.
  std::string raw = codegen::emitShapeGenericLLVM(ir::opDef(OpId::Add), ops, {DType::F32, {5, 7}}, {}, false);
  EXPECT_EQ(raw.find("fadd <"), std::string::npos);
  EXPECT_NE(raw.find("%sizes"), std::string::npos);
}

TEST(CodegenGeneric, OnlyElementwiseOpsAndWellTypedSignatures) {
  EXPECT_TRUE(codegen::hasShapeGenericKernel(ir::opDef(OpId::Where)));
  EXPECT_TRUE(codegen::hasShapeGenericKernel(ir::opDef(OpId::Mean)));
  EXPECT_TRUE(codegen::hasShapeGenericKernel(ir::opDef(OpId::MatMul)));
  EXPECT_FALSE(codegen::hasShapeGenericKernel(ir::opDef(OpId::Const)));
  std::vector<Type> mm = {{DType::F32, {2, 3}}, {DType::F32, {3, 4}}};
  // A result that does not type-check.
  EXPECT_THROW(codegen::compileShapeGeneric(ir::opDef(OpId::MatMul), mm, {DType::F32, {2, 5}}, {}), ValueError);
  std::vector<Type> ops = {{DType::F32, {2}}, {DType::F32, {2}}};
  EXPECT_THROW(codegen::compileShapeGeneric(ir::opDef(OpId::Add), ops, {DType::F64, {2}}, {}), ValueError);
}
