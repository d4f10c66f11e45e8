// Trace: records a function's tensor ops into one graph (see Trace.h), compiles it through the
// pass pipeline and codegen, and runs it with the write-backs that make a compiled call leave
// the same state as an eager one.
#include "frontend/Trace.h"

#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/Text.h"
#include "ir/Verifier.h"
#include "passes/Dce.h"
#include "passes/MemoryPlan.h"
#include "passes/PassManager.h"
#include "runtime/Copy.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <unordered_set>

namespace dt {

namespace {

thread_local Trace *tActive = nullptr;
std::atomic<uint64_t> gNextTraceId{1};

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// What identifies a view of memory: a tensor read twice through equal views is one source.
std::string viewKey(const TensorImpl &t) {
  std::string k = fmt(static_cast<const void *>(t.storage.get()), '@', t.offset, ':', ir::dtypeName(t.dtype), '[');
  for (int64_t d : t.shape) k += std::to_string(d) + ",";
  k += "]/";
  for (int64_t s : t.strides) k += std::to_string(s) + ",";
  return k;
}

/// `t`'s memory as one dense buffer (no copy when contiguous).
std::shared_ptr<rt::Buffer> denseBuffer(const Tensor &t) {
  size_t bytes = t.type().bytes();
  const std::shared_ptr<rt::Buffer> &storage = t.impl().storage;
  if (t.isContiguous() && storage && t.data() == storage->data() && bytes == storage->size()) return storage; // all of it
  if (t.isContiguous()) return rt::Buffer::wrap(t.data(), bytes, storage);
  auto b = rt::Buffer::allocate(bytes);
  if (bytes)
    rt::copyStrided(b->data(), t.data(), ir::dtypeSize(t.dtype()), int(t.dim()), t.shape().data(), t.strides().data());
  return b;
}

/// dst (any strides) = the dense bytes of `src`.
void copyInto(const Tensor &dst, const rt::Buffer &src) {
  size_t bytes = dst.type().bytes();
  DT_ASSERT(src.size() == bytes, "write-back of ", src.size(), " bytes into ", dst.type().str());
  if (!bytes) return;
  if (dst.isContiguous()) std::memcpy(dst.data(), src.data(), bytes);
  else
    rt::copyToStrided(dst.data(), dst.strides().data(), src.data(), ir::dtypeSize(dst.dtype()), int(dst.dim()),
                      dst.shape().data());
}

Tensor viewOf(const TraceSource &s) {
  return Tensor::fromBuffer(s.type.dtype, s.type.shape, s.storage, s.strides, s.offset);
}

/// The bytes a buffer covers, for overlap checks.
struct ByteSpan {
  const char *lo = nullptr, *hi = nullptr;
};
ByteSpan spanOf(const rt::Buffer &b) {
  const char *p = static_cast<const char *>(b.data());
  return {p, p + b.size()};
}
bool overlap(ByteSpan a, ByteSpan b) { return a.lo != a.hi && b.lo != b.hi && a.lo < b.hi && b.lo < a.hi; }

} // namespace

Trace *activeTrace() { return tActive; }

bool traceHidesValue(const TensorImpl &t) {
  if (!tActive) return t.traced != nullptr;
  return !tActive->createdHere(t);
}

void traceValueNeeded(const std::string &what) {
  throw TraceError(what + " needs a tensor's value, but dt.compile is tracing the function: traced tensors have no "
                          "values yet. Use dt.where(cond, a, b) instead of branching on a tensor, compute the value "
                          "outside the compiled function (or return it and read it after the call), or leave this "
                          "function eager.");
}

Trace::Trace(std::string name) : name_(std::move(name)), id_(gNextTraceId++), graph_(std::make_unique<ir::Graph>()) {
  // The graph's name must be an IR identifier: "<lambda>" -> "_lambda_", "Net.step" -> "Net_step".
  std::string id;
  for (char c : name_) id += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0]))) id = "f" + id;
  graph_->name = id;
}

Trace::~Trace() {
  if (active_) abort();
}

void Trace::begin() {
  if (tActive) throw TraceError("dt.compile: a trace is already active on this thread (compiled functions nest by "
                                "being traced into their caller)");
  DT_ASSERT(!ended_, "Trace::begin after end");
  tActive = this;
  active_ = true;
}

void Trace::deactivate() {
  if (tActive == this) tActive = nullptr;
  active_ = false;
}

void Trace::addArg(const Tensor &arg) {
  DT_ASSERT(active_, "addArg outside the trace");
  if (!arg.defined()) throw ValueError(fmt("dt.compile: argument ", args_.size(), " is an undefined tensor"));
  if (arg.impl().traced) {
    // A traced tensor as an argument (a compiled function called on another trace's values).
    throw TraceError("dt.compile: argument is a tensor from another trace");
  }
  TraceSource s;
  s.kind = TraceSource::Kind::Arg;
  s.arg = int(args_.size());
  s.type = arg.type();
  s.initial = s.current = graph_->addInput(s.type, "arg" + std::to_string(s.arg));
  s.label = "argument " + std::to_string(s.arg);
  s.seen = arg.implPtr();
  s.seenRequiresGrad = arg.requiresGrad();
  std::string key = viewKey(arg.impl());
  // The same tensor passed twice is read through the first argument's input.
  if (!sourceKey_.count(key)) sourceKey_[key] = int(sources_.size());
  sources_.push_back(std::move(s));
  args_.push_back(arg.implPtr());
}

int Trace::sourceOf(const Tensor &x, bool create) {
  const TensorImpl &t = x.impl();
  std::string key = viewKey(t);
  if (auto it = sourceKey_.find(key); it != sourceKey_.end()) return it->second;
  if (!create) return -1;
  TraceSource s;
  s.storage = t.storage;
  s.offset = t.offset;
  s.strides = t.strides;
  s.type = x.type();
  s.seen = x.implPtr();
  s.seenRequiresGrad = t.requiresGrad;
  s.createdInTrace = createdStorage_.count(t.storage.get()) > 0;
  if (s.createdInTrace && x.numel() == 1) {
    // A number made during the trace (a Python scalar operand): a literal the passes can fold.
    s.kind = TraceSource::Kind::Constant;
    double v = x.toValues()[0];
    ir::AttrMap attrs{{"shape", ir::Attr::ints(x.shape())}, {"dtype", std::string(ir::dtypeName(x.dtype()))}};
    attrs["value"] = ir::isFloat(x.dtype()) ? ir::Attr(v) : ir::Attr(int64_t(v));
    s.initial = graph_->addNode("const", {}, std::move(attrs), x.type())->result;
    s.label = "a number made in the trace";
  } else {
    s.kind = s.createdInTrace ? TraceSource::Kind::Constant : TraceSource::Kind::Captured;
    s.initial = graph_->addInput(s.type, (s.createdInTrace ? "const" : "cap") + std::to_string(sources_.size()));
    s.label = (s.createdInTrace ? "a tensor made in the trace " : "a captured tensor ") + x.type().str();
  }
  s.current = s.initial;
  sourceKey_[key] = int(sources_.size());
  sources_.push_back(std::move(s));
  return int(sources_.size()) - 1;
}

ir::Value *Trace::valueOf(const Tensor &x) {
  const TensorImpl &t = x.impl();
  if (t.traced) {
    if (t.traceId != id_)
      throw TraceError("a tensor computed while tracing a compiled function was used outside that trace (did a "
                       "compiled function store a tensor it computed, and another trace read it?)");
    return t.traced;
  }
  return sources_[size_t(sourceOf(x, true))].current;
}

Tensor Trace::traced(ir::Value *v, bool isView) {
  auto impl = std::make_shared<TensorImpl>();
  impl->dtype = v->type.dtype;
  impl->shape = v->type.shape;
  impl->strides = ir::contiguousStrides(v->type.shape);
  impl->traced = v;
  impl->traceId = id_;
  impl->tracedView = isView;
  created_.push_back(impl);
  return Tensor(std::move(impl));
}

Tensor Trace::ownValue(const Tensor &t) { return traced(valueOf(t), false); }

Tensor Trace::node(const ir::OpDef &def, const std::vector<Tensor> &operands, const ir::AttrMap &attrs,
                   const ir::Type &t) {
  std::vector<ir::Value *> ops;
  ops.reserve(operands.size());
  for (const Tensor &x : operands) ops.push_back(valueOf(x));
  ir::Node *n = graph_->addNode(std::string(def.name), std::move(ops), attrs, t);
  return traced(n->result, def.kind == ir::OpKind::Layout);
}

void Trace::write(const Tensor &x, const Tensor &value) {
  DT_ASSERT(x.type() == value.type(), "in-place write of ", value.type().str(), " into ", x.type().str());
  ir::Value *v = valueOf(value);
  TensorImpl &t = x.impl();
  if (t.traced) {
    if (t.traceId != id_) (void)valueOf(x); // throws the "outside that trace" error
    if (t.tracedView)
      throw TraceError("an in-place update of a view of a tensor computed inside the compiled function (e.g. "
                       "y[0] += 1 or y.T.mul_(2)) is not supported while tracing; write it out of place "
                       "(y = dt.where(...), dt.cat(...))");
    t.traced = v;
    return;
  }
  int s = sourceOf(x, true);
  for (size_t k = 0; k < sources_.size(); ++k)
    if (int(k) != s && sources_[k].kind != TraceSource::Kind::Arg && sources_[k].storage == sources_[size_t(s)].storage)
      throw TraceError(fmt("an in-place update of ", sources_[size_t(s)].label,
                           " whose memory is also read through another view (", sources_[k].label,
                           ") inside the compiled function is not supported; update the whole tensor"));
  sources_[size_t(s)].current = v;
}

void Trace::noteGradWrite(const std::shared_ptr<TensorImpl> &leaf) {
  for (const GradRecord &r : grads_)
    if (r.leaf == leaf) return;
  GradRecord r;
  r.leaf = leaf;
  r.original = leaf->grad;
  for (size_t i = 0; i < args_.size(); ++i)
    if (args_[i] == leaf) r.arg = int(i);
  grads_.push_back(std::move(r));
}

void Trace::noteBackward(const std::vector<Tensor> &roots) {
  if (sawBackward_) return;
  sawBackward_ = true;
  forwardNodes_ = graph_->nodes.size();
  for (const Tensor &r : roots) forwardRoots_.push_back(valueOf(r));
}

void Trace::noteCreated(const std::shared_ptr<TensorImpl> &impl, bool allocated) {
  if (allocated) createdStorage_.insert(impl->storage.get());
  else if (!(impl->traced && impl->traceId == id_) && !createdStorage_.count(impl->storage.get())) return;
  created_.push_back(impl);
}

void Trace::end(const std::vector<Tensor> &outputs) {
  DT_ASSERT(active_, "Trace::end without begin");
  deactivate();
  ended_ = true;
  for (const Tensor &o : outputs) {
    if (!o.defined()) throw ValueError("dt.compile: the function returned an undefined tensor");
    userOutputs_.push_back(valueOf(o));
  }
  for (GradRecord &r : grads_) {
    std::shared_ptr<TensorImpl> final = r.leaf->grad;
    r.leaf->grad = r.original;
    if (final == r.original) r.action = GradRecord::Action::None;
    else if (!final) r.action = GradRecord::Action::SetNone;
    else if (final->traced && final->traceId == id_) {
      r.action = GradRecord::Action::SetOutput;
      r.value = final->traced;
    } else if (final->traced) {
      throw TraceError("a .grad was set to a tensor from another trace");
    } else {
      r.action = GradRecord::Action::SetTensor;
      r.tensor = final;
    }
  }
}

void Trace::abort() {
  deactivate();
  ended_ = true;
  for (GradRecord &r : grads_) r.leaf->grad = r.original;
  grads_.clear();
}

void Trace::compile(const std::string &pipeline) {
  DT_ASSERT(ended_ && !compiled_, "Trace::compile before end() or twice");
  auto t0 = std::chrono::steady_clock::now();
  ir::Graph &g = *graph_;

  // Escapes: tensors made during the trace that something still holds.
  for (const std::weak_ptr<TensorImpl> &w : created_) {
    std::shared_ptr<TensorImpl> p = w.lock();
    if (!p) continue;
    if (p->traced && p->traceId == id_) {
      materialize_.push_back({p, -1}); // its output index is set below
      escapes_.push_back("a " + ir::Type{p->dtype, p->shape}.str() + " computed in the trace");
    } else if (!p->traced) {
      escapes_.push_back("a " + ir::Type{p->dtype, p->shape}.str() + " created in the trace");
    }
  }
  created_.clear();

  // Outputs: the function's results, write-backs, gradients, escaped values.
  g.outputs = userOutputs_;
  for (size_t s = 0; s < sources_.size(); ++s) {
    const TraceSource &src = sources_[s];
    if (src.current == src.initial) continue;
    if (src.kind == TraceSource::Kind::Constant && escapes_.empty()) continue; // a temporary of the trace
    writebacks_.push_back({int(s), int(g.outputs.size())});
    g.outputs.push_back(src.current);
  }
  for (GradRecord &r : grads_)
    if (r.action == GradRecord::Action::SetOutput) {
      r.output = int(g.outputs.size());
      g.outputs.push_back(r.value);
    }
  for (Escape &e : materialize_) {
    std::shared_ptr<TensorImpl> p = e.impl.lock();
    e.output = int(g.outputs.size());
    g.outputs.push_back(p ? p->traced : nullptr);
  }
  for (ir::Value *o : g.outputs) DT_ASSERT(o, "a trace output vanished");
  stats_.traceSeconds = secondsSince(t0);

  // Stages.
  stages_["grad"] = ir::print(g);
  if (sawBackward_) {
    auto fwd = g.clone();
    std::vector<ir::Value *> roots;
    for (ir::Value *r : forwardRoots_)
      for (auto &v : fwd->values)
        if (v->name == r->name) roots.push_back(v.get());
    fwd->nodes.resize(forwardNodes_);
    fwd->outputs = roots;
    passes::dce(*fwd);
    stages_["traced"] = ir::print(*fwd);
  } else {
    stages_["traced"] = stages_["grad"];
  }
  ir::verify(g);

  auto t1 = std::chrono::steady_clock::now();
  std::unique_ptr<ir::Graph> cur = g.clone();
  std::string optimized;
  bool fusedAny = false;
  for (const std::string &pass : passes::parsePipeline(pipeline)) {
    if (pass == "fusion" && !fusedAny) {
      stages_["optimized"] = ir::print(*cur);
      fusedAny = true;
    }
    cur = passes::runPipeline(std::move(cur), pass);
  }
  if (!fusedAny) stages_["optimized"] = ir::print(*cur);
  stages_["fused"] = ir::print(*cur);
  stats_.passSeconds = secondsSince(t1);

  auto t2 = std::chrono::steady_clock::now();
  // Donations: each write-back of a graph input is computed straight into that input's memory
  // where the plan finds it safe (the input is not read after the new value's kernel starts).
  std::vector<std::pair<int, int>> donate;
  {
    std::vector<int> inputOf(sources_.size(), -1); // graph input index of each source (the order of run())
    int next = 0;
    for (size_t s = 0; s < sources_.size(); ++s)
      if (sources_[s].kind == TraceSource::Kind::Arg || sources_[s].initial->def == nullptr) inputOf[s] = next++;
    for (const Writeback &w : writebacks_)
      if (inputOf[size_t(w.source)] >= 0) donate.emplace_back(w.output, inputOf[size_t(w.source)]);
  }
  ir::MemoryPlan plan = passes::memoryPlan(*cur, donate);
  donatedInput_.assign(cur->outputs.size(), -1);
  for (auto [k, in] : plan.donations) donatedInput_[size_t(k)] = in;
  stats_.plannedBytes = plan.plannedBytes;
  stats_.unplannedBytes = plan.unplannedBytes;
  program_ = codegen::compile(*cur, plan);
  stats_.codegenSeconds = secondsSince(t2);
  fused_ = std::move(cur);
  stats_.nodes = int64_t(g.nodes.size());
  stats_.inputs = int64_t(g.inputs.size());
  stats_.outputs = int64_t(g.outputs.size());
  stats_.writebacks = int64_t(writebacks_.size());
  stats_.kernels = int64_t(program_.steps.size());
  planRun();
  compiled_ = true;
}

void Trace::planRun() {
  runInputs_.clear();
  sourceViews_.assign(sources_.size(), Tensor());
  for (size_t s = 0; s < sources_.size(); ++s) {
    const TraceSource &src = sources_[s];
    if (src.kind != TraceSource::Kind::Arg && src.storage) sourceViews_[s] = viewOf(src);
    if (src.kind == TraceSource::Kind::Arg) {
      runInputs_.push_back({src.arg, int(s), nullptr});
    } else if (src.initial->def == nullptr) { // a graph input (not a literal)
      RunInput r{-1, int(s), nullptr};
      if (sourceViews_[s].isContiguous()) r.fixed = denseBuffer(sourceViews_[s]); // its memory, not a copy
      runInputs_.push_back(std::move(r));
    }
  }
  // The overlaps among captured memory are the same at every run: checked once here.
  auto clashesFixed = [&](ByteSpan b, size_t except) {
    for (size_t i = 0; i < runInputs_.size(); ++i)
      if (i != except && runInputs_[i].fixed && overlap(b, spanOf(*runInputs_[i].fixed))) return true;
    return false;
  };
  argInputs_.clear();
  for (size_t i = 0; i < runInputs_.size(); ++i)
    if (runInputs_[i].arg >= 0) argInputs_.push_back(i);
  outPlans_.assign(donatedInput_.size(), OutPlan{});
  for (const Writeback &w : writebacks_) {
    if (sources_[size_t(w.source)].kind == TraceSource::Kind::Arg) continue;
    OutPlan &p = outPlans_[size_t(w.output)];
    if (int in = donatedInput_[size_t(w.output)]; in >= 0) {
      if (const auto &b = runInputs_[size_t(in)].fixed) p.fixedClash = clashesFixed(spanOf(*b), size_t(in));
    } else if (sourceViews_[size_t(w.source)].isContiguous()) {
      p.fixedDest = denseBuffer(sourceViews_[size_t(w.source)]);
      p.fixedClash = clashesFixed(spanOf(*p.fixedDest), runInputs_.size());
    }
  }
  gradRead_.assign(grads_.size(), false);
  for (size_t i = 0; i < grads_.size(); ++i) {
    const GradRecord &r = grads_[i];
    if (r.arg >= 0 || !r.original) continue;
    for (const TraceSource &s : sources_)
      if (s.kind == TraceSource::Kind::Captured && s.storage == r.original->storage) gradRead_[i] = true;
  }
}

std::string Trace::checkGuards() const {
  for (const TraceSource &s : sources_) {
    if (s.kind != TraceSource::Kind::Captured) continue;
    std::shared_ptr<TensorImpl> p = s.seen.lock();
    if (!p) continue;
    if (p->storage != s.storage || p->offset != s.offset || p->strides != s.strides)
      return s.label + " now has different memory (was .data assigned, or a parameter replaced?)";
    if (p->requiresGrad != s.seenRequiresGrad)
      return fmt("requires_grad of ", s.label, " changed to ", p->requiresGrad ? "True" : "False");
  }
  for (size_t i = 0; i < grads_.size(); ++i) {
    const GradRecord &r = grads_[i];
    if (r.arg >= 0 || !r.original) continue;
    bool read = false;
    if (i < gradRead_.size()) read = gradRead_[i]; // planned at compile()
    else
      for (const TraceSource &s : sources_)
        read = read || (s.kind == TraceSource::Kind::Captured && s.storage == r.original->storage);
    if (read && (!r.leaf->grad || r.leaf->grad->storage != r.original->storage))
      return "a .grad that the trace read was replaced (pass set_to_none=True to zero_grad, or retrace)";
  }
  return {};
}

std::vector<Tensor> Trace::run(const std::vector<Tensor> &args) {
  std::vector<const Tensor *> ptrs;
  ptrs.reserve(args.size());
  for (const Tensor &a : args) ptrs.push_back(&a);
  return run(std::span<const Tensor *const>(ptrs));
}

std::vector<Tensor> Trace::run(std::span<const Tensor *const> args) {
  DT_ASSERT(compiled_, "Trace::run before compile()");
  if (args.size() != args_.size())
    throw ValueError(fmt("compiled ", name_, ": expected ", args_.size(), " tensor arguments, given ", args.size()));
  std::vector<std::shared_ptr<rt::Buffer>> bufs;
  bufs.reserve(runInputs_.size());
  for (const RunInput &r : runInputs_) {
    if (r.arg >= 0) {
      const Tensor &a = *args[size_t(r.arg)];
      const ir::Type &want = sources_[size_t(r.source)].type;
      if (!a.defined() || a.dtype() != want.dtype || a.shape() != want.shape)
        throw ValueError(fmt("compiled ", name_, ": argument ", r.arg, " must be ", want.str(), ", given ",
                             a.defined() ? a.type().str() : std::string("an undefined tensor")));
      if (a.impl().traced) throw TraceError(fmt("compiled ", name_, ": argument ", r.arg, " is a traced tensor"));
      bufs.push_back(denseBuffer(a));
    } else if (r.fixed) {
      bufs.push_back(r.fixed);
    } else {
      bufs.push_back(denseBuffer(sourceViews_[size_t(r.source)])); // a strided view: copied now
    }
  }
  // Where write-backs and gradients land: the program writes them there itself when it can (a
  // donated input's buffer, or an `into` buffer that overlaps no input), else they are copied.
  // Overlaps among captured memory were checked by planRun(); arguments' memory is checked here.
  std::vector<ByteSpan> spans(bufs.size());
  for (size_t j = 0; j < bufs.size(); ++j) spans[j] = spanOf(*bufs[j]);
  auto clashesArgs = [&](ByteSpan b, size_t except) {
    for (size_t j : argInputs_)
      if (j != except && overlap(b, spans[j])) return true;
    return false;
  };
  auto clashesAny = [&](ByteSpan b, size_t except) {
    for (size_t j = 0; j < spans.size(); ++j)
      if (j != except && overlap(b, spans[j])) return true;
    return false;
  };
  std::vector<Tensor> dest(donatedInput_.size());
  for (const Writeback &w : writebacks_) {
    const TraceSource &s = sources_[size_t(w.source)];
    dest[size_t(w.output)] = s.kind == TraceSource::Kind::Arg ? *args[size_t(s.arg)] : sourceViews_[size_t(w.source)];
  }
  auto gradTarget = [&](const GradRecord &r) -> Tensor {
    const std::shared_ptr<TensorImpl> &leaf = r.arg >= 0 ? args[size_t(r.arg)]->implPtr() : r.leaf;
    const std::shared_ptr<TensorImpl> &g = leaf->grad;
    // The existing .grad when it can take the new gradient (its identity stays).
    if (g && !g->traced && g->dtype == leaf->dtype && g->shape == leaf->shape && Tensor(g).isContiguous()) return Tensor(g);
    return {};
  };
  for (const GradRecord &r : grads_)
    if (r.action == GradRecord::Action::SetOutput) dest[size_t(r.output)] = gradTarget(r);
  std::vector<std::shared_ptr<rt::Buffer>> into(donatedInput_.size());
  std::vector<ByteSpan> intoSpans;
  auto clashesInto = [&](ByteSpan b) {
    for (ByteSpan x : intoSpans)
      if (overlap(b, x)) return true;
    return false;
  };
  for (size_t k = 0; k < dest.size(); ++k) {
    if (!dest[k].defined()) continue;
    const OutPlan &plan = outPlans_[k];
    if (int in = donatedInput_[k]; in >= 0) {
      // The program overwrites this input: give it private memory if another input shares it.
      const RunInput &ri = runInputs_[size_t(in)];
      size_t i = size_t(in);
      bool clash = ri.fixed ? plan.fixedClash || clashesArgs(spans[i], i)
                 : ri.arg >= 0 ? clashesAny(spans[i], i)
                               : false; // a strided view's copy, made for this run: nothing shares it
      if (clash) {
        auto copy = rt::Buffer::allocate(bufs[i]->size());
        std::memcpy(copy->data(), bufs[i]->data(), copy->size());
        bufs[i] = std::move(copy);
        spans[i] = spanOf(*bufs[i]);
      }
    } else if (plan.fixedDest) { // captured memory: its overlaps with captured inputs are known
      ByteSpan b = spanOf(*plan.fixedDest);
      if (!plan.fixedClash && !clashesArgs(b, spans.size()) && !clashesInto(b)) {
        into[k] = plan.fixedDest;
        intoSpans.push_back(b);
      }
    } else if (dest[k].isContiguous()) {
      std::shared_ptr<rt::Buffer> b = denseBuffer(dest[k]); // its memory, not a copy
      ByteSpan bs = spanOf(*b);
      if (!clashesAny(bs, spans.size()) && !clashesInto(bs)) {
        into[k] = std::move(b);
        intoSpans.push_back(bs);
      }
    }
  }
  std::vector<std::shared_ptr<rt::Buffer>> outs = program_.run(bufs, into);
  auto land = [&](size_t k) { // output k into its destination, unless the program wrote it there
    if (outs[k]->data() != dest[k].data()) copyInto(dest[k], *outs[k]);
  };

  std::vector<Tensor> results;
  for (size_t i = 0; i < userOutputs_.size(); ++i)
    results.push_back(Tensor::fromBuffer(userOutputs_[i]->type.dtype, userOutputs_[i]->type.shape, outs[i]));
  for (const Writeback &w : writebacks_) land(size_t(w.output));
  for (const GradRecord &r : grads_) {
    const std::shared_ptr<TensorImpl> &leaf = r.arg >= 0 ? args[size_t(r.arg)]->implPtr() : r.leaf;
    std::shared_ptr<TensorImpl> &g = leaf->grad;
    switch (r.action) {
    case GradRecord::Action::None: break;
    case GradRecord::Action::SetNone: g = nullptr; break;
    case GradRecord::Action::SetTensor: g = r.tensor; break;
    case GradRecord::Action::SetOutput:
      if (dest[size_t(r.output)].defined())
        land(size_t(r.output));
      else
        g = Tensor::fromBuffer(leaf->dtype, leaf->shape, outs[size_t(r.output)]).implPtr();
      break;
    }
  }
  if (!ranOnce_)
    for (const Escape &e : materialize_)
      if (std::shared_ptr<TensorImpl> p = e.impl.lock()) {
        p->storage = outs[size_t(e.output)];
        p->offset = 0;
        p->strides = ir::contiguousStrides(p->shape);
        p->traced = nullptr;
        p->traceId = 0;
        p->tracedView = false;
        p->gradFn = nullptr;
        p->requiresGrad = false;
      }
  ranOnce_ = true;
  return results;
}

std::string Trace::stage(const std::string &name) const {
  auto it = stages_.find(name);
  if (it == stages_.end())
    throw ValueError(fmt("unknown stage '", name, "' (expected traced, grad, optimized or fused)"));
  return it->second;
}

std::string Trace::assembly() const {
  DT_ASSERT(fused_, "Trace::assembly before compile()");
  return codegen::emitAsm(*fused_);
}

} // namespace dt
