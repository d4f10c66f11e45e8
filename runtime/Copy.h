// Strided copies: gathering a strided view into contiguous memory (eager `contiguous()`).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dt::rt {

/// Copies the `rank`-dimensional strided view `src` (strides in elements of `elemSize` bytes)
/// into contiguous row-major `dst`.
void copyStrided(void *dst, const void *src, size_t elemSize, int rank, const int64_t *shape,
                 const int64_t *srcStrides);

/// The inverse: copies contiguous row-major `src` into the `rank`-dimensional strided view `dst`
/// (eager in-place updates of views). `dst` must not overlap `src`.
void copyToStrided(void *dst, const int64_t *dstStrides, const void *src, size_t elemSize, int rank,
                   const int64_t *shape);

} // namespace dt::rt
