#pragma once
// What the rest of the CUDA backend needs from CUDA graph capture (graph.cpp; the public side is
// reel::cuda::Graph, tensor/cuda_graph.hpp).
//
// While a graph captures, every kernel, copy and memset queued on stream() is recorded, not
// run. So nothing may wait for the stream or read device memory back (the values are not there,
// and CUDA would invalidate the capture): those places call check_not_capturing() first. The
// device-side value checks (bad indices, bad class targets: host_utils.hpp's
// check_device_values) cannot read their verdict back either; they hand it to the graph with
// defer_check(), and each replay reads it and raises the same error the eager call raises.
// Host-only (compiled by the C++ compiler).
#include <cstdint>
#include <functional>

#include <cuda_runtime_api.h>

#include "backends/cuda/allocator.hpp"

namespace reel::backends::cuda {

// True between a graph's capture_begin and its capture_end (or the capture's abandonment).
bool capturing();

// Throws reel::Error "CUDA graph: <op> <does>, which a captured graph cannot do; move it out of
// the captured region" while a graph captures. `does` says what op needs the host for
// ("reads device memory back to the host").
void check_not_capturing(const char* op, const char* does);

// Raises the op's reel::Error for the first bad value it found (never returns normally).
using RaiseBadValue = std::function<void(std::int64_t value)>;

// Hands one device-side value check to the capturing graph (call only while capturing()):
// `first_bad` holds one unsigned long long that the captured kernels set to the row-major
// position of the first bad element (UINT64_MAX: none; the captured kernels reset it first, so
// every replay starts clean), `values` a captured contiguous int64 copy of the checked elements
// (the original may be a temporary whose memory the rest of the graph reuses), and `raise`
// words the error. The graph owns both buffers from now on.
void defer_check(DeviceBuffer first_bad, DeviceBuffer values, RaiseBadValue raise);

// Within its scope, lets this thread make the calls that stream capture calls "potentially
// unsafe" (cudaMalloc: it is not recorded, so a replay would not allocate again). For the
// caching allocator, whose blocks stay with the graph for its whole life, that is the point.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() noexcept {
    if (cudaThreadExchangeStreamCaptureMode(&mode_) != cudaSuccess) (void)cudaGetLastError();
  }
  ~RelaxedCaptureMode() {
    if (cudaThreadExchangeStreamCaptureMode(&mode_) != cudaSuccess) (void)cudaGetLastError();
  }
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  // Relaxed going in; the thread's previous mode while in scope (the exchange swaps them).
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

}  // namespace reel::backends::cuda
