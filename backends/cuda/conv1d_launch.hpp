#pragma once
// The seam between the host glue of conv1d (conv1d.cpp, compiled by the C++ compiler) and reel's
// own conv1d kernels (conv1d.cu, compiled by nvcc). Plain types only (see launch.hpp); the
// launchers never throw, they return the cudaError_t of their launches.
//
// The maths is backends/reference/conv1d.cpp's (a cross-correlation, groups by indexing, zero
// padding by index arithmetic, no conjugation); Backend's entry points (check_conv1d) have
// validated every view and parameter before a launcher is called. Outputs are overwritten.
// Offsets are 64-bit throughout.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"

namespace reel::backends::cuda {

// One conv1d's geometry (Conv1dShape and Conv1dParams together); strides in elements, any
// non-negative strides. pad_right is not needed: it only decides out_length.
struct ConvRows {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, length = 0, out_length = 0,
               kernel = 0;
  std::int64_t in_per_group = 0, out_per_group = 0, stride = 1, dilation = 1, pad_left = 0;
  std::int64_t x_strides[3] = {0, 0, 0};  // input-shaped views [N, Cin, L] (x, grad_in)
  std::int64_t y_strides[3] = {0, 0, 0};  // output-shaped views [N, Cout, Lout] (y, grad_out)
  std::int64_t w_strides[3] = {0, 0, 0};  // weight-shaped views [Cout, Cin/G, K] (w, grad_weight)
  std::int64_t bias_stride = 0;           // bias / grad_bias [Cout]
};

// `type`: Float32, Float64, Complex64, Complex128, Float16, BFloat16 (any other dtype:
// cudaErrorNotSupported). Sums accumulate in float (float32 and the 16-bit types, which are
// loaded natively and rounded once at the store), double, complex<float> or complex<double>.

// y = bias + conv(x, w); bias may be null (none).
cudaError_t launch_conv1d_forward(DType type, void* y, const void* x, const void* w,
                                  const void* bias, const ConvRows& g, cudaStream_t s);

// grad_x from grad_y and w (a gather: one thread per grad_x element, no atomics).
cudaError_t launch_conv1d_backward_input(DType type, void* grad_x, const void* grad_y,
                                         const void* w, const ConvRows& g, cudaStream_t s);

// grad_w and/or grad_b may be null (not wanted); at least one is not. Deterministic: fixed-order
// block reductions, no atomics. With grad_w null, g.kernel is not read.
cudaError_t launch_conv1d_backward_weight(DType type, void* grad_w, void* grad_b,
                                          const void* grad_y, const void* x, const ConvRows& g,
                                          cudaStream_t s);

// Depthwise fast paths: in_per_group == 1 (output channel co reads input channel
// co / out_per_group). They honour the strides like the generic kernels (contiguity only
// helps coalescing), and where their shared-memory tiles would not fit (very large stride,
// dilation or multiplier) or in_per_group != 1 they run the generic kernels instead, so they
// are correct for every geometry.
cudaError_t launch_conv1d_depthwise_forward(DType type, void* y, const void* x, const void* w,
                                            const void* bias, const ConvRows& g,
                                            cudaStream_t s);

// Fused backward: grad_x, grad_w, grad_b may each be null (not wanted). One pass reads grad_y
// once per tile for grad_x and for the per-tile partial sums of grad_w / grad_b, which a second
// kernel reduces in a fixed order (deterministic, no atomics). The partials live in `workspace`,
// of conv1d_depthwise_backward_workspace(type, g) bytes (0: none needed, `workspace` may then be
// null). The workspace size depends on (type, g) only, not on which gradients are wanted.
std::size_t conv1d_depthwise_backward_workspace(DType type, const ConvRows& g);
cudaError_t launch_conv1d_depthwise_backward(DType type, void* grad_x, void* grad_w,
                                             void* grad_b, const void* grad_y, const void* x,
                                             const void* w, void* workspace, const ConvRows& g,
                                             cudaStream_t s);

}  // namespace reel::backends::cuda
