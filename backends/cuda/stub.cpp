// Built instead of the CUDA backend when reel is configured without CUDA (REEL_CUDA=OFF or no
// nvcc): CUDA tensors are then an error that says so.
#include <atomic>

#include "backends/backend.hpp"

namespace reel::backends {

namespace {
[[noreturn]] void no_cuda() {
  fail("CUDA: reel was built without the CUDA backend (configure with -DREEL_CUDA=ON on a machine with nvcc)");
}
}  // namespace

Backend& cuda_backend() { no_cuda(); }
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

// CUDA graphs: nothing to capture without the backend. Destroying is a no-op (no state can
// exist), and no capture is ever running.
CudaGraphState* cuda_graph_create() { no_cuda(); }
void cuda_graph_destroy(CudaGraphState* /*g*/) noexcept {}
void cuda_graph_capture_begin(CudaGraphState* /*g*/) { no_cuda(); }
void cuda_graph_capture_end(CudaGraphState* /*g*/) { no_cuda(); }
void cuda_graph_replay(CudaGraphState* /*g*/) { no_cuda(); }
bool cuda_graph_is_capturing() { return false; }

}  // namespace reel::backends
