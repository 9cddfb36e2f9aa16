#pragma once
// The caching device allocator of the CUDA backend.
//
// cudaMalloc and cudaFree are slow (cudaFree also synchronizes the device), and a training
// loop allocates the same sizes every step. So freed blocks are not returned to CUDA but kept
// in a free list per size class and handed out again; empty_cache() gives them back.
// Requests are rounded up to a size class (multiples of 512 bytes below 1 MiB, then four
// classes per power of two: at most 25% slack) so that nearly equal sizes share blocks.
//
// Reuse is safe without events because all of reel's CUDA work runs on one stream: a kernel
// that writes a reused block is queued after every kernel that read it before it was freed.
//
// Plain C++ (no CUDA headers), so tests and tools can read the statistics.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace reel::backends::cuda {

struct AllocatorStats {
  std::uint64_t os_allocations = 0;  // successful cudaMalloc calls since the start
  std::uint64_t os_frees = 0;        // cudaFree calls (by empty_cache)
  std::uint64_t cache_hits = 0;      // allocations served from the free lists
  std::size_t cached_bytes = 0;      // bytes held in the free lists
  std::size_t in_use_bytes = 0;      // bytes handed out and not yet freed (rounded sizes)
};

class CachingAllocator {
 public:
  // A device block of at least nbytes (nbytes > 0). Throws reel::Error when the device is out
  // of memory even after the cache was emptied.
  void* allocate(std::size_t nbytes);
  // Returns a block from allocate() to its free list. Never throws (it runs in destructors).
  void deallocate(void* ptr) noexcept;
  // cudaFree's every cached block (after waiting for the stream).
  void empty_cache();
  AllocatorStats stats() const;

  // The size class a request of nbytes is served from.
  static std::size_t round_size(std::size_t nbytes);

 private:
  void release_cached_locked();

  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks_;  // size class -> blocks
  std::unordered_map<void*, std::size_t> live_blocks_;               // block -> size class
  AllocatorStats stats_;
};

// The process-wide allocator (created on first use, never destroyed).
CachingAllocator& device_allocator();

// A block of device memory from device_allocator(), given back at scope exit: the kernels'
// temporaries (matmul's copies, reductions' partial results, indexing's widened targets).
// Giving it back before the kernels queued on it have run is safe, because all of reel's CUDA
// work runs on one stream: a later owner of the block is queued after them (see above).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t nbytes)
      : ptr_(nbytes == 0 ? nullptr : device_allocator().allocate(nbytes)) {}
  ~DeviceBuffer() {
    if (ptr_ != nullptr) device_allocator().deallocate(ptr_);
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_) { other.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      if (ptr_ != nullptr) device_allocator().deallocate(ptr_);
      ptr_ = other.ptr_;
      other.ptr_ = nullptr;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

// Shorthands for device_allocator().stats() / .empty_cache().
AllocatorStats allocator_stats();
void empty_cache();

}  // namespace reel::backends::cuda
