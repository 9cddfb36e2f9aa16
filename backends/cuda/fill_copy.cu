// CUDA kernels for fill, copy (strided, with dtype conversion) and where. The host side
// (cuda_backend.cpp) has already validated the views, merged their dims into an Indexer and
// taken the cudaMemset / cudaMemcpy fast paths where the layout allows.
#include <cstring>

#include "backends/cuda/device_utils.cuh"

namespace reel::backends::cuda {

namespace {

template <typename T, typename Index>
__global__ void fill_kernel(Indexer<1> ix, Index n, T* out, T value) {
  for (Index i = grid_start<Index>(); i < n; i += grid_step<Index>()) {
    Index off[1];
    offsets_of<1>(ix, i, off);
    out[off[0]] = value;
  }
}

template <typename To, typename From, typename Index>
__global__ void copy_kernel(Indexer<2> ix, Index n, To* out, const From* in) {
  for (Index i = grid_start<Index>(); i < n; i += grid_step<Index>()) {
    Index off[2];
    offsets_of<2>(ix, i, off);
    out[off[0]] = math::cast_value<To>(in[off[1]]);
  }
}

// out = cond ? a : b. Element types matter only for their size here (where moves bits), but
// instantiating per dtype keeps the kernels as plain as the others.
template <typename T, typename Index>
__global__ void where_kernel(Indexer<4> ix, Index n, T* out, const bool* cond, const T* a,
                             const T* b) {
  for (Index i = grid_start<Index>(); i < n; i += grid_step<Index>()) {
    Index off[4];
    offsets_of<4>(ix, i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

}  // namespace

cudaError_t launch_fill(DType type, void* out, const Indexer<1>& ix, std::int64_t numel,
                        bool index32, const FillValue& value, cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    std::memcpy(static_cast<void*>(&v), value.bytes, sizeof(T));
    const dim3 grid = grid_for(numel);
    if (index32) {
      fill_kernel<T, std::uint32_t><<<grid, kThreadsPerBlock, 0, stream>>>(
          ix, static_cast<std::uint32_t>(numel), static_cast<T*>(out), v);
    } else {
      fill_kernel<T, std::int64_t><<<grid, kThreadsPerBlock, 0, stream>>>(
          ix, numel, static_cast<T*>(out), v);
    }
    return cudaGetLastError();
  });
}

cudaError_t launch_copy(DType to, void* out, DType from, const void* in,
                        const Indexer<2>& ix, std::int64_t numel, bool index32,
                        cudaStream_t stream) {
  return visit_elem(to, [&](auto to_tag) {
    return visit_elem(from, [&](auto from_tag) {
      using To = typename decltype(to_tag)::type;
      using From = typename decltype(from_tag)::type;
      const dim3 grid = grid_for(numel);
      if (index32) {
        copy_kernel<To, From, std::uint32_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, static_cast<std::uint32_t>(numel), static_cast<To*>(out),
            static_cast<const From*>(in));
      } else {
        copy_kernel<To, From, std::int64_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, numel, static_cast<To*>(out), static_cast<const From*>(in));
      }
      return cudaGetLastError();
    });
  });
}

cudaError_t launch_where(DType type, void* out, const void* cond, const void* a, const void* b,
                         const Indexer<4>& ix, std::int64_t numel, bool index32,
                         cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const dim3 grid = grid_for(numel);
    if (index32) {
      where_kernel<T, std::uint32_t><<<grid, kThreadsPerBlock, 0, stream>>>(
          ix, static_cast<std::uint32_t>(numel), static_cast<T*>(out),
          static_cast<const bool*>(cond), static_cast<const T*>(a), static_cast<const T*>(b));
    } else {
      where_kernel<T, std::int64_t><<<grid, kThreadsPerBlock, 0, stream>>>(
          ix, numel, static_cast<T*>(out), static_cast<const bool*>(cond),
          static_cast<const T*>(a), static_cast<const T*>(b));
    }
    return cudaGetLastError();
  });
}

}  // namespace reel::backends::cuda
