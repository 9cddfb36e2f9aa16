// Built instead of the CUDA backend when reel is configured without CUDA (REEL_CUDA=OFF or no
// nvcc): CUDA tensors are then an error that says so.
#include "backends/backend.hpp"

namespace reel::backends {

Backend& cuda_backend() {
  fail("CUDA: reel was built without the CUDA backend (configure with -DREEL_CUDA=ON on a machine with nvcc)");
}
bool cuda_available() { return false; }
int cuda_device_count() { return 0; }

}  // namespace reel::backends
