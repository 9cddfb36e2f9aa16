#pragma once
// Device-side building blocks shared by the CUDA kernels: the element types, dtype dispatch,
// PyTorch's cast rules, strided offsets and launch geometry. Included only by .cu files.
// The per-element functions are __host__ __device__ so that their math can also be checked
// on a machine without a GPU.
#include <cstdint>
#include <type_traits>

#include <cuda/std/complex>
#include <cuda_runtime.h>

#include "backends/cuda/launch.hpp"

// Loop unrolling for device code only (the host compiler warns about a pragma it lacks).
#ifdef __CUDA_ARCH__
#define REEL_UNROLL _Pragma("unroll")
#else
#define REEL_UNROLL
#endif

namespace reel::backends::cuda {

// Note the leading ::, since inside reel::backends, `cuda::` names this namespace.
using c64 = ::cuda::std::complex<float>;
using c128 = ::cuda::std::complex<double>;

template <typename T> struct IsComplex : std::false_type {};
template <> struct IsComplex<c64> : std::true_type {};
template <> struct IsComplex<c128> : std::true_type {};
template <typename T> inline constexpr bool kIsComplex = IsComplex<T>::value;

template <typename T> inline constexpr bool kIsFloating =
    std::is_same_v<T, float> || std::is_same_v<T, double>;

// The ElemType of a device element type.
template <typename T> struct ElemOf;
template <> struct ElemOf<bool> { static constexpr ElemType value = ElemType::Bool; };
template <> struct ElemOf<std::int64_t> { static constexpr ElemType value = ElemType::Int64; };
template <> struct ElemOf<float> { static constexpr ElemType value = ElemType::Float32; };
template <> struct ElemOf<double> { static constexpr ElemType value = ElemType::Float64; };
template <> struct ElemOf<c64> { static constexpr ElemType value = ElemType::Complex64; };
template <> struct ElemOf<c128> { static constexpr ElemType value = ElemType::Complex128; };
template <typename T> inline constexpr ElemType kElemOf = ElemOf<T>::value;

// A type carried as a value, so a generic lambda can receive "a type" in C++17.
template <typename T> struct Tag { using type = T; };

// Calls f(Tag<T>{}) with T the device element type of `t`.
template <typename F>
cudaError_t visit_elem(ElemType t, F&& f) {
  switch (t) {
    case ElemType::Bool: return f(Tag<bool>{});
    case ElemType::Int64: return f(Tag<std::int64_t>{});
    case ElemType::Float32: return f(Tag<float>{});
    case ElemType::Float64: return f(Tag<double>{});
    case ElemType::Complex64: return f(Tag<c64>{});
    case ElemType::Complex128: return f(Tag<c128>{});
  }
  return cudaErrorInvalidValue;
}

// x != 0, for every element type (a complex number is nonzero when either part is).
template <typename T>
__host__ __device__ __forceinline__ bool nonzero(T v) {
  if constexpr (kIsComplex<T>) return v.real() != 0 || v.imag() != 0;
  else return v != T(0);
}

// PyTorch's conversions: anything -> bool is x != 0; float -> int truncates toward zero;
// complex -> real keeps the real part; real -> complex has a zero imaginary part.
template <typename To, typename From>
__host__ __device__ __forceinline__ To cast_to(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return nonzero(v);
  } else if constexpr (kIsComplex<To>) {
    using R = typename To::value_type;
    if constexpr (kIsComplex<From>) return To(static_cast<R>(v.real()), static_cast<R>(v.imag()));
    else return To(static_cast<R>(v), R(0));
  } else if constexpr (kIsComplex<From>) {
    return static_cast<To>(v.real());
  } else {
    return static_cast<To>(v);  // float -> int64: cvt.rzi, truncation toward zero
  }
}

// The element offsets of linear index `i` (row-major over the shared shape) in each operand.
// ix.ndim == 1 (every contiguous view, after the host merged its dims) needs no division.
template <int N, typename Index>
__host__ __device__ __forceinline__ void offsets_of(const Indexer<N>& ix, Index i,
                                                    Index (&off)[N]) {
  if (ix.ndim == 1) {
    REEL_UNROLL
    for (int k = 0; k < N; ++k) off[k] = i * static_cast<Index>(ix.strides[k][0]);
    return;
  }
  REEL_UNROLL
  for (int k = 0; k < N; ++k) off[k] = 0;
  REEL_UNROLL
  for (int d = 0; d < kKernelMaxDims; ++d) {  // innermost dim first
    if (d == ix.ndim) break;
    const Index size = static_cast<Index>(ix.sizes[d]);
    const Index q = i / size;
    const Index r = i - q * size;
    REEL_UNROLL
    for (int k = 0; k < N; ++k) off[k] += r * static_cast<Index>(ix.strides[k][d]);
    i = q;
  }
}

// Launch geometry for a grid-stride loop over n elements.
inline constexpr int kThreadsPerBlock = 256;
inline constexpr std::int64_t kMaxBlocks = std::int64_t{1} << 16;

inline dim3 grid_for(std::int64_t n) {
  std::int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  if (blocks < 1) blocks = 1;
  return dim3(static_cast<unsigned>(blocks));
}

// The first linear index of this thread and the grid-wide stride.
template <typename Index>
__device__ __forceinline__ Index grid_start() {
  return static_cast<Index>(blockIdx.x) * static_cast<Index>(blockDim.x) +
         static_cast<Index>(threadIdx.x);
}
template <typename Index>
__device__ __forceinline__ Index grid_step() {
  return static_cast<Index>(blockDim.x) * static_cast<Index>(gridDim.x);
}

}  // namespace reel::backends::cuda
