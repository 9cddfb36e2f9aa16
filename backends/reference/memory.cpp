// Reference backend, memory: host memory from the global allocator, 64-byte aligned so that a
// buffer starts on a cache line (and on an AVX-512 vector), and host copies that are memcpy.
#include <cstring>
#include <new>

#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace {
constexpr std::align_val_t kAlignment{64};
}

bool ReferenceBackend::supports(OpId op, DType t) const { return op_accepts(op, t); }

void* ReferenceBackend::allocate(std::size_t nbytes) {
  // operator new(0) still returns a unique pointer, so an empty tensor has a valid buffer.
  return ::operator new(nbytes, kAlignment);
}

void ReferenceBackend::deallocate(void* ptr, std::size_t /*nbytes*/) {
  if (ptr != nullptr) ::operator delete(ptr, kAlignment);
}

// memcpy with a null pointer is undefined even for 0 bytes, hence the guards.
void ReferenceBackend::copy_from_host(void* dst, const void* host_src, std::size_t nbytes) {
  if (nbytes != 0) std::memcpy(dst, host_src, nbytes);
}

void ReferenceBackend::copy_to_host(void* host_dst, const void* src, std::size_t nbytes) {
  if (nbytes != 0) std::memcpy(host_dst, src, nbytes);
}

Backend& reference_backend() {
  static ReferenceBackend backend;
  return backend;
}

}  // namespace reel::backends
