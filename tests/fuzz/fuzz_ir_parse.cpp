// libFuzzer target for the IR text front end: ir::parse, then ir::verify, then the round trip
// print -> parse -> print of every graph that verifies. Build and run with `make fuzz`.
//
// The contract (DESIGN section 3): bad text is a dt::ValueError / TypeError / IndexError with a
// line:col, never a crash, a hang, an internal assertion (std::logic_error from DT_ASSERT) or
// undefined behaviour; a verified graph prints to text that parses to an equal graph and prints
// byte-identically. Anything else escapes (an uncaught exception aborts) or traps, and libFuzzer
// saves the input.
#include "ir/Error.h"
#include "ir/Graph.h"
#include "ir/Text.h"
#include "ir/Verifier.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace {

/// Runs f; true when it completed, false when it threw a user error (which is allowed).
template <typename F> bool userErrorsAllowed(F f) {
  try {
    f();
    return true;
  } catch (const dt::ValueError &) {
  } catch (const dt::TypeError &) {
  } catch (const dt::IndexError &) {
  }
  return false;
}

[[noreturn]] void fail(const char *what, const std::string &a, const std::string &b) {
  std::fprintf(stderr, "fuzz_ir_parse: %s\n--- first ---\n%s\n--- second ---\n%s\n", what, a.c_str(), b.c_str());
  __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::unique_ptr<dt::ir::Graph> g;
  if (!userErrorsAllowed([&] { g = dt::ir::parse(text); })) return 0;
  if (!userErrorsAllowed([&] { dt::ir::verify(*g); })) return 0;
  std::string first = dt::ir::print(*g);
  std::unique_ptr<dt::ir::Graph> again;
  try {
    again = dt::ir::parse(first);
    dt::ir::verify(*again);
  } catch (const std::exception &e) {
    fail("a verified graph's printed text does not parse and verify again", first, e.what());
  }
  std::string second = dt::ir::print(*again);
  if (second != first) fail("printing the reparsed graph gives different text", first, second);
  // Graph::equals compares float attributes with ==, so a NaN literal never equals itself
  // (reported; the identical text above covers those graphs).
  if (first.find("nan") == std::string::npos && !g->equals(*again))
    fail("the reparsed graph differs from the original", first, second);
  return 0;
}
