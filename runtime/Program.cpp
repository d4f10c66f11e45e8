// Program::run: checks the inputs, gives every other slot a buffer (a fresh one per slot, or the
// planned buffers: outputs alone, the rest from one arena), calls the kernels in order and hands
// back the output buffers. (Threads come later.)
#include "runtime/Program.h"

#include "runtime/KernelError.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace dt::rt {

namespace {
size_t alignUp(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

/// Fills the slots that are not inputs with p's planned buffers (p.slotBuffer non-empty).
void allocatePlanned(const Program &p, std::vector<std::shared_ptr<Buffer>> &slots) {
  const std::vector<int> &slotBuffer = p.slotBuffer;
  const std::vector<size_t> &bufferBytes = p.bufferBytes, &slotBytes = p.slotBytes;
  if (slotBuffer.size() != slotBytes.size())
    throw std::logic_error("program plan has " + std::to_string(slotBuffer.size()) + " slot buffers for " +
                           std::to_string(slotBytes.size()) + " slots");
  std::vector<std::shared_ptr<Buffer>> bufs(bufferBytes.size());
  for (size_t s = 0; s < slots.size(); ++s) {
    size_t b = size_t(slotBuffer[s]);
    if (b >= bufferBytes.size() || bufferBytes[b] < slotBytes[s])
      throw std::logic_error("program plan: slot " + std::to_string(s) + " does not fit its buffer");
    if (slots[s]) bufs[b] = slots[s]; // an input: the caller's buffer
  }
  for (int s : p.outputSlots)
    if (!bufs[size_t(slotBuffer[size_t(s)])]) bufs[size_t(slotBuffer[size_t(s)])] = Buffer::allocate(slotBytes[size_t(s)]);
  size_t total = 0;
  for (size_t b = 0; b < bufs.size(); ++b)
    if (!bufs[b]) total += alignUp(bufferBytes[b]);
  std::shared_ptr<Buffer> arena = Buffer::allocate(total);
  size_t at = 0;
  for (size_t b = 0; b < bufs.size(); ++b) {
    if (bufs[b]) continue;
    bufs[b] = Buffer::wrap(static_cast<char *>(arena->data()) + at, bufferBytes[b], arena);
    at += alignUp(bufferBytes[b]);
  }
  for (size_t s = 0; s < slots.size(); ++s)
    if (!slots[s]) slots[s] = bufs[size_t(slotBuffer[s])];
}
} // namespace

std::vector<std::shared_ptr<Buffer>> Program::run(std::span<const std::shared_ptr<Buffer>> inputs) const {
  if (inputs.size() != inputSlots.size())
    throw std::invalid_argument("program expects " + std::to_string(inputSlots.size()) + " input" +
                                (inputSlots.size() == 1 ? "" : "s") + ", given " + std::to_string(inputs.size()));
  std::vector<std::shared_ptr<Buffer>> slots(slotBytes.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    size_t expected = slotBytes.at(size_t(inputSlots[i]));
    if (!inputs[i])
      throw std::invalid_argument("program input " + std::to_string(i) + " is null (expected " +
                                  std::to_string(expected) + " bytes)");
    if (inputs[i]->size() != expected)
      throw std::invalid_argument("program input " + std::to_string(i) + ": expected " + std::to_string(expected) +
                                  " bytes, given " + std::to_string(inputs[i]->size()));
    slots[size_t(inputSlots[i])] = inputs[i];
  }
  if (slotBuffer.empty()) {
    for (size_t s = 0; s < slots.size(); ++s)
      if (!slots[s]) slots[s] = Buffer::allocate(slotBytes[s]);
  } else {
    allocatePlanned(*this, slots);
  }

  std::vector<void *> ptrs;
  takeKernelError(); // drop a report left by a kernel whose caller did not check
  for (const Step &st : steps) {
    ptrs.clear();
    for (int s : st.slots) ptrs.push_back(slots.at(size_t(s))->data());
    st.fn(ptrs.data(), st.sizes.empty() ? nullptr : st.sizes.data());
    if (std::optional<KernelIndexError> e = takeKernelError()) // a bad gather/scatter_add index
      throw IndexOutOfBounds(std::string_view(st.name).substr(0, st.name.find(' ')), *e);
  }

  // An output that is an input, or that was already returned, is copied so every output buffer
  // belongs to the caller alone.
  std::vector<bool> taken(slots.size(), false);
  for (int s : inputSlots) taken[size_t(s)] = true;
  std::vector<std::shared_ptr<Buffer>> out;
  out.reserve(outputSlots.size());
  for (int s : outputSlots) {
    const std::shared_ptr<Buffer> &b = slots.at(size_t(s));
    if (taken[size_t(s)]) {
      auto copy = Buffer::allocate(b->size());
      if (b->size()) std::memcpy(copy->data(), b->data(), b->size());
      out.push_back(std::move(copy));
    } else {
      out.push_back(b);
      taken[size_t(s)] = true;
    }
  }
  return out;
}

} // namespace dt::rt
