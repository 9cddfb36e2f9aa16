#pragma once
// The implicit conv1d backward_weight's micro-kernel contract (issue 10), shared by its driver
// (conv1d_wgrad.cpp) and its AVX-512 kernels (conv1d_wgrad.avx512.cpp, which may include no
// header with inline functions: only <cstdint> here). conv1d_wgrad.avx512.cpp states the sum.
#include <cstdint>

namespace reel::backends::cpu::detail {

// A run of `count` positions: grad_out's row 0 of the group at gy (rows WgradTile::ldgy apart),
// x's channel 0 of the group at the run's first position shifted by offset(0) (channels `ldx`
// apart: x itself, or a zero-padded window of an edge).
struct WgradSegment {
  const float* gy;
  const float* x;
  std::int64_t ldx;
  std::int64_t count;
};

// One tile of grad_W: rows [o0, o0 + rows) (grad_out rows at row_off = o0 * ldgy from each
// segment's gy) by the flattened (input channel, tap) columns whose channel and tap offset
// (tap * dilation) are col_ci[c], col_k[c] for c < cols; gw[r * ldgw + c] += the sums.
struct WgradTile {
  const WgradSegment* segment;
  std::int64_t segments;
  std::int64_t row_off, ldgy;
  const std::int64_t* col_ci;
  const std::int64_t* col_k;
  float* gw;
  std::int64_t ldgw;
  int rows, cols;
};

void conv1d_wgrad_kernel_4x6_avx512(const WgradTile& tile);
void conv1d_wgrad_kernel_3x7_avx512(const WgradTile& tile);
void conv1d_wgrad_kernel_3x8_avx512(const WgradTile& tile);

}  // namespace reel::backends::cpu::detail
