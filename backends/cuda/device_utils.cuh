#pragma once
// Device-side building blocks shared by the CUDA kernels: the element types, dtype dispatch,
// strided offsets and launch geometry. Included only by .cu files. The per-element rules
// (casts, integer arithmetic, each op's maths) are backends/element_math.hpp, the very code
// the reference backend runs.
#include <cstdint>
#include <type_traits>

#include <cuda/std/complex>
#include <cuda_runtime.h>

#include "backends/cuda/launch.hpp"
#include "backends/element_math.hpp"

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

// complex32 on the device: ComplexHalf's layout (two float16), computing in c64 (the host's
// ComplexHalf computes in std::complex<float>, which device code cannot use).
struct ch32 {
  using value_type = Half;
  Half re;
  Half im;
  ch32() = default;
  template <typename C, typename = decltype(std::declval<C>().imag())>
  __host__ __device__ explicit ch32(const C& c)
      : re(static_cast<float>(c.real())), im(static_cast<float>(c.imag())) {}
  __host__ __device__ Half real() const { return re; }
  __host__ __device__ Half imag() const { return im; }
};
static_assert(sizeof(ch32) == sizeof(ComplexHalf));

// The DType of a device element type.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct DTypeOf<std::int8_t> { static constexpr DType value = DType::Int8; };
template <> struct DTypeOf<std::int16_t> { static constexpr DType value = DType::Int16; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::Int32; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<c64> { static constexpr DType value = DType::Complex64; };
template <> struct DTypeOf<c128> { static constexpr DType value = DType::Complex128; };
template <> struct DTypeOf<Half> { static constexpr DType value = DType::Float16; };
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct DTypeOf<ch32> { static constexpr DType value = DType::Complex32; };
template <typename T> inline constexpr DType kDTypeOf = DTypeOf<T>::value;

// The type sums accumulate in, as the reference backend's acc_t (reference_backend.hpp) for
// the device types: double for float32 (and for float16 / bfloat16, which the reference sums
// as float32 copies), complex128 for complex64 and complex32, int64 for bool, else T itself.
template <typename T> struct AccOf { using type = T; };
template <> struct AccOf<bool> { using type = std::int64_t; };
template <> struct AccOf<float> { using type = double; };
template <> struct AccOf<c64> { using type = c128; };
template <> struct AccOf<Half> { using type = double; };
template <> struct AccOf<BFloat16> { using type = double; };
template <> struct AccOf<ch32> { using type = c128; };
template <typename T> using acc_t = typename AccOf<T>::type;

// A type carried as a value, so a generic lambda can receive "a type" in C++17.
template <typename T> struct Tag { using type = T; };

// Calls f(Tag<T>{}) with T the device element type of `t`.
template <typename F>
cudaError_t visit_elem(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f(Tag<bool>{});
    case DType::UInt8: return f(Tag<std::uint8_t>{});
    case DType::Int8: return f(Tag<std::int8_t>{});
    case DType::Int16: return f(Tag<std::int16_t>{});
    case DType::Int32: return f(Tag<std::int32_t>{});
    case DType::Int64: return f(Tag<std::int64_t>{});
    case DType::Float32: return f(Tag<float>{});
    case DType::Float64: return f(Tag<double>{});
    case DType::Complex64: return f(Tag<c64>{});
    case DType::Complex128: return f(Tag<c128>{});
    case DType::Float16: return f(Tag<Half>{});
    case DType::BFloat16: return f(Tag<BFloat16>{});
    case DType::Complex32: return f(Tag<ch32>{});
  }
  return cudaErrorInvalidValue;
}

// Calls f(Tag<T>{}) for the floating dtypes `op` takes; cudaErrorNotSupported for the rest
// (nothing is instantiated for them).
template <typename F>
cudaError_t visit_floating(KernelOp op, DType type, F&& f) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (!math::kIsFloating<math::opmath_t<T>>) {
      (void)op;
      return cudaErrorNotSupported;
    } else {
      if (!op_accepts(op, kDTypeOf<T>)) return cudaErrorNotSupported;
      return f(tag);
    }
  });
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

// --- cooperative reductions -------------------------------------------------------------------
// The shared-memory slot of one thread's partial in group_combine: room for any accumulator
// (complex128, or a double pair). A kernel declares
//   __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
inline constexpr int kGroupSlotBytes = 16;

// Combines the partials of each group of `group` threads (1, 32 or kThreadsPerBlock; groups
// are consecutive threads) in a fixed tree order — slot t with slot t + half, for half =
// group / 2, ..., 1 — and returns its group's result to every thread of the group. The order
// depends on the group size only, so results are the same run to run. Every thread of the
// block calls it with the same group (group 1: the partial is the result, no barrier).
template <typename Acc, typename Combine>
__device__ Acc group_combine(Acc acc, unsigned char* scratch, int group, Combine combine) {
  static_assert(sizeof(Acc) <= kGroupSlotBytes && alignof(Acc) <= kGroupSlotBytes,
                "a partial must fit one shared-memory slot");
  if (group == 1) return acc;
  Acc* slots = reinterpret_cast<Acc*>(scratch);
  const int t = static_cast<int>(threadIdx.x);
  const int lane = t % group;
  slots[t] = acc;
  __syncthreads();
  for (int half = group / 2; half > 0; half /= 2) {
    if (lane < half) slots[t] = combine(slots[t], slots[t + half]);
    __syncthreads();
  }
  const Acc result = slots[t - lane];
  __syncthreads();  // every thread has its result before the slots are written again
  return result;
}

}  // namespace reel::backends::cuda

namespace reel::backends::math {
template <> struct opmath<cuda::ch32> { using type = cuda::c64; };
}  // namespace reel::backends::math
