// The bfloat16 depthwise conv1d row kernels for AVX-512 BF16 (vdpbf16ps); the loops around them
// (padded rows, phases, threads) are in conv1d_depthwise_bf16.cpp, which calls these only after
// gemm_bf16_native_active() said the CPU has the instructions. Compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512bf16 (CMakeLists.txt, *.avx512bf16.cpp); like
// gemm_bf16.avx512bf16.cpp it includes no standard-library header and defines nothing with
// external linkage but the two kernels, so no inline function compiled with these flags can be
// chosen by the linker for another caller.
//
// vdpbf16ps multiplies two bfloat16 pairs per 32-bit lane and adds both products to one float32
// lane. A correlation out[t] = sum_k w[k] * src_k[t] pairs taps, not positions: for taps
// (k, k+1), the lane of output t must hold (src_k[t], src_k+1[t]). vpunpcklwd / vpunpckhwd of
// 32 positions of src_k and of src_k+1 make exactly those words, for positions 8L + 0..3
// (unpacklo) and 8L + 4..7 (unpackhi) of each 128-bit lane L: two instructions per 32 outputs
// and pair of taps, no widening. The accumulators stay in that order until the end, where one
// vpermt2ps per 16 outputs restores it. A dot product sum_t a[t] * b[t] (grad_weight) pairs
// consecutive positions straight from memory: 32 of each per instruction.
#include <immintrin.h>

#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h initializes its "undefined" registers as `__m512 __Y = __Y;`, which
// -Wuninitialized reports once inlined (GCC bug 105593), as in simd_kernels.avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace reel::backends::cpu::detail {

// Declared in conv1d.hpp, which is not included here (its inline helpers must not be compiled
// with this file's flags).
void dw_bf16_correlate_avx512bf16(std::int64_t count, std::int64_t taps,
                                  const std::uint16_t* const* src, const std::uint16_t* w,
                                  float bias, std::uint16_t* out);
float dw_bf16_dot_avx512bf16(std::int64_t count, const std::uint16_t* a, const std::uint16_t* b);
float dw_bf16_sum_avx512bf16(std::int64_t count, const std::uint16_t* a);

namespace {

// float32 -> bfloat16 bits in 16 lanes, bit for bit half.hpp's float_to_bf16_bits (round to
// nearest even on the bits, subnormals kept, NaN -> 0x7FC0), not vcvtneps2bf16 (which flushes
// subnormal inputs to zero and keeps NaN payloads).
inline __m256i round_bf16(__m512 v) {
  const __m512i x = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  return _mm512_cvtepi32_epi16(r);
}

// Positions 8L + 0..3 of the 4 lanes of `lo` and 8L + 4..7 of `hi` back in order: t 0..15
// (first) and 16..31 (second).
inline void unshuffle(__m512 lo, __m512 hi, __m512& first, __m512& second) {
  const __m512i i0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i i1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  first = _mm512_permutex2var_ps(lo, i0, hi);
  second = _mm512_permutex2var_ps(lo, i1, hi);
}

inline void store_bf16(std::uint16_t* out, std::int64_t n, __m512 lo, __m512 hi) {
  __m512 a, b;
  unshuffle(lo, hi, a, b);
  const __m256i ra = round_bf16(a), rb = round_bf16(b);
  if (n >= 32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), ra);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), rb);
    return;
  }
  const unsigned m = (1u << n) - 1u;  // n < 32
  _mm256_mask_storeu_epi16(out, static_cast<__mmask16>(m & 0xFFFFu), ra);
  if (n > 16) _mm256_mask_storeu_epi16(out + 16, static_cast<__mmask16>(m >> 16), rb);
}

inline __m512i load(const std::uint16_t* p) { return _mm512_loadu_si512(p); }

// 64 outputs (B = 2) or 32 (B = 1) from position t.
template <int B>
inline void correlate_block(std::int64_t t, std::int64_t n, std::int64_t taps,
                            const std::uint16_t* const* src, const std::uint16_t* w, float bias,
                            std::uint16_t* out) {
  __m512 acc[2 * B];
  for (int i = 0; i < 2 * B; ++i) acc[i] = _mm512_set1_ps(bias);
  std::int64_t k = 0;
  for (; k + 1 < taps; k += 2) {
    const __m512bh wp = (__m512bh)_mm512_set1_epi32(
        static_cast<int>(static_cast<std::uint32_t>(w[k]) | (static_cast<std::uint32_t>(w[k + 1]) << 16)));
    for (int b = 0; b < B; ++b) {
      const __m512i lo = load(src[k] + t + 32 * b), hi = load(src[k + 1] + t + 32 * b);
      acc[2 * b] = _mm512_dpbf16_ps(acc[2 * b], (__m512bh)_mm512_unpacklo_epi16(lo, hi), wp);
      acc[2 * b + 1] = _mm512_dpbf16_ps(acc[2 * b + 1], (__m512bh)_mm512_unpackhi_epi16(lo, hi), wp);
    }
  }
  if (k < taps) {  // an odd last tap: its pair is completed with +0 (in the data and the weight)
    const __m512bh wp = (__m512bh)_mm512_set1_epi32(static_cast<int>(w[k]));
    const __m512i zero = _mm512_setzero_si512();
    for (int b = 0; b < B; ++b) {
      const __m512i lo = load(src[k] + t + 32 * b);
      acc[2 * b] = _mm512_dpbf16_ps(acc[2 * b], (__m512bh)_mm512_unpacklo_epi16(lo, zero), wp);
      acc[2 * b + 1] = _mm512_dpbf16_ps(acc[2 * b + 1], (__m512bh)_mm512_unpackhi_epi16(lo, zero), wp);
    }
  }
  store_bf16(out + t, n - t, acc[0], acc[1]);  // the caller has n > t (and n > t + 32 for B = 2)
  if constexpr (B == 2) store_bf16(out + t + 32, n - t - 32, acc[2], acc[3]);
}

}  // namespace

// out[t] = bf16(bias + sum_{k < taps} w[k] * src[k][t]) for t < count, in float32, rounded once.
// Each src[k] must be readable for count rounded up to 32 elements (what lies past count only
// reaches the lanes of positions that are not stored).
void dw_bf16_correlate_avx512bf16(std::int64_t count, std::int64_t taps,
                                  const std::uint16_t* const* src, const std::uint16_t* w,
                                  float bias, std::uint16_t* out) {
  std::int64_t t = 0;
  for (; t + 32 < count; t += 64) correlate_block<2>(t, count, taps, src, w, bias, out);
  if (t < count) correlate_block<1>(t, count, taps, src, w, bias, out);
}

// sum_{t < count} a[t] * b[t] in float32 (reads nothing past count).
float dw_bf16_dot_avx512bf16(std::int64_t count, const std::uint16_t* a, const std::uint16_t* b) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(),
         acc3 = _mm512_setzero_ps();
  std::int64_t t = 0;
  for (; t + 128 <= count; t += 128) {
    acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)load(a + t), (__m512bh)load(b + t));
    acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)load(a + t + 32), (__m512bh)load(b + t + 32));
    acc2 = _mm512_dpbf16_ps(acc2, (__m512bh)load(a + t + 64), (__m512bh)load(b + t + 64));
    acc3 = _mm512_dpbf16_ps(acc3, (__m512bh)load(a + t + 96), (__m512bh)load(b + t + 96));
  }
  for (; t + 32 <= count; t += 32)
    acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)load(a + t), (__m512bh)load(b + t));
  if (t < count) {  // masked: the lanes past count read as +0 in both operands
    const __mmask32 m = static_cast<__mmask32>((1u << (count - t)) - 1u);
    acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_maskz_loadu_epi16(m, a + t),
                            (__m512bh)_mm512_maskz_loadu_epi16(m, b + t));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

// sum_{t < count} a[t] in float32 (reads nothing past count): a dot product with pairs of 1.0,
// exact products, so the same float32 sum as a widening add.
float dw_bf16_sum_avx512bf16(std::int64_t count, const std::uint16_t* a) {
  const __m512bh ones = (__m512bh)_mm512_set1_epi32(0x3F803F80);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  std::int64_t t = 0;
  for (; t + 64 <= count; t += 64) {
    acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)load(a + t), ones);
    acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)load(a + t + 32), ones);
  }
  for (; t + 32 <= count; t += 32) acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)load(a + t), ones);
  if (t < count) {
    const __mmask32 m = static_cast<__mmask32>((1u << (count - t)) - 1u);
    acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_maskz_loadu_epi16(m, a + t), ones);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

}  // namespace reel::backends::cpu::detail
