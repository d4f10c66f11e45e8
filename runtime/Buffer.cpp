// Runtime-owned buffers: 64-byte-aligned, zero-filled allocations with a live count, and wrapped
// views of caller memory kept alive by an owner handle.
#include "runtime/Buffer.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace dt::rt {

namespace {
std::atomic<int64_t> gLiveBuffers{0};
} // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  // aligned_alloc wants a size that is a multiple of the alignment, and a 0-byte request may
  // return null; so always ask for at least one aligned block.
  size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < bytes) throw std::bad_alloc(); // overflow of the rounding
  void *p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw std::bad_alloc();
  // Not zero-filled: every kernel writes its whole result, and a fill would cost one more pass
  // over memory per buffer (a third of a bandwidth-bound kernel's time).
  std::shared_ptr<Buffer> b(new Buffer(p, bytes, nullptr));
  gLiveBuffers.fetch_add(1, std::memory_order_relaxed);
  return b;
}

std::shared_ptr<Buffer> Buffer::wrap(void *data, size_t bytes, std::shared_ptr<void> owner) {
  // A wrapped buffer is "not owned" exactly when owner_ is non-null, so a view without an owner
  // still needs a non-null handle.
  if (!owner) owner = std::make_shared<char>(0);
  return std::shared_ptr<Buffer>(new Buffer(data, bytes, std::move(owner)));
}

Buffer::~Buffer() {
  if (owner_ == nullptr) {
    std::free(data_);
    gLiveBuffers.fetch_sub(1, std::memory_order_relaxed);
  }
}

int64_t Buffer::liveCount() { return gLiveBuffers.load(std::memory_order_relaxed); }

} // namespace dt::rt
