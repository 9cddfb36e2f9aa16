#pragma once
// The seam between the CUDA backend's host code (cuda_backend.cpp, compiled by the C++
// compiler) and its kernels (*.cu, compiled by nvcc).
//
// Why a separate vocabulary: nvcc cannot parse fmt 9's compile-time format strings, and every
// reel header pulls fmt in (error.hpp). So the .cu files include only this header: plain
// structs, and enums that mirror reel::DType and reel::backends::BinaryOp value for value
// (cuda_backend.cpp static_asserts that they agree). Launchers never throw; they return the
// cudaError_t of the launch and the host side turns it into a reel::Error.
#include <cstdint>

#include <cuda_runtime_api.h>

namespace reel::backends::cuda {

inline constexpr int kKernelMaxDims = 8;  // == reel::kMaxDims (checked in cuda_backend.cpp)

// Mirrors reel::DType.
enum class ElemType : std::uint8_t { Bool, Int64, Float32, Float64, Complex64, Complex128 };

// Mirrors reel::backends::BinaryOp.
enum class BinaryKind : std::uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,
  ReluBackward, GeluBackward, SiluBackward, SigmoidBackward, TanhBackward,
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
};

constexpr bool is_complex(ElemType t) {
  return t == ElemType::Complex64 || t == ElemType::Complex128;
}
constexpr bool is_floating(ElemType t) {
  return t == ElemType::Float32 || t == ElemType::Float64;
}
constexpr bool is_comparison(BinaryKind op) {
  return op >= BinaryKind::Eq;
}

// Which (op, input dtype) pairs have a kernel. The host checks this before launching (with a
// readable error); the kernels use it to avoid instantiating what makes no sense (ordering
// complex numbers, subtracting bools).
constexpr bool binary_supported(BinaryKind op, ElemType t) {
  switch (op) {
    case BinaryKind::Add:
    case BinaryKind::Mul:
    case BinaryKind::Eq:
    case BinaryKind::Ne:
    case BinaryKind::LogicalAnd:
    case BinaryKind::LogicalOr:
      return true;
    case BinaryKind::Sub:
      return t != ElemType::Bool;
    case BinaryKind::Div:  // Tensor::div promotes integers to float first, as PyTorch does
      return is_floating(t) || is_complex(t);
    case BinaryKind::Pow:
      return t == ElemType::Int64 || is_floating(t);
    case BinaryKind::Maximum:
    case BinaryKind::Minimum:
    case BinaryKind::Lt:
    case BinaryKind::Le:
    case BinaryKind::Gt:
    case BinaryKind::Ge:
      return !is_complex(t);
    case BinaryKind::ReluBackward:
      return is_floating(t) || t == ElemType::Int64;
    case BinaryKind::GeluBackward:
    case BinaryKind::SiluBackward:
      return is_floating(t);
    case BinaryKind::SigmoidBackward:
    case BinaryKind::TanhBackward:
      return is_floating(t) || is_complex(t);
  }
  return false;
}

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
cudaError_t launch_fill(ElemType type, void* out, const Indexer<1>& ix, std::int64_t numel,
                        bool index32, const FillValue& value, cudaStream_t stream);

// out[i] = cast<to>(in[i]) with PyTorch's conversion rules.
cudaError_t launch_copy(ElemType to, void* out, ElemType from, const void* in,
                        const Indexer<2>& ix, std::int64_t numel, bool index32,
                        cudaStream_t stream);

// out[i] = op(a[i], b[i]); a and b have dtype `type`, out has bool for comparisons and `type`
// otherwise. Operand order in the indexer: out, a, b. Returns cudaErrorNotSupported for an
// unsupported (op, type) pair.
cudaError_t launch_binary(BinaryKind op, ElemType type, void* out, const void* a,
                          const void* b, const Indexer<3>& ix, std::int64_t numel, bool index32,
                          cudaStream_t stream);

}  // namespace reel::backends::cuda
