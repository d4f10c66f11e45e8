// The IR's text form (DESIGN section 3): printer and parser. parse(print(g)) equals g, and a
// second print is byte-identical.
#pragma once

#include "ir/Graph.h"

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

namespace dt::ir {

/// Prints `func @name(%a: f32[2], ...) -> (types) { ... return ... }` with a trailing newline.
std::string print(const Graph &g);
void print(const Graph &g, std::ostream &os);
/// One node's line without indentation or newline, e.g. `%3 = add(%1, %2) : f32[3,4]`
/// (for a kernel node only its header line).
std::string printNode(const Node &n);
/// An attribute value as the text form writes it.
std::string printAttr(const Attr &a);

/// Parses one function. Throws dt::ValueError("line:col: message") on bad text; never crashes.
/// Nodes keep their SrcLoc. The result is not verified (call verify()).
std::unique_ptr<Graph> parse(std::string_view text);

std::ostream &operator<<(std::ostream &os, const Graph &g);

} // namespace dt::ir
