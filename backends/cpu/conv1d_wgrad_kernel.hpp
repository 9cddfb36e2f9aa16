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

// Short rows, transposed (conv1d_wgrad.cpp, "Short rows"): channels-last operands, a run of
// `count` consecutive positions: x at the row of the first position's tap 0, channel 0 of the
// group; gy at the row of the first position, the tile's first output channel.
struct WgradRowsSegment {
  const float* x;
  const float* gy;
  std::int64_t count;
};

// One tile of grad_W transposed: (input channel, tap) pairs by output channels,
//   gwt[r * ldgw + c] (+)= sum over segments s, steps j < s.count of
//                          s.x[j * ldx + off[r]] * s.gy[j * ldgy + c]
// for r < rows, c < cols (the kernel stores whole 64-column rows of `kRows` pairs: gwt has
// room for them); `accumulate` false starts from zero.
struct WgradRowsTile {
  const WgradRowsSegment* segment;
  std::int64_t segments;
  std::int64_t ldx, ldgy;
  const std::int64_t* off;
  float* gwt;
  std::int64_t ldgw;
  int rows, cols;
  bool accumulate;
};

void conv1d_wgrad_rows_kernel_6x64_avx512(const WgradRowsTile& tile);
void conv1d_wgrad_kernel_4x6_avx512(const WgradTile& tile);
void conv1d_wgrad_kernel_3x7_avx512(const WgradTile& tile);
void conv1d_wgrad_kernel_3x8_avx512(const WgradTile& tile);

}  // namespace reel::backends::cpu::detail
