// The caching host allocator. Free blocks form intrusive singly linked lists (the link lives in
// the freed block itself), so caching never allocates; one mutex guards the lists, held only for
// a push or a pop.
#include "backends/cpu/caching_allocator.hpp"

#include "backends/host_memory.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace reel::backends::cpu {

namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kSmallLimit = 4096;                 // 64 B steps up to here
constexpr std::size_t kSmallClasses = kSmallLimit / 64;    // classes 0..63: 64 B .. 4 KiB
constexpr std::size_t kCacheLimit = std::size_t{1} << 30;  // larger blocks bypass the cache
// Quarter steps from 4 KiB (2^12) to 1 GiB (2^30): four classes per power of two.
constexpr std::size_t kClasses = kSmallClasses + 4 * (30 - 12);

struct SizeClass {
  std::size_t index;
  std::size_t bytes;  // the block size actually allocated
};

// Maps a request to its class; index == kClasses means "too large to cache".
SizeClass size_class(std::size_t nbytes) {
  if (nbytes <= kSmallLimit) {
    std::size_t units = nbytes == 0 ? 1 : (nbytes + 63) / 64;
    return {units - 1, units * 64};
  }
  if (nbytes > kCacheLimit) return {kClasses, (nbytes + kAlignment - 1) / kAlignment * kAlignment};
  // nbytes in (2^k, 2^(k+1)]: round up to a multiple of 2^(k-2) (a quarter of the lower power).
  int k = static_cast<int>(std::bit_width(nbytes - 1)) - 1;  // 2^k < nbytes <= 2^(k+1)
  std::size_t step = std::size_t{1} << (k - 2);
  std::size_t quarters = (nbytes + step - 1) / step;  // in 5..8
  std::size_t bytes = quarters * step;
  // Class layout: for k = 12.., the sizes 5/4, 6/4, 7/4, 8/4 of 2^k.
  return {kSmallClasses + static_cast<std::size_t>(k - 12) * 4 + (quarters - 5), bytes};
}

struct FreeBlock {
  FreeBlock* next;
};

class Cache {
 public:
  ~Cache() { release_all(); }

  void* allocate(std::size_t nbytes) {
    // Checked first: above the limit, rounding up to a size class could wrap around size_t.
    if (nbytes > max_host_allocation()) fail_host_allocation(nbytes);
    SizeClass c = size_class(nbytes);
    if (c.index < kClasses) {
      std::lock_guard lock(mutex_);
      if (FreeBlock* block = heads_[c.index]) {
        heads_[c.index] = block->next;
        cached_bytes_ -= c.bytes;
        in_use_bytes_ += c.bytes;
        return block;
      }
    }
    void* p = try_host_allocate(c.bytes);
    if (p == nullptr) {
      // The OS refused: give back what the cache holds and try once more.
      release_all();
      p = try_host_allocate(c.bytes);
      if (p == nullptr) fail_host_allocation(nbytes);
    }
    std::lock_guard lock(mutex_);
    ++os_allocations_;
    os_bytes_ += c.bytes;
    in_use_bytes_ += c.bytes;
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes) {
    if (ptr == nullptr) return;
    SizeClass c = size_class(nbytes);
    std::lock_guard lock(mutex_);
    in_use_bytes_ -= c.bytes;
    if (c.index >= kClasses) {
      os_bytes_ -= c.bytes;
      host_free(ptr);
      return;
    }
    auto* block = static_cast<FreeBlock*>(ptr);
    block->next = heads_[c.index];
    heads_[c.index] = block;
    cached_bytes_ += c.bytes;
  }

  void release_all() {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kClasses; ++i) {
      std::size_t bytes = class_bytes(i);
      while (FreeBlock* block = heads_[i]) {
        heads_[i] = block->next;
        host_free(block);
        os_bytes_ -= bytes;
        cached_bytes_ -= bytes;
      }
    }
  }

  AllocatorStats stats() {
    std::lock_guard lock(mutex_);
    return {os_allocations_, os_bytes_, cached_bytes_, in_use_bytes_};
  }

 private:
  static std::size_t class_bytes(std::size_t index) {
    if (index < kSmallClasses) return (index + 1) * 64;
    std::size_t k = 12 + (index - kSmallClasses) / 4;
    std::size_t quarters = 5 + (index - kSmallClasses) % 4;
    return quarters << (k - 2);
  }

  std::mutex mutex_;
  std::array<FreeBlock*, kClasses> heads_{};
  std::size_t os_allocations_ = 0, os_bytes_ = 0, cached_bytes_ = 0, in_use_bytes_ = 0;
};

// Never destroyed: tensors held by other function-static objects may be freed after main.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

void* cached_allocate(std::size_t nbytes) { return cache().allocate(nbytes); }
void cached_deallocate(void* ptr, std::size_t nbytes) { cache().deallocate(ptr, nbytes); }
AllocatorStats allocator_stats() { return cache().stats(); }
void empty_cache() { cache().release_all(); }

}  // namespace reel::backends::cpu
