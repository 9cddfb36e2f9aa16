// CUDA kernel for the random fill: out[i] = random_value<T>(spec, i), with i the row-major linear
// index of the element in out's shape, whatever out's strides. The values are defined once in
// backends/philox.hpp (host+device), so a draw on CUDA gives the reference backend's values:
// uniform and integer draws bit for bit; normal draws through the device's sqrt/log/cos, which
// CUDA documents within 1-2 ulp of the correctly rounded result (glibc's are within 1), so
// they may differ in the last bits. The 16-bit dtypes are drawn in float32 and rounded by the
// backend's shared widening (backend.cpp), as on the reference backend.
#include "backends/cuda/device_utils.cuh"
#include "backends/philox.hpp"

namespace reel::backends::cuda {

namespace {

template <typename T>
__global__ void random_kernel(Indexer<1> ix, std::int64_t n, T* out, RandomSpec spec) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[1];
    offsets_of<1>(ix, i, off);
    out[off[0]] = random_value<T>(spec, static_cast<std::uint64_t>(i));
  }
}

}  // namespace

cudaError_t launch_random(DType type, void* out, const Indexer<1>& ix, std::int64_t numel,
                          const RandomSpec& spec, cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool> || math::kIsHalfLike<T>) {
      return cudaErrorNotSupported;  // bool draws nothing; 16-bit types arrive widened
    } else {
      random_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(
          ix, numel, static_cast<T*>(out), spec);
      return cudaGetLastError();
    }
  });
}

}  // namespace reel::backends::cuda
