// Compile mode (DESIGN section 6): a Trace records what a function does to tensors into one
// ir::Graph instead of running it, then compiles that graph and runs it as one Program.
//
// While a trace is active on a thread, dt::apply adds a node per op and returns a *traced*
// tensor (no storage, only an ir::Value). A concrete tensor an op reads — an argument, a module
// parameter, optimizer state — becomes a graph input ("source"), bound to the same memory at
// every run. backward() inside the trace runs the VJP graph through dt::apply, so the backward
// lands in the same graph. In-place writes are functionalized: the written tensor's source gets
// a new current value, and that value becomes a graph output that each run writes back into the
// tensor's memory. `.grad` changes (zero_grad, backward) are undone when the trace ends and
// redone by each run. Anything that needs a value (item(), bool(t), numpy()) throws TraceError.
//
// Tensors created during the trace and still alive when it ends ("escaped": e.g. optimizer
// state made on the first step) make the compiled program valid for that one call only: the
// caller retraces next time, when that state is an ordinary source.
#pragma once

#include "frontend/Tensor.h"
#include "runtime/Program.h"

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dt {

/// The pass pipeline of every compile: dt.compile's programs and eager backward graphs.
inline constexpr const char *kCompilePipeline = "simplify,cse,dce,fusion";

/// An operation that needs a concrete value was called on a traced tensor.
struct TraceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Throws TraceError for `what` (e.g. "bool(t)") on a traced tensor, naming the alternatives.
[[noreturn]] void traceValueNeeded(const std::string &what);

class Trace;
/// The trace active on this thread, or null.
Trace *activeTrace();
/// Whether reading `t`'s values now would be wrong: a trace is active and `t` is traced, or is
/// memory from outside the trace (an argument, a parameter: its value at trace time would be
/// baked into every later call). Tensors the trace itself created are readable.
bool traceHidesValue(const TensorImpl &t);

/// What a graph input of a trace reads at each run.
struct TraceSource {
  enum class Kind { Arg, Captured, Constant };
  Kind kind = Kind::Captured;
  int arg = -1;                            ///< Arg: the argument's index
  std::shared_ptr<rt::Buffer> storage;     ///< Captured/Constant: the memory (kept alive)
  int64_t offset = 0;                      ///< the view of `storage`, in elements
  std::vector<int64_t> strides;
  ir::Type type;
  ir::Value *initial = nullptr;            ///< the graph input (or const node) read first
  ir::Value *current = nullptr;            ///< the value after in-place writes so far
  bool createdInTrace = false;             ///< its memory was allocated during the trace
  std::weak_ptr<TensorImpl> seen;          ///< the first tensor seen for it (for guards)
  bool seenRequiresGrad = false;
  std::string label;                       ///< for messages: "argument 0", "captured f32[2,8]"
};

struct TraceStats {
  int64_t nodes = 0, inputs = 0, outputs = 0, writebacks = 0, kernels = 0;
  int64_t plannedBytes = 0, unplannedBytes = 0; ///< memory of one run with / without the memory plan
  double traceSeconds = 0, passSeconds = 0, codegenSeconds = 0;
};

class Trace {
public:
  explicit Trace(std::string name);
  ~Trace();
  Trace(const Trace &) = delete;
  Trace &operator=(const Trace &) = delete;

  // --- tracing ----------------------------------------------------------------------------
  /// Makes this trace the thread's active one (TraceError if one already is).
  void begin();
  /// Binds argument `index` (call in order, after begin()).
  void addArg(const Tensor &arg);
  /// Stops tracing: `outputs` are the function's tensor results. Undoes the `.grad` changes.
  void end(const std::vector<Tensor> &outputs);
  /// Stops tracing after an error: undoes the `.grad` changes; the trace is unusable.
  void abort();
  /// After end(), once the caller dropped its references to traced tensors: finds escaped
  /// tensors, builds the graph's outputs, and compiles with the pass pipeline `passes`.
  void compile(const std::string &passes);

  // --- hooks (frontend only) ---------------------------------------------------------------
  /// The node for an op on traced/concrete operands; returns the traced result.
  Tensor node(const ir::OpDef &def, const std::vector<Tensor> &operands, const ir::AttrMap &attrs, const ir::Type &t);
  /// x = value (same type) as an in-place write.
  void write(const Tensor &x, const Tensor &value);
  /// `leaf.grad` is about to change.
  void noteGradWrite(const std::shared_ptr<TensorImpl> &leaf);
  /// backward()/grad() of these outputs starts (the first one marks the end of the forward).
  void noteBackward(const std::vector<Tensor> &roots);
  /// A traced tensor with the value of `t` (traced by this trace) that is no view of anything.
  Tensor ownValue(const Tensor &t);
  /// A tensor impl was created: `allocated` when its memory is new (escape tracking).
  void noteCreated(const std::shared_ptr<TensorImpl> &impl, bool allocated);
  uint64_t id() const { return id_; }
  bool createdHere(const TensorImpl &t) const { return !t.traced && createdStorage_.count(t.storage.get()) > 0; }

  // --- after compile() -----------------------------------------------------------------------
  /// Runs the compiled program on `args` (same types as at trace time), writes back in-place
  /// updates and `.grad`s, and returns the function's outputs.
  std::vector<Tensor> run(const std::vector<Tensor> &args);
  /// The same, on tensors the caller keeps alive for the call (no copies of the arguments).
  std::vector<Tensor> run(std::span<const Tensor *const> args);
  /// Empty when the guards hold, else why not (a captured tensor changed, ...).
  std::string checkGuards() const;
  /// Whether tensors created during the trace escaped (the program then serves one call).
  bool escaped() const { return !escapes_.empty(); }
  const std::vector<std::string> &escapes() const { return escapes_; }
  /// "traced" (the forward, up to the first backward), "grad" (the whole step as traced),
  /// "optimized", "fused".
  std::string stage(const std::string &name) const;
  std::vector<std::string> stageNames() const { return {"traced", "grad", "optimized", "fused"}; }
  std::string assembly() const;
  const TraceStats &stats() const { return stats_; }
  const std::vector<TraceSource> &sources() const { return sources_; }

private:
  struct GradRecord {
    std::shared_ptr<TensorImpl> leaf, original;
    int arg = -1; ///< the argument the leaf is, or -1
    enum class Action { None, SetNone, SetOutput, SetTensor } action = Action::None;
    int output = -1;
    ir::Value *value = nullptr;         ///< SetOutput: the final gradient
    std::shared_ptr<TensorImpl> tensor; ///< SetTensor
  };
  struct Writeback {
    int source;
    int output;
  };

  ir::Value *valueOf(const Tensor &x);
  int sourceOf(const Tensor &x, bool create);
  Tensor traced(ir::Value *v, bool isView);
  void deactivate();

  std::string name_;
  uint64_t id_;
  bool active_ = false, ended_ = false, compiled_ = false;
  std::unique_ptr<ir::Graph> graph_;
  std::vector<TraceSource> sources_;
  std::unordered_map<std::string, int> sourceKey_; ///< view key -> source
  std::vector<std::shared_ptr<TensorImpl>> args_;
  std::vector<GradRecord> grads_;
  std::vector<std::weak_ptr<TensorImpl>> created_;
  std::unordered_set<const rt::Buffer *> createdStorage_;
  std::vector<ir::Value *> userOutputs_;
  std::vector<Writeback> writebacks_;
  /// Per graph output: the graph input whose buffer the memory plan computes it into (a
  /// donated write-back: the program updates that memory in place), or -1.
  std::vector<int> donatedInput_;
  struct Escape {
    std::weak_ptr<TensorImpl> impl;
    int output;
  };
  std::vector<Escape> materialize_;
  std::vector<std::string> escapes_;
  size_t forwardNodes_ = 0;
  std::vector<ir::Value *> forwardRoots_;
  bool sawBackward_ = false;
  std::unordered_map<std::string, std::string> stages_;
  std::unique_ptr<ir::Graph> fused_;
  rt::Program program_;
  /// What run() binds to each graph input, fixed at compile(): an argument, or a captured
  /// tensor's memory (`fixed`, when its view is dense: the same buffer every run), or a view
  /// copied at each run.
  struct RunInput {
    int arg = -1;
    int source = -1;
    std::shared_ptr<rt::Buffer> fixed;
  };
  std::vector<RunInput> runInputs_;
  std::vector<Tensor> sourceViews_; ///< per source: its view of captured memory (undefined for arguments)
  std::vector<size_t> argInputs_;   ///< the runInputs_ bound to arguments
  /// Per graph output that writes back into captured memory: that memory as one buffer (when
  /// dense and not donated) and whether it, or the donated input's buffer, overlaps another
  /// captured input (then the program cannot write it in place).
  struct OutPlan {
    std::shared_ptr<rt::Buffer> fixedDest;
    bool fixedClash = false;
  };
  std::vector<OutPlan> outPlans_;
  /// Per GradRecord: whether the trace read the .grad it started with through a captured source
  /// (then a .grad replaced since is a failed guard).
  std::vector<bool> gradRead_;
  void planRun();
  bool ranOnce_ = false;
  TraceStats stats_;
};

} // namespace dt
