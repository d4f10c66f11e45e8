// Program::run: checks the inputs, gives every other slot a fresh buffer, calls the kernels in
// order and hands back the output buffers. (Memory planning and threads come later.)
#include "runtime/Program.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace dt::rt {

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
  for (size_t s = 0; s < slots.size(); ++s)
    if (!slots[s]) slots[s] = Buffer::allocate(slotBytes[s]);

  std::vector<void *> ptrs;
  for (const Step &st : steps) {
    ptrs.clear();
    for (int s : st.slots) ptrs.push_back(slots.at(size_t(s))->data());
    st.fn(ptrs.data(), st.sizes.empty() ? nullptr : st.sizes.data());
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
