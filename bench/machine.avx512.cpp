// The AVX-512 FMA loop of bench/machine.hpp, compiled with -mavx512f (bench/CMakeLists.txt);
// called only when cpuid reports AVX-512 F (machine.cpp).
#include <immintrin.h>

#include "machine.hpp"

namespace reel_bench::detail {

float fma_loop_avx512(std::int64_t iterations) {
  constexpr int kChains = 16;
  static_assert(kFlopsPerIterationAvx512 == kChains * 16 * 2);
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-6f);
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.5f + 0.01f * static_cast<float>(i));
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  // Summed through memory: GCC 12's _mm512_reduce_add_ps warns (-Wuninitialized, its own
  // _mm512_undefined_ps).
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

}  // namespace reel_bench::detail
