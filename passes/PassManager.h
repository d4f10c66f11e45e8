// The pass manager: a registry of named passes and a pipeline ("autodiff,simplify,cse,dce")
// that runs them in order, verifying and printing the IR between passes on request.
#pragma once

#include "ir/Graph.h"

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dt::passes {

/// Every pass has this one signature: it takes the graph and returns the graph to continue
/// with: the same one edited in place (simplify, cse, dce) or a new one (autodiff).
using PassFn = std::function<std::unique_ptr<ir::Graph>(std::unique_ptr<ir::Graph>)>;

struct PassInfo {
  std::string name;
  std::string doc; ///< one line, for `dtc --help` and errors
  PassFn fn;
};

/// Adds a pass to the registry (replacing one of the same name). Built-in passes are in the
/// table in PassManager.cpp; a pass in another file may also register itself here.
void registerPass(std::string name, std::string doc, PassFn fn);
/// nullptr for an unknown name.
const PassInfo *findPass(std::string_view name);
/// All registered passes, sorted by name.
std::vector<const PassInfo *> allPasses();

/// The pipeline entry `autodiff`: differentiates output 0 (any float tensor) with respect to
/// every float input, by autodiff(g, {{0}, float inputs}): the result gains one cotangent
/// input `%d_<output>` (feed ones for a scalar loss) and one gradient output per float input.
/// Throws dt::ValueError when the graph has no outputs, output 0 is not float, or no input is.
std::unique_ptr<ir::Graph> autodiffAll(const ir::Graph &g);

/// Splits "a,b,c" into pass names (spaces around names allowed). Throws dt::ValueError for an
/// empty name or a name not registered, listing the known passes.
std::vector<std::string> parsePipeline(std::string_view spec);

struct PassOptions {
  bool verifyEach = true;     ///< run ir::verify after every pass; a failure names the pass
  bool printAfterAll = false; ///< print the IR after every pass
  bool printChanged = false;  ///< print the IR after a pass only when its text changed
  std::ostream *out = nullptr; ///< where to print (required when printing is on)
};

class PassManager {
public:
  explicit PassManager(PassOptions opts = {}) : opts_(opts) {}
  /// Appends a registered pass (dt::ValueError for an unknown name).
  void addPass(std::string_view name);
  /// Appends every pass of a pipeline string.
  void addPipeline(std::string_view spec);
  const std::vector<std::string> &pipeline() const { return names_; }
  /// Runs the passes in order. Printed IR is preceded by `// ----- IR after NAME -----`.
  /// Errors from a pass or from verifying its output are rethrown with the same type and the
  /// message prefixed by "pass 'NAME': " (verification: "pass 'NAME' produced invalid IR: ").
  std::unique_ptr<ir::Graph> run(std::unique_ptr<ir::Graph> g) const;

private:
  PassOptions opts_;
  std::vector<std::string> names_;
};

/// parsePipeline + PassManager::run in one call.
std::unique_ptr<ir::Graph> runPipeline(std::unique_ptr<ir::Graph> g, std::string_view spec,
                                       const PassOptions &opts = {});

} // namespace dt::passes
