// Built instead of the CUDA backend when reel is configured without CUDA (REEL_CUDA=OFF or no
// nvcc): CUDA tensors are then an error that says so.
#include <atomic>

#include "backends/backend.hpp"

namespace reel::backends {

Backend& cuda_backend() {
  fail("CUDA: reel was built without the CUDA backend (configure with -DREEL_CUDA=ON on a machine with nvcc)");
}
bool cuda_available() { return false; }
int cuda_device_count() { return 0; }
CudaMemory cuda_memory() { return {}; }
void cuda_empty_cache() {}

namespace {
std::atomic<bool> allow_tf32_matmul{false};
}  // namespace
void cuda_set_allow_tf32_matmul(bool allow) {
  allow_tf32_matmul.store(allow, std::memory_order_relaxed);
}
bool cuda_allow_tf32_matmul() { return allow_tf32_matmul.load(std::memory_order_relaxed); }

}  // namespace reel::backends
