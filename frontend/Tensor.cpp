// Eager tensors: creation, views, dt::apply (type check, view or cached JIT kernel — shape-generic,
// compiled once per op, dtypes and ranks (const aside) — tape record, or a node of the
// active trace in compile mode) and grad mode.
// backward() and dt::grad live in frontend/Autograd.cpp.
#include "frontend/Tensor.h"

#include "codegen/Compiler.h"
#include "frontend/Array.h"
#include "frontend/Trace.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Text.h"
#include "passes/Vjp.h"
#include "runtime/Copy.h"
#include "runtime/KernelError.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <variant>

namespace dt {

using ir::AttrMap;
using ir::DType;
using ir::OpId;
using ir::OpKind;
using ir::Shape;
using ir::Type;

std::optional<std::vector<int64_t>> viewStrides(const Shape &oldShape, const std::vector<int64_t> &oldStrides,
                                                const Shape &newShape); // frontend/TensorIndexing.cpp

namespace {

thread_local bool tGradEnabled = true;

std::atomic<int64_t> gKernelCompiles{0}, gKernelHits{0};

/// "add(f32[3],f32[]){...}": what makes an eager kernel distinct.
std::string kernelKey(const ir::OpDef &def, const std::vector<Type> &types, const AttrMap &attrs) {
  std::string k(def.name);
  k += '(';
  for (const Type &t : types) k += t.str() + ",";
  k += ')';
  for (auto &[name, a] : attrs) k += name + "=" + ir::printAttr(a) + ";";
  return k;
}

/// The JIT kernel of one node: a one-node graph compiled once per signature and cached.
rt::KernelFn eagerKernel(const ir::OpDef &def, const std::vector<Type> &types, const AttrMap &attrs, const Type &result) {
  static std::mutex mu;
  static std::unordered_map<std::string, rt::KernelFn> cache;
  std::string key = kernelKey(def, types, attrs);
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) {
    ++gKernelHits;
    return it->second;
  }
  ir::Graph g;
  std::vector<ir::Value *> ins;
  for (const Type &t : types) ins.push_back(g.addInput(t));
  g.outputs.push_back(g.addNode(std::string(def.name), ins, attrs, result)->result);
  rt::Program p = codegen::compile(g);
  DT_ASSERT(p.steps.size() == 1, "eager kernel for ", def.name, " compiled to ", p.steps.size(), " steps");
  ++gKernelCompiles;
  return cache[key] = p.steps[0].fn;
}

/// "add(f32[rank 2],f32[rank 0])": a shape-generic eager kernel depends on ranks, not dims.
std::string genericKernelKey(const ir::OpDef &def, const std::vector<Type> &types, const AttrMap &attrs) {
  std::string k(def.name);
  k += '(';
  for (const Type &t : types) k += std::string(ir::dtypeName(t.dtype)) + "[rank " + std::to_string(t.shape.size()) + "],";
  k += ')';
  for (auto &[name, a] : attrs)
    if (codegen::shapeGenericKeyAttr(def, name)) k += name + "=" + ir::printAttr(a) + ";"; // else it is in `sizes`
  return k;
}

/// The shape-generic JIT kernel of an elementwise op or reduction (codegen/Compiler.h): compiled
/// once per op, attributes, dtypes and ranks; the dims are passed per call in `sizes`.
rt::KernelFn eagerGenericKernel(const ir::OpDef &def, const std::vector<Type> &types, const AttrMap &attrs,
                                const Type &result) {
  static std::mutex mu;
  static std::unordered_map<std::string, rt::KernelFn> cache;
  std::string key = genericKernelKey(def, types, attrs);
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) {
    ++gKernelHits;
    return it->second;
  }
  rt::KernelFn fn = codegen::compileShapeGeneric(def, types, result, attrs);
  ++gKernelCompiles;
  return cache[key] = fn;
}

/// Contiguous data of `x` with no autograd state (x itself when already contiguous).
Tensor dense(const Tensor &x) {
  if (x.isContiguous()) return x;
  Tensor out = Tensor::empty(x.dtype(), x.shape());
  rt::copyStrided(out.data(), x.data(), ir::dtypeSize(x.dtype()), int(x.dim()), x.shape().data(), x.strides().data());
  return out;
}

Tensor view(const Tensor &x, Shape shape, std::vector<int64_t> strides) {
  Tensor v = Tensor::fromBuffer(x.dtype(), shape, x.impl().storage, std::move(strides), x.impl().offset);
  v.impl().traced = x.impl().traced;
  v.impl().traceId = x.impl().traceId;
  v.impl().tracedView = x.impl().tracedView;
  if (Trace *tr = activeTrace(); tr && v.impl().traced) tr->noteCreated(v.implPtr(), false);
  return v;
}

Tensor layoutView(const ir::OpDef &def, const Tensor &x, const AttrMap &attrs, const Type &t) {
  switch (def.id) {
  case OpId::Reshape: {
    // A strided view when the strides allow one (PyTorch's rule); a same-shape reshape of a
    // strided tensor is how contiguous() copies, so it stays a copy.
    if (!x.isContiguous() && t.shape != x.shape())
      if (auto st = viewStrides(x.shape(), x.strides(), t.shape)) return view(x, t.shape, *st);
    Tensor d = dense(x);
    return view(d, t.shape, ir::contiguousStrides(t.shape));
  }
  case OpId::Transpose:
  case OpId::Permute: {
    std::vector<int64_t> perm = ir::layoutPerm(def, attrs, x.dim()), st(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) st[i] = x.strides()[perm[i]];
    return view(x, t.shape, st);
  }
  case OpId::BroadcastTo: {
    size_t lead = t.shape.size() - x.shape().size();
    std::vector<int64_t> st(t.shape.size(), 0);
    for (size_t i = lead; i < t.shape.size(); ++i)
      st[i] = x.shape()[i - lead] == t.shape[i] ? x.strides()[i - lead] : 0;
    return view(x, t.shape, st);
  }
  case OpId::Slice: {
    // A strided view: element idx is x's element starts + idx * steps.
    ir::SliceAttrs a = ir::sliceAttrs(def, attrs, x.type());
    std::vector<int64_t> st(t.shape.size());
    int64_t offset = x.impl().offset;
    for (size_t i = 0; i < st.size(); ++i) {
      offset += a.starts[i] * x.strides()[i];
      st[i] = x.strides()[i] * a.steps[i];
    }
    if (t.numel() == 0) offset = x.impl().offset; // nothing is read: keep the offset inside the storage
    return Tensor::fromBuffer(x.dtype(), t.shape, x.impl().storage, std::move(st), offset);
  }
  case OpId::Neg: case OpId::Exp: case OpId::Log: case OpId::Abs: case OpId::Sqrt: case OpId::Sigmoid:
  case OpId::Tanh: case OpId::Relu: case OpId::Floor: case OpId::Add: case OpId::Sub: case OpId::Mul:
  case OpId::Div: case OpId::Pow: case OpId::Maximum: case OpId::Minimum: case OpId::Eq: case OpId::Ne:
  case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge: case OpId::Where: case OpId::Cast:
  case OpId::Const: case OpId::MatMul: case OpId::Sum: case OpId::Mean: case OpId::Max: case OpId::Min:
  case OpId::ArgMax: case OpId::Pad: case OpId::Concat: case OpId::Gather: case OpId::ScatterAdd:
  case OpId::Kernel:
    break;
  }
  DT_ASSERT(false, def.name, " is not a view op");
}

/// How one op runs eagerly on operands of given types: the kernel, its `sizes`, the result type.
/// Remembered per thread for the next call with the same op, attributes and operand types (and
/// strides, for an elementwise op that reads strided operands in place), so a repeated op skips
/// type inference, the kernel cache's key and lock, and the computation of `sizes`.
struct EagerPlan {
  bool valid = false;
  OpId op{};
  AttrMap attrs;
  std::vector<DType> dtypes;
  std::vector<Shape> shapes;
  std::vector<std::vector<int64_t>> strides; ///< (strided only)
  Type result;
  rt::KernelFn fn = nullptr;
  std::vector<int64_t> sizes;
  bool generic = false;       ///< a shape-generic kernel (`sizes` passed)
  bool strided = false;       ///< elementwise: operands read in place through their strides
  bool stridedMatMul = false; ///< rank-2 matmul: operand strides patched into sizes[3..6] per call
};

/// This thread's plans by planHash (a bucket holds the plans whose hashes collide). Emptied when
/// it holds kMaxEagerPlans, so a program that makes ever new shapes does not grow it without end.
thread_local std::unordered_map<size_t, std::vector<EagerPlan>> tPlans;
thread_local size_t tPlanCount = 0;
constexpr size_t kMaxEagerPlans = 4096;

size_t mixHash(size_t h, uint64_t v) { return (h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2))); }

size_t attrHash(const ir::Attr &a) {
  return std::visit(
      [](const auto &v) -> size_t {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, ir::Attr::List>) {
          size_t h = v.size();
          for (const ir::Attr &x : v) h = mixHash(h, attrHash(x));
          return h;
        } else {
          return std::hash<V>{}(v);
        }
      },
      a.v);
}

/// A hash of what a plan depends on: the op, the attributes, the operands' dtypes and shapes (and
/// strides, for the elementwise kinds, which read strided operands in place). Equal calls hash
/// equal; findPlan compares the rest.
size_t planHash(const ir::OpDef &def, const std::vector<Tensor> &xs, const AttrMap &attrs) {
  bool elementwise = def.kind == OpKind::Unary || def.kind == OpKind::Binary || def.kind == OpKind::Compare ||
                     def.kind == OpKind::Where || def.kind == OpKind::Cast;
  size_t h = mixHash(size_t(def.id), xs.size());
  for (const Tensor &x : xs) {
    const TensorImpl &t = x.impl();
    h = mixHash(h, uint64_t(t.dtype) * 131 + t.shape.size());
    for (int64_t d : t.shape) h = mixHash(h, uint64_t(d));
    if (elementwise)
      for (int64_t st : t.strides) h = mixHash(h, uint64_t(st));
  }
  for (const auto &[name, a] : attrs) h = mixHash(mixHash(h, std::hash<std::string>{}(name)), attrHash(a));
  return h;
}

/// Whether ops of this kind run through a remembered plan (a kernel that depends only on the
/// types, attributes and strides); const ops are evaluated, layout ops are views.
bool plannable(OpKind k) {
  switch (k) {
  case OpKind::Unary: case OpKind::Binary: case OpKind::Compare: case OpKind::Where: case OpKind::Cast:
  case OpKind::MatMul: case OpKind::Reduce: case OpKind::ArgReduce: case OpKind::Indexing:
    return true;
  case OpKind::Const: case OpKind::Layout: case OpKind::Kernel:
    return false;
  }
  return false;
}

const EagerPlan *findPlan(const ir::OpDef &def, const std::vector<Tensor> &xs, const AttrMap &attrs, size_t hash) {
  auto it = tPlans.find(hash);
  if (it == tPlans.end()) return nullptr;
  for (const EagerPlan &p : it->second) {
    if (!p.valid || p.op != def.id || p.dtypes.size() != xs.size()) continue;
    bool same = true;
    for (size_t i = 0; same && i < xs.size(); ++i) {
      const TensorImpl &t = xs[i].impl();
      same = t.dtype == p.dtypes[i] && t.shape == p.shapes[i] && (!p.strided || t.strides == p.strides[i]);
    }
    if (same && p.attrs == attrs) return &p;
  }
  return nullptr;
}

EagerPlan makePlan(const ir::OpDef &def, const std::vector<Tensor> &xs, const std::vector<Type> &types,
                   const AttrMap &attrs, const Type &t) {
  EagerPlan p;
  p.op = def.id;
  p.attrs = attrs;
  p.result = t;
  p.generic = codegen::hasShapeGenericKernel(def);
  p.fn = p.generic ? eagerGenericKernel(def, types, attrs, t) : eagerKernel(def, types, attrs, t);
  // Elementwise kernels read strided operands (transposes, slices, expands) in place.
  p.strided = p.generic && (def.kind == OpKind::Unary || def.kind == OpKind::Binary || def.kind == OpKind::Compare ||
                            def.kind == OpKind::Where || def.kind == OpKind::Cast);
  for (const Tensor &x : xs) {
    p.dtypes.push_back(x.dtype());
    p.shapes.push_back(x.shape());
    if (p.strided) p.strides.push_back(x.strides());
  }
  if (p.strided) p.sizes = codegen::shapeGenericSizesStrided(def, types, p.strides, t);
  else if (p.generic) p.sizes = codegen::shapeGenericSizes(def, types, t, attrs);
  // A rank-2 matmul operand that is a strided view (x @ w.T) is read in place through its row and
  // column strides (sizes[3..6], codegen/Compiler.h), not copied.
  p.stridedMatMul = def.kind == OpKind::MatMul && xs[0].dim() == 2 && xs[1].dim() == 2;
  p.valid = true;
  return p;
}

/// Runs a plan's kernel on `xs` (of the plan's types) into a new tensor.
Tensor runPlan(const EagerPlan &p, const ir::OpDef &def, const std::vector<Tensor> &xs) {
  Tensor out = Tensor::empty(p.result.dtype, p.result.shape);
  const int64_t *sizes = p.generic ? p.sizes.data() : nullptr;
  std::vector<int64_t> patched;
  if (p.stridedMatMul) {
    patched = p.sizes;
    for (size_t i = 0; i < 2; ++i) {
      patched[3 + 2 * i] = xs[i].strides()[0];
      patched[4 + 2 * i] = xs[i].strides()[1];
    }
    sizes = patched.data();
  }
  constexpr size_t kLocal = 8;
  void *local[kLocal + 1];
  std::vector<void *> heap;
  void **bufs = local;
  if (xs.size() > kLocal) {
    heap.resize(xs.size() + 1);
    bufs = heap.data();
  }
  bufs[0] = out.data();
  std::vector<Tensor> copies; // dense copies of strided operands the kernel cannot read in place
  for (size_t i = 0; i < xs.size(); ++i) {
    if (p.strided || p.stridedMatMul || xs[i].isContiguous()) {
      bufs[i + 1] = xs[i].data();
    } else {
      copies.push_back(dense(xs[i]));
      bufs[i + 1] = copies.back().data();
    }
  }
  p.fn(bufs, sizes);
  if (std::optional<rt::KernelIndexError> e = rt::takeKernelError()) // a bad gather/scatter_add index
    throw IndexError(rt::indexErrorMessage(def.name, *e));
  return out;
}

/// `hash`: planHash of the call (when the op's kind is plannable).
Tensor runKernel(const ir::OpDef &def, const std::vector<Tensor> &xs, const std::vector<Type> &types,
                 const AttrMap &attrs, const Type &t, size_t hash) {
  if (def.kind == OpKind::Const) {
    Tensor out = Tensor::empty(t.dtype, t.shape);
    ir::Graph g;
    ir::HostArray h = ir::evalNode(*g.addNode("const", {}, attrs, t), {});
    if (!h.bytes.empty()) // a zero-size constant: memcpy from a null pointer is UB even for 0 bytes
      std::memcpy(out.data(), h.bytes.data(), h.bytes.size());
    return out;
  }
  EagerPlan plan = makePlan(def, xs, types, attrs, t);
  if (tPlanCount >= kMaxEagerPlans) {
    tPlans.clear();
    tPlanCount = 0;
  }
  std::vector<EagerPlan> &bucket = tPlans[hash];
  bucket.push_back(std::move(plan));
  ++tPlanCount;
  return runPlan(bucket.back(), def, xs);
}

void record(Tensor &out, const ir::OpDef &def, const AttrMap &attrs, const std::vector<Tensor> &xs) {
  if (!tGradEnabled || !passes::differentiable(out.dtype())) return;
  if (std::none_of(xs.begin(), xs.end(), [](const Tensor &x) { return x.requiresGrad(); })) return;
  auto node = std::make_shared<TapeNode>();
  node->op = def.id;
  node->attrs = attrs;
  node->resultType = out.type();
  for (const Tensor &x : xs) {
    TapeNode::Input in;
    if (x.requiresGrad()) {
      if (x.isLeaf()) in.leaf = x.implPtr();
      else in.node = x.gradFn();
    }
    in.value = x.detach();
    node->inputs.push_back(std::move(in));
  }
  node->result = out.detach();
  out.impl().requiresGrad = true;
  out.impl().gradFn = std::move(node);
}

} // namespace

// --- Tensor -------------------------------------------------------------------------------

TensorImpl &Tensor::impl() const {
  if (!impl_) throw ValueError("use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(DType dt, const Shape &shape) {
  for (int64_t d : shape)
    if (d < 0) throw ValueError(fmt("negative dimension in shape ", ir::shapeStr(shape)));
  auto buf = rt::Buffer::allocate(size_t(ir::numElements(shape)) * ir::dtypeSize(dt));
  Tensor t = fromBuffer(dt, shape, std::move(buf));
  if (Trace *tr = activeTrace()) tr->noteCreated(t.implPtr(), true);
  return t;
}

Tensor Tensor::full(DType dt, const Shape &shape, double value) {
  Tensor t = empty(dt, shape);
  int64_t n = t.numel();
  switch (dt) {
  case DType::F32: std::fill_n(static_cast<float *>(t.data()), n, float(value)); break;
  case DType::F64: std::fill_n(static_cast<double *>(t.data()), n, value); break;
  case DType::I64: std::fill_n(static_cast<int64_t *>(t.data()), n, int64_t(value)); break;
  case DType::Bool: std::fill_n(static_cast<uint8_t *>(t.data()), n, uint8_t(value != 0)); break;
  }
  return t;
}

Tensor Tensor::fromValues(DType dt, const Shape &shape, const std::vector<double> &values) {
  Array a = Array::fromValues(dt, shape, values);
  Tensor t = fromBuffer(dt, shape, a.buffer);
  if (Trace *tr = activeTrace()) tr->noteCreated(t.implPtr(), true);
  return t;
}

Tensor Tensor::fromBuffer(DType dt, const Shape &shape, std::shared_ptr<rt::Buffer> buf, std::vector<int64_t> strides,
                          int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(buf);
  impl->dtype = dt;
  impl->shape = shape;
  impl->strides = strides.empty() && !shape.empty() ? ir::contiguousStrides(shape) : std::move(strides);
  impl->offset = offset;
  DT_ASSERT(impl->strides.size() == shape.size(), "strides and shape differ in rank");
  if (Trace *tr = activeTrace(); tr && impl->storage) tr->noteCreated(impl, false);
  return Tensor(std::move(impl));
}

bool Tensor::isContiguous() const {
  const TensorImpl &t = impl();
  int64_t expect = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] == 0) return true;
    if (t.shape[i] != 1 && t.strides[i] != expect) return false;
    expect *= t.shape[i];
  }
  return true;
}

void *Tensor::data() const {
  const TensorImpl &t = impl();
  if (Trace *tr = activeTrace(); tr && !tr->createdHere(t)) traceValueNeeded("reading a tensor's data");
  if (t.traced) {
    throw TraceError("a tensor computed while tracing a compiled function was used outside that trace (did the "
                     "function store a tensor it computed somewhere, e.g. in a global or on self?)");
  }
  return static_cast<char *>(t.storage->data()) + t.offset * int64_t(ir::dtypeSize(t.dtype));
}

Tensor Tensor::contiguous() const {
  if (isContiguous()) return *this;
  return apply(OpId::Reshape, {*this}, {{"shape", ir::Attr::ints(shape())}});
}

std::vector<double> Tensor::toValues() const {
  Tensor d = dense(*this);
  Array a{type(), rt::Buffer::wrap(d.data(), type().bytes(), d.impl().storage)};
  return a.toValues();
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::runtime_error(fmt("a Tensor with ", numel(), " elements cannot be converted to a scalar"));
  return toValues()[0];
}

std::string Tensor::str() const {
  Tensor d = dense(*this);
  Array a{type(), rt::Buffer::wrap(d.data(), type().bytes(), d.impl().storage)};
  return a.str();
}

Tensor &Tensor::setRequiresGrad(bool on) {
  if (!isLeaf())
    throw std::runtime_error("you can only change requires_grad flags of leaf variables (this tensor has grad_fn=" +
                             gradFn()->name() + ")");
  if (on && !passes::differentiable(dtype()))
    throw std::runtime_error(fmt("only Tensors of floating point dtype can require gradients, got ", ir::dtypeName(dtype())));
  impl().requiresGrad = on;
  return *this;
}

void Tensor::setGrad(const Tensor &g) {
  if (g.defined() && (g.dtype() != dtype() || g.shape() != shape()))
    throw ValueError(fmt("assigned grad has type ", g.type().str(), " but the tensor is ", type().str()));
  assignGrad(implPtr(), g.defined() ? g.implPtr() : nullptr);
}

void Tensor::assignGrad(const std::shared_ptr<TensorImpl> &leaf, std::shared_ptr<TensorImpl> g, bool computedByBackward) {
  if (Trace *tr = activeTrace()) {
    tr->noteGradWrite(leaf);
    if (computedByBackward && g && g->traced && g->tracedView && g->traceId == tr->id()) g = tr->ownValue(Tensor(g)).implPtr();
  }
  leaf->grad = std::move(g);
}

Tensor Tensor::detach() const { return view(*this, shape(), strides()); }

std::string TapeNode::name() const {
  std::string n(ir::opDef(op).name), out;
  bool up = true;
  for (char c : n) {
    if (c == '_') { up = true; continue; }
    out += up ? char(std::toupper(c)) : c;
    up = false;
  }
  return out + "Backward0";
}

// --- apply --------------------------------------------------------------------------------

Tensor apply(OpId id, const std::vector<Tensor> &xs, const AttrMap &attrs) {
  const ir::OpDef &def = ir::opDef(id);
  for (size_t i = 0; i < xs.size(); ++i)
    if (!xs[i].defined()) throw ValueError(fmt(def.name, ": operand ", i, " is an undefined tensor"));
  const bool planned = plannable(def.kind) && !activeTrace();
  const size_t hash = planned ? planHash(def, xs, attrs) : 0;
  if (planned)
    if (const EagerPlan *p = findPlan(def, xs, attrs, hash)) { // the same op on the same types as before
      gKernelHits.fetch_add(1, std::memory_order_relaxed);
      Tensor out = runPlan(*p, def, xs);
      record(out, def, attrs, xs);
      return out;
    }
  std::vector<Type> types;
  types.reserve(xs.size());
  for (const Tensor &x : xs) types.push_back(x.type());
  Type t = ir::inferTypeForCall(def, types, attrs);
  Tensor out;
  if (Trace *tr = activeTrace(); tr && def.kind != OpKind::Kernel) {
    out = tr->node(def, xs, attrs, t);
    record(out, def, attrs, xs);
    return out;
  }
  switch (def.kind) {
  case OpKind::Layout: out = layoutView(def, xs[0], attrs, t); break;
  case OpKind::Kernel: throw ValueError("kernel nodes cannot run eagerly");
  case OpKind::Unary: case OpKind::Binary: case OpKind::Compare: case OpKind::Where: case OpKind::Cast:
  case OpKind::Const: case OpKind::MatMul: case OpKind::Reduce: case OpKind::ArgReduce: case OpKind::Indexing:
    out = runKernel(def, xs, types, attrs, t, hash);
    break;
  }
  record(out, def, attrs, xs);
  return out;
}

bool gradEnabled() { return tGradEnabled; }
void setGradEnabled(bool on) { tGradEnabled = on; }

AutogradStats eagerKernelStats() {
  AutogradStats s;
  s.eagerKernelCompiles = gKernelCompiles;
  s.eagerKernelHits = gKernelHits;
  return s;
}

} // namespace dt
