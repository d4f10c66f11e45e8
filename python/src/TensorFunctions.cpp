// The eager functions of dumbtorch._C, each bound twice: as dt.name(input, ...) and as the method
// t.name(...): elementwise, reductions, composites, shape functions, joining and gathering, dtype
// conversion and in-place updates. Arguments are converted (TypeError naming the expected and
// given type) before the GIL is released around the op.
#include "TensorArgs.h"

#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <pybind11/stl.h>

namespace py = pybind11;

using dt::Operand;
using dt::Scalar;
using dt::Tensor;
using dt::ir::DType;
using dt::ir::Shape;
using namespace dt::py_bind;

namespace {

using BinaryFn = Tensor (*)(const Operand &, const Operand &);

/// A binary function: (input, other) with numbers allowed on either side.
auto binaryFn(BinaryFn f, const char *name) {
  return [f, name](py::handle a, py::handle b) {
    Operand x = argOperand(a, name, "input"), y = argOperand(b, name, "other");
    return run([&] { return f(x, y); });
  };
}

template <typename F> auto unaryFn(F f, const char *name) {
  return [f, name](py::handle x) {
    const Tensor &t = argTensor(x, name, "input");
    return run([&] { return f(t); });
  };
}

/// Binds `f` as dt.name(input, ...) and as the method t.name(...).
template <typename F, typename... Extra>
void both(py::module_ &m, py::class_<Tensor> &cls, const char *name, F f, const char *doc, Extra... extra) {
  m.def(name, f, py::arg("input"), extra..., doc);
  cls.def(name, f, extra..., doc);
}

} // namespace

void dt::py_bind::bindTensorFunctions(py::module_ &m, py::class_<Tensor> &cls) {
  struct Binary {
    const char *name;
    BinaryFn fn;
    const char *doc;
  };
  for (const Binary &b : std::initializer_list<Binary>{
           {"add", &dt::add, "input + other, with PyTorch's type promotion."},
           {"sub", &dt::sub, "input - other."},
           {"subtract", &dt::sub, "input - other."},
           {"mul", &dt::mul, "input * other."},
           {"multiply", &dt::mul, "input * other."},
           {"div", &dt::div, "True division (integers give float32)."},
           {"divide", &dt::div, "True division (integers give float32)."},
           {"true_divide", &dt::div, "True division (integers give float32)."},
           {"floor_divide", &dt::floorDivide, "floor(input / other)."},
           {"remainder", &dt::remainder, "Python's %: the sign of other."},
           {"pow", &dt::pow, "input ** exponent."},
           {"maximum", &dt::maximum, "Elementwise max (NaN-propagating)."},
           {"minimum", &dt::minimum, "Elementwise min (NaN-propagating)."},
           {"eq", &dt::eq, "input == other (bool)."},
           {"ne", &dt::ne, "input != other (bool)."},
           {"lt", &dt::lt, "input < other (bool)."},
           {"le", &dt::le, "input <= other (bool)."},
           {"gt", &dt::gt, "input > other (bool)."},
           {"ge", &dt::ge, "input >= other (bool)."},
           {"logical_and", &dt::logicalAnd, "and of bool tensors."},
           {"logical_or", &dt::logicalOr, "or of bool tensors."},
           {"logical_xor", &dt::logicalXor, "xor of bool tensors."},
       }) {
    m.def(b.name, binaryFn(b.fn, b.name), py::arg("input"), py::arg("other"), b.doc);
    cls.def(b.name, binaryFn(b.fn, b.name), py::arg("other"), b.doc);
  }
  m.attr("greater") = m.attr("gt");
  m.attr("less") = m.attr("lt");

  struct Unary {
    const char *name;
    Tensor (*fn)(const Tensor &);
    const char *doc;
  };
  for (const Unary &u : std::initializer_list<Unary>{
           {"neg", &dt::neg, "-input."},
           {"negative", &dt::neg, "-input."},
           {"abs", &dt::abs, "|input|."},
           {"exp", &dt::exp, "e^input (integers compute in float32)."},
           {"log", &dt::log, "Natural logarithm."},
           {"sqrt", &dt::sqrt, "Square root."},
           {"sigmoid", &dt::sigmoid, "1 / (1 + e^-input)."},
           {"tanh", &dt::tanh, "Hyperbolic tangent."},
           {"relu", &dt::relu, "max(input, 0)."},
           {"floor", &dt::floor, "Rounds down."},
           {"logical_not", &dt::logicalNot, "not of a bool tensor."},
           {"clone", &dt::clone, "A copy sharing no storage (recorded: gradients pass through)."},
           {"t", &dt::t, "Transpose of a tensor with <= 2 dims."},
       }) {
    both(m, cls, u.name, unaryFn(u.fn, u.name), u.doc);
  }
  cls.def_property_readonly("T", unaryFn(&dt::reverseDims, "T"), "All dims reversed.");
  cls.def_property_readonly(
      "mT", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return run([&] { return dt::transpose(t, -2, -1); });
      }, "The last two dims swapped.");
  cls.def("contiguous", [](py::handle t_h) {
    const Tensor &t = selfTensor(t_h);
    return run([&] { return t.contiguous(); });
  });

  both(
      m, cls, "clamp",
      [](py::handle x, py::handle lo, py::handle hi) {
        const Tensor &t = argTensor(x, "clamp", "input");
        std::optional<Operand> l, h;
        if (!lo.is_none()) l = argOperand(lo, "clamp", "min");
        if (!hi.is_none()) h = argOperand(hi, "clamp", "max");
        return run([&] { return dt::clamp(t, l, h); });
      },
      "Clamps into [min, max] (gradient 1 inside, 0 outside).", py::arg("min") = py::none(), py::arg("max") = py::none());
  m.attr("clip") = m.attr("clamp");
  cls.attr("clip") = cls.attr("clamp");

  m.def(
      "where",
      [](py::handle c, py::handle a, py::handle b) {
        const Tensor &cond = argTensor(c, "where", "condition");
        Operand x = argOperand(a, "where", "input"), y = argOperand(b, "where", "other");
        return run([&] { return dt::where(cond, x, y); });
      },
      py::arg("condition"), py::arg("input"), py::arg("other"), "condition ? input : other, with type promotion.");
  cls.def(
      "where",
      [](py::handle self, py::handle c, py::handle b) {
        const Tensor &cond = argTensor(c, "where", "condition");
        Operand x = argOperand(self, "where", "input"), y = argOperand(b, "where", "other");
        return run([&] { return dt::where(cond, x, y); });
      },
      py::arg("condition"), py::arg("other"));

  auto matmulFn = [](py::handle a, py::handle b) {
    const Tensor &x = argTensor(a, "matmul", "input"), &y = argTensor(b, "matmul", "other");
    return run([&] { return dt::matmul(x, y); });
  };
  m.def("matmul", matmulFn, py::arg("input"), py::arg("other"), "torch.matmul (1-D operands as PyTorch).");
  cls.def("matmul", matmulFn, py::arg("other"));
  auto mmFn = [](py::handle a, py::handle b) { // torch.mm: both operands 2-D, no broadcasting
    const Tensor &x = argTensor(a, "mm", "input"), &y = argTensor(b, "mm", "mat2");
    if (x.dim() != 2 || y.dim() != 2)
      throw dt::ValueError(dt::fmt("mm(): ", x.dim() != 2 ? "self" : "mat2", " must be a matrix (2-D), got a ",
                                   x.dim() != 2 ? x.dim() : y.dim(), "-D tensor"));
    return run([&] { return dt::matmul(x, y); });
  };
  m.def("mm", mmFn, py::arg("input"), py::arg("mat2"));
  cls.def("mm", mmFn, py::arg("mat2"));

  // Reductions.
  both(
      m, cls, "sum",
      [](py::handle x, py::handle dim, bool keepdim, py::handle dtype) {
        const Tensor &t = argTensor(x, "sum", "input");
        auto dims = argDims(dim, "sum");
        auto d = argDType(dtype, "sum");
        return run([&] { return dt::sum(d ? dt::to(t, *d) : t, dims, keepdim); });
      },
      "Sum over dims (all when None); integers sum to int64.", py::arg("dim") = py::none(), py::arg("keepdim") = false,
      py::kw_only(), py::arg("dtype") = py::none());
  both(
      m, cls, "mean",
      [](py::handle x, py::handle dim, bool keepdim, py::handle dtype) {
        const Tensor &t = argTensor(x, "mean", "input");
        auto dims = argDims(dim, "mean");
        auto d = argDType(dtype, "mean");
        return run([&] { return dt::mean(d ? dt::to(t, *d) : t, dims, keepdim); });
      },
      "Mean over dims (floating point only).", py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
      py::arg("dtype") = py::none());
  for (bool isMax : {true, false}) {
    const char *name = isMax ? "max" : "min";
    both(
        m, cls, name,
        [isMax, name](py::handle x, py::handle dim, bool keepdim) -> py::object {
          const Tensor &t = argTensor(x, name, "input");
          if (dim.is_none()) return py::cast(run([&] { return isMax ? dt::max(t) : dt::min(t); }));
          if (isTensor(dim)) { // max(input, other): elementwise
            Operand o = argOperand(dim, name, "other");
            return py::cast(run([&] { return isMax ? dt::maximum(t, o) : dt::minimum(t, o); }));
          }
          int64_t d = argInt(dim, name, "dim");
          auto r = run([&] { return isMax ? dt::max(t, d, keepdim) : dt::min(t, d, keepdim); });
          return valuesIndices(isMax, std::move(r));
        },
        isMax ? "max() of all elements; max(dim, keepdim) -> (values, indices); max(other) elementwise."
              : "min() of all elements; min(dim, keepdim) -> (values, indices); min(other) elementwise.",
        py::arg("dim") = py::none(), py::arg("keepdim") = false);
  }
  for (bool isMax : {true, false}) {
    const char *name = isMax ? "amax" : "amin";
    both(
        m, cls, name,
        [isMax, name](py::handle x, py::handle dim, bool keepdim) {
          const Tensor &t = argTensor(x, name, "input");
          std::vector<int64_t> dims = argDims(dim, name).value_or(std::vector<int64_t>{});
          return run([&] { return isMax ? dt::amax(t, dims, keepdim) : dt::amin(t, dims, keepdim); });
        },
        "Max/min over dims (all when empty); the gradient is split among ties.", py::arg("dim") = py::tuple(),
        py::arg("keepdim") = false);
  }
  for (bool isMax : {true, false}) {
    const char *name = isMax ? "argmax" : "argmin";
    both(
        m, cls, name,
        [isMax, name](py::handle x, py::handle dim, bool keepdim) {
          const Tensor &t = argTensor(x, name, "input");
          std::optional<int64_t> d;
          if (!dim.is_none()) d = argInt(dim, name, "dim");
          return run([&] { return isMax ? dt::argmax(t, d, keepdim) : dt::argmin(t, d, keepdim); });
        },
        "Index of the first max/min (of the flattened tensor when dim is None).", py::arg("dim") = py::none(),
        py::arg("keepdim") = false);
  }
  for (bool isLog : {false, true}) {
    const char *name = isLog ? "log_softmax" : "softmax";
    both(
        m, cls, name,
        [isLog, name](py::handle x, py::handle dim, py::handle dtype) {
          const Tensor &t = argTensor(x, name, "input");
          if (dim.is_none()) throw dt::TypeError(dt::fmt(name, "(): argument 'dim' is required"));
          int64_t d = argInt(dim, name, "dim");
          auto dt_ = argDType(dtype, name);
          return run([&] {
            Tensor in = dt_ ? dt::to(t, *dt_) : t;
            return isLog ? dt::logSoftmax(in, d) : dt::softmax(in, d);
          });
        },
        "Numerically stable (log-)softmax along dim.", py::arg("dim") = py::none(), py::arg("dtype") = py::none());
  }
  both(
      m, cls, "logsumexp",
      [](py::handle x, py::handle dim, bool keepdim) {
        const Tensor &t = argTensor(x, "logsumexp", "input");
        std::vector<int64_t> dims = argDims(dim, "logsumexp").value_or(std::vector<int64_t>{});
        return run([&] { return dt::logsumexp(t, dims, keepdim); });
      },
      "log(sum(exp(input))) over dims, stable for large inputs.", py::arg("dim"), py::arg("keepdim") = false);
  for (bool isStd : {false, true}) {
    const char *name = isStd ? "std" : "var";
    both(
        m, cls, name,
        [isStd, name](py::handle x, py::handle dim, py::handle unbiased, bool keepdim, py::handle correction) {
          const Tensor &t = argTensor(x, name, "input");
          if (PyBool_Check(dim.ptr())) { // var(unbiased) legacy form
            unbiased = dim;
            dim = py::none();
          }
          auto dims = argDims(dim, name);
          double corr = 1;
          if (!correction.is_none()) corr = argScalar(correction, name, "correction").v;
          else if (!unbiased.is_none()) corr = PyObject_IsTrue(unbiased.ptr()) == 1 ? 1 : 0;
          return run([&] { return isStd ? dt::stdDev(t, dims, corr, keepdim) : dt::var(t, dims, corr, keepdim); });
        },
        "Variance / standard deviation over dims with divisor N - correction (default 1).",
        py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("correction") = py::none());
  }

  // Shape functions.
  cls.def("reshape", [](py::handle t_h, py::args s) {
    const Tensor &t = selfTensor(t_h);
    Shape shape = argShape(s, "reshape");
    return run([&] { return dt::reshape(t, shape); });
  });
  m.def(
      "reshape",
      [](py::handle x, py::handle shape) {
        const Tensor &t = argTensor(x, "reshape", "input");
        Shape s = argInts(shape, "reshape", "shape");
        return run([&] { return dt::reshape(t, s); });
      },
      py::arg("input"), py::arg("shape"));
  cls.def("view", [](py::handle t_h, py::args s) {
    const Tensor &t = selfTensor(t_h);
    Shape shape = argShape(s, "view");
    return run([&] { return dt::view(t, shape); });
  });
  cls.def("view_as", [](py::handle t_h, py::handle o) {
    const Tensor &t = selfTensor(t_h);
    const Tensor &other = argTensor(o, "view_as", "other");
    return run([&] { return dt::view(t, other.shape()); });
  });
  cls.def("reshape_as", [](py::handle t_h, py::handle o) {
    const Tensor &t = selfTensor(t_h);
    const Tensor &other = argTensor(o, "reshape_as", "other");
    return run([&] { return dt::reshape(t, other.shape()); });
  });
  both(
      m, cls, "flatten",
      [](py::handle x, int64_t s, int64_t e) {
        const Tensor &t = argTensor(x, "flatten", "input");
        return run([&] { return dt::flatten(t, s, e); });
      },
      "Merges dims start_dim..end_dim.", py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  both(
      m, cls, "squeeze",
      [](py::handle x, py::handle dim) {
        const Tensor &t = argTensor(x, "squeeze", "input");
        std::optional<int64_t> d;
        if (!dim.is_none()) d = argInt(dim, "squeeze", "dim");
        return run([&] { return dt::squeeze(t, d); });
      },
      "Removes size-1 dims (all, or only dim).", py::arg("dim") = py::none());
  both(
      m, cls, "unsqueeze",
      [](py::handle x, int64_t dim) {
        const Tensor &t = argTensor(x, "unsqueeze", "input");
        return run([&] { return dt::unsqueeze(t, dim); });
      },
      "Inserts a size-1 dim.", py::arg("dim"));
  both(
      m, cls, "transpose",
      [](py::handle x, int64_t d0, int64_t d1) {
        const Tensor &t = argTensor(x, "transpose", "input");
        return run([&] { return dt::transpose(t, d0, d1); });
      },
      "Swaps dims dim0 and dim1 (a view).", py::arg("dim0"), py::arg("dim1"));
  m.attr("swapaxes") = m.attr("transpose");
  cls.def("permute", [](py::handle t_h, py::args dims) {
    const Tensor &t = selfTensor(t_h);
    Shape d = argShape(dims, "permute");
    return run([&] { return dt::permute(t, d); });
  });
  m.def(
      "permute",
      [](py::handle x, py::handle dims) {
        const Tensor &t = argTensor(x, "permute", "input");
        std::vector<int64_t> d = argInts(dims, "permute", "dims");
        return run([&] { return dt::permute(t, d); });
      },
      py::arg("input"), py::arg("dims"));
  cls.def("expand", [](py::handle t_h, py::args sizes) {
    const Tensor &t = selfTensor(t_h);
    Shape s = argShape(sizes, "expand");
    return run([&] { return dt::expand(t, s); });
  });
  cls.def("expand_as", [](py::handle t_h, py::handle o) {
    const Tensor &t = selfTensor(t_h);
    const Tensor &other = argTensor(o, "expand_as", "other");
    return run([&] { return dt::expand(t, other.shape()); });
  });
  both(
      m, cls, "broadcast_to",
      [](py::handle x, py::handle shape) {
        const Tensor &t = argTensor(x, "broadcast_to", "input");
        Shape s = argInts(shape, "broadcast_to", "size");
        return run([&] { return dt::broadcastTo(t, s); });
      },
      "NumPy broadcasting to shape (a view).", py::arg("size"));
  for (const char *name : {"cat", "concat", "concatenate"}) {
    m.def(
        name,
        [name](py::handle xs, int64_t dim) {
          std::vector<Tensor> ts = tensorList(xs, name, "tensors");
          return run([&] { return dt::cat(ts, dim); });
        },
        py::arg("tensors"), py::arg("dim") = 0, "Concatenates along dim (dtypes promoted).");
  }
  m.def(
      "stack",
      [](py::handle xs, int64_t dim) {
        std::vector<Tensor> ts = tensorList(xs, "stack", "tensors");
        return run([&] { return dt::stack(ts, dim); });
      },
      py::arg("tensors"), py::arg("dim") = 0, "Stacks equal-shaped tensors along a new dim.");
  both(
      m, cls, "gather",
      [](py::handle x, int64_t dim, py::handle index) {
        const Tensor &t = argTensor(x, "gather", "input");
        const Tensor &i = argTensor(index, "gather", "index");
        return run([&] { return dt::gather(t, dim, i); });
      },
      "out[i][j] = input[index[i][j]][j] (dim 0); indices are range-checked.", py::arg("dim"), py::arg("index"));
  both(
      m, cls, "scatter_add",
      [](py::handle x, int64_t dim, py::handle index, py::handle src) {
        const Tensor &t = argTensor(x, "scatter_add", "input");
        const Tensor &i = argTensor(index, "scatter_add", "index");
        const Tensor &s = argTensor(src, "scatter_add", "src");
        return run([&] { return dt::scatterAdd(t, dim, i, s); });
      },
      "input with src[i][j] added at [index[i][j]][j] (dim 0); indices are range-checked.", py::arg("dim"),
      py::arg("index"), py::arg("src"));
  cls.def(
      "scatter_add_",
      [](py::object self, int64_t dim, py::handle index, py::handle src) {
        Tensor &t = selfTensor(self);
        const Tensor &i = argTensor(index, "scatter_add_", "index");
        const Tensor &s = argTensor(src, "scatter_add_", "src");
        run([&] {
          Tensor r = dt::scatterAdd(t, dim, i, s);
          dt::copy_(t, r);
        });
        return self;
      },
      py::arg("dim"), py::arg("index"), py::arg("src"));
  m.def(
      "_pad",
      [](py::handle x, py::handle pads, py::handle value) {
        const Tensor &t = argTensor(x, "pad", "input");
        std::vector<int64_t> p = argInts(pads, "pad", "pad");
        Scalar v = value.is_none() ? Scalar(0.0) : argScalar(value, "pad", "value");
        return run([&] { return dt::pad(t, p, v); });
      },
      py::arg("input"), py::arg("pad"), py::arg("value") = py::none());
  m.def(
      "one_hot",
      [](py::handle x, int64_t n) {
        const Tensor &t = argTensor(x, "one_hot", "tensor");
        return run([&] { return dt::oneHot(t, n); });
      },
      py::arg("tensor"), py::arg("num_classes") = -1, "One-hot int64 encoding of int64 class indices.");

  // dtype conversion.
  cls.def(
      "to",
      [](py::object self, py::args args, py::kwargs kwargs) -> py::object {
        const Tensor &t = selfTensor(self);
        std::optional<DType> d;
        for (py::handle a : args) {
          if (isTensor(a)) d = argTensor(a, "to", "other").dtype();
          else if (auto x = maybeDType(a)) d = x;
          else if (py::isinstance<py::str>(a) && a.cast<std::string>() == "cpu") continue;
          else throw dt::TypeError(dt::fmt("to(): expected a dtype, a tensor or 'cpu', got ", std::string(py::repr(a))));
        }
        if (kwargs.contains("dtype")) d = argDType(kwargs["dtype"], "to");
        if (!d || *d == t.dtype()) return self;
        return py::cast(run([&] { return dt::to(t, *d); }));
      },
      "A tensor of another dtype (self when it already has it).");
  cls.def("type_as", [](py::object self, py::handle o) -> py::object {
    const Tensor &t = selfTensor(self);
    DType d = argTensor(o, "type_as", "other").dtype();
    if (d == t.dtype()) return self;
    return py::cast(run([&] { return dt::to(t, d); }));
  });
  for (auto [name, d] : std::initializer_list<std::pair<const char *, DType>>{
           {"float", DType::F32}, {"double", DType::F64}, {"long", DType::I64}, {"bool", DType::Bool}}) {
    DType target = d;
    cls.def(name, [target](py::object self) -> py::object {
      const Tensor &t = selfTensor(self);
      if (t.dtype() == target) return self;
      return py::cast(run([&] { return dt::to(t, target); }));
    });
  }

  // In-place methods: return self.
  struct Inplace {
    const char *name;
    Tensor &(*fn)(Tensor &, const Operand &);
  };
  for (const Inplace &ip : std::initializer_list<Inplace>{
           {"add_", &dt::add_}, {"sub_", &dt::sub_}, {"mul_", &dt::mul_}, {"div_", &dt::div_}, {"copy_", &dt::copy_}}) {
    auto f = ip.fn;
    const char *name = ip.name;
    cls.def(
        name,
        [f, name](py::object self, py::handle other) {
          Operand o = argOperand(other, name, "other");
          Tensor &t = selfTensor(self);
          run([&] { f(t, o); });
          return self;
        },
        py::arg("other"));
  }
  cls.def(
      "fill_",
      [](py::object self, py::handle value) {
        Tensor &t = selfTensor(self);
        if (isTensor(value)) {
          const Tensor &v = argTensor(value, "fill_", "value");
          if (v.dim() != 0)
            throw dt::ValueError(dt::fmt("fill_ only supports 0-dimension value tensor but got tensor with ", v.dim(),
                                         " dimensions."));
          run([&] { dt::copy_(t, v); });
        } else {
          Scalar v = argScalar(value, "fill_", "value");
          run([&] { dt::fill_(t, v); });
        }
        return self;
      },
      py::arg("value"));
  cls.def("zero_", [](py::object self) {
    Tensor &t = selfTensor(self);
    run([&] { dt::zero_(t); });
    return self;
  });

}
