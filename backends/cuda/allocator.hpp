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
// CUDA graphs (graph.cpp) need more: a captured graph replays its kernels on the very addresses
// they had during capture, for as long as the graph lives, so those blocks must never be handed
// to anyone else meanwhile. While a graph captures, every allocation comes from (and every block
// freed, whatever its origin, goes to) that graph's private pool, a GraphPool. Reusing a block
// within one capture is safe for the same stream-order reason as above. After the capture the
// pool's blocks stay the graph's: a graph output freed by its user goes back to the pool, not
// to the global free lists, since every replay writes it again. When the graph is destroyed its
// pool is released and its blocks return to the global free lists.
//
// Plain C++ (no CUDA headers), so tests and tools can read the statistics.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace reel::backends::cuda {

struct AllocatorStats {
  std::uint64_t os_allocations = 0;  // successful cudaMalloc calls since the start
  std::uint64_t os_frees = 0;        // cudaFree calls (by empty_cache)
  std::uint64_t cache_hits = 0;      // allocations served from the free lists
  std::size_t cached_bytes = 0;      // bytes held in the free lists (CUDA graphs' pools included)
  std::size_t in_use_bytes = 0;      // bytes handed out and not yet freed (rounded sizes)
};

// The blocks of one CUDA graph (defined in allocator.cpp; graph.cpp only holds the handle).
struct GraphPool;

class CachingAllocator {
 public:
  // A device block of at least nbytes (nbytes > 0). Throws reel::Error when the device is out
  // of memory even after the cache was emptied.
  void* allocate(std::size_t nbytes);
  // Returns a block from allocate() to its free list. Never throws (it runs in destructors).
  void deallocate(void* ptr) noexcept;
  // cudaFree's every cached block of the global free lists (after waiting for the stream);
  // blocks owned by CUDA graphs stay. A no-op while a graph captures (it cannot wait then).
  void empty_cache();
  AllocatorStats stats() const;

  // The size class a request of nbytes is served from.
  static std::size_t round_size(std::size_t nbytes);

  // --- CUDA graphs (graph.cpp) ---
  // A capture starts: from now on allocate() and deallocate() use a new pool, returned.
  std::shared_ptr<GraphPool> begin_graph_pool();
  // The capture has ended (or was abandoned): back to the global free lists. The pool keeps
  // its blocks.
  void end_graph_pool() noexcept;
  // The pool's graph is gone (and the stream has finished its replays): its free blocks go back
  // to the global free lists, and so will its blocks still held by tensors, when freed.
  void release_graph_pool(const std::shared_ptr<GraphPool>& pool) noexcept;

 private:
  // A block handed out: its size class, and the graph pool it belongs to (null: none).
  struct LiveBlock {
    std::size_t size = 0;
    std::shared_ptr<GraphPool> pool;
  };

  void release_cached_locked();
  void* cuda_malloc_locked(std::size_t nbytes, std::size_t size);

  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks_;  // size class -> blocks
  std::unordered_map<void*, LiveBlock> live_blocks_;                 // block -> size, pool
  std::shared_ptr<GraphPool> capturing_;  // the pool of the graph capturing now, or null
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
