// The VJP rule of every op, keyed by OpId. Each rule states its calculus in a comment; the
// forms follow PyTorch's derivatives.yaml so gradients agree with PyTorch's, ties included.
#include "passes/Vjp.h"

#include "ir/Error.h"

#include <algorithm>

namespace dt::passes {

using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::Graph;
using ir::Node;
using ir::OpId;
using ir::Shape;
using ir::Value;

bool differentiable(DType t) { return ir::isFloat(t); }

Value *scalar(Graph &g, double value, DType t) {
  return ir::emit(g, OpId::Const, {},
                  {{"dtype", Attr(std::string(ir::dtypeName(t)))}, {"shape", Attr(Attr::List{})}, {"value", Attr(value)}});
}

Value *sumToShape(Graph &g, Value *v, const Shape &shape) {
  const Shape &from = v->type.shape;
  if (from == shape) return v;
  size_t lead = from.size() - shape.size();
  DT_ASSERT(from.size() >= shape.size(), "cannot sum ", ir::shapeStr(from), " to ", ir::shapeStr(shape));
  std::vector<int64_t> axes;
  for (size_t i = 0; i < from.size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && from[i] != 1)) axes.push_back(int64_t(i));
  Value *s = v;
  if (!axes.empty())
    s = ir::emit(g, OpId::Sum, {v}, {{"axes", Attr::ints(axes)}, {"keepdim", Attr(true)}});
  if (s->type.shape != shape) s = ir::emit(g, OpId::Reshape, {s}, {{"shape", Attr::ints(shape)}});
  return s;
}

namespace {

struct Emitter {
  Graph &g;
  Value *op(OpId id, std::vector<Value *> xs, AttrMap attrs = {}) { return ir::emit(g, id, std::move(xs), std::move(attrs)); }
  Value *add(Value *a, Value *b) { return op(OpId::Add, {a, b}); }
  Value *sub(Value *a, Value *b) { return op(OpId::Sub, {a, b}); }
  Value *mul(Value *a, Value *b) { return op(OpId::Mul, {a, b}); }
  Value *div(Value *a, Value *b) { return op(OpId::Div, {a, b}); }
  Value *neg(Value *a) { return op(OpId::Neg, {a}); }
  Value *c(double v, DType t) { return scalar(g, v, t); }
  Value *where(Value *c, Value *a, Value *b) { return op(OpId::Where, {c, a, b}); }
  Value *cast(Value *a, DType t) { return op(OpId::Cast, {a}, {{"dtype", Attr(std::string(ir::dtypeName(t)))}}); }
  Value *reshape(Value *a, const Shape &s) {
    return a->type.shape == s ? a : op(OpId::Reshape, {a}, {{"shape", Attr::ints(s)}});
  }
  Value *to(Value *v, const Value *like) { return sumToShape(g, v, like->type.shape); }
};

/// The shape of a reduction's result with keepdim=true.
Shape keptShape(const Shape &in, const std::vector<int64_t> &axes) {
  Shape s = in;
  for (int64_t a : axes) s[a] = 1;
  return s;
}

} // namespace

std::vector<Value *> vjp(Graph &g, const Node &n, Value *gy) {
  const ir::OpDef &def = ir::opDef(ir::findOp(n.op)->id);
  Emitter e{g};
  const std::vector<Value *> &x = n.operands;
  Value *y = n.result;
  DType t = y->type.dtype;
  auto none = [&] { return std::vector<Value *>(x.size(), nullptr); };
  DT_ASSERT(differentiable(t), "vjp of ", n.op, " with a ", ir::dtypeName(t), " result");

  switch (def.id) {
  // d(-a) = -da
  case OpId::Neg: return {e.neg(gy)};
  // d(e^a) = e^a da
  case OpId::Exp: return {e.mul(gy, y)};
  // d(log a) = da / a
  case OpId::Log: return {e.div(gy, x[0])};
  // d|a| = sign(a) da, sign(0) = 0
  case OpId::Abs: {
    Value *zero = e.c(0, t);
    Value *sign = e.sub(e.cast(e.op(OpId::Gt, {x[0], zero}), t), e.cast(e.op(OpId::Lt, {x[0], zero}), t));
    return {e.mul(gy, sign)};
  }
  // d sqrt(a) = da / (2 sqrt(a))
  case OpId::Sqrt: return {e.div(gy, e.mul(e.c(2, t), y))};
  // d sigmoid(a) = (1 - y) y da
  case OpId::Sigmoid: return {e.mul(e.mul(gy, e.sub(e.c(1, t), y)), y)};
  // d tanh(a) = (1 - y^2) da
  case OpId::Tanh: return {e.mul(gy, e.sub(e.c(1, t), e.mul(y, y)))};
  // d relu(a) = [y > 0] da  (0 at a = 0, as PyTorch's threshold_backward)
  case OpId::Relu:
    return {e.where(e.op(OpId::Gt, {y, e.c(0, t)}), gy, e.c(0, t))};
  // floor is piecewise constant: d floor(a) = 0 (PyTorch's floor backward is zeros_like)
  case OpId::Floor: return {nullptr};
  // d(a + b) = da + db, each summed back over its broadcast axes
  case OpId::Add:
    return {e.to(gy, x[0]), e.to(gy, x[1])};
  case OpId::Sub:
    return {e.to(gy, x[0]), e.to(e.neg(gy), x[1])};
  // d(ab) = b da + a db
  case OpId::Mul:
    return {e.to(e.mul(gy, x[1]), x[0]), e.to(e.mul(gy, x[0]), x[1])};
  // d(a/b) = da / b - a db / b^2
  case OpId::Div:
    return {e.to(e.div(gy, x[1]), x[0]), e.to(e.div(e.mul(e.neg(gy), x[0]), e.mul(x[1], x[1])), x[1])};
  // d(a^b) = b a^(b-1) da (0 where b = 0) + a^b log(a) db (0 where a = 0 and b >= 0)
  case OpId::Pow: {
    Value *zero = e.c(0, t);
    Value *da = e.mul(e.mul(gy, x[1]), e.op(OpId::Pow, {x[0], e.sub(x[1], e.c(1, t))}));
    da = e.where(e.op(OpId::Eq, {x[1], zero}), zero, da);
    Value *cond = e.where(e.op(OpId::Eq, {x[0], zero}), e.op(OpId::Ge, {x[1], zero}), e.c(0, DType::Bool));
    Value *db = e.where(cond, zero, e.mul(gy, e.mul(y, e.op(OpId::Log, {x[0]}))));
    return {e.to(da, x[0]), e.to(db, x[1])};
  }
  // max/min: the gradient goes to the larger (smaller) operand, split in half on ties
  case OpId::Maximum:
  case OpId::Minimum: {
    Value *zero = e.c(0, t);
    Value *split = e.where(e.op(OpId::Eq, {x[0], x[1]}), e.mul(gy, e.c(0.5, t)), gy);
    OpId losesA = def.id == OpId::Maximum ? OpId::Lt : OpId::Gt;
    OpId losesB = def.id == OpId::Maximum ? OpId::Gt : OpId::Lt;
    Value *ga = e.where(e.op(losesA, {x[0], x[1]}), zero, split);
    Value *gb = e.where(e.op(losesB, {x[0], x[1]}), zero, split);
    return {e.to(ga, x[0]), e.to(gb, x[1])};
  }
  // Comparisons are piecewise constant: no gradient.
  case OpId::Eq: case OpId::Ne: case OpId::Lt: case OpId::Le: case OpId::Gt: case OpId::Ge:
    return none();
  // d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
  case OpId::Where: {
    Value *zero = e.c(0, t);
    return {nullptr, e.to(e.where(x[0], gy, zero), x[1]), e.to(e.where(x[0], zero, gy), x[2])};
  }
  // A cast between float types passes the gradient back in the operand's dtype.
  case OpId::Cast:
    if (!differentiable(x[0]->type.dtype)) return none();
    return {e.cast(gy, x[0]->type.dtype)};
  case OpId::Const: return {};
  // d(AB) = dA B^T + A^T dB, batch dims summed back where broadcast
  case OpId::MatMul: {
    Value *ga = e.op(OpId::MatMul, {gy, e.op(OpId::Transpose, {x[1]})});
    Value *gb = e.op(OpId::MatMul, {e.op(OpId::Transpose, {x[0]}), gy});
    return {e.to(ga, x[0]), e.to(gb, x[1])};
  }
  // d sum(a) = broadcast(dy) back over the reduced axes
  case OpId::Sum:
  case OpId::Mean: {
    const Shape &in = x[0]->type.shape;
    std::vector<int64_t> axes = ir::reduceAxes(def, n.attrs, x[0]->type.rank());
    Value *gk = e.reshape(gy, keptShape(in, axes));
    if (def.id == OpId::Mean) {
      int64_t count = 1;
      for (int64_t a : axes) count *= in[a];
      gk = e.div(gk, e.c(double(count), t));
    }
    return {e.op(OpId::BroadcastTo, {gk}, {{"shape", Attr::ints(in)}})};
  }
  // d max(a) = dy split evenly among the elements equal to the max (as PyTorch's amax);
  // d min(a) likewise among the elements equal to the min (amin)
  case OpId::Max:
  case OpId::Min: {
    const Shape &in = x[0]->type.shape;
    std::vector<int64_t> axes = ir::reduceAxes(def, n.attrs, x[0]->type.rank());
    Shape kept = keptShape(in, axes);
    Value *mask = e.cast(e.op(OpId::Eq, {x[0], e.reshape(y, kept)}), t);
    Value *count = e.op(OpId::Sum, {mask}, {{"axes", Attr::ints(axes)}, {"keepdim", Attr(true)}});
    return {e.mul(mask, e.div(e.reshape(gy, kept), count))};
  }
  case OpId::Reshape: return {e.reshape(gy, x[0]->type.shape)};
  // transpose is its own inverse
  case OpId::Transpose: return {e.op(OpId::Transpose, {gy}, n.attrs)};
  case OpId::Permute: {
    std::vector<int64_t> perm = ir::layoutPerm(def, n.attrs, x[0]->type.rank()), inv(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = int64_t(i);
    return {e.op(OpId::Permute, {gy}, {{"dims", Attr::ints(inv)}})};
  }
  case OpId::BroadcastTo: return {e.to(gy, x[0])};
  // argmax's result is i64: never differentiated (the assertion above guards it)
  case OpId::ArgMax: return none();
  // slice's adjoint is pad: each dy element goes back where it was read, zeros elsewhere:
  //   d x = pad(dy) {low = start, interior = step - 1, high = dim - (start + (n - 1) step + 1)}
  // with n = ceil((end - start) / step) elements taken (high = dim - start when n = 0).
  case OpId::Slice: {
    const Shape &in = x[0]->type.shape, &out = y->type.shape;
    ir::SliceAttrs s = ir::sliceAttrs(def, n.attrs, x[0]->type);
    std::vector<int64_t> low(in.size()), high(in.size()), interior(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
      low[d] = s.starts[d];
      interior[d] = s.steps[d] - 1;
      high[d] = out[d] == 0 ? in[d] - s.starts[d] : in[d] - (s.starts[d] + (out[d] - 1) * s.steps[d] + 1);
    }
    return {e.op(OpId::Pad, {gy},
                 {{"low", Attr::ints(low)}, {"high", Attr::ints(high)}, {"interior", Attr::ints(interior)}})};
  }
  // pad's adjoint is slice: the operand's elements sit at low + i (interior + 1), so
  //   d x = dy[low : low + size + max(size - 1, 0) interior : interior + 1] on each axis.
  case OpId::Pad: {
    const Shape &in = x[0]->type.shape;
    ir::PadAttrs p = ir::padAttrs(def, n.attrs, x[0]->type);
    std::vector<int64_t> starts(in.size()), ends(in.size()), steps(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
      starts[d] = p.low[d];
      ends[d] = p.low[d] + in[d] + std::max<int64_t>(in[d] - 1, 0) * p.interior[d];
      steps[d] = p.interior[d] + 1;
    }
    return {e.op(OpId::Slice, {gy},
                 {{"starts", Attr::ints(starts)}, {"ends", Attr::ints(ends)}, {"steps", Attr::ints(steps)}})};
  }
  // d concat(a, b, ...) = (dy[.., 0:na, ..], dy[.., na:na+nb, ..], ...): slices along the axis
  case OpId::Concat: {
    int64_t axis = ir::opAxis(def, n.attrs, y->type.rank());
    const Shape &out = y->type.shape;
    std::vector<Value *> grads;
    int64_t at = 0;
    for (Value *xi : x) {
      std::vector<int64_t> starts(out.size(), 0), ends = out;
      starts[size_t(axis)] = at;
      at += xi->type.shape[size_t(axis)];
      ends[size_t(axis)] = at;
      grads.push_back(e.op(OpId::Slice, {gy}, {{"starts", Attr::ints(starts)}, {"ends", Attr::ints(ends)}}));
    }
    return grads;
  }
  // d gather(x, index) = scatter_add(zeros like x, index, dy): each read of x[.., j, ..] sends its
  // dy back to j, repeated reads adding up; the index gets none.
  case OpId::Gather: {
    Value *zeros = e.op(OpId::Const, {},
                        {{"dtype", Attr(std::string(ir::dtypeName(t)))},
                         {"shape", Attr::ints(x[0]->type.shape)},
                         {"value", Attr(0.0)}});
    return {e.op(OpId::ScatterAdd, {zeros, x[1], gy}, {{"axis", *ir::attrOrDefault(def, n.attrs, "axis")}}), nullptr};
  }
  // d scatter_add(base, index, src) = (dy, none, gather(dy, index)): base passes through, each src
  // element receives the cotangent of the position it was added to. src elements that index does
  // not reach (src larger than index) get 0: the gather is padded at the end to src's shape.
  case OpId::ScatterAdd: {
    Value *gs = e.op(OpId::Gather, {gy, x[1]}, {{"axis", *ir::attrOrDefault(def, n.attrs, "axis")}});
    const Shape &have = gs->type.shape, &want = x[2]->type.shape;
    if (have != want) {
      std::vector<int64_t> zero(want.size(), 0), high(want.size());
      for (size_t d = 0; d < want.size(); ++d) high[d] = want[d] - have[d];
      gs = e.op(OpId::Pad, {gs}, {{"low", Attr::ints(zero)}, {"high", Attr::ints(high)}});
    }
    return {gy, nullptr, gs};
  }
  case OpId::Kernel:
    throw ValueError(fmt("autodiff: no VJP for fused kernel @", n.callee, " (differentiate before fusion)"));
  }
  DT_ASSERT(false, "no VJP rule for ", n.op);
}

} // namespace dt::passes
