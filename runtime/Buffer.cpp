// Runtime-owned buffers: 64-byte-aligned allocations with a live count (uninitialized: every kernel
// writes its whole result), and wrapped views of caller memory kept alive by an owner handle.
// Large buffers are anonymous mappings (huge pages asked for); when one is destroyed its mapping
// goes to a bounded cache keyed by size class and the next allocation of that class takes it, so
// a compiled call that returns a fresh 64 MB result each time touches warm pages instead of
// faulting in (and having the kernel zero) 16,384 new ones. A block is in the cache only while no
// Buffer owns it, so buffers never share memory. Under AddressSanitizer a cached block and the
// tail of a block beyond its buffer's size are poisoned, so misuse is still reported.
#include "runtime/Buffer.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <new>
#include <pthread.h>
#include <sanitizer/asan_interface.h> // no-op macros unless built with AddressSanitizer
#include <sys/mman.h>

namespace dt::rt {

namespace {

std::atomic<int64_t> gLiveBuffers{0};

constexpr size_t kHugePage = size_t(2) << 20;

/// `bytes` (>= Buffer::kLargeBytes) rounded up to its size class: a multiple of 1/8 of the largest
/// power of two <= bytes. 0 on overflow.
size_t sizeClass(size_t bytes) {
  size_t p = size_t(1) << (63 - __builtin_clzll(bytes));
  size_t step = p / 8;
  size_t c = (bytes + step - 1) / step * step;
  return c < bytes ? 0 : c;
}

/// A fresh mapping of `capacity` bytes; huge pages are asked for when it spans some.
void *mapBlock(size_t capacity) {
  void *p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
  if (capacity >= kHugePage) madvise(p, capacity, MADV_HUGEPAGE); // advice only: failure is harmless
#endif
  return p;
}

void unmapBlock(void *p, size_t capacity) {
  ASAN_UNPOISON_MEMORY_REGION(p, capacity);
  munmap(p, capacity);
}

/// Recently freed large blocks, most recent last. The mutex is held across fork() (so a child
/// never inherits it locked) and the cache empties itself at exit; releases after that unmap.
class BlockCache {
public:
  BlockCache() { pthread_atfork([] { instance().mu_.lock(); }, [] { instance().mu_.unlock(); }, [] { instance().mu_.unlock(); }); }
  ~BlockCache() {
    closed().store(true);
    trim();
  }

  static BlockCache &instance() {
    static BlockCache cache;
    return cache;
  }
  /// True once the cache has been destroyed (static destruction at exit).
  static std::atomic<bool> &closed() {
    static std::atomic<bool> flag{false}; // constant-initialized, never destroyed before use ends
    return flag;
  }

  /// A cached block of exactly `capacity` bytes, or null.
  void *take(size_t capacity) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
      if (it->capacity != capacity) continue;
      void *p = it->data;
      bytes_ -= capacity;
      blocks_.erase(std::next(it).base());
      return p;
    }
    return nullptr;
  }

  /// Keeps the block for reuse (evicting the least recently freed ones to stay within the limit),
  /// or unmaps it when it is larger than the limit.
  void put(void *data, size_t capacity) {
    std::list<Block> evicted;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (capacity > Buffer::kCacheLimitBytes) {
        evicted.push_back({data, capacity});
      } else {
        ASAN_POISON_MEMORY_REGION(data, capacity);
        while (bytes_ + capacity > Buffer::kCacheLimitBytes) {
          bytes_ -= blocks_.front().capacity;
          evicted.splice(evicted.end(), blocks_, blocks_.begin());
        }
        blocks_.push_back({data, capacity});
        bytes_ += capacity;
      }
    }
    for (const Block &b : evicted) unmapBlock(b.data, b.capacity); // outside the lock
  }

  size_t bytes() {
    std::lock_guard<std::mutex> lk(mu_);
    return bytes_;
  }

  void trim() {
    std::list<Block> all;
    {
      std::lock_guard<std::mutex> lk(mu_);
      all.swap(blocks_);
      bytes_ = 0;
    }
    for (const Block &b : all) unmapBlock(b.data, b.capacity);
  }

private:
  struct Block {
    void *data;
    size_t capacity;
  };
  std::mutex mu_;
  std::list<Block> blocks_;
  size_t bytes_ = 0;
};

/// Large buffers are cached mappings unless env DT_BUFFER_CACHE=0 (then they are malloc'd like
/// small ones: for measuring what the cache saves), and until exit.
bool cacheEnabled() {
  static const bool on = [] {
    const char *env = std::getenv("DT_BUFFER_CACHE");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  return on && !BlockCache::closed().load();
}

} // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  void *p = nullptr;
  size_t capacity = 0;
  if (bytes >= kLargeBytes && cacheEnabled()) {
    capacity = sizeClass(bytes);
    if (capacity == 0) throw std::bad_alloc(); // overflow of the rounding
    p = BlockCache::instance().take(capacity);
    if (!p) p = mapBlock(capacity);
    if (!p) {
      // Out of address space or memory: give the cached blocks back and try once more.
      if (!BlockCache::closed().load()) BlockCache::instance().trim();
      p = mapBlock(capacity);
    }
    if (!p) throw std::bad_alloc();
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
    ASAN_POISON_MEMORY_REGION(static_cast<char *>(p) + bytes, capacity - bytes);
  } else {
    // aligned_alloc wants a size that is a multiple of the alignment, and a 0-byte request may
    // return null; so always ask for at least one aligned block.
    size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
    p = std::aligned_alloc(kAlignment, rounded);
    if (!p) throw std::bad_alloc();
  }
  // Not zero-filled: every kernel writes its whole result, and a fill would cost one more pass
  // over memory per buffer (a third of a bandwidth-bound kernel's time).
  std::shared_ptr<Buffer> b;
  try {
    b.reset(new Buffer(p, bytes, capacity, nullptr));
  } catch (...) {
    if (capacity) unmapBlock(p, capacity);
    else std::free(p);
    throw;
  }
  gLiveBuffers.fetch_add(1, std::memory_order_relaxed);
  return b;
}

std::shared_ptr<Buffer> Buffer::wrap(void *data, size_t bytes, std::shared_ptr<void> owner) {
  // A wrapped buffer is "not owned" exactly when owner_ is non-null, so a view without an owner
  // still needs a non-null handle.
  if (!owner) owner = std::make_shared<char>(0);
  return std::shared_ptr<Buffer>(new Buffer(data, bytes, 0, std::move(owner)));
}

Buffer::~Buffer() {
  if (owner_ != nullptr) return;
  gLiveBuffers.fetch_sub(1, std::memory_order_relaxed);
  if (capacity_ == 0) std::free(data_);
  else if (BlockCache::closed().load()) unmapBlock(data_, capacity_);
  else BlockCache::instance().put(data_, capacity_);
}

int64_t Buffer::liveCount() { return gLiveBuffers.load(std::memory_order_relaxed); }

size_t Buffer::cachedBytes() { return BlockCache::closed().load() ? 0 : BlockCache::instance().bytes(); }

void Buffer::trimCache() {
  if (!BlockCache::closed().load()) BlockCache::instance().trim();
}

} // namespace dt::rt
