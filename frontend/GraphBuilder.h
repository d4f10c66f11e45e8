// The C++ graph-building API: functions named like the ops (dt::matmul(x, w), x + y, ...)
// that append nodes to a GraphBuilder, infer and check types as they go, and build an
// ir::Graph. dt::compile turns the graph into a callable.
#pragma once

#include "frontend/Array.h"
#include "ir/Graph.h"
#include "ir/Ops.h"
#include "runtime/Program.h"

#include <memory>
#include <string>
#include <vector>

namespace dt {

class GraphBuilder;

/// A value under construction: a handle to an ir::Value plus its builder.
struct Var {
  ir::Value *value = nullptr;
  GraphBuilder *builder = nullptr;

  const ir::Type &type() const { return value->type; }
  const ir::Shape &shape() const { return value->type.shape; }
  ir::DType dtype() const { return value->type.dtype; }
};

class GraphBuilder {
public:
  explicit GraphBuilder(std::string name = "main");

  Var input(ir::DType dtype, ir::Shape shape, std::string name = "");
  /// A node of any registered op; the type is inferred. A type error throws dt::ValueError /
  /// dt::TypeError naming the op and the operand types.
  Var op(ir::OpId id, std::vector<Var> operands, ir::AttrMap attrs = {});
  /// A literal of `shape` filled with `value`, or holding numel values.
  Var constant(std::vector<double> values, ir::Shape shape = {}, ir::DType dtype = ir::DType::F32);
  void output(Var v);
  /// The graph built so far, verified. The builder can keep building afterwards.
  std::unique_ptr<ir::Graph> build() const;
  const ir::Graph &graph() const { return *g_; }

private:
  std::unique_ptr<ir::Graph> g_;
};

// Elementwise (NumPy broadcasting). Scalars mix in as f32/operand-dtype constants.
Var operator+(Var a, Var b);
Var operator-(Var a, Var b);
Var operator*(Var a, Var b);
Var operator/(Var a, Var b);
Var operator-(Var a);
Var operator+(Var a, double b);
Var operator-(Var a, double b);
Var operator*(Var a, double b);
Var operator/(Var a, double b);
Var operator+(double a, Var b);
Var operator-(double a, Var b);
Var operator*(double a, Var b);
Var operator/(double a, Var b);
Var pow(Var a, Var b);
Var maximum(Var a, Var b);
Var minimum(Var a, Var b);
Var exp(Var x);
Var log(Var x);
Var abs(Var x);
Var sqrt(Var x);
Var sigmoid(Var x);
Var tanh(Var x);
Var relu(Var x);
Var eq(Var a, Var b);
Var ne(Var a, Var b);
Var lt(Var a, Var b);
Var le(Var a, Var b);
Var gt(Var a, Var b);
Var ge(Var a, Var b);
Var where(Var cond, Var a, Var b);
Var cast(Var x, ir::DType dtype);
Var matmul(Var a, Var b);
/// axes empty = all axes.
Var sum(Var x, std::vector<int64_t> axes = {}, bool keepdim = false);
Var mean(Var x, std::vector<int64_t> axes = {}, bool keepdim = false);
Var max(Var x, std::vector<int64_t> axes = {}, bool keepdim = false);
Var reshape(Var x, ir::Shape shape);
Var transpose(Var x, int64_t dim0 = -2, int64_t dim1 = -1);
Var permute(Var x, std::vector<int64_t> dims);
Var broadcastTo(Var x, ir::Shape shape);

/// A compiled graph: call it with one Array per graph input.
class CompiledGraph {
public:
  explicit CompiledGraph(const ir::Graph &g);
  /// Checks count, dtype and shape of each input (dt::ValueError / dt::TypeError naming the
  /// input, expected and given), runs the program, returns one Array per graph output.
  std::vector<Array> operator()(const std::vector<Array> &inputs) const;
  const ir::Graph &graph() const { return *graph_; }

private:
  std::unique_ptr<ir::Graph> graph_;
  rt::Program program_;
};

/// Verifies and compiles (LLVM JIT) the graph.
CompiledGraph compile(const ir::Graph &g);

/// Runs the reference interpreter on Arrays (checks as CompiledGraph does).
std::vector<Array> interpret(const ir::Graph &g, const std::vector<Array> &inputs);

} // namespace dt
