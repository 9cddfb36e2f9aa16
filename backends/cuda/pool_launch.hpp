#pragma once
// The seam between the host glue of the 1-D pools (pool.cpp, compiled by the C++ compiler) and
// their kernels (pool.cu, compiled by nvcc). Plain types only (see launch.hpp); the launchers
// never throw.
//
// Every pool works on [N, C, L] views with any (non-negative) strides: `in` is the long side
// [N, C, L] (the forward's input, the backward's grad_in) and `out` the pooled side
// [N, C, Lout] (the forward's output and indices, the backward's grad_out). Offsets are 64-bit
// throughout (one index width keeps the compile short).
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"

namespace reel::backends::cuda {

// The extents and element strides of the views of one launch.
struct PoolRows {
  std::int64_t batch = 0;       // N
  std::int64_t channels = 0;    // C
  std::int64_t in_length = 0;   // L
  std::int64_t out_length = 0;  // Lout
  std::int64_t in_strides[3] = {0, 0, 0};
  std::int64_t out_strides[3] = {0, 0, 0};
  std::int64_t index_strides[3] = {0, 0, 0};  // max pools' indices (zero when there are none)
};

// Which windows: Pool1dParams' geometry (backends/backend.hpp), or the adaptive windows
// [floor(t*L/Lout), ceil((t+1)*L/Lout)) when `adaptive` (the other fields are then unused).
struct PoolWindow {
  bool adaptive = false;
  std::int64_t kernel_size = 1;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t dilation = 1;  // max pools only
  bool count_include_pad = true;  // avg pools only
};

// max_pool1d / adaptive_max_pool1d: out and indices (int64, or null: not written) from in.
// `type` is a floating dtype (float32, float64, float16, bfloat16).
cudaError_t launch_max_pool1d(DType type, void* out, std::int64_t* indices, const void* in,
                              const PoolRows& g, const PoolWindow& w, cudaStream_t stream);

// avg_pool1d / adaptive_avg_pool1d: out from in.
cudaError_t launch_avg_pool1d(DType type, void* out, const void* in, const PoolRows& g,
                              const PoolWindow& w, cudaStream_t stream);

// Their backward: grad_in (the `in` side, written whole) from grad_out (the `out` side).
cudaError_t launch_avg_pool1d_backward(DType type, void* grad_in, const void* grad_out,
                                       const PoolRows& g, const PoolWindow& w,
                                       cudaStream_t stream);

}  // namespace reel::backends::cuda
