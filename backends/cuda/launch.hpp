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

// out[i] = op(a[i], b[i]); a and b have dtype `type`, out has op_out_dtype(op, type). Operand
// order in the indexer: out, a, b. Returns cudaErrorNotSupported for a pair the op table
// refuses.
cudaError_t launch_binary(BinaryOp op, DType type, void* out, const void* a,
                          const void* b, const Indexer<3>& ix, std::int64_t numel, bool index32,
                          cudaStream_t stream);

}  // namespace reel::backends::cuda
