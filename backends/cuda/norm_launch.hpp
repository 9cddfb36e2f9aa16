#pragma once
// The seam between the host glue of the normalization primitives (norm.cpp, compiled by the
// C++ compiler) and their kernels (norm.cu, compiled by nvcc). Plain types only (see
// launch.hpp); the launchers never throw.
//
// The data is a 4-d view [N, G, D, L] (backend.hpp, NormParams). A *slot* is one set of
// statistics: (n, g) over (d, l), or g over (n, d, l) when the statistics are shared by the
// batch. A *channel* is (g, d), whose grad_weight / grad_bias sum over (n, l). Each slot (or
// channel) is folded by `group` threads: lane k takes elements k, k + group, ... of the slot in
// the reference's row-major order, and the lanes' partials are combined in shared memory in a
// fixed tree order, so results never depend on timing (no atomics).
//
// Offsets are 64-bit throughout (one index width keeps the compile short).
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"

namespace reel::backends::cuda {

// Threads per block of these kernels (device_utils.cuh's kThreadsPerBlock, checked in norm.cu):
// the largest group.
inline constexpr int kNormBlockThreads = 256;

// The operands of one call, in elements; a null pointer is an absent operand (its strides are
// then never used). mean and var are written by norm_stats only.
struct NormArgs {
  // Geometry: in [n, g, d, l]; shared: one slot per g over (n, d, l), else one per (n, g).
  std::int64_t n = 0, g = 0, d = 0, l = 0;
  bool shared = false;
  double eps = 0.0;
  bool input_stats = true;  // norm_backward: the gradient flows through the statistics

  // [N, G, D, L] views: the output (norm_forward's out, norm_backward's grad_in), the input,
  // and norm_backward's grad_out.
  void* out = nullptr;
  std::int64_t out_strides[4] = {};
  const void* in = nullptr;
  std::int64_t in_strides[4] = {};
  const void* grad_out = nullptr;
  std::int64_t grad_out_strides[4] = {};
  // [N or 1, G] statistics.
  void* mean = nullptr;
  std::int64_t mean_strides[2] = {};
  void* var = nullptr;
  std::int64_t var_strides[2] = {};
  // [G, D] per-channel views: the affine parameters, and norm_backward's gradients of them.
  const void* weight = nullptr;
  std::int64_t weight_strides[2] = {};
  const void* bias = nullptr;
  std::int64_t bias_strides[2] = {};
  void* grad_weight = nullptr;
  std::int64_t grad_weight_strides[2] = {};
  void* grad_bias = nullptr;
  std::int64_t grad_bias_strides[2] = {};
};

// mean and var of every slot (NaN for both when a slot is empty); `slots` > 0 slots of `count`
// elements each, folded by `group` (1, 32 or kNormBlockThreads) threads.
cudaError_t launch_norm_stats(DType type, const NormArgs& a, std::int64_t slots,
                              std::int64_t count, int group, cudaStream_t stream);

// out = (in - mean) * rstd * weight + bias, one thread per element (numel > 0).
cudaError_t launch_norm_forward(DType type, const NormArgs& a, std::int64_t numel,
                                cudaStream_t stream);

// grad_weight and grad_bias (either may be null, not both): `channels` > 0 channels of
// `count` elements each, folded by `group` threads.
cudaError_t launch_norm_backward_channels(DType type, const NormArgs& a, std::int64_t channels,
                                          std::int64_t count, int group, cudaStream_t stream);

// grad_in (a.out): `slots` > 0 slots of `count` elements each, folded by `group` threads
// (the slot means of the gradient when a.input_stats, then the elementwise pass).
cudaError_t launch_norm_backward_input(DType type, const NormArgs& a, std::int64_t slots,
                                       std::int64_t count, int group, cudaStream_t stream);

}  // namespace reel::backends::cuda
