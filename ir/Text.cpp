// The IR text form (DESIGN section 3): a canonical printer and a recursive-descent parser that
// reports "line:col: expected X, found Y" and never crashes on bad input.
#include "ir/Text.h"

#include "ir/Error.h"
#include "ir/Ops.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <unordered_map>

namespace dt::ir {

namespace {

// ============================================================================================
// Printing
// ============================================================================================

std::string valueRef(const Value *v) { return v ? "%" + v->name : std::string("%<null>"); }

/// The shortest decimal that reads back as the same double, always recognizable as a float.
void printFloat(double d, std::string &out) {
  if (std::isnan(d)) {
    out += std::signbit(d) ? "-nan" : "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, size_t(r.ptr - buf));
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void printString(const std::string &s, std::string &out) {
  static const char *hex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    case '\r': out += "\\r"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += ch;
      }
    }
  }
  out += '"';
}

void printAttrTo(const Attr &a, std::string &out) {
  if (a.isInt()) out += std::to_string(a.asInt());
  else if (a.isFloat()) printFloat(std::get<double>(a.v), out);
  else if (a.isBool()) out += a.asBool() ? "true" : "false";
  else if (a.isString()) printString(a.asString(), out);
  else {
    out += '[';
    bool first = true;
    for (const Attr &x : a.asList()) {
      if (!first) out += ", ";
      first = false;
      printAttrTo(x, out);
    }
    out += ']';
  }
}

void printRefs(const std::vector<Value *> &vs, std::string &out) {
  for (size_t i = 0; i < vs.size(); ++i) {
    if (i) out += ", ";
    out += valueRef(vs[i]);
  }
}

void printNodeHeader(const Node &n, std::string &out) {
  out += valueRef(n.result);
  for (const Value *r : n.moreResults) {
    out += ", ";
    out += valueRef(r);
  }
  out += " = ";
  out += n.op;
  if (n.op == "kernel") {
    out += " @";
    out += n.callee;
  }
  out += '(';
  printRefs(n.operands, out);
  out += ')';
  if (!n.attrs.empty()) {
    out += " {";
    bool first = true;
    for (auto &[k, v] : n.attrs) {
      if (!first) out += ", ";
      first = false;
      out += k;
      out += '=';
      printAttrTo(v, out);
    }
    out += '}';
  }
  out += " : ";
  out += n.result ? n.result->type.str() : std::string("<null>");
  for (const Value *r : n.moreResults) {
    out += ", ";
    out += r ? r->type.str() : std::string("<null>");
  }
}

void printBody(const Graph &g, int indent, std::string_view terminator, std::string &out) {
  std::string pad(size_t(indent), ' ');
  for (const auto &n : g.nodes) {
    out += pad;
    if (!n) {
      out += "<null node>\n";
      continue;
    }
    printNodeHeader(*n, out);
    if (n->region) {
      out += " {\n";
      printBody(*n->region, indent + 2, "yield", out);
      out += pad;
      out += "}";
    }
    out += '\n';
  }
  out += pad;
  out += terminator;
  if (!g.outputs.empty()) {
    out += ' ';
    printRefs(g.outputs, out);
  }
  out += '\n';
}

// ============================================================================================
// Lexing
// ============================================================================================

enum class Tok {
  Eof,
  Percent, // %name
  At,      // @name
  Ident,
  Int,
  Float,
  String,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Equal,
  Arrow,
  Minus,
};

struct Token {
  Tok kind = Tok::Eof;
  std::string_view raw; ///< the source text of the token
  std::string text;     ///< name without sigil, decoded string, or the raw text
  SrcLoc loc;
};

constexpr int kMaxAttrDepth = 64;
constexpr int kMaxRegionDepth = 16;

bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c) || c == '.'; }

bool isIdentifier(std::string_view s) {
  if (s.empty() || !isIdentStart(s[0])) return false;
  for (char c : s)
    if (!isIdentChar(c)) return false;
  return true;
}

bool isNumberName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isDigit(c)) return false;
  return true;
}

/// Shows a piece of source in a message: quoted, control bytes escaped, long text cut.
std::string quote(std::string_view s) {
  static const char *hex = "0123456789abcdef";
  std::string out = "'";
  size_t n = 0;
  for (char ch : s) {
    if (++n > 24) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + "'";
}

std::string locStr(SrcLoc l) { return fmt(l.line, ":", l.col); }

[[noreturn]] void failAt(SrcLoc l, const std::string &msg) { throw ValueError(fmt(locStr(l), ": ", msg)); }

class Lexer {
public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Token next() {
    skipSpaceAndComments();
    Token t;
    t.loc = {line_, col_};
    if (pos_ >= src_.size()) {
      t.kind = Tok::Eof;
      return t;
    }
    size_t start = pos_;
    char c = src_[pos_];
    auto single = [&](Tok k) {
      advance();
      t.kind = k;
    };
    switch (c) {
    case '(': single(Tok::LParen); break;
    case ')': single(Tok::RParen); break;
    case '{': single(Tok::LBrace); break;
    case '}': single(Tok::RBrace); break;
    case '[': single(Tok::LBracket); break;
    case ']': single(Tok::RBracket); break;
    case ',': single(Tok::Comma); break;
    case ':': single(Tok::Colon); break;
    case '=': single(Tok::Equal); break;
    case '-':
      advance();
      if (pos_ < src_.size() && src_[pos_] == '>') {
        advance();
        t.kind = Tok::Arrow;
      } else {
        t.kind = Tok::Minus;
      }
      break;
    case '%':
    case '@': lexSigilName(t); break;
    case '"': lexString(t); break;
    default:
      if (isIdentStart(c)) {
        while (pos_ < src_.size() && isIdentChar(src_[pos_])) advance();
        t.kind = Tok::Ident;
      } else if (isDigit(c)) {
        lexNumber(t);
      } else {
        failAt(t.loc, fmt("unexpected character ", quote(src_.substr(pos_, 1))));
      }
    }
    t.raw = src_.substr(start, pos_ - start);
    if (t.kind != Tok::String && t.kind != Tok::Percent && t.kind != Tok::At) t.text = std::string(t.raw);
    return t;
  }

  SrcLoc loc() const { return {line_, col_}; }

private:
  void advance() {
    if (src_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  void skipSpaceAndComments() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {
        while (pos_ < src_.size() && src_[pos_] != '\n') advance();
      } else {
        break;
      }
    }
  }

  void lexSigilName(Token &t) {
    char sigil = src_[pos_];
    advance();
    size_t start = pos_;
    while (pos_ < src_.size() && isIdentChar(src_[pos_])) advance();
    std::string_view name = src_.substr(start, pos_ - start);
    const char *what = sigil == '%' ? "value name" : "function name";
    if (name.empty())
      failAt(t.loc, fmt("expected a ", what, " after '", sigil, "' (an identifier",
                        sigil == '%' ? " or a number" : "", "), found ",
                        pos_ < src_.size() ? quote(src_.substr(pos_, 1)) : std::string("end of input")));
    bool ok = isIdentifier(name) || (sigil == '%' && isNumberName(name));
    if (!ok)
      failAt(t.loc, fmt("invalid ", what, " ", quote(std::string(1, sigil) + std::string(name)), " (expected ", sigil,
                        " followed by an identifier", sigil == '%' ? " or a number" : "", ")"));
    t.kind = sigil == '%' ? Tok::Percent : Tok::At;
    t.text = std::string(name);
  }

  void lexNumber(Token &t) {
    bool isFloatTok = false;
    while (pos_ < src_.size() && isDigit(src_[pos_])) advance();
    if (pos_ < src_.size() && src_[pos_] == '.') {
      isFloatTok = true;
      advance();
      while (pos_ < src_.size() && isDigit(src_[pos_])) advance();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t k = pos_ + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && isDigit(src_[k])) {
        isFloatTok = true;
        while (pos_ < k) advance();
        while (pos_ < src_.size() && isDigit(src_[pos_])) advance();
      }
    }
    t.kind = isFloatTok ? Tok::Float : Tok::Int;
  }

  void lexString(Token &t) {
    advance(); // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= src_.size() || src_[pos_] == '\n')
        failAt(t.loc, "unterminated string (a string must end with '\"' on the same line)");
      char c = src_[pos_];
      if (c == '"') {
        advance();
        break;
      }
      if (c != '\\') {
        out += c;
        advance();
        continue;
      }
      SrcLoc escLoc = loc();
      advance();
      if (pos_ >= src_.size()) failAt(t.loc, "unterminated string (input ends inside it)");
      char e = src_[pos_];
      switch (e) {
      case '"': out += '"'; advance(); break;
      case '\\': out += '\\'; advance(); break;
      case 'n': out += '\n'; advance(); break;
      case 't': out += '\t'; advance(); break;
      case 'r': out += '\r'; advance(); break;
      case 'x': {
        advance();
        int v = 0;
        for (int i = 0; i < 2; ++i) {
          char h = pos_ < src_.size() ? src_[pos_] : '\0';
          int d = isDigit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (d < 0) failAt(escLoc, "invalid escape in string: '\\x' must be followed by two hex digits");
          v = v * 16 + d;
          advance();
        }
        out += char(v);
        break;
      }
      default:
        failAt(escLoc, fmt("invalid escape ", quote(std::string("\\") + e),
                           " in string (expected \\\" \\\\ \\n \\t \\r or \\xHH)"));
      }
    }
    t.kind = Tok::String;
    t.text = std::move(out);
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

std::string describe(const Token &t) {
  switch (t.kind) {
  case Tok::Eof: return "end of input";
  case Tok::Percent:
  case Tok::At:
  case Tok::Ident:
  case Tok::Int:
  case Tok::Float:
  case Tok::String:
  case Tok::LParen:
  case Tok::RParen:
  case Tok::LBrace:
  case Tok::RBrace:
  case Tok::LBracket:
  case Tok::RBracket:
  case Tok::Comma:
  case Tok::Colon:
  case Tok::Equal:
  case Tok::Arrow:
  case Tok::Minus: return quote(t.raw);
  }
  return quote(t.raw);
}

// ============================================================================================
// Parsing
// ============================================================================================

/// The names visible in one graph body: the function's, or a kernel region's (which sees only
/// its kernel's operands, bound to the region's inputs).
struct Scope {
  Graph *graph = nullptr;
  const Scope *parent = nullptr;
  std::string callee; ///< for a region, its kernel's symbol
  std::unordered_map<std::string, std::pair<Value *, SrcLoc>> names;
};

class Parser {
public:
  explicit Parser(std::string_view src) : lex_(src) { tok_ = lex_.next(); }

  std::unique_ptr<Graph> parseFunction() {
    auto g = std::make_unique<Graph>();
    if (!(tok_.kind == Tok::Ident && tok_.text == "func"))
      fail(fmt("expected 'func' to start a function, found ", describe(tok_)));
    next();
    g->name = expect(Tok::At, "a function name ('@name') after 'func'").text;
    expect(Tok::LParen, "'(' to open the parameter list");
    Scope scope;
    scope.graph = g.get();
    if (tok_.kind != Tok::RParen) {
      for (;;) {
        Token p = expect(Tok::Percent, "a parameter ('%name: type') or ')'");
        expect(Tok::Colon, fmt("':' and a type after parameter %", p.text));
        Type t = parseType();
        checkFresh(scope, p);
        Value *v = g->addInput(std::move(t), p.text);
        scope.names[p.text] = {v, p.loc};
        if (tok_.kind == Tok::Comma) {
          next();
          continue;
        }
        if (tok_.kind == Tok::RParen) break;
        fail(fmt("expected ',' or ')' after parameter %", p.text, ", found ", describe(tok_)));
      }
    }
    next(); // ')'
    expect(Tok::Arrow, "'->' and the result types after the parameter list");
    expect(Tok::LParen, "'(' to open the result type list (write '-> ()' for none)");
    std::vector<Type> resultTypes;
    if (tok_.kind != Tok::RParen) {
      for (;;) {
        resultTypes.push_back(parseType());
        if (tok_.kind == Tok::Comma) {
          next();
          continue;
        }
        if (tok_.kind == Tok::RParen) break;
        fail(fmt("expected ',' or ')' after a result type, found ", describe(tok_)));
      }
    }
    next(); // ')'
    expect(Tok::LBrace, "'{' to open the function body");
    std::vector<SrcLoc> outLocs;
    SrcLoc retLoc = parseBody(scope, "return", outLocs);
    if (tok_.kind != Tok::Eof)
      fail(fmt("expected end of input after the function's closing '}', found ", describe(tok_)));

    if (g->outputs.size() != resultTypes.size())
      failAt(retLoc, fmt("return gives ", g->outputs.size(), " value", g->outputs.size() == 1 ? "" : "s",
                         " but the signature declares ", resultTypes.size(), " result",
                         resultTypes.size() == 1 ? "" : "s"));
    for (size_t i = 0; i < resultTypes.size(); ++i)
      if (g->outputs[i]->type != resultTypes[i])
        failAt(outLocs[i], fmt("return value %", g->outputs[i]->name, " has type ", g->outputs[i]->type.str(),
                               " but the signature declares ", resultTypes[i].str()));
    return g;
  }

private:
  void next() { tok_ = lex_.next(); }

  [[noreturn]] void fail(const std::string &msg) const { failAt(tok_.loc, msg); }

  Token expect(Tok k, const std::string &what) {
    if (tok_.kind != k) fail(fmt("expected ", what, ", found ", describe(tok_)));
    Token t = std::move(tok_);
    next();
    return t;
  }

  void checkFresh(const Scope &scope, const Token &name) {
    auto it = scope.names.find(name.text);
    if (it != scope.names.end())
      failAt(name.loc, fmt("%", name.text, " is defined twice (first at ", locStr(it->second.second), ")"));
  }

  /// Parses nodes up to and including the terminator line and the closing '}'. Returns the
  /// terminator's location; `outLocs` gets each terminator operand's location.
  SrcLoc parseBody(Scope &scope, std::string_view terminator, std::vector<SrcLoc> &outLocs) {
    for (;;) {
      if (tok_.kind == Tok::Percent) {
        parseNode(scope);
        continue;
      }
      if (tok_.kind == Tok::Ident && tok_.text == terminator) break;
      fail(fmt("expected a node ('%name = op(...) : type') or '", terminator, "', found ", describe(tok_)));
    }
    SrcLoc termLoc = tok_.loc;
    next();
    if (tok_.kind == Tok::Percent) {
      for (;;) {
        Token v = expect(Tok::Percent, fmt("a value ('%name') after ',' in '", terminator, "'"));
        scope.graph->outputs.push_back(lookup(scope, v));
        outLocs.push_back(v.loc);
        if (tok_.kind == Tok::Comma) {
          next();
          continue;
        }
        break;
      }
    }
    if (tok_.kind != Tok::RBrace)
      fail(fmt("expected ",
               outLocs.empty() ? fmt("a value ('%name') or '}' after '", terminator, "'")
                               : fmt("',' or '}' after the values of '", terminator, "'"),
               ", found ", describe(tok_)));
    next();
    return termLoc;
  }

  void parseNode(Scope &scope) {
    Token res = std::move(tok_);
    next();
    std::vector<Token> more; // a multi-output kernel's further results: `%a, %b = kernel ...`
    while (tok_.kind == Tok::Comma) {
      next();
      more.push_back(expect(Tok::Percent, fmt("a result name ('%name') after ',' in the results of %", res.text)));
    }
    expect(Tok::Equal, fmt("'=' after %", more.empty() ? res.text : more.back().text));
    if (tok_.kind != Tok::Ident) fail(fmt("expected an op name after '%", res.text, " =', found ", describe(tok_)));
    Token opTok = std::move(tok_);
    next();
    const OpDef *def = findOp(opTok.text);
    if (!def) failAt(opTok.loc, fmt("unknown op ", quote(opTok.text)));
    bool isKernel = def->id == OpId::Kernel;
    if (!more.empty() && !isKernel)
      failAt(more[0].loc, fmt("only a kernel has several results; ", opTok.text, " has one (%", res.text, ")"));
    std::string callee;
    if (isKernel) callee = expect(Tok::At, "the kernel's symbol ('@name') after 'kernel'").text;
    expect(Tok::LParen, fmt("'(' and the operands after '", opTok.text, isKernel ? " @" + callee : std::string(), "'"));
    std::vector<Value *> operands;
    if (tok_.kind != Tok::RParen) {
      for (;;) {
        Token o = expect(Tok::Percent, "an operand ('%name') or ')'");
        operands.push_back(lookup(scope, o));
        if (tok_.kind == Tok::Comma) {
          next();
          continue;
        }
        if (tok_.kind == Tok::RParen) break;
        fail(fmt("expected ',' or ')' after operand, found ", describe(tok_)));
      }
    }
    next(); // ')'
    AttrMap attrs;
    if (tok_.kind == Tok::LBrace) parseAttrDict(attrs);
    expect(Tok::Colon, fmt("':' and the result type of %", res.text));
    Type type = parseType();
    std::vector<Type> moreTypes;
    for (const Token &m : more) {
      expect(Tok::Comma, fmt("',' and the type of %", m.text, " (one type per result)"));
      moreTypes.push_back(parseType());
    }
    if (tok_.kind == Tok::Comma)
      fail(fmt("expected ", more.size() + 1, " result type", more.empty() ? "" : "s", " (one per result), found more"));
    checkFresh(scope, res);
    Node *n = scope.graph->addNode(std::string(def->name), std::move(operands), std::move(attrs), std::move(type),
                                   res.text);
    n->loc = res.loc;
    scope.names[res.text] = {n->result, res.loc};
    for (size_t i = 0; i < more.size(); ++i) {
      checkFresh(scope, more[i]);
      scope.names[more[i].text] = {scope.graph->addResult(n, moreTypes[i], more[i].text), more[i].loc};
    }
    if (!isKernel) return;

    n->callee = callee;
    expect(Tok::LBrace, fmt("'{' to open the region of kernel @", callee));
    if (regionDepth_ >= kMaxRegionDepth)
      failAt(res.loc, fmt("kernel regions are nested deeper than ", kMaxRegionDepth, " levels"));
    ++regionDepth_;
    auto region = std::make_unique<Graph>();
    region->name = callee;
    Scope inner;
    inner.graph = region.get();
    inner.parent = &scope;
    inner.callee = callee;
    for (Value *op : n->operands) {
      Value *in = region->addInput(op->type, op->name);
      inner.names.emplace(op->name, std::make_pair(in, res.loc)); // a repeated operand binds once
    }
    std::vector<SrcLoc> yieldLocs;
    parseBody(inner, "yield", yieldLocs);
    --regionDepth_;
    n->region = std::move(region);
  }

  Value *lookup(const Scope &scope, const Token &name) {
    auto it = scope.names.find(name.text);
    if (it != scope.names.end()) return it->second.first;
    for (const Scope *s = scope.parent; s; s = s->parent)
      if (s->names.count(name.text))
        failAt(name.loc, fmt("value %", name.text, " is not an operand of kernel @", scope.callee,
                             " (a kernel's region sees only the kernel's operands)"));
    if (auto later = findLaterDefinition(name.text))
      failAt(name.loc, fmt("value %", name.text, " is used before it is defined (at ", locStr(*later), ")"));
    failAt(name.loc, fmt("value %", name.text, " is not defined"));
  }

  /// Where `%name =` or `%name:` appears further on, for a better message; stops at bad text.
  std::optional<SrcLoc> findLaterDefinition(const std::string &name) {
    Lexer scan = lex_;
    try {
      Token prev = tok_; // the lookahead token, already lexed
      for (;;) {
        Token t = scan.next();
        if (t.kind == Tok::Eof) return std::nullopt;
        if (prev.kind == Tok::Percent && prev.text == name && t.kind == Tok::Equal) return prev.loc;
        prev = std::move(t);
      }
    } catch (const ValueError &) {
      return std::nullopt;
    }
  }

  Type parseType() {
    if (tok_.kind != Tok::Ident) fail(fmt("expected a type (e.g. f32[2,3]), found ", describe(tok_)));
    auto dt = parseDType(tok_.text);
    if (!dt) fail(fmt("unknown dtype ", quote(tok_.text), " (expected f32, f64, i64 or bool)"));
    std::string dtName = tok_.text;
    next();
    expect(Tok::LBracket, fmt("'[' and the shape after dtype ", dtName, " (a scalar is ", dtName, "[])"));
    Type t;
    t.dtype = *dt;
    // Element count of the nonzero dims, bounded so that byte sizes fit in int64.
    constexpr int64_t kMaxElements = int64_t(1) << 56;
    int64_t count = 1;
    if (tok_.kind != Tok::RBracket) {
      for (;;) {
        if (tok_.kind != Tok::Int)
          fail(fmt("expected a dimension size (a non-negative integer), found ", describe(tok_)));
        uint64_t d = 0;
        auto r = std::from_chars(tok_.raw.data(), tok_.raw.data() + tok_.raw.size(), d);
        if (r.ec != std::errc() || d > uint64_t(kMaxElements))
          fail(fmt("dimension size ", tok_.raw, " is too large"));
        if (d != 0) {
          if (__builtin_mul_overflow(count, int64_t(d), &count) || count > kMaxElements)
            fail(fmt("type has too many elements (more than 2^56) at dimension ", tok_.raw));
        }
        t.shape.push_back(int64_t(d));
        next();
        if (tok_.kind == Tok::Comma) {
          next();
          continue;
        }
        if (tok_.kind == Tok::RBracket) break;
        fail(fmt("expected ',' or ']' in the shape, found ", describe(tok_)));
      }
    }
    next(); // ']'
    return t;
  }

  void parseAttrDict(AttrMap &attrs) {
    next(); // '{'
    if (tok_.kind == Tok::RBrace) {
      next();
      return;
    }
    for (;;) {
      if (tok_.kind != Tok::Ident) fail(fmt("expected an attribute name, found ", describe(tok_)));
      Token key = std::move(tok_);
      next();
      if (attrs.count(key.text)) failAt(key.loc, fmt("attribute '", key.text, "' is given twice"));
      expect(Tok::Equal, fmt("'=' after attribute name '", key.text, "'"));
      attrs[key.text] = parseAttr(0);
      if (tok_.kind == Tok::Comma) {
        next();
        continue;
      }
      if (tok_.kind == Tok::RBrace) break;
      fail(fmt("expected ',' or '}' after attribute '", key.text, "', found ", describe(tok_)));
    }
    next(); // '}'
  }

  Attr parseAttr(int depth) {
    if (depth > kMaxAttrDepth) fail(fmt("attribute lists are nested deeper than ", kMaxAttrDepth, " levels"));
    switch (tok_.kind) {
    case Tok::Minus: {
      SrcLoc minusLoc = tok_.loc;
      next();
      if (tok_.kind == Tok::Int) return parseInt(true, minusLoc);
      if (tok_.kind == Tok::Float) return Attr(-parseFloatTok());
      if (tok_.kind == Tok::Ident && (tok_.text == "inf" || tok_.text == "nan")) {
        double v = tok_.text == "inf" ? std::numeric_limits<double>::infinity()
                                      : std::numeric_limits<double>::quiet_NaN();
        next();
        return Attr(-v);
      }
      fail(fmt("expected a number after '-', found ", describe(tok_)));
    }
    case Tok::Int: return parseInt(false, tok_.loc);
    case Tok::Float: return Attr(parseFloatTok());
    case Tok::String: {
      Attr a(std::move(tok_.text));
      next();
      return a;
    }
    case Tok::Ident: {
      Attr a;
      if (tok_.text == "true") a = Attr(true);
      else if (tok_.text == "false") a = Attr(false);
      else if (tok_.text == "inf") a = Attr(std::numeric_limits<double>::infinity());
      else if (tok_.text == "nan") a = Attr(std::numeric_limits<double>::quiet_NaN());
      else
        fail(fmt("expected an attribute value (a number, true, false, a string or a list), found ",
                 describe(tok_)));
      next();
      return a;
    }
    case Tok::LBracket: {
      next();
      Attr::List items;
      if (tok_.kind == Tok::RBracket) {
        next();
        return Attr(std::move(items));
      }
      for (;;) {
        items.push_back(parseAttr(depth + 1));
        if (tok_.kind == Tok::Comma) {
          next();
          continue;
        }
        if (tok_.kind == Tok::RBracket) break;
        fail(fmt("expected ',' or ']' in the list, found ", describe(tok_)));
      }
      next();
      return Attr(std::move(items));
    }
    case Tok::Eof:
    case Tok::Percent:
    case Tok::At:
    case Tok::LParen:
    case Tok::RParen:
    case Tok::LBrace:
    case Tok::RBrace:
    case Tok::RBracket:
    case Tok::Comma:
    case Tok::Colon:
    case Tok::Equal:
    case Tok::Arrow: break;
    }
    fail(fmt("expected an attribute value (a number, true, false, a string or a list), found ", describe(tok_)));
  }

  Attr parseInt(bool negative, SrcLoc start) {
    uint64_t mag = 0;
    auto r = std::from_chars(tok_.raw.data(), tok_.raw.data() + tok_.raw.size(), mag);
    uint64_t limit = negative ? uint64_t(1) << 63 : (uint64_t(1) << 63) - 1;
    if (r.ec != std::errc() || mag > limit)
      failAt(start, fmt("integer ", negative ? "-" : "", tok_.raw, " is out of range for i64"));
    next();
    // Two's complement negation in unsigned arithmetic, so -2^63 has no overflow.
    uint64_t bits = negative ? ~mag + 1 : mag;
    return Attr(static_cast<int64_t>(bits));
  }

  double parseFloatTok() {
    double d = 0;
    auto r = std::from_chars(tok_.raw.data(), tok_.raw.data() + tok_.raw.size(), d);
    if (r.ec != std::errc() || r.ptr != tok_.raw.data() + tok_.raw.size())
      fail(fmt("float ", tok_.raw, " is out of range for f64 (write inf, or 0.0)"));
    next();
    return d;
  }

  Lexer lex_;
  Token tok_;
  int regionDepth_ = 0;
};

} // namespace

std::string printAttr(const Attr &a) {
  std::string out;
  printAttrTo(a, out);
  return out;
}

std::string printNode(const Node &n) {
  std::string out;
  printNodeHeader(n, out);
  return out;
}

std::string print(const Graph &g) {
  std::string out = "func @" + g.name + "(";
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (i) out += ", ";
    out += valueRef(g.inputs[i]);
    out += ": ";
    out += g.inputs[i] ? g.inputs[i]->type.str() : std::string("<null>");
  }
  out += ") -> (";
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (i) out += ", ";
    out += g.outputs[i] ? g.outputs[i]->type.str() : std::string("<null>");
  }
  out += ") {\n";
  printBody(g, 2, "return", out);
  out += "}\n";
  return out;
}

void print(const Graph &g, std::ostream &os) { os << print(g); }

std::ostream &operator<<(std::ostream &os, const Graph &g) { return os << print(g); }

std::unique_ptr<Graph> parse(std::string_view text) { return Parser(text).parseFunction(); }

} // namespace dt::ir
