// The caching device allocator (see allocator.hpp for the why).
#include "backends/cuda/allocator.hpp"

#include <bit>
#include <cstdint>
#include <cstdio>
#include <limits>

#include <cuda_runtime_api.h>

#include "backends/cuda/runtime.hpp"
#include "backends/error.hpp"

namespace reel::backends::cuda {

std::size_t CachingAllocator::round_size(std::size_t nbytes) {
  constexpr std::size_t kSmallStep = 512;
  constexpr std::size_t kLarge = std::size_t{1} << 20;
  if (nbytes < kLarge) return (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  // Four classes per power of two: [2^k, 1.25 * 2^k, 1.5 * 2^k, 1.75 * 2^k].
  const std::size_t step = std::bit_floor(nbytes) / 4;
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  // No device holds more than int64's range; above it, round_size could wrap around size_t
  // and hand back a small block for a huge request.
  if (nbytes > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
    fail("CUDA out of memory: tried to allocate {} bytes (more than any device holds)", nbytes);
  }
  const std::size_t size = round_size(nbytes);
  std::lock_guard lock(mutex_);

  if (auto it = free_blocks_.find(size); it != free_blocks_.end() && !it->second.empty()) {
    void* ptr = it->second.back();
    it->second.pop_back();
    live_blocks_.emplace(ptr, size);
    stats_.cached_bytes -= size;
    stats_.in_use_bytes += size;
    ++stats_.cache_hits;
    return ptr;
  }

  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, size);
  if (err == cudaErrorMemoryAllocation) {
    // Blocks cached for other sizes may be what stands between us and success.
    (void)cudaGetLastError();
    release_cached_locked();
    err = cudaMalloc(&ptr, size);
  }
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
    fail("CUDA out of memory: tried to allocate {} bytes; reel holds {} bytes in tensors, the "
         "device has {} of {} bytes free",
         nbytes, stats_.in_use_bytes, free_bytes, total_bytes);
  }
  check_cuda(err, "cudaMalloc");
  live_blocks_.emplace(ptr, size);
  ++stats_.os_allocations;
  stats_.in_use_bytes += size;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) noexcept {
  if (ptr == nullptr) return;
  std::lock_guard lock(mutex_);
  auto it = live_blocks_.find(ptr);
  if (it == live_blocks_.end()) {
    // A double free or a pointer from elsewhere: a bug above us, but not worth a crash here.
    std::fprintf(stderr, "reel: CUDA allocator: ignoring free of unknown pointer %p\n", ptr);
    return;
  }
  const std::size_t size = it->second;
  live_blocks_.erase(it);
  try {
    free_blocks_[size].push_back(ptr);
    stats_.in_use_bytes -= size;
    stats_.cached_bytes += size;
  } catch (...) {
    // Out of host memory for the free list: give the block back to CUDA instead.
    stats_.in_use_bytes -= size;
    if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
    ++stats_.os_frees;
  }
}

void CachingAllocator::release_cached_locked() {
  if (free_blocks_.empty()) return;  // also keeps empty_cache() CUDA-free without a GPU
  // Kernels queued before a block was freed may still read it.
  if (cudaStreamSynchronize(stream()) != cudaSuccess) (void)cudaGetLastError();
  for (auto& [size, blocks] : free_blocks_) {
    for (void* ptr : blocks) {
      if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
      ++stats_.os_frees;
      stats_.cached_bytes -= size;
    }
  }
  free_blocks_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  release_cached_locked();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

CachingAllocator& device_allocator() {
  // Leaked on purpose: tensors held by static objects may be freed after this would have
  // been destroyed, and cudaFree after the CUDA runtime has shut down fails anyway.
  static CachingAllocator* allocator = new CachingAllocator();
  return *allocator;
}

AllocatorStats allocator_stats() { return device_allocator().stats(); }
void empty_cache() { device_allocator().empty_cache(); }

}  // namespace reel::backends::cuda
