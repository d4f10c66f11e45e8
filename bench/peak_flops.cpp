// The machine's measured f32 FMA peak: each thread runs independent chains of fused multiply-adds
// on registers only (no memory traffic), 12 chains so the FMA units' latency is hidden. AVX-512
// (16 lanes) when the CPU has it, else AVX2+FMA (8 lanes). Prints GFLOP/s (2 flops per lane per
// FMA) for the given thread count: `dt_peak_flops [THREADS] [SECONDS]`. bench/run.py's "peak"
// row runs it next to the SGEMM proxy.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int kChains = 12;

/// Runs `iters` rounds of kChains FMAs on 16-lane vectors; returns a value that depends on all of
/// them (so nothing is optimized away).
__attribute__((target("avx512f"))) float fma512(int64_t iters) {
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b); // unrolled: acc stays in registers
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  float r = 0;
  for (float v : out) r += v;
  return r;
}

__attribute__((target("avx2,fma"))) float fma256(int64_t iters) {
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(float(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  float r = 0;
  for (float v : out) r += v;
  return r;
}

} // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  double seconds = argc > 2 ? std::atof(argv[2]) : 0.5;
  if (threads < 1 || threads > 1024 || !(seconds > 0 && seconds < 3600)) {
    std::fprintf(stderr, "usage: dt_peak_flops [THREADS >= 1] [SECONDS > 0], given %s %s\n", argc > 1 ? argv[1] : "",
                 argc > 2 ? argv[2] : "");
    return 2;
  }
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
    std::fprintf(stderr, "dt_peak_flops: this CPU has neither AVX-512F nor AVX2+FMA\n");
    return 1;
  }
  const int lanes = avx512 ? 16 : 8;
  auto run = [&](int64_t iters) { return avx512 ? fma512(iters) : fma256(iters); };
  // Calibrate on one thread, then time every thread running the same number of rounds; the best of 3.
  int64_t iters = 1 << 20;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    volatile float sink = run(iters);
    (void)sink;
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > seconds / 4 || iters > (int64_t(1) << 40)) break;
    iters *= 2;
  }
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> pool;
    std::vector<float> sinks(static_cast<size_t>(threads));
    auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sinks[size_t(t)] = run(iters); });
    for (std::thread &t : pool) t.join();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(threads) * double(iters) * kChains * lanes * 2 / dt / 1e9);
  }
  std::printf("%.1f GFLOP/s (%d thread%s, %s FMA, %d chains)\n", best, threads, threads == 1 ? "" : "s",
              avx512 ? "AVX-512" : "AVX2", kChains);
  return 0;
}
