// Error checking, device discovery and the stream of the CUDA backend.
#include "backends/cuda/runtime.hpp"

#include "backends/cuda/graph.hpp"
#include "backends/error.hpp"

namespace reel::backends::cuda {

void check_cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) [[likely]] return;
  (void)cudaGetLastError();
  fail("CUDA error in {}: {} ({})", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

namespace {
struct DeviceQuery {
  int count = 0;
  const char* error = nullptr;
};

const DeviceQuery& query_devices() {
  static const DeviceQuery query = [] {
    DeviceQuery q;
    // Without a driver or a GPU this returns cudaErrorInsufficientDriver / cudaErrorNoDevice:
    // that is an answer ("no GPU"), not a failure.
    cudaError_t err = cudaGetDeviceCount(&q.count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      q.count = 0;
      q.error = cudaGetErrorString(err);
    } else if (q.count == 0) {
      q.error = "cudaGetDeviceCount reported 0 devices";
    }
    return q;
  }();
  return query;
}
}  // namespace

int device_count() { return query_devices().count; }
const char* device_count_error() { return query_devices().error; }

cudaStream_t stream() {
  static const cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking),
               "cudaStreamCreateWithFlags");
    return created;
  }();
  return s;
}

void synchronize() {
  check_not_capturing("synchronize", "waits for the stream to finish");
  check_cuda(cudaStreamSynchronize(stream()), "cudaStreamSynchronize");
}

}  // namespace reel::backends::cuda
