#pragma once
// The CUDA runtime as reel uses it: error checking, device discovery and the one stream all
// of reel's CUDA work is ordered on. Host-only (compiled by the C++ compiler).
#include <cuda_runtime_api.h>

namespace reel::backends::cuda {

// Throws reel::Error "CUDA error in <what>: <description> (<cudaErrorName>)" unless
// err == cudaSuccess. Clears the runtime's last-error slot first, so a failure reported here
// is not reported again by the next kernel launch check.
void check_cuda(cudaError_t err, const char* what);

// Number of CUDA devices; 0 when there is none or no usable driver (never throws, never
// aborts). Queried once: CUDA fixes the device list when the runtime initializes.
int device_count();
// Why device_count() is 0 (the cudaGetDeviceCount error), or nullptr when devices exist.
const char* device_count_error();

// The non-blocking stream every kernel, copy and memset of the CUDA backend runs on (created
// on first use on the current device, device 0 unless the program chose another). It is never
// destroyed: buffers may be released during static destruction, after the runtime is gone.
cudaStream_t stream();

// Waits until all work queued on stream() is done; throws on an asynchronous kernel error.
void synchronize();

}  // namespace reel::backends::cuda
