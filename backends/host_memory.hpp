#pragma once
// Host buffers for the reference and CPU backends: 64-byte aligned (a cache line, and an
// AVX-512 register), and refused with a reel::Error naming the bytes, never a crash, when they
// cannot be had.
//
// Why a limit of our own: on Linux a request larger than the machine can ever hold may still
// "succeed" (memory overcommit) and only fail later, when its pages are touched, through the
// OOM killer; and a sanitizer's allocator aborts on sizes it cannot serve. So reel refuses any
// single buffer larger than the machine's memory (RAM + swap: the bound Linux's default
// overcommit heuristic applies too). An impossible tensor (2^40 float32 elements, 4 TiB, on a
// machine with less) is then an error at creation, the same under every overcommit setting and
// under ASan.
#include <cstddef>

namespace reel::backends {

inline constexpr std::size_t kHostAlignment = 64;

// The largest single host buffer reel asks the system for: RAM + swap, read once.
std::size_t max_host_allocation();

// A kHostAlignment-aligned block of at least nbytes (a unique non-null pointer for 0 bytes), or
// nullptr when nbytes is above max_host_allocation() or the system allocator refuses.
void* try_host_allocate(std::size_t nbytes);
// Frees a block from try_host_allocate (null is ignored).
void host_free(void* ptr);

// Raises the out-of-memory reel::Error for a host request of nbytes.
[[noreturn]] void fail_host_allocation(std::size_t nbytes);

}  // namespace reel::backends
