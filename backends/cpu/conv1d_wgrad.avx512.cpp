// The implicit conv1d backward_weight micro-kernels for AVX-512 (conv1d_wgrad.cpp has the
// algorithm). Compiled with the AVX-512 flags (CMakeLists.txt, *.avx512.cpp) and called by
// conv1d_wgrad.cpp only after cpuid said the CPU has AVX-512 and the OS saves the zmm state. As
// in conv1d_implicit.avx512.cpp, no standard-library header and the templates in an anonymous
// namespace: nothing instantiated here may be linked into a caller on a CPU without AVX-512.
//
// One call adds an MR x NC tile of grad_W, summed over a list of segments of positions:
//
//   gw[r * ldgw + c] += sum over segments s, t < s.count of
//                       gy[s.gy + row_off + r * ldgy + t] * x[s.x + col_ci[c] * s.ldx + col_k[c] + t]
//
// Both operands are read along the reduction (positions t), 16 at a time, straight from
// grad_out's rows and from x's rows shifted by each tap (or a zero-padded edge window): no
// im2col, no packing. Each of the MR * NC products is a zmm accumulator (24 at most), summed
// horizontally once per call. Rows past `rows` read row 0 and columns past `cols` column 0 (in
// bounds, never stored); the last partial vector of a segment is a masked (zeroing) load.
#include <immintrin.h>

#include <cstdint>

#include "backends/cpu/conv1d_wgrad_kernel.hpp"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h initializes its "undefined" registers as `__m512 __Y = __Y;`, which
// -Wuninitialized reports once inlined (GCC bug 105593), as in simd_kernels.avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace reel::backends::cpu::detail {

namespace {

template <int MR, int NC>
inline __attribute__((always_inline)) void kernel(const WgradTile& tile) {
  __m512 acc[MR][NC];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (std::int64_t s = 0; s < tile.segments; ++s) {
    const WgradSegment& seg = tile.segment[s];
    const float* gp[MR];
    const float* xp[NC];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
      gp[r] = seg.gy + tile.row_off + (r < tile.rows ? r : 0) * tile.ldgy;
#pragma GCC unroll 16
    for (int c = 0; c < NC; ++c) {
      const int cc = c < tile.cols ? c : 0;
      xp[c] = seg.x + tile.col_ci[cc] * seg.ldx + tile.col_k[cc];
    }
    const std::int64_t count = seg.count;
    std::int64_t t = 0;
    for (; t + 16 <= count; t += 16) {
      __m512 g[MR];
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) g[r] = _mm512_loadu_ps(gp[r] + t);
#pragma GCC unroll 16
      for (int c = 0; c < NC; ++c) {
        const __m512 xv = _mm512_loadu_ps(xp[c] + t);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) acc[r][c] = _mm512_fmadd_ps(g[r], xv, acc[r][c]);
      }
    }
    if (t < count) {
      const __mmask16 m = static_cast<__mmask16>((1u << (count - t)) - 1u);
      __m512 g[MR];
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) g[r] = _mm512_maskz_loadu_ps(m, gp[r] + t);
#pragma GCC unroll 16
      for (int c = 0; c < NC; ++c) {
        const __m512 xv = _mm512_maskz_loadu_ps(m, xp[c] + t);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) acc[r][c] = _mm512_fmadd_ps(g[r], xv, acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (r >= tile.rows) break;
    float* out = tile.gw + r * tile.ldgw;
#pragma GCC unroll 16
    for (int c = 0; c < NC; ++c) {
      if (c >= tile.cols) break;
      out[c] += _mm512_reduce_add_ps(acc[r][c]);
    }
  }
}

// The transposed tile for short rows: MR (channel, tap) pairs x 16 * NV output channels. Per
// position: NV vector loads of grad_out (channels-last), MR broadcasts of x, MR * NV FMAs.
template <int MR, int NV>
inline __attribute__((always_inline)) void rows_kernel(const WgradRowsTile& tile) {
  __mmask16 mask[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const int n = tile.cols - 16 * v;
    mask[v] = n >= 16 ? static_cast<__mmask16>(0xffff)
              : n <= 0 ? static_cast<__mmask16>(0)
                       : static_cast<__mmask16>((1u << n) - 1u);
  }
  __m512 acc[MR][NV];
  std::int64_t off[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    off[r] = tile.off[r < tile.rows ? r : 0];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[r][v] = tile.accumulate ? _mm512_loadu_ps(tile.gwt + r * tile.ldgw + 16 * v)
                                  : _mm512_setzero_ps();
  }
  const std::int64_t ldx = tile.ldx, ldgy = tile.ldgy;
  for (std::int64_t s = 0; s < tile.segments; ++s) {
    const WgradRowsSegment& seg = tile.segment[s];
    const float* x = seg.x;
    const float* gy = seg.gy;
    for (std::int64_t j = 0; j < seg.count; ++j, x += ldx, gy += ldgy) {
      __m512 g[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) g[v] = _mm512_maskz_loadu_ps(mask[v], gy + 16 * v);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(x[off[r]]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, g[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(tile.gwt + r * tile.ldgw + 16 * v, acc[r][v]);
  }
}

}  // namespace

void conv1d_wgrad_rows_kernel_6x64_avx512(const WgradRowsTile& tile) { rows_kernel<6, 4>(tile); }
void conv1d_wgrad_kernel_4x6_avx512(const WgradTile& tile) { kernel<4, 6>(tile); }
void conv1d_wgrad_kernel_3x7_avx512(const WgradTile& tile) { kernel<3, 7>(tile); }
void conv1d_wgrad_kernel_3x8_avx512(const WgradTile& tile) { kernel<3, 8>(tile); }

}  // namespace reel::backends::cpu::detail
