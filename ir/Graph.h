// The SSA graph: Values defined once (by a graph input or a Node), Nodes in topological order,
// a Graph that owns both. Printing, parsing and verifying live in their own files.
#pragma once

#include "ir/Types.h"

#include <map>
#include <unordered_set>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace dt::ir {

/// An attribute value: int, float, bool, string, or a list of those.
struct Attr {
  using List = std::vector<Attr>;
  std::variant<int64_t, double, bool, std::string, List> v;

  Attr() : v(int64_t(0)) {}
  Attr(int64_t i) : v(i) {}
  Attr(int i) : v(int64_t(i)) {}
  Attr(double f) : v(f) {}
  Attr(bool b) : v(b) {}
  Attr(std::string s) : v(std::move(s)) {}
  Attr(const char *s) : v(std::string(s)) {}
  Attr(List l) : v(std::move(l)) {}
  static Attr ints(const std::vector<int64_t> &xs);
  static Attr floats(const std::vector<double> &xs);

  bool isInt() const { return std::holds_alternative<int64_t>(v); }
  bool isFloat() const { return std::holds_alternative<double>(v); }
  bool isBool() const { return std::holds_alternative<bool>(v); }
  bool isString() const { return std::holds_alternative<std::string>(v); }
  bool isList() const { return std::holds_alternative<List>(v); }
  int64_t asInt() const { return std::get<int64_t>(v); }
  /// A float, or an int widened to double.
  double asFloat() const { return isInt() ? double(asInt()) : std::get<double>(v); }
  bool asBool() const { return std::get<bool>(v); }
  const std::string &asString() const { return std::get<std::string>(v); }
  const List &asList() const { return std::get<List>(v); }
  /// A list of ints (throws dt::TypeError otherwise).
  std::vector<int64_t> asInts() const;
  /// A list of numbers, or one number as a list of one.
  std::vector<double> asFloats() const;

  /// Equal kind and value; floats compare by value with NaN equal to NaN and -0.0 distinct from
  /// 0.0 (what the text form keeps: a graph equals its parsed printout).
  bool operator==(const Attr &o) const;
};

/// Attributes are kept sorted by name, so printing is canonical.
using AttrMap = std::map<std::string, Attr>;

/// Where a node came from in IR text (line 0 = not from text).
struct SrcLoc {
  int line = 0, col = 0;
};

class Node;
class Graph;

struct Value {
  std::string name; ///< without the '%'
  Type type;
  Node *def = nullptr; ///< nullptr for a graph input
};

class Node {
public:
  std::string op;
  std::vector<Value *> operands;
  AttrMap attrs;
  Value *result = nullptr;
  /// For `kernel` nodes only: results after the first, one per further value the region
  /// yields (a multi-output kernel computes several values in one loop nest). Empty otherwise.
  std::vector<Value *> moreResults;
  SrcLoc loc;
  /// For `kernel` nodes: the fused body, a graph whose inputs bind to the operands.
  std::unique_ptr<Graph> region;
  /// For `kernel` nodes: its symbol, printed as `@name`.
  std::string callee;

  /// Every result: `result`, then `moreResults`.
  std::vector<Value *> results() const {
    std::vector<Value *> rs{result};
    rs.insert(rs.end(), moreResults.begin(), moreResults.end());
    return rs;
  }
  size_t numResults() const { return 1 + moreResults.size(); }

  const Attr *attr(const std::string &k) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? nullptr : &it->second;
  }
};

class Graph {
public:
  std::string name = "main";
  std::vector<Value *> inputs;
  std::vector<std::unique_ptr<Node>> nodes; ///< topological order
  std::vector<Value *> outputs;

  Graph() = default;
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;

  /// A new graph input. An empty name gets a fresh number.
  Value *addInput(Type t, std::string name = "");
  /// Appends a node whose result type is given (not inferred; see ir/Ops.h for inference).
  Node *addNode(std::string op, std::vector<Value *> operands, AttrMap attrs, Type resultType,
                std::string resultName = "");
  /// Adds a further result to `n` (a kernel node; see Node::moreResults).
  Value *addResult(Node *n, Type t, std::string name = "");
  /// A fresh value name: the next free number.
  std::string freshName();
  /// `base` if no value has that name yet, else `base_1`, `base_2`, ...
  std::string uniqueName(const std::string &base);
  /// Deep copy (values renamed identically).
  std::unique_ptr<Graph> clone() const;
  /// Structural equality including names, attributes and regions.
  bool equals(const Graph &o) const;
  /// Owns every Value of this graph.
  std::vector<std::unique_ptr<Value>> values;

private:
  int64_t nextId_ = 0;
  std::unordered_set<std::string> names_;
};

} // namespace dt::ir
