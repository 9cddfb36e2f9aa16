// The implicit-gemm conv1d micro-kernel for AVX-512 (conv1d_implicit.cpp has the algorithm).
// This file is compiled with the AVX-512 flags (CMakeLists.txt, *.avx512.cpp) and holds only
// the micro-kernels, called by conv1d_implicit.cpp after cpuid said the CPU has AVX-512 F and
// the OS saves the zmm state. Like gemm_bf16.avx512bf16.cpp it includes no standard-library
// header: an inline function instantiated here would be compiled with these flags, and the
// linker could keep this copy for every caller, letting an AVX-512 instruction reach a CPU
// without it. The templates live in an anonymous namespace for the same reason.
//
// One call computes an MR x (16 * NV) tile of a stride-1 correlation:
//
//   y[r][t] = (sum over i < depth, k < taps of wp[(i * taps + k) * MR + r] *
//                                               xb[i * ldx + k * dil + t]) + bias[r]
//
// wp is one packed weight panel (zero rows past the real ones), xb points at the input row of
// channel 0 at the tile's first tap, so every B operand is an unaligned load straight from x
// (or from a zero-padded edge window). Per (i, k): NV loads, MR broadcasts from memory (folded
// into the FMA as an embedded broadcast), MR * NV FMAs into accumulators that stay in zmm
// registers. Only `rows` rows and `cols` columns are stored (masked stores at the right edge).
#include <immintrin.h>

#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h initializes its "undefined" registers as `__m512 __Y = __Y;`, which
// -Wuninitialized reports once inlined (GCC bug 105593), as in simd_kernels.avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace reel::backends::cpu::detail {

// Declared in conv1d_implicit.cpp, which is not included here (its helpers must not be
// compiled with this file's flags).
void conv1d_implicit_kernel_6x64_avx512(std::int64_t depth, std::int64_t taps, std::int64_t dil,
                                        const float* wp, const float* xb, std::int64_t ldx,
                                        float* y, std::int64_t ldy, int rows, int cols,
                                        const float* bias);
void conv1d_implicit_kernel_8x48_avx512(std::int64_t depth, std::int64_t taps, std::int64_t dil,
                                        const float* wp, const float* xb, std::int64_t ldx,
                                        float* y, std::int64_t ldy, int rows, int cols,
                                        const float* bias);
void conv1d_implicit_rows_kernel_6x64_avx512(std::int64_t depth, std::int64_t taps,
                                             std::int64_t tap_step, const float* wp,
                                             const float* const* x, float* const* y,
                                             std::int64_t ldy, int rows, int cols,
                                             const float* bias);

namespace {

// mask[v]: the lanes of vector v (columns 16 v .. 16 v + 15) below `cols`.
template <int NV>
inline __attribute__((always_inline)) void column_masks(int cols, __mmask16* mask) {
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const int n = cols - 16 * v;
    mask[v] = n >= 16 ? static_cast<__mmask16>(0xffff)
              : n <= 0 ? static_cast<__mmask16>(0)
                       : static_cast<__mmask16>((1u << n) - 1u);
  }
}

template <int MR, int NV>
inline __attribute__((always_inline)) void kernel(std::int64_t depth, std::int64_t taps,
                                                  std::int64_t dil, const float* wp,
                                                  const float* xb, std::int64_t ldx, float* y,
                                                  std::int64_t ldy, int rows, int cols,
                                                  const float* bias) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (std::int64_t i = 0; i < depth; ++i) {
    const float* xi = xb + i * ldx;
    for (std::int64_t k = 0; k < taps; ++k) {
      const float* xk = xi + k * dil;
      __m512 bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(xk + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(wp[r]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, bv[v], acc[r][v]);
      }
      wp += MR;
    }
  }
  // The bias after the sum, as the gemm algorithm adds it: each output is then the same FMA
  // chain over (i, k) from zero plus the bias, bit for bit (streaming's equality relies on it).
  if (bias != nullptr) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      if (r >= rows) break;
      const __m512 b = _mm512_set1_ps(bias[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_add_ps(acc[r][v], b);
    }
  }
  if (cols >= 16 * NV) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      if (r >= rows) break;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(y + r * ldy + 16 * v, acc[r][v]);
    }
    return;
  }
  __mmask16 mask[NV];
  column_masks<NV>(cols, mask);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(y + r * ldy + 16 * v, mask[v], acc[r][v]);
  }
}

// The transposed tile for short rows (conv1d_implicit.cpp, "Short rows"): MR output
// positions x 16 * NV output channels. Position r's inputs are a channels-last row: x[r][i] is
// input channel i at the position of its tap 0, x[r][k * tap_step + i] at tap k. Per (i, k): NV
// loads of packed weights (wp[(i * taps + k) * 16 * NV + c], output channel c), MR broadcasts,
// MR * NV FMAs; the sum runs over (i, k) in the same order as kernel()'s, bias added last.
// Output channel c of position r goes to y[r][c * ldy] (a scatter: the output is channels-first),
// for r < rows and c < cols.
template <int MR, int NV>
inline __attribute__((always_inline)) void rows_kernel(std::int64_t depth, std::int64_t taps,
                                                       std::int64_t tap_step, const float* wp,
                                                       const float* const* x, float* const* y,
                                                       std::int64_t ldy, int rows, int cols,
                                                       const float* bias) {
  __m512 acc[MR][NV];
  const float* xr[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    xr[r] = x[r < rows ? r : 0];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (std::int64_t i = 0; i < depth; ++i) {
    for (std::int64_t k = 0; k < taps; ++k) {
      const std::int64_t off = k * tap_step + i;
      __m512 w[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) w[v] = _mm512_load_ps(wp + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(xr[r][off]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, w[v], acc[r][v]);
      }
      wp += 16 * NV;
    }
  }
  __m512 b[NV];
  __mmask16 mask[NV];
  const __m512i index = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(ldy)));
  column_masks<NV>(cols, mask);
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v)
    b[v] = bias != nullptr ? _mm512_maskz_loadu_ps(mask[v], bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const __m512 out = bias != nullptr ? _mm512_add_ps(acc[r][v], b[v]) : acc[r][v];
      _mm512_mask_i32scatter_ps(y[r] + 16 * v * ldy, mask[v], index, out, 4);
    }
  }
}

}  // namespace

void conv1d_implicit_kernel_6x64_avx512(std::int64_t depth, std::int64_t taps, std::int64_t dil,
                                        const float* wp, const float* xb, std::int64_t ldx,
                                        float* y, std::int64_t ldy, int rows, int cols,
                                        const float* bias) {
  kernel<6, 4>(depth, taps, dil, wp, xb, ldx, y, ldy, rows, cols, bias);
}

void conv1d_implicit_kernel_8x48_avx512(std::int64_t depth, std::int64_t taps, std::int64_t dil,
                                        const float* wp, const float* xb, std::int64_t ldx,
                                        float* y, std::int64_t ldy, int rows, int cols,
                                        const float* bias) {
  kernel<8, 3>(depth, taps, dil, wp, xb, ldx, y, ldy, rows, cols, bias);
}

}  // namespace reel::backends::cpu::detail

namespace reel::backends::cpu::detail {

void conv1d_implicit_rows_kernel_6x64_avx512(std::int64_t depth, std::int64_t taps,
                                             std::int64_t tap_step, const float* wp,
                                             const float* const* x, float* const* y,
                                             std::int64_t ldy, int rows, int cols,
                                             const float* bias) {
  rows_kernel<6, 4>(depth, taps, tap_step, wp, x, y, ldy, rows, cols, bias);
}

}  // namespace reel::backends::cpu::detail
