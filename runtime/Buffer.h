// Memory the runtime owns: 64-byte-aligned buffers with shared ownership, or views of memory a
// caller owns (a numpy array) kept alive by an owner handle.
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

private:
  Buffer(void *data, size_t bytes, std::shared_ptr<void> owner)
      : data_(data), bytes_(bytes), owner_(std::move(owner)) {}
  void *data_;
  size_t bytes_;
  std::shared_ptr<void> owner_; ///< null when the runtime allocated data_
};

} // namespace dt::rt
