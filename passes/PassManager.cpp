// The pass manager: registry, pipeline parsing, and running with verify/print between passes.
#include "passes/PassManager.h"

#include "ir/Error.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/Cse.h"
#include "passes/Dce.h"
#include "passes/Fusion.h"
#include "passes/MemoryPlan.h"
#include "passes/Simplify.h"

#include <algorithm>
#include <map>
#include <ostream>

namespace dt::passes {
namespace {

/// Wraps an in-place pass into the uniform signature.
template <typename F> PassFn inPlace(F f) {
  return [f](std::unique_ptr<ir::Graph> g) {
    f(*g);
    return g;
  };
}

std::map<std::string, PassInfo, std::less<>> &registry() {
  // The built-in passes. To add a pass, add one line here (or call registerPass from your own
  // code): {"name", "one-line doc", inPlace(fn)} for an in-place pass `int fn(ir::Graph &)`.
  static std::map<std::string, PassInfo, std::less<>> table = [] {
    std::map<std::string, PassInfo, std::less<>> t;
    for (PassInfo p : std::vector<PassInfo>{
             {"autodiff", "differentiate output 0 with respect to every float input",
              [](std::unique_ptr<ir::Graph> g) { return autodiffAll(*g); }},
             {"simplify", "constant folding and algebraic identities", inPlace(simplify)},
             {"cse", "common-subexpression elimination", inPlace(cse)},
             {"dce", "dead-code elimination", inPlace(dce)},
             {"fusion", "fuse elementwise chains, reductions and matmul epilogues into kernel nodes", inPlace(fusion)},
             {"memory-plan", "plan buffer reuse by liveness (graph unchanged; dtc opt prints the plan)", inPlace(memoryPlanPass)},
         })
      t.emplace(p.name, std::move(p));
    return t;
  }();
  return table;
}

std::string knownPasses() {
  std::string s;
  for (const PassInfo *p : allPasses()) s += (s.empty() ? "" : ", ") + p->name;
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Runs f; rethrows a user error with the same type and `prefix` before its message.
template <typename F> auto prefixed(const std::string &prefix, F f) {
  try {
    return f();
  } catch (const ValueError &e) {
    throw ValueError(prefix + e.what());
  } catch (const TypeError &e) {
    throw TypeError(prefix + e.what());
  } catch (const IndexError &e) {
    throw IndexError(prefix + e.what());
  }
}

} // namespace

void registerPass(std::string name, std::string doc, PassFn fn) {
  registry().insert_or_assign(name, PassInfo{name, std::move(doc), std::move(fn)});
}

const PassInfo *findPass(std::string_view name) {
  auto &t = registry();
  auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

std::vector<const PassInfo *> allPasses() {
  std::vector<const PassInfo *> r;
  for (const auto &[name, p] : registry()) r.push_back(&p);
  return r;
}

std::unique_ptr<ir::Graph> autodiffAll(const ir::Graph &g) {
  if (g.outputs.empty()) throw ValueError("autodiff: the graph has no outputs to differentiate");
  if (!ir::isFloat(g.outputs[0]->type.dtype))
    throw ValueError("autodiff: output 0 must be float (f32 or f64), got " + g.outputs[0]->type.str());
  GradSpec spec{{0}, {}};
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (ir::isFloat(g.inputs[i]->type.dtype)) spec.wrt.push_back(int(i));
  if (spec.wrt.empty()) throw ValueError("autodiff: the graph has no float input to differentiate with respect to");
  return autodiff(g, spec);
}

std::vector<std::string> parsePipeline(std::string_view spec) {
  std::vector<std::string> names;
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    std::string_view name = trim(spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start));
    if (name.empty())
      throw ValueError("empty pass name in pipeline '" + std::string(spec) + "' (known passes: " + knownPasses() + ")");
    if (!findPass(name))
      throw ValueError("unknown pass '" + std::string(name) + "' (known passes: " + knownPasses() + ")");
    names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return names;
}

void PassManager::addPass(std::string_view name) {
  if (!findPass(name))
    throw ValueError("unknown pass '" + std::string(name) + "' (known passes: " + knownPasses() + ")");
  names_.emplace_back(name);
}

void PassManager::addPipeline(std::string_view spec) {
  for (std::string &n : parsePipeline(spec)) names_.push_back(std::move(n));
}

std::unique_ptr<ir::Graph> PassManager::run(std::unique_ptr<ir::Graph> g) const {
  DT_ASSERT(g, "PassManager::run: null graph");
  bool printing = opts_.printAfterAll || opts_.printChanged;
  DT_ASSERT(!printing || opts_.out, "PassManager: printing requested without an output stream");
  for (const std::string &name : names_) {
    const PassInfo *p = findPass(name);
    DT_ASSERT(p, "pass '" + name + "' vanished from the registry");
    std::string before = opts_.printChanged && !opts_.printAfterAll ? ir::print(*g) : std::string();
    g = prefixed("pass '" + name + "': ", [&] { return p->fn(std::move(g)); });
    DT_ASSERT(g, "pass '" + name + "' returned no graph");
    if (opts_.verifyEach)
      prefixed("pass '" + name + "' produced invalid IR: ", [&] { ir::verify(*g); });
    if (printing) {
      std::string after = ir::print(*g);
      if (opts_.printAfterAll || after != before) *opts_.out << "// ----- IR after " << name << " -----\n" << after;
    }
  }
  return g;
}

std::unique_ptr<ir::Graph> runPipeline(std::unique_ptr<ir::Graph> g, std::string_view spec, const PassOptions &opts) {
  PassManager pm(opts);
  pm.addPipeline(spec);
  return pm.run(std::move(g));
}

} // namespace dt::passes
