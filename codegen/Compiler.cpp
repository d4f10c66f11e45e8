// compile(): one LLVM function per node (a fused kernel node is one node), every kernel not yet cached emitted into one module,
// verified, optimized at O3 and added to the process's LLJIT; kernels are cached by a canonical
// signature string (op, attributes with defaults filled in, operand and result types, and for
// kernel nodes the region's body in a canonical form).
// Also emitLLVM / emitAsm for inspection, cache statistics and the host CPU name.
#include "codegen/Compiler.h"

#include "codegen/Gemm.h"
#include "codegen/Jit.h"
#include "codegen/Lower.h"

#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Ops.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace dt::codegen {

namespace {

/// The process-wide codegen context: the JIT, the kernel cache and its counters. Programs hold a
/// shared_ptr to it (keepAlive), so the code they call outlives them.
struct CodegenState {
  std::mutex mu;
  Jit jit;
  std::unordered_map<std::string, rt::KernelFn> cache;
  int64_t nextId = 0;
  CacheStats stats;
};

std::shared_ptr<CodegenState> state() {
  static std::shared_ptr<CodegenState> s = std::make_shared<CodegenState>();
  return s;
}

// --- kernel descriptions and their cache keys ----------------------------------------------

void printAttrKey(std::string &out, const ir::Attr &a) {
  if (a.isInt()) {
    out += "i" + std::to_string(a.asInt());
  } else if (a.isFloat()) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "f%a", a.asFloat()); // hex float: exact
    out += buf;
  } else if (a.isBool()) {
    out += a.asBool() ? "true" : "false";
  } else if (a.isString()) {
    out += "\"" + a.asString() + "\"";
  } else {
    out += "[";
    for (const ir::Attr &x : a.asList()) {
      printAttrKey(out, x);
      out += ",";
    }
    out += "]";
  }
}

/// A canonical signature: equal keys compute the same function of the same operand types.
std::string kernelKey(const KernelDesc &k) {
  std::string key(k.def->name);
  key += "{";
  for (const ir::AttrSpec &spec : k.def->attrs) {
    if (k.shapeGeneric && !shapeGenericKeyAttr(*k.def, spec.name)) continue; // it comes in `sizes`
    key += spec.name + "=";
    if (const ir::Attr *a = ir::attrOrDefault(*k.def, k.attrs, spec.name)) printAttrKey(key, *a);
    else key += "none";
    key += ";";
  }
  // A shape-generic kernel depends on the ranks only, not on the dims.
  auto typeKey = [&](const ir::Type &t) {
    return k.shapeGeneric ? std::string(ir::dtypeName(t.dtype)) + "[rank " + std::to_string(t.shape.size()) + "]" : t.str();
  };
  key += "}(";
  for (const ir::Type &t : k.operands) key += typeKey(t) + ",";
  key += ")->" + typeKey(k.result);
  for (const ir::Type &t : k.moreResults) key += "," + typeKey(t);
  if (k.shapeGeneric) key += " generic";
  if (k.region) {
    // The region in a canonical form: values by position (input i, node j), not by name, so
    // equal bodies share a kernel whatever their callee and value names.
    std::unordered_map<const ir::Value *, std::string> ref;
    for (size_t i = 0; i < k.region->inputs.size(); ++i) ref[k.region->inputs[i]] = "i" + std::to_string(i);
    key += "{";
    for (size_t j = 0; j < k.region->nodes.size(); ++j) {
      const ir::Node &n = *k.region->nodes[j];
      key += n.op + "(";
      for (const ir::Value *o : n.operands) key += ref.at(o) + ",";
      key += "){";
      for (const auto &[name, a] : n.attrs) {
        key += name + "=";
        printAttrKey(key, a);
        key += ";";
      }
      key += "}" + n.result->type.str() + ";";
      ref[n.result] = "n" + std::to_string(j);
    }
    key += "yield";
    for (const ir::Value *o : k.region->outputs) key += " " + ref.at(o);
    key += "}";
  }
  return key;
}

bool broadcastsTo(const ir::Shape &s, const ir::Shape &out) {
  auto b = ir::broadcastShapes(s, out);
  return b && *b == out;
}

/// Checks what lowerKernel relies on (codegen/LowerKernel.cpp): region inputs mirror the
/// operands; the body is elementwise ops, broadcast_to and consts of at most one element, typed
/// as their operands give, whose values all broadcast to the nest shape; optionally headed by one
/// matmul of region inputs (or of leading transposes of their last two dims) with the kernel's result type (a matmul epilogue), or ended by one
/// sum/mean/max/min that the region yields (a reduction: the nest is its operand's shape, else
/// the result's); and the region yields the result type.
void checkKernel(const ir::Node &n, const KernelDesc &k) {
  std::string who = fmt("codegen: kernel @", n.callee, " (%", n.result->name, ")");
  if (!n.region) throw ValueError(fmt(who, " has no region"));
  const ir::Graph &r = *n.region;
  if (r.inputs.size() != k.operands.size())
    throw ValueError(fmt(who, ": the region has ", r.inputs.size(), " inputs, expected ", k.operands.size()));
  if (r.outputs.size() != 1 + k.moreResults.size() || r.outputs[0]->type != k.result)
    throw ValueError(fmt(who, ": the region must yield ", 1 + k.moreResults.size(), " value", k.moreResults.empty() ? "" : "s",
                         ", the first of type ", k.result.str()));
  for (size_t j = 0; j < k.moreResults.size(); ++j)
    if (r.outputs[j + 1]->type != k.moreResults[j])
      throw ValueError(fmt(who, ": the region yields %", r.outputs[j + 1]->name, " of type ", r.outputs[j + 1]->type.str(),
                           " as result ", j + 1, ", expected ", k.moreResults[j].str()));
  auto kindOf = [&](const ir::Node &rn) {
    const ir::OpDef *def = ir::findOp(rn.op);
    if (!def) throw ValueError(fmt(who, ": unknown op '", rn.op, "' in the region"));
    return def->kind;
  };
  // Leading transposes of region inputs' last two dims, read only by the matmul after them (the
  // GEMM reads them through swapped strides).
  size_t head = 0;
  while (head < r.nodes.size() && ir::swapsLastTwoDims(*r.nodes[head]) && !r.nodes[head]->operands[0]->def)
    ++head;
  const ir::Node *matmul = head < r.nodes.size() && kindOf(*r.nodes[head]) == ir::OpKind::MatMul ? r.nodes[head].get() : nullptr;
  if (head > 0 && !matmul)
    throw ValueError(fmt(who, ": a transpose in a region must be of a region input and read by the matmul after it"));
  if (matmul)
    for (const ir::Value *o : matmul->operands)
      if (o->def && std::none_of(r.nodes.begin(), r.nodes.begin() + std::ptrdiff_t(head), [&](const auto &t) { return t.get() == o->def; }))
        throw ValueError(fmt(who, ": matmul operand %", o->name, " must be a region input or a transpose of one"));
  for (size_t j = 0; j < head; ++j)
    for (const auto &rn : r.nodes)
      if (rn.get() != matmul && std::count(rn->operands.begin(), rn->operands.end(), r.nodes[j]->result))
        throw ValueError(fmt(who, ": transpose %", r.nodes[j]->result->name, " may be read by the matmul only"));
  // A reduction kernel ends in one reduction per result (siblings over the same nest and axes);
  // `reduce` is the first of them.
  size_t nOuts = 1 + k.moreResults.size();
  std::vector<const ir::Node *> tail;
  if (!r.nodes.empty() && kindOf(*r.nodes.back()) == ir::OpKind::Reduce) {
    if (r.nodes.size() < nOuts)
      throw ValueError(fmt(who, ": a reduction kernel with ", nOuts, " results ends in ", nOuts, " reductions"));
    for (size_t j = r.nodes.size() - nOuts; j < r.nodes.size(); ++j) {
      const ir::Node &t = *r.nodes[j];
      if (kindOf(t) != ir::OpKind::Reduce)
        throw ValueError(fmt(who, ": a reduction kernel with ", nOuts, " results ends in ", nOuts, " reductions; %",
                             t.result->name, " = ", t.op, " is not one"));
      tail.push_back(&t);
    }
  }
  const ir::Node *reduce = tail.empty() ? nullptr : tail[0];
  if (matmul && reduce) throw ValueError(fmt(who, ": a region may start with a matmul or end in a reduction, not both"));
  if (!k.moreResults.empty()) {
    if (matmul)
      throw ValueError(fmt(who, ": only an elementwise or a reduction kernel has several results, this one has a matmul"));
    if (!reduce)
      for (const ir::Value *o : r.outputs)
        if (o->type.shape != k.result.shape)
          throw ValueError(fmt(who, ": every result of a multi-output kernel has the first's shape ", ir::shapeStr(k.result.shape),
                               ", %", o->name, " is ", o->type.str()));
  }
  for (size_t j = 0; j < tail.size(); ++j) {
    const ir::Node &t = *tail[j];
    if (r.outputs[j] != t.result)
      throw ValueError(fmt(who, ": a region ending in ", t.op, " must yield its result", tail.size() > 1 ? " (the reductions in order)" : ""));
    const ir::OpDef &d0 = *ir::findOp(reduce->op), &dj = *ir::findOp(t.op);
    size_t rank = reduce->operands[0]->type.shape.size();
    if (t.operands[0]->type.shape != reduce->operands[0]->type.shape || t.result->type.shape != reduce->result->type.shape ||
        ir::reduceAxes(dj, t.attrs, int64_t(rank)) != ir::reduceAxes(d0, reduce->attrs, int64_t(rank)))
      throw ValueError(fmt(who, ": reductions %", reduce->result->name, " and %", t.result->name,
                           " of one kernel must reduce the same axes of operands of one shape"));
  }
  if (matmul && matmul->result->type != k.result)
    throw ValueError(fmt(who, ": its matmul gives ", matmul->result->type.str(), ", expected the kernel's type ", k.result.str()));
  const ir::Shape &nest = reduce ? reduce->operands[0]->type.shape : k.result.shape;
  std::string nestWhat = reduce ? fmt("the ", reduce->op, "'s operand shape") : std::string("the result");
  std::unordered_map<const ir::Value *, bool> readByBody; // region inputs read outside the matmul
  for (size_t j = head; j < r.nodes.size(); ++j)
    if (r.nodes[j].get() != matmul)
      for (const ir::Value *o : r.nodes[j]->operands) readByBody[o] = true;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    if (r.inputs[i]->type != k.operands[i])
      throw ValueError(fmt(who, ": region input ", i, " is ", r.inputs[i]->type.str(), ", expected ", k.operands[i].str()));
    bool yielded = std::find(r.outputs.begin(), r.outputs.end(), r.inputs[i]) != r.outputs.end();
    if ((readByBody.count(r.inputs[i]) || yielded) && !broadcastsTo(k.operands[i].shape, nest))
      throw ValueError(fmt(who, ": operand ", k.operands[i].str(), " does not broadcast to ", nestWhat, " ", ir::Type{k.result.dtype, nest}.str()));
  }
  for (const auto &rn : r.nodes) {
    const ir::OpDef *def = ir::findOp(rn->op);
    std::string what = fmt(who, ": region node %", rn->result->name, " = ", rn->op);
    bool elementwise = def->kind == ir::OpKind::Unary || def->kind == ir::OpKind::Binary ||
                       def->kind == ir::OpKind::Compare || def->kind == ir::OpKind::Where || def->kind == ir::OpKind::Cast;
    bool headOrTail = rn.get() == matmul || std::find(tail.begin(), tail.end(), rn.get()) != tail.end() ||
                      std::any_of(r.nodes.begin(), r.nodes.begin() + std::ptrdiff_t(head), [&](const auto &t) { return t == rn; });
    if (def->kind == ir::OpKind::Const) {
      if (rn->result->type.numel() > 1)
        throw ValueError(fmt(what, ": expected a const of at most one element, given ", rn->result->type.str()));
    } else if (!elementwise && def->id != ir::OpId::BroadcastTo && !headOrTail) {
      throw ValueError(fmt(what, ": expected an elementwise op, broadcast_to or a scalar const in a kernel region ",
                           "(a matmul only first, after transposes of its operands; a reduction only last)"));
    }
    std::vector<ir::Type> ts;
    for (const ir::Value *o : rn->operands) ts.push_back(o->type);
    ir::Type inferred = ir::inferType(*def, ts, rn->attrs);
    if (inferred != rn->result->type)
      throw ValueError(fmt(what, " is annotated ", rn->result->type.str(), " but its operands give ", inferred.str()));
    if (!headOrTail && !broadcastsTo(inferred.shape, nest))
      throw ValueError(fmt(what, ": ", inferred.str(), " does not broadcast to ", nestWhat, " ", ir::Type{k.result.dtype, nest}.str()));
  }
}

KernelDesc describe(const ir::Node &n) {
  KernelDesc k;
  k.def = ir::findOp(n.op);
  if (!k.def) throw ValueError(fmt("codegen: unknown op '", n.op, "'"));
  k.attrs = n.attrs;
  for (const ir::Value *v : n.operands) k.operands.push_back(v->type);
  k.result = n.result->type;
  for (const ir::Value *r : n.moreResults) k.moreResults.push_back(r->type);
  if (k.def->kind == ir::OpKind::Kernel) {
    checkKernel(n, k);
    k.region = n.region.get();
    return k;
  }
  // Kernels trust their types completely (they index memory with them): re-check them here.
  ir::Type inferred = ir::inferType(*k.def, k.operands, k.attrs);
  if (inferred != k.result)
    throw ValueError(fmt("codegen: ", n.op, " node %", n.result->name, " is annotated ", k.result.str(),
                         " but its operands give ", inferred.str()));
  return k;
}

// --- emission ---------------------------------------------------------------------------------

void lowerBody(KernelBuilder &kb, const KernelDesc &k) {
  DT_ASSERT(!k.shapeGeneric || hasShapeGenericKernel(*k.def), k.def->name, " has no shape-generic kernel");
  switch (k.def->kind) {
  case ir::OpKind::Unary:
  case ir::OpKind::Binary:
  case ir::OpKind::Compare:
  case ir::OpKind::Where:
  case ir::OpKind::Cast:
    if (k.shapeGeneric) lowerElementwiseGeneric(kb, k);
    else lowerElementwise(kb, k);
    return;
  case ir::OpKind::Const: lowerConst(kb, k); return;
  case ir::OpKind::MatMul: lowerMatMul(kb, k); return;
  case ir::OpKind::Reduce:
    if (k.shapeGeneric) lowerReduceGeneric(kb, k);
    else lowerReduce(kb, k);
    return;
  case ir::OpKind::ArgReduce: lowerArgReduce(kb, k); return;
  case ir::OpKind::Layout: lowerLayout(kb, k); return;
  case ir::OpKind::Indexing: lowerIndexing(kb, k); return;
  case ir::OpKind::Kernel: lowerKernel(kb, k); return;
  }
  DT_ASSERT(false, "unknown op kind of ", k.def->name);
}

/// Emits `void name(void *const *bufs, const int64_t *sizes)`: it loads the pointers and calls an
/// always-inlined body whose pointer parameters are noalias (the result has its own buffer, so
/// it never aliases an operand), which becomes alias metadata once inlined. `aliasOut` lists the
/// operands that share a result's buffer (computed in place by a memory plan): those and the
/// results are not noalias. `bufs` holds the results (a multi-output kernel has several), then
/// the operands.
void emitKernel(llvm::Module &m, const KernelDesc &k, const std::string &name, std::span<const size_t> aliasOut = {}) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::Type *ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type *voidTy = llvm::Type::getVoidTy(ctx);
  size_t nres = 1 + k.moreResults.size(); // bufs: the results, then the operands
  size_t nbufs = nres + k.operands.size();

  std::vector<llvm::Type *> params(nbufs + 1, ptr);
  auto *body = llvm::Function::Create(llvm::FunctionType::get(voidTy, params, false),
                                      llvm::GlobalValue::InternalLinkage, name + ".body", m);
  body->addFnAttr(llvm::Attribute::AlwaysInline);
  body->addFnAttr(llvm::Attribute::NoUnwind);
  for (size_t i = 0; i < nbufs; ++i) {
    bool aliased = !aliasOut.empty() && (i < nres || std::find(aliasOut.begin(), aliasOut.end(), i - nres) != aliasOut.end());
    if (!aliased) body->addParamAttr(unsigned(i), llvm::Attribute::NoAlias);
    body->addParamAttr(unsigned(i), llvm::Attribute::NoCapture);
    if (i >= nres) body->addParamAttr(unsigned(i), llvm::Attribute::ReadOnly);
  }
  body->getArg(0)->setName("out");
  for (size_t i = 1; i < nres; ++i) body->getArg(unsigned(i))->setName("out" + std::to_string(i));
  for (size_t i = nres; i < nbufs; ++i) body->getArg(unsigned(i))->setName("in" + std::to_string(i - nres));
  body->getArg(unsigned(nbufs))->setName("sizes");

  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", body));
  KernelBuilder kb{m, b, body, body->getArg(0), {}, body->getArg(unsigned(nbufs))};
  for (size_t i = 1; i < nbufs; ++i) kb.ins.push_back(body->getArg(unsigned(i))); // further results, then operands
  lowerBody(kb, k);
  b.CreateRetVoid();

  auto *fn = llvm::Function::Create(llvm::FunctionType::get(voidTy, {ptr, ptr}, false),
                                    llvm::GlobalValue::ExternalLinkage, name, m);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  if (body->hasFnAttribute("prefer-vector-width"))
    fn->addFnAttr(body->getFnAttribute("prefer-vector-width"));
  fn->getArg(0)->setName("bufs");
  fn->getArg(1)->setName("sizes");
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
  std::vector<llvm::Value *> args;
  for (size_t i = 0; i < nbufs; ++i)
    args.push_back(b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, fn->getArg(0), i),
                                i == 0 ? std::string("out") : i < nres ? "out" + std::to_string(i) : "in" + std::to_string(i - nres)));
  args.push_back(fn->getArg(1));
  b.CreateCall(body, args);
  b.CreateRetVoid();
}

void verifyOrDie(const llvm::Module &m) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  bool broken = llvm::verifyModule(m, &os);
  os.flush();
  DT_ASSERT(!broken, "generated LLVM IR does not verify: ", msg);
}

std::string printModule(const llvm::Module &m) {
  std::string text;
  llvm::raw_string_ostream os(text);
  m.print(os, nullptr);
  os.flush();
  return text;
}

/// A module with one kernel per distinct node of `g` (names dt_<op>_<i>), for inspection.
std::unique_ptr<llvm::Module> inspectionModule(CodegenState &s, llvm::LLVMContext &ctx, const ir::Graph &g) {
  auto m = std::make_unique<llvm::Module>(g.name, ctx);
  s.jit.configure(*m);
  std::unordered_map<std::string, bool> seen;
  int i = 0;
  for (const auto &n : g.nodes) {
    KernelDesc k = describe(*n);
    if (!seen.emplace(kernelKey(k), true).second) continue;
    emitKernel(*m, k, "dt_" + std::string(k.def->name) + "_" + std::to_string(i++));
  }
  verifyOrDie(*m);
  return m;
}

/// The description of a shape-generic kernel, its types checked like describe() does.
KernelDesc describeShapeGeneric(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                const ir::AttrMap &attrs) {
  if (!hasShapeGenericKernel(def))
    throw ValueError(fmt("codegen: ", def.name, " has no shape-generic kernel (expected an elementwise, reduction, matmul, argmax or indexing op)"));
  KernelDesc k;
  k.def = &def;
  k.attrs = attrs;
  k.operands.assign(operandTypes.begin(), operandTypes.end());
  k.result = result;
  k.shapeGeneric = true;
  ir::Type inferred = ir::inferType(def, k.operands, attrs);
  if (inferred != result)
    throw ValueError(fmt("codegen: shape-generic ", def.name, " expected result ", inferred.str(), ", given ", result.str()));
  return k;
}

} // namespace

bool hasShapeGenericKernel(const ir::OpDef &def) {
  switch (def.kind) {
  case ir::OpKind::Unary:
  case ir::OpKind::Binary:
  case ir::OpKind::Compare:
  case ir::OpKind::Where:
  case ir::OpKind::Cast:
  case ir::OpKind::Reduce:
  case ir::OpKind::MatMul:
  case ir::OpKind::ArgReduce:
  case ir::OpKind::Indexing: return true;
  case ir::OpKind::Const:
  case ir::OpKind::Layout: case ir::OpKind::Kernel: return false;
  }
  DT_ASSERT(false, "unknown op kind of ", def.name);
}

bool shapeGenericKeyAttr(const ir::OpDef &def, std::string_view name) {
  (void)name;
  switch (def.kind) {
  // argmax's axis and keepdim, pad's widths, the axis of concat, gather and scatter_add: they
  // only change the numbers in `sizes`.
  case ir::OpKind::ArgReduce:
  case ir::OpKind::Indexing: return false;
  case ir::OpKind::Unary: case ir::OpKind::Binary: case ir::OpKind::Compare: case ir::OpKind::Where:
  case ir::OpKind::Cast: case ir::OpKind::Reduce: case ir::OpKind::Const: case ir::OpKind::MatMul:
  case ir::OpKind::Layout: case ir::OpKind::Kernel: return true;
  }
  DT_ASSERT(false, "unknown op kind of ", def.name);
}

rt::KernelFn compileShapeGeneric(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                 const ir::AttrMap &attrs) {
  KernelDesc k = describeShapeGeneric(def, operandTypes, result, attrs);
  std::string key = kernelKey(k);
  std::shared_ptr<CodegenState> sp = state();
  CodegenState &s = *sp;
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto it = s.cache.find(key); it != s.cache.end()) {
    ++s.stats.kernelCacheHits;
    return it->second;
  }
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = std::make_unique<llvm::Module>("dt_generic_" + std::string(def.name), *ctx);
  s.jit.configure(*m);
  std::string name = "dt_" + std::string(def.name) + "_generic_" + std::to_string(s.nextId++);
  emitKernel(*m, k, name);
  verifyOrDie(*m);
  s.jit.optimizeAndAdd(std::move(m), std::move(ctx));
  rt::KernelFn fn = reinterpret_cast<rt::KernelFn>(s.jit.lookup(name));
  s.cache[key] = fn;
  ++s.stats.kernelsCompiled;
  // The JIT (and so the code) lives as long as the process-wide state, which is never destroyed
  // before exit: the returned pointer stays valid.
  return fn;
}

namespace {
/// shapeGenericSizes for sum/mean/max/min: the input nest with the result's strides (0 on
/// reduced dims), then the result's element count and the count reduced into each element.
std::vector<int64_t> reduceSizes(const ir::OpDef &def, const ir::Type &in, const ir::Type &result, const ir::AttrMap &attrs) {
  ReduceLayout layout = reduceLayout(def, attrs, in);
  StridedNest nest;
  nest.sizes = in.shape;
  nest.strides = {layout.outStrides, ir::contiguousStrides(in.shape)};
  std::vector<int64_t> out = flattenNest(nest, in.shape.size());
  out.push_back(result.numel());
  out.push_back(layout.count);
  return out;
}
} // namespace

std::vector<int64_t> shapeGenericSizes(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                       const ir::AttrMap &attrs) {
  if (!hasShapeGenericKernel(def))
    throw ValueError(fmt("codegen: ", def.name, " has no shape-generic kernel (expected an elementwise, reduction, matmul, argmax or indexing op)"));
  if (def.kind == ir::OpKind::Reduce) {
    if (operandTypes.size() != 1) throw ValueError(fmt("codegen: ", def.name, " expected 1 operand, given ", operandTypes.size()));
    return reduceSizes(def, operandTypes[0], result, attrs);
  }
  if (def.kind == ir::OpKind::ArgReduce || def.kind == ir::OpKind::Indexing) {
    // The type rule checks the arity and the shapes these layouts rely on.
    if (ir::Type inferred = ir::inferType(def, operandTypes, attrs); inferred != result)
      throw ValueError(fmt("codegen: shape-generic ", def.name, " expected result ", inferred.str(), ", given ", result.str()));
    if (def.kind == ir::OpKind::ArgReduce) return argReduceSizes(def, operandTypes[0], attrs);
    return indexingSizes(def, operandTypes, result, attrs);
  }
  if (def.kind == ir::OpKind::MatMul) {
    std::vector<ir::Type> ts(operandTypes.begin(), operandTypes.end());
    if (ir::Type inferred = ir::inferType(def, ts, attrs); inferred != result)
      throw ValueError(fmt("codegen: shape-generic matmul expected result ", inferred.str(), ", given ", result.str()));
    return matmulGenericSizes(ts[0], ts[1], result);
  }
  const ir::Shape &outShape = result.shape;
  for (const ir::Type &t : operandTypes)
    if (!broadcastsTo(t.shape, outShape))
      throw ValueError(fmt("codegen: shape-generic operand ", t.str(), " does not broadcast to the result ", result.str()));
  return flattenNest(broadcastNest(result, operandTypes), outShape.size());
}

std::string emitShapeGenericLLVM(const ir::OpDef &def, std::span<const ir::Type> operandTypes, const ir::Type &result,
                                 const ir::AttrMap &attrs, bool optimized) {
  KernelDesc k = describeShapeGeneric(def, operandTypes, result, attrs);
  std::shared_ptr<CodegenState> sp = state();
  std::lock_guard<std::mutex> lock(sp->mu);
  llvm::LLVMContext ctx;
  auto m = std::make_unique<llvm::Module>("dt_generic_" + std::string(def.name), ctx);
  sp->jit.configure(*m);
  emitKernel(*m, k, "dt_" + std::string(def.name) + "_generic");
  verifyOrDie(*m);
  if (optimized) sp->jit.optimize(*m);
  return printModule(*m);
}

namespace {

/// A node that reads each operand element only where it writes the same result element: an
/// elementwise op, or a kernel whose region has no matmul and no reduction.
bool elementwiseNode(const ir::Node &n, const KernelDesc &k) {
  auto elementwise = [](const ir::OpDef &d) {
    switch (d.kind) {
    case ir::OpKind::Unary: case ir::OpKind::Binary: case ir::OpKind::Compare: case ir::OpKind::Where:
    case ir::OpKind::Cast: case ir::OpKind::Const: return true;
    case ir::OpKind::Layout: return d.id == ir::OpId::BroadcastTo;
    case ir::OpKind::MatMul: case ir::OpKind::Reduce: case ir::OpKind::ArgReduce: case ir::OpKind::Indexing:
    case ir::OpKind::Kernel: return false;
    }
    return false;
  };
  if (k.def->kind != ir::OpKind::Kernel) return k.def->kind != ir::OpKind::Const && k.def->kind != ir::OpKind::Layout && elementwise(*k.def);
  for (const auto &rn : n.region->nodes)
    if (!elementwise(*ir::findOp(rn->op))) return false;
  return true;
}

/// Puts `plan` into prog (slotBuffer, bufferBytes) after checking that it is safe: every value
/// has a buffer of enough bytes; graph inputs and outputs are alone in theirs; a node's result
/// goes to a buffer whose value is no longer read, or (in place) to an operand's buffer when the
/// operand has the result's type, is read last here and the node is elementwise. Returns, per
/// node, the operands that share the result's buffer, and sets `aliased[i]` for each reshape the
/// plan places in its operand's buffer (no kernel: the same bytes, read until the group's last use).
std::vector<std::vector<size_t>> applyPlan(const ir::Graph &g, const ir::MemoryPlan &plan, const std::vector<KernelDesc> &descs,
                                           const std::vector<const ir::Value *> &slotValue, rt::Program &prog,
                                           std::vector<bool> &aliased) {
  auto bad = [](auto &&...xs) { return ValueError(fmt("codegen: memory plan: ", xs...)); };
  for (int64_t b : plan.bufferBytes)
    if (b < 0) throw bad("a buffer has ", b, " bytes");
  std::unordered_map<const ir::Value *, int> bufOf;
  std::vector<int> users(plan.bufferBytes.size(), 0);
  for (const ir::Value *v : slotValue) {
    auto it = plan.bufferOf.find(v->name);
    if (it == plan.bufferOf.end()) throw bad("value %", v->name, " has no buffer");
    if (it->second < 0 || size_t(it->second) >= plan.bufferBytes.size())
      throw bad("value %", v->name, " is in buffer ", it->second, " of ", plan.bufferBytes.size());
    if (plan.bufferBytes[size_t(it->second)] < int64_t(v->type.bytes()))
      throw bad("value %", v->name, " of ", v->type.bytes(), " bytes does not fit buffer ", it->second, " of ",
                plan.bufferBytes[size_t(it->second)], " bytes");
    bufOf[v] = it->second;
    ++users[size_t(it->second)];
    prog.slotBuffer.push_back(it->second);
  }
  // A donated output shares its input's buffer (the checks below see the input read no later
  // than the output's node); otherwise graph inputs and outputs are alone in theirs.
  std::unordered_set<const ir::Value *> donors;
  for (auto [k, in] : plan.donations) {
    if (k < 0 || size_t(k) >= g.outputs.size() || in < 0 || size_t(in) >= g.inputs.size())
      throw bad("donation of output ", k, " to input ", in, " with ", g.outputs.size(), " outputs and ", g.inputs.size(), " inputs");
    const ir::Value *v = g.outputs[size_t(k)], *x = g.inputs[size_t(in)];
    if (bufOf.at(v) != bufOf.at(x) || users[size_t(bufOf.at(x))] != 2 || !(v->type == x->type) || !v->def ||
        std::count(g.outputs.begin(), g.outputs.end(), v) != 1 || std::count(g.outputs.begin(), g.outputs.end(), x) != 0)
      throw bad("output %", v->name, " donated to input %", x->name, " must be a node result of its type returned once, alone with it in its buffer");
    donors.insert(v);
    donors.insert(x);
  }
  for (const auto &vs : {g.inputs, g.outputs})
    for (const ir::Value *v : vs)
      if (users[size_t(bufOf.at(v))] > 1 && !donors.count(v))
        throw bad("graph input/output %", v->name, " shares buffer ", bufOf.at(v), " with another value");
  // A const is filled once, when the program is made: nothing else may ever write its buffer.
  for (const auto &n : g.nodes)
    if (descs[size_t(&n - &g.nodes[0])].def->kind == ir::OpKind::Const && users[size_t(bufOf.at(n->result))] > 1)
      throw bad("const %", n->result->name, " shares buffer ", bufOf.at(n->result), " with another value");
  for (int64_t b : plan.bufferBytes) prog.bufferBytes.push_back(size_t(b));

  // A reshape the plan lists as an alias shares its operand's buffer and joins its group (root =
  // the first value); a group is read until the last reader of any member.
  std::unordered_set<std::string> aliasNames(plan.aliases.begin(), plan.aliases.end());
  std::unordered_map<const ir::Value *, const ir::Value *> rootOf;
  auto root = [&](const ir::Value *v) {
    auto it = rootOf.find(v);
    return it == rootOf.end() ? v : it->second;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node &n = *g.nodes[i];
    if (!aliasNames.count(n.result->name)) continue;
    if (descs[i].def->id != ir::OpId::Reshape || n.operands.size() != 1)
      throw bad("%", n.result->name, " is an alias but is ", n.op, ", expected reshape");
    if (bufOf.at(n.result) != bufOf.at(n.operands[0]))
      throw bad("alias %", n.result->name, " is in buffer ", bufOf.at(n.result), ", expected its operand's buffer ",
                bufOf.at(n.operands[0]));
    aliased[i] = true;
    rootOf[n.result] = root(n.operands[0]);
  }
  std::unordered_map<const ir::Value *, size_t> lastUse;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const ir::Value *o : g.nodes[i]->operands) lastUse[root(o)] = i;
  std::vector<const ir::Value *> holder(plan.bufferBytes.size(), nullptr); // root of the group in each buffer
  for (const ir::Value *v : g.inputs) holder[size_t(bufOf.at(v))] = v;
  std::vector<std::vector<size_t>> aliases(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node &n = *g.nodes[i];
    if (aliased[i]) {
      if (holder[size_t(bufOf.at(n.result))] != root(n.operands[0]))
        throw bad("alias %", n.result->name, ": buffer ", bufOf.at(n.result), " no longer holds %", n.operands[0]->name);
      continue;
    }
    std::vector<const ir::Value *> written; // this node's results, for two in one buffer
    for (const ir::Value *r : n.results()) {
      size_t b = size_t(bufOf.at(r));
      if (const ir::Value *h = holder[b]) {
        auto lu = lastUse.find(h);
        bool readLater = lu != lastUse.end() && lu->second > i;
        bool readHere = lu != lastUse.end() && lu->second == i;
        bool sameType = true;
        for (const ir::Value *o : n.operands)
          if (root(o) == h && !(o->type == r->type)) sameType = false;
        if (readLater || (readHere && !(sameType && elementwiseNode(n, descs[i]))) ||
            std::find(written.begin(), written.end(), h) != written.end())
          throw bad("%", r->name, " overwrites %", h->name, " in buffer ", b, " while it is still read");
        if (readHere)
          for (size_t j = 0; j < n.operands.size(); ++j)
            if (root(n.operands[j]) == h && std::find(aliases[i].begin(), aliases[i].end(), j) == aliases[i].end())
              aliases[i].push_back(j);
      }
      holder[b] = r;
      written.push_back(r);
    }
  }
  return aliases;
}

rt::Program compileWith(const ir::Graph &g, const ir::MemoryPlan *plan) {
  std::shared_ptr<CodegenState> sp = state();
  CodegenState &s = *sp;

  rt::Program prog;
  std::unordered_map<const ir::Value *, int> slotOf;
  auto addSlot = [&](const ir::Value *v) {
    DT_ASSERT(!slotOf.count(v), "value %", v->name, " defined twice");
    slotOf[v] = int(prog.slotBytes.size());
    prog.slotBytes.push_back(v->type.bytes());
    return slotOf[v];
  };
  auto slot = [&](const ir::Value *v) {
    auto it = slotOf.find(v);
    if (it == slotOf.end()) throw ValueError(fmt("codegen: value %", v->name, " is used before it is defined"));
    return it->second;
  };
  for (const ir::Value *v : g.inputs) prog.inputSlots.push_back(addSlot(v));

  std::vector<const ir::Value *> slotValue(g.inputs.begin(), g.inputs.end());
  std::vector<KernelDesc> descs;
  std::vector<std::string> keys;
  for (const auto &n : g.nodes) {
    descs.push_back(describe(*n));
    keys.push_back(kernelKey(descs.back()));
    rt::Step st;
    std::vector<ir::Value *> results = n->results();
    st.slots.assign(results.size(), -1); // the result slots, after the operands are looked up
    for (const ir::Value *v : n->operands) st.slots.push_back(slot(v));
    for (size_t j = 0; j < results.size(); ++j) {
      st.slots[j] = addSlot(results[j]);
      slotValue.push_back(results[j]);
    }
    st.name = n->op + " %" + n->result->name;
    prog.steps.push_back(std::move(st));
  }
  for (const ir::Value *v : g.outputs) prog.outputSlots.push_back(slot(v));
  std::vector<std::vector<size_t>> aliases(g.nodes.size());
  std::vector<bool> aliased(g.nodes.size(), false);
  if (plan) {
    aliases = applyPlan(g, *plan, descs, slotValue, prog, aliased);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (aliases[i].empty()) continue;
      keys[i] += " in place of";
      for (size_t j : aliases[i]) keys[i] += " " + std::to_string(j);
    }
  }

  // Consts are evaluated now, once, into buffers the program owns: no step runs for them.
  for (size_t i = 0; i < descs.size(); ++i) {
    if (descs[i].def->kind != ir::OpKind::Const) continue;
    ir::HostArray h = ir::evalNode(*g.nodes[i], {});
    auto buf = rt::Buffer::allocate(h.bytes.size());
    if (!h.bytes.empty()) std::memcpy(buf->data(), h.bytes.data(), h.bytes.size());
    prog.constants.emplace_back(prog.steps[i].slots[0], std::move(buf));
    aliased[i] = true;
  }

  std::lock_guard<std::mutex> lock(s.mu);
  // Emit every kernel the cache lacks into one module.
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = std::make_unique<llvm::Module>("dt_" + g.name, *ctx);
  s.jit.configure(*m);
  std::unordered_map<std::string, std::string> fresh; // key -> symbol name
  int64_t hits = 0;
  for (size_t i = 0; i < descs.size(); ++i) {
    if (aliased[i]) continue;
    if (s.cache.count(keys[i]) || fresh.count(keys[i])) {
      ++hits;
      continue;
    }
    std::string name = "dt_" + std::string(descs[i].def->name) + "_" + std::to_string(s.nextId++);
    emitKernel(*m, descs[i], name, aliases[i]);
    fresh[keys[i]] = name;
  }
  if (!fresh.empty()) {
    verifyOrDie(*m);
    s.jit.optimizeAndAdd(std::move(m), std::move(ctx));
    for (auto &[key, name] : fresh) s.cache[key] = reinterpret_cast<rt::KernelFn>(s.jit.lookup(name));
  }
  s.stats.kernelsCompiled += int64_t(fresh.size());
  s.stats.kernelCacheHits += hits;

  std::vector<rt::Step> steps;
  for (size_t i = 0; i < descs.size(); ++i) {
    if (aliased[i]) continue; // an aliased reshape (its operand's buffer) or a const: nothing to run
    prog.steps[i].fn = s.cache.at(keys[i]);
    steps.push_back(std::move(prog.steps[i]));
  }
  prog.steps = std::move(steps);
  prog.keepAlive = sp;
  return prog;
}

} // namespace

rt::Program compile(const ir::Graph &g) { return compileWith(g, nullptr); }

rt::Program compile(const ir::Graph &g, const ir::MemoryPlan &plan) { return compileWith(g, &plan); }

std::string emitLLVM(const ir::Graph &g, bool optimized) {
  std::shared_ptr<CodegenState> sp = state();
  std::lock_guard<std::mutex> lock(sp->mu);
  llvm::LLVMContext ctx;
  auto m = inspectionModule(*sp, ctx, g);
  if (optimized) sp->jit.optimize(*m);
  return printModule(*m);
}

std::string emitAsm(const ir::Graph &g) {
  std::shared_ptr<CodegenState> sp = state();
  std::lock_guard<std::mutex> lock(sp->mu);
  llvm::LLVMContext ctx;
  auto m = inspectionModule(*sp, ctx, g);
  sp->jit.optimize(*m);
  return sp->jit.assembly(*m);
}

CacheStats cacheStats() {
  std::shared_ptr<CodegenState> sp = state();
  std::lock_guard<std::mutex> lock(sp->mu);
  CacheStats st = sp->stats;
  JitStats js = sp->jit.stats();
  st.diskHits = js.diskHits;
  st.diskMisses = js.diskMisses;
  st.diskWrites = js.diskWrites;
  st.diskCorrupt = js.diskCorrupt;
  st.optimizeSeconds = js.optimizeSeconds;
  st.codegenSeconds = js.codegenSeconds;
  return st;
}

std::string hostCPU() { return state()->jit.cpuName(); }

} // namespace dt::codegen
