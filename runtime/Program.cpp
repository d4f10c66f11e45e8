// Program::run: checks the inputs, gives every other slot a buffer (the planned buffers, or one per
// slot: outputs alone, the rest carved from one arena), calls the kernels in order and hands back
// the output buffers (new ones, the caller's `into` buffers, or donated inputs' buffers).
#include "runtime/Program.h"

#include "runtime/KernelError.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace dt::rt {

namespace {
size_t alignUp(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

/// DT_PROFILE=1: the time of every kernel call, summed per step name (op and result), printed to
/// stderr when the process exits, longest first.
class KernelProfile {
public:
  static KernelProfile *get() {
    static KernelProfile *p = [] {
      const char *env = std::getenv("DT_PROFILE");
      return env && *env && std::strcmp(env, "0") != 0 ? new KernelProfile : nullptr;
    }();
    return p;
  }
  void add(const std::string &name, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    auto &e = totals_[name];
    e.first += seconds;
    ++e.second;
  }

private:
  KernelProfile() {
    std::atexit([] { get()->print(); });
  }
  void print() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(totals_.begin(), totals_.end());
    std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) { return a.second.first > b.second.first; });
    double all = 0;
    for (const auto &r : rows) all += r.second.first;
    std::fprintf(stderr, "DT_PROFILE: %zu kernels, %.3f ms in all\n%10s %8s %10s  %s\n", rows.size(), all * 1e3, "total ms",
                 "calls", "us/call", "kernel");
    for (const auto &[name, t] : rows)
      std::fprintf(stderr, "%10.3f %8lld %10.2f  %s\n", t.first * 1e3, static_cast<long long>(t.second),
                   t.first * 1e6 / double(std::max<int64_t>(t.second, 1)), name.c_str());
  }
  std::mutex mu_;
  std::map<std::string, std::pair<double, int64_t>> totals_;
};
} // namespace

std::vector<std::shared_ptr<Buffer>> Program::run(std::span<const std::shared_ptr<Buffer>> inputs,
                                                  std::span<const std::shared_ptr<Buffer>> into) const {
  if (inputs.size() != inputSlots.size())
    throw std::invalid_argument("program expects " + std::to_string(inputSlots.size()) + " input" +
                                (inputSlots.size() == 1 ? "" : "s") + ", given " + std::to_string(inputs.size()));
  // Buffers: the plan's, or one per slot without a plan. Only inputs' and outputs' buffers are
  // Buffer objects (the caller's, or handed to it); the others are raw pointers into one arena.
  const bool planned = !slotBuffer.empty();
  if (planned && slotBuffer.size() != slotBytes.size())
    throw std::logic_error("program plan has " + std::to_string(slotBuffer.size()) + " slot buffers for " +
                           std::to_string(slotBytes.size()) + " slots");
  const size_t nb = planned ? bufferBytes.size() : slotBytes.size();
  auto bufferOf = [&](size_t s) { return planned ? size_t(slotBuffer[s]) : s; };
  auto bytesOf = [&](size_t b) { return planned ? bufferBytes[b] : slotBytes[b]; };
  if (planned)
    for (size_t s = 0; s < slotBytes.size(); ++s)
      if (size_t(slotBuffer[s]) >= nb || bufferBytes[size_t(slotBuffer[s])] < slotBytes[s])
        throw std::logic_error("program plan: slot " + std::to_string(s) + " does not fit its buffer");

  std::vector<std::shared_ptr<Buffer>> held(nb);
  for (size_t i = 0; i < inputs.size(); ++i) {
    size_t expected = slotBytes.at(size_t(inputSlots[i]));
    if (!inputs[i])
      throw std::invalid_argument("program input " + std::to_string(i) + " is null (expected " +
                                  std::to_string(expected) + " bytes)");
    if (inputs[i]->size() != expected)
      throw std::invalid_argument("program input " + std::to_string(i) + ": expected " + std::to_string(expected) +
                                  " bytes, given " + std::to_string(inputs[i]->size()));
    held[bufferOf(size_t(inputSlots[i]))] = inputs[i];
  }
  for (const auto &[slot, buf] : constants) {
    if (size_t(slot) >= slotBytes.size() || !buf || buf->size() != slotBytes[size_t(slot)])
      throw std::logic_error("program constant for slot " + std::to_string(slot) + " does not fit it");
    held[bufferOf(size_t(slot))] = buf;
  }
  // Outputs: the buffer already there (an input's: donated, or an output returned twice), the
  // caller's `into` buffer for an output slot returned once, or a new one.
  for (size_t k = 0; k < outputSlots.size(); ++k) {
    size_t s = size_t(outputSlots[k]), b = bufferOf(s);
    if (held[b]) continue;
    if (k < into.size() && into[k] && std::count(outputSlots.begin(), outputSlots.end(), int(s)) == 1) {
      if (into[k]->size() != slotBytes[s])
        throw std::invalid_argument("program output " + std::to_string(k) + ": expected " + std::to_string(slotBytes[s]) +
                                    " bytes to write into, given " + std::to_string(into[k]->size()));
      held[b] = into[k];
    } else {
      held[b] = Buffer::allocate(slotBytes[s]);
    }
  }
  size_t total = 0;
  for (size_t b = 0; b < nb; ++b)
    if (!held[b]) total += alignUp(bytesOf(b));
  std::shared_ptr<Buffer> arena = total ? Buffer::allocate(total) : nullptr;
  std::vector<void *> base(nb); // (null for a zero-size buffer when the arena is empty: never read)
  for (size_t b = 0, at = 0; b < nb; ++b) {
    if (held[b]) {
      base[b] = held[b]->data();
    } else if (arena) {
      base[b] = static_cast<char *>(arena->data()) + at;
      at += alignUp(bytesOf(b));
    }
  }

  std::vector<void *> ptrs;
  takeKernelError(); // drop a report left by a kernel whose caller did not check
  KernelProfile *profile = KernelProfile::get();
  for (const Step &st : steps) {
    ptrs.clear();
    for (int s : st.slots) ptrs.push_back(base[bufferOf(size_t(s))]);
    if (profile) {
      auto t0 = std::chrono::steady_clock::now();
      st.fn(ptrs.data(), st.sizes.empty() ? nullptr : st.sizes.data());
      profile->add(st.name, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } else {
      st.fn(ptrs.data(), st.sizes.empty() ? nullptr : st.sizes.data());
    }
    if (std::optional<KernelIndexError> e = takeKernelError()) // a bad gather/scatter_add index
      throw IndexOutOfBounds(std::string_view(st.name).substr(0, st.name.find(' ')), *e);
  }

  // An output that is an input or constant slot, or that was already returned, is copied so every
  // output buffer belongs to the caller alone (a donated output is its input's buffer, by design).
  std::vector<bool> taken(slotBytes.size(), false);
  for (int s : inputSlots) taken[size_t(s)] = true;
  for (const auto &c : constants) taken[size_t(c.first)] = true; // the program's own memory
  std::vector<std::shared_ptr<Buffer>> out;
  out.reserve(outputSlots.size());
  for (int s : outputSlots) {
    const std::shared_ptr<Buffer> &b = held[bufferOf(size_t(s))];
    if (taken[size_t(s)]) {
      auto copy = Buffer::allocate(slotBytes[size_t(s)]);
      if (copy->size()) std::memcpy(copy->data(), b->data(), copy->size());
      out.push_back(std::move(copy));
    } else {
      out.push_back(b);
      taken[size_t(s)] = true;
    }
  }
  return out;
}

} // namespace dt::rt
