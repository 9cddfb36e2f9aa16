#pragma once
// The seam between the CUDA backend's host code (cuda_backend.cpp, compiled by the C++
// compiler) and its kernels (*.cu, compiled by nvcc).
//
// The kernels see reel's own vocabulary: DType and BinaryOp come from dtype_core.hpp and
// op_table.hpp, which are written without fmt precisely so that nvcc can include them (nvcc
// cannot parse fmt's compile-time format strings). No mirror enums, nothing to keep in step.
// Launchers never throw; they return the cudaError_t of the launch and the host side turns it
// into a reel::Error. Which (op, dtype) pairs are launched is the op table's op_accepts().
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/op_table.hpp"
#include "backends/kernel_params.hpp"

namespace reel::backends::cuda {

inline constexpr int kKernelMaxDims = 8;  // == reel::kMaxDims (checked in cuda_backend.cpp)

// A strided walk over N operands that share one shape: sizes and strides are in elements,
// innermost dim first (so the kernels' unrolled loop indexes them with constants). The host
// has already dropped size-1 dims and merged dims that are contiguous in every operand, so a
// contiguous tensor of any rank arrives as ndim == 1 with stride 1.
template <int N>
struct Indexer {
  int ndim = 1;
  std::int64_t sizes[kKernelMaxDims] = {};
  std::int64_t strides[N][kKernelMaxDims] = {};
};

// A fill value already converted on the host to the destination's element type, as raw bytes
// (std::complex and cuda::std::complex share the {re, im} layout).
struct FillValue {
  alignas(16) unsigned char bytes[16] = {};
};

// numel > 0. index32: every linear index and every element offset fits in 31 bits, so the
// kernels may use 32-bit index arithmetic (integer division is much cheaper).
cudaError_t launch_fill(DType type, void* out, const Indexer<1>& ix, std::int64_t numel,
                        bool index32, const FillValue& value, cudaStream_t stream);

// out[i] = cast<to>(in[i]) with PyTorch's conversion rules.
cudaError_t launch_copy(DType to, void* out, DType from, const void* in,
                        const Indexer<2>& ix, std::int64_t numel, bool index32,
                        cudaStream_t stream);

// out[i] = random_value<T>(spec, i) (backends/philox.hpp), i the row-major index. `type` is
// neither bool nor a 16-bit type (cudaErrorNotSupported); the spec was checked by
// Backend::random.
cudaError_t launch_random(DType type, void* out, const Indexer<1>& ix, std::int64_t numel,
                          const RandomSpec& spec, cudaStream_t stream);

// pad1d over [N, C, L] views (Backend::pad1d has checked them): out has out_shape, in has
// length in_length; strides in elements. The backward writes grad_in (in_shape) from grad_out;
// its dtype is neither bool nor 16-bit (cudaErrorNotSupported). Shapes are non-empty.
cudaError_t launch_pad1d(DType type, void* out, const std::int64_t* out_shape,
                         const std::int64_t* out_strides, const void* in,
                         const std::int64_t* in_strides, std::int64_t in_length, PadMode mode,
                         std::int64_t left, cudaStream_t stream);
cudaError_t launch_pad1d_backward(DType type, void* grad_in, const std::int64_t* in_shape,
                                  const std::int64_t* in_strides, const void* grad_out,
                                  const std::int64_t* out_strides, PadMode mode,
                                  std::int64_t left, std::int64_t right, cudaStream_t stream);

// out[i] = op(in[i]); in has dtype `type`, out has op_out_dtype(op, type). Operand order in
// the indexer: out, in. Returns cudaErrorNotSupported for a pair the op table refuses.
cudaError_t launch_unary(UnaryOp op, DType type, void* out, const void* in,
                         const Indexer<2>& ix, std::int64_t numel, bool index32,
                         cudaStream_t stream);

// out[i] = cond[i] ? a[i] : b[i]; cond is bool, out, a and b have dtype `type`. Operand order
// in the indexer: out, cond, a, b.
cudaError_t launch_where(DType type, void* out, const void* cond, const void* a, const void* b,
                         const Indexer<4>& ix, std::int64_t numel, bool index32,
                         cudaStream_t stream);

// out[i] = op(a[i], b[i]); a and b have dtype `type`, out has op_out_dtype(op, type). Operand
// order in the indexer: out, a, b. Returns cudaErrorNotSupported for a pair the op table
// refuses.
cudaError_t launch_binary(BinaryOp op, DType type, void* out, const void* a,
                          const void* b, const Indexer<3>& ix, std::int64_t numel, bool index32,
                          cudaStream_t stream);

}  // namespace reel::backends::cuda
