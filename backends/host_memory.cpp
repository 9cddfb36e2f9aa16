// Host buffers: the size limit and the aligned allocation both host backends share.
#include "backends/host_memory.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include <unistd.h>
#if defined(__linux__)
#include <sys/sysinfo.h>
#endif

#include "backends/checked_math.hpp"
#include "backends/error.hpp"

namespace reel::backends {

namespace {

// a * b, saturating instead of wrapping (the limit of a machine too large to count is "none").
std::size_t saturating_mul(std::size_t a, std::size_t b) {
  std::size_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::size_t>::max() : r;
}

std::size_t machine_memory() {
#if defined(__linux__)
  struct sysinfo info {};
  if (sysinfo(&info) == 0 && info.mem_unit > 0) {
    std::size_t units = info.totalram;
    if (__builtin_add_overflow(units, static_cast<std::size_t>(info.totalswap), &units)) {
      return std::numeric_limits<std::size_t>::max();
    }
    return saturating_mul(units, info.mem_unit);
  }
#endif
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    return saturating_mul(static_cast<std::size_t>(pages), static_cast<std::size_t>(page));
  }
  return std::numeric_limits<std::size_t>::max();  // unknown: only the byte-count checks apply
}

}  // namespace

std::size_t max_host_allocation() {
  // Never above int64's range either: byte offsets into a buffer are ptrdiff_t.
  static const std::size_t limit = std::min<std::size_t>(
      machine_memory(),
      static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()) - kHostAlignment);
  return limit;
}

void* try_host_allocate(std::size_t nbytes) {
  if (nbytes > max_host_allocation()) return nullptr;
  // aligned_alloc wants a multiple of the alignment; a 0-byte request still gets a unique block.
  std::size_t bytes = checked_round_up(nbytes == 0 ? 1 : nbytes, kHostAlignment).value();
  return std::aligned_alloc(kHostAlignment, bytes);
}

void host_free(void* ptr) { std::free(ptr); }

void fail_host_allocation(std::size_t nbytes) {
  fail(
      "cannot allocate {} bytes of host memory (out of memory; the largest buffer reel asks "
      "for on this machine is {} bytes, its RAM + swap)",
      nbytes, max_host_allocation());
}

}  // namespace reel::backends
