// The AVX2 FMA loop of bench/machine.hpp, compiled with -mavx2 -mfma (bench/CMakeLists.txt);
// called only when cpuid reports AVX2 and FMA (machine.cpp).
#include <immintrin.h>

#include "machine.hpp"

namespace reel_bench::detail {

float fma_loop_avx2(std::int64_t iterations) {
  constexpr int kChains = 12;
  static_assert(kFlopsPerIterationAvx2 == kChains * 8 * 2);
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-6f);
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.5f + 0.01f * static_cast<float>(i));
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

}  // namespace reel_bench::detail
