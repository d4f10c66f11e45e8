// Memory the runtime owns: 64-byte-aligned buffers with shared ownership, or views of memory a
// caller owns (a numpy array) kept alive by an owner handle. Large owned buffers are mapped pages
// recycled through a bounded cache of recently freed ones (no page faults for a kernel's
// same-sized result call after call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace dt::rt {

constexpr size_t kAlignment = 64;

class Buffer {
public:
  /// A new uninitialized buffer of `bytes` bytes, 64-byte aligned (bytes may be 0).
  static std::shared_ptr<Buffer> allocate(size_t bytes);
  /// A view of memory the caller owns; `owner` is kept alive as long as the buffer.
  static std::shared_ptr<Buffer> wrap(void *data, size_t bytes, std::shared_ptr<void> owner);

  ~Buffer();
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;

  void *data() const { return data_; }
  size_t size() const { return bytes_; }
  bool owned() const { return owner_ == nullptr; }

  /// Buffers allocated by the runtime and not yet freed (tests use it to prove no leaks).
  static int64_t liveCount();

  /// Owned buffers of at least this many bytes are page mappings (huge pages asked for) whose
  /// memory, once its Buffer is destroyed, waits in a cache for the next allocation of the same
  /// size class (classes are 1/8 of a power of two apart, so a class wastes at most 12.5 %).
  static constexpr size_t kLargeBytes = size_t(1) << 20;
  /// The cache holds at most this many bytes; more are returned to the system, the least
  /// recently freed first. It is emptied at exit.
  static constexpr size_t kCacheLimitBytes = size_t(256) << 20;
  /// (Env DT_BUFFER_CACHE=0 turns this off: every buffer is malloc'd, nothing is cached.)
  /// The bytes the cache holds now (never memory of a live buffer).
  static size_t cachedBytes();
  /// Returns every cached block to the system.
  static void trimCache();

private:
  Buffer(void *data, size_t bytes, size_t capacity, std::shared_ptr<void> owner)
      : data_(data), bytes_(bytes), capacity_(capacity), owner_(std::move(owner)) {}
  void *data_;
  size_t bytes_;
  size_t capacity_;             ///< bytes mapped for a large buffer, 0 for malloc'd or wrapped memory
  std::shared_ptr<void> owner_; ///< null when the runtime allocated data_
};

} // namespace dt::rt
