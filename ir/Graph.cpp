// Graph construction, cloning and structural equality.
#include "ir/Graph.h"

#include "ir/Error.h"

#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace dt::ir {

bool Attr::operator==(const Attr &o) const {
  if (v.index() != o.v.index()) return false;
  if (isFloat()) {
    double a = std::get<double>(v), b = std::get<double>(o.v);
    return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
  }
  if (isList()) return asList() == o.asList(); // element by element, with this operator
  return v == o.v;
}


Attr Attr::ints(const std::vector<int64_t> &xs) {
  List l;
  for (int64_t x : xs) l.emplace_back(x);
  return Attr(std::move(l));
}

Attr Attr::floats(const std::vector<double> &xs) {
  List l;
  for (double x : xs) l.emplace_back(x);
  return Attr(std::move(l));
}

std::vector<int64_t> Attr::asInts() const {
  if (!isList()) throw TypeError("expected a list of ints");
  std::vector<int64_t> out;
  for (const Attr &a : asList()) {
    if (!a.isInt()) throw TypeError("expected a list of ints");
    out.push_back(a.asInt());
  }
  return out;
}

std::vector<double> Attr::asFloats() const {
  if (isInt() || isFloat()) return {asFloat()};
  if (isBool()) return {asBool() ? 1.0 : 0.0};
  if (!isList()) throw TypeError("expected a number or a list of numbers");
  std::vector<double> out;
  for (const Attr &a : asList()) {
    if (a.isBool()) out.push_back(a.asBool() ? 1.0 : 0.0);
    else if (a.isInt() || a.isFloat()) out.push_back(a.asFloat());
    else throw TypeError("expected a number or a list of numbers");
  }
  return out;
}

std::string Graph::freshName() {
  for (;;) {
    std::string n = std::to_string(nextId_++);
    if (!names_.count(n)) return n;
  }
}

std::string Graph::uniqueName(const std::string &base) {
  if (!names_.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string n = base + "_" + std::to_string(i);
    if (!names_.count(n)) return n;
  }
}

Value *Graph::addInput(Type t, std::string name) {
  auto v = std::make_unique<Value>();
  v->name = name.empty() ? freshName() : std::move(name);
  names_.insert(v->name);
  v->type = std::move(t);
  inputs.push_back(v.get());
  values.push_back(std::move(v));
  return inputs.back();
}

Node *Graph::addNode(std::string op, std::vector<Value *> operands, AttrMap attrs, Type resultType,
                     std::string resultName) {
  auto n = std::make_unique<Node>();
  n->op = std::move(op);
  n->operands = std::move(operands);
  n->attrs = std::move(attrs);
  auto v = std::make_unique<Value>();
  v->name = resultName.empty() ? freshName() : std::move(resultName);
  names_.insert(v->name);
  v->type = std::move(resultType);
  v->def = n.get();
  n->result = v.get();
  values.push_back(std::move(v));
  nodes.push_back(std::move(n));
  return nodes.back().get();
}

Value *Graph::addResult(Node *n, Type t, std::string name) {
  auto v = std::make_unique<Value>();
  v->name = name.empty() ? freshName() : std::move(name);
  names_.insert(v->name);
  v->type = std::move(t);
  v->def = n;
  n->moreResults.push_back(v.get());
  values.push_back(std::move(v));
  return n->moreResults.back();
}

namespace {
std::unique_ptr<Graph> cloneInto(const Graph &g, std::unordered_map<const Value *, Value *> &map) {
  auto out = std::make_unique<Graph>();
  out->name = g.name;
  for (Value *in : g.inputs) map[in] = out->addInput(in->type, in->name);
  for (auto &n : g.nodes) {
    std::vector<Value *> ops;
    for (Value *o : n->operands) {
      auto it = map.find(o);
      DT_ASSERT(it != map.end(), "operand %", o->name, " of ", n->op, " not defined before use");
      ops.push_back(it->second);
    }
    Node *c = out->addNode(n->op, ops, n->attrs, n->result->type, n->result->name);
    for (Value *r : n->moreResults) map[r] = out->addResult(c, r->type, r->name);
    c->loc = n->loc;
    c->callee = n->callee;
    if (n->region) {
      std::unordered_map<const Value *, Value *> inner;
      c->region = cloneInto(*n->region, inner);
    }
    map[n->result] = c->result;
  }
  for (Value *o : g.outputs) out->outputs.push_back(map.at(o));
  return out;
}
} // namespace

std::unique_ptr<Graph> Graph::clone() const {
  std::unordered_map<const Value *, Value *> map;
  return cloneInto(*this, map);
}

bool Graph::equals(const Graph &o) const {
  if (name != o.name || inputs.size() != o.inputs.size() || nodes.size() != o.nodes.size() ||
      outputs.size() != o.outputs.size())
    return false;
  std::unordered_map<const Value *, const Value *> map;
  auto same = [&](const Value *a, const Value *b) {
    return a->name == b->name && a->type == b->type;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!same(inputs[i], o.inputs[i])) return false;
    map[inputs[i]] = o.inputs[i];
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node &a = *nodes[i], &b = *o.nodes[i];
    if (a.op != b.op || a.attrs != b.attrs || a.callee != b.callee ||
        a.operands.size() != b.operands.size() || !same(a.result, b.result) ||
        a.moreResults.size() != b.moreResults.size())
      return false;
    for (size_t k = 0; k < a.moreResults.size(); ++k) {
      if (!same(a.moreResults[k], b.moreResults[k])) return false;
      map[a.moreResults[k]] = b.moreResults[k];
    }
    for (size_t k = 0; k < a.operands.size(); ++k) {
      auto it = map.find(a.operands[k]);
      if (it == map.end() || it->second != b.operands[k]) return false;
    }
    if (bool(a.region) != bool(b.region)) return false;
    if (a.region && !a.region->equals(*b.region)) return false;
    map[a.result] = b.result;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto it = map.find(outputs[i]);
    if (it == map.end() || it->second != o.outputs[i]) return false;
  }
  return true;
}

} // namespace dt::ir
