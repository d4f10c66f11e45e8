// The verifier: checks SSA form, names, types and every node against the op registry, and
// reports the first problem as "[line:col: ]<the node's line>: <reason>".
//
// Invariants, in the order they are checked for each graph (a kernel's region is a graph too):
//   1. every value has a printable name (identifier or number), unique within its graph, and
//      a valid type (non-negative sizes, byte size fits in int64);
//   2. every operand is defined earlier in the same graph (SSA); outputs are defined;
//   3. every node's op is registered and its annotated result type equals inferType's;
//   4. a kernel node has a callee and a region whose inputs mirror its (distinct) operands by
//      name and type, whose body holds no kernels, and which yields one value per result, of its
//      type (only a kernel has more than one result).
#include "ir/Verifier.h"

#include "ir/Error.h"
#include "ir/Ops.h"
#include "ir/Text.h"

#include <unordered_map>
#include <unordered_set>

namespace dt::ir {

namespace {

enum class ErrKind { Value, Type, Index };

[[noreturn]] void raise(ErrKind k, const std::string &msg) {
  switch (k) {
  case ErrKind::Value: throw ValueError(msg);
  case ErrKind::Type: throw TypeError(msg);
  case ErrKind::Index: throw IndexError(msg);
  }
  throw ValueError(msg);
}

std::string nodePrefix(const Node &n) {
  std::string loc = n.loc.line > 0 ? fmt(n.loc.line, ":", n.loc.col, ": ") : std::string();
  return loc + printNode(n);
}

[[noreturn]] void failNode(const Node &n, const std::string &reason, ErrKind k = ErrKind::Value) {
  raise(k, nodePrefix(n) + ": " + reason);
}

bool isIdent(const std::string &s) {
  auto start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.empty()) return false;
  if (digit(s[0])) {
    for (char c : s)
      if (!digit(c)) return false;
    return true;
  }
  if (!start(s[0])) return false;
  for (char c : s)
    if (!start(c) && !digit(c) && c != '.') return false;
  return true;
}

bool isSymbol(const std::string &s) { return !s.empty() && !(s[0] >= '0' && s[0] <= '9') && isIdent(s); }

/// Empty when the type is valid, else why not.
std::string typeProblem(const Type &t) {
  constexpr int64_t kMaxElements = int64_t(1) << 56;
  int64_t count = 1;
  for (int64_t d : t.shape) {
    if (d < 0) return fmt("type ", t.str(), " has a negative size");
    if (d != 0 && (__builtin_mul_overflow(count, d, &count) || count > kMaxElements))
      return fmt("type ", t.str(), " has too many elements");
  }
  return {};
}

int attrDepth(const Attr &a) {
  if (!a.isList()) return 0;
  int d = 0;
  for (const Attr &x : a.asList()) d = std::max(d, attrDepth(x));
  return d + 1;
}

class GraphVerifier {
public:
  GraphVerifier(const Graph &g, const Node *kernel) : g_(g), kernel_(kernel) {}

  void run() {
    std::string where = kernel_ ? fmt(kernel_->loc.line > 0 ? fmt(kernel_->loc.line, ":", kernel_->loc.col, ": ") : "",
                                      "region of kernel @", kernel_->callee)
                                : fmt("func @", g_.name);
    if (!kernel_ && !isSymbol(g_.name))
      throw ValueError(fmt(where, ": invalid function name '", g_.name, "' (expected an identifier)"));
    for (const Value *in : g_.inputs) {
      if (!in) throw ValueError(fmt(where, ": an input is null"));
      if (in->def) throw ValueError(fmt(where, ": input %", in->name, " claims to be defined by a node"));
      checkName(in, where + ": input");
      if (std::string p = typeProblem(in->type); !p.empty())
        throw ValueError(fmt(where, ": input %", in->name, ": ", p));
      defined_.insert(in);
    }
    std::unordered_set<const Value *> later;
    for (const auto &n : g_.nodes)
      if (n && n->result) {
        later.insert(n->result);
        later.insert(n->moreResults.begin(), n->moreResults.end());
      }
    for (const auto &np : g_.nodes) {
      if (!np) throw ValueError(fmt(where, ": a node is null"));
      const Node &n = *np;
      if (!n.result) failNode(n, "the node has no result value");
      if (n.result->def != &n) failNode(n, fmt("result %", n.result->name, " does not point back to its node"));
      for (size_t i = 0; i < n.operands.size(); ++i) {
        const Value *o = n.operands[i];
        if (!o) failNode(n, fmt("operand ", i, " is null"));
        if (!defined_.count(o))
          failNode(n, later.count(o) ? fmt("operand %", o->name, " is used before it is defined")
                                     : fmt("operand %", o->name, " is not defined in ", scopeName()));
      }
      checkNode(n);
      checkName(n.result, nodePrefix(n) + ": result");
      defined_.insert(n.result);
      for (const Value *r : n.moreResults) {
        if (!r) failNode(n, "a further result is null");
        if (r->def != &n) failNode(n, fmt("result %", r->name, " does not point back to its node"));
        if (std::string p = typeProblem(r->type); !p.empty()) failNode(n, p);
        checkName(r, nodePrefix(n) + ": result");
        defined_.insert(r);
      }
    }
    std::string term = kernel_ ? "yield" : "return";
    for (const Value *o : g_.outputs) {
      if (!o) throw ValueError(fmt(where, ": ", term, " has a null value"));
      if (!defined_.count(o))
        throw ValueError(fmt(where, ": ", term, " %", o->name, ": the value is not defined in ", scopeName()));
    }
  }

private:
  std::string scopeName() const {
    return kernel_ ? fmt("the region of kernel @", kernel_->callee) : fmt("func @", g_.name);
  }

  void checkName(const Value *v, const std::string &what) {
    if (!isIdent(v->name))
      throw ValueError(fmt(what, " has the invalid name '%", v->name, "' (expected an identifier or a number)"));
    if (!names_.insert(v->name).second)
      throw ValueError(fmt(what, " %", v->name, " is defined twice"));
  }

  void checkNode(const Node &n) {
    if (std::string p = typeProblem(n.result->type); !p.empty()) failNode(n, p);
    for (auto &[k, v] : n.attrs)
      if (attrDepth(v) > 64) failNode(n, fmt("attribute '", k, "' is nested deeper than 64 levels"));
    const OpDef *def = findOp(n.op);
    if (!def) failNode(n, fmt("unknown op '", n.op, "'"));
    if (def->id == OpId::Kernel) {
      checkKernel(n);
      return;
    }
    if (!n.moreResults.empty()) failNode(n, fmt("only kernel nodes have several results, not ", n.op));
    if (n.region) failNode(n, fmt("only kernel nodes have a region, not ", n.op));
    if (!n.callee.empty()) failNode(n, fmt("only kernel nodes have a callee, not ", n.op));
    std::vector<Type> types;
    for (const Value *o : n.operands) types.push_back(o->type);
    Type inferred;
    try {
      inferred = inferType(*def, types, n.attrs);
    } catch (const ValueError &e) {
      failNode(n, e.what(), ErrKind::Value);
    } catch (const TypeError &e) {
      failNode(n, e.what(), ErrKind::Type);
    } catch (const IndexError &e) {
      failNode(n, e.what(), ErrKind::Index);
    }
    if (inferred != n.result->type)
      failNode(n, fmt("result type ", n.result->type.str(), " does not match the inferred ", inferred.str()),
               inferred.dtype != n.result->type.dtype ? ErrKind::Type : ErrKind::Value);
  }

  void checkKernel(const Node &n) {
    if (kernel_) failNode(n, fmt("a kernel region may not contain another kernel (inside @", kernel_->callee, ")"));
    if (!isSymbol(n.callee)) failNode(n, fmt("kernel has the invalid symbol '@", n.callee, "' (expected an identifier)"));
    if (!n.attrs.empty()) failNode(n, fmt("kernel: unknown attribute '", n.attrs.begin()->first, "' (kernel takes no attributes)"));
    if (!n.region) failNode(n, "kernel has no region");
    const Graph &r = *n.region;
    std::unordered_set<const Value *> seen;
    for (const Value *o : n.operands)
      if (!seen.insert(o).second) failNode(n, fmt("operand %", o->name, " is passed twice (kernel operands must be distinct)"));
    if (r.inputs.size() != n.operands.size())
      failNode(n, fmt("the region has ", r.inputs.size(), " inputs but the kernel has ", n.operands.size(), " operands"));
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      const Value *in = r.inputs[i];
      if (!in) failNode(n, fmt("region input ", i, " is null"));
      if (in->name != n.operands[i]->name || in->type != n.operands[i]->type)
        failNode(n, fmt("region input ", i, " is %", in->name, ": ", in->type.str(), " but operand ", i, " is %",
                        n.operands[i]->name, ": ", n.operands[i]->type.str(), " (they must match)"));
    }
    GraphVerifier(r, &n).run();
    std::vector<Value *> results = n.results();
    if (r.outputs.size() != results.size())
      failNode(n, fmt("the region yields ", r.outputs.size(), " values, expected ", results.size(),
                      results.size() > 1 ? " (one per result)" : ""));
    for (size_t i = 0; i < results.size(); ++i)
      if (r.outputs[i]->type != results[i]->type)
        failNode(n, fmt("the region yields %", r.outputs[i]->name, " of type ", r.outputs[i]->type.str(),
                        results.size() == 1 ? fmt(" but the kernel's result type is ", results[i]->type.str())
                                            : fmt(" but the kernel's result %", results[i]->name, " has type ", results[i]->type.str())),
                 r.outputs[i]->type.dtype != results[i]->type.dtype ? ErrKind::Type : ErrKind::Value);
  }

  const Graph &g_;
  const Node *kernel_;
  std::unordered_set<const Value *> defined_;
  std::unordered_set<std::string> names_;
};

} // namespace

void verify(const Graph &g) { GraphVerifier(g, nullptr).run(); }

} // namespace dt::ir
