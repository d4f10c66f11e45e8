// Tests of runtime/: buffer alignment, zero fill, the live count, wrapped views, Program::run.
#include "runtime/Buffer.h"
#include "runtime/Program.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>

using dt::rt::Buffer;
using dt::rt::Program;

TEST(RuntimeBuffer, AlignedAndWritable) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(3), size_t(63), size_t(64), size_t(65), size_t(1000), size_t(1) << 20}) {
    SCOPED_TRACE(bytes);
    auto b = Buffer::allocate(bytes);
    ASSERT_NE(b->data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % dt::rt::kAlignment, 0u);
    EXPECT_EQ(b->size(), bytes);
    EXPECT_TRUE(b->owned());
    // Uninitialized memory: every byte can be written and read back.
    unsigned char *p = static_cast<unsigned char *>(b->data());
    for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(i * 7);
    size_t wrong = 0;
    for (size_t i = 0; i < bytes; ++i) wrong += p[i] != static_cast<unsigned char>(i * 7);
    EXPECT_EQ(wrong, 0u);
  }
}

TEST(RuntimeBuffer, LiveCountReturnsToBaseline) {
  int64_t base = Buffer::liveCount();
  {
    auto a = Buffer::allocate(16);
    auto b = Buffer::allocate(0);
    EXPECT_EQ(Buffer::liveCount(), base + 2);
    auto c = a; // shared, not a new buffer
    EXPECT_EQ(Buffer::liveCount(), base + 2);
    int x = 0;
    auto w = Buffer::wrap(&x, sizeof x, nullptr); // wrapped views are not counted
    EXPECT_EQ(Buffer::liveCount(), base + 2);
    EXPECT_FALSE(w->owned());
  }
  EXPECT_EQ(Buffer::liveCount(), base);
}

TEST(RuntimeBuffer, WrapKeepsOwnerAlive) {
  std::weak_ptr<std::vector<float>> weak;
  std::shared_ptr<Buffer> w;
  {
    auto storage = std::make_shared<std::vector<float>>(10, 2.5f);
    weak = storage;
    w = Buffer::wrap(storage->data(), storage->size() * sizeof(float), storage);
  }
  ASSERT_FALSE(weak.expired());
  EXPECT_EQ(static_cast<float *>(w->data())[9], 2.5f);
  EXPECT_EQ(w->size(), 40u);
  w.reset();
  EXPECT_TRUE(weak.expired());
}

namespace {
// out[i] = a[i] + b[i] for float buffers of sizes[0] elements, or 3 elements when sizes is null.
void addKernel(void *const *bufs, const int64_t *sizes) {
  int64_t n = sizes ? sizes[0] : 3;
  float *o = static_cast<float *>(bufs[0]);
  const float *a = static_cast<const float *>(bufs[1]), *b = static_cast<const float *>(bufs[2]);
  for (int64_t i = 0; i < n; ++i) o[i] = a[i] + b[i];
}

std::shared_ptr<Buffer> floats(std::initializer_list<float> xs) {
  auto b = Buffer::allocate(xs.size() * sizeof(float));
  std::memcpy(b->data(), xs.begin(), b->size());
  return b;
}
} // namespace

TEST(RuntimeProgram, RunsStepsAndCopiesInputOutputs) {
  // slots: 0 = x, 1 = y, 2 = x + y, 3 = (x + y) + x
  Program p;
  p.slotBytes = {12, 12, 12, 12};
  p.inputSlots = {0, 1};
  p.steps.push_back({addKernel, {2, 0, 1}, {}, "add"});
  p.steps.push_back({addKernel, {3, 2, 0}, {3}, "add"});
  p.outputSlots = {3, 0, 2, 2};
  auto x = floats({1, 2, 3}), y = floats({10, 20, 30});
  int64_t base = Buffer::liveCount();
  {
    auto out = p.run(std::vector{x, y});
    ASSERT_EQ(out.size(), 4u);
    const float *r = static_cast<const float *>(out[0]->data());
    EXPECT_EQ(r[0], 12);
    EXPECT_EQ(r[2], 36);
    // An output that is an input is a copy, not the input itself.
    EXPECT_NE(out[1].get(), x.get());
    EXPECT_EQ(std::memcmp(out[1]->data(), x->data(), 12), 0);
    // The same slot returned twice gives two buffers.
    EXPECT_NE(out[2].get(), out[3].get());
    EXPECT_EQ(std::memcmp(out[2]->data(), out[3]->data(), 12), 0);
  }
  EXPECT_EQ(Buffer::liveCount(), base);
}

TEST(RuntimeProgram, RejectsBadInputs) {
  Program p;
  p.slotBytes = {12, 12, 12};
  p.inputSlots = {0, 1};
  p.steps.push_back({addKernel, {2, 0, 1}, {}, "add"});
  p.outputSlots = {2};
  auto x = floats({1, 2, 3});
  try {
    p.run(std::vector{x});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("expects 2 inputs, given 1"), std::string::npos) << e.what();
  }
  auto small = floats({1, 2});
  try {
    p.run(std::vector{x, small});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("input 1: expected 12 bytes, given 8"), std::string::npos) << e.what();
  }
}
