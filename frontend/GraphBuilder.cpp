// GraphBuilder and the op functions on Var: type inference with errors that name the op and its
// operand types; CompiledGraph and interpret, which check inputs and run a graph on Arrays.
#include "frontend/GraphBuilder.h"

#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/Interpreter.h"
#include "ir/Verifier.h"
#include "runtime/KernelError.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dt {

using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::OpId;
using ir::Shape;
using ir::Type;

namespace {

/// A constant's `value` attribute entry: ints for i64/bool when exact, so the IR reads naturally.
Attr constNumber(DType dt, double x) {
  switch (dt) {
  case DType::F32:
  case DType::F64: return Attr(x);
  case DType::Bool: return Attr(x != 0); // NaN -> true, as cast does
  case DType::I64:
    if (std::isfinite(x) && x == std::trunc(x) && std::fabs(x) < 9.2e18) return Attr(int64_t(x));
    return Attr(x);
  }
  DT_ASSERT(false, "unhandled dtype");
}

GraphBuilder &builderOf(const Var &v, std::string_view opName) {
  if (!v.builder || !v.value)
    throw ValueError(fmt(opName, ": operand is an empty Var (make values with GraphBuilder::input/op/constant)"));
  return *v.builder;
}

Var unary(OpId id, Var x, AttrMap attrs = {}) {
  return builderOf(x, ir::opDef(id).name).op(id, {x}, std::move(attrs));
}

Var binary(OpId id, Var a, Var b) { return builderOf(a, ir::opDef(id).name).op(id, {a, b}); }

/// A scalar constant of x's dtype, for `x + 2.0` and friends.
Var scalarLike(Var x, double value, OpId forOp) {
  return builderOf(x, ir::opDef(forOp).name).constant({value}, {}, x.dtype());
}

Var reduce(OpId id, Var x, const std::vector<int64_t> &axes, bool keepdim) {
  AttrMap attrs;
  if (!axes.empty()) {
    attrs["axes"] = Attr::ints(axes);
    attrs["keepdim"] = Attr(keepdim);
  } else if (keepdim) {
    attrs["keepdim"] = Attr(true);
  }
  return unary(id, x, std::move(attrs));
}

std::string inputList(const ir::Graph &g) {
  std::string s;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    s += fmt(i ? ", " : "", "%", g.inputs[i]->name, ": ", g.inputs[i]->type.str());
  return s;
}

/// The checks CompiledGraph and interpret share: count, dtype, shape and storage of each input.
void checkInputs(const ir::Graph &g, const std::vector<Array> &inputs, std::string_view who) {
  if (inputs.size() != g.inputs.size())
    throw ValueError(fmt(who, ": expects ", g.inputs.size(), " input", g.inputs.size() == 1 ? "" : "s", " (",
                         inputList(g), "), got ", inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Type &want = g.inputs[i]->type;
    const Array &a = inputs[i];
    auto where = fmt(who, ": input ", i, " (%", g.inputs[i]->name, ")");
    if (a.type.dtype != want.dtype)
      throw TypeError(fmt(where, " expects ", want.str(), ", got ", a.type.str()));
    if (a.type.shape != want.shape)
      throw ValueError(fmt(where, " expects ", want.str(), ", got ", a.type.str()));
    if (!a.buffer) throw ValueError(fmt(where, " has no buffer"));
    if (a.buffer->size() != want.bytes())
      throw ValueError(fmt(where, ": ", want.str(), " needs ", want.bytes(), " bytes, its buffer holds ",
                           a.buffer->size()));
  }
}

} // namespace

// --- GraphBuilder ------------------------------------------------------------------------------

GraphBuilder::GraphBuilder(std::string name) : g_(std::make_unique<ir::Graph>()) { g_->name = std::move(name); }

Var GraphBuilder::input(DType dtype, Shape shape, std::string name) {
  for (int64_t d : shape)
    if (d < 0) throw ValueError(fmt("input: shape ", ir::shapeStr(shape), " has a negative size"));
  if (!name.empty())
    for (auto &v : g_->values)
      if (v->name == name) throw ValueError(fmt("input: the name %", name, " is already used in @", g_->name));
  ir::Value *v = g_->addInput({dtype, std::move(shape)}, std::move(name));
  return {v, this};
}

Var GraphBuilder::op(OpId id, std::vector<Var> operands, AttrMap attrs) {
  const ir::OpDef &def = ir::opDef(id);
  std::vector<Type> types;
  std::vector<ir::Value *> values;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Var &v = operands[i];
    if (!v.builder || !v.value)
      throw ValueError(fmt(def.name, ": operand ", i, " is an empty Var (make values with GraphBuilder::input/op/constant)"));
    // The other builder may be gone already, so it is not dereferenced.
    if (v.builder != this)
      throw ValueError(fmt(def.name, ": operand ", i, " belongs to a different GraphBuilder than @", g_->name,
                           " (values of different builders cannot be mixed)"));
    types.push_back(v.value->type);
    values.push_back(v.value);
  }
  Type result = ir::inferTypeForCall(def, types, attrs);
  ir::Node *n = g_->addNode(std::string(def.name), std::move(values), std::move(attrs), std::move(result));
  return {n->result, this};
}

Var GraphBuilder::constant(std::vector<double> values, Shape shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) throw ValueError(fmt("const: shape ", ir::shapeStr(shape), " has a negative size"));
  int64_t n = ir::numElements(shape);
  if (values.size() != 1 && int64_t(values.size()) != n)
    throw ValueError(fmt("const: shape ", ir::shapeStr(shape), " holds ", n, " elements, got ", values.size(),
                         " values (give 1 value to fill it, or ", n, ")"));
  Attr value;
  if (values.size() == 1) {
    value = constNumber(dtype, values[0]); // one number fills the shape
  } else {
    Attr::List l;
    for (double x : values) l.push_back(constNumber(dtype, x));
    value = Attr(std::move(l));
  }
  AttrMap attrs{{"dtype", Attr(std::string(ir::dtypeName(dtype)))}, {"shape", Attr::ints(shape)}, {"value", value}};
  return op(OpId::Const, {}, std::move(attrs));
}

void GraphBuilder::output(Var v) {
  if (!v.builder || !v.value) throw ValueError("output: empty Var (make values with GraphBuilder::input/op/constant)");
  if (v.builder != this)
    throw ValueError(fmt("output: the value belongs to a different GraphBuilder than @", g_->name));
  g_->outputs.push_back(v.value);
}

std::unique_ptr<ir::Graph> GraphBuilder::build() const {
  std::unique_ptr<ir::Graph> g = g_->clone();
  ir::verify(*g);
  return g;
}

// --- op functions ------------------------------------------------------------------------------

Var operator+(Var a, Var b) { return binary(OpId::Add, a, b); }
Var operator-(Var a, Var b) { return binary(OpId::Sub, a, b); }
Var operator*(Var a, Var b) { return binary(OpId::Mul, a, b); }
Var operator/(Var a, Var b) { return binary(OpId::Div, a, b); }
Var operator-(Var a) { return unary(OpId::Neg, a); }
Var operator+(Var a, double b) { return a + scalarLike(a, b, OpId::Add); }
Var operator-(Var a, double b) { return a - scalarLike(a, b, OpId::Sub); }
Var operator*(Var a, double b) { return a * scalarLike(a, b, OpId::Mul); }
Var operator/(Var a, double b) { return a / scalarLike(a, b, OpId::Div); }
Var operator+(double a, Var b) { return scalarLike(b, a, OpId::Add) + b; }
Var operator-(double a, Var b) { return scalarLike(b, a, OpId::Sub) - b; }
Var operator*(double a, Var b) { return scalarLike(b, a, OpId::Mul) * b; }
Var operator/(double a, Var b) { return scalarLike(b, a, OpId::Div) / b; }
Var pow(Var a, Var b) { return binary(OpId::Pow, a, b); }
Var maximum(Var a, Var b) { return binary(OpId::Maximum, a, b); }
Var minimum(Var a, Var b) { return binary(OpId::Minimum, a, b); }
Var exp(Var x) { return unary(OpId::Exp, x); }
Var log(Var x) { return unary(OpId::Log, x); }
Var abs(Var x) { return unary(OpId::Abs, x); }
Var sqrt(Var x) { return unary(OpId::Sqrt, x); }
Var sigmoid(Var x) { return unary(OpId::Sigmoid, x); }
Var tanh(Var x) { return unary(OpId::Tanh, x); }
Var relu(Var x) { return unary(OpId::Relu, x); }
Var eq(Var a, Var b) { return binary(OpId::Eq, a, b); }
Var ne(Var a, Var b) { return binary(OpId::Ne, a, b); }
Var lt(Var a, Var b) { return binary(OpId::Lt, a, b); }
Var le(Var a, Var b) { return binary(OpId::Le, a, b); }
Var gt(Var a, Var b) { return binary(OpId::Gt, a, b); }
Var ge(Var a, Var b) { return binary(OpId::Ge, a, b); }
Var where(Var cond, Var a, Var b) { return builderOf(cond, "where").op(OpId::Where, {cond, a, b}); }
Var cast(Var x, DType dtype) { return unary(OpId::Cast, x, {{"dtype", Attr(std::string(ir::dtypeName(dtype)))}}); }
Var matmul(Var a, Var b) { return binary(OpId::MatMul, a, b); }
Var sum(Var x, std::vector<int64_t> axes, bool keepdim) { return reduce(OpId::Sum, x, axes, keepdim); }
Var mean(Var x, std::vector<int64_t> axes, bool keepdim) { return reduce(OpId::Mean, x, axes, keepdim); }
Var max(Var x, std::vector<int64_t> axes, bool keepdim) { return reduce(OpId::Max, x, axes, keepdim); }
Var reshape(Var x, Shape shape) { return unary(OpId::Reshape, x, {{"shape", Attr::ints(shape)}}); }
Var transpose(Var x, int64_t dim0, int64_t dim1) {
  return unary(OpId::Transpose, x, {{"dim0", Attr(dim0)}, {"dim1", Attr(dim1)}});
}
Var permute(Var x, std::vector<int64_t> dims) { return unary(OpId::Permute, x, {{"dims", Attr::ints(dims)}}); }
Var broadcastTo(Var x, Shape shape) { return unary(OpId::BroadcastTo, x, {{"shape", Attr::ints(shape)}}); }

// --- running graphs ----------------------------------------------------------------------------

namespace {
std::unique_ptr<ir::Graph> verifiedClone(const ir::Graph &g) {
  std::unique_ptr<ir::Graph> c = g.clone();
  ir::verify(*c);
  return c;
}
} // namespace

CompiledGraph::CompiledGraph(const ir::Graph &g) : graph_(verifiedClone(g)), program_(codegen::compile(*graph_)) {}

std::vector<Array> CompiledGraph::operator()(const std::vector<Array> &inputs) const {
  checkInputs(*graph_, inputs, fmt("compiled graph @", graph_->name));
  std::vector<std::shared_ptr<rt::Buffer>> buffers;
  buffers.reserve(inputs.size());
  for (const Array &a : inputs) buffers.push_back(a.buffer);
  std::vector<std::shared_ptr<rt::Buffer>> outs;
  try {
    outs = program_.run(buffers);
  } catch (const rt::IndexOutOfBounds &e) { // a bad gather/scatter_add index, as the interpreter reports it
    throw IndexError(e.what());
  }
  DT_ASSERT(outs.size() == graph_->outputs.size(), "program of @", graph_->name, " returned ", outs.size(),
            " buffers for ", graph_->outputs.size(), " outputs");
  std::vector<Array> result;
  for (size_t i = 0; i < outs.size(); ++i) {
    const Type &t = graph_->outputs[i]->type;
    DT_ASSERT(outs[i] && outs[i]->size() == t.bytes(), "output ", i, " of @", graph_->name, " has the wrong size");
    result.push_back(Array{t, std::move(outs[i])});
  }
  return result;
}

CompiledGraph compile(const ir::Graph &g) { return CompiledGraph(g); }

std::vector<Array> interpret(const ir::Graph &g, const std::vector<Array> &inputs) {
  ir::verify(g);
  checkInputs(g, inputs, fmt("interpret @", g.name));
  std::vector<ir::ArrayRef> refs;
  for (const Array &a : inputs) refs.push_back({a.type, a.buffer->data()});
  std::vector<ir::HostArray> outs = ir::interpret(g, refs);
  std::vector<Array> result;
  for (ir::HostArray &h : outs) {
    Array a = Array::zeros(h.type);
    DT_ASSERT(h.bytes.size() == a.buffer->size(), "interpreter returned ", h.bytes.size(), " bytes for ", h.type.str());
    if (!h.bytes.empty()) std::memcpy(a.buffer->data(), h.bytes.data(), h.bytes.size());
    result.push_back(std::move(a));
  }
  return result;
}

} // namespace dt
