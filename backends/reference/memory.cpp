// Reference backend, memory: host memory from backends/host_memory (64-byte aligned, so that a
// buffer starts on a cache line and on an AVX-512 vector), and host copies that are memcpy.
#include <cstring>

#include "backends/host_memory.hpp"
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

bool ReferenceBackend::supports(OpId op, DType t) const {
  return op_accepts(op, t) && (!is_reduced_float(t) || has_half_kernel(op));
}

void* ReferenceBackend::allocate(std::size_t nbytes) {
  // A 0-byte request still gets a unique pointer, so an empty tensor has a valid buffer. A
  // refused request is a reel::Error naming the bytes (not std::bad_alloc, and never an abort
  // under a sanitizer: the allocation is malloc-family, which returns null when refused).
  void* p = try_host_allocate(nbytes);
  if (p == nullptr) fail_host_allocation(nbytes);
  return p;
}

void ReferenceBackend::deallocate(void* ptr, std::size_t /*nbytes*/) { host_free(ptr); }

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
