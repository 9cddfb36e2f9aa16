// The caching device allocator (see allocator.hpp for the why).
#include "backends/cuda/allocator.hpp"

#include <bit>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>

#include <cuda_runtime_api.h>

#include "backends/cuda/graph.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/error.hpp"

namespace reel::backends::cuda {

// The blocks of one CUDA graph (allocator.hpp says why they are kept apart). Free blocks wait
// here; blocks handed out point at their pool (LiveBlock::pool). Shared: the graph holds its
// pool, and so do its blocks still in use after the graph is gone.
struct GraphPool {
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;  // size class -> blocks
  bool released = false;  // its graph is gone
  // Blocks of an older graph, still alive, freed during this pool's capture (that graph's
  // output, say): both graphs' replays use them, so when this pool is released they go back
  // to the older graph's pool, not to the global free lists. (Captures run one at a time, so
  // these links always point to older pools: never a cycle of shared_ptrs.)
  std::unordered_map<void*, std::shared_ptr<GraphPool>> borrowed;
};

namespace {

// The pool a block of `pool` belongs to when freed outside a capture: `pool` while its graph
// lives, else the graph it was borrowed from, and so on; null for the global free lists.
std::shared_ptr<GraphPool> owner_of(void* ptr, std::shared_ptr<GraphPool> pool) {
  while (pool != nullptr && pool->released) {
    auto it = pool->borrowed.find(ptr);
    pool = it == pool->borrowed.end() ? nullptr : it->second;
  }
  return pool;
}

// One block of size class `size` taken from `lists`, or nullptr.
void* take_block(std::unordered_map<std::size_t, std::vector<void*>>& lists, std::size_t size) {
  auto it = lists.find(size);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* ptr = it->second.back();
  it->second.pop_back();
  return ptr;
}

}  // namespace

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

  // While a graph captures: its own free blocks first, then the global ones, which become the
  // graph's (the stream was idle at capture_begin, and a replay is queued after whatever
  // used them before).
  void* ptr = capturing_ != nullptr ? take_block(capturing_->free_blocks, size) : nullptr;
  if (ptr == nullptr) ptr = take_block(free_blocks_, size);
  if (ptr != nullptr) {
    live_blocks_.emplace(ptr, LiveBlock{size, capturing_});
    stats_.cached_bytes -= size;
    stats_.in_use_bytes += size;
    ++stats_.cache_hits;
    return ptr;
  }

  ptr = cuda_malloc_locked(nbytes, size);
  live_blocks_.emplace(ptr, LiveBlock{size, capturing_});
  ++stats_.os_allocations;
  stats_.in_use_bytes += size;
  return ptr;
}

void* CachingAllocator::cuda_malloc_locked(std::size_t nbytes, std::size_t size) {
  // During a capture, cudaMalloc is one of the calls CUDA deems "potentially unsafe" (it is not
  // recorded in the graph, so a replay does not allocate again) and refuses under the capture's
  // thread-local mode. Here that is exactly what we want: the block stays the graph's for the
  // graph's whole life. So this thread is allowed it, for this call only.
  std::optional<RelaxedCaptureMode> relaxed;
  if (capturing_ != nullptr) relaxed.emplace();

  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, size);
  if (err == cudaErrorMemoryAllocation && capturing_ == nullptr) {
    // Blocks cached for other sizes may be what stands between us and success. (Not during a
    // capture: handing them back waits for the stream, which a capture forbids.)
    (void)cudaGetLastError();
    release_cached_locked();
    err = cudaMalloc(&ptr, size);
  }
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
    fail("CUDA out of memory: tried to allocate {} bytes; reel holds {} bytes in tensors, the "
         "device has {} of {} bytes free{}",
         nbytes, stats_.in_use_bytes, free_bytes, total_bytes,
         capturing_ != nullptr ? " (during a CUDA graph capture, which cannot hand cached "
                                 "blocks back to CUDA: call empty_cache() before capture_begin)"
                               : "");
  }
  check_cuda(err, "cudaMalloc");
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
  const LiveBlock block = std::move(it->second);
  live_blocks_.erase(it);
  stats_.in_use_bytes -= block.size;
  // The free list it goes to: during a capture, the capturing graph's (its kernels used the
  // block before this free, and a replay uses it again), whatever pool it came from; outside
  // one, its own graph's while that graph lives; else the global one (home == null).
  std::shared_ptr<GraphPool> home = capturing_ != nullptr ? capturing_ : owner_of(ptr, block.pool);
  try {
    if (capturing_ != nullptr) {
      std::shared_ptr<GraphPool> lender = owner_of(ptr, block.pool);
      if (lender != nullptr && lender != capturing_) capturing_->borrowed[ptr] = std::move(lender);
    }
    (home != nullptr ? home->free_blocks : free_blocks_)[block.size].push_back(ptr);
    stats_.cached_bytes += block.size;
  } catch (...) {
    // Out of host memory for the free list: give the block back to CUDA instead, unless a
    // graph may use it (or one is being captured: no cudaFree then); that block is lost.
    if (home != nullptr) {
      std::fprintf(stderr, "reel: CUDA allocator: out of host memory, leaking block %p\n", ptr);
      return;
    }
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
  // Freeing waits for the stream, which a capture forbids; the cache is a hint, so no error.
  if (capturing_ != nullptr) return;
  release_cached_locked();
}

std::shared_ptr<GraphPool> CachingAllocator::begin_graph_pool() {
  std::lock_guard lock(mutex_);
  check(capturing_ == nullptr, "CUDA graph: the allocator is already serving a capture");
  capturing_ = std::make_shared<GraphPool>();
  return capturing_;
}

void CachingAllocator::end_graph_pool() noexcept {
  std::lock_guard lock(mutex_);
  capturing_ = nullptr;
}

void CachingAllocator::release_graph_pool(const std::shared_ptr<GraphPool>& pool) noexcept {
  if (pool == nullptr) return;
  std::lock_guard lock(mutex_);
  if (capturing_ == pool) capturing_ = nullptr;
  pool->released = true;
  // Its free blocks move to the lists they now belong to (bytes stay cached: the statistics
  // do not change); its blocks still in use follow when freed (deallocate's owner_of).
  for (auto& [size, blocks] : pool->free_blocks) {
    for (void* ptr : blocks) {
      std::shared_ptr<GraphPool> home = owner_of(ptr, pool);
      try {
        (home != nullptr ? home->free_blocks : free_blocks_)[size].push_back(ptr);
      } catch (...) {
        std::fprintf(stderr, "reel: CUDA allocator: out of host memory, leaking block %p\n", ptr);
        stats_.cached_bytes -= size;
      }
    }
  }
  pool->free_blocks.clear();
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
