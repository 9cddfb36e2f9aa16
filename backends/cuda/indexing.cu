// CUDA kernels for indexing along one dim (the host side, with the checks and the choice of
// path, is indexing.cpp; the formulation shared by all four ops is indexing_launch.hpp's):
//   gather_kernel            index_select and gather: one thread per output element, a copy
//   scatter_atomic_kernel    index_add and scatter_add, fast: one thread per source element,
//                            adding into its target with atomicAdd
//   scatter_ordered_kernel   index_add and scatter_add, deterministic: one thread per target
//                            element, adding its sources in index order
//   find_bad_index_kernel    the first index value out of range, for the host's error
// Offsets are 64-bit: a view's offsets may pass 2^31 and the index values are int64 anyway.
#include <cstdint>

#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/indexing_launch.hpp"

namespace reel::backends::cuda {

namespace {

// --- validation -------------------------------------------------------------------------------
// atomicMin of the row-major position keeps the first bad element, the one the reference's
// serial loop stops at, whatever order the threads run in.
__global__ void find_bad_index_kernel(Indexer<1> ix, std::int64_t n, const std::int64_t* index,
                                      std::int64_t size, unsigned long long* first_bad) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[1];
    offsets_of<1>(ix, i, off);
    const std::int64_t j = index[off[0]];
    if (j < 0 || j >= size) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

// --- gather-like: a copy, so elements are moved as raw bytes of their size --------------------
// One kernel per element size instead of per dtype (5 instantiations, not 13). Each type has
// the alignment of the dtypes of its size (complex128 is 16-byte aligned on the device, as
// cuda::std::complex<double>).
struct alignas(16) Bytes16 {
  std::uint64_t lo;
  std::uint64_t hi;
};

template <typename E>
__global__ void gather_kernel(Indexer<3> ix, std::int64_t n, E* out, const std::int64_t* index,
                              const E* in, AlongDim in_dim) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[3];
    offsets_of<3>(ix, i, off);
    const std::int64_t j = index[off[1]];
    if (j < 0 || j >= in_dim.size) continue;  // never a wild read (see the launcher's header)
    out[off[0]] = in[off[2] + j * in_dim.stride];
  }
}

template <typename E>
cudaError_t launch_gather_as(void* out, const std::int64_t* index, const void* in,
                             const Indexer<3>& ix, std::int64_t numel, AlongDim in_dim,
                             cudaStream_t stream) {
  gather_kernel<E><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(
      ix, numel, static_cast<E*>(out), index, static_cast<const E*>(in), in_dim);
  return cudaGetLastError();
}

// --- scatter-like, atomic -----------------------------------------------------------------------
// target += v with the hardware's atomics. int32 wraps (two's complement) in hardware, and
// int64 is added as unsigned long long, whose modular sum has the same bits as the reference's
// wrapping int64 sum. A complex number is two independent real sums. Every integer result is
// exact and order-independent; floating-point sums are not: the order in which threads reach a
// shared target varies from run to run, so the result can differ in the last bits between runs
// (PyTorch documents index_add_ / scatter_add_ on CUDA as nondeterministic for this reason;
// use_deterministic_algorithms selects the ordered kernel below). The float32 atomicAdd on
// global memory also flushes subnormal results to zero.
__device__ __forceinline__ void atomic_accumulate(std::int32_t* p, std::int32_t v) {
  atomicAdd(p, v);
}
__device__ __forceinline__ void atomic_accumulate(std::int64_t* p, std::int64_t v) {
  static_assert(sizeof(std::int64_t) == sizeof(unsigned long long));
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
__device__ __forceinline__ void atomic_accumulate(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_accumulate(double* p, double v) { atomicAdd(p, v); }
// cuda::std::complex is laid out {re, im} (launch.hpp's FillValue relies on it too).
__device__ __forceinline__ void atomic_accumulate(c64* p, c64 v) {
  float* parts = reinterpret_cast<float*>(p);
  atomicAdd(parts, v.real());
  atomicAdd(parts + 1, v.imag());
}
__device__ __forceinline__ void atomic_accumulate(c128* p, c128 v) {
  double* parts = reinterpret_cast<double*>(p);
  atomicAdd(parts, v.real());
  atomicAdd(parts + 1, v.imag());
}

// T is src's element type; the target is its opmath type (a float32 / complex64 buffer for the
// 16-bit dtypes, which the host widened from out and rounds back once: see indexing.cpp).
template <typename T>
__global__ void scatter_atomic_kernel(Indexer<3> ix, std::int64_t n, math::opmath_t<T>* target,
                                      const std::int64_t* index, const T* src,
                                      AlongDim target_dim) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[3];
    offsets_of<3>(ix, i, off);
    const std::int64_t j = index[off[1]];
    if (j < 0 || j >= target_dim.size) continue;  // validated by the host; never a wild write
    atomic_accumulate(target + off[0] + j * target_dim.stride, math::widen(src[off[2]]));
  }
}

// --- scatter-like, ordered ----------------------------------------------------------------------
// Owner computes: thread o owns out element (j, r) (j along dim, r over the other dims) and is
// the only one to touch it. It walks the positions k = 0, 1, ... along dim of index and src
// that share r, adding src where index == j: the targets of one out element in the order the
// reference's serial loop (index order for index_add, row-major for scatter_add) adds them,
// with the same rules (math::plus: bool ors, integers wrap) in the same type (the 16-bit dtypes
// in float32 / complex64 from the widened out value, rounded once at the end, as the
// reference's float32 copies). So the result is bitwise the reference's. The cost is
// count reads of index per out element: the path for the dtypes without atomics and for
// deterministic mode, not for large index lists at speed.
template <typename T>
__global__ void scatter_ordered_kernel(Indexer<3> rest, std::int64_t rest_numel, std::int64_t n,
                                       T* out, const std::int64_t* index, const T* src,
                                       AlongDim out_dim, std::int64_t count,
                                       std::int64_t index_dim_stride,
                                       std::int64_t src_dim_stride) {
  for (std::int64_t o = grid_start<std::int64_t>(); o < n; o += grid_step<std::int64_t>()) {
    // j outermost: the threads of a warp share j and walk neighbouring r, so they read the
    // same index element and neighbouring src elements.
    const std::int64_t j = o / rest_numel;
    const std::int64_t r = o - j * rest_numel;
    std::int64_t off[3];
    offsets_of<3>(rest, r, off);
    const std::int64_t* idx = index + off[1];
    const T* s = src + off[2];
    T* target = out + off[0] + j * out_dim.stride;
    math::opmath_t<T> acc{};
    bool hit = false;  // an out element no source reaches is left as it is
    for (std::int64_t k = 0; k < count; ++k) {
      if (idx[k * index_dim_stride] != j) continue;
      if (!hit) acc = math::widen(*target);
      hit = true;
      acc = math::plus(acc, math::widen(s[k * src_dim_stride]));
    }
    if (hit) *target = math::cast_value<T>(acc);
  }
}

}  // namespace

cudaError_t launch_find_bad_index(const std::int64_t* index, const Indexer<1>& ix,
                                  std::int64_t numel, std::int64_t size,
                                  unsigned long long* first_bad, cudaStream_t stream) {
  // All bits set: UINT64_MAX, "none found".
  const cudaError_t err = cudaMemsetAsync(first_bad, 0xFF, sizeof(unsigned long long), stream);
  if (err != cudaSuccess) return err;
  find_bad_index_kernel<<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(ix, numel, index, size,
                                                                          first_bad);
  return cudaGetLastError();
}

cudaError_t launch_index_gather(std::size_t elem_bytes, void* out, const std::int64_t* index,
                                const void* in, const Indexer<3>& ix, std::int64_t numel,
                                AlongDim in_dim, cudaStream_t stream) {
  switch (elem_bytes) {
    case 1: return launch_gather_as<std::uint8_t>(out, index, in, ix, numel, in_dim, stream);
    case 2: return launch_gather_as<std::uint16_t>(out, index, in, ix, numel, in_dim, stream);
    case 4: return launch_gather_as<std::uint32_t>(out, index, in, ix, numel, in_dim, stream);
    case 8: return launch_gather_as<std::uint64_t>(out, index, in, ix, numel, in_dim, stream);
    case 16: return launch_gather_as<Bytes16>(out, index, in, ix, numel, in_dim, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_index_scatter_atomic(DType type, void* target, const std::int64_t* index,
                                        const void* src, const Indexer<3>& ix,
                                        std::int64_t numel, AlongDim target_dim,
                                        cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (!has_atomic_accumulate(kDTypeOf<T>)) {
      return cudaErrorNotSupported;
    } else {
      scatter_atomic_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(
          ix, numel, static_cast<math::opmath_t<T>*>(target), index, static_cast<const T*>(src),
          target_dim);
      return cudaGetLastError();
    }
  });
}

cudaError_t launch_index_scatter_ordered(DType type, void* out, const std::int64_t* index,
                                         const void* src, const Indexer<3>& rest,
                                         std::int64_t rest_numel, AlongDim out_dim,
                                         std::int64_t count, std::int64_t index_dim_stride,
                                         std::int64_t src_dim_stride, cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    const std::int64_t owners = out_dim.size * rest_numel;
    scatter_ordered_kernel<T><<<grid_for(owners), kThreadsPerBlock, 0, stream>>>(
        rest, rest_numel, owners, static_cast<T*>(out), index, static_cast<const T*>(src),
        out_dim, count, index_dim_stride, src_dim_stride);
    return cudaGetLastError();
  });
}

}  // namespace reel::backends::cuda
