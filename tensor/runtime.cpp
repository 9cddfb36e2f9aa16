#include "tensor/runtime.hpp"

#include "backends/backend.hpp"

namespace reel {

void set_num_threads(int n) { backends::set_num_threads(n); }
int get_num_threads() { return backends::get_num_threads(); }
void use_deterministic_algorithms(bool mode) { backends::set_deterministic_algorithms(mode); }
bool are_deterministic_algorithms_enabled() { return backends::deterministic_algorithms(); }

namespace cuda {
bool is_available() { return backends::cuda_available(); }
int device_count() { return backends::cuda_device_count(); }
void synchronize() {
  if (is_available()) backends::cuda_backend().synchronize();
}
std::size_t memory_allocated() { return backends::cuda_memory().allocated; }
std::size_t memory_reserved() { return backends::cuda_memory().reserved; }
void empty_cache() { backends::cuda_empty_cache(); }
void set_allow_tf32(bool allow) { backends::cuda_set_allow_tf32_matmul(allow); }
bool allow_tf32() { return backends::cuda_allow_tf32_matmul(); }
void set_allow_tf32_conv(bool allow) { backends::cuda_set_allow_tf32_conv(allow); }
bool allow_tf32_conv() { return backends::cuda_allow_tf32_conv(); }
void set_cudnn_benchmark(bool on) { backends::cuda_set_cudnn_benchmark(on); }
bool cudnn_benchmark() { return backends::cuda_cudnn_benchmark(); }
}  // namespace cuda

}  // namespace reel
