#pragma once
// A caching host allocator: steady-state training (the same tensor sizes every step) allocates
// nothing from the OS. Freed blocks go to a free list per size class and are handed out again
// to the next request of that class.
//
// Size classes: requests up to 4 KiB round up to a multiple of 64 B; larger ones round up to a
// quarter step between powers of two (2^k, 1.25*2^k, 1.5*2^k, 1.75*2^k), so at most 25% of a
// block is slack. Every block is 64-byte aligned (a cache line, and an AVX-512 register).
// Blocks above 1 GiB bypass the cache and go straight back to the OS.
#include <cstddef>
#include <cstdint>

namespace reel::backends::cpu {

struct AllocatorStats {
  std::size_t os_allocations;  // blocks obtained from the OS since start (monotonic)
  std::size_t os_bytes;        // bytes currently held from the OS (in use + cached)
  std::size_t cached_bytes;    // bytes in free lists, ready for reuse
  std::size_t in_use_bytes;    // bytes handed out and not yet freed (rounded to the class)
};

// A 64-byte aligned block of at least nbytes (a unique non-null pointer even for 0 bytes).
// Raises reel::Error naming the bytes when nbytes is above max_host_allocation() (host_memory.hpp)
// or the OS refuses even after the cache was emptied.
void* cached_allocate(std::size_t nbytes);
// Returns a block from cached_allocate; nbytes must be the size it was requested with.
void cached_deallocate(void* ptr, std::size_t nbytes);

AllocatorStats allocator_stats();
// Returns every cached (free) block to the OS.
void empty_cache();

// `count` elements of T from cached_allocate, returned on scope exit (data is null for count
// <= 0): the scratch buffers of the kernels (packed weights, partial sums, widened copies).
template <class T>
struct CachedBuffer {
  T* data = nullptr;
  std::size_t bytes = 0;
  explicit CachedBuffer(std::int64_t count)
      : bytes(count > 0 ? static_cast<std::size_t>(count) * sizeof(T) : 0) {
    if (bytes > 0) data = static_cast<T*>(cached_allocate(bytes));
  }
  CachedBuffer(const CachedBuffer&) = delete;
  CachedBuffer& operator=(const CachedBuffer&) = delete;
  ~CachedBuffer() {
    if (data != nullptr) cached_deallocate(data, bytes);
  }
};

}  // namespace reel::backends::cpu
