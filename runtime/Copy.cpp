// Strided copies in both directions by recursion over the dimensions; the innermost dimension is
// one memcpy when it is contiguous.
#include "runtime/Copy.h"

#include <cstring>

namespace dt::rt {

namespace {
char *copyDim(char *dst, const char *src, size_t es, int rank, const int64_t *shape, const int64_t *st) {
  if (rank == 0) {
    std::memcpy(dst, src, es);
    return dst + es;
  }
  if (rank == 1) {
    if (st[0] == 1) {
      std::memcpy(dst, src, es * size_t(shape[0]));
      return dst + es * size_t(shape[0]);
    }
    for (int64_t i = 0; i < shape[0]; ++i, dst += es) std::memcpy(dst, src + i * st[0] * int64_t(es), es);
    return dst;
  }
  for (int64_t i = 0; i < shape[0]; ++i)
    dst = copyDim(dst, src + i * st[0] * int64_t(es), es, rank - 1, shape + 1, st + 1);
  return dst;
}
const char *copyToDim(char *dst, const char *src, size_t es, int rank, const int64_t *shape, const int64_t *st) {
  if (rank == 0) {
    std::memcpy(dst, src, es);
    return src + es;
  }
  if (rank == 1) {
    if (st[0] == 1) {
      std::memcpy(dst, src, es * size_t(shape[0]));
      return src + es * size_t(shape[0]);
    }
    for (int64_t i = 0; i < shape[0]; ++i, src += es) std::memcpy(dst + i * st[0] * int64_t(es), src, es);
    return src;
  }
  for (int64_t i = 0; i < shape[0]; ++i)
    src = copyToDim(dst + i * st[0] * int64_t(es), src, es, rank - 1, shape + 1, st + 1);
  return src;
}
} // namespace

void copyToStrided(void *dst, const int64_t *dstStrides, const void *src, size_t elemSize, int rank,
                   const int64_t *shape) {
  for (int i = 0; i < rank; ++i)
    if (shape[i] == 0) return;
  copyToDim(static_cast<char *>(dst), static_cast<const char *>(src), elemSize, rank, shape, dstStrides);
}

void copyStrided(void *dst, const void *src, size_t elemSize, int rank, const int64_t *shape,
                 const int64_t *srcStrides) {
  for (int i = 0; i < rank; ++i)
    if (shape[i] == 0) return;
  copyDim(static_cast<char *>(dst), static_cast<const char *>(src), elemSize, rank, shape, srcStrides);
}

} // namespace dt::rt
