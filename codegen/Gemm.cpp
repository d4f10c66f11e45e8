// The generated GEMM (interface and algorithm in codegen/Gemm.h): loops jc (N blocks of NC) >
// pc (K blocks of KC: pack B) > ir (MR rows of A) > jr (NR-wide B panels) > the micro-kernel, an
// MR x NR tile of vector accumulators over kc steps; then the tile is added to C (after the first
// K block), passed through the epilogue (after the last) and stored.
#include "codegen/Gemm.h"

#include "ir/Error.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

extern "C" void *dt_gemm_scratch(int64_t bytes) {
  struct Free {
    void operator()(void *p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, Free> buf;
  thread_local int64_t cap = 0;
  if (bytes > cap) {
    int64_t want = (std::max<int64_t>(bytes, 1) + 63) / 64 * 64;
    buf.reset(std::aligned_alloc(64, size_t(want)));
    if (!buf) {
      std::fprintf(stderr, "dumbtorch: cannot allocate %lld bytes of GEMM scratch\n", static_cast<long long>(want));
      std::abort();
    }
    cap = want;
  }
  return buf.get();
}

namespace dt::codegen {

namespace {

/// The register tile and cache blocks of one dtype.
struct GemmShape {
  unsigned lanes; ///< elements per vector
  unsigned nv;    ///< vectors per tile row (NR = lanes * nv)
  unsigned mr;    ///< tile rows
  int64_t kc;     ///< K block (rows of a packed B panel)
  int64_t nc;     ///< N block (columns packed at once; a multiple of NR)
  unsigned nr() const { return lanes * nv; }
};

GemmShape gemmShape(ir::DType t) {
  switch (t) {
  case ir::DType::F32: return {16, 2, 8, 256, 512};
  case ir::DType::F64: return {8, 2, 8, 128, 512};
  case ir::DType::I64: return {8, 2, 4, 128, 512};
  case ir::DType::Bool: break;
  }
  throw ValueError(fmt("codegen: matmul expected an f32, f64 or i64 operand, given ", ir::dtypeName(t)));
}

/// Emission state of one GEMM.
struct GemmEmitter {
  KernelBuilder &kb;
  const GemmSpec &s;
  GemmShape g;
  llvm::IRBuilder<> &b;
  llvm::Type *elemTy;
  llvm::VectorType *vecTy;
  bool fp;

  GemmEmitter(KernelBuilder &kb, const GemmSpec &s)
      : kb(kb), s(s), g(gemmShape(s.dtype)), b(kb.b), elemTy(kb.elemType(s.dtype)),
        vecTy(llvm::FixedVectorType::get(elemTy, g.lanes)), fp(ir::isFloat(s.dtype)) {}

  llvm::Value *i64(int64_t v) const { return b.getInt64(uint64_t(v)); }
  llvm::Value *minI(llvm::Value *x, llvm::Value *y) { return b.CreateSelect(b.CreateICmpSLT(x, y), x, y); }
  llvm::Value *ceilDiv(llvm::Value *x, int64_t d) { return b.CreateUDiv(b.CreateAdd(x, i64(d - 1)), i64(d)); }
  llvm::Value *gep(llvm::Value *p, llvm::Value *idx) { return b.CreateInBoundsGEP(elemTy, p, idx); }
  llvm::Value *gep(llvm::Value *p, int64_t idx) { return gep(p, i64(idx)); }
  llvm::Align elemAlign() const { return llvm::Align(ir::dtypeSize(s.dtype)); }
  llvm::Value *add(llvm::Value *x, llvm::Value *y) { return fp ? b.CreateFAdd(x, y) : b.CreateAdd(x, y); }
  static bool isTrue(llvm::Value *v) {
    auto *c = llvm::dyn_cast<llvm::ConstantInt>(v);
    return c && c->isOne();
  }
  static bool divides(int64_t d, llvm::Value *v) {
    auto *c = llvm::dyn_cast<llvm::ConstantInt>(v);
    return c && c->getSExtValue() % d == 0;
  }

  /// if (cond) then(); else otherwise(); the builder ends after both.
  void emitIf(llvm::Value *cond, const std::function<void()> &then, const std::function<void()> &otherwise = {}) {
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    auto *thenBB = llvm::BasicBlock::Create(b.getContext(), "gemm.then", fn);
    auto *elseBB = llvm::BasicBlock::Create(b.getContext(), "gemm.else", fn);
    auto *done = llvm::BasicBlock::Create(b.getContext(), "gemm.endif", fn);
    b.CreateCondBr(cond, thenBB, elseBB);
    b.SetInsertPoint(thenBB);
    then();
    b.CreateBr(done);
    b.SetInsertPoint(elseBB);
    if (otherwise) otherwise();
    b.CreateBr(done);
    b.SetInsertPoint(done);
  }

  /// `vals` unchanged when `first`, else each plus the value loaded by load(i) (C's old value).
  std::vector<llvm::Value *> addOldC(llvm::Value *first, const std::vector<llvm::Value *> &vals,
                                     const std::function<llvm::Value *(size_t)> &load) {
    if (isTrue(first)) return vals; // one K block (static K <= KC): no control flow to emit
    llvm::BasicBlock *pre = b.GetInsertBlock();
    llvm::Function *fn = pre->getParent();
    auto *addBB = llvm::BasicBlock::Create(b.getContext(), "gemm.addc", fn);
    auto *done = llvm::BasicBlock::Create(b.getContext(), "gemm.addc.done", fn);
    b.CreateCondBr(first, done, addBB);
    b.SetInsertPoint(addBB);
    std::vector<llvm::Value *> sums;
    for (size_t i = 0; i < vals.size(); ++i) sums.push_back(add(vals[i], load(i)));
    llvm::BasicBlock *addEnd = b.GetInsertBlock();
    b.CreateBr(done);
    b.SetInsertPoint(done);
    std::vector<llvm::Value *> out;
    for (size_t i = 0; i < vals.size(); ++i) {
      llvm::PHINode *phi = b.CreatePHI(vals[i]->getType(), 2);
      phi->addIncoming(vals[i], pre);
      phi->addIncoming(sums[i], addEnd);
      out.push_back(phi);
    }
    return out;
  }

  /// Stores `vals` with store(i, v), through the epilogue (epi(i, v)) when `last`.
  void storeOut(llvm::Value *last, const std::vector<llvm::Value *> &vals,
                const std::function<llvm::Value *(size_t, llvm::Value *)> &epi,
                const std::function<void(size_t, llvm::Value *)> &store) {
    auto plain = [&] {
      for (size_t i = 0; i < vals.size(); ++i) store(i, vals[i]);
    };
    if (!s.epilogue) return plain();
    if (isTrue(last)) {
      for (size_t i = 0; i < vals.size(); ++i) store(i, epi(i, vals[i]));
      return;
    }
    emitIf(last, [&] {
      for (size_t i = 0; i < vals.size(); ++i) store(i, epi(i, vals[i]));
    }, plain);
  }

  /// Packs B[p0 : p0+kc, j0 : j0+nc] into NR-wide panels at `bp`: panel q holds columns
  /// j0+q*NR.., row p at bp[q*kc*NR + p*NR + c], zero past N.
  void packB(llvm::Value *bp, llvm::Value *p0, llvm::Value *kc, llvm::Value *j0, llvm::Value *npanels) {
    const unsigned nr = g.nr();
    llvm::Type *rowTy = llvm::FixedVectorType::get(elemTy, nr);
    emitLoop(b, npanels, [&](llvm::Value *q) {
      llvm::Value *jq = b.CreateAdd(j0, b.CreateMul(q, i64(nr)));
      llvm::Value *width = minI(i64(nr), b.CreateSub(s.n, jq));
      llvm::Value *dst = gep(bp, b.CreateMul(q, b.CreateMul(kc, i64(nr))));
      llvm::Value *src = gep(s.b.ptr, b.CreateAdd(b.CreateMul(p0, s.b.rowStride), b.CreateMul(jq, s.b.colStride)));
      llvm::Value *rowsContiguous = b.CreateAnd(b.CreateICmpEQ(s.b.colStride, i64(1)), b.CreateICmpEQ(width, i64(nr)));
      emitIf(rowsContiguous, [&] {
        // One NR-wide row per step.
        emitLoop(b, kc, [&](llvm::Value *p) {
          llvm::Value *row = b.CreateAlignedLoad(rowTy, gep(src, b.CreateMul(p, s.b.rowStride)), elemAlign());
          b.CreateAlignedStore(row, gep(dst, b.CreateMul(p, i64(nr))), llvm::Align(64));
        }, "gemm.packrow");
      }, [&] {
        // A transposed B (K contiguous, every column of the panel present): blocks of `lanes`
        // columns x `lanes` rows are loaded as vectors along K, transposed in registers and stored
        // as panel rows; the rows past the last whole block go column by column below.
        llvm::Value *kContiguous = b.CreateAnd(b.CreateICmpEQ(s.b.rowStride, i64(1)), b.CreateICmpEQ(width, i64(nr)));
        llvm::Value *kFast = b.CreateSelect(kContiguous, b.CreateMul(b.CreateUDiv(kc, i64(g.lanes)), i64(g.lanes)), i64(0));
        emitLoop(b, b.CreateUDiv(kFast, i64(g.lanes)), [&](llvm::Value *blk) {
          llvm::Value *p = b.CreateMul(blk, i64(g.lanes));
          for (unsigned c0 = 0; c0 < nr; c0 += g.lanes) packTransposedBlock(src, dst, p, c0);
        }, "gemm.packt");
        // Column by column: reads along K, which is contiguous for a transposed B.
        emitLoop(b, i64(nr), [&](llvm::Value *c) {
          emitIf(b.CreateICmpSLT(c, width), [&] {
            llvm::Value *col = gep(src, b.CreateMul(c, s.b.colStride));
            emitLoop(b, b.CreateSub(kc, kFast), [&](llvm::Value *i) {
              llvm::Value *p = b.CreateAdd(kFast, i);
              llvm::Value *x = b.CreateAlignedLoad(elemTy, gep(col, b.CreateMul(p, s.b.rowStride)), elemAlign());
              b.CreateAlignedStore(x, gep(dst, b.CreateAdd(b.CreateMul(p, i64(nr)), c)), elemAlign());
            }, "gemm.packcol");
          }, [&] {
            emitLoop(b, kc, [&](llvm::Value *p) {
              b.CreateAlignedStore(llvm::Constant::getNullValue(elemTy), gep(dst, b.CreateAdd(b.CreateMul(p, i64(nr)), c)),
                                   elemAlign());
            }, "gemm.packzero");
          });
        }, "gemm.packc");
      });
    }, "gemm.packpanel");
  }

  /// Packs rows p .. p+lanes of columns c0 .. c0+lanes of a K-contiguous B (src: the panel's
  /// first column at row 0 of the block, dst: the packed panel): `lanes` vector loads along K,
  /// a transpose in registers (log2(lanes) stages; the stage of half h swaps the off-diagonal
  /// h x h blocks of every 2h x 2h block), `lanes` vector stores of panel rows.
  void packTransposedBlock(llvm::Value *src, llvm::Value *dst, llvm::Value *p, unsigned c0) {
    const unsigned L = g.lanes;
    llvm::Type *vecTy = llvm::FixedVectorType::get(elemTy, L);
    std::vector<llvm::Value *> v(L);
    for (unsigned c = 0; c < L; ++c) // v[c][k] = B(p + k, c0 + c)
      v[c] = b.CreateAlignedLoad(vecTy, gep(src, b.CreateAdd(b.CreateMul(i64(c0 + c), s.b.colStride), p)), elemAlign());
    for (unsigned h = L / 2; h >= 1; h /= 2) {
      std::vector<int> lo(L), hi(L);
      for (unsigned c = 0; c < L; ++c) {
        lo[c] = int((c & h) == 0 ? c : L + c - h);
        hi[c] = int((c & h) == 0 ? c + h : L + c);
      }
      for (unsigned r = 0; r < L; ++r) {
        if (r & h) continue;
        llvm::Value *top = v[r], *bottom = v[r + h];
        v[r] = b.CreateShuffleVector(top, bottom, lo);
        v[r + h] = b.CreateShuffleVector(top, bottom, hi);
      }
    }
    for (unsigned k = 0; k < L; ++k) // v[k][c] = B(p + k, c0 + c): panel row p + k
      b.CreateAlignedStore(v[k], gep(dst, b.CreateAdd(b.CreateMul(b.CreateAdd(p, i64(k)), i64(g.nr())), i64(c0))), elemAlign());
  }

  /// The micro-kernel: MR x nv accumulators over kc steps; aRow[r] points at A(row r, p0), the
  /// panel at packed B. Returns acc[r * nv + v].
  std::vector<llvm::Value *> microKernel(const std::vector<llvm::Value *> &aRow, llvm::Value *panel, llvm::Value *kc) {
    const unsigned nacc = g.mr * g.nv;
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    llvm::BasicBlock *pre = b.GetInsertBlock();
    auto *head = llvm::BasicBlock::Create(b.getContext(), "gemm.k.head", fn);
    auto *body = llvm::BasicBlock::Create(b.getContext(), "gemm.k.body", fn);
    auto *exit = llvm::BasicBlock::Create(b.getContext(), "gemm.k.exit", fn);
    b.CreateBr(head);
    b.SetInsertPoint(head);
    llvm::PHINode *p = b.CreatePHI(b.getInt64Ty(), 2, "gemm.p");
    p->addIncoming(i64(0), pre);
    std::vector<llvm::PHINode *> acc;
    for (unsigned i = 0; i < nacc; ++i) {
      acc.push_back(b.CreatePHI(vecTy, 2, "gemm.acc"));
      acc.back()->addIncoming(llvm::Constant::getNullValue(vecTy), pre);
    }
    b.CreateCondBr(b.CreateICmpSLT(p, kc), body, exit);

    b.SetInsertPoint(body);
    llvm::Value *bRow = gep(panel, b.CreateMul(p, i64(g.nr())));
    std::vector<llvm::Value *> bv;
    for (unsigned v = 0; v < g.nv; ++v)
      bv.push_back(b.CreateAlignedLoad(vecTy, gep(bRow, int64_t(v * g.lanes)), llvm::Align(64)));
    llvm::Value *aOff = b.CreateMul(p, s.a.colStride);
    std::vector<llvm::Value *> next(nacc);
    for (unsigned r = 0; r < g.mr; ++r) {
      llvm::Value *ar = b.CreateAlignedLoad(elemTy, gep(aRow[r], aOff), elemAlign());
      llvm::Value *splat = b.CreateVectorSplat(g.lanes, ar);
      for (unsigned v = 0; v < g.nv; ++v) {
        llvm::Value *a = acc[r * g.nv + v];
        next[r * g.nv + v] = fp ? b.CreateIntrinsic(llvm::Intrinsic::fma, {vecTy}, {splat, bv[v], a})
                                : b.CreateAdd(a, b.CreateMul(splat, bv[v]));
      }
    }
    llvm::Value *pNext = b.CreateAdd(p, i64(1), "", true, true);
    llvm::BasicBlock *latch = b.GetInsertBlock();
    b.CreateBr(head);
    p->addIncoming(pNext, latch);
    for (unsigned i = 0; i < nacc; ++i) acc[i]->addIncoming(next[i], latch);
    b.SetInsertPoint(exit);
    return {acc.begin(), acc.end()};
  }

  /// Adds (unless `first`) and stores the tile at C(i0, jq), through the epilogue when `last`.
  void storeTile(const std::vector<llvm::Value *> &acc, llvm::Value *tile, llvm::Value *i0, llvm::Value *jq,
                 llvm::Value *first, llvm::Value *last) {
    const unsigned nr = g.nr();
    auto fullTile = [&] {
      std::vector<llvm::Value *> ptrs, rows, cols;
      for (unsigned r = 0; r < g.mr; ++r)
        for (unsigned v = 0; v < g.nv; ++v) {
          rows.push_back(b.CreateAdd(i0, i64(r)));
          cols.push_back(b.CreateAdd(jq, i64(v * g.lanes)));
          ptrs.push_back(gep(s.c, b.CreateAdd(b.CreateMul(rows.back(), s.ldc), cols.back())));
        }
      std::vector<llvm::Value *> vals = addOldC(first, acc, [&](size_t i) {
        return b.CreateAlignedLoad(vecTy, ptrs[i], elemAlign());
      });
      storeOut(last, vals, [&](size_t i, llvm::Value *x) { return s.epilogue(b, x, rows[i], cols[i], g.lanes); },
               [&](size_t i, llvm::Value *x) { b.CreateAlignedStore(x, ptrs[i], elemAlign()); });
    };
    // Static sizes that are multiples of the tile have no edge tiles: emit no edge path.
    if (divides(g.mr, s.m) && divides(nr, s.n)) return fullTile();
    llvm::Value *full = b.CreateAnd(b.CreateICmpSLE(b.CreateAdd(i0, i64(g.mr)), s.m),
                                    b.CreateICmpSLE(b.CreateAdd(jq, i64(nr)), s.n));
    emitIf(full, fullTile, [&] {
      // Edge tile: spill the accumulators, copy the valid part element by element.
      for (size_t i = 0; i < acc.size(); ++i) b.CreateAlignedStore(acc[i], gep(tile, int64_t(i * g.lanes)), llvm::Align(64));
      llvm::Value *mrows = minI(i64(g.mr), b.CreateSub(s.m, i0)), *ncols = minI(i64(nr), b.CreateSub(s.n, jq));
      emitLoop(b, mrows, [&](llvm::Value *r) {
        llvm::Value *row = b.CreateAdd(i0, r);
        emitLoop(b, ncols, [&](llvm::Value *c) {
          llvm::Value *col = b.CreateAdd(jq, c);
          llvm::Value *ptr = gep(s.c, b.CreateAdd(b.CreateMul(row, s.ldc), col));
          llvm::Value *x = b.CreateAlignedLoad(elemTy, gep(tile, b.CreateAdd(b.CreateMul(r, i64(nr)), c)), elemAlign());
          std::vector<llvm::Value *> vals = addOldC(first, {x}, [&](size_t) { return b.CreateAlignedLoad(elemTy, ptr, elemAlign()); });
          storeOut(last, vals, [&](size_t, llvm::Value *y) { return s.epilogue(b, y, row, col, 1); },
                   [&](size_t, llvm::Value *y) { b.CreateAlignedStore(y, ptr, elemAlign()); });
        }, "gemm.edge.c");
      }, "gemm.edge.r");
    });
  }

  void emit() {
    const unsigned nr = g.nr();
    kb.fn->addFnAttr("prefer-vector-width", "512");
    kb.fn->addFnAttr("min-legal-vector-width", "512");
    // The edge tile buffer lives in the entry block (one alloca per GEMM).
    llvm::IRBuilder<> entry(&kb.fn->getEntryBlock(), kb.fn->getEntryBlock().begin());
    llvm::AllocaInst *tile = entry.CreateAlloca(llvm::ArrayType::get(elemTy, g.mr * nr), nullptr, "gemm.tile");
    tile->setAlignment(llvm::Align(64));

    llvm::Value *nonEmpty = b.CreateAnd(b.CreateICmpSGT(s.m, i64(0)), b.CreateICmpSGT(s.n, i64(0)));
    emitIf(nonEmpty, [&] {
      llvm::FunctionCallee scratchFn = kb.mod.getOrInsertFunction(
          "dt_gemm_scratch", llvm::FunctionType::get(b.getPtrTy(), {b.getInt64Ty()}, false));
      llvm::CallInst *bp = b.CreateCall(scratchFn, {i64(g.kc * g.nc * int64_t(ir::dtypeSize(s.dtype)))}, "gemm.bpack");
      bp->setDoesNotThrow();
      // At least one K block, so K == 0 still stores (epilogue of) zeros.
      llvm::Value *kBlocks = b.CreateSelect(b.CreateICmpSGT(s.k, i64(0)), ceilDiv(s.k, g.kc), i64(1));
      emitLoop(b, ceilDiv(s.n, g.nc), [&](llvm::Value *jb) {
        llvm::Value *j0 = b.CreateMul(jb, i64(g.nc));
        llvm::Value *npanels = ceilDiv(minI(i64(g.nc), b.CreateSub(s.n, j0)), nr);
        emitLoop(b, kBlocks, [&](llvm::Value *pb) {
          llvm::Value *p0 = b.CreateMul(pb, i64(g.kc));
          llvm::Value *kc = minI(i64(g.kc), b.CreateSub(s.k, p0));
          kc = b.CreateSelect(b.CreateICmpSGT(kc, i64(0)), kc, i64(0));
          // Constants (true) when a static K fits one block, so no add-to-C or branch is emitted.
          bool oneBlock = llvm::isa<llvm::ConstantInt>(s.k) && llvm::cast<llvm::ConstantInt>(s.k)->getSExtValue() <= g.kc;
          llvm::Value *first = oneBlock ? b.getTrue() : b.CreateICmpEQ(pb, i64(0));
          llvm::Value *last = oneBlock ? b.getTrue() : b.CreateICmpEQ(pb, b.CreateSub(kBlocks, i64(1)));
          packB(bp, p0, kc, j0, npanels);
          llvm::Value *aCol = b.CreateMul(p0, s.a.colStride);
          llvm::Value *lastRow = b.CreateSub(s.m, i64(1));
          emitLoop(b, ceilDiv(s.m, g.mr), [&](llvm::Value *it) {
            llvm::Value *i0 = b.CreateMul(it, i64(g.mr));
            // Rows past M repeat row M-1 (valid memory); their results are never stored.
            std::vector<llvm::Value *> aRow;
            for (unsigned r = 0; r < g.mr; ++r) {
              llvm::Value *row = minI(b.CreateAdd(i0, i64(r)), lastRow);
              aRow.push_back(gep(s.a.ptr, b.CreateAdd(b.CreateMul(row, s.a.rowStride), aCol)));
            }
            emitLoop(b, npanels, [&](llvm::Value *q) {
              llvm::Value *panel = gep(bp, b.CreateMul(q, b.CreateMul(kc, i64(nr))));
              std::vector<llvm::Value *> acc = microKernel(aRow, panel, kc);
              storeTile(acc, tile, i0, b.CreateAdd(j0, b.CreateMul(q, i64(nr))), first, last);
            }, "gemm.jr");
          }, "gemm.ir");
        }, "gemm.pc");
      }, "gemm.jc");
    });
  }
};

} // namespace

namespace {

void checkSpec(const GemmSpec &s) {
  DT_ASSERT(s.m && s.n && s.k && s.a.ptr && s.a.rowStride && s.a.colStride && s.b.ptr && s.b.rowStride &&
                s.b.colStride && s.c && s.ldc,
            "emitGemm: incomplete GemmSpec");
}

/// How a GEMM is split across threads (codegen/Gemm.h, emitGemm): its row tiles and column
/// panels, whether it goes over the panels, and the number of units (panels or tiles). Built with
/// the IRBuilder's constant folding, so static sizes give constants.
struct GemmSplit {
  llvm::Value *tiles, *panels, *byCols, *units;
};

GemmSplit gemmSplit(llvm::IRBuilder<> &b, const GemmSpec &s) {
  GemmShape g = gemmShape(s.dtype);
  auto ceilDiv = [&](llvm::Value *x, int64_t d) { return b.CreateUDiv(b.CreateAdd(x, b.getInt64(d - 1)), b.getInt64(d)); };
  GemmSplit sp;
  sp.tiles = ceilDiv(s.m, g.mr);
  sp.panels = ceilDiv(s.n, g.nr());
  llvm::Value *even = b.CreateAnd(b.CreateICmpSGE(sp.panels, b.getInt64(2)),
                                  b.CreateICmpEQ(b.CreateAnd(sp.panels, b.getInt64(1)), b.getInt64(0)));
  sp.byCols = b.CreateOr(b.CreateOr(b.CreateICmpSGE(sp.panels, sp.tiles), b.CreateICmpSGE(sp.panels, b.getInt64(8))), even);
  sp.units = b.CreateSelect(sp.byCols, sp.panels, sp.tiles);
  return sp;
}

void preferWideVectors(llvm::Function *fn) {
  fn->addFnAttr("prefer-vector-width", "512");
  fn->addFnAttr("min-legal-vector-width", "512");
}

/// Calls dt_parallel_for over the split's units; each chunk [begin, end) rebuilds the spec in the
/// outlined function and runs the GEMM of its rows (or columns) with the same loops as the inline
/// GEMM, the epilogue seeing the whole matrix's row and column numbers.
void emitParallelGemm(KernelBuilder &kb, const GemmSpecFn &specOf, llvm::Value *units) {
  preferWideVectors(kb.fn); // copied to the chunk's function by emitParallelFor
  emitParallelFor(kb, units, kb.i64(1), [&](KernelBuilder &c, llvm::Value *begin, llvm::Value *end) {
    GemmSpec s = specOf(c);
    checkSpec(s);
    GemmShape g = gemmShape(s.dtype);
    llvm::IRBuilder<> &b = c.b;
    GemmSplit sp = gemmSplit(b, s);
    auto minI = [&](llvm::Value *x, llvm::Value *y) { return b.CreateSelect(b.CreateICmpSLT(x, y), x, y); };
    llvm::Value *zero = b.getInt64(0);
    llvm::Value *r0 = b.CreateSelect(sp.byCols, zero, b.CreateMul(begin, b.getInt64(g.mr)));
    llvm::Value *r1 = b.CreateSelect(sp.byCols, s.m, minI(b.CreateMul(end, b.getInt64(g.mr)), s.m));
    llvm::Value *c0 = b.CreateSelect(sp.byCols, b.CreateMul(begin, b.getInt64(g.nr())), zero);
    llvm::Value *c1 = b.CreateSelect(sp.byCols, minI(b.CreateMul(end, b.getInt64(g.nr())), s.n), s.n);
    llvm::Type *ty = c.elemType(s.dtype);
    GemmSpec sub = s;
    sub.m = b.CreateSub(r1, r0);
    sub.n = b.CreateSub(c1, c0);
    sub.a.ptr = b.CreateInBoundsGEP(ty, s.a.ptr, b.CreateMul(r0, s.a.rowStride));
    sub.b.ptr = b.CreateInBoundsGEP(ty, s.b.ptr, b.CreateMul(c0, s.b.colStride));
    sub.c = b.CreateInBoundsGEP(ty, s.c, b.CreateAdd(b.CreateMul(r0, s.ldc), c0));
    if (s.epilogue)
      sub.epilogue = [&s, r0, c0](llvm::IRBuilder<> &hb, llvm::Value *acc, llvm::Value *row, llvm::Value *col,
                                  unsigned lanes) {
        return s.epilogue(hb, acc, hb.CreateAdd(row, r0), hb.CreateAdd(col, c0), lanes);
      };
    GemmEmitter(c, sub).emit();
  });
}

/// emitParallelGemm for static sizes: two chunks of whole units (row tiles, or column panels),
/// each a GEMM of static sizes, so the chunk's code is as lean as the inline GEMM's (runtime-size
/// chunks compile to several times more code). Equal halves share one body at a runtime offset;
/// otherwise the two shapes get one body each. At any thread count each chunk runs the same code,
/// so the results do not depend on it (two threads at most: the machines we target have 2 cores).
void emitStaticParallelGemm(KernelBuilder &kb, const GemmSpecFn &specOf, bool byCols, int64_t units) {
  preferWideVectors(kb.fn); // copied to the chunk's function by emitParallelFor
  emitParallelFor(kb, kb.i64(2), kb.i64(1), [&](KernelBuilder &c, llvm::Value *begin, llvm::Value *end) {
    GemmSpec s = specOf(c);
    checkSpec(s);
    GemmShape g = gemmShape(s.dtype);
    llvm::IRBuilder<> &b = c.b;
    int64_t m = llvm::cast<llvm::ConstantInt>(s.m)->getSExtValue(), n = llvm::cast<llvm::ConstantInt>(s.n)->getSExtValue();
    int64_t unit = byCols ? g.nr() : g.mr, total = byCols ? n : m;
    int64_t cut = std::min((units + 1) / 2 * unit, total); // chunk 0: [0, cut), chunk 1: [cut, total)
    llvm::Type *ty = c.elemType(s.dtype);
    // The GEMM of rows (or columns) [at, at + len) of C, `at` a runtime value, `len` static.
    auto part = [&](llvm::Value *at, int64_t len) {
      llvm::Value *zero = b.getInt64(0);
      llvm::Value *r0 = byCols ? zero : at, *c0 = byCols ? at : zero;
      GemmSpec sub = s;
      sub.m = byCols ? s.m : b.getInt64(len);
      sub.n = byCols ? b.getInt64(len) : s.n;
      sub.a.ptr = b.CreateInBoundsGEP(ty, s.a.ptr, b.CreateMul(r0, s.a.rowStride));
      sub.b.ptr = b.CreateInBoundsGEP(ty, s.b.ptr, b.CreateMul(c0, s.b.colStride));
      sub.c = b.CreateInBoundsGEP(ty, s.c, b.CreateAdd(b.CreateMul(r0, s.ldc), c0));
      if (s.epilogue)
        sub.epilogue = [&s, r0, c0](llvm::IRBuilder<> &hb, llvm::Value *acc, llvm::Value *row, llvm::Value *col, unsigned lanes) {
          return s.epilogue(hb, acc, hb.CreateAdd(row, r0), hb.CreateAdd(col, c0), lanes);
        };
      GemmEmitter(c, sub).emit();
    };
    emitLoop(b, b.CreateSub(end, begin), [&](llvm::Value *i) {
      llvm::Value *second = b.CreateICmpNE(b.CreateAdd(begin, i), b.getInt64(0));
      if (cut == total - cut) {
        part(b.CreateSelect(second, b.getInt64(cut), b.getInt64(0)), cut);
        return;
      }
      GemmEmitter(c, s).emitIf(second, [&] { part(b.getInt64(cut), total - cut); }, [&] { part(b.getInt64(0), cut); });
    }, "chunk");
  });
}

} // namespace

void emitGemm(KernelBuilder &kb, const GemmSpecFn &specOf) {
  GemmSpec s = specOf(kb);
  checkSpec(s);
  llvm::IRBuilder<> &b = kb.b;
  GemmSplit sp = gemmSplit(b, s);
  // m * n * k in double: no overflow for huge sizes.
  auto *f = b.getDoubleTy();
  llvm::Value *work = b.CreateFMul(b.CreateFMul(b.CreateSIToFP(s.m, f), b.CreateSIToFP(s.n, f)), b.CreateSIToFP(s.k, f));
  llvm::Value *split = b.CreateAnd(b.CreateFCmpOGE(work, llvm::ConstantFP::get(f, double(kGemmParallelWork))),
                                   b.CreateICmpSGE(sp.units, b.getInt64(2)));
  if (auto *c = llvm::dyn_cast<llvm::ConstantInt>(split)) { // static sizes: decided now
    if (!c->isOne()) return GemmEmitter(kb, s).emit();
    auto constant = [](llvm::Value *v) { return llvm::cast<llvm::ConstantInt>(v)->getSExtValue(); };
    if (llvm::isa<llvm::ConstantInt>(sp.units) && llvm::isa<llvm::ConstantInt>(sp.byCols)) {
      // Halves of one static shape compile to one body: take the other dim when it splits evenly
      // and the chosen one does not (a second body costs as much compile time as the first).
      GemmShape g = gemmShape(s.dtype);
      int64_t m = constant(s.m), n = constant(s.n);
      bool byCols = constant(sp.byCols) != 0;
      auto even = [](int64_t len, int64_t unit) { return len % (2 * unit) == 0; };
      if (byCols && !even(n, g.nr()) && even(m, g.mr)) byCols = false;
      else if (!byCols && !even(m, g.mr) && even(n, g.nr())) byCols = true;
      return emitStaticParallelGemm(kb, specOf, byCols, byCols ? constant(sp.panels) : constant(sp.tiles));
    }
    return emitParallelGemm(kb, specOf, sp.units);
  }
  GemmEmitter(kb, s).emitIf(split, [&] { emitParallelGemm(kb, specOf, sp.units); }, [&] { GemmEmitter(kb, s).emit(); });
}

size_t matmulGenericBatchRank(size_t resultRank) { return std::max<size_t>(resultRank, 3) - 2; }

StridedNest matmulBatchNest(const ir::Type &a, const ir::Type &b, const ir::Type &result) {
  DT_ASSERT(a.rank() >= 2 && b.rank() >= 2 && result.rank() >= 2, "matmul batch of ", a.str(), " @ ", b.str());
  int64_t m = a.shape[size_t(a.rank() - 2)], k = a.shape[size_t(a.rank() - 1)], n = b.shape[size_t(b.rank() - 1)];
  ir::Shape batch(result.shape.begin(), result.shape.end() - 2);
  ir::Shape aBatch(a.shape.begin(), a.shape.end() - 2), bBatch(b.shape.begin(), b.shape.end() - 2);
  auto scaled = [](std::vector<int64_t> st, int64_t f) {
    for (int64_t &x : st) x *= f;
    return st;
  };
  StridedNest nest;
  nest.sizes = batch;
  nest.strides.push_back(scaled(ir::contiguousStrides(batch), m * n));
  nest.strides.push_back(scaled(broadcastStrides(aBatch, batch), m * k));
  nest.strides.push_back(scaled(broadcastStrides(bBatch, batch), k * n));
  return nest;
}

std::vector<int64_t> matmulGenericSizes(const ir::Type &a, const ir::Type &b, const ir::Type &result) {
  int64_t m = a.shape[size_t(a.rank() - 2)], k = a.shape[size_t(a.rank() - 1)], n = b.shape[size_t(b.rank() - 1)];
  std::vector<int64_t> out{m, n, k, /*lhs*/ k, 1, /*rhs*/ n, 1};
  std::vector<int64_t> batch = flattenNest(matmulBatchNest(a, b, result), matmulGenericBatchRank(size_t(result.rank())));
  out.insert(out.end(), batch.begin(), batch.end());
  return out;
}

} // namespace dt::codegen
