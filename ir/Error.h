// The user-error channel: exceptions that the Python layer maps to ValueError / TypeError /
// IndexError / RuntimeError. Broken invariants of our own use DT_ASSERT instead.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace dt {

/// Bad value or shape from the user (Python ValueError).
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
/// Bad dtype or argument kind (Python TypeError).
struct TypeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
/// Index out of range (Python IndexError).
struct IndexError : std::out_of_range {
  using std::out_of_range::out_of_range;
};

/// Builds a message from stream pieces: fmt("expected ", n, " got ", m).
template <typename... Args> std::string fmt(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void assertionFailed(const char *cond, const char *file, int line, const std::string &msg);

} // namespace dt

/// An internal invariant; failing it is our bug, reported as std::logic_error (never abort()).
#define DT_ASSERT(cond, ...)                                                                     \
  do {                                                                                           \
    if (!(cond))                                                                                 \
      ::dt::assertionFailed(#cond, __FILE__, __LINE__, ::dt::fmt("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
