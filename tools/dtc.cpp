// dtc, the command-line driver (like mlir-opt / toyc): parses and verifies IR text, then
// prints it, runs it, optimizes it with a pass pipeline, shows its generated code, or lists the
// op registry.
#include "frontend/Array.h"
#include "frontend/GraphBuilder.h"
#include "frontend/Inspect.h"
#include "frontend/Passes.h"
#include "ir/Error.h"
#include "ir/Ops.h"
#include "ir/Text.h"
#include "ir/Verifier.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace dt;

constexpr const char *kHelp = R"(dtc - the dumbtorch IR driver

usage:
  dtc print FILE.ir                 parse, verify and print the IR canonically
  dtc run FILE.ir [--inputs A.npy B.npy ...] [--seed N] [--interp]
                                    run the graph (JIT; --interp: reference interpreter) on
                                    the given .npy inputs, or on random ones (seeded, default
                                    seed 0: floats uniform in [-1,1], i64 in [-5,5], bools)
                                    and print each output as `%name: type = values`
  dtc opt --passes=P1,P2,... [--print-after-all] [--print-changed] [--no-verify] FILE.ir
                                    run the passes in order and print the resulting IR on
                                    stdout. --print-after-all prints the IR after every pass,
                                    --print-changed only after passes that changed it, each
                                    preceded by `// ----- IR after NAME -----`, also on stdout
                                    (before the final IR). The IR is verified after every
                                    pass unless --no-verify. Passes:
@PASSES@  dtc emit-llvm FILE.ir [--O0]      the generated LLVM IR (optimized unless --O0)
  dtc emit-asm FILE.ir              the generated host assembly
  dtc ops [--markdown]              list the op registry (--markdown: the table of docs/ir.md)
  dtc --help                        this text

FILE may be '-' for standard input. Options may come before or after FILE.
Exit status: 0 success, 1 bad input (the error is on stderr as FILE:LINE:COL: message),
2 bad command line, 3 internal error (a dumbtorch bug).
)";

/// A bad command line (exit status 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A user error already formatted for stderr (exit status 1).
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string displayName(const std::string &path) { return path == "-" ? "<stdin>" : path; }

std::string readFile(const std::string &path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(fmt(path, ": is a directory, not a file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt(path, ": cannot open the file (", std::strerror(errno), ")"));
  try {
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw std::ios_base::failure("read error");
    return ss.str();
  } catch (const std::exception &) {
    throw InputError(fmt(path, ": cannot read the file"));
  }
}

/// "file:3:14: msg" when msg starts with a location, else "file: msg".
std::string withFile(const std::string &path, const std::string &msg) {
  size_t i = 0;
  auto digits = [&] {
    size_t s = i;
    while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9') ++i;
    return i > s;
  };
  bool located = digits() && i < msg.size() && msg[i++] == ':' && digits() && i < msg.size() && msg[i] == ':';
  return displayName(path) + (located ? ":" : ": ") + msg;
}

std::unique_ptr<ir::Graph> loadGraph(const std::string &path) {
  std::string text = readFile(path);
  try {
    auto g = ir::parse(text);
    ir::verify(*g);
    return g;
  } catch (const ValueError &e) {
    throw InputError(withFile(path, e.what()));
  } catch (const TypeError &e) {
    throw InputError(withFile(path, e.what()));
  } catch (const IndexError &e) {
    throw InputError(withFile(path, e.what()));
  }
}

// --- command-line parsing ---------------------------------------------------------------------

struct Args {
  std::string file;
  std::vector<std::string> inputs;
  bool haveInputs = false;
  uint64_t seed = 0;
  bool interp = false, o0 = false, markdown = false;
  std::string passes;
  bool havePasses = false, printAfterAll = false, printChanged = false, noVerify = false;
};

bool endsWith(const std::string &s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Parses the arguments after the subcommand; `allowed` lists the options it takes.
Args parseArgs(const std::string &cmd, const std::vector<std::string> &argv, std::vector<std::string_view> allowed,
               bool wantsFile) {
  Args a;
  auto allows = [&](std::string_view o) { return std::find(allowed.begin(), allowed.end(), o) != allowed.end(); };
  bool haveFile = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string &s = argv[i];
    if (s.size() > 1 && s[0] == '-') {
      if (s.rfind("--passes=", 0) == 0 && allows("--passes")) {
        a.passes = s.substr(9);
        a.havePasses = true;
        continue;
      }
      if (!allows(s)) throw UsageError(fmt("'", cmd, "' does not take the option '", s, "'"));
      if (s == "--inputs") {
        a.haveInputs = true;
        // The .npy files follow; anything else (the IR file, an option) ends the list.
        while (i + 1 < argv.size() && endsWith(argv[i + 1], ".npy")) a.inputs.push_back(argv[++i]);
      } else if (s == "--seed") {
        if (i + 1 >= argv.size()) throw UsageError("--seed needs a number");
        const std::string &n = argv[++i];
        auto r = std::from_chars(n.data(), n.data() + n.size(), a.seed);
        if (r.ec != std::errc() || r.ptr != n.data() + n.size())
          throw UsageError(fmt("--seed needs a non-negative integer, got '", n, "'"));
      } else if (s == "--interp") {
        a.interp = true;
      } else if (s == "--O0") {
        a.o0 = true;
      } else if (s == "--markdown") {
        a.markdown = true;
      } else if (s == "--print-after-all") {
        a.printAfterAll = true;
      } else if (s == "--print-changed") {
        a.printChanged = true;
      } else if (s == "--no-verify") {
        a.noVerify = true;
      }
      continue;
    }
    if (!wantsFile) throw UsageError(fmt("'", cmd, "' takes no file, got '", s, "'"));
    if (haveFile) throw UsageError(fmt("'", cmd, "' takes one file, got '", a.file, "' and '", s, "'"));
    a.file = s;
    haveFile = true;
  }
  if (wantsFile && !haveFile) throw UsageError(fmt("'", cmd, "' needs an IR file (or '-' for stdin)"));
  return a;
}

// --- .npy input ---------------------------------------------------------------------------------

/// The value of `'key':` in a .npy header dict, as raw text up to the next top-level ',' or '}'.
std::string npyField(const std::string &header, const std::string &key, const std::string &file) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) throw InputError(fmt(file, ": the .npy header has no '", key, "' field"));
  size_t c = header.find(':', k);
  if (c == std::string::npos) throw InputError(fmt(file, ": malformed .npy header near '", key, "'"));
  size_t i = c + 1, depth = 0;
  std::string out;
  for (; i < header.size(); ++i) {
    char ch = header[i];
    if (ch == '(') ++depth;
    if (ch == ')') {
      if (depth == 0) break;
      --depth;
    }
    if (depth == 0 && (ch == ',' || ch == '}')) break;
    out += ch;
  }
  size_t b = out.find_first_not_of(" "), e = out.find_last_not_of(" ");
  return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

Array readNpy(const std::string &path) {
  std::string bytes = readFile(path);
  auto bad = [&](const std::string &why) { return InputError(fmt(path, ": not a valid .npy file: ", why)); };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw bad("missing the \\x93NUMPY magic");
  auto major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen = 0, headerStart = 0;
  if (major == 1) {
    headerLen = size_t(static_cast<unsigned char>(bytes[8])) | size_t(static_cast<unsigned char>(bytes[9])) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw bad("truncated header");
    for (int i = 3; i >= 0; --i) headerLen = headerLen << 8 | static_cast<unsigned char>(bytes[8 + i]);
    headerStart = 12;
  } else {
    throw bad(fmt("unsupported format version ", int(major)));
  }
  if (headerLen > bytes.size() - headerStart) throw bad("truncated header");
  std::string header = bytes.substr(headerStart, headerLen);
  size_t dataStart = headerStart + headerLen;

  std::string descr = npyField(header, "descr", path);
  ir::DType dt;
  if (descr == "'<f4'") dt = ir::DType::F32;
  else if (descr == "'<f8'") dt = ir::DType::F64;
  else if (descr == "'<i8'") dt = ir::DType::I64;
  else if (descr == "'|b1'" || descr == "'<b1'") dt = ir::DType::Bool;
  else throw InputError(fmt(path, ": unsupported .npy dtype ", descr, " (expected '<f4', '<f8', '<i8' or '|b1')"));
  std::string order = npyField(header, "fortran_order", path);
  if (order == "True") throw InputError(fmt(path, ": Fortran-order arrays are not supported (save a C-order copy)"));
  if (order != "False") throw bad(fmt("fortran_order is ", order));

  std::string shapeText = npyField(header, "shape", path);
  if (shapeText.size() < 2 || shapeText.front() != '(' || shapeText.back() != ')')
    throw bad(fmt("shape ", shapeText, " is not a tuple"));
  ir::Shape shape;
  std::string inner = shapeText.substr(1, shapeText.size() - 2);
  size_t i = 0;
  int64_t count = 1;
  while (i < inner.size()) {
    while (i < inner.size() && (inner[i] == ' ' || inner[i] == ',')) ++i;
    if (i >= inner.size()) break;
    int64_t d = 0;
    auto r = std::from_chars(inner.data() + i, inner.data() + inner.size(), d);
    if (r.ec != std::errc() || d < 0) throw bad(fmt("shape ", shapeText, " is not a tuple of sizes"));
    if (d != 0 && (__builtin_mul_overflow(count, d, &count) || count > (int64_t(1) << 56)))
      throw bad(fmt("shape ", shapeText, " is too large"));
    shape.push_back(d);
    i = size_t(r.ptr - inner.data());
  }
  ir::Type t{dt, shape};
  if (bytes.size() - dataStart != t.bytes())
    throw bad(fmt("an array of ", t.str(), " needs ", t.bytes(), " data bytes, the file has ",
                  bytes.size() - dataStart));
  static_assert(std::endian::native == std::endian::little, "the .npy reader assumes a little-endian host");
  Array a = Array::zeros(t);
  if (t.bytes()) std::memcpy(a.buffer->data(), bytes.data() + dataStart, t.bytes());
  if (dt == ir::DType::Bool) {
    auto *p = static_cast<unsigned char *>(a.buffer->data());
    for (int64_t k = 0; k < t.numel(); ++k) p[k] = p[k] != 0;
  }
  return a;
}

// --- run ----------------------------------------------------------------------------------------

/// Seeded inputs from a fixed formula (not std:: distributions, whose output is unspecified).
Array randomInput(const ir::Type &t, std::mt19937_64 &rng) {
  std::vector<double> vals(size_t(t.numel()));
  for (double &v : vals) {
    uint64_t x = rng();
    switch (t.dtype) {
    case ir::DType::F32:
    case ir::DType::F64: v = -1.0 + 2.0 * double(x >> 11) * 0x1.0p-53; break;
    case ir::DType::I64: v = double(int64_t(x % 11) - 5); break;
    case ir::DType::Bool: v = double(x >> 63); break;
    }
  }
  return Array::fromValues(t.dtype, t.shape, vals);
}

int cmdRun(const Args &a) {
  auto g = loadGraph(a.file);
  std::vector<Array> inputs;
  if (a.haveInputs) {
    if (a.inputs.size() != g->inputs.size())
      throw InputError(fmt("@", g->name, " takes ", g->inputs.size(), " input", g->inputs.size() == 1 ? "" : "s",
                           " but --inputs gives ", a.inputs.size(), " .npy file", a.inputs.size() == 1 ? "" : "s"));
    for (size_t i = 0; i < a.inputs.size(); ++i) {
      Array arr = readNpy(a.inputs[i]);
      if (arr.type != g->inputs[i]->type)
        throw InputError(fmt(a.inputs[i], ": holds ", arr.type.str(), " but input %", g->inputs[i]->name, " of @",
                             g->name, " is ", g->inputs[i]->type.str()));
      inputs.push_back(std::move(arr));
    }
  } else {
    std::mt19937_64 rng(a.seed);
    for (const ir::Value *in : g->inputs) inputs.push_back(randomInput(in->type, rng));
  }
  std::vector<Array> outs = a.interp ? dt::interpret(*g, inputs) : dt::compile(*g)(inputs);
  for (size_t i = 0; i < outs.size() && i < g->outputs.size(); ++i) {
    std::string s = outs[i].str();
    std::string prefix = outs[i].type.str() + " ";
    std::string data = s.compare(0, prefix.size(), prefix) == 0 ? s.substr(prefix.size()) : s;
    std::cout << "%" << g->outputs[i]->name << ": " << outs[i].type.str() << " = " << data << "\n";
  }
  return 0;
}

// --- ops ----------------------------------------------------------------------------------------

std::string_view kindName(ir::OpKind k) {
  switch (k) {
  case ir::OpKind::Unary: return "unary";
  case ir::OpKind::Binary: return "binary";
  case ir::OpKind::Compare: return "compare";
  case ir::OpKind::Where: return "where";
  case ir::OpKind::Cast: return "cast";
  case ir::OpKind::Const: return "const";
  case ir::OpKind::MatMul: return "matmul";
  case ir::OpKind::Reduce: return "reduce";
  case ir::OpKind::ArgReduce: return "argreduce";
  case ir::OpKind::Layout: return "layout";
  case ir::OpKind::Indexing: return "indexing";
  case ir::OpKind::Kernel: return "kernel";
  }
  return "?";
}

std::string_view dtypesName(ir::DTypes d) {
  switch (d) {
  case ir::DTypes::Numeric: return "f32, f64, i64";
  case ir::DTypes::Float: return "f32, f64";
  case ir::DTypes::Any: return "f32, f64, i64, bool";
  }
  return "?";
}

std::string_view attrKindName(ir::AttrSpec::Kind k) {
  using K = ir::AttrSpec::Kind;
  switch (k) {
  case K::Int: return "int";
  case K::Float: return "float";
  case K::Bool: return "bool";
  case K::String: return "string";
  case K::Ints: return "ints";
  case K::Number: return "number";
  case K::Numbers: return "number or numbers";
  }
  return "?";
}

std::string arityStr(int arity) { return arity < 0 ? "any" : std::to_string(arity); }

std::string attrStatus(const ir::AttrSpec &s) {
  if (s.required) return "required";
  if (s.def) return "= " + ir::printAttr(*s.def);
  return "optional";
}

std::string mdEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

int cmdOps(const Args &a) {
  if (a.markdown) {
    std::cout << "| op | kind | operands | dtypes | attributes | description |\n"
              << "| --- | --- | --- | --- | --- | --- |\n";
    for (const ir::OpDef &d : ir::allOps()) {
      std::string attrs;
      for (const ir::AttrSpec &s : d.attrs) {
        if (!attrs.empty()) attrs += "<br>";
        std::string status = s.required ? "required" : s.def ? "default `" + ir::printAttr(*s.def) + "`" : "optional";
        attrs += fmt("`", s.name, "`: ", attrKindName(s.kind), ", ", status, " — ", mdEscape(s.doc));
      }
      std::cout << "| `" << d.name << "` | " << kindName(d.kind) << " | " << arityStr(d.arity) << " | "
                << dtypesName(d.dtypes) << " | " << attrs << " | " << mdEscape(d.doc) << " |\n";
    }
    return 0;
  }
  // Plain text: one line per op (columns sized to fit), then one indented line per attribute.
  auto pad = [](std::string s, size_t w) { return s.size() < w ? s + std::string(w - s.size(), ' ') : s; };
  size_t wName = 0, wKind = 0, wArity = 0, wTypes = 0, wAttr = 0;
  auto arityOf = [](const ir::OpDef &d) { return arityStr(d.arity) + (d.arity == 1 ? " operand" : " operands"); };
  auto attrHead = [](const ir::AttrSpec &s) { return fmt(s.name, ": ", attrKindName(s.kind), " ", attrStatus(s)); };
  for (const ir::OpDef &d : ir::allOps()) {
    wName = std::max(wName, d.name.size());
    wKind = std::max(wKind, kindName(d.kind).size());
    wArity = std::max(wArity, arityOf(d).size());
    wTypes = std::max(wTypes, dtypesName(d.dtypes).size());
    for (const ir::AttrSpec &s : d.attrs) wAttr = std::max(wAttr, attrHead(s).size());
  }
  for (const ir::OpDef &d : ir::allOps()) {
    std::cout << pad(std::string(d.name), wName + 2) << pad(std::string(kindName(d.kind)), wKind + 2)
              << pad(arityOf(d), wArity + 2) << pad(std::string(dtypesName(d.dtypes)), wTypes + 2) << d.doc << "\n";
    for (const ir::AttrSpec &s : d.attrs) std::cout << "    " << pad(attrHead(s), wAttr + 2) << s.doc << "\n";
  }
  return 0;
}

/// `dtc opt`: the pipeline is checked before the file is read.
int cmdOpt(const Args &a) {
  if (!a.havePasses) throw UsageError("'opt' needs --passes=NAME,NAME,... (see 'dtc --help' for the passes)");
  PassOptions o;
  o.verifyEach = !a.noVerify;
  o.printAfterAll = a.printAfterAll;
  o.printChanged = a.printChanged;
  o.out = &std::cout;
  passes::parsePipeline(a.passes); // unknown names fail here, before reading the file
  auto g = loadGraph(a.file);
  try {
    g = runPipeline(std::move(g), a.passes, o);
  } catch (const ValueError &e) {
    throw InputError(withFile(a.file, e.what()));
  } catch (const TypeError &e) {
    throw InputError(withFile(a.file, e.what()));
  } catch (const IndexError &e) {
    throw InputError(withFile(a.file, e.what()));
  }
  std::cout << ir::print(*g);
  // The plan of the final graph, as comments (the output still parses).
  std::vector<std::string> names = passes::parsePipeline(a.passes);
  if (std::find(names.begin(), names.end(), "memory-plan") != names.end()) std::cout << printMemoryPlan(*g, memoryPlan(*g));
  return 0;
}

/// The help text with the registered passes listed.
std::string helpText() {
  std::string list;
  for (const passes::PassInfo *p : allPasses()) {
    std::string line = "                                      " + p->name;
    line.resize(std::max<size_t>(line.size() + 1, 50), ' ');
    list += line + p->doc + "\n";
  }
  std::string h = kHelp;
  h.replace(h.find("@PASSES@"), 8, list);
  return h;
}

int dispatch(const std::vector<std::string> &args) {
  if (args.empty()) throw UsageError("missing a command");
  const std::string &cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << helpText();
    return 0;
  }
  if (cmd == "print") {
    Args a = parseArgs(cmd, rest, {}, true);
    std::cout << ir::print(*loadGraph(a.file));
    return 0;
  }
  if (cmd == "run") return cmdRun(parseArgs(cmd, rest, {"--inputs", "--seed", "--interp"}, true));
  if (cmd == "emit-llvm") {
    Args a = parseArgs(cmd, rest, {"--O0"}, true);
    std::cout << dt::emitLLVM(*loadGraph(a.file), !a.o0);
    return 0;
  }
  if (cmd == "emit-asm") {
    Args a = parseArgs(cmd, rest, {}, true);
    std::cout << dt::emitAsm(*loadGraph(a.file));
    return 0;
  }
  if (cmd == "opt")
    return cmdOpt(parseArgs(cmd, rest, {"--passes", "--print-after-all", "--print-changed", "--no-verify"}, true));
  if (cmd == "ops") return cmdOps(parseArgs(cmd, rest, {"--markdown"}, false));
  throw UsageError(fmt("unknown command '", cmd, "'"));
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string &s : args)
    if (s == "--help" || s == "-h") {
      std::cout << helpText();
      return 0;
    }
  try {
    return dispatch(args);
  } catch (const UsageError &e) {
    std::cerr << "dtc: " << e.what() << "\n(run 'dtc --help' for usage)\n";
    return 2;
  } catch (const InputError &e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const dt::ValueError &e) {
    std::cerr << "dtc: error: " << e.what() << "\n";
    return 1;
  } catch (const dt::TypeError &e) {
    std::cerr << "dtc: error: " << e.what() << "\n";
    return 1;
  } catch (const dt::IndexError &e) {
    std::cerr << "dtc: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception &e) {
    std::cerr << "dtc: internal error: " << e.what() << "\n";
    return 3;
  } catch (...) {
    std::cerr << "dtc: internal error: unknown exception\n";
    return 3;
  }
}
